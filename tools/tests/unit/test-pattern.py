#!/usr/bin/python3
# test-pattern.py: xdf.pattern (xdf-anim's pattern, the fit rule, the
# check command) and xdf.image's readers (PPM with a comment; PNG, RGB
# and RGBA, every filter type), on pictures it writes itself: match and
# mismatch (meson test check-pattern).  Exit status 0 when all hold.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import struct
import sys
import tempfile
import zlib

from xdf.image import read_image
from xdf.pattern import expected_image, fit_image, pixel
from xdf.pattern import main as check


def write_ppm(path, w, h, pixels):
    """A binary PPM with a comment in its header (as a reader must
    skip)."""
    with open(path, 'wb') as f:
        f.write(b'P6\n# self-test\n%d %d\n255\n' % (w, h) + pixels)


def write_png(path, w, h, pixels, alpha):
    """8-bit RGB or RGBA, with every filter type in turn."""
    bpp = 4 if alpha else 3
    rows = []
    prev = bytearray(w * bpp)
    for y in range(h):
        row = bytearray()
        for i in range(y * w * 3, (y + 1) * w * 3, 3):
            row += pixels[i:i + 3] + (b'\xff' if alpha else b'')
        ftype = y % 5
        out = bytearray([ftype])
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = (0, a, b, (a + b) // 2,
                    a if pa <= pb and pa <= pc else (b if pb <= pc else c))
            out.append((row[i] - pred[ftype]) & 0xff)
        rows.append(bytes(out))
        prev = row

    def chunk(t, body):
        return (struct.pack('>I', len(body)) + t + body +
                struct.pack('>I', zlib.crc32(t + body) & 0xffffffff))
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' +
                chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8,
                                           6 if alpha else 2, 0, 0, 0)) +
                chunk(b'IDAT', zlib.compress(b''.join(rows))) +
                chunk(b'IEND', b''))


def main():
    w, h, k = 70, 41, 9
    img = expected_image(w, h, k)
    assert img[:3] == bytes(pixel(0, 0, k))
    with tempfile.TemporaryDirectory() as d:
        files = [os.path.join(d, n) for n in ('a.ppm', 'a.png', 'b.png')]
        write_ppm(files[0], w, h, img)
        write_png(files[1], w, h, img, False)
        write_png(files[2], w, h, img, True)
        for f in files:
            assert read_image(f) == (w, h, img), f
            assert check(['check', f, str(w), str(h), str(k)]) == 0
            assert check(['check', f, str(w), str(h), str(k + 1)]) == 1
            assert check(['check', f, str(w + 1), str(h), str(k)]) == 1
        # fit: 2x exactly (every pixel a 2x2 block), and each mode's place
        cw, ch, big = fit_image(w, h, img, 2 * w, 2 * h, 'scale')
        assert (cw, ch) == (2 * w, 2 * h)
        for x, y in ((0, 0), (13, 7), (w - 1, h - 1)):
            for ddx, ddy in ((0, 0), (1, 0), (0, 1), (1, 1)):
                i = ((2 * y + ddy) * cw + 2 * x + ddx) * 3
                assert big[i:i + 3] == bytes(pixel(x, y, k))
        write_png(files[1], cw, ch, big, False)
        assert check(['check', '--fit', 'scale', f'{cw}x{ch}', files[1],
                     str(w), str(h), str(k)]) == 0
        assert check(['check', '--fit', 'crop', f'{cw}x{ch}', files[1],
                     str(w), str(h), str(k)]) == 1
        _, _, cen = fit_image(w, h, img, w + 10, h + 4, 'center')
        i = (2 * (w + 10) + 5) * 3
        assert cen[i:i + 3] == bytes(pixel(0, 0, k)) and not any(cen[:i])
        _, _, cut = fit_image(w, h, img, w - 6, h - 2, 'crop')
        assert cut[:3] == bytes(pixel(0, 0, k))
        _, _, small = fit_image(w, h, img, 35, 41, 'scale')
        assert not any(small[:35 * 10 * 3])     # black above: 35x20, centred
        bad = bytearray(img)
        bad[(5 * w + 7) * 3] ^= 1
        write_ppm(files[0], w, h, bytes(bad))
        assert check(['check', files[0], str(w), str(h), str(k)]) == 1
    print('check-pattern: self-test passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
