#!/bin/bash
# Runs in dom0 of the real-Xen rig (tools/realxen/run.sh), in the
# repository: the device's qtest against real Xen 4.17 -- our QEMU with
# -device xen-displfront as the frontend (domain 0), the qtest as backend
# and guest driver -- then checks, from Xen's own view, that grants and
# event channels are back to their baseline.
#
# Environment: XDF_BUILD (build folder, default build),
#   XDF_REALXEN_TESTS (qtest paths, space separated; default: frames with
#   bochs-display and a backend restart; "all" runs the whole qtest).
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
B=${XDF_BUILD:-build}
OUT=${XDF_RUN:-/tmp}
TESTS=${XDF_REALXEN_TESTS:-/x86_64/xen-displfront/frames/bochs-display /x86_64/xen-displfront/backend/restart}
fails=0
say() { echo "## $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

for f in "$B/qemu-system-x86_64" "$B/qtest-xen-displfront"; do
    [ -x "$f" ] || { echo "missing $f (build the project first)"; exit 2; }
done
say "$(xl info | grep -E '^(xen_version|xen_caps|total_memory)' | tr -s ' ' | tr '\n' ' ')"

# gntalloc's default limit is 1024 pages; the device shares two buffers per
# connector.
if [ -w /sys/module/xen_gntalloc/parameters/limit ]; then
    echo 262144 > /sys/module/xen_gntalloc/parameters/limit
fi
say "gntalloc limit: $(cat /sys/module/xen_gntalloc/parameters/limit 2>/dev/null || echo '?')"

# Grant entries in use and event channels bound, as Xen sees them.
grants() {   # -> "<entries in use> <maptrack line>"
    xl dmesg -c > /dev/null
    xl debug-keys g
    sleep 1
    xl dmesg -c > "$OUT/grants-$1.txt"
    n=$(grep -cE '\[0x[0-9a-f]+\]' "$OUT/grants-$1.txt")
    echo "$n"
}
evtchns() {
    /usr/lib/xen-4.17/bin/lsevtchn 0 > "$OUT/evtchn-$1.txt" 2>&1
    grep -vc ': *Closed' "$OUT/evtchn-$1.txt"
}
g0=$(grants before); e0=$(evtchns before)
say "baseline: $g0 grant entries in use, $e0 event channels of dom0"

case $B in /*) ;; *) B=$PWD/$B ;; esac
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
    xenstore-rm /local/domain/0/device/vdispl 2>/dev/null
    xenstore-rm /local/domain/0/backend/vdispl 2>/dev/null
    t1=$(date +%s)
    "$B/qtest-xen-displfront" --tap -k -p "$t" > "$OUT/qtest.log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t1 ))
    # a skipped test proves nothing here: count it as a failure
    if [ $rc = 0 ] && grep -q '^ok ' "$OUT/qtest.log" &&
       ! grep -qE '^not ok|# SKIP' "$OUT/qtest.log"; then
        echo "ok - qtest $t (${dt} s)"
    else
        bad "qtest $t (status $rc, ${dt} s)"
        grep -vE '^# (starting QEMU|Start of|End of)' "$OUT/qtest.log" | sed 's/^/#   /' | tail -n 8
    fi
done
say "qtests took $(( $(date +%s) - t0 )) s"

sleep 2
g1=$(grants after); e1=$(evtchns after)
say "after: $g1 grant entries in use, $e1 event channels of dom0"
if [ "$g1" = "$g0" ]; then echo "ok - grants back to baseline ($g0)"
else bad "grants: $g0 before, $g1 after (see grants-*.txt)"; fi
if [ "$e1" = "$e0" ]; then echo "ok - event channels back to baseline ($e0)"
else bad "event channels: $e0 before, $e1 after"; diff "$OUT/evtchn-before.txt" "$OUT/evtchn-after.txt"; fi
exit $((fails > 0))
