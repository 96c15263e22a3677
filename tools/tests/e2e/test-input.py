#!/usr/bin/python3
# test-input.py SRCDIR BUILDDIR OUT: the guest's input through the
# backend's live view, end to end, as TAP.  Runs under xensim (meson
# starts it with "xensim run --").
#
# The demo guest boots on std VGA with a USB tablet (qemu-xhci) beside the
# PS/2 keyboard and prints every input event it gets (xdf-input, with
# xdf.input=-1) on its serial line.  xdf-backend shows its screen on a
# VNC live view; a VNC client types and clicks there, as a person would.
# Each key and click must come out of the guest's /dev/input in order:
# the VNC server hands it to the backend, which puts it on the kbdif page
# of the vkbd linked to the connector (unique-id), and the device feeds it
# to QEMU's input layer, whose PS/2 keyboard and USB tablet the guest's
# drivers read.  Positions are guest pixels on the tablet's 0..32767.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import subprocess
import sys
import time

from xdf import poll, xenstore
from xdf.backend import Backend
from xdf.process import stop
from xdf.qmp import QMP
from xdf.tap import Tap
from xdf.vnc import VNC

SRCDIR, BUILDDIR, OUT = sys.argv[1:4]
QEMU = os.path.join(BUILDDIR, 'qemu-system-x86_64')
GUEST = os.path.join(BUILDDIR, 'guest')
VNC_PORT = int(os.environ.get('XDF_INPUT_VNC', '5921'))
W, H = 640, 480
VKBD_FE = xenstore.VKBD

# Linux key codes of what the client types: "xen", Return
KEY_X, KEY_E, KEY_N, KEY_ENTER = 45, 18, 49, 28
BTN_LEFT, REL_WHEEL, ABS_X, ABS_Y = 272, 8, 0, 1

tap = Tap()
ok, note = tap.ok, tap.note


def serial_text(path):
    try:
        return open(path, errors='replace').read()
    except OSError:
        return ''


EVENT = re.compile(r'xdf-input: (event\d+) "([^"]*)" (key|rel|abs) '
                   r'(\d+) (-?\d+)')


def events(path, name_part):
    """The (kind, code, value) events of input devices whose name holds
    @name_part (lower case), in the order the guest printed them."""
    return [(m[3], int(m[4]), int(m[5]))
            for m in EVENT.finditer(serial_text(path))
            if name_part in m[2].lower()]


def tablet(v, size):
    """Guest pixel @v of @size on the tablet's axis, as QEMU scales it."""
    return v * 0x7fff // size


def main():
    os.makedirs(OUT, exist_ok=True)
    serial = os.path.join(OUT, 'serial.log')
    qmp_path = os.path.join(OUT, 'qmp.sock')
    open(serial, 'w').close()
    qemu_log = open(os.path.join(OUT, 'qemu.log'), 'w')
    # frames saved only on SIGUSR1 (PNG is slow); the VNC view is live
    backend = Backend(BUILDDIR, OUT, '--every', '1000000',
                      '--vnc', str(VNC_PORT), '--timeout', '400',
                      log=os.path.join(OUT, 'backend.log'))
    qemu = subprocess.Popen(
        [QEMU, '-M', 'pc', '-accel', 'tcg', '-m', '512', '-nodefaults',
         '-display', 'none', '-serial', f'file:{serial}',
         '-qmp', f'unix:{qmp_path},server=on,wait=off',
         '-device', 'VGA,id=card0',
         '-device', 'qemu-xhci', '-device', 'usb-tablet',
         '-device', 'xen-displfront,id=xdf0,display=card0,'
                    f'resolution={W}x{H},unique-id=screen0',
         '-kernel', os.path.join(GUEST, 'vmlinuz'),
         '-initrd', os.path.join(GUEST, 'initrd.img'),
         '-append', f'console=ttyS0 xdf.frames=10 xdf.mode={W}x{H} '
                    'xdf.fps=0 xdf.hold=-1 xdf.pause=0 xdf.input=-1'],
        stdout=qemu_log, stderr=subprocess.STDOUT)
    try:
        QMP(qmp_path, 20).close()
        booted = poll.within(lambda: 'xdf-anim: done' in serial_text(serial)
                             or qemu.poll() is not None, 300)
        text = serial_text(serial)
        ok(booted and 'xdf-input: ready' in text,
           'the guest booted, opened its input devices and drew its frames')
        if not booted or 'xdf-input: ready' not in text:
            note('serial: ' + text[-1500:])
            return
        for line in text.splitlines():
            if re.search(r'xdf-input: event\d+ "[^"]*":', line):
                note('guest ' + line.strip())

        # the vkbd linked to the connector is connected
        def vkbd_connected():
            return any(xenstore.read(f'{VKBD_FE}/{i}/state') == '4'
                       for i in xenstore.ls(VKBD_FE))
        ok(poll.within(vkbd_connected, 30),
           'the connector\'s vkbd is Connected to the backend')

        with VNC(VNC_PORT) as v:
            ok((v.width, v.height) == (W, H),
               f'the live view is {v.width}x{v.height}')
            v.type_text('xen\n', delay=0.1)
            v.click(320, 240)
            v.click(100, 50, button=3)
            v.wheel(up=True)
            v.pointer(639, 479)
            time.sleep(0.5)

        keys = [(KEY_X, 1), (KEY_X, 0), (KEY_E, 1), (KEY_E, 0),
                (KEY_N, 1), (KEY_N, 0), (KEY_ENTER, 1), (KEY_ENTER, 0)]
        want_keys = [('key', k, d) for k, d in keys]
        want_ptr = [('abs', ABS_X, tablet(320, W)),
                    ('abs', ABS_Y, tablet(240, H)),
                    ('key', BTN_LEFT, 1), ('key', BTN_LEFT, 0),
                    ('abs', ABS_X, tablet(100, W)),
                    ('abs', ABS_Y, tablet(50, H)),
                    ('key', BTN_LEFT + 1, 1), ('key', BTN_LEFT + 1, 0),
                    ('rel', REL_WHEEL, 1),
                    ('abs', ABS_X, tablet(639, W)),
                    ('abs', ABS_Y, tablet(479, H))]

        def arrived():
            return events(serial, 'keyboard') == want_keys and \
                [e for e in events(serial, 'tablet')
                 if e[0] != 'rel' or e[1] == REL_WHEEL] == want_ptr
        got = poll.within(arrived, 20)
        ok(events(serial, 'keyboard') == want_keys,
           'keys typed in the live view reach the guest\'s PS/2 keyboard '
           'in order (x e n Return, each pressed and released)')
        if events(serial, 'keyboard') != want_keys:
            note(f'keyboard: {events(serial, "keyboard")}')
        ptr = [e for e in events(serial, 'tablet')
               if e[0] != 'rel' or e[1] == REL_WHEEL]
        ok(ptr == want_ptr,
           'clicks, the wheel and moves reach the guest\'s USB tablet in '
           'order, at the pixels clicked')
        if ptr != want_ptr:
            note(f'tablet: {ptr}')
            note(f'wanted: {want_ptr}')
        if not got:
            note('serial: ' + serial_text(serial)[-1500:])
    finally:
        stop(qemu)
        backend.stop()
        qemu_log.close()
    ok(poll.within(lambda: not xenstore.ls(VKBD_FE), 10),
       'the vkbd nodes went with QEMU')


if __name__ == '__main__':
    try:
        main()
    finally:
        tap.end()
