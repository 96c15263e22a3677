#!/bin/sh
# The xensim launcher: environment, exit status, teardown, start errors.
#   test-launcher.sh SRCDIR BUILDDIR
# TAP output.
#
# SPDX-License-Identifier: GPL-2.0-or-later

SRCDIR=$1 BUILDDIR=$2
. "$SRCDIR/tools/tests/xensim/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xensim-launcher-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"
make_launcher
xensim="sh $launcher"

$xensim run -- sh -c 'exit 7'
ok $([ $? = 7 ] && echo 0) "exit status of CMD is passed through"

$xensim run sh -c '
    test -S "$XENSIM_SOCKET" && test -S "$XENSTORED_PATH" &&
    test -z "$XENSIM_DOMID" &&
    case "$LD_LIBRARY_PATH" in '"$BUILDDIR"'/tools/xensim*) ;; *) exit 1;; esac &&
    echo "$XENSIM_RUNDIR" > "$TMPDIR/rundir" &&
    xensim-stat >/dev/null'
ok $? "CMD gets XENSIM_SOCKET, XENSTORED_PATH, LD_LIBRARY_PATH, xensim-stat"
[ -s "$tmp/rundir" ] && [ ! -e "$(cat "$tmp/rundir")" ]
ok $? "the runtime directory is removed afterwards"

XENSIM_XENSTORED=/bin/false $xensim run true 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "xenstored failed to start" "$tmp/err"
ok $? "a daemon that does not start gives a clear error and status 1"

$xensim run sh -c 'echo "$XENSIM_RUNDIR" > "$TMPDIR/rundir2"; exec sleep 60' &
pid=$!
i=0
until [ -s "$tmp/rundir2" ] || [ $i -ge 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
rundir=$(cat "$tmp/rundir2")
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 143 ] && [ -n "$rundir" ] && [ ! -e "$rundir" ]
ok $? "SIGTERM tears everything down (status $rc)"
sleep 0.2
! ps -eo args | grep -v grep | grep -q "$rundir"
ok $? "no daemon of that run is left"

$xensim 2>/dev/null
ok $([ $? = 2 ] && echo 0) "usage error without a command"

tap_end
