#!/bin/sh
# Debian's xenstore-* tools against Debian's xenstored under xensim.
# Run through run-test.sh (needs XENSTORED_PATH).  TAP output.
#
# SPDX-License-Identifier: GPL-2.0-or-later

. "$(dirname "$0")/lib.sh"

if [ -z "$XENSTORED_PATH" ]; then
    echo "1..0 # SKIP not running under xensim"
    exit 0
fi

[ "$(xenstore-read /local/domain/0/domid)" = 0 ] &&
    [ "$(xenstore-read /local/domain/0/name)" = Domain-0 ]
ok $? "dom0's domid and name are there, as xen-init-dom0 writes them"

xenstore-write /local/domain/0/xensim-test hello
ok $? "xenstore-write"
[ "$(xenstore-read /local/domain/0/xensim-test)" = hello ]
ok $? "xenstore-read gives back what was written"
xenstore-ls /local/domain/0 | grep -q '^xensim-test = "hello"'
ok $? "xenstore-ls lists it"
xenstore-chmod /local/domain/0/xensim-test n0 r1
ok $? "xenstore-chmod with a permission for another domain"
xenstore-ls -p /local/domain/0 | grep -q 'xensim-test = "hello".*(n0,r1)'
ok $? "xenstore-ls -p shows the permissions"

out="$XENSIM_RUNDIR/watch.out"
xenstore-watch -n 2 /local/domain/0/watched >"$out" 2>&1 &
watch_pid=$!
i=0
until [ -s "$out" ] || [ $i -ge 100 ]; do    # the initial event
    sleep 0.05
    i=$((i + 1))
done
xenstore-write /local/domain/0/watched changed
i=0
while kill -0 $watch_pid 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill $watch_pid 2>/dev/null
wait $watch_pid 2>/dev/null
[ "$(grep -c '^/local/domain/0/watched$' "$out")" = 2 ]
ok $? "xenstore-watch sees the initial event and the write"

xenstore-rm /local/domain/0/xensim-test
! xenstore-read /local/domain/0/xensim-test 2>/dev/null
ok $? "xenstore-rm"

tap_end
