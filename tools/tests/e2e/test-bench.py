#!/usr/bin/python3
# test-bench.py SRCDIR BUILDDIR OUT: a smoke run of the benchmark, as TAP.
# Runs under xensim (meson starts it with "xensim run --").
#
# tools/run-bench is a benchmark, not a test: no figure is held to a goal
# here.  One short run at 1080p must print every line in the form the
# README documents, with figures that are numbers, and check the backend's
# picture after each phase (bench.py stops with an error if it is wrong).
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import subprocess
import sys

from xdf.tap import Tap

SRCDIR, BUILDDIR, OUT = sys.argv[1:4]

N = r'(\d+(?:\.\d+)?)'
LINES = {
    'fullframe-1080p': rf'device {N} ms/flip, memcpy {N} ms, ratio {N}',
    'memcpy-1080p': rf'{N} ms one a refresh \(the baseline above\), {N} ms '
                    rf'back to back',
    'peer-1080p': rf'xdf-backend --last-only {N} ms CPU/flip',
    'partial-1080p': rf'{N} rows changed, device {N} ms/flip, memcpy of '
                     rf'those rows {N} ms, ratio {N}',
    'flip-rate-1080p': rf'{N} flips/s with the guest changing {N} times/s',
    'idle': rf'{N} flips/s, {N} main-loop wake-ups/s with the device, {N} '
            rf'without',
    'latency-1080p': rf'p50 {N} ms, p99 {N} ms, refresh interval {N} ms',
    'guests-4': rf'{N} ms/flip per guest with 4 guests, {N} ms with 1, '
                rf'ratio {N}',
}

tap = Tap()
os.makedirs(OUT, exist_ok=True)
r = subprocess.run(['/usr/bin/python3',
                    os.path.join(SRCDIR, 'tools', 'bench.py'), BUILDDIR, OUT,
                    '--sizes', '1080p', '--reps', '1', '--seconds', '1',
                    '--samples', '10'],
                   capture_output=True, text=True, timeout=240)
tap.note(r.stdout)
tap.ok(r.returncode == 0, f'the benchmark ran (status {r.returncode})')
if r.returncode:
    tap.note(r.stderr[-3000:])
out = r.stdout.splitlines()
for name, form in LINES.items():
    line = [i for i, l in enumerate(out) if l.startswith(f'{name}: ')]
    ok = len(line) == 1 and re.fullmatch(rf'{re.escape(name)}: {form}',
                                         out[line[0]])
    tap.ok(ok, f'"{name}:" printed once in the documented form')
    # the minimum of the runs under it, in the same form
    tap.ok(ok and line[0] + 1 < len(out) and re.fullmatch(
        rf'  min of 1: {form}', out[line[0] + 1]),
        f'"{name}:" has its minimum line')
sys.exit(tap.end())
