# Shared by the shell tests of xensim and of what runs on it (sourced).
#   TAP: ok STATUS TEXT, skip TEXT, tap_end (prints the plan; false if
#   any failed).  make_launcher: a private copy of the xensim launcher
#   in $launcher, for SRCDIR and BUILDDIR (build/xensim is made by the
#   top level after the tools' folders are read, so tests make their own).
#
# SPDX-License-Identifier: GPL-2.0-or-later

tap_n=0
tap_failed=0
ok() {
    tap_n=$((tap_n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $tap_n - $2"
    else
        echo "not ok $tap_n - $2"
        tap_failed=$((tap_failed + 1))
    fi
}
skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - # SKIP $1"
}
tap_end() {
    echo "1..$tap_n"
    [ "$tap_failed" = 0 ]
}

make_launcher() {
    launcher=$(mktemp "${TMPDIR:-/tmp}/xensim-launcher.XXXXXX") || exit 1
    sed -e "s|@BUILDDIR@|$BUILDDIR|g" -e "s|@SRCDIR@|$SRCDIR|g" \
        "$SRCDIR/tools/xensim/xensim.in" > "$launcher"
}
