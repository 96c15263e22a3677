#!/bin/bash
# Runs in dom0 of the real-Xen rig, on what the Debian packages install
# (tools/package; "apt-get install ./*.deb" of XDF_DEBS first): an HVM
# domU whose device model, our QEMU with -device xen-displfront, runs in
# the Linux stub domain of xen-displfront-stubdom (where libxl looks for
# it: no path in xl.cfg), its vdispl and vkbd devices written by the
# installed xdf-stubdom-attach after "xl create"; one "xdf-backend --all"
# in dom0, run by the installed service's command with its unit's
# privilege, serves it and a reference guest whose device model, the
# installed QEMU, runs in dom0 (stubdom.py has the steps).  The guests'
# disk is BUILDDIR/stubdom/xdf-keys.img (build-stubdom.sh
# --test-disk-only).  Grants and event channels back to Xen's baseline
# at the end; then "apt-get remove" and "purge" leave nothing behind.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
. "$(dirname "$0")/lib.sh" 2>/dev/null || . tools/tests/realxen/lib.sh

DIR=$OUT/stubdom
S=$B/stubdom
[ -f "$S/xdf-keys.img" ] ||
    { echo "missing $S/xdf-keys.img (tools/stubdom/build-stubdom.sh --test-disk-only)"; exit 2; }
[ -x /usr/libexec/xen-qemu-system-i386 ] ||
    { echo "no /usr/libexec/xen-qemu-system-i386: the dom0 root needs qemu-system-xen"; exit 2; }
packages_install
loopback_up
# guests' disks: blkback, on loop devices
for m in xen-blkback loop; do
    modprobe "$m" 2>/dev/null || say "modprobe $m failed (built in?)"
done
baseline
mkdir -p "$DIR"

# where libxl looks for a Linux stub domain by default: the package's
BOOT=/usr/lib/xen-4.17/boot
for f in qemu-stubdom-linux-kernel qemu-stubdom-linux-rootfs; do
    [ "$(dpkg-query -S "$BOOT/$f" 2>/dev/null)" = "xen-displfront-stubdom: $BOOT/$f" ]
    ok $? "$BOOT/$f is xen-displfront-stubdom's"
done
say "stub domain: $(stat -c %s "$BOOT/qemu-stubdom-linux-kernel") bytes of kernel, $(stat -c %s "$BOOT/qemu-stubdom-linux-rootfs") of rootfs"

cleanup() {
    for n in xdf-ref xdf-stub; do
        xl destroy "$n" 2>/dev/null
    done
}
trap cleanup EXIT

python3 -B -X faulthandler "$PWD/tools/tests/realxen/stubdom.py" \
    --installed --out "$DIR" --disk "$S/xdf-keys.img"
rc=$?
ok $rc "HVM guest with its device model in a Linux stub domain (stubdom.py)"
cleanup
xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null
xenstore-rm /local/domain/0/backend/vinput 2>/dev/null
back_to_baseline
packages_remove_check
tap_end
