# A small VNC (RFB 3.8) client for xdf-backend's live view: its screen,
# and keys and pointer for the guest, as a viewer sends them.
#
#   from xdf.vnc import VNC
#
# SPDX-License-Identifier: GPL-2.0-or-later

import socket
import struct
import time

# X keysyms of the keys type_text() knows besides printable ASCII (whose
# keysyms are their codes).
XK_RETURN = 0xff0d
XK_BACKSPACE = 0xff08
XK_TAB = 0xff09
XK_ESCAPE = 0xff1b
XK_SHIFT_L = 0xffe1
XK_CONTROL_L = 0xffe3
XK_LEFT, XK_UP, XK_RIGHT, XK_DOWN = 0xff51, 0xff52, 0xff53, 0xff54
# ASCII that a US keyboard types with Shift held
_SHIFTED = set('~!@#$%^&*()_+{}|:"<>?ABCDEFGHIJKLMNOPQRSTUVWXYZ')


class VNC:
    """A small RFB 3.8 client (no authentication, raw encoding) for the
    backend's live view: grab() reads the screen, key(), type_text() and
    pointer() send input as a viewer does.

        v = VNC(5900)
        v.type_text("xen\n")
        v.click(320, 240)
        w, h, rgb = v.grab()
        v.close()
    """

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if not self._recv(12).startswith(b"RFB 003."):
            raise RuntimeError("not a VNC server")
        self.sock.sendall(b"RFB 003.008\n")
        types = self._recv(self._recv(1)[0])
        if 1 not in types:
            raise RuntimeError("VNC server wants authentication")
        self.sock.sendall(b"\x01")
        if struct.unpack(">I", self._recv(4))[0] != 0:
            raise RuntimeError("VNC security handshake failed")
        self.sock.sendall(b"\x01")                     # shared
        self.width, self.height = struct.unpack(">HH", self._recv(4))
        fmt = self._recv(16)
        self.bpp, self.big_endian = fmt[0], fmt[2]
        self.shifts = fmt[10], fmt[11], fmt[12]
        self.name = self._recv(struct.unpack(">I", self._recv(4))[0])
        self.buttons = 0
        self.x = self.y = 0
        # raw encoding only
        self.sock.sendall(struct.pack(">BBHi", 2, 0, 1, 0))

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("VNC server closed the connection")
            buf += chunk
        return buf

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def key(self, keysym, down):
        """A KeyEvent: X keysym @keysym pressed (@down) or released."""
        self.sock.sendall(struct.pack(">BBxxI", 4, 1 if down else 0, keysym))

    def tap(self, keysym, delay=0.0):
        """Press and release one key."""
        self.key(keysym, True)
        time.sleep(delay)
        self.key(keysym, False)
        time.sleep(delay)

    def type_text(self, text, delay=0.05):
        """Type @text as a US keyboard would: Shift around the shifted
        characters, "\n" as Return, "\t" as Tab; @delay seconds after
        each press and each release."""
        for ch in text:
            sym = {"\n": XK_RETURN, "\t": XK_TAB, "\b": XK_BACKSPACE,
                   "\x1b": XK_ESCAPE}.get(ch, ord(ch))
            shift = ch in _SHIFTED
            if shift:
                self.key(XK_SHIFT_L, True)
                time.sleep(delay)
            self.tap(sym, delay)
            if shift:
                self.key(XK_SHIFT_L, False)
                time.sleep(delay)

    def pointer(self, x, y, mask=0):
        """A PointerEvent at @x, @y (screen pixels) with button mask
        @mask: bit 0 left, 1 middle, 2 right, 3 wheel up, 4 wheel down."""
        self.sock.sendall(struct.pack(">BBHH", 5, mask, x, y))
        self.buttons, self.x, self.y = mask, x, y

    def click(self, x, y, button=1, delay=0.05):
        """Move to @x, @y, press and release @button (1 left, 2 middle,
        3 right)."""
        bit = 1 << (button - 1)
        self.pointer(x, y, self.buttons & ~bit)
        time.sleep(delay)
        self.pointer(x, y, self.buttons | bit)
        time.sleep(delay)
        self.pointer(x, y, self.buttons & ~bit)
        time.sleep(delay)

    def wheel(self, up=True, delay=0.05):
        """One wheel step where the pointer is."""
        bit = 8 if up else 16
        self.pointer(self.x, self.y, self.buttons | bit)
        time.sleep(delay)
        self.pointer(self.x, self.y, self.buttons & ~bit)
        time.sleep(delay)

    def grab(self):
        """The whole screen: (width, height, RGB bytes, 3 a pixel)."""
        if self.bpp != 32:
            raise RuntimeError(f"VNC pixel format of {self.bpp} bpp")
        w, h = self.width, self.height
        rshift, gshift, bshift = self.shifts
        self.sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
        rgb = bytearray(w * h * 3)
        while True:
            kind = self._recv(1)[0]
            if kind == 0:
                break
            if kind == 2:                             # bell
                continue
            if kind == 3:                             # server cut text
                self._recv(3)
                self._recv(struct.unpack(">I", self._recv(4))[0])
                continue
            raise RuntimeError(f"VNC message {kind} before the update")
        self._recv(1)
        order = ">I" if self.big_endian else "<I"
        for _ in range(struct.unpack(">H", self._recv(2))[0]):
            x, y, rw, rh, enc = struct.unpack(">HHHHi", self._recv(12))
            if enc != 0:
                raise RuntimeError(f"VNC encoding {enc}")
            data = self._recv(rw * rh * 4)
            for j in range(rh):
                for i in range(rw):
                    p = struct.unpack_from(order, data, (j * rw + i) * 4)[0]
                    o = ((y + j) * w + x + i) * 3
                    rgb[o:o + 3] = bytes(((p >> rshift) & 255,
                                          (p >> gshift) & 255,
                                          (p >> bshift) & 255))
        return w, h, bytes(rgb)
