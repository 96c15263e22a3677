#!/bin/bash
# build-guest.sh OUTDIR: the demo guest, a Linux kernel and an initramfs
# built from Debian packages only:
#
#   - the kernel and its display modules from the candidate of
#     linux-image-amd64 (downloaded with apt-get download, unpacked with
#     dpkg-deb, never installed),
#   - busybox from busybox-static,
#   - xdf-anim (xdf-anim.c, gcc -static) against libdrm-dev's copy of the
#     DRM UAPI headers (headers only: no libdrm is linked),
#   - xdf-input (xdf-input.c, gcc -static), which prints input events,
#   - init (this folder) as /init.
#
# The result is cached under ${XDF_CACHE:-~/.cache/xen-displfront}/guest/,
# keyed by the guest's inputs in this folder (build-guest.sh, init,
# xdf-anim.c, xdf-input.c), the three package versions and the compiler; a second run
# only links OUTDIR/vmlinuz and OUTDIR/initrd.img to the cached files.
# Downloads are kept in guest/debs/, the newest four builds in guest/KEY/.  Concurrent runs wait for each other.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDF_CACHE:-$HOME/.cache/xen-displfront}/guest
# Display drivers for VGA/bochs-display, cirrus-vga, virtio-gpu-pci and
# Xen's vdispl (a PV guest with Linux's displif frontend), then input
# (xdf.input=S): evdev (/dev/input/event*), Xen's vkbd frontend,
# virtio-keyboard/-tablet-pci, usb-tablet on qemu-xhci (USB HID), the
# PS/2 mouse; their dependencies come from modules.dep.  A module the
# kernel has built in (Debian: xen-kbdfront) is said and skipped.
want_modules="bochs cirrus virtio_pci virtio-gpu drm_xen_front
              evdev xen-kbdfront virtio_input xhci_pci usbhid hid_generic
              psmouse"

step() { printf 'build-guest: %s\n' "$*"; }
fail() { printf 'build-guest: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
outdir=$1

for cmd in apt-get apt-cache dpkg-deb gcc cpio gzip sha256sum flock; do
    command -v "$cmd" >/dev/null ||
        fail "'$cmd' not found (apt-get install apt dpkg gcc libc6-dev cpio gzip coreutils util-linux)"
done

# Candidate versions from apt's metadata (no network), in one apt-cache
# call: it is the slow part of a cached run.
pkginfo=$(apt-cache show --no-all-versions linux-image-amd64 busybox-static \
          libdrm-dev 2>/dev/null || true)
field() { # package field
    awk -v p="$1" -v f="$2: " '
        /^Package: / { in_p = ($2 == p) }
        in_p && index($0, f) == 1 { print substr($0, length(f) + 1); exit }
    ' <<<"$pkginfo"
}
candidate() {
    local v
    v=$(field "$1" Version)
    [ -n "$v" ] || fail "package '$1' is unknown to apt (run apt-get update)"
    echo "$v"
}

# The real kernel package behind the linux-image-amd64 metapackage, from
# its "Depends: linux-image-X (= V)".
kmeta_ver=$(candidate linux-image-amd64)
kdep=$(field linux-image-amd64 Depends)
kpkg=$(sed -n 's/^\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1/p' <<<"$kdep")
kpkg_ver=$(sed -n 's/^\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\2/p' <<<"$kdep")
if [ -z "$kpkg" ] || [ -z "$kpkg_ver" ]; then
    fail "cannot parse the kernel package linux-image-amd64 $kmeta_ver depends on: '$kdep'"
fi
bb_ver=$(candidate busybox-static)
drm_ver=$(candidate libdrm-dev)

key=$( {
    for f in build-guest.sh init xdf-anim.c xdf-input.c; do
        printf '%s\n' "$f"
        cat "$here/$f"
    done
    echo "$kpkg=$kpkg_ver busybox-static=$bb_ver libdrm-dev=$drm_ver"
    gcc --version | head -n1
} | sha256sum | cut -c1-16)
dest=$cache/$key

link_out() {
    mkdir -p "$outdir"
    ln -sfn "$dest/vmlinuz" "$outdir/vmlinuz"
    ln -sfn "$dest/initrd.img" "$outdir/initrd.img"
    step "$outdir/vmlinuz, $outdir/initrd.img -> $dest ($kpkg $kpkg_ver)"
}

if [ -f "$dest/.complete" ]; then
    link_out
    exit 0
fi

mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
if ! flock -n 9; then
    step "waiting for another build-guest.sh (lock $cache/.lock)"
    flock 9
fi
if [ -f "$dest/.complete" ]; then
    link_out
    exit 0
fi

work=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Download package $1 version $2 (step $3) into the cache; print the
# .deb's path.
fetch_deb() {
    local dir=$cache/debs/$1/$2 debs apt_opts=()
    debs=("$dir"/*.deb)
    if [ ! -f "${debs[0]}" ]; then
        step "downloading $1 $2 ($3 of 3 packages)" >&2
        mkdir -p "$dir.tmp"
        [ "$(id -u)" != 0 ] || apt_opts=(-o APT::Sandbox::User=root)
        (cd "$dir.tmp" && apt-get "${apt_opts[@]}" -q download "$1=$2") >&2 ||
            fail "apt-get download $1=$2 failed"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
        debs=("$dir"/*.deb)
        [ -f "${debs[0]}" ] || fail "apt-get download $1=$2 left no .deb"
    fi
    echo "${debs[0]}"
}

kdeb=$(fetch_deb "$kpkg" "$kpkg_ver" 1)
bbdeb=$(fetch_deb busybox-static "$bb_ver" 2)
drmdeb=$(fetch_deb libdrm-dev "$drm_ver" 3)

step "unpacking $(basename "$kdeb")"
dpkg-deb -x "$kdeb" "$work/kernel" || fail "dpkg-deb -x $kdeb failed"
step "unpacking $(basename "$bbdeb")"
dpkg-deb -x "$bbdeb" "$work/busybox" || fail "dpkg-deb -x $bbdeb failed"
step "unpacking $(basename "$drmdeb")"
dpkg-deb -x "$drmdeb" "$work/libdrm" || fail "dpkg-deb -x $drmdeb failed"

bb=$work/busybox/bin/busybox
[ -x "$bb" ] || fail "busybox-static $bb_ver has no bin/busybox"
kver=$(ls "$work/kernel/lib/modules")
[ "$(echo "$kver" | wc -l)" = 1 ] || fail "$kpkg: expected one folder in lib/modules, found: $kver"
vmlinuz=$work/kernel/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || fail "$kpkg: no boot/vmlinuz-$kver"

# --- modules: the wanted ones and what they depend on -------------------
step "depmod over $kpkg's modules (a few seconds)"
"$bb" depmod -b "$work/kernel" "$kver" ||
    fail "busybox depmod over $kpkg's modules failed"
moddir=$work/kernel/lib/modules/$kver
declare -A path_of deps_of
while IFS=: read -r path deps; do
    name=${path##*/}
    name=${name%.ko}
    path_of[${name//-/_}]=$path
    deps_of[${name//-/_}]=$deps
done <"$moddir/modules.dep"

declare -A builtin
while read -r path; do
    name=${path##*/}
    name=${name%.ko}
    builtin[${name//-/_}]=1
done <"$moddir/modules.builtin"

declare -A picked
pick() {
    local m=${1//-/_} dep
    if [ -z "${path_of[$m]:-}" ] && [ -n "${builtin[$m]:-}" ]; then
        step "note: '$1' is built into $kpkg, not a module: skipped"
        return 0
    fi
    [ -n "${path_of[$m]:-}" ] || fail "$kpkg has no module '$1' (see boot/config-$kver)"
    [ -z "${picked[$m]:-}" ] || return 0
    picked[$m]=${path_of[$m]}
    for dep in ${deps_of[$m]}; do
        dep=${dep##*/}
        pick "${dep%.ko}"
    done
}
for m in $want_modules; do
    pick "$m"
done

# --- the initramfs tree ----------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules/"$kver"}
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/init" "$root/init"

step "copying ${#picked[@]} modules: $(printf '%s ' "${!picked[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')"
for m in "${!picked[@]}"; do
    mkdir -p "$root/lib/modules/$kver/$(dirname "${picked[$m]}")"
    cp "$moddir/${picked[$m]}" "$root/lib/modules/$kver/${picked[$m]}"
done
cp "$moddir/modules.builtin" "$moddir/modules.order" "$root/lib/modules/$kver/"
"$bb" depmod -b "$root" "$kver" || fail "busybox depmod over the initramfs failed"

step "compiling xdf-anim (gcc -static)"
gcc -static -O2 -s -std=gnu11 -Wall -Wextra -Werror \
    -I"$work/libdrm/usr/include/libdrm" \
    -o "$root/bin/xdf-anim" "$here/xdf-anim.c" ||
    fail "compiling xdf-anim.c failed (gcc -static needs libc6-dev)"
step "compiling xdf-input (gcc -static)"
gcc -static -O2 -s -std=gnu11 -Wall -Wextra -Werror \
    -o "$root/bin/xdf-input" "$here/xdf-input.c" ||
    fail "compiling xdf-input.c failed (gcc -static needs libc6-dev)"

# --- pack ------------------------------------------------------------------
step "packing the initramfs (cpio, gzip)"
mkdir -p "$work/out"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
     cpio -o -H newc -R 0:0 --reproducible --quiet) |
    gzip -9n >"$work/out/initrd.img" || fail "cpio/gzip of the initramfs failed"
cp "$vmlinuz" "$work/out/vmlinuz"
{
    echo "kernel: $kpkg $kpkg_ver ($kver), linux-image-amd64 $kmeta_ver"
    echo "busybox-static: $bb_ver"
    echo "libdrm-dev (headers): $drm_ver"
    echo "modules: $(printf '%s\n' "${!picked[@]}" | sort | tr '\n' ' ')"
} >"$work/out/manifest.txt"
touch "$work/out/.complete"

rm -rf "$dest"
mv "$work/out" "$dest"
# Keep the newest four builds (the downloads stay).
for old in $(find "$cache" -mindepth 1 -maxdepth 1 -type d \
                 -regextype posix-extended -regex '.*/[0-9a-f]{16}' \
                 -printf '%T@ %p\n' |
             sort -rn | tail -n +5 | cut -d' ' -f2-); do
    step "removing the old build $old"
    rm -rf "$old"
done
step "built: vmlinuz $(du -h "$dest/vmlinuz" | cut -f1), initrd.img $(du -h "$dest/initrd.img" | cut -f1)"
link_out
