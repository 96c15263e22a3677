#!/bin/bash
# meson's entry for realxen-stubdom: build the dom0 image, then the Linux
# stub domain from its packages (tools/stubdom/build-stubdom.sh, cached
# under XDF_CACHE/stubdom and linked as BUILDDIR/stubdom, which the rig
# shares with dom0), then run tools/tests/realxen/stubdom.sh on real Xen.
#
#   tools/tests/stubdom/meson-test.sh BUILDDIR
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOOLS=$(cd "$HERE/../.." && pwd)
B=$(cd "$1" && pwd)
if [ "${XDF_REALXEN:-}" = 0 ] || [ "$(id -u)" != 0 ] ||
   ! command -v debootstrap > /dev/null; then
    # the rig says why it skips
    exec "$HERE/../realxen/meson-test.sh" "$B" "$HERE/../realxen/stubdom.sh"
fi
IMG=$("$TOOLS/realxen/build-root.sh" | tail -n1)
CACHE=${XDF_CACHE:-$HOME/.cache/xen-displfront}/stubdom
"$TOOLS/stubdom/build-stubdom.sh" --qemu "$B/qemu-system-x86_64" --out "$CACHE" \
    --root "$IMG/root" --kernel "$IMG/vmlinuz" --test-disk \
    --kernel-version "$(cat "$IMG/kernel-version")"
ln -sfn "$CACHE" "$B/stubdom"
exec "$HERE/../realxen/meson-test.sh" "$B" "$HERE/../realxen/stubdom.sh"
