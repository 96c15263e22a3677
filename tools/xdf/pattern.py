# xdf-anim's test pattern (tools/guest/xdf-anim.c draws it), and what a
# connector of xen-displfront shows of a picture with its fit property.
# Frame k, pixel (x, y):
#
#     R = (x + 3k) mod 256
#     G = (y + 5k) mod 256
#     B = 255          if (x div 32 + y div 32 + k) is odd
#         (7k) mod 256 otherwise
#
#   python3 -m xdf.pattern [--fit scale|center|crop CWxCH] FILE WIDTH HEIGHT FRAME
#
# checks, pixel for pixel, that an image (binary PPM, QEMU's screendump,
# or 8-bit PNG: xdf.image) is frame FRAME of the pattern at WIDTHxHEIGHT;
# with --fit, that pattern as a CWxCH connector shows it with that fit
# mode (fit_image()).  Exit status: 0 match, 1 mismatch, 2 bad arguments
# or unreadable image.  On a mismatch it prints the first differences,
# their count and bounding box, and which frame (if any) the image is
# instead.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import sys

from xdf.image import READ_ERRORS, read_image

MAX_SHOWN = 10


def pixel(x, y, k):
    """(R, G, B) of pixel (@x, @y) of frame @k."""
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


def picture(width, height, frame, fit=None):
    """Frame @frame at @width x @height as a picture; with @fit = (mode,
    cw, ch), as a connector of cw x ch shows it with that fit mode."""
    pic = (width, height, expected_image(width, height, frame))
    if fit:
        pic = fit_image(*pic, fit[1], fit[2], fit[0])
    return pic


def which_frame(w, h, pixels, hint):
    """A frame k in 0..max(2*hint, 300) that the image is, or None."""
    samples = [(x, y) for x in (0, w // 3, w - 1) for y in (0, h // 2, h - 1)]
    for k in sorted(range(max(2 * hint, 300) + 1), key=lambda k: abs(k - hint)):
        if all(tuple(pixels[(y * w + x) * 3:(y * w + x) * 3 + 3])
               == pixel(x, y, k) for x, y in samples):
            if pixels == expected_image(w, h, k):
                return k
    return None


def main(argv):
    fit = None
    if len(argv) == 8 and argv[1] == '--fit':
        try:
            cw, ch = (int(v) for v in argv[3].split('x'))
        except ValueError:
            cw = 0
        if argv[2] not in ('scale', 'center', 'crop') or cw <= 0 or ch <= 0:
            print(f'xdf.pattern: --fit {argv[2]} {argv[3]}: want '
                  'scale|center|crop and the connector as WxH',
                  file=sys.stderr)
            return 2
        fit = (argv[2], cw, ch)
        argv = argv[:1] + argv[4:]
    if len(argv) != 5:
        print('usage: python3 -m xdf.pattern [--fit scale|center|crop CWxCH] '
              'FILE.ppm|FILE.png WIDTH HEIGHT FRAME', file=sys.stderr)
        return 2
    path = argv[1]
    try:
        want_w, want_h, frame = (int(a) for a in argv[2:])
    except ValueError:
        print('xdf.pattern: WIDTH, HEIGHT and FRAME must be integers',
              file=sys.stderr)
        return 2
    try:
        w, h, pixels = read_image(path)
    except READ_ERRORS as e:
        print(f'xdf.pattern: {path}: {e}', file=sys.stderr)
        return 2

    what = f'frame {frame} at {want_w}x{want_h}'
    want_w, want_h, expect = picture(want_w, want_h, frame, fit)
    if fit:
        what += f' fitted ({fit[0]}) into {want_w}x{want_h}'
    if (w, h) != (want_w, want_h):
        print(f'xdf.pattern: {path}: FAIL: image is {w}x{h}, '
              f'expected {want_w}x{want_h}')
        return 1

    if pixels == expect:
        print(f'xdf.pattern: {path}: OK: {what}, every pixel exact')
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
    print(f'xdf.pattern: {path}: FAIL: {bad} of {w * h} pixels differ '
          f'from {what}, in ({x0},{y0})-({x1},{y1})')
    k = None if fit else which_frame(w, h, pixels, frame)
    if k is not None:
        print(f'xdf.pattern: the image is frame {k} exactly')
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
