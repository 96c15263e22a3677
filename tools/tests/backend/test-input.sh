#!/bin/sh
# The backend's kbdif (vkbd) devices on xensim: a vkbd device whose
# unique-id is that of connector 0 is served, one with an unknown
# unique-id is left alone; what a VNC viewer of connector 0 types and
# points (xdf.vnc's client) reaches the frontend
# (xdf-kbd-frontend) in order; a frontend that stops reading and writes a
# bogus in_cons costs dropped events, not the backend; removal by the
# toolstack is answered with Closed.
#
#   test-input.sh SRCDIR BUILDDIR XDF_BACKEND XDF_BAD_FRONTEND XDF_KBD_FRONTEND
#
# SPDX-License-Identifier: GPL-2.0-or-later

# shellcheck disable=SC2034 # BUILDDIR: lib.sh's launcher uses it
SRCDIR=$1 BUILDDIR=$2 BACKEND=$3 BADFE=$4 KBDFE=$5
# shellcheck source=tools/tests/backend/lib.sh
. "$SRCDIR/tools/tests/backend/lib.sh"

if [ "$XDF_TEST_INNER" != 1 ]; then
    run_under_xensim 80 "$0" "$@"
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/xdf-input.XXXXXX")
trap 'rm -rf "$out"' EXIT
# a free port for the live view (the kernel's choice)
port=$(free_port)

"$BACKEND" --dev-id 9 --vnc "$port" --timeout 60 --verbose \
    2> "$out/backend.log" &
be=$!

# a picture on connector 0 (unique-id bad-0): the live view starts
"$BADFE" 9 > "$out/badfe.tap"
ok $? "xdf-bad-frontend left a picture on connector 0"

# not linked: left alone, said once
"$KBDFE" 5 nosuch 0 0 > "$out/unlinked.log" 2>&1 &
unlinked=$!
wait_for 10 grep -q "vkbd 0/5: not serving .*unique-id 'nosuch'" "$out/backend.log"
ok $? "a vkbd device with an unknown unique-id is left alone"
kill $unlinked 2>/dev/null

# linked: 13 events are read (below), then the frontend stalls
"$KBDFE" 0 bad-0 13 8 > "$out/kbd.log" 2>&1 &
kbd=$!
wait_for 10 grep -q '^connected' "$out/kbd.log"
ok $? "a vkbd device linked by unique-id bad-0 is served: connected"
grep -q '^connected: feature-abs-pointer 1, width 640, height 480$' "$out/kbd.log"
ok $? "feature-abs-pointer 1 and the connector's size: $(head -n1 "$out/kbd.log")"

python3 - "$port" > "$out/vnc.log" 2>&1 <<'PY'
import sys
import time

from xdf.vnc import VNC

with VNC(int(sys.argv[1])) as v:
    w, h, rgb = v.grab()
    print(f'screen {w}x{h}, pixels {tuple(rgb[(5 * w + 5) * 3:][:3])} '
          f'{tuple(rgb[(40 * w + 60) * 3:][:3])}')
    v.type_text('Hi\n', delay=0.02)
    v.pointer(10, 20)
    v.click(30, 40, delay=0.02)
    v.wheel(up=True, delay=0.02)
    time.sleep(1)
    v.type_text('xyz', delay=0.02)      # the frontend reads no more
    time.sleep(0.5)
PY
ok $? "VNC client typed and pointed ($(head -n1 "$out/vnc.log"))"
grep -q '^screen 64x48, pixels (255, 0, 0) (0, 0, 255)$' "$out/vnc.log"
ok $? "VNC client's grab: the picture, red left, blue right"
# Shift H (Shift_L 42, KEY_H 35), i (23), Return (28); positions are the
# connector's; a left click (BTN_LEFT 272), a wheel step up (rel_z -1)
want="key 42 1,key 35 1,key 35 0,key 42 0,key 23 1,key 23 0,key 28 1,key 28 0,pos 10 20 0,pos 30 40 0,key 272 1,key 272 0,pos 30 40 -1"
wait_for 10 grep -q '^stalled' "$out/kbd.log"
got=$(grep -E '^(key|pos|motion) ' "$out/kbd.log" | paste -sd, -)
[ "$got" = "$want" ]
ok $? "events in order: $got"
wait_for 10 grep -q 'event ring full (in_prod 13, in_cons 1013): dropping input events' "$out/backend.log"
ok $? "a bogus in_cons: events dropped, said once"

wait $kbd
ok $? "removal: the backend answered Closed ($(tail -n1 "$out/kbd.log"))"
wait_for 10 grep -q 'vkbd 0/0: summary: 13 input events sent, 6 dropped' "$out/backend.log"
ok $? "backend summary: $(sed -n 's/.*vkbd 0\/0: summary: //p' "$out/backend.log")"
backend_ends $be

# shellcheck disable=SC2154 # tap.sh counts the failures
if [ "$tap_failed" != 0 ]; then
    sed 's/^/# backend: /' "$out/backend.log" | grep -v 'op 0x'
    sed 's/^/# kbd: /' "$out/kbd.log"
    sed 's/^/# vnc: /' "$out/vnc.log"
fi
tap_end
