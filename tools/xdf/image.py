# Pictures: (width, height, RGB bytes, row after row), read from and
# written to PNG and PPM files.  The readers need only the standard
# library (read_image(); read_picture() takes Pillow when there is one:
# faster).
#
#   python3 -m xdf.image FILE.png       # "WIDTH HEIGHT COLORS NONBG"
#   python3 -m xdf.image FILE.png --pixel X Y   # "R G B"
#
# (COLORS: distinct colours; NONBG: pixels that differ from the top-left
# one.)  For shell tests.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import struct
import sys
import zlib


class BadImage(Exception):
    pass


def parse_ppm(data):
    """A binary PPM file's bytes as a picture."""
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


def parse_png(data):
    """An 8-bit RGB(A) PNG file's bytes as a picture (no interlace)."""
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
    """A PNG or PPM file as a picture, with the standard library only
    (BadImage when it is neither, or of a kind not read here)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(b'\x89PNG\r\n\x1a\n'):
        return parse_png(data)
    if data.startswith(b'P'):
        return parse_ppm(data)
    raise BadImage('neither PPM nor PNG')


# What reading a picture that is not all there yet can raise.
READ_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error,
               zlib.error, BadImage)


def read_picture(path):
    """A PNG or PPM file as a picture (Pillow where there is one: fast)."""
    try:
        from PIL import Image
    except ImportError:
        try:
            return read_image(path)
        except BadImage as e:
            raise ValueError(f'{path}: {e}') from None
    with Image.open(path) as im:
        im.load()
        return im.size[0], im.size[1], im.convert('RGB').tobytes()


def write_ppm(path, picture):
    w, h, rgb = picture
    with open(path, 'wb') as f:
        f.write(b'P6\n%d %d\n255\n' % (w, h) + rgb)


def rows(picture):
    """The rows of @picture, as RGB bytes each."""
    w, h, rgb = picture
    return [rgb[y * w * 3:(y + 1) * w * 3] for y in range(h)]


def main(argv):
    try:
        w, h, rgb = read_image(argv[0])
    except BadImage as e:
        sys.exit(f"{argv[0]}: {e}")
    if len(argv) == 4 and argv[1] == "--pixel":
        x, y = int(argv[2]), int(argv[3])
        i = (y * w + x) * 3
        print(*rgb[i:i + 3])
        return 0
    bg = rgb[0:3]
    colors, nonbg = set(), 0
    for i in range(0, len(rgb), 3):
        px = rgb[i:i + 3]
        colors.add(px)
        nonbg += px != bg
    print(w, h, len(colors), nonbg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
