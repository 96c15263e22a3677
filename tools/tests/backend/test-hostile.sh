#!/bin/sh
# The backend against hostile frontends (xdf-bad-frontend): what one
# device can make it allocate, compute and log is bounded, each request
# refused with the right status.
#   --amplify: a picture larger than its framebuffer, a page granted once
#     and listed 16384 times, more backend-allocated buffers than four
#     frames of the connectors: the backend's peak RSS stays under 64 MiB,
#     its CPU under 1 s, its PNGs small (it was 662 MB, 2.5 s and 880 KB);
#   --budget: a picture, and a backend-allocated buffer, past
#     --max-device-memory;
#   --flood: 5000 refused requests: a few lines, the rest counted.
#
#   test-hostile.sh SRCDIR BUILDDIR XDF_BACKEND XDF_BAD_FRONTEND
#
# SPDX-License-Identifier: GPL-2.0-or-later

# shellcheck disable=SC2034 # BUILDDIR: lib.sh's launcher uses it
SRCDIR=$1 BUILDDIR=$2 BACKEND=$3 BADFE=$4
# shellcheck source=tools/tests/backend/lib.sh
. "$SRCDIR/tools/tests/backend/lib.sh"

if [ "$XDF_TEST_INNER" != 1 ]; then
    # the frontend shares 4096 pages at once, the backend up to 1500
    export XENSIM_GNTALLOC_LIMIT=0
    run_under_xensim 80 "$0" "$@"
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/xdf-hostile.XXXXXX")
trap 'rm -rf "$out"' EXIT
port=$(free_port)

# run_hostile NAME DEV BADFE-MODE [BACKEND-OPTION...]: a backend for
# device DEV (its log NAME.log, its frames in NAME/), the frontend in
# BADFE-MODE against it; leaves the backend running, its pid in $be.
run_hostile() {
    _name=$1 _dev=$2 _mode=$3
    shift 3
    mkdir "$out/$_name"
    "$BACKEND" --dev-id "$_dev" --timeout 60 "$@" 2> "$out/$_name.log" &
    be=$!
    # shellcheck disable=SC2086 # the mode is words
    "$BADFE" $_mode "$_dev" > "$out/$_name.tap" 2>&1
    frontend_tap "$out/$_name.tap"
}

# check_bounded NAME: the backend's peak RSS, CPU and largest PNG so far
check_bounded() {
    rss=$(peak_rss_kib $be)
    cpu=$(cpu_ms $be)
    [ "$rss" -le 65536 ]
    ok $? "$1: the backend's peak RSS is $rss KiB (at most 64 MiB)"
    [ "$cpu" -le 1000 ]
    ok $? "$1: the backend's CPU time is $cpu ms (at most 1 s)"
    png=$(find "$out/$1" -name '*.png' -printf '%s\n' | sort -n | tail -n1)
    [ "${png:-0}" -le 65536 ]
    ok $? "$1: its largest PNG has ${png:-0} bytes (at most 64 KiB)"
}

stop_backend() {
    kill -TERM $be
    wait $be
    ok $? "$1: the backend exits with status 0 on SIGTERM"
}

# With its PNGs and VNC live view, a picture costs the backend 10 bytes
# a pixel: an 8192x8192 one 671 MB.
run_hostile amplify 9 --amplify --output-dir "$out/amplify" --vnc "$port"
check_bounded amplify
stop_backend amplify

run_hostile budget 10 --budget --output-dir "$out/budget" --vnc "$port" \
    --max-device-memory 24
check_bounded budget
grep -q 'SET_CONFIG 4096x1024: its picture would take the device to 41943040 bytes, more than --max-device-memory (25165824)' \
    "$out/budget.log"
ok $? "budget: the refusal says why"
stop_backend budget

# 5000 refused requests, after one line (display on): 19 of them logged
# in the first 10 s, every other one counted
run_hostile flood 11 "--flood 5000"
kill -0 $be 2>/dev/null
ok $? "flood: the backend still runs"
stop_backend flood
bytes=$(wc -c < "$out/flood.log")
[ "$bytes" -le 16384 ]
ok $? "flood: the backend logged $bytes bytes (at most 16 KiB)"
written=$(grep -c 'connector 0: unknown operation 0x42' "$out/flood.log")
counted=$(sed -n 's/.* \([0-9]*\) more lines about its requests suppressed$/\1/p' \
    "$out/flood.log" | awk '{ n += $1 } END { print n + 0 }')
[ "$written" -le 100 ] && [ $((written + counted)) = 5000 ]
ok $? "flood: $written refusals logged, $counted counted as suppressed (5000 in all)"
grep -q 'more than 20 lines about its requests in 10 s: counting' \
    "$out/flood.log"
ok $? "flood: the backend said that it stops writing them"

# shellcheck disable=SC2154 # tap.sh counts the failures
if [ "$tap_failed" != 0 ]; then
    for f in amplify budget flood; do
        head -c 8192 "$out/$f.log" | sed "s/^/# $f: /"
    done
fi
tap_end
