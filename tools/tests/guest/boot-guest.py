#!/usr/bin/env python3
# boot-guest.py --qemu QEMU --card CARD [options]
#
# Boots the demo guest (build-guest.sh) on one emulated card, follows
# xdf-anim's progress on the serial console, takes a QMP screendump of the
# last frame (which xdf-anim holds on screen: xdf.hold=-1) and checks it
# pixel for pixel with xdf-anim's pattern (xdf.pattern), then quits QEMU.
#
# KVM is used only when a kernel boots on it (xdf.guestboot.choose_accel),
# else TCG.  Exit status: 0 pass, 1 fail, 77 skip (meson's skip code:
# TCG too slow on a machine without a working KVM), 2 bad arguments.
#
#   export PYTHONPATH=tools:build/qemu-src/python
#   tools/tests/guest/boot-guest.py --qemu build/qemu-system-x86_64 --card VGA
#   tools/tests/guest/boot-guest.py --qemu build/qemu-system-x86_64 \
#       --card bochs-display --xensim build/xensim \
#       --device xen-displfront,display=v
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

from xdf.guestboot import choose_accel
from xdf.pattern import picture
from xdf.qmp import QMP
from xdf.screen import screendump, until_same

TOOLS = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CARDS = ('VGA', 'bochs-display', 'cirrus-vga', 'virtio-gpu-pci')


def log(msg):
    print(f'boot-guest: {msg}', flush=True)


def main():
    ap = argparse.ArgumentParser(
        description='Boot the demo guest on one card and check its last frame.')
    ap.add_argument('--qemu', required=True, help='qemu-system-x86_64')
    ap.add_argument('--card', required=True, choices=CARDS)
    ap.add_argument('--frames', type=int, default=60)
    ap.add_argument('--mode', default='640x480')
    ap.add_argument('--fps', type=int, default=25)
    ap.add_argument('--api', default='drm', choices=('drm', 'setcrtc', 'fbdev'))
    ap.add_argument('--timeout', type=float, default=240,
                    help='seconds from start to "xdf-anim: done"')
    ap.add_argument('--workdir', help='where the guest, the serial log and '
                    'the screendump go (default: a temporary folder)')
    ap.add_argument('--guest', help='folder with vmlinuz and initrd.img '
                    '(default: build-guest.sh WORKDIR/guest)')
    ap.add_argument('--xensim', help='run QEMU under XENSIM run --')
    ap.add_argument('--device', action='append', default=[],
                    help='an extra -device (repeatable); the card is id=v')
    ap.add_argument('--append', default='', help='more kernel arguments')
    ap.add_argument('--kvm', choices=('auto', 'on', 'off'), default='auto',
                    help='auto: KVM when a kernel boots on it, else TCG')
    args = ap.parse_args()

    if not os.access(args.qemu, os.X_OK):
        log(f'FAIL: {args.qemu} is not an executable QEMU')
        return 1
    try:
        width, height = (int(v) for v in args.mode.split('x'))
    except ValueError:
        log(f'--mode {args.mode!r} is not WIDTHxHEIGHT')
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix='xdf-guest-')
    os.makedirs(workdir, exist_ok=True)

    guest = args.guest
    if not guest:
        guest = os.path.join(workdir, 'guest')
        if subprocess.run([os.path.join(TOOLS, 'guest', 'build-guest.sh'),
                           guest]).returncode != 0:
            log('FAIL: build-guest.sh failed')
            return 1

    try:
        accel = choose_accel(args.qemu, os.path.join(guest, 'vmlinuz'),
                             args.kvm, log)
    except RuntimeError as e:
        log(f'FAIL: {e}')
        return 1

    tag = args.card
    serial_path = os.path.join(workdir, f'{tag}-serial.log')
    dump_path = os.path.join(workdir, f'{tag}.ppm')
    qmp_path = os.path.join(workdir, f'{tag}-qmp.sock')
    for p in (dump_path, qmp_path):
        if os.path.exists(p):
            os.unlink(p)

    cmdline = (f'console=ttyS0 panic=-1 xdf.frames={args.frames} '
               f'xdf.mode={args.mode} xdf.fps={args.fps} xdf.api={args.api} '
               f'xdf.hold=-1 xdf.pause=0 {args.append}').strip()
    cmd = [args.qemu, '-M', 'pc', '-accel', accel, '-m', '512',
           '-nodefaults', '-display', 'none', '-no-reboot',
           '-serial', 'stdio', '-qmp', f'unix:{qmp_path},server=on,wait=off',
           '-device', f'{args.card},id=v']
    for d in args.device:
        cmd += ['-device', d]
    cmd += ['-kernel', os.path.join(guest, 'vmlinuz'),
            '-initrd', os.path.join(guest, 'initrd.img'),
            '-append', cmdline]
    if args.xensim:
        cmd = [args.xensim, 'run', '--'] + cmd
    log(f'card {args.card}: ' + ' '.join(cmd))

    start = time.monotonic()
    deadline = start + args.timeout
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = queue.Queue()

    def reader():
        with open(serial_path, 'wb') as f:
            for line in proc.stdout:
                f.write(line)
                f.flush()
                lines.put(line.decode(errors='replace').rstrip('\r\n'))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()

    seen = {'frames': 0, 'kernel': False}
    stamps = {}
    result = None
    while result is None:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            result = 'timeout'
            break
        if line is None:
            result = 'exited'
            break
        t = time.monotonic() - start
        if line.startswith('['):
            seen['kernel'] = True
        if line.startswith('xdf-'):
            print(f'  {t:6.1f}s | {line}', flush=True)
        if line.startswith('xdf-guest: kernel'):
            stamps['init'] = t
        elif line.startswith('xdf-anim: frame '):
            seen['frames'] += 1
            stamps.setdefault('first', t)
        elif line.startswith('xdf-anim: done'):
            stamps['done'] = t
            result = 'done'
        elif line.startswith('xdf-anim: error'):
            result = 'error'

    status = 1
    try:
        if result == 'done':
            qmp = QMP(qmp_path, 10)
            # the screendump taken again until it is the last frame (or
            # still and wrong for 5 s; both pictures kept in the workdir)
            want = picture(width, height, args.frames)
            same, why = until_same(lambda: want, screendump(qmp, dump_path),
                                   15, os.path.join(workdir, tag), still=5,
                                   step=0.5,
                                   names=('pattern', 'screendump'))
            qmp.quit()
            ok = True
            if seen['frames'] != args.frames:
                log(f'FAIL: {seen["frames"]} progress lines for '
                    f'{args.frames} frames')
                ok = False
            log(f'the screendump is frame {args.frames}: '
                f'{"yes" if same else "NO"} ({why})')
            if not same:
                # xdf.pattern's account: which frame it is instead
                subprocess.run([sys.executable, '-m', 'xdf.pattern',
                                dump_path, str(width), str(height),
                                str(args.frames)])
            ok = ok and same
            log(f'{"PASS" if ok else "FAIL"}: {args.card}: init at '
                f'{stamps.get("init", -1):.1f}s, frames '
                f'{stamps.get("first", -1):.1f}s..{stamps["done"]:.1f}s, '
                f'total {time.monotonic() - start:.1f}s ({accel}); '
                f'serial log {serial_path}')
            status = 0 if ok else 1
        elif result == 'timeout' and seen['kernel'] and accel == 'tcg':
            log(f'SKIP: {args.card}: no "xdf-anim: done" within '
                f'{args.timeout:.0f}s under TCG and KVM is not usable: '
                f'this machine is too slow for the test (serial log '
                f'{serial_path})')
            status = 77
        else:
            log(f'FAIL: {args.card}: {result} before "xdf-anim: done" '
                f'({seen["frames"]} frames seen); serial log {serial_path}')
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if status == 1 and result != 'done':
        with open(serial_path, errors='replace') as f:
            tail = f.readlines()[-25:]
        print(''.join('  | ' + l for l in tail), end='')
    return status


if __name__ == '__main__':
    sys.exit(main())
