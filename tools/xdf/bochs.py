# A bochs-display driven through QEMU's qtest protocol, no guest OS: the
# guest of the benchmark (tools/bench.py) and of the migration test.
# This module places the card's PCI BARs, sets a VBE mode, fills FRAMES
# frames of video memory (eight bands of grey each) and then changes the
# picture, all of it (the VBE Y offset to another frame) or some rows (a
# qtest memset).  With -device xen-displfront following the card, the
# device's trace (xen_displfront_flip, _refresh) gives each flip.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import socket
import subprocess

from xdf import xenstore
from xdf.process import stop
from xdf.qmp import QMP

# Frames the Y offset cycles through: a prime, so that a refresh never
# sees the frame the last one saw unless the guest stalled for 7 changes.
FRAMES = 7

# bochs-display under -accel qtest: no firmware, so we place the BARs
PCI_SLOT = 5
VRAM_BAR = 0xc0000000           # up to 256 MiB, prefetchable
MMIO_BAR = 0xfebf0000           # 4 KiB: VBE registers at 0x500
VBE = MMIO_BAR + 0x500
VBE_XRES, VBE_YRES, VBE_BPP, VBE_ENABLE = 1, 2, 3, 4
VBE_VIRT_WIDTH, VBE_VIRT_HEIGHT, VBE_Y_OFFSET = 6, 7, 9

FLIP_RE = re.compile(
    r'^\d+@(\d+\.\d+):xen_displfront_flip \S+ connector \d+ flip to '
    r'buffer \d+ after copying \d+ rectangles, (\d+) pixels in (\d+) ns')
REFRESH_RE = re.compile(
    r'^\d+@(\d+\.\d+):xen_displfront_refresh \S+ connector \d+ refreshed '
    r'every (\d+) ms \(frame period (\d+) us\)')


class Guest:
    """One QEMU driven through the qtest protocol: a bochs-display, with or
    without -device xen-displfront following it; QMP on self.qmp_path.
    @incoming: a migration URI to wait on (the card's state, video memory
    included, comes from the source then: nothing is set up)."""

    def __init__(self, name, qemu, out, width, height, device=True,
                 incoming=None):
        self.name, self.width, self.height = name, width, height
        self.stride = width * 4
        self.frame_bytes = self.stride * height
        self.trace = os.path.join(out, f'{name}-trace.log')
        self.trace_pos = 0
        self.refresh = []               # (wall time, new interval ms)
        self.offset = 0
        self.device = device
        sock_path = os.path.join(out, f'{name}-qtest.sock')
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        listener.listen(1)
        vgamem = 4 << 20
        while vgamem < FRAMES * self.frame_bytes:
            vgamem *= 2
        self.qmp_path = os.path.join(out, f'{name}-qmp.sock')
        cmd = [qemu, '-M', 'pc', '-accel', 'qtest', '-m', '128',
               '-nodefaults', '-display', 'none', '-name', name,
               '-qtest', f'unix:{sock_path}', '-qtest-log', '/dev/null',
               '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
               '-device', f'bochs-display,id=card0,addr={PCI_SLOT:#x}.0,'
                          f'vgamem={vgamem}']
        if incoming:
            cmd += ['-incoming', incoming]
        if device:
            cmd += ['-device', f'xen-displfront,id=xdf0,display=card0,'
                               f'resolution={width}x{height}',
                    '-msg', 'timestamp=on', '-D', self.trace,
                    '-trace', 'enable=xen_displfront_flip',
                    '-trace', 'enable=xen_displfront_refresh']
        self.qemu_log = open(os.path.join(out, f'{name}-qemu.log'), 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.qemu_log,
                                     stderr=subprocess.STDOUT)
        listener.settimeout(30)
        try:
            self.sock, _ = listener.accept()
        except socket.timeout:
            raise RuntimeError(f'{name}: QEMU did not connect to the qtest '
                               f'socket (see {self.qemu_log.name})')
        finally:
            listener.close()
        self.sock.settimeout(60)
        self.buf = b''
        self.pending = 0
        self._qmp = None
        if not incoming:
            self._setup_card()

    def monitor(self):
        """Its QMP connection (made on first use)."""
        if not self._qmp:
            self._qmp = QMP(self.qmp_path, 20)
        return self._qmp

    def qmp(self, name, **args):
        """A QMP command's return value."""
        return self.monitor().cmd(name, **args)

    # the qtest protocol: one command, one "OK" (or "FAIL") line
    def send(self, line):
        self.sock.sendall(line.encode() + b'\n')
        self.pending += 1

    def wait(self):
        while self.pending:
            while b'\n' not in self.buf:
                data = self.sock.recv(4096)
                if not data:
                    raise EOFError(f'{self.name}: QEMU closed the qtest '
                                   f'connection')
                self.buf += data
            reply, self.buf = self.buf.split(b'\n', 1)
            if reply.startswith(b'OK'):
                self.pending -= 1
            elif reply.startswith(b'FAIL') or reply.startswith(b'ERR'):
                raise RuntimeError(f'{self.name}: qtest: {reply.decode()}')
            # else an asynchronous line (IRQ ...)

    def cmd(self, line):
        self.send(line)
        self.wait()

    def _pci_write(self, reg, size, value):
        self.cmd(f'outl 0xcf8 {0x80000000 | PCI_SLOT << 11 | reg:#x}')
        self.cmd(f'out{"lwb"[[4, 2, 1].index(size)]} {0xcfc + (reg & 3):#x} '
                 f'{value:#x}')

    def vbe(self, index, value, wait=True):
        self.send(f'writew {VBE + index * 2:#x} {value:#x}')
        if wait:
            self.wait()

    def _setup_card(self):
        self._pci_write(0x10, 4, VRAM_BAR)
        self._pci_write(0x18, 4, MMIO_BAR)
        self._pci_write(0x04, 2, 0x0002)            # memory space on
        self.vbe(VBE_ENABLE, 0)
        for index, value in ((VBE_XRES, self.width),
                             (VBE_YRES, self.height), (VBE_BPP, 32),
                             (VBE_VIRT_WIDTH, self.width),
                             (VBE_VIRT_HEIGHT, self.height * FRAMES),
                             (VBE_Y_OFFSET, 0)):
            self.vbe(index, value)
        for f in range(FRAMES):
            for i in range(8):
                self.fill(f, *self.band(i), self.band_value(f, i))
        self.vbe(VBE_ENABLE, 1)

    # frame f: eight bands of grey, no two alike in any two frames
    def band(self, i):
        rows = self.height // 8
        return i * rows, rows if i < 7 else self.height - 7 * rows

    @staticmethod
    def band_value(frame, band):
        return 0x08 + frame * 0x20 + band * 0x03

    def fill(self, frame, row, rows, value, wait=True):
        self.send(f'memset {VRAM_BAR + (frame * self.height + row) * self.stride:#x} '
                  f'{rows * self.stride:#x} {value:#x}')
        if wait:
            self.wait()

    def show(self, frame, wait=True):
        self.offset = frame
        self.vbe(VBE_Y_OFFSET, frame * self.height, wait)

    def expected(self, partial=None):
        """The picture shown now: (first row, rows, grey) bands."""
        bands = [self.band(i) + (self.band_value(self.offset, i),)
                 for i in range(8)]
        if partial:
            row, rows, value = partial
            out = []
            for r0, n, v in bands:
                for a, b, vv in ((r0, min(r0 + n, row), v),
                                 (max(r0, row), min(r0 + n, row + rows),
                                  value),
                                 (max(r0, row + rows), r0 + n, v)):
                    if a < b:
                        out.append((a, b - a, vv))
            bands = out
        return bands

    def trace_lines(self):
        with open(self.trace, 'rb') as f:
            f.seek(self.trace_pos)
            data = f.read()
        end = data.rfind(b'\n') + 1             # whole lines only
        self.trace_pos += end
        return data[:end].decode().splitlines()

    def flips(self):
        """(wall time, pixels, copy ns) of each flip since the last call."""
        out = []
        for line in self.trace_lines():
            m = FLIP_RE.match(line)
            if m:
                out.append((float(m.group(1)), int(m.group(2)),
                            int(m.group(3))))
                continue
            m = REFRESH_RE.match(line)
            if m:
                # at full rate the refresh is paced at the frame period
                ms, period = int(m.group(2)), int(m.group(3)) / 1000
                self.refresh.append((float(m.group(1)),
                                     period if ms == int(period) else ms))
        return out

    def interval_at(self, t):
        """The refresh interval in effect at wall time @t."""
        ms = 0
        for when, v in self.refresh:
            if when > t:
                break
            ms = v
        return ms

    def wakeups(self):
        """Context switches of QEMU's main-loop thread so far."""
        n = 0
        with open(f'/proc/{self.proc.pid}/task/{self.proc.pid}/status') as f:
            for line in f:
                if line.startswith(('voluntary_ctxt_switches',
                                    'nonvoluntary_ctxt_switches')):
                    n += int(line.split()[1])
        return n

    def dev_id(self):
        """The device's dev-id (its owner record names our QEMU)."""
        for d in xenstore.ls(xenstore.VDISPL):
            if xenstore.read(f'{xenstore.VDISPL}/{d}/owner/pid') == \
                    str(self.proc.pid):
                return int(d)
        return None

    def quit(self):
        """QMP quit; QEMU's exit status."""
        self.monitor().quit()
        rc = self.proc.wait(timeout=20)
        self.close()
        return rc

    def close(self):
        try:
            if self._qmp:
                self._qmp.close()
            self.sock.close()
        finally:
            stop(self.proc)
            self.qemu_log.close()
