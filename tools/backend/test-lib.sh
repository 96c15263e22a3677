# Shared by the backend's test scripts (sourced).
#   SRCDIR BUILDDIR must be set; gives: the TAP helpers and make_launcher
#   of tools/xensim/test-lib.sh, run_under_xensim,
#   wait_for (poll a command with a deadline).
#
# SPDX-License-Identifier: GPL-2.0-or-later

# TAP helpers and make_launcher
. "$SRCDIR/tools/xensim/test-lib.sh"

# run_under_xensim SECONDS SCRIPT ARGS...: run the test SCRIPT again,
# inside a private xensim and within SECONDS, and exit with its status.
run_under_xensim() {
    _secs=$1
    shift
    make_launcher
    export XDF_TEST_INNER=1
    timeout -k 5 "$_secs" sh "$launcher" run -- sh "$@"
    _status=$?
    rm -f "$launcher"
    [ $_status = 124 ] && echo "Bail out! timed out after $_secs s"
    exit $_status
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
