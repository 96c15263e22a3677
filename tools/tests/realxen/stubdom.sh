#!/bin/bash
# Runs in dom0 of the real-Xen rig: an HVM domU whose device model, our
# QEMU with -device xen-displfront, runs in a Linux stub domain
# (tools/stubdom, installed where libxl looks for it), its vdispl and
# vkbd devices written by tools/stubdom/xdf-stubdom-attach after
# "xl create"; one "xdf-backend --all" in dom0 serves it and a reference
# guest whose device model runs in dom0 (stubdom.py has the steps).
# Grants and event channels back to Xen's baseline at the end.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
. "$(dirname "$0")/lib.sh" 2>/dev/null || . tools/tests/realxen/lib.sh

DIR=$OUT/stubdom
S=$B/stubdom
need_binaries "$B/qemu-system-x86_64" "$B/tools/backend/xdf-backend"
for f in qemu-stubdom-linux-kernel qemu-stubdom-linux-rootfs xdf-keys.img; do
    [ -f "$S/$f" ] || { echo "missing $S/$f (tools/stubdom/build-stubdom.sh)"; exit 2; }
done
[ -x /usr/libexec/xen-qemu-system-i386 ] ||
    { echo "no /usr/libexec/xen-qemu-system-i386: the dom0 root needs qemu-system-xen"; exit 2; }
raise_gntalloc_limit
loopback_up
# guests' disks: blkback, on loop devices
for m in xen-blkback loop; do
    modprobe "$m" 2>/dev/null || say "modprobe $m failed (built in?)"
done
baseline
mkdir -p "$DIR"

# where libxl looks for a Linux stub domain by default
BOOT=/usr/lib/xen-4.17/boot
cp "$S/qemu-stubdom-linux-kernel" "$S/qemu-stubdom-linux-rootfs" "$BOOT/"
say "stub domain: $(stat -c %s "$BOOT/qemu-stubdom-linux-kernel") bytes of kernel, $(stat -c %s "$BOOT/qemu-stubdom-linux-rootfs") of rootfs"

cleanup() {
    for n in xdf-ref xdf-stub; do
        xl destroy "$n" 2>/dev/null
    done
}
trap cleanup EXIT

python3 -B -X faulthandler "$PWD/tools/tests/realxen/stubdom.py" \
    --build "$B" --out "$DIR" --disk "$S/xdf-keys.img"
rc=$?
ok $rc "HVM guest with its device model in a Linux stub domain (stubdom.py)"
cleanup
xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null
xenstore-rm /local/domain/0/backend/vinput 2>/dev/null
back_to_baseline
tap_end
