# Shared by the shell tests of xensim and of what runs on it (sourced).
#   TAP: tools/tests/tap.sh (ok STATUS TEXT, skip TEXT, tap_end).
#   make_launcher: a private copy of the xensim launcher in $launcher,
#   for SRCDIR and BUILDDIR (build/xensim is made by the top level after
#   the tools' folders are read, so tests make their own).
#
# SPDX-License-Identifier: GPL-2.0-or-later

. "${SRCDIR:-$(dirname "$0")/../../..}/tools/tests/tap.sh"

make_launcher() {
    launcher=$(mktemp "${TMPDIR:-/tmp}/xensim-launcher.XXXXXX") || exit 1
    sed -e "s|@BUILDDIR@|$BUILDDIR|g" -e "s|@SRCDIR@|$SRCDIR|g" \
        "$SRCDIR/tools/xensim/xensim.in" > "$launcher"
}
