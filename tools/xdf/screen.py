# A guest's screen against what a backend shows: until_same(), the one
# loop of every check that compares the two, with screendump() (QEMU's
# picture of the guest) and xdf.backend's Backend.shown() (the backend's).
#
# Two live pictures are two moments: QEMU's screendump may be taken while
# the guest still draws (SeaBIOS half-way through "Boot failed"), and the
# backend's picture may be older or newer than it.  A check that compares
# them takes both again until they agree, and gives up only when neither
# has changed for a while (or at its timeout), keeping both pictures.
# Pictures are (width, height, RGB bytes, row after row): xdf.image.
#
#   python3 -m xdf.screen pattern-at-backend ...   # --help: for shell
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import random
import re
import sys
import time

from xdf.backend import backend_picture
from xdf.image import read_picture, write_ppm
from xdf.pattern import fit_image, picture, which_frame


def blank(pic):
    """Is every pixel of picture @pic black?"""
    return not pic[2].strip(b'\0')


def difference(a, b, names=('guest', 'backend'), detail=True):
    """How picture @b differs from picture @a, in words; '' if it does
    not.  @names: what each one is.  Without @detail only the rows
    (quick: no pixel is looked at one by one)."""
    if a is None or b is None:
        return f'no {names[0] if a is None else names[1]} picture'
    (aw, ah, ap), (bw, bh, bp) = a, b
    if (aw, ah) != (bw, bh):
        return f'{names[0]} is {aw}x{ah}, {names[1]} {bw}x{bh}'
    if ap == bp:
        return ''
    stride = aw * 3
    rows = pixels = 0
    first = last = None
    for y in range(ah):
        ra, rb = ap[y * stride:(y + 1) * stride], bp[y * stride:
                                                      (y + 1) * stride]
        if ra == rb:
            continue
        rows += 1
        last = y
        if not detail:
            first = y if first is None else first
            continue
        for x in range(0, stride, 3):
            if ra[x:x + 3] != rb[x:x + 3]:
                pixels += 1
                if first is None:
                    first = (x // 3, y, ra[x:x + 3].hex(), rb[x:x + 3].hex())
    if not detail:
        return f'{rows} of {ah} rows differ ({first}..{last})'
    x, y, pa, pb = first
    return (f'{pixels} of {aw * ah} pixels differ, in {rows} rows '
            f'({y}..{last}), the first at ({x}, {y}): {names[0]} #{pa}, '
            f'{names[1]} #{pb}')


def _file_name(name):
    return re.sub(r'[^A-Za-z0-9.]+', '-', name).strip('-')


def until_same(guest, shown, timeout, keep, still=20.0, step=1.0,
               allow_blank=False, names=('screendump', 'backend'),
               log=None):
    """Take what the guest shows and what the backend shows until they
    agree; the one loop of every such check.

    @guest(): the guest's screen now (a picture: a screendump, fitted into
    the connector; or a fixed reference).  @shown(): what the backend
    shows now (a picture, or None while it has none).  Each round reads
    shown() between two guest() readings and agrees when it equals either
    of them: the backend may lag behind the guest, or have caught up with
    a screen the earlier screendump did not have yet.  An agreement on a
    blank (all black) screen does not count unless @allow_blank.  @log,
    if given, is told in a line what each round that did not agree saw.

    Gives up at @timeout seconds, or sooner once neither picture has
    changed for @still seconds (the guest is still and the backend still
    shows something else); @step seconds between rounds, give or take
    half of it at random: QEMU's VGA text cursor changes phase at each of
    its updates 266 ms or more apart, the screendump's own included, so
    rounds in step with the device's refresh can see the screendump one
    phase and the backend the other for a while.  Then it writes
    the last pictures next to @keep (a path prefix): KEEP-<name>.ppm for
    each of @names (and KEEP-<guest name>-before.ppm when the guest's
    screen changed in the last round), and says where they are and how
    they differ.

    Returns (True, 'WxH, round N, T s') or (False, why)."""
    start = time.monotonic()
    end = start + timeout
    before = guest()
    settled = start             # neither picture changed since
    rounds = 0
    got = last_got = None
    while True:
        rounds += 1
        got = shown()
        after = guest()
        now = time.monotonic()
        if got is not None and (got == after or got == before) and \
                (allow_blank or not blank(got)):
            return True, (f'{got[0]}x{got[1]}, round {rounds}, '
                          f'{now - start:.0f} s')
        if after != before or got != last_got or rounds == 1:
            settled = now
        if log:
            log(f'round {rounds} ({now - start:.0f} s): ' +
                (difference(after, got, names, detail=False) or
                 'both blank'))
        if now >= end or now - settled >= still:
            break
        before, last_got = after, got
        time.sleep(step * random.uniform(0.5, 1.5))

    if got is not None and (got == after or got == before):
        why = f'both show a blank {got[0]}x{got[1]} screen'
    else:
        why = difference(after, got, names)
    if now - settled >= still:
        when = f'neither changed in the last {now - settled:.0f} s'
    elif after != before:
        when = f'the {names[0]} still changing at the timeout'
    elif rounds > 1 and got != last_got:
        when = f'the {names[1]} still changing at the timeout'
    else:
        when = 'at the timeout'
    kept = []
    for pic, name in ((after, names[0]), (got, names[1]),
                      (before if before != after else None,
                       names[0] + '-before')):
        if pic is not None:
            path = f'{keep}-{_file_name(name)}.ppm'
            d = os.path.dirname(path)
            if d:
                os.makedirs(d, exist_ok=True)
            write_ppm(path, pic)
            kept.append(path)
    return False, (f'{why} ({rounds} round{"s" if rounds > 1 else ""} in '
                   f'{now - start:.0f} s, {when}; '
                   f'kept {", ".join(kept) or "nothing"})')


def screendump(qmp, path, device=None, fit=None):
    """A guest() for until_same: QEMU's screendump of @device (default:
    the first console) through QMP client @qmp (its cmd()), written to
    @path and read back; @fit(picture) gives what the connector shows of
    it (e.g. fit_image() into the connector's size)."""
    cache = {}

    def guest():
        args = {'filename': path}
        if device:
            args['device'] = device
        qmp.cmd('screendump', **args)
        pic = read_picture(path)
        if fit is None:
            return pic
        if cache.get('raw') != pic:
            cache['raw'], cache['fitted'] = pic, fit(pic)
        return cache['fitted']
    return guest


def fitted(size, mode='scale'):
    """A fit for screendump(): what a connector of @size() (width,
    height, read when the picture comes) shows of a picture with the fit
    mode @mode (docs/xen-displfront.rst; xdf.pattern.fit_image())."""
    def fit(pic):
        return fit_image(*pic, *size(), mode)
    return fit


def screendump_shown(qmp, dump, shown, timeout, keep, device=None,
                     connector=None, **until):
    """until_same() of QEMU's screendump of @device (through @qmp, into
    @dump), fitted (scale) into a connector of @connector() (width,
    height) when given, against @shown(); @until: until_same()'s other
    arguments."""
    fit = fitted(connector) if connector else None
    return until_same(screendump(qmp, dump, device, fit), shown, timeout,
                      keep, **until)


# For shell scripts --------------------------------------------------------

def pattern_at_backend(argv):
    ap = argparse.ArgumentParser(
        prog='python3 -m xdf.screen pattern-at-backend',
        description="until_same(): xdf-backend's picture of a connector "
                    "against frame K of xdf-anim's pattern; prints OK or "
                    "FAIL with the reason, exit status 0 or 1")
    ap.add_argument('--pid', type=int, required=True,
                    help='the xdf-backend (SIGUSR1 saves its pictures)')
    ap.add_argument('--png', required=True, help='its conn<i>-last.png')
    ap.add_argument('--mode', required=True, help="the pattern's WxH")
    ap.add_argument('--frame', type=int, required=True)
    ap.add_argument('--fit', nargs=2, metavar=('MODE', 'CWxCH'))
    ap.add_argument('--timeout', type=float, default=120)
    ap.add_argument('--still', type=float, default=20)
    ap.add_argument('--keep', required=True,
                    help='path prefix of the pictures kept on a failure')
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.mode.split('x'))
    fit = None
    if a.fit:
        fit = (a.fit[0],) + tuple(int(v) for v in a.fit[1].split('x'))
    ref = picture(w, h, a.frame, fit)
    shown = backend_picture(a.pid, a.png, timeout=min(60, a.timeout))
    good, why = until_same(lambda: ref, shown, a.timeout, a.keep,
                           still=a.still, names=('pattern', 'backend'))
    if good:
        print(f'OK: {a.png} is frame {a.frame} at {a.mode}'
              f'{" fitted" if fit else ""}, every pixel ({why})')
        return 0
    print(f'FAIL: {why}')
    kept = f'{a.keep}-backend.ppm'
    if not fit and kept in why:
        got = read_picture(kept)
        if got[:2] == (w, h):
            k = which_frame(*got, a.frame)
            if k is not None:
                print(f'FAIL: the backend shows frame {k} exactly')
    return 1


if __name__ == '__main__':
    if sys.argv[1:2] == ['pattern-at-backend']:
        sys.exit(pattern_at_backend(sys.argv[2:]))
    print('usage: python3 -m xdf.screen pattern-at-backend ...',
          file=sys.stderr)
    sys.exit(2)
