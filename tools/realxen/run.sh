#!/bin/bash
# Boot Debian's Xen 4.17 with a Debian dom0 under QEMU TCG, run TESTSCRIPT
# in dom0 (as root, with Xen's tools up), and return its exit status.
#
#   tools/realxen/run.sh [-k] TESTSCRIPT
#
# -k: keep the run folder also when the script passes.
#
# The repository, its build folder and the QEMU build it links to are shared
# into dom0 read-only at the same paths as on the host; TESTSCRIPT runs with
# the repository as its working directory and XDF_RUN=/xdf, a writable
# folder that comes back to the host (the run folder).
#
# Environment:
#   XDF_BUILD               build folder (default: <repo>/build)
#   XDF_REALXEN_QEMU        QEMU that runs Xen; needs virtio-9p
#                           (default: /usr/bin/qemu-system-x86_64, Debian's)
#   XDF_REALXEN_TIMEOUT     seconds for the whole run (default 900)
#   XDF_REALXEN_BOOT_TIMEOUT seconds until Xen's tools are up in dom0 (default 300)
#   XDF_REALXEN_OUT         run folder (default: a new one under the cache)
#
# Exit status: TESTSCRIPT's; 125 when the rig failed (the message says at
# which boot stage); 124 when TESTSCRIPT ran out of time.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${XDF_CACHE:-$HOME/.cache/xen-displfront}/realxen
BUILD=${XDF_BUILD:-$REPO/build}
QEMU=${XDF_REALXEN_QEMU:-/usr/bin/qemu-system-x86_64}
TIMEOUT=${XDF_REALXEN_TIMEOUT:-900}
# QEMU 7.2 needs -smap for Xen.  Without XSAVE: with it, dom0 processes
# (xl, python3) crashed now and then while two HVM guests ran (vector
# state lost, it seemed: segfaults in plain code); without it, Xen and
# dom0 keep to FXSAVE and no crash was seen.  XDF_REALXEN_CPU sets the
# whole model.
CPU=${XDF_REALXEN_CPU:-max,-smap,-xsave}
BOOT_TIMEOUT=${XDF_REALXEN_BOOT_TIMEOUT:-300}

say() { printf '[realxen] %s\n' "$*" >&2; }
die() { printf '[realxen] error: %s\n' "$*" >&2; exit 125; }

keep=0
[ "${1:-}" = -k ] && { keep=1; shift; }
[ $# = 1 ] || die "usage: $0 [-k] TESTSCRIPT"
SCRIPT=$(realpath "$1")
[ -f "$SCRIPT" ] || die "no test script $1"
[ -x "$QEMU" ] || die "no QEMU at $QEMU: apt-get install qemu-system-x86 (or set XDF_REALXEN_QEMU)"
"$QEMU" -device help 2>/dev/null | grep -q '"virtio-9p-pci"' ||
    die "$QEMU has no virtio-9p-pci: use Debian's (apt-get install qemu-system-x86)"

IMG=$("$HERE/build-root.sh" | tail -n1) || die "building the dom0 root failed (see above)"
[ -f "$IMG/.complete" ] || die "build-root.sh gave no finished image folder"

RUN=${XDF_REALXEN_OUT:-$(mkdir -p "$CACHE/runs" && mktemp -d "$CACHE/runs/run-XXXXXX")}
mkdir -p "$RUN"
rm -f "$RUN"/{status,error,output.log,serial.log,test.sh,shares,env}
cp "$HERE/dom0-init.sh" "$RUN/dom0-init.sh"
cp "$SCRIPT" "$RUN/test.sh"
echo "$REPO" > "$RUN/cwd"
# XDF_* variables (but the rig's own) reach the script in dom0.
env | grep -E '^XDF_[A-Z0-9_]+=' | grep -vE '^XDF_(REALXEN_(QEMU|TIMEOUT|BOOT_TIMEOUT|OUT)|CACHE)=' |
    sed "s/'/'\\\\''/g; s/=/='/; s/\$/'/; s/^/export /" > "$RUN/env" || true
[ -n "${XDF_BUILD:-}" ] || echo "export XDF_BUILD='$BUILD'" >> "$RUN/env"

# Folders to share at their host paths: the repository, the build folder
# and the real folders behind symlinked binaries in it (our QEMU lives in
# the cache with its qemu-bundle/, the demo guest's kernel and initramfs
# in the guest cache).
shares=("$REPO")
add_share() {
    local d=$1 s
    for s in "${shares[@]}"; do
        case $d/ in "$s"/*) return ;; esac
    done
    shares+=("$d")
}
[ -d "$BUILD" ] && add_share "$(realpath "$BUILD")"
add_share "$(dirname "$SCRIPT")"
if [ -d "$BUILD" ]; then
    while read -r l; do
        t=$(realpath "$l" 2>/dev/null) || continue
        d=$(dirname "$t")
        # a QEMU build in the cache: share the folder above its build/
        case $t in */build/*) d=${t%%/build/*} ;; esac
        add_share "$d"
    done < <(find "$BUILD" "$BUILD/guest" -maxdepth 1 -type l 2>/dev/null)
fi
fsargs=()
i=0
for s in "${shares[@]}"; do
    fsargs+=(-fsdev "local,id=share$i,path=$s,security_model=none,readonly=on"
             -device "virtio-9p-pci,fsdev=share$i,mount_tag=xdfshare$i")
    echo "xdfshare$i $s" >> "$RUN/shares"
    i=$((i + 1))
done

LOG=$RUN/serial.log
XEN_ARGS="console=com1 com1=115200,8n1 bootscrub=false dom0_mem=1536M,max:1536M dom0_max_vcpus=2 loglvl=all guest_loglvl=all"
LINUX_ARGS="console=hvc0 earlyprintk=xen loglevel=6 panic=5"
say "image $IMG"
say "run folder $RUN (serial console: $LOG)"
say "sharing: ${shares[*]}"
start=$(date +%s)
"$QEMU" -nodefaults -no-user-config -display none -vga none -no-reboot \
    -machine pc -accel tcg,thread=multi -cpu "$CPU" -smp 2 -m 3072 \
    -serial "file:$LOG" -monitor none \
    -kernel "$IMG/xen.elf" -append "$XEN_ARGS" \
    -initrd "$IMG/vmlinuz $LINUX_ARGS,$IMG/initrd.img" \
    -fsdev "local,id=root,path=$IMG/root,security_model=passthrough,readonly=on" \
    -device "virtio-9p-pci,fsdev=root,mount_tag=xdfroot" \
    -fsdev "local,id=run,path=$RUN,security_model=passthrough" \
    -device "virtio-9p-pci,fsdev=run,mount_tag=xdfrun" \
    "${fsargs[@]}" 2> "$RUN/qemu.stderr" &
qpid=$!
cleanup() { kill "$qpid" 2>/dev/null || true; }
trap cleanup EXIT

# Stages, each with a deadline in seconds from the start (the serial log
# shows how far the boot came).
stages=("Xen version 4" "Linux version" "XDF-STAGE initramfs" "XDF-STAGE dom0-init"
        "XDF-STAGE tools-up" "XDF-STAGE done")
names=("Xen did not start" "the dom0 kernel did not start"
       "the dom0 initramfs did not start" "the dom0 root (9p) was not mounted"
       "Xen's tools (xenstored, xen-init-dom0, xenconsoled) did not come up"
       "the test script did not finish")
deadline=("60" "$BOOT_TIMEOUT" "$BOOT_TIMEOUT" "$BOOT_TIMEOUT" "$BOOT_TIMEOUT" "$TIMEOUT")
s=0
fail=""
# A machine that has stopped: no serial output and no test output for
# STALL seconds (the scripts' own waits report within 300 s).  Seen with
# Xen under QEMU's TCG, as nested as this rig is; a wedged emulator is no
# verdict on what runs in it.
STALL=${XDF_REALXEN_STALL:-360}
last_change=0
last_sizes=""
while :; do
    now=$(( $(date +%s) - start ))
    sizes=$(stat -c %s "$LOG" "$RUN/output.log" 2>/dev/null | tr '\n' ' ' || true)
    if [ "$sizes" != "$last_sizes" ]; then
        last_sizes=$sizes
        last_change=$now
    fi
    while [ $s -lt ${#stages[@]} ] && grep -qa "${stages[$s]}" "$LOG" 2>/dev/null; do
        say "$(printf '%4ss' "$now") ${stages[$s]}"
        s=$((s + 1))
    done
    if grep -qa 'XDF-ERROR' "$LOG" 2>/dev/null && [ -z "$fail" ]; then
        grep -a 'XDF-ERROR' "$LOG" | sed 's/^/[realxen] dom0: /' >&2
        fail="dom0 reported an error"
    fi
    [ $s -ge ${#stages[@]} ] && break
    if ! kill -0 "$qpid" 2>/dev/null; then
        wait "$qpid" && qrc=0 || qrc=$?
        fail="QEMU exited (status $qrc) before: ${names[$s]}"
        break
    fi
    if [ "$now" -gt "${deadline[$s]}" ]; then
        fail="${names[$s]} within ${deadline[$s]} s"
        [ $s = 5 ] && fail="test script timed out after $TIMEOUT s"
        break
    fi
    if [ $((now - last_change)) -ge "$STALL" ]; then
        fail="the emulated machine stopped making progress (no serial or test output for $STALL s)"
        stalled=1
        break
    fi
    sleep 2
done
# Let dom0 reboot itself (QEMU then exits), else stop QEMU.
for _ in $(seq 30); do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
cleanup
wait "$qpid" 2>/dev/null || true
trap - EXIT
total=$(( $(date +%s) - start ))

if [ -s "$RUN/output.log" ]; then
    say "---- output of $(basename "$SCRIPT") in dom0 ----"
    cat "$RUN/output.log" >&2
    say "---- end of output ----"
fi
if [ "${stalled:-0}" = 1 ]; then
    [ -s "$RUN/output.log" ] && tail -n 5 "$RUN/output.log" | sed 's/^/    /' >&2
    say "FAILED after ${total} s: $fail (run folder $RUN)"
    exit 125
fi
if [ ! -f "$RUN/status" ]; then
    [ -n "$fail" ] || fail="no exit status came back"
    say "last lines of the serial console ($LOG):"
    tail -n 25 "$LOG" | sed 's/^/    /' >&2
    [ -s "$RUN/qemu.stderr" ] && sed 's/^/    qemu: /' "$RUN/qemu.stderr" >&2
    case $fail in *"timed out"*) rc=124 ;; *) rc=125 ;; esac
    say "FAILED after ${total} s: $fail (run folder $RUN)"
    exit $rc
fi
rc=$(cat "$RUN/status")
[ -f "$RUN/error" ] && say "dom0: $(cat "$RUN/error")"
say "test script exited with status $rc after ${total} s (run folder $RUN)"
[ "$rc" = 0 ] && [ $keep = 0 ] && [ -z "${XDF_REALXEN_OUT:-}" ] && rm -rf "$RUN"
exit "$rc"
