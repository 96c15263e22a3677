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

# --- the Debian packages (tools/package): the tests of what is installed ---
PACKAGES=(xen-displfront-qemu xen-displfront-backend xen-displfront-stubdom)
INSTALLED_QEMU=/usr/lib/xen-displfront/bin/qemu-system-x86_64

# packages_install: "apt-get install ./*.deb" of $XDF_DEBS (meson-test.sh
# --debs built them), their dependencies from the dom0 image's Debian
# packages (no network); then what installing them promises: gntalloc's
# limit raised from Linux's default to the package's (its postinst), the
# live views' password made (root's only), the binaries' libraries there.
# What they installed is listed in $OUT/packages-files.txt (their
# conffiles in packages-conffiles.txt) for packages_remove_check.
packages_install() {
    local limit=/sys/module/xen_gntalloc/parameters/limit before want have t0
    if ! ls "${XDF_DEBS:-/nonexistent}"/xen-displfront-*.deb > /dev/null 2>&1; then
        echo "no packages in XDF_DEBS='${XDF_DEBS:-}' (meson-test.sh --debs builds them)"
        exit 2
    fi
    before=$(cat "$limit")
    t0=$(date +%s)
    (cd "$XDF_DEBS" && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y ./xen-displfront-*.deb) > "$OUT/apt-install.log" 2>&1
    if ! ok $? "apt-get install ./xen-displfront-*.deb, dependencies from Debian ($(( $(date +%s) - t0 )) s)"; then
        tail -n 20 "$OUT/apt-install.log" | sed 's/^/#   /'
        exit 1
    fi
    dpkg -L "${PACKAGES[@]}" | sort -u > "$OUT/packages-files.txt"
    dpkg-query -W -f '${Conffiles}\n' "${PACKAGES[@]}" |
        awk 'NF { print $1 }' > "$OUT/packages-conffiles.txt"
    say "installed: $(wc -l < "$OUT/packages-files.txt") paths, conffiles $(tr '\n' ' ' < "$OUT/packages-conffiles.txt")"
    want=$(sed -n 's/^options xen_gntalloc limit=\([0-9]*\)$/\1/p' \
               /etc/modprobe.d/xen-displfront.conf)
    have=$(cat "$limit")
    [ -n "$want" ] && [ "$before" -lt "$want" ] && [ "$have" = "$want" ]
    ok $? "gntalloc's limit raised by the postinst from $before to $have (configured: ${want:-none})"
    [ "$(stat -c '%a %U' /etc/xen-displfront/vnc-password 2>&1)" = "600 root" ]
    ok $? "the live views' password made, root's only"
    need_binaries "$INSTALLED_QEMU" /usr/sbin/xdf-backend
}

# packages_remove_check: "apt-get remove" leaves nothing of the packages
# but their conffiles, "apt-get purge" nothing at all (files, folders,
# the password, the service's folder, systemd's enablement links, dpkg's
# records).
packages_remove_check() {
    local f left rc
    apt-get remove -y "${PACKAGES[@]}" > "$OUT/apt-remove.log" 2>&1
    ok $? "apt-get remove ${PACKAGES[*]}"
    left=$(while read -r f; do
               [ -e "$f" ] && [ ! -d "$f" ] &&
                   ! grep -qxF "$f" "$OUT/packages-conffiles.txt" && echo "$f"
           done < "$OUT/packages-files.txt")
    [ -z "$left" ] || echo "$left" | sed 's/^/#   left: /'
    ok "${#left}" "removed: no file of theirs left but the conffiles"
    left=$(while read -r f; do [ -e "$f" ] || echo "$f"; done < "$OUT/packages-conffiles.txt")
    ok "${#left}" "removed: the conffiles stay until purge${left:+ (gone: $left)}"
    rc=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null |
         awk '$1 == "rc" { print $2 }')
    apt-get purge -y $rc > "$OUT/apt-purge.log" 2>&1
    ok $? "apt-get purge $(echo $rc)"
    left=$( { while read -r f; do [ -e "$f" ] && echo "$f"; done < "$OUT/packages-files.txt" |
              grep -E 'displfront|xdf|qemu-stubdom'
              find /etc /usr /var /lib -xdev \( -name '*xen-displfront*' \
                   -o -name 'xdf-backend*' -o -name 'xdf-stubdom-attach*' \
                   -o -name 'xdf-gntalloc-limit' -o -name 'qemu-stubdom-linux-*' \) \
                   2>/dev/null
              dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" \
                  2>/dev/null | awk '$1 !~ /^un/'; } | sort -u)
    [ -z "$left" ] || echo "$left" | sed 's/^/#   left: /'
    ok "${#left}" "purged: nothing of theirs left (files, folders, password, systemd links, dpkg)"
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
