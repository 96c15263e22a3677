#!/usr/bin/env python3
# qemu-backend.py --build B --out DIR [--card CARD | --qmp SOCKET]
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
# from Xen by the calling scripts (tools/realxen/tests/*.sh).
#
# With --qmp, the QEMU is one that runs already (an HVM domain's device
# model, started by xl, with -device xen-displfront,id=xdf0): the same
# steps, but QEMU is left running for its owner to stop.
#
# TAP-style lines on stdout; exit status 0 when all passed.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the tests' shared helpers: until_same(), the one loop that compares a
# guest's screen with the backend's picture; the VNC client
xdftest = load('xdftest', os.path.join(REPO, 'tools/xdftest.py'))
images = xdftest.images()
QMP = load('guestboot', os.path.join(REPO, 'tools/guest/guestboot.py')).QMP
VNC = xdftest.VNC
VNC_PORT = 5931

fails = 0


def ok(msg):
    print(f'ok - {msg}', flush=True)


def bad(msg):
    global fails
    fails += 1
    print(f'not ok - {msg}', flush=True)


def note(msg):
    print(f'#   {msg}', flush=True)


def xs_read(path):
    r = subprocess.run(['xenstore-read', path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


class Backend:
    def __init__(self, exe, out, tag, vnc=0):
        self.dir = os.path.join(out, tag)
        os.makedirs(self.dir, exist_ok=True)
        self.log = open(os.path.join(out, f'{tag}.log'), 'w')
        self.proc = subprocess.Popen([exe, '--frontend-domid', '0',
                                      '--dev-id', '0', '--output-dir',
                                      self.dir,
                                      # PNG is slow under TCG: save on
                                      # SIGUSR1 only
                                      '--every', '1000000'] +
                                     (['--vnc', str(vnc)] if vnc else []),
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def last_png(self):
        """Where the backend saves what connector 0 shows."""
        return os.path.join(self.dir, 'conn0-last.png')

    def shown(self):
        """Have the backend save what connector 0 shows; read it back
        (None if it saves nothing in 20 s)."""
        return xdftest.backend_picture(self.proc, self.last_png(), 20)()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def wait_state(qmp, want, timeout):
    end = time.monotonic() + timeout
    state = None
    while time.monotonic() < end:
        # the device's read-only 'state' property: XenbusStateConnected...
        state = qmp.cmd('qom-get', path='xdf0', property='state')
        if state == 'XenbusState' + want:
            return True, state
        time.sleep(0.5)
    return False, state


def connector_size():
    res = xs_read('/local/domain/0/device/vdispl/0/0/resolution') or '0x0'
    w, h = (int(v) for v in res.split('x'))
    return w, h


def fitted(image, size):
    """What a connector of @size shows of @image with the device's default
    fit (scale; see docs/xen-displfront.rst)."""
    return images.fit_image(*image, size[0], size[1], 'scale')


def same_screen(qmp, backend, dump, card, timeout, keep):
    """Until the backend shows what the screendump shows (not blank),
    fitted into the connector (xdftest.until_same: both taken again until
    they agree; given up when neither changed for 60 s, the pictures
    kept at KEEP-screendump.ppm and KEEP-backend.ppm).  60 s: SeaBIOS's
    text cursor can keep the two sides a blink phase apart for several
    rounds (see until_same)."""
    guest = xdftest.screendump(
        qmp, dump, card, fit=lambda pic: fitted(pic, connector_size()))
    return xdftest.until_same(guest, backend.shown, timeout, keep,
                              still=60, step=2, log=note)


def vkbd_connected(device):
    """Is the vkbd of our device @device Connected?"""
    r = subprocess.run(['xenstore-list', '/local/domain/0/device/vkbd'],
                       capture_output=True, text=True)
    for i in r.stdout.split():
        d = f'/local/domain/0/device/vkbd/{i}'
        if xs_read(f'{d}/owner/device') == device and \
                xs_read(f'{d}/state') == '4':
            return True
    return False


def key_reaches_qemu(qemu_log, timeout):
    """Type 'x' in the backend's live view; QEMU's trace must show the
    device taking KEY_X (45) from its vkbd and QEMU's keyboard getting
    it, pressed and released."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not vkbd_connected('xdf0'):
        time.sleep(0.5)
    if not vkbd_connected('xdf0'):
        return False, 'the vkbd never got Connected'
    with VNC(VNC_PORT) as v:
        v.type_text('x', delay=0.2)
    want = ['xen_displfront_input_key', 'key 45 (qcode', 'down 1',
            'qcode x, down 1', 'qcode x, down 0']
    while time.monotonic() < end:
        text = open(qemu_log, errors='replace').read()
        if all(w in text for w in want):
            return True, 'vkbd Connected, KEY_X down and up at QEMU'
        time.sleep(0.5)
    return False, 'the key did not reach QEMU'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--card', default='bochs-display')
    ap.add_argument('--qmp', help='QMP socket of a running QEMU')
    ap.add_argument('--timeout', type=int, default=300,
                    help='seconds for each step')
    args = ap.parse_args()
    exe = os.path.join(args.build, 'tools/backend/xdf-backend')
    dump = os.path.join(args.out, 'screendump.ppm')
    fe = '/local/domain/0/device/vdispl/0'
    card = None if args.qmp else 'card0'

    first = Backend(exe, args.out, 'backend-1',
                    vnc=0 if args.qmp else VNC_PORT)
    qemu = None
    sock = args.qmp
    if not sock:
        # a socket cannot live on the 9p run folder
        sock = os.path.join(tempfile.mkdtemp(prefix='xdf-qmp-'), 'qmp.sock')
        qlog = open(os.path.join(args.out, 'qemu.log'), 'w')
        qemu = subprocess.Popen([
            os.path.join(args.build, 'qemu-system-x86_64'),
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
        qmp = QMP(sock, time.monotonic() + 60)
        good, state = wait_state(qmp, 'Connected', args.timeout)
        (ok if good else bad)(f'device Connected to xdf-backend (state {state})')
        good, why = same_screen(qmp, first, dump, card, args.timeout,
                                os.path.join(args.out, 'first'))
        (ok if good else bad)(f'{what}: backend shows the screendump '
                              f'pixel for pixel ({why})')
        if qemu:
            good, why = key_reaches_qemu(
                os.path.join(args.out, 'qemu.log'), args.timeout)
            (ok if good else bad)(f'a key typed in the live view reaches '
                                  f'QEMU through the vkbd ({why})')

        rc = first.stop()
        (ok if rc == 0 else bad)(f'backend stopped (status {rc})')
        good, state = wait_state(qmp, 'Initialising', args.timeout)
        (ok if good else bad)(f'device noticed the backend left (state {state})')
        backend = Backend(exe, args.out, 'backend-2')
        good, state = wait_state(qmp, 'Connected', args.timeout)
        (ok if good else bad)(f'device Connected to a new backend (state {state})')
        good, why = same_screen(qmp, backend, dump, card, args.timeout,
                                os.path.join(args.out, 'restarted'))
        (ok if good else bad)(f'after the restart: backend shows the '
                              f'screendump pixel for pixel ({why})')

        try:
            qmp.cmd('device_del', id='xdf0')
            ok('device_del xdf0')
        except RuntimeError as e:
            bad(f'device_del xdf0: {e}')
        end = time.monotonic() + args.timeout
        while time.monotonic() < end and xs_read(f'{fe}/state') is not None:
            time.sleep(0.5)
        left = xs_read(f'{fe}/state')
        (ok if left is None else bad)(
            f'the device removed its frontend nodes ({fe}/state: {left})')
        devs = [d['name'] for d in qmp.cmd('qom-list',
                                           path='/machine/peripheral')]
        (ok if 'xdf0' not in devs else bad)(f'xdf0 gone from QOM ({devs})')
        if qemu:
            qmp.cmd('quit')
            qemu.wait(60)
            (ok if qemu.returncode == 0 else bad)(
                f'QEMU exited (status {qemu.returncode})')
    except Exception as e:      # noqa: BLE001 - report, then clean up
        bad(f'{type(e).__name__}: {e}')
    finally:
        if qemu and qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        rc = backend.stop()
        (ok if rc == 0 else bad)(f'backend exited (status {rc})')
        for tag in ('backend-1', 'backend-2', 'qemu'):
            path = os.path.join(args.out, f'{tag}.log')
            if os.path.exists(path):
                for line in open(path).read().splitlines()[-4:]:
                    note(f'{tag}: {line}')
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
