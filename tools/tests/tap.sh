# The TAP helper of the project's shell tests (sourced; sh or bash).
#   ok STATUS TEXT   "ok N - TEXT" when STATUS is 0, else "not ok N - TEXT"
#   skip TEXT        "ok N - # SKIP TEXT"
#   tap_end          prints the plan; false if any test failed
# $tap_failed counts the failures so far.
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
