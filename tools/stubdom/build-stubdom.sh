#!/bin/bash
# Build a Linux stub domain that runs our QEMU (with -device
# xen-displfront) as an HVM guest's device model, from Debian packages:
# the two files libxl looks for by default, qemu-stubdom-linux-kernel
# (Debian's amd64 kernel, which boots as a PV domU) and
# qemu-stubdom-linux-rootfs (an initramfs: busybox, QEMU and the libraries
# it needs, Xen's device drivers, xenstore and vchan-socket-proxy, the VGA
# BIOS, and tools/stubdom/init).  With --test-disk also xdf-keys.img, a
# disk whose boot sector echoes keys (tools/stubdom/keys-boot.S), for the
# tests; with --test-disk-only, that alone (the tests of the installed
# package, tools/package).
#
#   tools/stubdom/build-stubdom.sh --qemu QEMU --out DIR [--root DIR]
#                                  [--kernel-root DIR] [--kernel VMLINUZ]
#                                  [--kernel-version V] [--test-disk]
#   tools/stubdom/build-stubdom.sh --test-disk-only --out DIR
#
# --root is a Debian 12 system with xen-utils-4.17, xenstore-utils,
# seabios and the kernel's modules installed (default /: the Xen host
# itself); the kernel is its /boot/vmlinuz-V (V: its one version under
# /lib/modules, or --kernel-version).  --kernel-root takes the kernel
# and its modules from another root instead (an unpacked linux-image
# package, after depmod).  Nothing is built when DIR holds the files for
# the same inputs already.  DIR/.files lists what was taken from the
# roots (for the packages' Built-Using, tools/package).  On the host, install them where
# libxl looks (Debian: /usr/lib/xen-4.17/boot/), or name them in xl.cfg
# (stubdomain_kernel, stubdomain_ramdisk).
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
say() { printf '[stubdom] %s\n' "$*" >&2; }
die() { printf '[stubdom] error: %s\n' "$*" >&2; exit 1; }

root=/ kroot= qemu= out= kernel= kver= disk=0
while [ $# -gt 0 ]; do
    case $1 in
    --root) root=$2; shift ;;
    --kernel-root) kroot=$2; shift ;;
    --qemu) qemu=$2; shift ;;
    --out) out=$2; shift ;;
    --kernel) kernel=$2; shift ;;
    --kernel-version) kver=$2; shift ;;
    --test-disk) disk=1 ;;
    --test-disk-only) disk=only ;;
    *) die "unknown argument $1" ;;
    esac
    shift
done
if [ "$disk" != 0 ]; then
    for t in gcc ld; do
        command -v "$t" >/dev/null || die "no $t (--test-disk builds a boot sector)"
    done
fi
# the tests' guest disk, DIR/xdf-keys.img: 1 MiB, the xdf-keys boot
# sector first (T: a work folder)
test_disk() {
    gcc -c -m32 -o "$T/keys.o" "$HERE/keys-boot.S"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start \
        -o "$T/keys.bin" "$T/keys.o"
    [ "$(stat -c %s "$T/keys.bin")" = 512 ] || die "keys-boot.S is not one sector"
    truncate -s 1M "$T/xdf-keys.img"
    dd if="$T/keys.bin" of="$T/xdf-keys.img" conv=notrunc status=none
    mkdir -p "$1"
    mv "$T/xdf-keys.img" "$1/xdf-keys.img"
}
if [ "$disk" = only ]; then
    [ -n "$out" ] || die "usage: $0 --test-disk-only --out DIR"
    T=$(mktemp -d)
    trap 'rm -rf "$T"' EXIT
    test_disk "$out"
    say "done: $out/xdf-keys.img"
    exit 0
fi
[ -n "$qemu" ] && [ -n "$out" ] || die "usage: $0 --qemu QEMU --out DIR [--root DIR] [--kernel-root DIR] [--kernel VMLINUZ] [--kernel-version V] [--test-disk]"
kroot=${kroot:-$root}
qemu=$(readlink -f "$qemu")
[ -x "$qemu" ] || die "no QEMU at $qemu"
if [ -z "$kver" ]; then
    kver=$(ls "$kroot/lib/modules" 2>/dev/null | head -n1)
    [ -n "$kver" ] || die "no kernel modules under $kroot/lib/modules"
fi
kernel=${kernel:-$kroot/boot/vmlinuz-$kver}
[ -f "$kernel" ] || die "no kernel at $kernel (apt-get install linux-image-amd64, or --kernel)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
    die "no static busybox at $BUSYBOX: apt-get install busybox-static"
for t in cpio gzip strip modprobe; do
    command -v "$t" >/dev/null || die "no $t"
done

MODS=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkfront)
# Since the fix for XSA-441's Linux side, privcmd in a domU lets only
# dm_op through, for the domain's target: QEMU also needs memory_op
# hypercalls on its guest (populating the VGA's RAM).  Xen itself still
# lets a stub domain act on its target only.
declare -A MOD_ARGS=([xen-privcmd.ko]=unrestricted=1)
XENBIN=$root/usr/lib/xen-4.17/bin
key=$( { cat "$0" "$HERE/init" "$HERE/keys-boot.S"; echo "$kver $disk"
         sha256sum "$qemu" "$kernel" "$BUSYBOX" "$root/usr/bin/xenstore" \
                   "$XENBIN/vchan-socket-proxy"; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/.key" 2>/dev/null)" = "$key" ]; then
    say "up to date: $out"
    exit 0
fi
say "building the stub domain in $out (kernel $kver, QEMU $qemu)"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
R=$T/root
mkdir -p "$R"/{bin,dev,proc,sys,run,tmp,etc,lib/modules,usr/bin,usr/lib/xen/bin,usr/share/seabios}

# what is taken from the roots, one path a line (DIR/.files)
taken() { printf '%s\n' "$@" >> "$T/files"; }
: > "$T/files"

# busybox and the applets init uses
cp "$BUSYBOX" "$R/bin/busybox"
taken "$BUSYBOX"
for a in sh mount insmod sleep cat cut grep echo sort kill poweroff ls; do
    ln -s busybox "$R/bin/$a"
done

# Xen's device drivers, dependencies first
: > "$R/etc/modules.list"
modprobe -d "$kroot" -S "$kver" --show-depends -a "${MODS[@]}" |
while read -r cmd ko args; do
    [ "$cmd" = insmod ] || die "modprobe --show-depends: '$cmd $ko'"
    name=$(basename "$ko")
    [ -f "$R/lib/modules/$name" ] && continue
    cp "$ko" "$R/lib/modules/$name"
    taken "$ko"
    echo "$name $args ${MOD_ARGS[$name]:-}" >> "$R/etc/modules.list"
done
[ -s "$R/etc/modules.list" ] || die "found none of ${MODS[*]} for kernel $kver"

# QEMU, xenstore, vchan-socket-proxy and the libraries they need, taken
# from the root (the host's ldd names them: both are Debian 12)
strip --strip-unneeded -o "$R/usr/bin/qemu-system-x86_64" "$qemu"
cp "$root/usr/bin/xenstore" "$R/usr/bin/xenstore"
for a in read write list exists rm chmod watch ls; do
    ln -s xenstore "$R/usr/bin/xenstore-$a"
done
cp "$XENBIN/vchan-socket-proxy" "$R/usr/lib/xen/bin/"
taken "$root/usr/bin/xenstore" "$XENBIN/vchan-socket-proxy"
for b in "$R/usr/bin/qemu-system-x86_64" "$R/usr/bin/xenstore" \
         "$R/usr/lib/xen/bin/vchan-socket-proxy"; do
    ldd "$b" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'
done | sort -u | while read -r lib; do
    src=$root$lib
    [ -f "$src" ] || src=$root/usr$lib
    [ -f "$src" ] || die "the root has no $lib (install its package there)"
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$src" "$R$lib"
    taken "$src"
done
[ -e "$R/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader copied"

# the VGA BIOS QEMU gives the guest (QEMU's --firmwarepath)
cp "$root"/usr/share/seabios/vgabios*.bin "$R/usr/share/seabios/" ||
    die "the root has no /usr/share/seabios/vgabios*.bin (apt-get install seabios)"
taken "$root"/usr/share/seabios/vgabios*.bin

cp "$HERE/init" "$R/init"
chmod 755 "$R/init"

mkdir -p "$out"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -6) > "$T/rootfs"
cp "$kernel" "$T/kernel"
taken "$kernel"

[ "$disk" = 0 ] || test_disk "$out"
mv "$T/rootfs" "$out/qemu-stubdom-linux-rootfs"
mv "$T/kernel" "$out/qemu-stubdom-linux-kernel"
mv "$T/files" "$out/.files"
echo "$key" > "$out/.key"
say "done: $out/qemu-stubdom-linux-kernel ($(stat -c %s "$out/qemu-stubdom-linux-kernel") bytes), qemu-stubdom-linux-rootfs ($(stat -c %s "$out/qemu-stubdom-linux-rootfs") bytes)"
