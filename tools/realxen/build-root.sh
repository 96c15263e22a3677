#!/bin/bash
# Build what the real-Xen rig boots: Debian's Xen 4.17 hypervisor, Debian's
# kernel as dom0, a busybox initramfs that mounts the dom0 root over
# virtio-9p, and a debootstrap (minbase) dom0 root with Xen's tools and the
# libraries our binaries need.
#
# Everything lands in ${XDF_CACHE:-$HOME/.cache/xen-displfront}/realxen/<key>/
# where <key> hashes IMAGE_FORMAT, the package lists, the mirror and the
# versions of every package it takes (bump IMAGE_FORMAT when changing how
# the image is made).  The initramfs is remade on its own when its inputs
# (initrd-init, the module list, busybox) change.  A second run with the
# same inputs does nothing.  The last line of output is the image folder.
#
# Needs root (debootstrap, chroot), debootstrap, busybox-static, cpio, kmod.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${XDF_CACHE:-$HOME/.cache/xen-displfront}/realxen
IMAGE_FORMAT=1
SUITE=bookworm
XEN_PKG=xen-hypervisor-4.17-amd64
# Packages of the dom0 root, on top of debootstrap's minbase.
ROOT_PKGS=(
    # Xen's tools: xl, xenstored, xenconsoled, lsevtchn, xenstore-*
    xen-utils-4.17 xen-utils-common xenstore-utils
    libxenstore4 libxenevtchn1 libxengnttab1 libxencall1 libxenmisc4.17
    libxendevicemodel1 libxenforeignmemory1 libxentoolcore1 libxentoollog1
    # our QEMU, the qtest, xdf-backend (the tests check them with ldd)
    libglib2.0-0 libpixman-1-0 libpng16-16 zlib1g libpcre2-8-0
    libvncserver1
    # firmware our QEMU's qemu-bundle/ links to
    seabios ipxe-qemu qemu-system-data
    # a stub domain's helper QEMU in dom0 (its consoles), libxl's
    # /usr/libexec/xen-qemu-system-i386; the stub domain's kernel modules
    # come with the dom0 kernel's
    qemu-system-xen
    # the tests' checkers (PNG/PPM, QMP)
    python3
    # dom0 housekeeping
    kmod procps
)
# Kernel modules the initramfs loads to reach the 9p root (with their
# dependencies, resolved by modprobe against the kernel's own modules.dep).
INITRD_MODS=(virtio_pci 9pnet_virtio 9p overlay)

say() { printf '[realxen/build-root] %s\n' "$*" >&2; }
die() { printf '[realxen/build-root] error: %s\n' "$*" >&2; exit 1; }
step() { STEP=$1; say "step: $1"; }
STEP=start
trap 'rc=$?; [ $rc = 0 ] || printf "[realxen/build-root] failed in step: %s (exit %s)\n" "$STEP" "$rc" >&2' EXIT

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap makes device nodes and root-owned files)"
for t in debootstrap apt-get apt-cache dpkg-deb cpio depmod modprobe gzip sha256sum chroot; do
    command -v "$t" >/dev/null || die "no $t: apt-get install debootstrap cpio kmod"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
    die "no static busybox at $BUSYBOX: apt-get install busybox-static"

# An interrupted debootstrap leaves /proc (and others) mounted in its root.
umount_under() {
    local m
    for m in $(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" || die "cannot unmount $m"
    done
}

step "find the Debian mirror and package versions"
# The machine's own Debian mirror, as tools/setup-host.sh finds it.
MIRROR=$("$HERE/../debian-mirror" | awk '{ print $1 }')
[ -n "$MIRROR" ] || die "found no 'deb ... bookworm' entry in /etc/apt/sources*; add your Debian mirror"
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
       awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || die "apt knows no linux-image-amd64 dependency (run apt-get update?)"
KVER=${KPKG#linux-image-}
# "package=candidate version" lines, one apt-cache call for all.
pkgver() {
    local out p
    out=$(apt-cache policy "$@" 2>/dev/null |
          awk '/^[^ ]/ { sub(/:$/, ""); p = $1 } /Candidate:/ { print p "=" $2 }')
    for p in "$@"; do
        grep -q "^$p=[^(]" <<< "$out" || die "apt has no candidate for package $p"
    done
    echo "$out"
}
versions=$(pkgver "$XEN_PKG" "$KPKG" "${ROOT_PKGS[@]}")
KEY=$( { echo "format $IMAGE_FORMAT $SUITE"; echo "$MIRROR"; echo "$versions"; } |
       sha256sum | cut -c1-12)
OUT=$CACHE/$KEY

if [ -f "$OUT/.complete" ]; then
    say "image up to date: $OUT"
else
    say "building $OUT (kernel $KVER, mirror $MIRROR)"
    mkdir -p "$CACHE"
    for old in "$CACHE"/.build-*; do
        [ -d "$old" ] || continue
        say "removing an unfinished build: $old"
        umount_under "$old"
        rm -rf "$old"
    done
    TMP=$CACHE/.build-$KEY
    mkdir -p "$TMP/debs"

    step "download $XEN_PKG and $KPKG (apt-get download)"
    (cd "$TMP/debs" && apt-get -o APT::Sandbox::User=root download "$XEN_PKG" "$KPKG") ||
        die "apt-get download $XEN_PKG $KPKG failed"

    step "unpack Xen and the dom0 kernel"
    dpkg-deb -x "$TMP/debs/${XEN_PKG}"_*.deb "$TMP/xen"
    xengz=$(ls "$TMP"/xen/boot/xen-*.gz 2>/dev/null | head -n1)
    [ -n "$xengz" ] || die "$XEN_PKG has no /boot/xen-*.gz"
    gzip -dc "$xengz" > "$TMP/xen.elf"
    dpkg-deb -x "$TMP/debs/${KPKG}"_*.deb "$TMP/kernel"
    [ -f "$TMP/kernel/boot/vmlinuz-$KVER" ] || die "$KPKG has no /boot/vmlinuz-$KVER"
    cp "$TMP/kernel/boot/vmlinuz-$KVER" "$TMP/vmlinuz"

    step "debootstrap --variant=minbase $SUITE (a few minutes)"
    if ! debootstrap --variant=minbase "$SUITE" "$TMP/root" "$MIRROR" \
            > "$TMP/debootstrap.log" 2>&1; then
        tail -n 20 "$TMP/debootstrap.log" >&2
        die "debootstrap failed (log: $TMP/debootstrap.log; last lines above)"
    fi
    umount_under "$TMP/root"

    # The packages come from the host's own apt sources (security updates
    # included), so the dom0 root has the versions the host has: those the
    # key above was computed from, and the ones our binaries were built
    # against.  No service starts inside the chroot.
    step "apt-get install in the dom0 root: ${ROOT_PKGS[*]}"
    rm -f "$TMP/root/etc/apt/sources.list"
    cp -a /etc/apt/sources.list.d "$TMP/root/etc/apt/"
    rm -f "$TMP/root/etc/apt/sources.list.d/xen-displfront.sources"
    [ ! -f /etc/apt/sources.list ] || cp /etc/apt/sources.list "$TMP/root/etc/apt/"
    printf '#!/bin/sh\nexit 101\n' > "$TMP/root/usr/sbin/policy-rc.d"
    chmod 755 "$TMP/root/usr/sbin/policy-rc.d"
    if ! { chroot "$TMP/root" apt-get update &&
           DEBIAN_FRONTEND=noninteractive chroot "$TMP/root" \
               apt-get install -y --no-install-recommends "${ROOT_PKGS[@]}"; } \
            > "$TMP/apt.log" 2>&1; then
        umount_under "$TMP/root"
        tail -n 20 "$TMP/apt.log" >&2
        die "apt-get install in the dom0 root failed (log: $TMP/apt.log; last lines above)"
    fi
    chroot "$TMP/root" apt-get clean
    umount_under "$TMP/root"

    step "dom0 root: kernel modules, mount points"
    mkdir -p "$TMP/root/lib/modules"
    cp -a "$TMP/kernel/lib/modules/$KVER" "$TMP/root/lib/modules/"
    depmod -b "$TMP/root" "$KVER" || die "depmod on $KPKG's modules failed"
    # /xdf: run.sh's per-run folder (dom0-init.sh, the test script, results)
    mkdir -p "$TMP/root/xdf"
    echo "realxen-dom0" > "$TMP/root/etc/hostname"
    for b in xl xenstored xenconsoled xen-init-dom0 lsevtchn; do
        [ -e "$TMP/root/usr/lib/xen-4.17/bin/$b" ] || die "dom0 root lacks /usr/lib/xen-4.17/bin/$b"
    done
    if chroot "$TMP/root" ldd /usr/lib/xen-4.17/bin/xl | grep -q 'not found'; then
        die "xl in the dom0 root misses libraries"
    fi

    step "finish the image"
    rm -rf "$OUT"
    mkdir -p "$OUT"
    mv "$TMP/xen.elf" "$TMP/vmlinuz" "$TMP/root" "$OUT/"
    echo "$versions" > "$OUT/versions"
    echo "$KVER" > "$OUT/kernel-version"
    rm -rf "$TMP"
    touch "$OUT/.complete"
fi

# --- the initramfs ----------------------------------------------------------
IKEY=$( { cat "$HERE/initrd-init"; echo "${INITRD_MODS[*]}"; pkgver busybox-static; } |
        sha256sum | cut -c1-12)
if [ -f "$OUT/initrd.img" ] && [ "$(cat "$OUT/initrd.key" 2>/dev/null)" = "$IKEY" ]; then
    say "initramfs up to date"
else
    step "initramfs (busybox-static + virtio/9p/overlay modules)"
    I=$(mktemp -d)
    mkdir -p "$I"/{bin,dev,proc,sys,newroot,mods}
    cp "$BUSYBOX" "$I/bin/busybox"
    for a in sh mount umount mkdir insmod switch_root sleep cat echo reboot ls; do
        ln -s busybox "$I/bin/$a"
    done
    KVER=$(cat "$OUT/kernel-version")
    modprobe -d "$OUT/root" -S "$KVER" --show-depends -a "${INITRD_MODS[@]}" \
        > "$I/modlist" 2>&1 || die "modprobe --show-depends ${INITRD_MODS[*]} failed: $(cat "$I/modlist")"
    n=0
    : > "$I/mods/order"
    while read -r m; do
        n=$((n + 1))
        base=$(printf '%02d-%s' "$n" "$(basename "${m%.xz}")")
        case $m in
            *.xz) xz -dc "$m" > "$I/mods/$base" ;;
            *) cp "$m" "$I/mods/$base" ;;
        esac
        echo "$base" >> "$I/mods/order"
    done < <(awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$I/modlist")
    rm -f "$I/modlist"
    say "initramfs modules: $(tr '\n' ' ' < "$I/mods/order")"
    install -m 755 "$HERE/initrd-init" "$I/init"
    (cd "$I" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initrd.img.new"
    rm -rf "$I"
    mv "$OUT/initrd.img.new" "$OUT/initrd.img"
    echo "$IKEY" > "$OUT/initrd.key"
fi
STEP=done
say "ready: $OUT"
echo "$OUT"
