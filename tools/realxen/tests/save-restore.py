#!/usr/bin/env python3
# save-restore.py --build B --out DIR NAME
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
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


qb = load('qemu_backend', os.path.join(HERE, 'qemu-backend.py'))
FE = '/local/domain/0/device/vdispl'


class AllBackend(qb.Backend):
    """xdf-backend --all: qemu-backend.py's Backend, for device 0-<dev>."""

    def __init__(self, exe, out):
        self.dir = os.path.join(out, 'frames')
        os.makedirs(self.dir, exist_ok=True)
        self.log = open(os.path.join(out, 'backend.log'), 'w')
        # PNG is slow under TCG: save on SIGUSR1 only
        self.proc = subprocess.Popen([exe, '--all', '--output-dir', self.dir,
                                      '--every', '1000000'],
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.dev = 0

    def last_png(self):
        return os.path.join(self.dir, f'0-{self.dev}', 'conn0-last.png')


def domid(name):
    r = subprocess.run(['xl', 'domid', name], capture_output=True, text=True)
    return int(r.stdout) if r.returncode == 0 else None


def device_model(name, timeout):
    """QMP of domain @name's device model, and our device's dev-id."""
    d = domid(name)
    qmp = qb.QMP(f'/var/run/xen/qmp-libxl-{d}', time.monotonic() + timeout)
    dev = int(qmp.cmd('qom-get', path='xdf0', property='dev-id'))
    return d, qmp, dev


def connector_size_of(dev):
    res = qb.xs_read(f'{FE}/{dev}/0/resolution') or '0x0'
    w, h = (int(v) for v in res.split('x'))
    return w, h


def screen_at_backend(qmp, backend, dump, timeout, when):
    good, state = qb.wait_state(qmp, 'Connected', timeout)
    (qb.ok if good else qb.bad)(f'{when}: device Connected (state {state})')
    keep = os.path.join(os.path.dirname(dump), when.replace(' ', '-'))
    good, why = qb.same_screen(qmp, backend, dump, None, timeout, keep)
    (qb.ok if good else qb.bad)(f'{when}: the backend shows the '
                                f'screendump pixel for pixel ({why})')
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
    (qb.ok if r.returncode == 0 else qb.bad)(
        f'{what} (status {r.returncode}, {dt:.0f} s)')
    lines = (r.stdout + r.stderr).splitlines()
    for line in lines[-(40 if r.returncode else 4):]:
        qb.note(f'xl: {line}')
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--timeout', type=int, default=300)
    ap.add_argument('name')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    exe = os.path.join(args.build, 'tools/backend/xdf-backend')
    dump = os.path.join(args.out, 'screendump.ppm')
    # not on the 9p run folder: Xen's save writes from foreign mappings,
    # which 9p cannot take (EFAULT)
    image = os.path.join(tempfile.mkdtemp(prefix='xdf-save-'),
                         f'{args.name}.save')
    backend = AllBackend(exe, args.out)
    # the screendump is fitted into the connector of the device shown
    qb.connector_size = lambda: connector_size_of(backend.dev)
    try:
        d, qmp, backend.dev = device_model(args.name, 60)
        qb.note(f'{args.name} is domain {d}, device dev-id {backend.dev}')
        if not screen_at_backend(qmp, backend, dump, args.timeout,
                                 'before xl save'):
            return 1
        old = backend.dev
        # libxl's QMP socket takes one client: let xl have it
        qmp.sock.close()
        if not xl(['save', args.name, image], f'xl save {args.name}',
                  args.timeout):
            if shut_down(args.name):
                qb.note('SeaBIOS rebooted the guest before the save')
                return REBOOTED
            return 1
        end = time.monotonic() + args.timeout
        while (time.monotonic() < end and
               qb.xs_read(f'{FE}/{old}/state') is not None):
            time.sleep(0.5)
        left = qb.xs_read(f'{FE}/{old}/state')
        (qb.ok if left is None else qb.bad)(
            f'the saved domain\'s device removed its nodes ({FE}/{old}/state: '
            f'{left})')
        if not xl(['restore', image], f'xl restore {args.name}',
                  args.timeout):
            return 1
        d, qmp, backend.dev = device_model(args.name, 60)
        qb.note(f'restored as domain {d}, device dev-id {backend.dev}')
        if not screen_at_backend(qmp, backend, dump, args.timeout,
                                 'after xl restore'):
            return 1

        # xl migrate to this host: xl runs "SSH HOST xl migrate-receive"
        qmp.sock.close()
        ssh = os.path.join(os.path.dirname(image), 'here')
        with open(ssh, 'w') as f:
            f.write('#!/bin/sh\n# xl migrate\'s "ssh HOST COMMAND": run '
                    'COMMAND here\nshift\nexec sh -c "$*"\n')
        os.chmod(ssh, 0o755)
        if not xl(['migrate', '-s', ssh, args.name, 'localhost'],
                  f'xl migrate {args.name} localhost', args.timeout):
            return 1
        d, qmp, backend.dev = device_model(args.name, 60)
        qb.note(f'migrated as domain {d}, device dev-id {backend.dev}')
        screen_at_backend(qmp, backend, dump, args.timeout,
                          'after xl migrate')
    except Exception as e:      # noqa: BLE001 - report, then clean up
        qb.bad(f'{type(e).__name__}: {e}')
    finally:
        rc = backend.stop()
        (qb.ok if rc == 0 else qb.bad)(f'backend exited (status {rc})')
        for line in open(os.path.join(args.out,
                                      'backend.log')).read().splitlines()[-4:]:
            qb.note(f'backend: {line}')
        shutil.rmtree(os.path.dirname(image), ignore_errors=True)
    return 1 if qb.fails else 0


if __name__ == '__main__':
    sys.exit(main())
