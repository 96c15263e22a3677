#!/bin/bash
# Run QEMU's scripts/checkpatch.pl over our sources and patches.
#
#   tools/checkpatch.sh QEMU_SRC
#
# Fails when checkpatch reports an error; warnings are shown but pass.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
QEMU_SRC=$(readlink -f "${1:?usage: $0 QEMU_SRC}")
CHECKPATCH=$QEMU_SRC/scripts/checkpatch.pl
[ -x "$CHECKPATCH" ] || { echo "no $CHECKPATCH" >&2; exit 1; }

cd "$TOP"
rc=0
check() {
    local out
    out=$("$CHECKPATCH" --no-tree --terse -f "$1" 2>&1) || rc=1
    [ -n "$out" ] && printf '%s\n' "$out"
    nfiles=$((nfiles + 1))
}
nfiles=0
# the device and its layers, and the reference backend with its units
# (not the test peers beside it: xdf-*-frontend.c, xdf-vnc-client.c)
for f in hw-display-xen-displfront.c xdf-*.c include/*.h \
         tools/backend/xdf-*.[ch]; do
    case $f in
    *-frontend.c | *-client.c) continue ;;
    esac
    check "$f"
done
# checkpatch knows test code by its place in QEMU's tree (tests/): check
# the tests through such a path.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests/qtest"
for t in qtest/*.c; do
    ln -s "$TOP/$t" "$tmp/tests/$t"
done
cd "$tmp"
for t in tests/qtest/*.c; do
    check "$t"
done
cd "$TOP"
for p in patches/*.patch; do
    out=$("$CHECKPATCH" --no-tree --terse "$p" 2>&1) || rc=1
    [ -n "$out" ] && printf '%s: %s\n' "$p" "$out"
done
[ $rc = 0 ] && echo "checkpatch: no errors in $nfiles files and $(ls patches/*.patch | wc -l) patches"
exit $rc
