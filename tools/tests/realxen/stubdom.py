#!/usr/bin/env python3
# Runs in dom0 of the real-Xen rig, from stubdom.sh: an HVM guest whose
# device model, our QEMU with -device xen-displfront, runs in a Linux stub
# domain (tools/stubdom), and a reference guest whose device model runs in
# dom0; both boot tools/stubdom/keys-boot.S from their disk, which echoes
# the keys it reads.  One "xdf-backend --all" in dom0 serves both.
#
#  1. the reference guest's screen reaches the backend as its device
#     model's screendump shows it; "xen" and Return typed in its live view
#     appear there: the two screendumps are the references;
#  2. the stub-domain guest: "xl create" (its stub domain up and QEMU
#     running), then xdf-stubdom-attach writes its vdispl and vkbd
#     devices; the device in the stub domain takes them, its screen reaches
#     the backend pixel for pixel as the reference's, and the keys typed in
#     its live view make it show what the reference showed;
#  3. the stub domain dies (destroyed): the backend lets its devices go and
#     goes on serving the reference guest.
#
# What was measured (time to the first frame, the stub domain's memory)
# goes out as "##" lines.  TAP lines as lib.sh prints them.
#
#   stubdom.py --build B|--installed --out DIR --disk IMG
#
# With --installed: the installed packages' QEMU (the reference's device
# model), stub domain, xdf-stubdom-attach and backend service (its unit's
# command and privilege: checked); stubdom.sh installed them.  Otherwise
# the build folder's, and the stub domain stubdom.sh copied where libxl
# looks.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

from xdf import installed, poll, xenstore
from xdf.backend import Backend
from xdf.image import read_picture
from xdf.qmp import QMP
from xdf.screen import screendump, screendump_shown, until_same
from xdf.tap import Tap
from xdf.vnc import VNC

tap = Tap(numbered=False)
ok, note, xs_read = tap.ok, tap.note, xenstore.read
VNC_PORT = 5941
# the disks' hotplug script (Debian's /etc/xen/scripts/block times out in
# the rig's minimal dom0)
BLOCK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'block-loop')
CONNECTOR = (720, 400)          # the 80x25 text screen, 1:1
TYPED = 'xen\n'


def say(msg):
    print(f'## {msg}', flush=True)


def hvm_cfg(path, name, disk, extra):
    with open(path, 'w') as f:
        f.write(f'''name = "{name}"
type = "hvm"
memory = 64
vcpus = 1
vga = "stdvga"
videoram = 16
vnc = 0
vkb_device = 0
serial = "none"
boot = "c"
disk = [ "format=raw,vdev=hda,access=rw,script={BLOCK_SCRIPT},target={disk}" ]
# see hvm.sh: no RDTSCP intercepts under TCG; a reboot would make another
# device model
tsc_mode = "native"
on_reboot = "preserve"
on_poweroff = "destroy"
on_crash = "destroy"
{extra}''')


def xl(*args, timeout=300):
    t0 = time.monotonic()
    r = subprocess.run(['xl'] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return r, time.monotonic() - t0


def wait(cond, seconds, step=0.5):
    return poll.within(cond, seconds, step)


def live_view(log, fe, dev):
    """The VNC port of connector 0 of device @dev of frontend domain @fe,
    from the backend's log (it says where each live view listens)."""
    with open(log) as f:
        m = re.findall(rf'vdispl {fe}/{dev}: connector 0: live view on VNC '
                       r'127\.0\.0\.1:(\d+)', f.read())
    return int(m[-1]) if m else None


def proc_report(pid, what):
    """Where process @pid is (state, kernel stack, syscall, CPU time now
    and a second later): for a failure's notes."""
    def cpu():
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return int(fields[11]) + int(fields[12])
    try:
        t0 = cpu()
        time.sleep(1)
        note(f'{what} (pid {pid}): {cpu() - t0} ticks of CPU in 1 s')
        for name in ('status', 'wchan', 'syscall', 'stack'):
            with open(f'/proc/{pid}/{name}') as f:
                text = f.read()
            if name == 'status':
                text = ''.join(l for l in text.splitlines(True)
                               if l.startswith('State'))
            for line in text.splitlines():
                note(f'{what} {name}: {line}')
    except OSError as e:
        note(f'{what}: {e}')


def stub_shut_down(domid):
    """Has domain @domid shut down (or gone)?  A stub domain that powers
    off stays listed, shut down, until its guest is destroyed."""
    r, _ = xl('list', domid)
    if r.returncode:
        return True
    return 's' in r.stdout.splitlines()[-1].split()[4]


def first_row_only(pic):
    """Does @pic show something in the first text row (16 pixel rows)
    and nothing below: keys-boot.S's screen (it clears the screen; its
    banner and what is typed on it fill one row), not SeaBIOS's?"""
    w, h, rgb = pic
    top = w * 16 * 3
    return bool(rgb[:top].strip(b'\0')) and not rgb[top:].strip(b'\0')


def settled(guest, good, seconds):
    """Wait (at most @seconds) until @guest() is @good and has not changed
    for 3 s: the picture, or None."""
    end = time.monotonic() + seconds
    last, since = None, 0
    while time.monotonic() < end:
        pic = guest()
        if pic != last:
            last, since = pic, time.monotonic()
        elif good(pic) and time.monotonic() - since >= 3:
            return pic
        time.sleep(1)
    return None


def type_keys(port):
    with VNC(port) as v:
        v.type_text(TYPED, delay=0.1)


def main():
    ap = argparse.ArgumentParser()
    installed.add_build_arguments(ap)
    ap.add_argument('--out', required=True)
    ap.add_argument('--disk', required=True)
    args = ap.parse_args()
    out = args.out
    disks = {}
    for n in ('ref', 'stub'):
        disks[n] = os.path.join('/tmp', f'xdf-keys-{n}.img')
        shutil.copy(args.disk, disks[n])
    be_log_path = os.path.join(out, 'backend.log')
    backend = Backend(args.build, os.path.join(out, 'backend'), '--all',
                      '--every', '1000000', '--vnc', str(VNC_PORT),
                      '--timeout', '1500', log=be_log_path)
    dev = 'xen-displfront,id=xdf0,req-timeout-ms=60000'
    try:
        if args.build is None:
            good, why = installed.unprivileged(backend.pid)
            ok(good, f"xdf-backend as its service runs it, with the unit's "
               f"privilege ({why})")
        # 1. the reference: device model in dom0, writing its own nodes
        cfg = os.path.join(out, 'xdf-ref.cfg')
        hvm_cfg(cfg, 'xdf-ref', disks['ref'], f'''
device_model_version = "qemu-xen"
device_model_override = "{installed.qemu(args.build)}"
device_model_args = [ "-device", "{dev},resolution={CONNECTOR[0]}x{CONNECTOR[1]}" ]
''')
        r, dt = xl('create', cfg)
        ok(r.returncode == 0,
           f'xl create of the reference guest ({dt:.0f} s){r.stderr[-300:]}')
        ref_id = xl('domid', 'xdf-ref')[0].stdout.strip()
        ref_qmp = QMP(f'/var/run/xen/qmp-libxl-{ref_id}', 60)
        ref_dev = ref_qmp.qom_get('xdf0', 'dev-id')
        state, _ = ref_qmp.wait_state('Connected', 120)
        ok(state, 'reference guest: its device is Connected')
        ref_png = backend.png(ref_dev)
        dump = os.path.join(out, 'ref.ppm')
        refs = []
        guest = screendump(ref_qmp, dump)
        for step in ('banner', 'typed'):
            if step == 'typed':
                port = live_view(be_log_path, 0, ref_dev)
                ok(port, f'reference guest: live view on VNC '
                   f'port {port}')
                type_keys(port)
            # the reference is the boot sector's screen, settled: not a
            # moment of SeaBIOS's on the way there, nor of the typing
            there = settled(guest, lambda pic: first_row_only(pic) and
                            (step == 'banner' or pic != refs[0]), 120)
            ok(there, f'reference guest ({step}): the boot '
               f'sector\'s screen')
            good, why = screendump_shown(
                ref_qmp, dump, backend.shown(ref_png), 240,
                os.path.join(out, f'ref-{step}'), still=60, step=2,
                log=lambda line: note(f'ref: {line}'))
            ok(good, f'reference guest ({step}): the backend '
               f'shows its screendump pixel for pixel '
               f'({why})')
            refs.append(read_picture(dump))

        # 2. the guest whose device model runs in a stub domain
        cfg = os.path.join(out, 'xdf-stub.cfg')
        hvm_cfg(cfg, 'xdf-stub', disks['stub'], f'''
device_model_version = "qemu-xen"
device_model_stubdomain_override = 1
stubdomain_memory = 256
# the kernel's own PV keyboard and framebuffer frontends must leave the
# stub domain's vkbd to QEMU
stubdomain_cmdline = "console=hvc0 initcall_blacklist=xenkbd_init,xenfb_init"
# (its state changes, in qemu-dm-xdf-stub.log)
device_model_args_hvm = [ "-device", "{dev}", "-msg", "timestamp=on",
                          "-trace", "xen_displfront_state",
                          "-trace", "xen_displfront_adopted" ]
''')
        t0 = time.monotonic()
        r, dt = xl('create', cfg)
        ok(r.returncode == 0,
           f'xl create of the stub-domain guest ({dt:.0f} s)'
           f'{r.stderr[-600:] if r.returncode else ""}')
        if r.returncode:
            for f in ('/var/log/xen/qemu-dm-xdf-stub.log',):
                if os.path.exists(f):
                    for line in open(f).readlines()[-40:]:
                        note(f'qemu-dm: {line.rstrip()}')
            return 1
        stub_guest = xl('domid', 'xdf-stub')[0].stdout.strip()
        stub = xs_read(f'/local/domain/{stub_guest}/image/device-model-domid')
        mem = xl('list', stub)[0].stdout.strip().splitlines()[-1].split()
        say(f'stub domain {stub} of guest {stub_guest}: {mem[2]} MiB, '
            f'{dt:.0f} s to "xl create" done')
        attach = installed.STUBDOM_ATTACH if args.build is None else \
            os.path.join(os.getcwd(), 'tools/stubdom/xdf-stubdom-attach')
        r = subprocess.run([attach, '--resolution',
                            f'{CONNECTOR[0]}x{CONNECTOR[1]}', 'xdf-stub'],
                           capture_output=True, text=True)
        ok(r.returncode == 0,
           f'xdf-stubdom-attach xdf-stub: {r.stdout.strip()} {r.stderr}')
        fe = f'/local/domain/{stub}/device/vdispl/0'
        up = wait(lambda: xs_read(f'{fe}/state') == '4', 180)
        ok(up, f'the device in the stub domain took its vdispl '
           f'device and is Connected (state '
           f'{xs_read(fe + "/state")})')
        stub_png = backend.png(0, frontend=stub)
        for i, step in enumerate(('banner', 'typed')):
            if step == 'typed':
                port = wait(lambda: live_view(be_log_path, stub, 0), 30)
                kb = wait(lambda: xs_read(f'/local/domain/{stub}/device/vkbd/'
                                          f'0/state') == '4', 120)
                ok(kb, f'the stub domain\'s vkbd is Connected; '
                   f'live view on VNC port {port}')
                type_keys(port)
            good, why = until_same(
                lambda: refs[i], backend.shown(stub_png), 240,
                os.path.join(out, f'stub-{step}'), still=60, step=2,
                log=lambda line: note(f'stub: {line}'))
            ok(good, f'stub-domain guest ({step}): the backend '
               f'shows what the reference guest showed, '
               f'pixel for pixel ({why})')
            if not good:
                proc_report(backend.pid, 'xdf-backend')
                return 1
            if i == 0 and good:
                say(f'first picture of the stub-domain guest '
                    f'{time.monotonic() - t0:.0f} s after "xl create" began')

        # 3. QEMU in the stub domain dies (QMP quit, through libxl's proxy
        # and the stub domain's vchan): the stub domain powers off; the
        # backend lets its devices go and serves the reference on
        QMP(f'/var/run/xen/qmp-libxl-{stub_guest}', 60).quit()
        died = wait(lambda: stub_shut_down(stub), 60)
        ok(died, f'QEMU in stub domain {stub} quit (QMP, through '
           f'the vchan): the stub domain shut down')
        let_go = wait(lambda: xs_read(f'/local/domain/0/backend/vdispl/{stub}/'
                                      f'0/state') in (None, '1', '2', '6'), 60)
        ok(let_go, 'the backend let its vdispl device go')
        ok(backend.running(), 'the backend still runs')
        good, why = until_same(
            lambda: refs[1], backend.shown(ref_png), 120,
            os.path.join(out, 'ref-after'), still=30, step=2)
        ok(good, f'the reference guest is still shown ({why})')
        xl('destroy', 'xdf-stub')
        gone = wait(lambda: xs_read(f'/local/domain/0/backend/vdispl/{stub}/0')
                    is None and xs_read(f'/local/domain/{stub}/domid') is None,
                    60)
        ok(gone, 'xl destroy of the guest: its stub domain\'s '
           'devices are gone from XenStore')
        xl('destroy', 'xdf-ref')
    finally:
        backend.stop(30)
        for f in ('/var/log/xen/qemu-dm-xdf-stub.log',
                  '/var/log/xen/qemu-dm-xdf-ref.log'):
            if os.path.exists(f):
                shutil.copy(f, out)
    if tap.failed:
        for line in backend.tail(30):
            note(f'backend: {line}')
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
