#!/bin/sh
# XenStore watch events are handled by the device they concern: with
# `xdf-backend --all` serving eight devices of domain 1, a frontend that
# writes its own directory 200 times costs a few XenStore requests an
# event, none of them about the other seven devices.  The requests are
# counted by xenstored itself: its trace (xenstore-control log), one
# line per request and the connection it came on.
#
#   test-watches.sh SRCDIR BUILDDIR XDF_BACKEND
#
# SPDX-License-Identifier: GPL-2.0-or-later

# shellcheck disable=SC2034 # BUILDDIR: lib.sh's launcher uses it
SRCDIR=$1 BUILDDIR=$2 BACKEND=$3
# shellcheck source=tools/tests/backend/lib.sh
. "$SRCDIR/tools/tests/backend/lib.sh"
# the real tool: Debian's /usr/bin one is a wrapper that wants a hypervisor
XS_CONTROL=$(dirname "${XENSIM_XENSTORED:-/usr/lib/xen-4.17/bin/xenstored}")/xenstore-control

if [ "$XDF_TEST_INNER" != 1 ]; then
    skip_without "$XS_CONTROL" "no $XS_CONTROL (Debian package xen-utils-4.17)"
    run_under_xensim 80 "$0" "$@"
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/xdf-watches.XXXXXX")
trap 'rm -rf "$out"' EXIT
FE=/local/domain/1/device/vdispl
BE=/local/domain/0/backend/vdispl/1
NOISE=200

"$BACKEND" --all --timeout 60 2> "$out/backend.log" &
be=$!

# eight devices, as a toolstack makes them; their frontends Initialising
for i in 0 1 2 3 4 5 6 7; do
    xenstore-write "$FE/$i/state" 1 "$FE/$i/0/resolution" 64x48 \
        "$FE/$i/backend" "$BE/$i" "$BE/$i/frontend" "$FE/$i" \
        "$BE/$i/frontend-id" 1 "$BE/$i/online" 1
done
all_waiting() {
    for i in 0 1 2 3 4 5 6 7; do
        [ "$(xenstore-read "$BE/$i/state")" = 2 ] || return 1
    done
}
wait_for 10 all_waiting
ok $? "eight devices served, each in InitWait"

# the noise, between the start and the end of xenstored's trace; a vkbd
# device without a unique-id last: its log line says the backend has
# handled every event before it
"$XS_CONTROL" logfile "$out/xenstored.trace" > /dev/null &&
    "$XS_CONTROL" log on > /dev/null
ok $? "xenstored traces requests"
i=0
while [ $i -lt $NOISE ]; do
    i=$((i + 1))
    xenstore-write "$FE/0/noise" $i
done
xenstore-write /local/domain/0/backend/vkbd/1/0/frontend \
    /local/domain/1/device/vkbd/0
wait_for 20 grep -q 'vkbd 1/0: not serving .*it has no unique-id' \
    "$out/backend.log"
ok $? "the backend handled every event"
"$XS_CONTROL" log off > /dev/null

# the backend's connection: the one the noise's watch events went to
conn=$(sed -n "s|^OUT \([^ ]*\) .* WATCH_EVENT ($FE/0/noise .*|\1|p" \
    "$out/xenstored.trace" | sort -u)
events=$(grep -c "^OUT $conn .* WATCH_EVENT ($FE/0/noise " \
    "$out/xenstored.trace")
requests=$(grep -c "^IN $conn " "$out/xenstored.trace")
others=$(grep -c -e "^IN $conn .* ($FE/[1-7][/ ]" \
    -e "^IN $conn .* ($BE/[1-7][/ ]" "$out/xenstored.trace")
[ "$events" = $NOISE ]
ok $? "$events watch events of the noise went to the backend ($NOISE written)"
[ "$requests" -le $((NOISE * 6 + 20)) ]
ok $? "the backend made $requests XenStore requests for them, $((requests / NOISE)) an event (at most 6)"
[ "$others" = 0 ]
ok $? "$others of them about the other seven devices (none)"

kill -TERM $be
wait $be
ok $? "the backend exits with status 0 on SIGTERM"

# shellcheck disable=SC2154 # tap.sh counts the failures
if [ "$tap_failed" != 0 ]; then
    sed 's/^/# backend: /' "$out/backend.log"
    grep "^IN $conn " "$out/xenstored.trace" | awk '{ print $5, $6 }' |
        sort | uniq -c | sort -rn | head -n 20 | sed 's/^/# requests: /'
fi
tap_end
