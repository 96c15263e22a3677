#!/bin/sh
# End to end: our QEMU (SeaBIOS banner on std VGA) with xen-displfront on
# a connector of the text mode's size, and xdf-backend saving what it
# shows.  Then again with be-alloc=on
# (skipped while the device does not ask the backend to allocate).
#
#   test-qemu.sh SRCDIR BUILDDIR XDF_BACKEND
#
# SPDX-License-Identifier: GPL-2.0-or-later

SRCDIR=$1 BUILDDIR=$2 BACKEND=$3
. "$SRCDIR/tools/tests/backend/lib.sh"
QEMU="$BUILDDIR/qemu-system-x86_64"

if [ "$XDF_TEST_INNER" != 1 ]; then
    skip_without "$QEMU" "$QEMU not built (meson compile -C $BUILDDIR)"
    run_under_xensim 100 "$0" "$@"
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/xdf-qemu.XXXXXX")
trap 'rm -rf "$out"' EXIT

# start DIR EXTRA-DEVICE-PROPERTIES [BACKEND-OPTION...]: the backend
# saving into DIR ($be) and QEMU on std VGA with a 720x400 connector
# ($qemu), their logs in DIR
start() {
    dir=$1
    props=$2
    shift 2
    mkdir -p "$dir"
    "$BACKEND" --output-dir "$dir" --timeout 40 "$@" 2> "$dir/backend.log" &
    be=$!
    "$QEMU" -M pc -accel tcg -nodefaults -display none -monitor none \
        -serial none -device VGA,id=v \
        -device "xen-displfront,display=v,resolution=720x400$props" \
        > "$dir/qemu.log" 2>&1 &
    qemu=$!
}

# run_one NAME EXTRA-DEVICE-PROPERTIES [BACKEND-OPTION...]
run_one() {
    name=$1
    shift
    start "$out/$name" "$@" --verbose
    # the banner is drawn within a few seconds of TCG start
    wait_for 30 sh -c "ls '$dir'/conn0-0*.png && \
        [ \$(ls '$dir'/conn0-0*.png | wc -l) -ge 2 ]"
    sleep 1
    # SIGUSR1: a snapshot now, without stopping
    kill -USR1 $be
    wait_for 5 test -f "$dir/conn0-last.png"
    usr1_status=$?
    kill -TERM $qemu
    wait $qemu
    qemu_status=$?
    # QEMU closes the connection on quit: the backend goes to InitWait
    kill -TERM $be
    wait $be
    be_status=$?
}

check_png() {
    png="$dir/conn0-last.png"
    [ -f "$png" ]
    ok $? "$1: backend saved $png"
    set -- "$1" $(python3 -m xdf.image "$png" 2>/dev/null)
    [ "$2x$3" = 720x400 ]
    ok $? "$1: it is 720x400, SeaBIOS's text mode (is ${2}x$3)"
    [ "${5:-0}" -gt 500 ] && [ "${4:-0}" -ge 2 ]
    ok $? "$1: not blank: ${5:-0} pixels differ from the background"
}

run_one frontend-alloc "" --every 1
ok $usr1_status "SIGUSR1 writes conn0-last.png"
n=$(ls "$dir"/conn0-0*.png | wc -l)
[ "$n" -ge 2 ] && [ -f "$dir/conn0-0001.png" ] && [ -f "$dir/conn0-0002.png" ]
ok $? "--every 1 saves every frame ($n so far, numbered from 0001)"
ok $qemu_status "QEMU exits with status 0 on SIGTERM"
ok $be_status "backend exits with status 0 on SIGTERM"
grep -q "backend state InitWait -> Connected" "$dir/backend.log"
ok $? "backend reached Connected"
check_png frontend-alloc
grep -q "summary: conn0 [1-9][0-9]* frames, last 720x400" "$dir/backend.log"
ok $? "summary counts the frames"
if [ "$tap_failed" != 0 ]; then
    sed 's/^/# backend: /' "$dir/backend.log"
    sed 's/^/# qemu: /' "$dir/qemu.log"
fi

# --last-only: no numbered PNG, frames read only for conn0-last.png, and
# the last picture kept when the frontend goes
failed_before=$tap_failed
start "$out/last-only" "" --last-only
wait_for 30 grep -q "summary\|display on" "$dir/backend.log"
sleep 4                         # the SeaBIOS banner
kill -USR1 $be
wait_for 5 test -f "$dir/conn0-last.png"
ok $? "--last-only: SIGUSR1 writes conn0-last.png"
check_png last-only
! ls "$dir"/conn0-0*.png > /dev/null 2>&1
ok $? "--last-only: no numbered PNG"
rm -f "$dir/conn0-last.png"
kill -TERM $qemu
wait $qemu
wait_for 10 grep -q "disconnected" "$dir/backend.log"
kill -USR1 $be
wait_for 5 test -f "$dir/conn0-last.png"
ok $? "--last-only: after QEMU quit, SIGUSR1 still saves the last picture"
check_png last-only-after-quit
kill -TERM $be
wait $be
ok $? "--last-only: backend exits with status 0 on SIGTERM"
"$BACKEND" --last-only > /dev/null 2> "$dir/usage.log"
[ $? = 1 ] && grep -q "needs --output-dir" "$dir/usage.log"
ok $? "--last-only without --output-dir: status 1 and why"
if [ "$tap_failed" != "$failed_before" ]; then
    sed 's/^/# backend: /' "$dir/backend.log"
    sed 's/^/# qemu: /' "$dir/qemu.log"
fi

failed_before=$tap_failed
run_one be-alloc ",be-alloc=on"
if grep -q "summary: .* [1-9][0-9]* backend-allocated" "$dir/backend.log"
then
    ok $be_status "be-alloc: backend exits with status 0"
    check_png be-alloc
elif grep -q "Property .*be-alloc.* not found" "$dir/qemu.log"; then
    skip "be-alloc: QEMU's xen-displfront has no be-alloc property"
else
    skip "be-alloc: the device does not use REQ_ALLOC yet (it allocated" \
         "its buffers itself although be-alloc=on)"
    check_png be-alloc-fallback
fi
if [ "$tap_failed" != "$failed_before" ]; then
    sed 's/^/# backend: /' "$dir/backend.log"
    sed 's/^/# qemu: /' "$dir/qemu.log"
fi
tap_end
