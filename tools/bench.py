#!/usr/bin/python3
# bench.py BUILDDIR OUT [--reps N] [--sizes LIST] [--seconds S]: what a
# frame costs the device, how often and how soon frames go out, and what an
# idle guest costs.  Run by tools/run-bench under xensim ("xensim run --");
# prints one figure a line on stdout, progress on stderr.
#
# The guest is QEMU's qtest protocol driving a bochs-display (no guest
# OS; xdf.bochs): the card's PCI BARs placed, a VBE mode set, FRAMES
# frames of video memory filled, and then the picture changed, either all
# of it (moving the VBE Y offset to the next frame) or some rows (a qtest
# memset).  One "xdf-backend --all --last-only" is the displif peer: it
# answers every flip and reads a frame only when asked to save it, which
# this program does at the end of each run to check the picture.
#
# The device's trace event xen_displfront_flip gives each flip's wall time
# (the log backend's timestamp) and its copy's pixels and CPU time.  Each
# figure has its baseline measured in the same run: memcpy of the same
# bytes from private (guest-RAM-like) into shared memory, paced like the
# device's copies (one a refresh, after an idle gap; CPU time of the
# copying thread, as the device's), a QEMU without the device for
# main-loop wake-ups, one guest for four.  Every figure is measured REPS
# times: the line gives the median, the line under it the minimum.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import ctypes
import mmap
import os
import random
import statistics
import sys
import time

from xdf import poll
from xdf.backend import Backend
from xdf.bochs import FRAMES, Guest

SIZES = {'480p': (640, 480), '1080p': (1920, 1080), '2160p': (3840, 2160)}
CHANGES_PER_S = 250             # the guest's rate of change
PARTIAL = 10                    # partial updates change 1/PARTIAL of rows
GAP_S = 0.016                   # baseline copies: one a 60 Hz refresh
GUESTS = 4
# the first change after the guest idled waits for the backed-off
# refresh: up to its idle interval (1 s), then the full rate is back
WARMUP_S = 1.2

libc = ctypes.CDLL(None)
libc.memcpy.restype = ctypes.c_void_p
libc.memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]


def log(text):
    print(f'[run-bench] {text}', file=sys.stderr, flush=True)


def connected(guests, timeout=30):
    """Wait for each device's first flip: connected, first frame out."""
    deadline = time.monotonic() + timeout
    for g in guests:
        def flipped():
            if g.proc.poll() is not None:
                raise RuntimeError(f'{g.name}: QEMU exited: see '
                                   f'{g.qemu_log.name}')
            return g.flips()
        poll.until(flipped, max(0, deadline - time.monotonic()),
                   f'{g.name}: a first frame (see {g.qemu_log.name})',
                   step=0.05)
    time.sleep(0.3)                             # the second buffer too
    for g in guests:
        g.flips()


def pace(seconds, rate, step):
    """Call step(n) @rate times a second for @seconds; (start, end)."""
    t0 = time.time()
    n = 0
    while True:
        now = time.time()
        if now - t0 >= seconds:
            return t0, now
        step(n)
        n += 1
        time.sleep(max(0.0, t0 + n / rate - time.time()))


def settle(guests, seconds=0.2):
    """Let the last change go out; take the flips of the phase."""
    time.sleep(seconds)
    return [g.flips() for g in guests]


def full_frames(guests, seconds):
    """Every guest shows the next frame CHANGES_PER_S times a second; the
    flips count from WARMUP_S on (the first change meets a refresh that
    backed off while the guest was idle)."""
    def step(n):
        for g in guests:
            g.show((n + 1) % FRAMES, wait=False)
        for g in guests:
            g.wait()
    for g in guests:
        g.flips()
    t0, t1 = pace(seconds + WARMUP_S, CHANGES_PER_S, step)
    t0 += WARMUP_S
    return t0, t1, [[f for f in fl if f[0] >= t0] for fl in settle(guests)]


def partial_rows(g, seconds):
    """CHANGES_PER_S times a second, a band of rows gets a new grey."""
    rows = g.height // PARTIAL
    row = (g.height - rows) // 2
    last = []

    def step(n):
        value = 0xe0 + n % 3
        g.fill(g.offset, row, rows, value)
        last[:] = [(row, rows, value)]
    g.flips()
    pace(seconds, CHANGES_PER_S, step)
    return rows, settle([g])[0], last[0]


def latency(g, samples):
    """Small changes at random times while the guest keeps drawing (every
    40 to 90 ms): how long from each to the next flip, and the refresh
    interval in effect then."""
    rows = max(1, g.height // 100)
    writes = []
    # a guest that starts drawing after a pause: its first change waits
    # for the backed-off refresh, then the refresh is back at full rate
    g.fill(g.offset, 0, rows, 0x40)
    poll.within(g.flips, 5, step=0.01)
    for i in range(samples):
        time.sleep(random.uniform(0.04, 0.09))
        row = random.randrange(0, g.height - rows)
        t = time.time()
        g.fill(g.offset, row, rows, 0x41 + i % 16)
        writes.append(t)
    times = sorted(f[0] for f in settle([g])[0])
    ms, interval = [], []
    for t in writes:
        later = [f for f in times if f >= t]
        if not later:
            raise RuntimeError(f'{g.name}: a change at {t:.6f} never went '
                               f'out: see {g.trace}')
        ms.append((later[0] - t) * 1000)
        interval.append(g.interval_at(t))
    return sorted(ms), statistics.median(interval)


def idle(g, g0, seconds):
    """Nothing changes: flips and main-loop wake-ups, and without the
    device (@g0)."""
    g.flips()
    time.sleep(4)                               # the refresh backs off
    g.flips()
    w, w0 = g.wakeups(), g0.wakeups()
    time.sleep(seconds)
    w, w0 = g.wakeups() - w, g0.wakeups() - w0
    return len(g.flips()) / seconds, w / seconds, w0 / seconds


class Memcpy:
    """The baseline: private memory (like guest RAM) into shared memory
    (like the grant-shared buffer), one copy a GAP_S."""

    def __init__(self, size):
        self.src = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE |
                             mmap.MAP_ANONYMOUS)
        if hasattr(mmap, 'MADV_HUGEPAGE'):
            self.src.madvise(mmap.MADV_HUGEPAGE)    # as QEMU's guest RAM
        self.dst = mmap.mmap(-1, size)
        self.src.write(b'\x5a' * size)
        self.dst.write(b'\xa5' * size)
        self.s = ctypes.addressof(ctypes.c_char.from_buffer(self.src))
        self.d = ctypes.addressof(ctypes.c_char.from_buffer(self.dst))

    def time(self, nbytes, count, gap=GAP_S):
        """Median CPU ms of @count copies of @nbytes, @gap s apart."""
        out = []
        for _ in range(count):
            if gap:
                time.sleep(gap)
            t = time.thread_time_ns()
            libc.memcpy(self.d, self.s, nbytes)
            out.append(time.thread_time_ns() - t)
        return statistics.median(out) / 1e6

    def close(self):
        self.s = self.d = None
        self.src.close()
        self.dst.close()

def check_picture(be, g, partial=None):
    """The backend shows what the guest drew: every band, row by row
    (a few columns each)."""
    pic = be.picture(be.png(g.dev_id()), timeout=10)
    if pic is None:
        raise RuntimeError(f'{g.name}: the backend saved no picture')
    w, h, rgb = pic
    if (w, h) != (g.width, g.height):
        raise RuntimeError(f'{g.name}: the backend shows {w}x{h}, not '
                           f'{g.width}x{g.height}')
    for row, rows, value in g.expected(partial):
        for y in (row, row + rows - 1):
            for x in (0, w // 2, w - 1):
                px = tuple(rgb[(y * w + x) * 3:(y * w + x) * 3 + 3])
                if px != (value, value, value):
                    raise RuntimeError(
                        f'{g.name}: pixel ({x}, {y}) is {px}, the '
                        f'guest drew grey {value:#x}: the frames are wrong')


def fmt(v, unit=''):
    return f'{v:.3g}{unit}' if abs(v) < 100 else f'{v:.0f}{unit}'


def report(name, runs, text):
    """Print @name with the median of each figure, then the minimum."""
    keys = runs[0].keys()
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    low = {k: min(r[k] for r in runs) for k in keys}
    print(f'{name}: {text(med)}', flush=True)
    print(f'  min of {len(runs)}: {text(low)}', flush=True)


def bench_size(label, width, height, args, be, qemu):
    full, part, rate, lat, idl = [], [], [], [], []
    for rep in range(args.reps):
        log(f'{label}: run {rep + 1} of {args.reps}')
        g = Guest(f'{label}-{rep}', qemu, args.out, width, height)
        g0 = Guest(f'{label}-{rep}-nodev', qemu, args.out, width, height,
                   device=False)
        mc = Memcpy(g.frame_bytes)
        try:
            connected([g])
            peer = be.cpu_ns()
            t0, t1, (flips,) = full_frames([g], args.seconds)
            peer = be.cpu_ns() - peer
            whole = [f[2] for f in flips if f[1] == width * height]
            if len(whole) < 3:
                raise RuntimeError(f'{g.name}: only {len(whole)} full-frame '
                                   f'flips: see {g.trace}')
            in_window = [f for f in flips if t0 <= f[0] <= t1]
            check_picture(be, g)
            dev = statistics.median(whole) / 1e6
            base = mc.time(g.frame_bytes, len(whole))
            full.append({'dev': dev, 'base': base, 'ratio': dev / base,
                         'b2b': mc.time(g.frame_bytes, len(whole), gap=0),
                         'peer': peer / len(flips) / 1e6})
            rate.append({'flips': len(in_window) / (t1 - t0)})

            rows, flips, last = partial_rows(g, args.seconds)
            # the card tracks dirty memory by the page: a row more or so
            some = [f[2] for f in flips
                    if rows * width <= f[1] <= (rows + 4) * width]
            if len(some) < 3:
                raise RuntimeError(f'{g.name}: only {len(some)} flips of '
                                   f'{rows} rows: see {g.trace}')
            check_picture(be, g, last)
            dev = statistics.median(some) / 1e6
            base = mc.time(rows * g.stride, len(some))
            part.append({'rows': rows, 'dev': dev, 'base': base,
                         'ratio': dev / base})

            ms, interval = latency(g, args.samples)
            lat.append({'p50': statistics.median(ms),
                        'p99': ms[min(len(ms) - 1, int(len(ms) * 0.99))],
                        'interval': interval})

            f, w, w0 = idle(g, g0, 2 * args.seconds)
            idl.append({'flips': f, 'w': w, 'w0': w0})
        finally:
            mc.close()
            g0.close()
            g.close()
    report(f'fullframe-{label}', full, lambda r:
           f"device {fmt(r['dev'], ' ms')}/flip, memcpy {fmt(r['base'], ' ms')}"
           f", ratio {r['ratio']:.2f}")
    report(f'memcpy-{label}', full, lambda r:
           f"{fmt(r['base'], ' ms')} one a refresh (the baseline above), "
           f"{fmt(r['b2b'], ' ms')} back to back")
    report(f'peer-{label}', full, lambda r:
           f"xdf-backend {be.mode} {fmt(r['peer'], ' ms')} CPU/flip")
    report(f'partial-{label}', part, lambda r:
           f"{r['rows']:.0f} rows changed, device {fmt(r['dev'], ' ms')}/flip"
           f", memcpy of those rows {fmt(r['base'], ' ms')}, ratio "
           f"{r['ratio']:.2f}")
    report(f'flip-rate-{label}', rate, lambda r:
           f"{r['flips']:.1f} flips/s with the guest changing "
           f"{CHANGES_PER_S} times/s")
    # the line is "idle:", measured at 1080p
    report('idle' if label == '1080p' else f'idle-{label}', idl, lambda r:
           f"{r['flips']:.1f} flips/s, {r['w']:.1f} main-loop wake-ups/s "
           f"with the device, {r['w0']:.1f} without")
    report(f'latency-{label}', lat, lambda r:
           f"p50 {fmt(r['p50'], ' ms')}, p99 {fmt(r['p99'], ' ms')}, refresh "
           f"interval {fmt(r['interval'], ' ms')}")
    return full


def bench_guests(label, width, height, args, be, qemu, single):
    runs = []
    for rep in range(args.reps):
        log(f'{label}: {GUESTS} guests, run {rep + 1} of {args.reps}')
        guests = []
        try:
            for i in range(GUESTS):
                guests.append(Guest(f'{label}-x{GUESTS}-{rep}-{i}', qemu,
                                    args.out, width, height))
            connected(guests)
            _, _, flips = full_frames(guests, args.seconds)
            per = []
            for g, fl in zip(guests, flips):
                whole = [f[2] for f in fl if f[1] == width * height]
                if len(whole) < 3:
                    raise RuntimeError(f'{g.name}: only {len(whole)} '
                                       f'full-frame flips: see {g.trace}')
                per.append(statistics.median(whole) / 1e6)
                check_picture(be, g)
            many = statistics.mean(per)
            one = single[rep]['dev']
            runs.append({'many': many, 'one': one, 'ratio': many / one})
        finally:
            for g in guests:
                g.close()
    name = 'guests-4' if label == '1080p' else f'guests-4-{label}'
    report(name, runs, lambda r:
           f"{fmt(r['many'], ' ms')}/flip per guest with {GUESTS} guests, "
           f"{fmt(r['one'], ' ms')} with 1, ratio {r['ratio']:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('builddir')
    ap.add_argument('out')
    ap.add_argument('--reps', type=int, default=3,
                    help='runs of each figure (default 3)')
    ap.add_argument('--sizes', default='480p,1080p,2160p',
                    help='of ' + ', '.join(SIZES) + ' (default all)')
    ap.add_argument('--seconds', type=float, default=4,
                    help='length of each timed phase (default 4)')
    ap.add_argument('--samples', type=int, default=100,
                    help='latency samples a run (default 100)')
    ap.add_argument('--peer', choices=('last-only', 'reads'),
                    default='last-only',
                    help='the backend reads nothing (default) or converts '
                         'every frame as it comes')
    args = ap.parse_args()
    sizes = args.sizes.split(',')
    for s in sizes:
        if s not in SIZES:
            ap.error(f"--sizes: '{s}' is not one of {', '.join(SIZES)}")
    if args.reps < 1 or args.seconds <= 0 or args.samples < 1:
        ap.error('--reps, --seconds and --samples must be positive')
    qemu = os.path.join(args.builddir, 'qemu-system-x86_64')
    os.makedirs(args.out, exist_ok=True)
    # The peer reads a frame only to save it (--last-only), or converts
    # every frame to RGB as it comes (as a display scanning the buffer
    # out reads it; a numbered PNG only every million frames).
    mode = '--every 1000000' if args.peer == 'reads' else '--last-only'
    be = Backend(args.builddir, os.path.join(args.out, 'frames'), '--all',
                 *mode.split(), log=os.path.join(args.out, 'backend.log'))
    be.mode = mode
    try:
        for label in sizes:
            width, height = SIZES[label]
            single = bench_size(label, width, height, args, be, qemu)
            if label == '1080p':
                bench_guests(label, width, height, args, be, qemu, single)
    finally:
        be.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
