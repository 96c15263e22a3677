#!/bin/sh
# The backend against a bad frontend (xdf-bad-frontend): every request
# answered with the right status, broken rings cost the connection only,
# the frontend can come back, and the backend exits cleanly at the end.
#
#   test-requests.sh SRCDIR BUILDDIR XDF_BACKEND XDF_BAD_FRONTEND
#
# SPDX-License-Identifier: GPL-2.0-or-later

SRCDIR=$1 BUILDDIR=$2 BACKEND=$3 BADFE=$4
. "$SRCDIR/tools/tests/backend/lib.sh"

if [ "$XDF_TEST_INNER" != 1 ]; then
    run_under_xensim 50 "$0" "$@"
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/xdf-requests.XXXXXX")
trap 'rm -rf "$out"' EXIT

"$BACKEND" --dev-id 9 --output-dir "$out" --timeout 40 --verbose \
    2> "$out/backend.log" &
be=$!

"$BADFE" 9 > "$out/badfe.tap"
status=$?
cat "$out/badfe.tap"
tap_n=$(grep -c '^\(not \)\?ok ' "$out/badfe.tap")
tap_failed=$(grep -c '^not ok ' "$out/badfe.tap")
ok $status "bad frontend ran to the end (exit status $status)"

kill -0 $be 2>/dev/null
ok $? "backend still running after the bad frontend"
grep -q "more than the ring's 32 slots" "$out/backend.log"
ok $? "backend logged the ring overflow"

kill -TERM $be
wait $be
ok $? "backend exits with status 0 on SIGTERM"
grep -q "summary: conn0 .* frames, last 64x48" "$out/backend.log"
ok $? "backend printed its summary"

set -- $(python3 -m xdf.image "$out/conn0-last.png")
[ "$1x$2" = 64x48 ]
ok $? "conn0-last.png is 64x48 (is ${1}x$2)"
[ "$(python3 -m xdf.image "$out/conn0-last.png" --pixel 5 5)" = "255 0 0" ] &&
[ "$(python3 -m xdf.image "$out/conn0-last.png" --pixel 60 40)" = "0 0 255" ]
ok $? "conn0-last.png shows the RGB565 frame: red left, blue right"
set -- $(python3 -m xdf.image "$out/conn1-last.png")
[ "$1x$2" = 64x48 ]
ok $? "conn1-last.png is 64x48 (is ${1}x$2)"
grep -q "summary: conn0 .*; conn1 1 frames, last 64x48" "$out/backend.log"
ok $? "summary lists both connectors"
ls "$out"/conn0-0*.png >/dev/null 2>&1
ok $? "numbered frames written (--on-change by default)"

if [ "$tap_failed" != 0 ]; then
    sed 's/^/# /' "$out/backend.log"
fi
tap_end
