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
import zlib

# qemu-backend.py's helpers: its TAP lines, QMP client, image reader and
# XenStore read
_spec = importlib.util.spec_from_file_location(
    'qemu_backend', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 'qemu-backend.py'))
qb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qb)
images, QMP, ok, bad, xs_read = qb.images, qb.QMP, qb.ok, qb.bad, qb.xs_read


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


def shows_own_screen(d, backend, out):
    """Until the backend's output for @d equals its screendump, fitted."""
    dump = os.path.join(out, f'{d.name}.ppm')
    png = os.path.join(out, 'backend', f'0-{d.dev_id}', 'conn0-last.png')
    res = xs_read(f'/local/domain/0/device/vdispl/{d.dev_id}/0/resolution')
    cw, ch = (int(v) for v in (res or '0x0').split('x'))
    why = 'nothing compared'
    end = time.monotonic() + 120
    while time.monotonic() < end:
        d.qmp.cmd('screendump', filename=dump)
        backend.send_signal(signal.SIGUSR1)
        time.sleep(2)
        if not os.path.exists(png):
            why = f'no {png}'
            continue
        try:
            ref = images.fit_image(*images.read_image(dump), cw, ch, 'scale')
            got = images.read_image(png)
        except (images.BadImage, zlib.error, ValueError) as e:
            # the 9p share may show a file before all of it has arrived
            why = f'{e}'
            continue
        if got == ref and any(ref[2]):
            return True, f'{cw}x{ch}, {png}'
        why = (f'backend {got[0]}x{got[1]}, screendump fitted '
               f'{ref[0]}x{ref[1]}' if got[:2] != ref[:2] else
               'pixels differ' if got != ref else 'blank')
    return False, why


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
         '--timeout', '900'], stderr=be_log)
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
            good, why = shows_own_screen(d, backend, args.out)
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
        good, why = shows_own_screen(second, backend, args.out)
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
