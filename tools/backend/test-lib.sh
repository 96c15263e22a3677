# Shared by the backend's test scripts (sourced).
#   SRCDIR BUILDDIR must be set; gives: xensim_launcher, tap helpers,
#   wait_for (poll a command with a deadline).
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

# A private copy of the xensim launcher (build/xensim is made by the top
# level; this keeps the tests independent of it).
make_launcher() {
    launcher=$(mktemp "${TMPDIR:-/tmp}/xdf-test-xensim.XXXXXX") || exit 1
    sed -e "s|@BUILDDIR@|$BUILDDIR|g" -e "s|@SRCDIR@|$SRCDIR|g" \
        "$SRCDIR/tools/xensim/xensim.in" > "$launcher"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s; false after SECONDS.
wait_for() {
    _n=$(($1 * 10))
    shift
    while [ "$_n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}
