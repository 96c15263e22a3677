#!/usr/bin/python3
# test-migration.py SRCDIR BUILDDIR OUT: a guest with xen-displfront
# migrates, as TAP.  Runs under xensim (meson starts it with "xensim run
# --").
#
# The guest is a bochs-display driven through QEMU's qtest protocol (as in
# tools/bench.py): the source QEMU draws seven frames into video memory
# and shows one.  One "xdf-backend --all" serves every device.  Then:
#   - ten migrations back and forth, each to a new QEMU started with
#     -incoming: afterwards the destination's device is Connected, the
#     backend shows, from the destination's directory, the picture the
#     guest had, pixel for pixel, and then what the guest draws next; the
#     source quits and its nodes go;
#   - grants, ports and mappings are back where they were with one QEMU;
#   - stop: the guest draws, no flip goes out; cont: it does;
#   - a migration cancelled halfway (stopped before its switch-over)
#     leaves the source Connected and showing what the guest draws.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import subprocess
import sys
import time

from xdf import poll, xenstore
from xdf.backend import Backend
from xdf.bochs import Guest
from xdf.screen import until_same
from xdf.tap import Tap

SRCDIR, BUILDDIR, OUT = sys.argv[1:4]

QEMU = os.path.join(BUILDDIR, 'qemu-system-x86_64')
W, H = 640, 480
MIGRATIONS = 10

tap = Tap()
ok, note = tap.ok, tap.note


def xensim_stat():
    """xensimd's tables: {'ports': N, 'grants': N, 'mappings': N, ...}."""
    r = subprocess.run(['xensim-stat'], capture_output=True, text=True)
    return dict((k, int(v)) for k, v in
                (f.split('=') for f in r.stdout.split()))


def wait_for(cond, seconds=10):
    return poll.within(cond, seconds, step=0.05)


def connected(g):
    dev = g.dev_id()
    return dev is not None and \
        xenstore.read(f'{xenstore.VDISPL}/{dev}/state') == '4'


def shows(be, g, tag, seconds=10):
    """The backend shows g's picture, every pixel (taken again while
    frames come; on giving up both pictures kept as OUT/TAG-*.ppm).
    Each picture is asked for again after 2 s: a SIGUSR1 that comes
    before the connector's first frame saves nothing."""
    rows = b''.join(bytes((v,)) * (g.width * 3 * n)
                    for _, n, v in g.expected())
    ref = (g.width, g.height, rows)
    good, why = until_same(lambda: ref, be.shown(be.png(g.dev_id()), 2),
                           seconds, os.path.join(OUT, tag), still=seconds,
                           step=0.2, names=('guest', 'backend'))
    return good, why


def migrate(src, dst_name, pause=False):
    """Start a QEMU waiting for @src's migration, and start it; @pause:
    stop it before the switch-over (pre-switchover)."""
    sock = os.path.join(OUT, f'{dst_name}-mig.sock')
    if os.path.exists(sock):
        os.unlink(sock)
    dst = Guest(dst_name, QEMU, OUT, W, H, incoming=f'unix:{sock}')
    if not wait_for(lambda: os.path.exists(sock), 20):
        raise RuntimeError(f'{dst_name}: no migration socket {sock}')
    src.qmp('migrate-set-capabilities', capabilities=[
        {'capability': 'pause-before-switchover', 'state': pause}])
    src.qmp('migrate', uri=f'unix:{sock}')
    return dst


def migration_status(g):
    return g.qmp('query-migrate').get('status')


def quit_qemu(g):
    return g.quit(), g.proc.pid


def main():
    os.makedirs(OUT, exist_ok=True)
    be = Backend(BUILDDIR, os.path.join(OUT, 'frames'), '--all',
                 '--last-only', log=os.path.join(OUT, 'backend.log'))
    src = Guest('mig-0', QEMU, OUT, W, H)
    try:
        src.show(3)
        good, why = shows(be, src, 'source')
        ok(good, f'the source shows the guest\'s frame 3 ({why})')
        base = xensim_stat()
        note(f'with one QEMU: {base}')

        frame = 3
        for i in range(1, MIGRATIONS + 1):
            dst = migrate(src, f'mig-{i}')
            done = wait_for(lambda: migration_status(src) in
                            ('completed', 'failed', 'cancelled'), 30)
            status = migration_status(src)
            ok(done and status == 'completed',
               f'migration {i}: {status}')
            dst.offset = frame
            ok(wait_for(lambda: connected(dst)),
               f'migration {i}: the destination device is Connected '
               f'(dev-id {dst.dev_id()})')
            good, why = shows(be, dst, f'migration-{i}')
            ok(good, f'migration {i}: the backend shows the guest\'s '
                     f'picture from the destination ({why})')
            old = src.dev_id()
            rc, pid = quit_qemu(src)
            gone = wait_for(lambda: xenstore.read(
                f'{xenstore.VDISPL}/{old}/owner/pid') != str(pid))
            ok(rc == 0 and gone, f'migration {i}: the source quits (status '
                                 f'{rc}) and its nodes go')
            frame = (frame + 1) % 7
            dst.show(frame)
            good, why = shows(be, dst, f'migration-{i}-next')
            ok(good, f'migration {i}: what the guest draws next shows '
                     f'({why})')
            src = dst

        time.sleep(0.5)
        now = xensim_stat()
        same = all(now[k] == base[k] for k in ('ports', 'grants',
                                                  'mappings'))
        ok(same, f'after {MIGRATIONS} migrations: ports, grants and '
                 f'mappings as with one QEMU ({now})')

        # stop: no flips; cont: the change goes out
        src.qmp('stop')
        time.sleep(0.3)
        src.flips()
        src.show(0)
        time.sleep(0.6)
        ok(not src.flips(), 'stopped: the guest drew, no flip went out')
        src.qmp('cont')
        good, why = shows(be, src, 'cont')
        ok(good, f'after cont the change shows ({why})')

        # a migration cancelled halfway: memory sent, before the switch
        dst = migrate(src, 'mig-cancel', pause=True)
        wait_for(lambda: migration_status(src) == 'pre-switchover', 30)
        status = migration_status(src)
        src.qmp('migrate_cancel')
        ok(wait_for(lambda: migration_status(src) == 'cancelled', 10),
           f'a migration stopped before its switch-over ({status}) is '
           f'cancelled ({migration_status(src)})')
        dst.close()
        src.show(5)
        ok(connected(src), 'the source is still Connected')
        good, why = shows(be, src, 'cancelled')
        ok(good, f'and shows what the guest draws ({why})')
    finally:
        src.close()
        be.stop()
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
