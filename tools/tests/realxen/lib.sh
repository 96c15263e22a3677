# Helpers for the scripts that run in the real-Xen rig's dom0 (sourced;
# bash; run from the project's root).  They report with the project's
# TAP helper (tools/tests/tap.sh: ok STATUS TEXT, tap_end); the Python helpers
# they run print theirs unnumbered (xdf.tap's Tap(numbered=False)).
#
# SPDX-License-Identifier: GPL-2.0-or-later

B=${XDF_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
OUT=${XDF_RUN:-/tmp}
. "$PWD/tools/tests/tap.sh"
# The Python helpers (tools/xdf) and QEMU's QMP library (qemu.qmp, in the
# QEMU tree the build folder links to): dom0 sees both over 9p, at their
# host paths (run.sh shares them).
export PYTHONPATH=$PWD/tools:$B/qemu-src/python${PYTHONPATH:+:$PYTHONPATH}

say() { echo "## $*"; }
check() {   # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
    local what=$1
    shift
    "$@"
    ok $? "$what"
}

# Our binaries must run in dom0 as built on the host (same Debian release):
# name any library the dom0 root lacks.
need_binaries() {
    local f missing
    for f in "$@"; do
        [ -x "$f" ] || { echo "missing $f (build the project first)"; exit 2; }
        missing=$(ldd "$f" 2>&1 | awk '/not found/ { print $1 }' | tr '\n' ' ')
        if [ -n "$missing" ]; then
            echo "$f needs libraries the dom0 root lacks: $missing(add their packages to ROOT_PKGS in tools/realxen/build-root.sh)"
            exit 2
        fi
    done
}

# gntalloc's default limit is 1024 pages; a 640x480 frontend shares two
# buffers per connector, a backend allocating buffers more.
raise_gntalloc_limit() {
    if [ -w /sys/module/xen_gntalloc/parameters/limit ]; then
        echo 262144 > /sys/module/xen_gntalloc/parameters/limit
    fi
    say "gntalloc limit: $(cat /sys/module/xen_gntalloc/parameters/limit 2>/dev/null || echo '?')"
}

# dom0 comes up without networking, loopback included (and its root has
# no iproute2): bring "lo" up for the backends' VNC live views on
# 127.0.0.1, with python3's ioctl (SIOCGIFFLAGS, SIOCSIFFLAGS | IFF_UP).
loopback_up() {
    python3 - <<'PY' || say "cannot bring the loopback interface up"
import fcntl
import socket
import struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack('16sH', fcntl.ioctl(s, 0x8913, struct.pack('16sH', b'lo', 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack('16sH', b'lo', flags | 1))
PY
}

# Grant entries in use in all domains, as Xen's 'g' debug key dumps them
# (the dump stays in $OUT/grants-TAG.txt).
grants() {
    xl dmesg -c > /dev/null
    xl debug-keys g
    sleep 1
    xl dmesg -c > "$OUT/grants-$1.txt"
    grep -cE '\[0x[0-9a-f]+\]' "$OUT/grants-$1.txt"
}

# Event channels of dom0 that are not Closed, as Xen lists them.
evtchns() {
    /usr/lib/xen-4.17/bin/lsevtchn 0 > "$OUT/evtchn-$1.txt" 2>&1
    grep -vc ': *Closed' "$OUT/evtchn-$1.txt"
}

baseline() {
    g0=$(grants before)
    e0=$(evtchns before)
    say "baseline: $g0 grant entries in use, $e0 event channels of dom0"
}

back_to_baseline() {
    local g1 e1
    sleep 2
    g1=$(grants after)
    e1=$(evtchns after)
    say "after: $g1 grant entries in use, $e1 event channels of dom0"
    if [ "$g1" = "$g0" ]; then ok 0 "grants back to baseline ($g0)"
    else ok 1 "grants: $g0 before, $g1 after (see grants-*.txt)"; fi
    if [ "$e1" = "$e0" ]; then ok 0 "event channels back to baseline ($e0)"
    else
        ok 1 "event channels: $e0 before, $e1 after"
        diff "$OUT/evtchn-before.txt" "$OUT/evtchn-after.txt"
    fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every second.
wait_for() {
    local t=$1 what=$2 i=0
    shift 2
    until "$@"; do
        i=$((i + 1))
        if [ $i -ge "$t" ]; then
            ok 1 "$what (not within $t s)"
            return 1
        fi
        sleep 1
    done
    ok 0 "$what (${i} s)"
}

# What a process of ours is doing (when it does not answer).
proc_state() {
    local p=$1
    [ -d "/proc/$p" ] || { echo "#   process $p is gone"; return; }
    echo "#   process $p: $(grep -E '^State' "/proc/$p/status" | tr -s '\t' ' '), wchan $(cat "/proc/$p/wchan" 2>/dev/null), syscall $(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)"
    sed 's/^/#     /' "/proc/$p/stack" 2>/dev/null | head -n 12
}

# xl_create CFG DESCRIPTION: create the domain of CFG (log beside it);
# say how long it took, or what xl and the device model said.
xl_create() {
    local cfg=$1 what=$2 log=${1%.cfg}.xl-create.log t0 name f
    t0=$(date +%s)
    if xl create "$cfg" > "$log" 2>&1; then
        ok 0 "$what ($(( $(date +%s) - t0 )) s)"
        return 0
    fi
    ok 1 "$what (see below)"
    sed 's/^/#   /' "$log"
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$cfg")
    for f in /var/log/xen/qemu-dm-$name.log; do
        [ -f "$f" ] && tail -n 20 "$f" | sed 's/^/#   qemu-dm: /'
    done
    return 1
}
