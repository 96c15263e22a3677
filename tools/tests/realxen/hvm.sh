#!/bin/bash
# Runs in dom0 of the real-Xen rig (tools/realxen/run.sh), in the
# repository, on what the Debian packages install (tools/package): first
# "apt-get install ./*.deb" of XDF_DEBS (packages_install); then an HVM
# domU whose device model is the installed QEMU
# (device_model_override = /usr/lib/xen-displfront/bin/qemu-system-x86_64),
# with libxl's emulated std VGA and
# -device xen-displfront (frontend domain 0, where the device model runs;
# the device writes its own nodes) against xdf-backend.  The firmware's
# screen (SeaBIOS, no bootable disk) must reach the backend pixel for
# pixel as the device model's screendump shows it; then a backend restart
# and device_del (qemu-backend.py --qmp on libxl's QMP socket), then
# "xl destroy".  Then, on the same Xen boot, two such domUs at once with
# one "xdf-backend --all" run by the installed service's command with its
# unit's privilege (two-hvm.py): each screen reaches its own
# output, "xl destroy" of one leaves the other up.  Then "xl save",
# "xl restore" and "xl migrate" (to this host) of another
# (save-restore.py): the firmware screen comes back at the backend pixel
# for pixel each time.  Grants and event channels back to
# their baseline at the end; then "apt-get remove" and "purge" leave
# nothing behind (packages_remove_check).  The installed xdf-backend
# serves each step.
#
# Environment: XDF_BUILD (build folder, default build), XDF_DEBS (the
# packages: tools/tests/realxen/meson-test.sh --debs builds them).
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
. "$(dirname "$0")/lib.sh" 2>/dev/null || . tools/tests/realxen/lib.sh

NAME=xdf-hvm
DIR=$OUT/hvm
packages_install
baseline
mkdir -p "$DIR"

cleanup() {
    for n in "$NAME" "$NAME-a" "$NAME-b" "$NAME-s"; do
        xl destroy "$n" 2>/dev/null
    done
}
trap cleanup EXIT

# hvm_cfg NAME DEVICE-OPTIONS: the xl.cfg of an HVM domU whose device
# model is our QEMU with -device xen-displfront,id=xdf0DEVICE-OPTIONS.
hvm_cfg() {
cat > "$DIR/$1.cfg" <<CFG
name = "$1"
type = "hvm"
memory = 64
vcpus = 1
device_model_version = "qemu-xen"
device_model_override = "$INSTALLED_QEMU"
device_model_args = [ "-device", "xen-displfront,id=xdf0,req-timeout-ms=60000$2" ]
vga = "stdvga"
videoram = 16
vnc = 0
serial = "none"
boot = "c"
# TCG's SVM has no next-RIP save: Xen cannot step over an intercepted
# RDTSCP ("SVM Insn len emulation failed"), and intercepts it when it
# emulates the TSC.  Native TSC: no intercepts.
tsc_mode = "native"
# SeaBIOS finds no disk and resets the machine after 60 s; a reboot
# would make a new domain with a new device model.  Keep this one.
on_reboot = "preserve"
on_poweroff = "destroy"
on_crash = "destroy"
CFG
}

hvm_cfg "$NAME" ""
xl_create "$DIR/$NAME.cfg" "xl create of an HVM domU with our QEMU as device model" ||
    exit 1
domid=$(xl domid "$NAME")
say "$NAME is domain $domid; device model: $(pgrep -af "xen-domid $domid" | cut -c1-300)"
qmp=/var/run/xen/qmp-libxl-$domid
python3 "$PWD/tools/tests/realxen/qemu-backend.py" --installed --out "$DIR" \
    --qmp "$qmp"
ok $? "the HVM domU's screen at xdf-backend (qemu-backend.py)"
cp /var/log/xen/qemu-dm-$NAME.log "$DIR/" 2>/dev/null
xl destroy "$NAME" && ok 0 "xl destroy" || ok 1 "xl destroy"
xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null

# Two guests, one backend for the host; other connectors, other pictures.
hvm_cfg "$NAME-a" ",resolution=720x400"
hvm_cfg "$NAME-b" ",resolution=1024x768"
say "free memory for domUs: $(xl info | awk '/^free_memory/ { print $3 }') MiB"
if xl_create "$DIR/$NAME-a.cfg" "xl create of a first HVM domU" &&
   xl_create "$DIR/$NAME-b.cfg" "xl create of a second HVM domU"; then
    say "dom0 memory: $(free -m | awk '/^Mem/ { print $3 " MiB used, " $7 " MiB available" }')"
    python3 -B -X faulthandler "$PWD/tools/tests/realxen/two-hvm.py" \
        --installed --out "$DIR/two" "$NAME-a" "$NAME-b"
    rc=$?
    ok $rc "two HVM domUs, one xdf-backend --all (two-hvm.py)"
    [ $rc -gt 128 ] && dmesg | tail -n 15 | sed 's/^/#   dmesg: /'
fi
xl destroy "$NAME-b" && ok 0 "xl destroy $NAME-b" || ok 1 "xl destroy $NAME-b"
xl destroy "$NAME-a" 2>/dev/null
xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null

# Save and restore: the device model quits and a new one comes.  SeaBIOS
# (no bootable disk) reboots the guest after 60 s of its time; when that
# came before the save (status 3), once more with a fresh domain.
hvm_cfg "$NAME-s" ""
for try in 1 2; do
    xl_create "$DIR/$NAME-s.cfg" "xl create of an HVM domU to save" || break
    python3 -B "$PWD/tools/tests/realxen/save-restore.py" --installed \
        --out "$DIR/save" "$NAME-s"
    rc=$?
    xl destroy "$NAME-s" 2>/dev/null
    [ $rc = 3 ] && [ $try = 1 ] && say "the guest rebooted before the save: again" && continue
    ok $rc "xl save, xl restore, xl migrate to this host (save-restore.py)"
    break
done
trap - EXIT
xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null

back_to_baseline
packages_remove_check
tap_end
