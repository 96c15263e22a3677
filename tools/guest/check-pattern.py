#!/usr/bin/env python3
# check-pattern.py [--fit scale|center|crop CWxCH] FILE WIDTH HEIGHT FRAME
#
# Checks, pixel for pixel, that an image is frame FRAME of xdf-anim's test
# pattern at WIDTHxHEIGHT; with --fit, that pattern as a CWxCH connector
# of xen-displfront shows it with that fit mode (fit_image()).
# Frame k, pixel (x, y):
#
#     R = (x + 3k) mod 256
#     G = (y + 5k) mod 256
#     B = 255          if (x div 32 + y div 32 + k) is odd
#         (7k) mod 256 otherwise
#
# Reads binary PPM (P6, maxval 255; QEMU's screendump) and 8-bit PNG
# (RGB/RGBA, not interlaced).  Exit status: 0 match, 1 mismatch, 2 bad
# arguments or unreadable image.  On a mismatch it prints the first
# differences, their count and bounding box, and which frame (if any) the
# image is instead.
#
# check-pattern.py --self-test checks the checker (PPM and PNG, match and
# mismatch) on images it writes itself.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import struct
import sys
import zlib

MAX_SHOWN = 10


def pattern(x, y, k):
    r = (x + 3 * k) & 0xff
    g = (y + 5 * k) & 0xff
    b = 0xff if (x // 32 + y // 32 + k) & 1 else (7 * k) & 0xff
    return r, g, b


def expected_image(w, h, k):
    """The frame as bytes, RGB, row after row."""
    out = bytearray(w * h * 3)
    i = 0
    for y in range(h):
        g = (y + 5 * k) & 0xff
        for x in range(w):
            out[i] = (x + 3 * k) & 0xff
            out[i + 1] = g
            out[i + 2] = 0xff if (x // 32 + y // 32 + k) & 1 \
                else (7 * k) & 0xff
            i += 3
    return bytes(out)


def fit_image(w, h, pixels, cw, ch, mode):
    """What a @cw x @ch connector shows of an RGB picture, by the rule of
    xen-displfront's fit property (docs/xen-displfront.rst), recomputed
    here: scale keeps the aspect ratio at the largest size that fits,
    centred, buffer pixel d showing picture pixel (2d + 1) * s // 2D;
    center and crop are 1:1, centred or at the top left; the rest is
    black.  Returns (cw, ch, pixels)."""
    if (w, h) == (cw, ch):
        return w, h, pixels
    out = bytearray(cw * ch * 3)
    if mode != 'scale':
        pw, ph = min(w, cw), min(h, ch)
        dx = dy = sx = sy = 0
        if mode == 'center':
            dx, dy = (cw - pw) // 2, (ch - ph) // 2
            sx, sy = (w - pw) // 2, (h - ph) // 2
        for y in range(ph):
            src = ((sy + y) * w + sx) * 3
            dst = ((dy + y) * cw + dx) * 3
            out[dst:dst + pw * 3] = pixels[src:src + pw * 3]
        return cw, ch, bytes(out)
    if cw * h <= ch * w:
        pw, ph = cw, max(1, cw * h // w)
    else:
        pw, ph = max(1, ch * w // h), ch
    dx, dy = (cw - pw) // 2, (ch - ph) // 2
    xmap = [(2 * x + 1) * w // (2 * pw) for x in range(pw)]
    for y in range(ph):
        sy = (2 * y + 1) * h // (2 * ph)
        row = pixels[sy * w * 3:(sy + 1) * w * 3]
        dst = ((dy + y) * cw + dx) * 3
        out[dst:dst + pw * 3] = b''.join(row[3 * x:3 * x + 3] for x in xmap)
    return cw, ch, bytes(out)


class BadImage(Exception):
    pass


def read_ppm(data):
    fields = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b'#':
            while pos < len(data) and data[pos:pos + 1] != b'\n':
                pos += 1
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            raise BadImage('truncated PPM header')
        fields.append(data[start:pos])
    pos += 1
    if fields[0] != b'P6':
        raise BadImage('not a binary PPM (P6)')
    w, h, maxval = (int(f) for f in fields[1:])
    if maxval != 255:
        raise BadImage(f'PPM maxval {maxval}, expected 255')
    pixels = data[pos:pos + w * h * 3]
    if len(pixels) != w * h * 3:
        raise BadImage('truncated PPM pixel data')
    return w, h, pixels


def read_png(data):
    pos = 8
    idat = b''
    w = h = None
    while pos < len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b'IHDR':
            w, h, depth, color, _, _, interlace = struct.unpack('>IIBBBBB',
                                                                body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise BadImage(f'PNG depth {depth} color type {color} '
                               f'interlace {interlace}: only 8-bit RGB/RGBA, '
                               'not interlaced, is supported')
            bpp = 3 if color == 2 else 4
        elif ctype == b'IDAT':
            idat += body
        elif ctype == b'IEND':
            break
    if w is None:
        raise BadImage('PNG without IHDR')
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    out = bytearray()
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride if ftype else 0):     # 0: no filter
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
            elif ftype != 0:
                raise BadImage(f'PNG filter type {ftype}')
        prev = line
        out += line if bpp == 3 else bytes(
            v for i, v in enumerate(line) if i % 4 != 3)
    return w, h, bytes(out)


def read_image(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(b'\x89PNG\r\n\x1a\n'):
        return read_png(data)
    if data.startswith(b'P'):
        return read_ppm(data)
    raise BadImage('neither PPM nor PNG')


def which_frame(w, h, pixels, hint):
    """A frame k in 0..max(2*hint, 300) that the image is, or None."""
    samples = [(x, y) for x in (0, w // 3, w - 1) for y in (0, h // 2, h - 1)]
    for k in sorted(range(max(2 * hint, 300) + 1), key=lambda k: abs(k - hint)):
        if all(tuple(pixels[(y * w + x) * 3:(y * w + x) * 3 + 3])
               == pattern(x, y, k) for x, y in samples):
            if pixels == expected_image(w, h, k):
                return k
    return None


def write_ppm(path, w, h, pixels):
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


def self_test():
    import os
    import tempfile
    w, h, k = 70, 41, 9
    img = expected_image(w, h, k)
    assert img[:3] == bytes(pattern(0, 0, k))
    with tempfile.TemporaryDirectory() as d:
        files = [os.path.join(d, n) for n in ('a.ppm', 'a.png', 'b.png')]
        write_ppm(files[0], w, h, img)
        write_png(files[1], w, h, img, False)
        write_png(files[2], w, h, img, True)
        for f in files:
            assert read_image(f) == (w, h, img), f
            assert main(['check', f, str(w), str(h), str(k)]) == 0
            assert main(['check', f, str(w), str(h), str(k + 1)]) == 1
            assert main(['check', f, str(w + 1), str(h), str(k)]) == 1
        # fit: 2x exactly (every pixel a 2x2 block), and each mode's place
        cw, ch, big = fit_image(w, h, img, 2 * w, 2 * h, 'scale')
        assert (cw, ch) == (2 * w, 2 * h)
        for x, y in ((0, 0), (13, 7), (w - 1, h - 1)):
            for ddx, ddy in ((0, 0), (1, 0), (0, 1), (1, 1)):
                i = ((2 * y + ddy) * cw + 2 * x + ddx) * 3
                assert big[i:i + 3] == bytes(pattern(x, y, k))
        write_png(files[1], cw, ch, big, False)
        assert main(['check', '--fit', 'scale', f'{cw}x{ch}', files[1],
                     str(w), str(h), str(k)]) == 0
        assert main(['check', '--fit', 'crop', f'{cw}x{ch}', files[1],
                     str(w), str(h), str(k)]) == 1
        _, _, cen = fit_image(w, h, img, w + 10, h + 4, 'center')
        i = (2 * (w + 10) + 5) * 3
        assert cen[i:i + 3] == bytes(pattern(0, 0, k)) and not any(cen[:i])
        _, _, cut = fit_image(w, h, img, w - 6, h - 2, 'crop')
        assert cut[:3] == bytes(pattern(0, 0, k))
        _, _, small = fit_image(w, h, img, 35, 41, 'scale')
        assert not any(small[:35 * 10 * 3])     # black above: 35x20, centred
        bad = bytearray(img)
        bad[(5 * w + 7) * 3] ^= 1
        write_ppm(files[0], w, h, bytes(bad))
        assert main(['check', files[0], str(w), str(h), str(k)]) == 1
    print('check-pattern: self-test passed')
    return 0


def main(argv):
    if argv[1:] == ['--self-test']:
        return self_test()
    fit = None
    if len(argv) == 8 and argv[1] == '--fit':
        try:
            cw, ch = (int(v) for v in argv[3].split('x'))
        except ValueError:
            cw = 0
        if argv[2] not in ('scale', 'center', 'crop') or cw <= 0 or ch <= 0:
            print(f'check-pattern: --fit {argv[2]} {argv[3]}: want '
                  'scale|center|crop and the connector as WxH',
                  file=sys.stderr)
            return 2
        fit = (argv[2], cw, ch)
        argv = argv[:1] + argv[4:]
    if len(argv) != 5:
        print(f'usage: {argv[0]} [--fit scale|center|crop CWxCH] '
              'FILE.ppm|FILE.png WIDTH HEIGHT FRAME', file=sys.stderr)
        return 2
    path = argv[1]
    try:
        want_w, want_h, frame = (int(a) for a in argv[2:])
    except ValueError:
        print('check-pattern: WIDTH, HEIGHT and FRAME must be integers',
              file=sys.stderr)
        return 2
    try:
        w, h, pixels = read_image(path)
    except (OSError, BadImage, ValueError, struct.error, zlib.error) as e:
        print(f'check-pattern: {path}: {e}', file=sys.stderr)
        return 2

    expect = expected_image(want_w, want_h, frame)
    what = f'frame {frame} at {want_w}x{want_h}'
    if fit:
        _, _, expect = fit_image(want_w, want_h, expect, fit[1], fit[2],
                                 fit[0])
        want_w, want_h = fit[1], fit[2]
        what += f' fitted ({fit[0]}) into {want_w}x{want_h}'
    if (w, h) != (want_w, want_h):
        print(f'check-pattern: {path}: FAIL: image is {w}x{h}, '
              f'expected {want_w}x{want_h}')
        return 1

    if pixels == expect:
        print(f'check-pattern: {path}: OK: {what}, every pixel exact')
        return 0

    bad = 0
    x0, y0, x1, y1 = w, h, -1, -1
    for y in range(h):
        row = slice(y * w * 3, (y + 1) * w * 3)
        if pixels[row] == expect[row]:
            continue
        for x in range(w):
            i = (y * w + x) * 3
            got = pixels[i:i + 3]
            if got == expect[i:i + 3]:
                continue
            bad += 1
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
            if bad <= MAX_SHOWN:
                print(f'  ({x},{y}): got #{got.hex()} '
                      f'expected #{expect[i:i + 3].hex()}')
    if bad > MAX_SHOWN:
        print(f'  ... {bad - MAX_SHOWN} more')
    print(f'check-pattern: {path}: FAIL: {bad} of {w * h} pixels differ '
          f'from {what}, in ({x0},{y0})-({x1},{y1})')
    k = None if fit else which_frame(w, h, pixels, frame)
    if k is not None:
        print(f'check-pattern: the image is frame {k} exactly')
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
