#!/usr/bin/python3
# test-limits.py SRCDIR BUILDDIR OUT: a grant budget too small for one
# device, as TAP.  Runs under a xensim of its own whose domains may share
# few pages (meson sets XENSIM_GNTALLOC_LIMIT=1500 for it), as a dom0
# whose xen_gntalloc limit was left too low.
#
# One QEMU, two devices: "small" on VGA with a 720x400 connector (two
# buffers of 282 pages) and "big" on bochs-display with a 1280x800 one
# (two of 1000: more than the budget).  One "xdf-backend --all" serves
# both.  Then:
#   - big says which limit to raise, and tries again and again, each
#     time after a longer wait (timestamps of its messages);
#   - small is Connected all along and the backend shows its firmware
#     screen as QEMU's screendump does, pixel for pixel;
#   - QEMU is still running.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import datetime
import os
import re
import subprocess
import sys

from xdf import poll
from xdf.backend import Backend
from xdf.process import stop
from xdf.qmp import QMP
from xdf.screen import screendump, until_same
from xdf.tap import Tap

SRCDIR, BUILDDIR, OUT = sys.argv[1:4]
QEMU = os.path.join(BUILDDIR, 'qemu-system-x86_64')
HINT = ("cannot share 1000 pages for a 1280x800 display buffer: No space "
        "left on device (the pages QEMU's domain may share: raise "
        "xen_gntalloc's 'limit' parameter")
STAMP = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z ')

tap = Tap()
ok, note = tap.ok, tap.note


def failures(log):
    """Times, in seconds, of big's messages that name the limit."""
    times = []
    for line in open(log, errors='replace'):
        m = STAMP.match(line)
        if m and "'big'" in line and HINT in line:
            times.append(datetime.datetime.fromisoformat(
                m.group(1)).timestamp())
    return times


def main():
    os.makedirs(OUT, exist_ok=True)
    backend = Backend(BUILDDIR, os.path.join(OUT, 'backend'), '--all',
                      '--timeout', '120',
                      log=os.path.join(OUT, 'backend.log'))
    qemu_log = os.path.join(OUT, 'qemu.log')
    qmp_path = os.path.join(OUT, 'qmp.sock')
    with open(qemu_log, 'w') as log:
        qemu = subprocess.Popen(
            [QEMU, '-M', 'pc', '-accel', 'tcg', '-nodefaults', '-display',
             'none', '-msg', 'timestamp=on',
             '-qmp', f'unix:{qmp_path},server=on,wait=off',
             '-device', 'VGA,id=v',
             '-device', 'xen-displfront,id=small,display=v,resolution=720x400',
             '-device', 'bochs-display,id=b',
             '-device', 'xen-displfront,id=big,display=b,resolution=1280x800'],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        qmp = QMP(qmp_path, 20)
        small = qmp.qom_get('small', 'dev-id')
        # 100, 200, 400, 800, 1600, 3200 ms...: six tries take 6.3 s
        poll.within(lambda: len(failures(qemu_log)) >= 6, 30, step=0.5)
        times = failures(qemu_log)
        ok(len(times) >= 6, f'big says which limit to raise, at every try '
           f'({len(times)} messages)')
        gaps = [round((b - a) * 1000) for a, b in zip(times, times[1:])]
        note(f'gaps between big\'s tries: {gaps} ms')
        ok(len(gaps) >= 5 and all(gaps[i] >= 90 * 2 ** i for i in range(5))
           and gaps[4] > 4 * gaps[0],
           'each try waits longer than the one before (100 ms doubling)')

        state = qmp.qom_get('small', 'state')
        ok(state == 'XenbusStateConnected', f'small is {state}')
        dump = os.path.join(OUT, 'small.ppm')
        # both pictures taken again until they agree (the firmware may
        # still be writing); on giving up both kept in OUT
        same, why = until_same(screendump(qmp, dump, 'v'),
                               backend.shown(backend.png(small)),
                               40, os.path.join(OUT, 'small'), still=15,
                               step=0.5)
        ok(same, f'the backend shows small\'s screen as the screendump does '
           f'({why})')
        ok(qemu.poll() is None, 'QEMU is still running')
        qmp.quit()
        qemu.wait(timeout=30)
    finally:
        stop(qemu, 0)
        backend.stop()
    if tap.failed:
        note(open(qemu_log).read()[-3000:])
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
