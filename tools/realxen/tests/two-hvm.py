#!/usr/bin/env python3
# Runs in dom0 of the real-Xen rig, from hvm.sh: two HVM domUs, each with
# our QEMU as device model (dev-id auto, frontend domain 0), and one
# "xdf-backend --all" for both.  Each firmware screen must reach its own
# output (DIR/0-<dev-id>/) as its device model's screendump shows it,
# fitted into its connector; "xl destroy" of the first leaves the second
# Connected and served.  TAP lines as lib.sh prints them.
#
#   two-hvm.py --build B --out DIR NAME1 NAME2
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time

# qemu-backend.py's helpers: its TAP lines, QMP client, image reader,
# XenStore read and tools/xdftest.py (until_same: the one loop comparing
# a guest's screen with the backend's picture)
_spec = importlib.util.spec_from_file_location(
    'qemu_backend', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 'qemu-backend.py'))
qb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qb)
images, QMP, ok, bad, xs_read = qb.images, qb.QMP, qb.ok, qb.bad, qb.xs_read
xdftest = qb.xdftest


class Domain:
    def __init__(self, name):
        self.name = name
        self.domid = subprocess.run(['xl', 'domid', name], capture_output=True,
                                    text=True).stdout.strip()
        self.qmp = QMP(f'/var/run/xen/qmp-libxl-{self.domid}',
                       time.monotonic() + 30)

    def prop(self, name):
        return self.qmp.cmd('qom-get', path='xdf0', property=name)


def wait(cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(1)
    return cond()


def shows_own_screen(d, backend, out, tag):
    """Until the backend's output for @d equals its screendump, fitted
    (xdftest.until_same; on giving up the two pictures are kept at
    OUT/<name>-<tag>-{screendump,backend}.ppm)."""
    dump = os.path.join(out, f'{d.name}.ppm')
    png = os.path.join(out, 'backend', f'0-{d.dev_id}', 'conn0-last.png')
    res = xs_read(f'/local/domain/0/device/vdispl/{d.dev_id}/0/resolution')
    cw, ch = (int(v) for v in (res or '0x0').split('x'))
    good, why = xdftest.until_same(
        xdftest.screendump(d.qmp, dump, fit=lambda pic: images.fit_image(
            *pic, cw, ch, 'scale')),
        xdftest.backend_picture(backend, png, 20), 240,
        os.path.join(out, f'{d.name}-{tag}'), still=60, step=2,
        log=lambda line: qb.note(f'{d.name}: {line}'))
    return good, f'{why}, {png}' if good else why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('names', nargs=2)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, 'backend'), exist_ok=True)
    be_log = open(os.path.join(args.out, 'backend.log'), 'w')
    backend = subprocess.Popen(
        [os.path.join(args.build, 'tools/backend/xdf-backend'), '--all',
         '--output-dir', os.path.join(args.out, 'backend'),
         # Under TCG a backend that reads every frame of two guests falls
         # seconds behind (and answers SIGUSR1 late): read a frame only
         # to save it, on SIGUSR1
         '--last-only', '--timeout', '900'], stderr=be_log)
    try:
        doms = [Domain(n) for n in args.names]
        for d in doms:
            d.dev_id = d.prop('dev-id')
        ids = sorted(d.dev_id for d in doms)
        (ok if ids == ['0', '1'] else bad)(
            f'two device models in dom0: dev-ids {ids}')
        for d in doms:
            (ok if wait(lambda: d.prop('state') == 'XenbusStateConnected',
                        120) else bad)(f'{d.name}: Connected to xdf-backend '
                                       f'--all ({d.prop("state")})')
        for d in doms:
            good, why = shows_own_screen(d, backend, args.out, 'first')
            (ok if good else bad)(f'{d.name}: its firmware screen reaches '
                                  f'its own output pixel for pixel ({why})')

        first, second = doms
        r = subprocess.run(['xl', 'destroy', first.name], capture_output=True,
                           text=True)
        (ok if r.returncode == 0 else bad)(f'xl destroy {first.name}')
        gone = wait(lambda: xs_read(
            f'/local/domain/0/backend/vdispl/0/{first.dev_id}') is None, 30)
        (ok if gone else bad)(f'{first.name}: its vdispl nodes are gone')
        time.sleep(3)
        up = second.prop('state') == 'XenbusStateConnected' and \
            xs_read(f'/local/domain/0/backend/vdispl/0/{second.dev_id}/'
                    'state') == '4'
        (ok if up else bad)(f'{second.name} is still Connected and served')
        good, why = shows_own_screen(second, backend, args.out, 'alone')
        (ok if good else bad)(f'{second.name}: still shown ({why})')
    finally:
        backend.send_signal(signal.SIGTERM)
        try:
            backend.wait(timeout=30)
        except subprocess.TimeoutExpired:
            backend.kill()
        be_log.close()
    if qb.fails:
        with open(os.path.join(args.out, 'backend.log')) as f:
            for line in f.readlines()[-30:]:
                print(f'#   backend: {line.rstrip()}')
    return 1 if qb.fails else 0


if __name__ == '__main__':
    sys.exit(main())
