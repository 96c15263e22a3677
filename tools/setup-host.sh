#!/bin/bash
# Install what xen-displfront needs on a Debian 12 (bookworm) host.
#
# Idempotent: a second run finds everything in place and only prints that.
# It adds deb-src and bookworm-backports entries derived from the machine's
# own Debian mirror (no host name is written here), then installs the
# build and run-time packages.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

SOURCES=/etc/apt/sources.list.d/xen-displfront.sources

# Packages from bookworm itself.
PKGS=(
    # QEMU's build
    build-essential pkg-config ninja-build ccache dpkg-dev patch
    python3 python3-venv python3-setuptools
    libglib2.0-dev libpixman-1-dev zlib1g-dev libxen-dev
    # xensim (Debian's own xenstored and tools) and the reference backend
    xen-utils-4.17 xenstore-utils libpng-dev libvncserver-dev
    # firmware for the guests
    seabios ipxe-qemu qemu-system-data
    # the demo guest's initramfs; the demo's contact sheet and animation
    busybox-static cpio xz-utils util-linux python3-pil
    # fuzzers
    clang libclang-rt-14-dev
    # the real-Xen rig: a Debian dom0 root, Xen booted by Debian's QEMU
    debootstrap kmod qemu-system-x86
    # the Debian packages (tools/package/build-debs)
    debhelper help2man lintian
)
# Packages that must come from bookworm-backports (QEMU 10 needs meson >= 1.5).
BPO_PKGS=(meson python3-pycotap)

say() { printf '[setup-host] %s\n' "$*"; }
die() { printf '[setup-host] error: %s\n' "$*" >&2; exit 1; }

. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
    die "this is ${PRETTY_NAME:-an unknown system}; Debian 12 (bookworm) is required"

need_root() {
    [ "$(id -u)" = 0 ] || die "$1: run this as root (it installs Debian packages)"
}

if [ ! -f "$SOURCES" ]; then
    need_root "the deb-src and bookworm-backports entries are missing"
    read -r mirror keyring < <("$(dirname "$0")/debian-mirror") || true
    [ -n "${mirror:-}" ] || die "found no 'bookworm' entry in /etc/apt/sources.list*; add your Debian mirror first"
    say "adding deb-src and bookworm-backports entries for $mirror"
    cat > "$SOURCES" <<EOT
# Added by xen-displfront tools/setup-host.sh: QEMU's source package and
# meson >= 1.5 come from bookworm-backports.
Types: deb-src
URIs: $mirror
Suites: bookworm
Components: main
${keyring:+Signed-By: $keyring}

Types: deb deb-src
URIs: $mirror
Suites: bookworm-backports
Components: main
${keyring:+Signed-By: $keyring}
EOT
fi

missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' \
              "${PKGS[@]}" "${BPO_PKGS[@]}" 2>/dev/null |
          awk '$1 != "ii" { print $2 }' || true)
# dpkg-query says nothing at all about packages it has never seen.
for p in "${PKGS[@]}" "${BPO_PKGS[@]}"; do
    dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"
done
meson_ok=0
if command -v meson >/dev/null &&
   dpkg --compare-versions "$(meson --version)" ge 1.5; then
    meson_ok=1
fi

if [ -z "${missing// /}" ] && [ "$meson_ok" = 1 ] &&
   [ -n "$(ls /var/lib/apt/lists/*bookworm-backports*Sources* 2>/dev/null)" ]; then
    say "all host packages present"
    exit 0
fi

need_root "missing packages:$missing"
export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
apt-get update -q -o Dpkg::Progress-Fancy=0 | sed 's/^/  /'
say "installing:${missing:- (none)} (meson from bookworm-backports)"
# xen-utils-4.17 pulls in the hypervisor package as a recommendation only;
# nothing here boots it, so skip recommends.
apt-get install -y -q --no-install-recommends -o Dpkg::Progress-Fancy=0 \
    "${PKGS[@]}" | sed 's/^/  /'
apt-get install -y -q --no-install-recommends -o Dpkg::Progress-Fancy=0 \
    -t bookworm-backports "${BPO_PKGS[@]}" | sed 's/^/  /'
say "host packages installed (meson $(meson --version))"
