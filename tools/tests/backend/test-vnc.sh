#!/bin/sh
# The live view is a console, guarded: a VNC port another process holds
# ends the backend (status 1, one line naming the address and why) rather
# than leaving the viewers to that process; with --vnc-password-file,
# xdf-vnc-client (libvncclient) gets in with the password and is refused
# without it, and xdf.vnc's client (no authentication) is
# refused.  Bad password files are refused at start.  --vnc-address: the
# live view listens there alone; a bad address is refused at start.
#
#   test-vnc.sh SRCDIR BUILDDIR XDF_BACKEND XDF_BAD_FRONTEND XDF_VNC_CLIENT
#
# SPDX-License-Identifier: GPL-2.0-or-later

# shellcheck disable=SC2034 # BUILDDIR: lib.sh's launcher uses it
SRCDIR=$1 BUILDDIR=$2 BACKEND=$3 BADFE=$4 VNCCLIENT=$5
# shellcheck source=tools/tests/backend/lib.sh
. "$SRCDIR/tools/tests/backend/lib.sh"

if [ "$XDF_TEST_INNER" != 1 ]; then
    run_under_xensim 50 "$0" "$@"
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/xdf-vnc.XXXXXX")
holder=
trap 'kill $holder 2>/dev/null; rm -rf "$out"' EXIT

# password files the backend refuses, saying why
printf 'secret\n' > "$out/everyone"
chmod 644 "$out/everyone"
printf 'ninechars\n' > "$out/long"
printf 'xen-pw\n' > "$out/password"
chmod 600 "$out/long" "$out/password"
"$BACKEND" --vnc 5900 --vnc-password-file "$out/everyone" 2> "$out/opt.log"
[ $? = 1 ] && grep -q "is readable by everyone" "$out/opt.log"
ok $? "a password file readable by everyone: $(cat "$out/opt.log")"
"$BACKEND" --vnc 5900 --vnc-password-file "$out/long" 2> "$out/opt.log"
[ $? = 1 ] && grep -q "has 9 characters, not 1 to 8" "$out/opt.log"
ok $? "a password of 9 characters: $(cat "$out/opt.log")"
"$BACKEND" --vnc-password-file "$out/password" 2> "$out/opt.log"
[ $? = 1 ] && grep -q "it needs --vnc" "$out/opt.log"
ok $? "a password file without --vnc: $(cat "$out/opt.log")"
"$BACKEND" --vnc 5900 --vnc-address 127.0.0 2> "$out/opt.log"
[ $? = 1 ] && grep -q "^xdf-backend: --vnc-address '127.0.0' is not an IPv4 address" "$out/opt.log"
ok $? "a bad --vnc-address: $(cat "$out/opt.log")"

# a port another process holds: the first frame's live view cannot
# listen there, and the backend ends
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
' > "$out/holder.port" &
holder=$!
wait_for 10 test -s "$out/holder.port"
port=$(cat "$out/holder.port")
("$BACKEND" --dev-id 9 --vnc "$port" --timeout 30 2> "$out/conflict.log"
 echo $? > "$out/conflict.status") &
"$BADFE" --picture 9 > "$out/conflict.tap" 2>&1
frontend_tap "$out/conflict.tap"
wait_for 10 test -s "$out/conflict.status"
ok $? "the backend ended"
status=$(cat "$out/conflict.status")
[ "$status" = 1 ]
ok $? "with exit status ${status:-(none)} (1)"
lines=$(grep -c "cannot listen on 127.0.0.1:$port for the live view: Address already in use; exiting" \
    "$out/conflict.log")
[ "$lines" = 1 ]
ok $? "one line naming the port and why ($lines): $(grep -m1 'cannot listen' "$out/conflict.log")"
kill $holder
holder=

# a password
port=$(free_port)
"$BACKEND" --dev-id 10 --vnc "$port" --vnc-password-file "$out/password" \
    --timeout 30 2> "$out/password.log" &
be=$!
"$BADFE" --picture 10 > "$out/password.tap" 2>&1
frontend_tap "$out/password.tap"
got=$("$VNCCLIENT" "$port" xen-pw 2> "$out/client.log")
[ "$got" = "screen 64x48, pixel at 5,5: 255 0 0" ]
ok $? "a viewer with the password gets in: $got"
got=$("$VNCCLIENT" "$port" xen-px 2>> "$out/client.log")
[ $? = 1 ] && [ "$got" = refused ]
ok $? "a viewer with another password is refused: $got"
got=$("$VNCCLIENT" "$port" 2>> "$out/client.log")
[ $? = 1 ] && [ "$got" = refused ]
ok $? "a viewer without a password is refused: $got"
got=$(python3 - "$port" 2>&1 <<'PY'
import sys

from xdf.vnc import VNC

try:
    VNC(int(sys.argv[1])).grab()
    print("got in")
except RuntimeError as e:
    print(e)
PY
)
[ "$got" = "VNC server wants authentication" ]
ok $? "a viewer without VNC authentication is refused: $got"
backend_ends $be

# another address: 127.0.0.2 (lo's), nothing on 127.0.0.1
port=$(free_port)
"$BACKEND" --dev-id 11 --vnc "$port" --vnc-address 127.0.0.2 \
    --timeout 30 2> "$out/address.log" &
be=$!
"$BADFE" --picture 11 > "$out/address.tap" 2>&1
frontend_tap "$out/address.tap"
got=$(python3 - "$port" 2>&1 <<'PY'
import sys

from xdf.vnc import VNC

port = int(sys.argv[1])
w, h, _ = VNC(port, host='127.0.0.2').grab()
try:
    VNC(port, timeout=2).grab()
    print(f'{w}x{h} there, and also on 127.0.0.1')
except OSError:
    print(f'{w}x{h} there, none on 127.0.0.1')
PY
)
[ "$got" = "64x48 there, none on 127.0.0.1" ] &&
    grep -q "live view on VNC 127.0.0.2:$port" "$out/address.log"
ok $? "--vnc-address 127.0.0.2: the live view there alone: $got"
backend_ends $be

# shellcheck disable=SC2154 # tap.sh counts the failures
if [ "$tap_failed" != 0 ]; then
    sed 's/^/# conflict: /' "$out/conflict.log"
    sed 's/^/# password: /' "$out/password.log"
    sed 's/^/# client: /' "$out/client.log"
    sed 's/^/# address: /' "$out/address.log"
fi
tap_end
