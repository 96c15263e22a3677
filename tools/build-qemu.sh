#!/bin/bash
# Build QEMU 10.0.x from Debian's source package, with xen-displfront.
#
#   tools/build-qemu.sh [--variant std|asan|pkg] [--install DESTDIR] OUTDIR
#
# Fetches the upstream tarball with "apt-get source --tar-only" from
# bookworm-backports, checks it against the archive's SHA256, unpacks it
# (without roms/), applies patches/, links the device's sources in and
# builds qemu-system-x86_64 plus the qtests we run.  The tree and build
# live in a cache outside the clone, keyed by QEMU version, by a hash of
# the patches and configure flags, and by the clone (each clone, worktree
# or review checkout runs its own device, never the one another clone
# built last); ccache is used with paths relative to that tree, so a
# rebuild after a small change, or a second clone's first build, takes
# seconds to minutes.  OUTDIR receives links to the results.  The asan variant is
# a second tree built with AddressSanitizer and UBSan; its results are
# linked with an "-asan" suffix.  The pkg variant is the one the Debian
# packages install (tools/package): the same patches and flags, but
# configured for its own prefix, /usr/lib/xen-displfront, where its data
# files (VNC keymaps, trace events) are found once installed; its binary
# is linked as qemu-system-x86_64-pkg, and --install DESTDIR installs it
# under DESTDIR ("meson install --destdir").
#
# Environment: XDF_CACHE (default ~/.cache/xen-displfront).
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${XDF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xen-displfront}
QEMU_SERIES=10.0
DL=$CACHE/dl

# Everything that changes the build tree or its configuration goes into
# the cache key.
CONFIGURE_FLAGS=(
    --cc="ccache cc"
    --target-list=x86_64-softmmu
    --without-default-features
    --without-default-devices
    --with-devices-x86_64=xen-displfront
    --enable-xen --enable-kvm --enable-tcg --enable-pixman
    # libxl passes -vnc to an HVM domain's device model, even with vnc=0
    --enable-vnc
    --disable-fdt --disable-download --disable-docs
    --disable-install-blobs --disable-werror
    --python=/usr/bin/python3
    --firmwarepath=/usr/share/seabios:/usr/lib/ipxe/qemu:/usr/share/qemu
)
# Build targets, and the names they get in OUTDIR.
TARGETS=(
    qemu-system-x86_64:qemu-system-x86_64
    tests/qtest/xen-displfront-test:qtest-xen-displfront
    tests/qtest/qom-test:qtest-qom
    tests/qtest/device-introspect-test:qtest-device-introspect
)

say() { printf '[build-qemu] %s\n' "$*"; }
die() { printf '[build-qemu] error: %s\n' "$*" >&2; exit 1; }

USAGE="usage: $0 [--variant std|asan|pkg] [--install DESTDIR] OUTDIR"
VARIANT=std
DESTDIR=
while [ $# -gt 1 ]; do
    case $1 in
    --variant) VARIANT=$2 ;;
    --install) DESTDIR=$2 ;;
    *) die "unknown option '$1' ($USAGE)" ;;
    esac
    shift 2
done
case "$VARIANT" in
std)
    ;;
asan)
    CONFIGURE_FLAGS+=(--enable-asan --enable-ubsan)
    TARGETS=(
        qemu-system-x86_64:qemu-system-x86_64-asan
        tests/qtest/xen-displfront-test:qtest-xen-displfront-asan
    )
    ;;
pkg)
    # Installed, QEMU finds its data under PREFIX/share/qemu; the
    # firmware stays Debian's (--firmwarepath above).
    CONFIGURE_FLAGS+=(--prefix=/usr/lib/xen-displfront)
    TARGETS=(
        qemu-system-x86_64:qemu-system-x86_64-pkg
        trace/trace-events-all:trace-events-all-pkg
    )
    ;;
*)
    die "unknown variant '$VARIANT' (std, asan or pkg)"
    ;;
esac
[ -z "$DESTDIR" ] || [ "$VARIANT" = pkg ] ||
    die "--install is for the pkg variant (the std and asan trees are not configured to be installed)"
[ $# = 1 ] || die "$USAGE"
OUTDIR=$1
mkdir -p "$CACHE" "$DL" "$OUTDIR"

exec 9>"$CACHE/lock"
flock 9 || die "cannot lock $CACHE/lock"

# --- 1. the source tarball -------------------------------------------------
# apt prints: 'URI' NAME SIZE SHA256:HASH
# (apt lists only files it has yet to fetch, so ask from an empty folder).
src_info() {
    local empty
    empty=$(mktemp -d)
    (cd "$empty" && apt-get source --print-uris --tar-only \
                        -t bookworm-backports qemu 2>/dev/null) |
        awk -v s="$QEMU_SERIES" '
            $2 ~ "^qemu_" s "\\.[0-9]+[^_]*\\.orig\\.tar\\.xz$" {
                sub(/^SHA256:/, "", $4); print $2, $4; exit
            }'
    rmdir "$empty"
}
info=$(src_info || true)
if [ -n "$info" ]; then
    echo "$info" > "$DL/current"
elif [ -f "$DL/current" ]; then
    info=$(cat "$DL/current")
    say "apt does not answer; using the tarball recorded earlier"
else
    die "apt-get source finds no QEMU $QEMU_SERIES.x in bookworm-backports; run tools/setup-host.sh first"
fi
read -r tarball sha256 <<<"$info"
version=${tarball#qemu_}
version=${version%%+*}
version=${version%.orig.tar.xz}

if [ ! -f "$DL/$tarball" ] ||
   ! echo "$sha256  $DL/$tarball" | sha256sum --quiet -c - 2>/dev/null; then
    say "fetching $tarball from Debian (bookworm-backports)"
    rm -f "$DL/$tarball"
    (cd "$DL" && apt-get source --tar-only -t bookworm-backports qemu 2>&1 |
         grep -v '^W: Download is performed unsandboxed' | sed 's/^/  /')
    [ -f "$DL/$tarball" ] || die "apt-get source did not produce $tarball"
fi
echo "$sha256  $DL/$tarball" | sha256sum --quiet -c - ||
    die "$tarball does not match the archive's SHA256 $sha256"

# --- 2. the patched tree ---------------------------------------------------
patches=("$TOP"/patches/*.patch)
key=$( { cat "${patches[@]}"; printf '%s\n' "${CONFIGURE_FLAGS[@]}"; } |
       sha256sum | cut -c1-12)
clone=$(printf '%s' "$TOP" | sha256sum | cut -c1-8)
TREE=$CACHE/qemu-$version-$VARIANT-$key-$clone
SRC=$TREE/src
BLD=$TREE/build

if [ ! -f "$SRC/.xdf-patched" ]; then
    say "unpacking QEMU $version into $TREE"
    rm -rf "$TREE"
    mkdir -p "$TREE/src.tmp"
    tar -xJf "$DL/$tarball" -C "$TREE/src.tmp" --strip-components=1 \
        --exclude='*/roms/*' --no-same-owner
    for p in "${patches[@]}"; do
        say "applying $(basename "$p")"
        patch -d "$TREE/src.tmp" -p1 --batch --forward --quiet < "$p" ||
            die "$(basename "$p") does not apply to QEMU $version"
    done
    touch "$TREE/src.tmp/.xdf-patched"
    mv "$TREE/src.tmp" "$SRC"
fi
echo "$TOP" > "$TREE/clone"
touch "$TREE"

# Our sources stay in the clone: link them into the tree, re-pointing the
# links when the clone has moved (ninja follows them and sees any change).
link() {
    [ -e "$1" ] || die "missing source file $1"
    [ "$(readlink "$2" 2>/dev/null)" = "$1" ] || ln -sfn "$1" "$2"
}
XDF=$SRC/hw/display/xen-displfront
link "$TOP/hw-display-xen-displfront.c" "$XDF/xen-displfront.c"
for c in "$TOP"/xdf-*.c; do
    link "$c" "$XDF/$(basename "$c")"
done
link "$TOP/trace-events" "$XDF/trace-events"
for h in "$TOP"/include/*.h; do
    link "$h" "$XDF/$(basename "$h")"
done
for l in "$XDF"/*.h "$XDF"/xdf-*.c; do
    [ -e "$l" ] || rm -f "$l"          # file removed from the clone
done
link "$TOP/qtest/xen-displfront-test.c" "$SRC/tests/qtest/xen-displfront-test.c"

# --- 3. configure and build ------------------------------------------------
export CCACHE_DIR=$CACHE/ccache
export CCACHE_BASEDIR=$TREE
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-3G}
command -v ccache >/dev/null || die "ccache is missing; run tools/setup-host.sh"

if [ ! -f "$BLD/build.ninja" ]; then
    say "configuring QEMU $version"
    rm -rf "$BLD"
    mkdir -p "$BLD"
    (cd "$BLD" && "$SRC/configure" "${CONFIGURE_FLAGS[@]}" > configure.log 2>&1) || {
        tail -n 30 "$BLD/configure.log" >&2
        rm -f "$BLD/build.ninja"
        die "QEMU configure failed; full log in $BLD/configure.log"
    }
fi

ninja_targets=()
for t in "${TARGETS[@]}"; do ninja_targets+=("${t%%:*}"); done

todo=$(ninja -C "$BLD" -n "${ninja_targets[@]}" 2>/dev/null | grep -c '^\[' || true)
if [ "$todo" -gt 0 ]; then
    say "building $todo steps in $BLD (ccache: $CCACHE_DIR)"
fi
# Print the progress every 5 % (and everything that is not a progress
# line: compiler warnings and errors), so that a cold build shows how far
# it is without flooding the log.
start=$SECONDS
log=$BLD/xdf-build.log
NINJA_STATUS='[%f/%t] ' ninja -C "$BLD" "${ninja_targets[@]}" 2>&1 |
    tee "$log" |
    awk -v variant="$VARIANT" '/^\[[0-9]+\/[0-9]+\] / {
             split(substr($1, 2), n, "/")
             pct = int(100 * n[1] / n[2])
             if (pct >= shown + 5 || n[1] == n[2]) {
                 shown = pct - pct % 5
                 printf "[build-qemu] building QEMU (%s): %3d%% (%d/%d steps)\n",
                        variant, pct, n[1], n[2]
                 fflush()
             }
             next
         }
         /^ninja: (Entering|no work)/ { next }
         { print; fflush() }' || die "QEMU build failed (see above)"
# QEMU builds without -Werror (upstream code warns with newer compilers);
# our own code must not warn.
if grep -E 'xen-displfront[^ :]*\.[ch]:[0-9]+:[0-9]+: warning' "$log" >&2; then
    die "the compiler warns about xen-displfront code (above)"
fi
[ "$todo" -gt 0 ] && say "built in $((SECONDS - start)) s"

# Run from its build folder, QEMU looks for firmware only under
# qemu-bundle/ (with the configured paths appended): link Debian's
# firmware folders there.
for d in /usr/share/seabios /usr/lib/ipxe/qemu /usr/share/qemu; do
    mkdir -p "$(dirname "$BLD/qemu-bundle$d")"
    link "$d" "$BLD/qemu-bundle$d"
done

for t in "${TARGETS[@]}"; do
    link "$BLD/${t%%:*}" "$OUTDIR/${t#*:}"
done
[ "$VARIANT" = std ] &&
    link "$SRC" "$OUTDIR/qemu-src"      # scripts/checkpatch.pl, for one
if [ -n "$DESTDIR" ]; then
    say "installing QEMU ($VARIANT) into $DESTDIR"
    mkdir -p "$DESTDIR"
    meson install -C "$BLD" --no-rebuild --quiet --destdir "$(realpath "$DESTDIR")" \
        > "$BLD/xdf-install.log" 2>&1 || {
        tail -n 20 "$BLD/xdf-install.log" >&2
        die "meson install into $DESTDIR failed (log: $BLD/xdf-install.log)"
    }
fi

# Trees of this clone for other patches or flags, trees of clones that
# are gone, and trees of an unknown shape go (a variant this script does
# not know, another clone's, is not unknown); of the other clones' trees
# of this variant, the three most recent stay.
tree_re="-[a-z]+-[0-9a-f]{12}-[0-9a-f]{8}/\$"   # any variant
ls -1dt "$CACHE"/qemu-*/ 2>/dev/null | grep -vxF "$TREE/" |
    while read -r old; do
        owner=$(cat "$old/clone" 2>/dev/null || true)
        if ! echo "$old" | grep -qE -- "$tree_re" ||
           [ ! -f "$owner/hw-display-xen-displfront.c" ] ||
           { [ "$owner" = "$TOP" ] && echo "$old" | grep -q -- "-$VARIANT-"; }; then
            say "removing old tree $old"
            rm -rf "$old"
        fi
    done || true
ls -1dt "$CACHE"/qemu-*/ 2>/dev/null |
    grep -E -- "-$VARIANT-[0-9a-f]{12}-[0-9a-f]{8}/\$" | grep -vxF "$TREE/" |
    tail -n +4 |
    while read -r old; do
        say "removing old tree $old"
        rm -rf "$old"
    done || true                # (grep finds nothing on a fresh cache)
exit 0
