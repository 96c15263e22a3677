#!/usr/bin/env python3
# qemu-backend.py --build B|--installed --out DIR [--card CARD | --qmp SOCKET]
#
# Runs in dom0 of the real-Xen rig: our QEMU with -device xen-displfront
# (frontend domain 0, the device writing its own XenStore nodes) against
# our reference backend, tools/backend/xdf-backend (backend domain 0).
# What the emulated card shows (the firmware's screen) must reach the
# backend pixel for pixel, as QEMU's own screendump of the card shows it
# (fitted into the connector);
# with our own QEMU, a key typed in the backend's VNC live view must
# reach QEMU's keyboard through the device's vkbd (real grants and event
# channels: the device's kbdif frontend on Xen);
# then the backend is restarted (SIGTERM, a new process) and the screen
# must come back; then the device is unplugged (device_del) and must
# leave XenStore as it found it.  Grants and event channels are counted
# from Xen by the calling scripts (tools/tests/realxen/*.sh).
#
# With --qmp, the QEMU is one that runs already (an HVM domain's device
# model, started by xl, with -device xen-displfront,id=xdf0): the same
# steps, but QEMU is left running for its owner to stop.  With
# --installed, QEMU and xdf-backend are the installed packages'.
#
# TAP-style lines on stdout; exit status 0 when all passed.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import subprocess
import sys
import tempfile
import time

from xdf import installed, poll, xenstore
from xdf.backend import Backend
from xdf.qmp import QMP
from xdf.screen import screendump_shown
from xdf.tap import Tap
from xdf.vnc import VNC

VNC_PORT = 5931
tap = Tap(numbered=False)


def start_backend(build, out, tag, vnc=0):
    """xdf-backend for device 0 of domain 0, saving into OUT/TAG (PNG is
    slow under TCG: on SIGUSR1 only), its log OUT/TAG.log."""
    return Backend(build, os.path.join(out, tag), '--frontend-domid', '0',
                   '--dev-id', '0', '--every', '1000000',
                   *(['--vnc', str(vnc)] if vnc else []),
                   log=os.path.join(out, f'{tag}.log'))


def vkbd_connected(device):
    """Is the vkbd of our device @device Connected?"""
    for i in xenstore.ls(xenstore.VKBD):
        d = f'{xenstore.VKBD}/{i}'
        if xenstore.read(f'{d}/owner/device') == device and \
                xenstore.read(f'{d}/state') == '4':
            return True
    return False


def key_reaches_qemu(qemu_log, timeout):
    """Type 'x' in the backend's live view; QEMU's trace must show the
    device taking KEY_X (45) from its vkbd and QEMU's keyboard getting
    it, pressed and released."""
    end = time.monotonic() + timeout
    if not poll.within(lambda: vkbd_connected('xdf0'), timeout, step=0.5):
        return False, 'the vkbd never got Connected'
    with VNC(VNC_PORT) as v:
        v.type_text('x', delay=0.2)
    want = ['xen_displfront_input_key', 'key 45 (qcode', 'down 1',
            'qcode x, down 1', 'qcode x, down 0']

    def arrived():
        text = open(qemu_log, errors='replace').read()
        return all(w in text for w in want)
    if poll.within(arrived, max(0, end - time.monotonic()), step=0.5):
        return True, 'vkbd Connected, KEY_X down and up at QEMU'
    return False, 'the key did not reach QEMU'


def main():
    ap = argparse.ArgumentParser()
    installed.add_build_arguments(ap)
    ap.add_argument('--out', required=True)
    ap.add_argument('--card', default='bochs-display')
    ap.add_argument('--qmp', help='QMP socket of a running QEMU')
    ap.add_argument('--timeout', type=int, default=300,
                    help='seconds for each step')
    args = ap.parse_args()
    dump = os.path.join(args.out, 'screendump.ppm')
    fe = f'{xenstore.VDISPL}/0'
    card = None if args.qmp else 'card0'
    ok = tap.ok

    def same_screen(backend, keep):
        """Until the backend shows what the screendump shows (not
        blank), fitted into the connector (until_same: both taken again
        until they agree; given up when neither changed for 60 s, the
        pictures kept at KEEP-screendump.ppm and KEEP-backend.ppm).  60 s:
        SeaBIOS's text cursor can keep the two sides a blink phase apart
        for several rounds (see until_same)."""
        return screendump_shown(qmp, dump, backend.shown(backend.png()),
                                args.timeout, os.path.join(args.out, keep),
                                card, lambda: xenstore.resolution(0),
                                still=60, step=2, log=tap.note)

    first = start_backend(args.build, args.out, 'backend-1',
                          vnc=0 if args.qmp else VNC_PORT)
    qemu = None
    sock = args.qmp
    if not sock:
        # a socket cannot live on the 9p run folder
        sock = os.path.join(tempfile.mkdtemp(prefix='xdf-qmp-'), 'qmp.sock')
        qlog = open(os.path.join(args.out, 'qemu.log'), 'w')
        qemu = subprocess.Popen([
            installed.qemu(args.build),
            '-M', 'pc', '-accel', 'tcg', '-nodefaults', '-display', 'none',
            '-device', f'{args.card},id=card0',
            # everything under TCG in dom0 is slow: give the backend time
            '-device',
            'xen-displfront,id=xdf0,display=card0,req-timeout-ms=60000',
            '-trace', 'xen_displfront_*',
            '-trace', 'input_event_key_qcode',
            '-qmp', f'unix:{sock},server=on,wait=off'],
            stdout=qlog, stderr=subprocess.STDOUT)
    what = args.card if qemu else 'the first console'
    backend = first
    try:
        qmp = QMP(sock, 60)
        good, state = qmp.wait_state('Connected', args.timeout)
        ok(good, f'device Connected to xdf-backend (state {state})')
        good, why = same_screen(first, 'first')
        ok(good, f'{what}: backend shows the screendump pixel for pixel '
                 f'({why})')
        if qemu:
            good, why = key_reaches_qemu(
                os.path.join(args.out, 'qemu.log'), args.timeout)
            ok(good, f'a key typed in the live view reaches QEMU through '
                     f'the vkbd ({why})')

        rc = first.stop(60)
        ok(rc == 0, f'backend stopped (status {rc})')
        good, state = qmp.wait_state('Initialising', args.timeout)
        ok(good, f'device noticed the backend left (state {state})')
        backend = start_backend(args.build, args.out, 'backend-2')
        good, state = qmp.wait_state('Connected', args.timeout)
        ok(good, f'device Connected to a new backend (state {state})')
        good, why = same_screen(backend, 'restarted')
        ok(good, f'after the restart: backend shows the screendump pixel '
                 f'for pixel ({why})')

        try:
            qmp.cmd('device_del', id='xdf0')
            ok(True, 'device_del xdf0')
        except RuntimeError as e:
            ok(False, f'device_del xdf0: {e}')
        poll.within(lambda: xenstore.read(f'{fe}/state') is None,
                    args.timeout, step=0.5)
        left = xenstore.read(f'{fe}/state')
        ok(left is None, f'the device removed its frontend nodes '
                         f'({fe}/state: {left})')
        devs = [d['name'] for d in qmp.cmd('qom-list',
                                           path='/machine/peripheral')]
        ok('xdf0' not in devs, f'xdf0 gone from QOM ({devs})')
        if qemu:
            qmp.quit()
            qemu.wait(60)
            ok(qemu.returncode == 0, f'QEMU exited (status {qemu.returncode})')
    except Exception as e:      # noqa: BLE001 - report, then clean up
        ok(False, f'{type(e).__name__}: {e}')
    finally:
        if qemu and qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        rc = backend.stop(60)
        ok(rc == 0, f'backend exited (status {rc})')
        for tag in ('backend-1', 'backend-2', 'qemu'):
            path = os.path.join(args.out, f'{tag}.log')
            if os.path.exists(path):
                for line in open(path).read().splitlines()[-4:]:
                    tap.note(f'{tag}: {line}')
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
