#!/usr/bin/python3
# test-multi-guest.py SRCDIR BUILDDIR OUT: many guests on one host, as TAP.
# Runs under xensim (meson starts it with "xensim run --").
#
# As on a dom0 with one QEMU per legacy guest and one displif backend for
# them all: three QEMUs with default properties (dev-id=auto) boot the
# demo guest, each drawing its own animation (other modes, other frame
# counts), and one "xdf-backend --all" serves every device.  Then:
#   - the dev-ids differ, every device is Connected, and each backend
#     output (DIR/0-<dev-id>/) shows its own guest's last frame, pixel
#     for pixel;
#   - one QEMU quits: its nodes go, the other two stay Connected with
#     their nodes intact;
#   - one QEMU is killed (SIGKILL): its directory stays, and a new QEMU
#     asking for that dev-id reclaims it;
#   - a dev-id that a live device has is refused, naming the owner.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import signal
import subprocess
import sys

from xdf import poll
from xdf.backend import Backend
from xdf.pattern import picture
from xdf.process import stop
from xdf.qmp import QMP
from xdf.screen import until_same
from xdf.tap import Tap
from xdf.xenstore import VDISPL as FE, VDISPL_BACKEND as BE, read as xs_read

SRCDIR, BUILDDIR, OUT = sys.argv[1:4]
QEMU = os.path.join(BUILDDIR, 'qemu-system-x86_64')
GUEST = os.path.join(BUILDDIR, 'guest')
# each guest's own picture: the animation's mode and frame count
# (modes bochs-drm offers; 1280x768 is shrunk into the 1024x768 connector
# with black bars, the others are enlarged to fill it)
GUESTS = [('640x480', 20), ('800x600', 31), ('1280x768', 12)]
# the device's defaults: a 1024x768 connector, the picture scaled into it
FIT = ['--fit', 'scale', '1024x768']

tap = Tap()
ok, note = tap.ok, tap.note


class Guest:
    def __init__(self, name, mode=None, frames=0, extra='', kernel=True):
        self.name = name
        self.mode, self.frames = mode, frames
        self.serial = os.path.join(OUT, f'{name}-serial.log')
        self.qmp_path = os.path.join(OUT, f'{name}-qmp.sock')
        self.log = open(os.path.join(OUT, f'{name}-qemu.log'), 'w')
        cmd = [QEMU, '-M', 'pc', '-accel', 'tcg', '-m', '512', '-nodefaults',
               '-display', 'none', '-name', name,
               '-serial', f'file:{self.serial}',
               '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
               '-device', 'VGA,id=card0',
               '-device', f'xen-displfront,id=xdf0,display=card0{extra}']
        if kernel:
            cmd += ['-kernel', os.path.join(GUEST, 'vmlinuz'),
                    '-initrd', os.path.join(GUEST, 'initrd.img'),
                    '-append', f'console=ttyS0 xdf.frames={frames} '
                               f'xdf.mode={mode} xdf.hold=-1 xdf.pause=0']
        else:
            cmd += ['-S']
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.qmp = None

    def connect(self):
        self.qmp = QMP(self.qmp_path, 20)
        return self

    def prop(self, name):
        return self.qmp.qom_get('/machine/peripheral/xdf0', name)

    def serial_log(self):
        try:
            return open(self.serial, errors='replace').read()
        except OSError:
            return ''

    def done(self):
        return 'xdf-anim: done' in self.serial_log()

    def failed(self):
        return self.proc.poll() is not None or \
            'xdf-anim: error' in self.serial_log()

    def quit(self):
        self.qmp.quit()
        return self.proc.wait(timeout=30)

    def stop(self):
        if self.qmp:
            self.qmp.close()
        stop(self.proc, 0)
        self.log.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    subprocess.run([os.path.join(SRCDIR, 'tools', 'guest', 'build-guest.sh'),
                    GUEST], check=True, stdout=subprocess.DEVNULL)
    backend = Backend(BUILDDIR, os.path.join(OUT, 'backend'), '--all',
                      '--timeout', '600',
                      log=os.path.join(OUT, 'backend.log'))
    guests = []
    try:
        for i, (mode, count) in enumerate(GUESTS):
            guests.append(Guest(f'guest{i}', mode, count).connect())
        ids = [g.prop('dev-id') for g in guests]
        ok(sorted(ids) == ['0', '1', '2'],
           f'three QEMUs with default properties: dev-ids {ids}')
        for g, i in zip(guests, ids):
            g.dev_id = i
            ok(xs_read(f'{FE}/{i}/owner/pid') == str(g.proc.pid),
               f'{g.name}: {FE}/{i}/owner/pid is its QEMU ({g.proc.pid})')

        poll.within(lambda: all(g.done() for g in guests) or
                    any(g.failed() for g in guests), 300)
        all_done = all(g.done() for g in guests)
        ok(all_done, 'every guest finished its animation: ' +
           ', '.join(f'{g.name} {"done" if g.done() else "NOT done"}'
                     for g in guests))
        for g in guests:
            if not g.done():
                note(f'{g.name} serial: ' + g.serial_log()[-600:])
        for g in guests:
            ok(g.prop('state') == 'XenbusStateConnected',
               f'{g.name} (dev-id {g.dev_id}) is Connected')

        # each output shows its own guest's picture (taken again until it
        # does; on giving up both pictures kept in OUT)
        for g in guests:
            png = backend.png(g.dev_id)
            w, h = (int(v) for v in g.mode.split('x'))
            ref = picture(w, h, g.frames, ('scale', 1024, 768))
            good, why = until_same(lambda: ref, backend.shown(png),
                                   30, os.path.join(OUT, g.name), still=10,
                                   step=0.5, names=('pattern', 'backend'))
            ok(good, f'{g.name}: {png} is frame {g.frames} at {g.mode} '
               f'scaled into the 1024x768 connector, pixel for pixel '
               f'({why})')
            if not good:
                r = subprocess.run([sys.executable, '-m', 'xdf.pattern', *FIT,
                                    os.path.join(OUT, f'{g.name}-backend.ppm'),
                                    *g.mode.split('x'), str(g.frames)],
                                   capture_output=True, text=True)
                note(r.stdout + r.stderr)

        # one quits cleanly: its nodes go, the others stay Connected
        first, killed, kept = guests
        ok(first.quit() == 0, f'{first.name} quits with status 0')
        ok(poll.within(lambda: xs_read(f'{FE}/{first.dev_id}') is None and
                       xs_read(f'{BE}/{first.dev_id}') is None, 10),
           f'{first.name}: {FE}/{first.dev_id} and its backend directory '
           'are gone')
        for g in (killed, kept):
            ok(g.prop('state') == 'XenbusStateConnected' and
               xs_read(f'{BE}/{g.dev_id}/state') == '4' and
               xs_read(f'{FE}/{g.dev_id}/owner/pid') == str(g.proc.pid),
               f'{g.name} is still Connected, its nodes intact')

        # one is killed: its directory stays until a new QEMU takes it
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait()
        ok(xs_read(f'{FE}/{killed.dev_id}/owner/pid') == str(killed.proc.pid),
           f'{killed.name} killed: {FE}/{killed.dev_id} is left behind')
        new = Guest('reclaimer', extra=f',dev-id={killed.dev_id}',
                    kernel=False).connect()
        guests.append(new)
        ok(new.prop('dev-id') == killed.dev_id and
           xs_read(f'{FE}/{killed.dev_id}/owner/pid') == str(new.proc.pid),
           f'a new QEMU reclaims dev-id {killed.dev_id}')

        # a dev-id in use is refused, naming its owner
        r = subprocess.run([QEMU, '-M', 'pc', '-nodefaults', '-display',
                            'none', '-S', '-device', 'VGA,id=v', '-device',
                            f'xen-displfront,display=v,dev-id={kept.dev_id}'],
                           capture_output=True, text=True, timeout=60)
        want = (f'dev-id {kept.dev_id} is in use by xen-displfront \'xdf0\' '
                f'of QEMU (pid {kept.proc.pid}, VM \'{kept.name}\')')
        ok(r.returncode == 1 and want in r.stderr,
           f'dev-id {kept.dev_id} asked for again: refused, naming its owner')
        if want not in r.stderr:
            note(r.stderr)
        ok(kept.prop('state') == 'XenbusStateConnected',
           f'{kept.name} is still Connected')
    finally:
        for g in guests:
            g.stop()
        backend.stop()
    if tap.failed:
        note(open(os.path.join(OUT, 'backend.log')).read()[-3000:])
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
