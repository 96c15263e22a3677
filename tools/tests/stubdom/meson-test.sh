#!/bin/bash
# meson's entry for realxen-stubdom: the guests' disk (a boot sector that
# echoes keys: tools/stubdom/build-stubdom.sh --test-disk-only, into
# BUILDDIR/stubdom, which the rig shares with dom0), then
# tools/tests/realxen/stubdom.sh on real Xen with the Debian packages
# (tools/package: the stub domain is xen-displfront-stubdom's, installed
# where libxl looks), which tools/tests/realxen/meson-test.sh --debs
# builds.
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
    exec "$HERE/../realxen/meson-test.sh" --debs "$B" "$HERE/../realxen/stubdom.sh"
fi
# (BUILDDIR/stubdom was once a link to a stub domain built in the cache)
[ ! -L "$B/stubdom" ] || rm "$B/stubdom"
"$TOOLS/stubdom/build-stubdom.sh" --test-disk-only --out "$B/stubdom"
exec "$HERE/../realxen/meson-test.sh" --debs "$B" "$HERE/../realxen/stubdom.sh"
