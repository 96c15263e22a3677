#!/bin/bash
# meson's entry to the real-Xen rig (tools/realxen/run.sh): run a script
# of this folder in dom0 when the rig can run here, else skip (exit 77)
# saying exactly why.
#
#   meson-test.sh [--debs] BUILDDIR TESTSCRIPT
#
# Runs wherever it can (root, debootstrap, Debian's QEMU with virtio-9p:
# tools/setup-host.sh installs them); the first run builds the dom0
# image (a few minutes, from the machine's Debian mirror).  XDF_REALXEN=0
# skips it.  --debs: the script tests the installed Debian packages,
# built first into BUILDDIR/debs (tools/package/build-debs; nothing is
# built when the clone has not changed) and named to dom0 by XDF_DEBS.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOOLS=$(cd "$HERE/../.." && pwd)
skip() { echo "realxen: SKIP: $*"; exit 77; }

debs=0
[ "${1:-}" = --debs ] && { debs=1; shift; }
[ $# = 2 ] || { echo "usage: $0 [--debs] BUILDDIR TESTSCRIPT" >&2; exit 2; }
export XDF_BUILD=$1
if [ "${XDF_REALXEN:-}" = 0 ]; then
    skip "XDF_REALXEN=0"
fi
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, 9p passthrough)"
command -v debootstrap > /dev/null || skip "no debootstrap (apt-get install debootstrap)"
QEMU=${XDF_REALXEN_QEMU:-/usr/bin/qemu-system-x86_64}
[ -x "$QEMU" ] || skip "no $QEMU (apt-get install qemu-system-x86)"
"$QEMU" -device help 2>/dev/null | grep -q '"virtio-9p-pci"' || skip "$QEMU has no virtio-9p-pci"
for f in qemu-system-x86_64 qtest-xen-displfront; do
    [ -x "$XDF_BUILD/$f" ] || skip "no $XDF_BUILD/$f"
done

# The demo guest's kernel and initramfs (cached; a second run takes a
# second): the Linux-frontend test boots them as Xen domUs.
if ! "$TOOLS/guest/build-guest.sh" "$XDF_BUILD/guest" > /dev/null; then
    echo "realxen: building the demo guest failed (tools/guest/build-guest.sh)"
    exit 1
fi

if [ $debs = 1 ]; then
    for t in dpkg-buildpackage dh help2man lintian; do
        command -v "$t" > /dev/null ||
            skip "no $t to build the packages with (tools/setup-host.sh installs debhelper, help2man, lintian)"
    done
    "$TOOLS/package/build-debs" "$XDF_BUILD/debs" 2>&1 | sed -u 's/^/realxen: /'
    [ "${PIPESTATUS[0]}" = 0 ] || {
        echo "realxen: building the packages failed (tools/package/build-debs)"
        exit 1
    }
    XDF_DEBS=$(cd "$XDF_BUILD/debs" && pwd)
    export XDF_DEBS
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# A machine that stops making progress (Xen under TCG, see run.sh) is
# booted once more; a second stall is the rig's failure, not the test's.
for attempt in 1 2; do
    "$TOOLS/realxen/run.sh" "$2" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 125 ] && [ $attempt = 1 ] &&
       grep -q 'stopped making progress' "$log"; then
        echo "realxen: the emulated machine stalled: booting it once more"
        continue
    fi
    break
done
set -e
# 125: the rig itself failed (a boot stage, a timeout before the script):
# not a verdict on the device, so skip with run.sh's reason.
if [ "$rc" = 125 ]; then
    skip "$(grep -a 'FAILED after\|error:' "$log" | tail -n1 | sed 's/^\[realxen\] //')"
fi
exit "$rc"
