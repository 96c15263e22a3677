# Shared by the backend's test scripts (sourced).
#   SRCDIR BUILDDIR must be set; gives: the TAP helpers and make_launcher
#   of tools/tests/xensim/lib.sh, run_under_xensim, skip_without,
#   wait_for (poll a command with a deadline), free_port,
#   frontend_tap (a test peer's TAP lines as ours), backend_ends,
#   peak_rss_kib and cpu_ms (of a running process).
#
# SPDX-License-Identifier: GPL-2.0-or-later

# TAP helpers and make_launcher
. "$SRCDIR/tools/tests/xensim/lib.sh"

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

# skip_without FILE WHY: skip the whole test (a plan of 0, status 0),
# saying WHY, unless FILE is an executable.
skip_without() {
    if [ ! -x "$1" ]; then
        echo "1..0 # SKIP $2"
        exit 0
    fi
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

# free_port: a TCP port of 127.0.0.1 free now (the kernel's choice).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# frontend_tap FILE: the "ok" and "not ok" lines a test peer printed
# (xdf-bad-frontend: no plan), numbered on as ours; a "Bail out!" fails.
frontend_tap() {
    while IFS= read -r _line; do
        case $_line in
        "ok "*) ok 0 "${_line#ok * - }" ;;
        "not ok "*) ok 1 "${_line#not ok * - }" ;;
        "Bail out!"*) ok 1 "$_line" ;;
        esac
    done < "$1"
}

# backend_ends PID: two TAP lines: the backend PID still runs, and it
# exits with status 0 on SIGTERM.
backend_ends() {
    kill -0 "$1" 2>/dev/null
    ok $? "the backend still runs"
    kill -TERM "$1"
    wait "$1"
    ok $? "the backend exits with status 0 on SIGTERM"
}

# peak_rss_kib PID: the most memory PID has had resident (VmHWM), KiB.
peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# cpu_ms PID: the CPU time PID has used so far (user + system), ms.
cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' \
        "/proc/$1/stat"
}
