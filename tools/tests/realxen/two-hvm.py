#!/usr/bin/env python3
# Runs in dom0 of the real-Xen rig, from hvm.sh: two HVM domUs, each with
# our QEMU as device model (dev-id auto, frontend domain 0), and one
# "xdf-backend --all" for both.  Each firmware screen must reach its own
# output (DIR/0-<dev-id>/) as its device model's screendump shows it,
# fitted into its connector; "xl destroy" of the first leaves the second
# Connected and served.  TAP lines as lib.sh prints them.
#
#   two-hvm.py --build B|--installed --out DIR NAME1 NAME2
#
# With --installed, the backend is the installed service's (its unit's
# command, with the unit's privilege: checked).
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import subprocess
import sys
import time

from xdf import installed, poll, xenstore
from xdf.backend import Backend
from xdf.qmp import QMP
from xdf.screen import screendump_shown
from xdf.tap import Tap

tap = Tap(numbered=False)


class Domain:
    def __init__(self, name):
        self.name = name
        self.domid = subprocess.run(['xl', 'domid', name], capture_output=True,
                                    text=True).stdout.strip()
        self.qmp = QMP(f'/var/run/xen/qmp-libxl-{self.domid}', 30)

    def prop(self, name):
        return self.qmp.qom_get('xdf0', name)


def shows_own_screen(d, backend, out, tag):
    """Until the backend's output for @d equals its screendump, fitted
    (until_same; on giving up the two pictures are kept at
    OUT/<name>-<tag>-{screendump,backend}.ppm)."""
    png = backend.png(d.dev_id)
    good, why = screendump_shown(
        d.qmp, os.path.join(out, f'{d.name}.ppm'), backend.shown(png), 240,
        os.path.join(out, f'{d.name}-{tag}'),
        connector=lambda: xenstore.resolution(d.dev_id), still=60, step=2,
        log=lambda line: tap.note(f'{d.name}: {line}'))
    return good, f'{why}, {png}' if good else why


def main():
    ap = argparse.ArgumentParser()
    installed.add_build_arguments(ap)
    ap.add_argument('--out', required=True)
    ap.add_argument('names', nargs=2)
    args = ap.parse_args()
    # Under TCG a backend that reads every frame of two guests falls
    # seconds behind (and answers SIGUSR1 late): read a frame only to
    # save it, on SIGUSR1
    backend = Backend(args.build, os.path.join(args.out, 'backend'), '--all',
                      '--last-only', '--timeout', '900',
                      log=os.path.join(args.out, 'backend.log'))
    try:
        doms = [Domain(n) for n in args.names]
        for d in doms:
            d.dev_id = d.prop('dev-id')
        ids = sorted(d.dev_id for d in doms)
        tap.ok(ids == ['0', '1'], f'two device models in dom0: dev-ids {ids}')
        if args.build is None:
            good, why = installed.unprivileged(backend.pid)
            tap.ok(good, f"xdf-backend as its service runs it, with the "
                         f"unit's privilege ({why})")
        for d in doms:
            good = poll.within(lambda: d.prop('state') ==
                               'XenbusStateConnected', 120, step=1)
            tap.ok(good, f'{d.name}: Connected to xdf-backend --all '
                         f'({d.prop("state")})')
        for d in doms:
            good, why = shows_own_screen(d, backend, args.out, 'first')
            tap.ok(good, f'{d.name}: its firmware screen reaches its own '
                         f'output pixel for pixel ({why})')

        first, second = doms
        r = subprocess.run(['xl', 'destroy', first.name], capture_output=True,
                           text=True)
        tap.ok(r.returncode == 0, f'xl destroy {first.name}')
        gone = poll.within(lambda: xenstore.read(
            f'{xenstore.VDISPL_BACKEND}/{first.dev_id}') is None, 30, step=1)
        tap.ok(gone, f'{first.name}: its vdispl nodes are gone')
        time.sleep(3)
        up = second.prop('state') == 'XenbusStateConnected' and \
            xenstore.read(f'{xenstore.VDISPL_BACKEND}/{second.dev_id}/'
                          'state') == '4'
        tap.ok(up, f'{second.name} is still Connected and served')
        good, why = shows_own_screen(second, backend, args.out, 'alone')
        tap.ok(good, f'{second.name}: still shown ({why})')
    finally:
        backend.stop(30)
    if tap.failed:
        for line in backend.tail(30):
            tap.note(f'backend: {line}')
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
