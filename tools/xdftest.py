# Shared by the project's Python tests and the demo: TAP output, stopping
# a helper process, reading XenStore, a VNC client (the backend's live
# view: its screen, and keys and pointer for the guest), and the one poll
# loop of every check that compares a guest's screen with what a backend
# shows (until_same, with screendump(), backend_picture(), pattern()).
#
#   sys.path.insert(0, TOOLS)
#   from xdftest import Tap, stop, wait_until, xs_read, VNC, until_same
#
# The real-Xen tests load it by path (dom0 sees the repository over 9p).
#
#   python3 tools/xdftest.py --self-test        # until_same on made-up
#                                                # pictures, as TAP
#   python3 tools/xdftest.py pattern-at-backend ...   # --help: for shell
#
# SPDX-License-Identifier: GPL-2.0-or-later

import importlib.util
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib


class Tap:
    """Numbered TAP lines; end() prints the plan and gives the status."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, text):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {text}", flush=True)
        if not cond:
            self.failed += 1
        return cond

    @staticmethod
    def note(text):
        for line in str(text).splitlines():
            print(f'# {line}', flush=True)

    def end(self):
        print(f'1..{self.n}', flush=True)
        return 1 if self.failed else 0


def stop(proc, timeout=20):
    """SIGTERM, then SIGKILL after @timeout s; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_until(cond, seconds, step=0.2):
    """Poll @cond every @step seconds until it holds or @seconds pass;
    what it says last."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def xs_read(path):
    """A XenStore node's value, or None."""
    r = subprocess.run(['xenstore-read', path], capture_output=True,
                       text=True)
    return r.stdout.strip() if r.returncode == 0 else None


# X keysyms of the keys type_text() knows besides printable ASCII (whose
# keysyms are their codes).
XK_RETURN = 0xff0d
XK_BACKSPACE = 0xff08
XK_TAB = 0xff09
XK_ESCAPE = 0xff1b
XK_SHIFT_L = 0xffe1
XK_CONTROL_L = 0xffe3
XK_LEFT, XK_UP, XK_RIGHT, XK_DOWN = 0xff51, 0xff52, 0xff53, 0xff54
# ASCII that a US keyboard types with Shift held
_SHIFTED = set('~!@#$%^&*()_+{}|:"<>?ABCDEFGHIJKLMNOPQRSTUVWXYZ')


class VNC:
    """A small RFB 3.8 client (no authentication, raw encoding) for the
    backend's live view: grab() reads the screen, key(), type_text() and
    pointer() send input as a viewer does.

        v = VNC(5900)
        v.type_text("xen\n")
        v.click(320, 240)
        w, h, rgb = v.grab()
        v.close()
    """

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if not self._recv(12).startswith(b"RFB 003."):
            raise RuntimeError("not a VNC server")
        self.sock.sendall(b"RFB 003.008\n")
        types = self._recv(self._recv(1)[0])
        if 1 not in types:
            raise RuntimeError("VNC server wants authentication")
        self.sock.sendall(b"\x01")
        if struct.unpack(">I", self._recv(4))[0] != 0:
            raise RuntimeError("VNC security handshake failed")
        self.sock.sendall(b"\x01")                     # shared
        self.width, self.height = struct.unpack(">HH", self._recv(4))
        fmt = self._recv(16)
        self.bpp, self.big_endian = fmt[0], fmt[2]
        self.shifts = fmt[10], fmt[11], fmt[12]
        self.name = self._recv(struct.unpack(">I", self._recv(4))[0])
        self.buttons = 0
        self.x = self.y = 0
        # raw encoding only
        self.sock.sendall(struct.pack(">BBHi", 2, 0, 1, 0))

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("VNC server closed the connection")
            buf += chunk
        return buf

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def key(self, keysym, down):
        """A KeyEvent: X keysym @keysym pressed (@down) or released."""
        self.sock.sendall(struct.pack(">BBxxI", 4, 1 if down else 0, keysym))

    def tap(self, keysym, delay=0.0):
        """Press and release one key."""
        self.key(keysym, True)
        time.sleep(delay)
        self.key(keysym, False)
        time.sleep(delay)

    def type_text(self, text, delay=0.05):
        """Type @text as a US keyboard would: Shift around the shifted
        characters, "\n" as Return, "\t" as Tab; @delay seconds after
        each press and each release."""
        for ch in text:
            sym = {"\n": XK_RETURN, "\t": XK_TAB, "\b": XK_BACKSPACE,
                   "\x1b": XK_ESCAPE}.get(ch, ord(ch))
            shift = ch in _SHIFTED
            if shift:
                self.key(XK_SHIFT_L, True)
                time.sleep(delay)
            self.tap(sym, delay)
            if shift:
                self.key(XK_SHIFT_L, False)
                time.sleep(delay)

    def pointer(self, x, y, mask=0):
        """A PointerEvent at @x, @y (screen pixels) with button mask
        @mask: bit 0 left, 1 middle, 2 right, 3 wheel up, 4 wheel down."""
        self.sock.sendall(struct.pack(">BBHH", 5, mask, x, y))
        self.buttons, self.x, self.y = mask, x, y

    def click(self, x, y, button=1, delay=0.05):
        """Move to @x, @y, press and release @button (1 left, 2 middle,
        3 right)."""
        bit = 1 << (button - 1)
        self.pointer(x, y, self.buttons & ~bit)
        time.sleep(delay)
        self.pointer(x, y, self.buttons | bit)
        time.sleep(delay)
        self.pointer(x, y, self.buttons & ~bit)
        time.sleep(delay)

    def wheel(self, up=True, delay=0.05):
        """One wheel step where the pointer is."""
        bit = 8 if up else 16
        self.pointer(self.x, self.y, self.buttons | bit)
        time.sleep(delay)
        self.pointer(self.x, self.y, self.buttons & ~bit)
        time.sleep(delay)

    def grab(self):
        """The whole screen: (width, height, RGB bytes, 3 a pixel)."""
        if self.bpp != 32:
            raise RuntimeError(f"VNC pixel format of {self.bpp} bpp")
        w, h = self.width, self.height
        rshift, gshift, bshift = self.shifts
        self.sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
        rgb = bytearray(w * h * 3)
        while True:
            kind = self._recv(1)[0]
            if kind == 0:
                break
            if kind == 2:                             # bell
                continue
            if kind == 3:                             # server cut text
                self._recv(3)
                self._recv(struct.unpack(">I", self._recv(4))[0])
                continue
            raise RuntimeError(f"VNC message {kind} before the update")
        self._recv(1)
        order = ">I" if self.big_endian else "<I"
        for _ in range(struct.unpack(">H", self._recv(2))[0]):
            x, y, rw, rh, enc = struct.unpack(">HHHHi", self._recv(12))
            if enc != 0:
                raise RuntimeError(f"VNC encoding {enc}")
            data = self._recv(rw * rh * 4)
            for j in range(rh):
                for i in range(rw):
                    p = struct.unpack_from(order, data, (j * rw + i) * 4)[0]
                    o = ((y + j) * w + x + i) * 3
                    rgb[o:o + 3] = bytes(((p >> rshift) & 255,
                                          (p >> gshift) & 255,
                                          (p >> bshift) & 255))
        return w, h, bytes(rgb)


# A guest's screen against what a backend shows ---------------------------
#
# Two live pictures are two moments: QEMU's screendump may be taken while
# the guest still draws (SeaBIOS half-way through "Boot failed"), and the
# backend's picture may be older or newer than it.  A check that compares
# them takes both again until they agree, and gives up only when neither
# has changed for a while (or at its timeout), keeping both pictures.
# Pictures are (width, height, RGB bytes, row after row).

_images = None


def images():
    """tools/guest/check-pattern.py as a module: read_image(),
    fit_image(), expected_image(), which_frame(), BadImage."""
    global _images
    if _images is None:
        _images = sys.modules.get('check_pattern')
    if _images is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'guest', 'check-pattern.py')
        spec = importlib.util.spec_from_file_location('check_pattern', path)
        _images = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_images)
        sys.modules['check_pattern'] = _images
    return _images


# What reading a picture that is not all there yet can raise.
READ_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error,
               zlib.error)


def read_picture(path):
    """A PNG or PPM file as a picture (PIL where there is one: fast)."""
    try:
        from PIL import Image
    except ImportError:
        try:
            return images().read_image(path)
        except images().BadImage as e:
            raise ValueError(f'{path}: {e}') from None
    with Image.open(path) as im:
        im.load()
        return im.size[0], im.size[1], im.convert('RGB').tobytes()


def write_ppm(path, picture):
    w, h, rgb = picture
    with open(path, 'wb') as f:
        f.write(b'P6\n%d %d\n255\n' % (w, h) + rgb)


def blank(picture):
    """Is every pixel of @picture black?"""
    return not picture[2].strip(b'\0')


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


def backend_picture(proc, png, timeout=60, step=0.2):
    """A shown() for until_same: have xdf-backend @proc (a Popen or a pid)
    save what each connector shows (SIGUSR1: conn<i>-last.png) and read
    @png back; None when none comes within @timeout s.  The old file goes
    first, so a picture saved before the call is not read again (one that
    an earlier call asked for may still land late: still a picture the
    backend showed)."""
    def shown():
        if isinstance(proc, int):
            pid = proc
        elif proc.poll() is None:
            pid = proc.pid
        else:
            return None
        try:
            os.unlink(png)
        except FileNotFoundError:
            pass
        os.kill(pid, signal.SIGUSR1)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            # xdf-backend writes PATH.tmp and renames it: PATH is whole,
            # but a 9p share may show it before all of it has arrived:
            # read it again then
            if os.path.exists(png):
                try:
                    return read_picture(png)
                except READ_ERRORS:
                    pass
            time.sleep(step)
        return None
    return shown


def pattern(width, height, frame, fit=None):
    """xdf-anim's frame @frame at @width x @height (check-pattern.py), as
    a connector shows it with @fit = (mode, cw, ch)."""
    m = images()
    pic = (width, height, m.expected_image(width, height, frame))
    if fit:
        pic = m.fit_image(*pic, fit[1], fit[2], fit[0])
    return pic


# For shell scripts, and the self-test --------------------------------------

def _pattern_at_backend(argv):
    import argparse
    ap = argparse.ArgumentParser(
        prog='xdftest.py pattern-at-backend',
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
    ref = pattern(w, h, a.frame, fit)
    shown = backend_picture(a.pid, a.png, timeout=min(60, a.timeout))
    good, why = until_same(lambda: ref, shown, a.timeout, a.keep, still=a.still,
                           names=('pattern', 'backend'))
    if good:
        print(f'OK: {a.png} is frame {a.frame} at {a.mode}'
              f'{" fitted" if fit else ""}, every pixel ({why})')
        return 0
    print(f'FAIL: {why}')
    kept = f'{a.keep}-backend.ppm'
    if not fit and kept in why:
        got = read_picture(kept)
        if got[:2] == (w, h):
            k = images().which_frame(*got, a.frame)
            if k is not None:
                print(f'FAIL: the backend shows frame {k} exactly')
    return 1


def _self_test():
    """until_same() and its helpers on made-up pictures, as TAP."""
    import tempfile
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
                [sys.executable, os.path.abspath(__file__),
                 'pattern-at-backend', '--pid', str(child.pid), '--png', png,
                 '--mode', '16x8', '--frame', str(frame), '--timeout', '2',
                 '--still', '0.5', '--keep', f'{tmp}/j{cli.n}'],
                capture_output=True, text=True)
        finally:
            stop(child, 1)
    cli.n = 0
    r = cli(pattern(16, 8, 4), 4)
    tap.ok(r.returncode == 0 and r.stdout.startswith('OK: '),
           f'pattern-at-backend: the frame asked for ({r.stdout.strip()})')
    r = cli(pattern(16, 8, 3), 4)
    tap.ok(r.returncode == 1 and 'shows frame 3 exactly' in r.stdout,
           'pattern-at-backend: another frame, named: ' +
           ' / '.join(r.stdout.splitlines()))
    write_ppm(png, pattern(16, 8, 4))
    r = cli(None, 4)
    tap.ok(r.returncode == 1 and 'no backend picture' in r.stdout,
           f'pattern-at-backend: a backend that saves nothing '
           f'({r.stdout.strip()})')
    if not tap.failed:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.end()


if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']:
        sys.exit(_self_test())
    if sys.argv[1:2] == ['pattern-at-backend']:
        sys.exit(_pattern_at_backend(sys.argv[2:]))
    print('usage: xdftest.py --self-test | pattern-at-backend ...',
          file=sys.stderr)
    sys.exit(2)
