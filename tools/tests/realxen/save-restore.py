#!/usr/bin/env python3
# save-restore.py --build B|--installed --out DIR NAME
#
# Runs in dom0 of the real-Xen rig, for HVM domU NAME whose device model
# is our QEMU with -device xen-displfront,id=xdf0 (made by hvm.sh): one
# "xdf-backend --all" serves it; the firmware screen must reach the
# backend pixel for pixel as the device model's screendump shows it; then
# "xl save" (the device model quits: the device's nodes must go) and
# "xl restore" (a new device model, a new device): the screen must come
# back at the backend, pixel for pixel, with no guest action; then "xl
# migrate" to this same host (a device model on each side for a moment):
# the screen comes back from the destination's device model.
#
# TAP-style lines on stdout; exit status 0 when all passed.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from xdf import installed, poll, xenstore
from xdf.backend import Backend
from xdf.qmp import QMP
from xdf.screen import screendump_shown
from xdf.tap import Tap

FE = xenstore.VDISPL
tap = Tap(numbered=False)


def domid(name):
    r = subprocess.run(['xl', 'domid', name], capture_output=True, text=True)
    return int(r.stdout) if r.returncode == 0 else None


def device_model(name, timeout):
    """QMP of domain @name's device model, and our device's dev-id."""
    d = domid(name)
    qmp = QMP(f'/var/run/xen/qmp-libxl-{d}', timeout)
    dev = int(qmp.qom_get('xdf0', 'dev-id'))
    return d, qmp, dev


def screen_at_backend(qmp, backend, dev, dump, timeout, when):
    """The device Connected, and the backend showing (for device @dev)
    what the screendump shows, fitted into its connector."""
    good, state = qmp.wait_state('Connected', timeout)
    tap.ok(good, f'{when}: device Connected (state {state})')
    keep = os.path.join(os.path.dirname(dump), when.replace(' ', '-'))
    good, why = screendump_shown(
        qmp, dump, backend.shown(backend.png(dev)), timeout, keep,
        connector=lambda: xenstore.resolution(dev), still=60, step=2,
        log=tap.note)
    tap.ok(good, f'{when}: the backend shows the screendump pixel for '
                 f'pixel ({why})')
    return good


# Exit status when SeaBIOS (no bootable disk) rebooted the guest before
# the save could start: the rig's timing, not the device; hvm.sh tries a
# fresh domain once more.
REBOOTED = 3


def shut_down(name):
    """Has domain @name shut down (state flag s: SeaBIOS's reboot, kept
    by on_reboot = "preserve")?"""
    r = subprocess.run(['xl', 'list', name], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    return len(lines) > 1 and 's' in lines[1].split()[4]


def xl(args, what, timeout):
    """Run xl; on failure show libxl's own account (xl -vvv's last
    lines)."""
    t0 = time.monotonic()
    r = subprocess.run(['xl', '-vvv'] + args, capture_output=True,
                       text=True, timeout=timeout)
    dt = time.monotonic() - t0
    tap.ok(r.returncode == 0, f'{what} (status {r.returncode}, {dt:.0f} s)')
    lines = (r.stdout + r.stderr).splitlines()
    for line in lines[-(40 if r.returncode else 4):]:
        tap.note(f'xl: {line}')
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser()
    installed.add_build_arguments(ap)
    ap.add_argument('--out', required=True)
    ap.add_argument('--timeout', type=int, default=300)
    ap.add_argument('name')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dump = os.path.join(args.out, 'screendump.ppm')
    # not on the 9p run folder: Xen's save writes from foreign mappings,
    # which 9p cannot take (EFAULT)
    image = os.path.join(tempfile.mkdtemp(prefix='xdf-save-'),
                         f'{args.name}.save')
    # PNG is slow under TCG: save on SIGUSR1 only
    backend = Backend(args.build, os.path.join(args.out, 'frames'), '--all',
                      '--every', '1000000',
                      log=os.path.join(args.out, 'backend.log'))
    try:
        d, qmp, dev = device_model(args.name, 60)
        tap.note(f'{args.name} is domain {d}, device dev-id {dev}')
        if not screen_at_backend(qmp, backend, dev, dump, args.timeout,
                                 'before xl save'):
            return 1
        old = dev
        # libxl's QMP socket takes one client: let xl have it
        qmp.close()
        if not xl(['save', args.name, image], f'xl save {args.name}',
                  args.timeout):
            if shut_down(args.name):
                tap.note('SeaBIOS rebooted the guest before the save')
                return REBOOTED
            return 1
        poll.within(lambda: xenstore.read(f'{FE}/{old}/state') is None,
                    args.timeout, step=0.5)
        left = xenstore.read(f'{FE}/{old}/state')
        tap.ok(left is None, f'the saved domain\'s device removed its nodes '
                             f'({FE}/{old}/state: {left})')
        if not xl(['restore', image], f'xl restore {args.name}',
                  args.timeout):
            return 1
        d, qmp, dev = device_model(args.name, 60)
        tap.note(f'restored as domain {d}, device dev-id {dev}')
        if not screen_at_backend(qmp, backend, dev, dump, args.timeout,
                                 'after xl restore'):
            return 1

        # xl migrate to this host: xl runs "SSH HOST xl migrate-receive"
        qmp.close()
        ssh = os.path.join(os.path.dirname(image), 'here')
        with open(ssh, 'w') as f:
            f.write('#!/bin/sh\n# xl migrate\'s "ssh HOST COMMAND": run '
                    'COMMAND here\nshift\nexec sh -c "$*"\n')
        os.chmod(ssh, 0o755)
        if not xl(['migrate', '-s', ssh, args.name, 'localhost'],
                  f'xl migrate {args.name} localhost', args.timeout):
            return 1
        d, qmp, dev = device_model(args.name, 60)
        tap.note(f'migrated as domain {d}, device dev-id {dev}')
        screen_at_backend(qmp, backend, dev, dump, args.timeout,
                          'after xl migrate')
    except Exception as e:      # noqa: BLE001 - report, then clean up
        tap.ok(False, f'{type(e).__name__}: {e}')
    finally:
        rc = backend.stop(60)
        tap.ok(rc == 0, f'backend exited (status {rc})')
        for line in backend.tail(4):
            tap.note(f'backend: {line}')
        shutil.rmtree(os.path.dirname(image), ignore_errors=True)
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
