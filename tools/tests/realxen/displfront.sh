#!/bin/bash
# Runs in dom0 of the real-Xen rig (tools/realxen/run.sh), in the
# repository: our QEMU with -device xen-displfront as the frontend
# (domain 0, the device writing its own XenStore nodes) on real Xen 4.17:
#
#  1. against the device's qtest, which is backend and guest driver:
#     pixel-exact frames on bochs-display, a backend restart, unplug and
#     plug again, input (the qtest as vkbd backend, keys and pointer at
#     the guest's i8042);
#  2. against our reference backend, xdf-backend (qemu-backend.py): the
#     firmware's screen pixel for pixel as QEMU's screendump shows it, a
#     key typed in the backend's VNC live view at QEMU's keyboard through
#     the device's vkbd, a backend restart, device_del;
#
# then checks, from Xen's own view, that grants and event channels are
# back to their baseline.
#
# Environment: XDF_BUILD (build folder, default build),
#   XDF_REALXEN_TESTS (qtest paths, space separated; default: frames with
#   bochs-display, a backend restart, device_del/device_add, input on
#   PS/2; "all" runs the whole qtest).
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
. "$(dirname "$0")/lib.sh" 2>/dev/null || . tools/tests/realxen/lib.sh

TESTS=${XDF_REALXEN_TESTS:-/x86_64/xen-displfront/frames/bochs-display /x86_64/xen-displfront/backend/restart /x86_64/xen-displfront/unplug /x86_64/xen-displfront/input/ps2}
need_binaries "$B/qemu-system-x86_64" "$B/qtest-xen-displfront" "$B/tools/backend/xdf-backend"
say "$(xl info | grep -E '^(xen_version|xen_caps|total_memory)' | tr -s ' ' | tr '\n' ' ')"
raise_gntalloc_limit
baseline

# Everything in a dom0 emulated by TCG is slow: give the backend (the
# qtest itself) far longer than the 3000 ms a real one gets.
export QTEST_QEMU_BINARY=$B/qemu-system-x86_64
export XDF_QTEST_QEMU_ARGS="-global xen-displfront.req-timeout-ms=60000"
if [ "$TESTS" = all ]; then
    TESTS=$("$B/qtest-xen-displfront" -l | grep '^/')
fi
# One qtest process per test: an assertion aborts the whole process, and
# one failure must not hide the others.
t0=$(date +%s)
for t in $TESTS; do
    # XenStore outlives a test here (xensim starts afresh for each run):
    # drop what an earlier, failed test left behind.
    for d in device/vdispl backend/vdispl device/vkbd backend/vkbd backend/vinput; do
        xenstore-rm "/local/domain/0/$d" 2>/dev/null
    done
    t1=$(date +%s)
    "$B/qtest-xen-displfront" --tap -k -p "$t" > "$OUT/qtest.log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t1 ))
    # a skipped test proves nothing here: count it as a failure
    if [ $rc = 0 ] && grep -q '^ok ' "$OUT/qtest.log" &&
       ! grep -qE '^not ok|# SKIP' "$OUT/qtest.log"; then
        ok 0 "qtest $t (${dt} s)"
    else
        ok 1 "qtest $t (status $rc, ${dt} s)"
        grep -vE '^# (starting QEMU|Start of|End of)' "$OUT/qtest.log" | sed 's/^/#   /' | tail -n 8
    fi
done
say "qtests took $(( $(date +%s) - t0 )) s"

for d in device/vdispl backend/vdispl device/vkbd backend/vkbd backend/vinput; do
    xenstore-rm "/local/domain/0/$d" 2>/dev/null
done
loopback_up     # the backend's VNC live view
t0=$(date +%s)
mkdir -p "$OUT/qemu-backend"
python3 "$PWD/tools/tests/realxen/qemu-backend.py" --build "$B" --out "$OUT/qemu-backend"
ok $? "QEMU with xdf-backend (tools/tests/realxen/qemu-backend.py)"
say "QEMU with xdf-backend took $(( $(date +%s) - t0 )) s"
# xdf-backend recreates its directory when a frontend removes it (it
# serves whoever comes next); that is ours to drop.
xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null

back_to_baseline
tap_end
