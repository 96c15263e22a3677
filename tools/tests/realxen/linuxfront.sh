#!/bin/bash
# Runs in dom0 of the real-Xen rig (tools/realxen/run.sh), in the
# repository: our reference backend against Linux's own displif frontend.
#
# Guests with Debian's kernel and the demo guest's initramfs (tools/guest)
# get vdispl devices from xl (vdispl = [...] in their config); the
# kernel's drm_xen_front makes a DRM card of each, and the guest's
# xdf-anim draws the documented test pattern on all of them at once with
# page flips (xdf.cards=all).  One xdf-backend per device in dom0
# (--frontend-domid auto) must show the last frame pixel for pixel; after
# "xl destroy" the backends must exit by themselves, and grants and event
# channels must be back to their baseline, as Xen counts them.
#
#  - a PV domU, buffers allocated by the frontend (be-alloc=0), with a
#    vkbd device too (vkb = ['backend-type=linux,unique-id=dev0']): libxl
#    puts its backend directory under "vinput", its unique-id links it to
#    the vdispl connector "dev0", so the backend serves it next to the
#    display; Linux's xen-kbdfront (built into Debian's kernel) is its
#    frontend.  Keys typed and a pointer moved and clicked in the
#    backend's VNC live view (xdf.vnc's VNC client, from dom0)
#    must reach the domU's /dev/input in order, as the guest's xdf-input
#    prints them on its console (xdf.input=-1);
#  - a PVH domU with two devices, one per allocation mode (be-alloc=0 and
#    be-alloc=1).  A PV guest cannot use be-alloc=1: drm_xen_front maps
#    the backend's grants into its kernel, but mmap() of such a dumb
#    buffer (vm_map_pages) makes page-table entries for foreign frames,
#    which Xen refuses to a PV domU; xdf-anim dies on its first write and
#    the kernel says "BUG: Bad rss-counter state ... val:600" (see
#    README.md).  Auto-translated guests (PVH, HVM) have no such problem.
#
# Environment: XDF_BUILD (build folder, default build),
#   XDF_LINUXFRONT_FRAMES (frames of the pattern, default 10),
#   XDF_LINUXFRONT_MODE (WxH of the connectors, default 640x480),
#   XDF_LINUXFRONT_GUESTS (default "pv:0 pvh:0,1": type:be-alloc,...),
#   XDF_LINUXFRONT_INPUT (guest types with the vkbd device, default "pv"),
#   XDF_LINUXFRONT_VERBOSE (1: the backends log every request).
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
. "$(dirname "$0")/lib.sh" 2>/dev/null || . tools/tests/realxen/lib.sh

FRAMES=${XDF_LINUXFRONT_FRAMES:-10}
MODE=${XDF_LINUXFRONT_MODE:-640x480}
GUESTS=${XDF_LINUXFRONT_GUESTS:-pv:0 pvh:0,1}
INPUT=${XDF_LINUXFRONT_INPUT:-pv}
VNC_PORT=5900
BACKEND=$B/tools/backend/xdf-backend

need_binaries "$BACKEND"
for f in "$B/guest/vmlinuz" "$B/guest/initrd.img"; do
    [ -e "$f" ] || { echo "missing $f (build the project first)"; exit 2; }
done
raise_gntalloc_limit
loopback_up     # the VNC live view of the input test
baseline

pids=()
domain=''
cleanup() {
    [ -n "$domain" ] && xl destroy "$domain" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

# The input lines xdf-input printed for device NAME (of the guest's
# console $1), one "kind code value" a line.
input_lines() {
    tr -d '\r' < "$1" | sed -n 's/^xdf-input: event[0-9]* "'"$2"'" //p'
}

# input_test TYPE DIR CONSOLE: keys and the pointer through backend 0's
# VNC live view must reach the guest's xen-kbdfront, in order.
input_test() {
    local type=$1 dir=$2 console=$3 want got
    local w=${MODE%x*} h=${MODE#*x}
    wait_for 60 "$type: backend 0 connected the vkbd device" \
        grep -q 'vinput [0-9]*/0: backend state InitWait -> Connected' \
        "$dir/backend0.log"
    wait_for 30 "$type: xdf-input opened xen-kbdfront's devices" \
        grep -aq '"Xen Virtual Pointer":' "$console"
    check "$type: the guest's pointer is absolute, 0..$w x 0..$h (the connector)" \
        grep -aq "\"Xen Virtual Pointer\": key rel abs, ABS_X 0..$w, ABS_Y 0..$h" "$console"
    if ! python3 - "$VNC_PORT" > "$dir/vnc-input.log" 2>&1 <<'PY'
import sys
import time

from xdf.vnc import VNC

with VNC(int(sys.argv[1])) as v:
    print(f'VNC screen {v.width}x{v.height}')
    v.type_text('xen\n')
    v.pointer(100, 50)
    time.sleep(0.2)
    v.click(320, 240)
    v.wheel(up=True)
    time.sleep(1)
PY
    then
        ok 1 "$type: VNC client failed"
        sed 's/^/#   /' "$dir/vnc-input.log"
        return
    fi
    ok 0 "$type: typed 'xen' + Return, moved, clicked and turned the wheel in the live view"
    wait_for 30 "$type: the wheel step reached the guest" \
        grep -aq '"Xen Virtual Pointer" rel 8 1' "$console"
    # x e n Return, press and release each (KEY_X 45, KEY_E 18, KEY_N 49,
    # KEY_ENTER 28)
    want="key 45 1,key 45 0,key 18 1,key 18 0,key 49 1,key 49 0,key 28 1,key 28 0"
    got=$(input_lines "$console" "Xen Virtual Keyboard" | paste -sd,)
    check "$type: keys in the guest in order: $got" test "$got" = "$want"
    # (100, 50), then a left click at (320, 240) (BTN_LEFT 272), then
    # one wheel step up (REL_WHEEL 8, +1)
    want="abs 0 100,abs 1 50,abs 0 320,abs 1 240,key 272 1,key 272 0,rel 8 1"
    got=$(input_lines "$console" "Xen Virtual Pointer" | paste -sd,)
    check "$type: pointer in the guest in order: $got" test "$got" = "$want"
    grep -a 'xdf-input' "$console" | tr -d '\r' | sed 's/^/#   guest: /'
}

# run_guest TYPE BE_ALLOC,BE_ALLOC...: one domU, one vdispl device per
# be-alloc value, one backend per device.
run_guest() {
    local type=$1 name=xdf-$1 dir=$OUT/$1 n i p rc domid mode input=0
    local console=$OUT/guest-console/guest-xdf-$1.log  # see dom0-init.sh
    local -a allocs vdispl=() vnc extra_cfg=()
    IFS=, read -r -a allocs <<< "$2"
    n=${#allocs[@]}
    case " $INPUT " in *" $type "*) input=1 ;; esac
    say "---- $type domU, be-alloc ${allocs[*]}$([ $input = 1 ] && echo ', vkbd on dev0') ----"
    mkdir -p "$dir"

    # PNG encoding is slow under TCG: save only on SIGUSR1 (and at exit),
    # not every frame.
    pids=()
    for ((i = 0; i < n; i++)); do
        mkdir -p "$dir/dev$i"
        # backend 0 also serves the vkbd linked to its connector dev0,
        # with its VNC live view as the keyboard and pointer
        vnc=()
        [ $input = 1 ] && [ $i = 0 ] && vnc=(--vnc "$VNC_PORT")
        "$BACKEND" --frontend-domid auto --dev-id "$i" \
            --output-dir "$dir/dev$i" --every 1000000 --timeout 1200 \
            "${vnc[@]}" \
            ${XDF_LINUXFRONT_VERBOSE:+--verbose} > "$dir/backend$i.log" 2>&1 &
        pids+=($!)
        vdispl+=("'backend=0,be-alloc=${allocs[$i]},connectors=dev$i:$MODE'")
    done
    if [ $input = 1 ]; then
        extra_cfg=("vkb = [ 'backend-type=linux,unique-id=dev0' ]")
    fi

    cat > "$dir/$name.cfg" <<CFG
name = "$name"
type = "$type"
kernel = "$(realpath "$B/guest/vmlinuz")"
ramdisk = "$(realpath "$B/guest/initrd.img")"
memory = 192
vcpus = 1
extra = "console=hvc0 loglevel=4 xdf.frames=$FRAMES xdf.mode=$MODE xdf.fps=0 xdf.hold=-1 xdf.pause=0 xdf.cards=all$([ $input = 1 ] && echo ' xdf.input=-1')"
vdispl = [ $(IFS=,; echo "${vdispl[*]}") ]
$(printf '%s\n' "${extra_cfg[@]}")
# TCG's SVM has no next-RIP save: Xen cannot step over an intercepted
# RDTSCP of a PVH/HVM guest ("SVM Insn len emulation failed"), and
# intercepts it when it emulates the TSC.  Native TSC: no intercepts.
tsc_mode = "native"
on_poweroff = "destroy"
on_crash = "destroy"
CFG
    rm -f "$console"    # a domain of the same name may have left one
    xl_create "$dir/$name.cfg" "$type: xl create with $n vdispl device(s)" ||
        return
    domain=$name
    domid=$(xl domid "$name")
    say "$name is domain $domid"

    anim_done() { [ "$(grep -ac 'xdf-anim: done' "$console" 2>/dev/null)" -ge "$n" ]; }
    # about 10 s in a PV or PVH domU; TCG in TCG can be much slower
    if ! wait_for 300 "$type: the guest drew $FRAMES frames on $n card(s)" anim_done; then
        say "last lines of the guest's console:"
        tail -n 30 "$console" 2>/dev/null | sed 's/^/#   /'
        for ((i = 0; i < n; i++)); do
            tail -n 5 "$dir/backend$i.log" | sed "s/^/#   backend $i: /"
            proc_state "${pids[$i]}"
        done
        xenstore-ls -f "/local/domain/$domid/device/vdispl" 2>&1 | grep -E '/state |/[0-9]+/(req|evt)' | sed 's/^/#   /'
        xenstore-ls -f /local/domain/0/backend/vdispl 2>&1 | grep '/state ' | sed 's/^/#   /'
    fi
    grep -aE 'xdf-guest|xdf-anim: (/dev|done|error)|BUG' "$console" | sed 's/^/#   guest: /'
    [ $input = 1 ] && input_test "$type" "$dir" "$console"

    # The backends save what each connector shows on SIGUSR1: taken
    # again until it is the last frame (xdf.screen's until_same;
    # given up when it stays wrong for 30 s, both pictures kept in
    # $dir/dev$i/).
    for ((i = 0; i < n; i++)); do
        mode="device $i (be-alloc=${allocs[$i]})"
        if out=$(python3 -m xdf.screen pattern-at-backend --pid "${pids[$i]}" \
                 --png "$dir/dev$i/conn0-last.png" --mode "$MODE" \
                 --frame "$FRAMES" --timeout 180 --still 30 \
                 --keep "$dir/dev$i/check" 2>&1); then
            ok 0 "$type: $mode: frame $FRAMES pixel-exact in our backend (${out#OK: })"
        else
            ok 1 "$type: $mode: frame $FRAMES not shown"
            echo "$out" | sed 's/^/#   /'
            proc_state "${pids[$i]}"
        fi
        want=$([ "${allocs[$i]}" = 1 ] && echo on || echo off)
        check "$type: $mode connected with be-alloc $want" \
            grep -q "be-alloc $want" "$dir/backend$i.log"
    done

    # Destroying the domain removes the devices: the backends must notice
    # and exit, having released everything.
    xl destroy "$name"
    domain=''
    for ((i = 0; i < n; i++)); do
        p=${pids[$i]}
        wait_for 60 "$type: backend $i exited after xl destroy" \
            bash -c "! kill -0 $p 2>/dev/null" || proc_state "$p"
        wait "$p"
        rc=$?
        check "$type: backend $i exit status 0 (got $rc)" test "$rc" = 0
        sed -n 's/.*summary: /#   backend '"$i"': /p' "$dir/backend$i.log"
        if grep -qE '; [1-9][0-9]* error responses' "$dir/backend$i.log"; then
            ok 1 "$type: backend $i sent error responses (see $dir/backend$i.log)"
        fi
        if [ "${allocs[$i]}" = 1 ]; then
            local nb
            nb=$(sed -n 's/.*; \([0-9]*\) backend-allocated buffers.*/\1/p' "$dir/backend$i.log")
            check "$type: backend $i allocated ${nb:-0} buffers" test "${nb:-0}" -gt 0
        fi
    done
    pids=()
    if [ $input = 1 ]; then
        check "$type: backend 0 sent the input events, none dropped" \
            grep -q 'vinput [0-9]*/0: summary: [1-9][0-9]* input events sent, 0 dropped' \
            "$dir/backend0.log"
    fi
    for kind in vdispl vinput; do
        if xenstore-ls /local/domain/0/backend/$kind 2>/dev/null | grep -q .; then
            ok 1 "$type: $kind backend nodes left behind: $(xenstore-ls /local/domain/0/backend/$kind | head -3 | tr '\n' ' ')"
            xenstore-rm /local/domain/0/backend/$kind
        else
            ok 0 "$type: no $kind backend nodes left in XenStore"
        fi
    done
}

for g in $GUESTS; do
    run_guest "${g%%:*}" "${g#*:}"
done

back_to_baseline
tap_end
