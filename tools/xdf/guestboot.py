# What every script that boots the demo guest shares: the choice of
# accelerator (KVM only once a guest has booted on it) and the boot
# stages read off the serial console.
#
#   from xdf.guestboot import choose_accel, BootStages
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import subprocess
import time

# A working KVM shows the kernel's first line in well under a second; TCG
# on a slow host in two or three.
KVM_PROBE_SECONDS = 10

# The kernel's first words on the serial line (earlyprintk prints them
# before anything else), or any timestamped kernel line.
KERNEL_LINE = re.compile(r'Linux version |^\[\s*\d+\.\d+\] ')
# What the kernel's real-mode set-up code and decompressor print first.
# Not proof that KVM works: a KVM that cannot boot a guest runs the
# set-up code and stops after it.
KERNEL_SETUP = re.compile(r'^Probing EDD|^Decompressing Linux')
# Lines after which the demo guest will not get to the end.
FATAL = re.compile(r'Kernel panic - not syncing|^xdf-anim: error|'
                   r'^xdf-guest: xdf-anim failed')


def probe_kvm(qemu, kernel, seconds=KVM_PROBE_SECONDS):
    """Boot @kernel (no initramfs) with -accel kvm until its first serial
    line.  Returns (True, how long it took) or (False, why not)."""
    cmd = [qemu, '-M', 'pc', '-accel', 'kvm', '-m', '256', '-nodefaults',
           '-display', 'none', '-no-reboot', '-serial', 'stdio',
           '-kernel', kernel,
           '-append', 'console=ttyS0 earlyprintk=ttyS0 panic=-1']
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.set_blocking(proc.stdout.fileno(), False)
    out = b''
    try:
        while time.monotonic() - start < seconds:
            chunk = proc.stdout.read()
            if chunk:
                out += chunk
                text = out.decode(errors='replace')
                if any(KERNEL_LINE.search(ln) for ln in text.splitlines()):
                    return True, f'kernel output after ' \
                                 f'{time.monotonic() - start:.1f} s'
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors='replace').strip()
                first = err.splitlines()[0] if err else \
                    f'exit status {proc.returncode}'
                return False, f'QEMU cannot use it: {first}'
            time.sleep(0.05)
        return False, f'KVM is present but did not boot the guest ' \
                      f'(no kernel output in {seconds:g} s)'
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def choose_accel(qemu, kernel, kvm, say):
    """The accelerator for a guest boot: @kvm is 'auto', 'on' or 'off'.
    KVM only when a kernel has booted on it: with 'auto' a failed probe
    falls back to TCG with one line saying why; with 'on' it raises
    RuntimeError with the reason.  @say prints a line."""
    if kvm == 'off':
        return 'tcg'
    ok, why = probe_kvm(qemu, kernel)
    if ok:
        say(f'KVM boots the guest ({why}): using KVM')
        return 'kvm'
    if kvm == 'on':
        raise RuntimeError(f'--kvm on: {why}')
    if why.startswith('KVM is present'):
        say('KVM is present but did not boot the guest: using TCG')
    else:
        say(f'KVM is not usable ({why}): using TCG')
    return 'tcg'


class BootStages:
    """Where a demo guest's boot has got to, from its serial console and
    the frames the backend received.  Stages in order: firmware, kernel,
    init, animation, done."""

    def __init__(self, start):
        self.start = start
        self.stage = 'firmware'
        self.reached = {'firmware': 0.0}
        self.last_line = None
        self.last_progress = start      # the last serial line
        self.frames = 0
        self.last_frame_at = None
        self.anim_frames = 0

    def _reach(self, stage, now):
        order = ('firmware', 'kernel', 'init', 'animation', 'done')
        if order.index(stage) > order.index(self.stage):
            self.stage = stage
            self.reached[stage] = now - self.start
            return True
        return False

    def line(self, text, now):
        """Feed one serial line; True when it starts a new stage."""
        self.last_line = text
        self.last_progress = now
        if text.startswith('xdf-anim: done'):
            return self._reach('done', now)
        if text.startswith('xdf-anim: frame '):
            self.anim_frames += 1
            return self._reach('animation', now)
        if text.startswith('xdf-'):
            return self._reach('init', now)
        if KERNEL_LINE.search(text) or KERNEL_SETUP.search(text):
            return self._reach('kernel', now)
        return False

    def frame_count(self, n, now):
        """Feed the number of frames received so far.  Not progress: a
        blinking cursor makes new frames on a guest that is stuck."""
        if n != self.frames:
            self.frames = n
            self.last_frame_at = now - self.start

    def failed(self):
        """The line that says the boot cannot go on (a kernel panic, the
        animation failing), or None."""
        if self.last_line and (FATAL.search(self.last_line)):
            return self.last_line
        return None

    def describe(self):
        """One sentence: the stage reached and the evidence for it."""
        what = {'firmware': 'in the firmware (no kernel output on the '
                            'serial line)',
                'kernel': 'in the kernel (it printed, but /init did not '
                          'start)',
                'init': 'in /init (the demo\'s init ran, the animation '
                        'did not start)',
                'animation': f'in the animation ({self.anim_frames} '
                             'frames drawn)',
                'done': 'at the end (the animation finished)'}[self.stage]
        s = f'stopped {what}'
        if self.stage != 'firmware':
            s += f', reached at {self.reached[self.stage]:.1f} s'
        if self.last_line is not None:
            s += f'; last serial line: {self.last_line.strip()[:100]!r}'
        s += f'; {self.frames} frames received'
        if self.last_frame_at is not None:
            s += f', the last at {self.last_frame_at:.1f} s'
        return s
