#!/usr/bin/python3
# test-screen.py: xdf.screen's until_same(), the one loop of every check
# that compares a guest's screen with a backend's picture, and its
# helpers (xdf.backend's backend_picture(), the pattern-at-backend
# command), on made-up pictures, as TAP (meson test xdftest).
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shutil
import subprocess
import sys
import tempfile
import time

from xdf.backend import backend_picture
from xdf.image import read_picture, write_ppm
from xdf.pattern import picture
from xdf.process import stop
from xdf.screen import until_same
from xdf.tap import Tap


def main():
    tap = Tap()
    tmp = tempfile.mkdtemp(prefix='xdftest-')

    def pic(w, h, fill=b'\x20\x40\x60', text=0):
        """A w x h screen of @fill with @text white 'characters' (a pixel
        each) at the start of row 1: SeaBIOS half-way through a line."""
        rows = [bytearray(fill * w) for _ in range(h)]
        for x in range(text):
            rows[1][3 * x:3 * x + 3] = b'\xff\xff\xff'
        return w, h, bytes(b''.join(rows))

    def seq(*pictures):
        """A callable that gives @pictures in turn, then the last one
        again; .calls counts the calls."""
        items = list(pictures)

        def f():
            f.calls += 1
            return items.pop(0) if len(items) > 1 else items[0]
        f.calls = 0
        return f

    partial, done = pic(16, 8, text=8), pic(16, 8, text=12)
    fast = dict(step=0.01, still=0.5)

    # issue 20: the screendump taken while the firmware still writes, the
    # backend's later picture already whole: the next round agrees
    g, s = seq(partial, done), seq(done)
    good, why = until_same(g, s, 10, f'{tmp}/a', **fast)
    tap.ok(good and 'round 1' in why,
           f'a screendump older than the backend\'s picture: the next '
           f'screendump agrees ({why})')
    # the first comparison differs (the guest draws on), then agrees
    g, s = seq(pic(16, 8, text=2), pic(16, 8, text=5), pic(16, 8, text=9),
               done), seq(pic(16, 8, text=3), pic(16, 8, text=7), done)
    lines = []
    good, why = until_same(g, s, 10, f'{tmp}/b', log=lines.append, **fast)
    tap.ok(good and s.calls == 3 and 'round 3' in why,
           f'the guest still drawing: retried until both agree, '
           f'{s.calls} backend pictures ({why})')
    tap.ok(len(lines) == 2 and lines[0].startswith('round 1 (') and
           lines[0].endswith('1 of 8 rows differ (1..1)'),
           'each round that disagrees is logged: ' + ' / '.join(lines))
    # the backend lags: older pictures first, the guest still
    g, s = seq(done), seq(partial, partial, done)
    good, why = until_same(g, s, 10, f'{tmp}/c', **fast)
    tap.ok(good and s.calls == 3,
           f'a backend lagging behind a still screen: retried until it '
           f'catches up ({why})')
    # a backend that has not saved anything yet
    g, s = seq(done), seq(None, None, done)
    good, why = until_same(g, s, 10, f'{tmp}/d', **fast)
    tap.ok(good and s.calls == 3, f'no backend picture at first ({why})')

    # both still, different: gives up after @still, not at the timeout,
    # keeping both pictures and saying how they differ
    wrong = bytearray(done[2])
    wrong[(3 * 16 + 5) * 3:(3 * 16 + 5) * 3 + 3] = b'\x01\x02\x03'
    wrong[(6 * 16 + 0) * 3] = 0
    wrong = (16, 8, bytes(wrong))
    t0 = time.monotonic()
    good, why = until_same(seq(done), seq(wrong), 30, f'{tmp}/e/check',
                           step=0.05, still=0.5)
    dt = time.monotonic() - t0
    tap.ok(not good and dt < 5, f'a still screen the backend never '
           f'shows: given up after {dt:.1f} s, not 30 ({why})')
    tap.ok('2 of 128 pixels differ, in 2 rows (3..6), the first at (5, 3): '
           'screendump #204060, backend #010203' in why and
           'neither changed' in why, 'it says how they differ')
    kept = [f'{tmp}/e/check-screendump.ppm', f'{tmp}/e/check-backend.ppm']
    tap.ok(all(p in why for p in kept) and
           [read_picture(p) for p in kept] == [done, wrong],
           'it keeps both pictures and says where')
    # sizes differ
    good, why = until_same(seq(done), seq(pic(8, 8)), 30, f'{tmp}/f', **fast)
    tap.ok(not good and 'screendump is 16x8, backend 8x8' in why,
           f'pictures of two sizes ({why})')
    # a screen that never settles: the timeout, both kept
    n = iter(range(10 ** 6))
    t0 = time.monotonic()
    good, why = until_same(lambda: pic(16, 8, text=next(n) % 16),
                           seq(wrong), 1.0, f'{tmp}/g', **fast)
    dt = time.monotonic() - t0
    tap.ok(not good and 0.9 < dt < 5 and 'at the timeout' in why and
           os.path.exists(f'{tmp}/g-screendump-before.ppm'),
           f'a screen that keeps changing: given up at the timeout '
           f'({dt:.1f} s: {why})')
    # blank agreement
    black = (16, 8, bytes(16 * 8 * 3))
    good, why = until_same(seq(black), seq(black), 30, f'{tmp}/h', **fast)
    tap.ok(not good and 'blank' in why,
           f'a blank screen on both sides does not count ({why})')
    good, why = until_same(seq(black), seq(black), 30, f'{tmp}/i',
                           allow_blank=True, **fast)
    tap.ok(good, 'unless allowed')

    # backend_picture(): a stand-in for xdf-backend that saves a picture
    # on SIGUSR1, the first time torn (as a 9p share may show it)
    png = os.path.join(tmp, 'conn0-last.ppm')

    def fake_backend(picture, torn=False):
        data = (b'P6\n%d %d\n255\n' % picture[:2] + picture[2]
                if picture else b'')
        child = subprocess.Popen([sys.executable, '-c', f'''
import signal, sys, time
n = 0
def save(*_):
    global n
    n += 1
    with open({png!r}, "wb") as f:
        f.write({data!r}[:40] if n == 1 and {torn} else {data!r})
    if n == 1 and {torn}:
        time.sleep(0.3)
        with open({png!r}, "wb") as f:
            f.write({data!r})
signal.signal(signal.SIGUSR1, save if {picture is not None} else
              signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(1)
'''], stdout=subprocess.PIPE)
        child.stdout.readline()
        return child

    write_ppm(png, partial)             # an old picture
    child = fake_backend(done, torn=True)
    try:
        got = backend_picture(child, png, timeout=5, step=0.05)()
        tap.ok(got == done, 'backend_picture(): a new picture, read again '
               'until whole (not the old file)')
    finally:
        stop(child, 1)
    tap.ok(backend_picture(child, png)() is None,
           'backend_picture(): none from a backend that has exited')

    # pattern-at-backend, for shell scripts
    def cli(picture, frame):
        cli.n += 1
        child = fake_backend(picture)
        try:
            return subprocess.run(
                [sys.executable, '-m', 'xdf.screen', 'pattern-at-backend', '--pid', str(child.pid), '--png', png,
                 '--mode', '16x8', '--frame', str(frame), '--timeout', '2',
                 '--still', '0.5', '--keep', f'{tmp}/j{cli.n}'],
                capture_output=True, text=True)
        finally:
            stop(child, 1)
    cli.n = 0
    r = cli(picture(16, 8, 4), 4)
    tap.ok(r.returncode == 0 and r.stdout.startswith('OK: '),
           f'pattern-at-backend: the frame asked for ({r.stdout.strip()})')
    r = cli(picture(16, 8, 3), 4)
    tap.ok(r.returncode == 1 and 'shows frame 3 exactly' in r.stdout,
           'pattern-at-backend: another frame, named: ' +
           ' / '.join(r.stdout.splitlines()))
    write_ppm(png, picture(16, 8, 4))
    r = cli(None, 4)
    tap.ok(r.returncode == 1 and 'no backend picture' in r.stdout,
           f'pattern-at-backend: a backend that saves nothing '
           f'({r.stdout.strip()})')
    if not tap.failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
