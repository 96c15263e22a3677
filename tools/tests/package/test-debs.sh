#!/bin/bash
# meson's test 'debs' (suite 'package'): build the Debian packages
# (tools/package/build-debs, into BUILDDIR/debs; nothing is rebuilt when
# the clone has not changed), then check lintian's report (no error) and
# what each package holds and declares: the paths operators are told
# about, the dependencies, conffiles, the service's command and hardening,
# man pages and --help, the QEMU that runs with its own data files, the
# stub domain's files, and that no file is one of an installed Debian
# package's (qemu-system-x86, xen-utils-4.17, ...).  Installing them is
# the real-Xen suite's part (tools/tests/realxen).
#
#   tools/tests/package/test-debs.sh SRCDIR BUILDDIR
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
SRC=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
. "$SRC/tools/tests/tap.sh"
say() { echo "# $*"; }

for t in dpkg-buildpackage dh help2man lintian; do
    if ! command -v "$t" > /dev/null; then
        echo "1..0 # SKIP no $t (tools/setup-host.sh installs debhelper, help2man, lintian)"
        exit 0
    fi
done

OUT=$B/debs
"$SRC/tools/package/build-debs" "$OUT" 2>&1 | sed 's/^/# /'
ok "${PIPESTATUS[0]}" "tools/package/build-debs $OUT (lintian: no errors)" || true
[ "$tap_failed" = 0 ] || { tap_end; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# --- versions ---------------------------------------------------------------
pv=$(sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -n1)
qv=$("$B/qemu-system-x86_64" --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
V=$pv+qemu$qv
declare -A deb
for p in qemu backend stubdom; do
    deb[$p]=$OUT/xen-displfront-${p}_${V}_amd64.deb
    [ -f "${deb[$p]}" ]
    ok $? "xen-displfront-$p, version $V (the project's and QEMU's)"
done
[ "$tap_failed" = 0 ] || { tap_end; exit 1; }
grep -E '^E: ' "$OUT/lintian.log" | sed 's/^/#   /'
! grep -qE '^E: ' "$OUT/lintian.log"
ok $? "lintian reports no errors ($(grep -cE '^W: ' "$OUT/lintian.log") warnings)"

for p in qemu backend stubdom; do
    dpkg-deb -x "${deb[$p]}" "$T/$p"
    dpkg-deb -e "${deb[$p]}" "$T/$p.control"
    dpkg-deb -c "${deb[$p]}" | awk '{ print $NF }' | sed 's|^\./|/|' |
        grep -v '/$' > "$T/$p.files"
done
field() { dpkg-deb -f "${deb[$1]}" "$2"; }
has() {     # has PACKAGE PATH...: the package holds each PATH
    local p=$1 f missing=
    shift
    for f in "$@"; do
        grep -qxF "$f" "$T/$p.files" || missing="$missing $f"
    done
    [ -z "$missing" ] || echo "#   missing:$missing"
    [ -z "$missing" ]
}

# --- xen-displfront-qemu ------------------------------------------------------
Q=/usr/lib/xen-displfront
has qemu $Q/bin/qemu-system-x86_64 $Q/share/qemu/trace-events-all \
    $Q/share/qemu/keymaps/en-us /etc/modprobe.d/xen-displfront.conf \
    /lib/systemd/system/xen-displfront-gntalloc.service \
    /usr/libexec/xen-displfront/xdf-gntalloc-limit \
    /usr/share/doc/xen-displfront-qemu/xen-displfront.rst.gz
ok $? "qemu: QEMU under $Q with its data, the grant limit, the user guide"
! grep -qE "^$Q/share/(applications|icons)/|^/usr/bin/|^/usr/share/qemu/" "$T/qemu.files"
ok $? "qemu: nothing on PATH or in Debian QEMU's folders, no desktop entry"
deps=$(field qemu Depends)
say "Depends: $deps"
miss=
for d in seabios ipxe-qemu libxenstore4 libxengnttab1 libxenevtchn1 \
         libxendevicemodel1 libxenforeignmemory1 libpixman-1-0 libglib2.0-0; do
    grep -qE "(^|, )$d( |,|$)" <<< "$deps" || miss="$miss $d"
done
[ -z "$miss" ] || say "not in Depends:$miss"
ok "${#miss}" "qemu: depends on Debian's firmware and libraries"
grep -qxF /etc/modprobe.d/xen-displfront.conf "$T/qemu.control/conffiles" &&
    grep -qE '^options xen_gntalloc limit=[0-9]+$' "$T/qemu/etc/modprobe.d/xen-displfront.conf"
ok $? "qemu: 'options xen_gntalloc limit=N' in a conffile"
grep -q xdf-gntalloc-limit "$T/qemu.control/postinst"
ok $? "qemu: the postinst raises the running module's limit"
Qbin=$T/qemu$Q/bin/qemu-system-x86_64
"$Qbin" -device help 2>&1 | grep -q '"xen-displfront"'
ok $? "qemu: the packaged binary runs here and has the device"
# Relocated to where it was unpacked, QEMU still finds its own data dir.
"$Qbin" -L help 2>&1 | grep -qxF "$T/qemu$Q/bin/../share/qemu"
ok $? "qemu: its data (keymaps) under its own prefix, as QEMU finds it"
for d in /usr/share/seabios /usr/lib/ipxe/qemu; do
    "$Qbin" -L help 2>&1 | grep -qxF "$d" || say "no $d in -L help"
done
"$Qbin" -L help 2>&1 | grep -qxF /usr/share/seabios
ok $? "qemu: firmware from Debian's seabios and ipxe-qemu folders"

# --- xen-displfront-backend ---------------------------------------------------
U=$T/backend/lib/systemd/system/xdf-backend.service
has backend /usr/sbin/xdf-backend /lib/systemd/system/xdf-backend.service \
    /etc/xen-displfront/backend.conf /usr/libexec/xen-displfront/xdf-backend-service \
    /usr/share/man/man8/xdf-backend.8.gz
ok $? "backend: xdf-backend, its service, configuration and man page"
grep -qxF /etc/xen-displfront/backend.conf "$T/backend.control/conffiles"
ok $? "backend: backend.conf is a conffile"
exec_start=$(sed -n 's/^ExecStart=//p' "$U")
[ "$exec_start" = "/usr/libexec/xen-displfront/xdf-backend-service /etc/xen-displfront/backend.conf" ]
ok $? "backend: the unit runs xdf-backend-service with the configuration ($exec_start)"
miss=
for d in 'CapabilityBoundingSet=' 'NoNewPrivileges=yes' 'DevicePolicy=closed' \
         'ProtectSystem=strict' 'StateDirectory=xdf-backend' 'ProtectHome=yes' \
         'PrivateTmp=yes' 'MemoryDenyWriteExecute=yes' 'RestrictNamespaces=yes' \
         'SystemCallFilter=@system-service' 'DeviceAllow=/dev/xen/gntdev rw'; do
    grep -qxF "$d" "$U" || miss="$miss '$d'"
done
[ -z "$miss" ] || say "not in the unit:$miss"
ok "${#miss}" "backend: hardened unit (no capabilities, Xen's devices only, read-only system)"
if command -v systemd-analyze > /dev/null; then
    # under --root: the unit, ExecStart's program, and systemd's targets
    cp -rn /lib/systemd/system/. "$T/backend/lib/systemd/system/"
    out=$(systemd-analyze verify --man=no --root="$T/backend" \
              /lib/systemd/system/xdf-backend.service 2>&1)
    [ -z "$out" ] || echo "$out" | sed 's/^/#   /'
    ok "${#out}" "backend: systemd-analyze verify finds nothing wrong"
    score=$(systemd-analyze security --offline=true --root="$T/backend" \
                /lib/systemd/system/xdf-backend.service 2>/dev/null |
            sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    say "systemd-analyze security: exposure $score (0 safest, 10 none)"
    awk -v s="${score:-10}" 'BEGIN { exit !(s < 3.0) }'
    ok $? "backend: systemd's exposure level ${score:-?} is under 3.0 (OK)"
else
    skip "no systemd-analyze"
fi
# The unit's command, as configured: default, then an operator's file.
export XDF_BACKEND=$T/backend/usr/sbin/xdf-backend
svc=$T/backend/usr/libexec/xen-displfront/xdf-backend-service
conf=$T/backend/etc/xen-displfront/backend.conf
sed 's|^VNC_PASSWORD_FILE=.*|VNC_PASSWORD_FILE=|' "$conf" > "$T/nopass.conf"
cmd=$("$svc" --dry-run "$T/nopass.conf")
[ "$cmd" = "$XDF_BACKEND --all --vnc 5900 --vnc-address 127.0.0.1" ]
ok $? "backend: the default configuration runs '${cmd#"$T/backend"}'"
mkdir -p "$T/frames"
printf 'secret\n' > "$T/pw" && chmod 600 "$T/pw"
sed -e "s|^VNC_PASSWORD_FILE=.*|VNC_PASSWORD_FILE=$T/pw|" \
    -e "s|^OUTPUT_DIR=.*|OUTPUT_DIR=$T/frames|" -e 's|^VNC_PORT=.*|VNC_PORT=5990|' \
    -e 's|^VNC_ADDRESS=.*|VNC_ADDRESS=0.0.0.0|' \
    -e 's|^EXTRA_ARGS=.*|EXTRA_ARGS="--max-device-memory 512"|' "$conf" > "$T/all.conf"
cmd=$("$svc" --dry-run "$T/all.conf")
[ "$cmd" = "$XDF_BACKEND --all --vnc 5990 --vnc-address 0.0.0.0 --vnc-password-file $T/pw --output-dir $T/frames --max-device-memory 512" ]
ok $? "backend: every setting reaches the command"
sed 's|^VNC_PORT=.*|VNC_PORT=59x0|' "$conf" > "$T/bad.conf"
msg=$("$svc" --dry-run "$T/bad.conf" 2>&1)
[ $? != 0 ] && grep -q "VNC_PORT='59x0' in $T/bad.conf" <<< "$msg"
ok $? "backend: a bad setting is named with its file ($msg)"
msg=$("$svc" --dry-run "$conf" 2>&1)
[ $? != 0 ] && grep -q "VNC_PASSWORD_FILE='/etc/xen-displfront/vnc-password'" <<< "$msg"
ok $? "backend: a missing password file is named"
grep -q 'vnc-password' "$T/backend.control/postinst" &&
    grep -q 'vnc-password' "$T/backend.control/postrm"
ok $? "backend: the postinst makes the password, the postrm's purge removes it"

# --- xen-displfront-stubdom ----------------------------------------------------
S=/usr/lib/xen-4.17/boot
has stubdom $S/qemu-stubdom-linux-kernel $S/qemu-stubdom-linux-rootfs \
    /usr/sbin/xdf-stubdom-attach /usr/share/man/man8/xdf-stubdom-attach.8.gz
ok $? "stubdom: kernel and rootfs where libxl 4.17 looks, xdf-stubdom-attach"
(cd "$T" && gzip -dc "stubdom$S/qemu-stubdom-linux-rootfs" | cpio -t --quiet) > "$T/rootfs.list"
grep -qxF usr/bin/qemu-system-x86_64 "$T/rootfs.list" && grep -qxF init "$T/rootfs.list"
ok $? "stubdom: the rootfs has QEMU and the init"
(cd "$T" && mkdir r && cd r &&
 gzip -dc "../stubdom$S/qemu-stubdom-linux-rootfs" | cpio -id --quiet usr/bin/qemu-system-x86_64)
grep -qaF "$Q/share/qemu" "$T/r/usr/bin/qemu-system-x86_64"
ok $? "stubdom: its QEMU is the packaged variant (prefix $Q)"
bu=$(field stubdom Built-Using)
say "Built-Using: $bu"
grep -q 'linux' <<< "$bu" && grep -q 'xen (= ' <<< "$bu" && grep -q 'busybox' <<< "$bu"
ok $? "stubdom: Built-Using names the Debian sources in it (linux, xen, busybox, ...)"

# --- all ----------------------------------------------------------------------
for c in "$T/backend/usr/sbin/xdf-backend" "$T/stubdom/usr/sbin/xdf-stubdom-attach" \
         "$svc" "$T/qemu/usr/libexec/xen-displfront/xdf-gntalloc-limit"; do
    "$c" --help 2>&1 | head -n1 | grep -q .
    ok $? "--help of $(basename "$c")"
done
for m in "$T/backend/usr/share/man/man8/xdf-backend.8.gz" \
         "$T/stubdom/usr/share/man/man8/xdf-stubdom-attach.8.gz"; do
    zcat "$m" | grep -q '^\.SH SYNOPSIS' && zcat "$m" | grep -q '^\.SH OPTIONS\|^\.SH DESCRIPTION'
    ok $? "man page $(basename "$m" .gz) has a synopsis"
done
# No file of ours is an installed Debian package's (ours excepted).
clash=$(cat "$T"/*.files | while read -r f; do
            o=$(dpkg-query -S "$f" 2>/dev/null | cut -d: -f1 | grep -v '^xen-displfront-')
            [ -z "$o" ] || echo "$f ($o)"
        done)
[ -z "$clash" ] || echo "$clash" | sed 's/^/#   also in: /'
ok "${#clash}" "no file is also another installed package's ($(dpkg-query -W -f '${Package} ' qemu-system-x86 xen-utils-4.17 qemu-system-xen 2>/dev/null)checked)"

tap_end
