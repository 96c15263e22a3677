#!/usr/bin/env python3
# pngcheck.py FILE: print "WIDTH HEIGHT COLORS NONBG" for an 8-bit RGB PNG
# (COLORS: distinct colours, NONBG: pixels that differ from the top-left
# one), and with --pixel X Y the RGB of that pixel.  Standard library
# only: enough PNG to read what libpng writes (8-bit RGB, no interlace).
#
# SPDX-License-Identifier: GPL-2.0-or-later
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype != 2 or inter:
                sys.exit(f"{path}: not 8-bit RGB without interlace")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp, stride = 3, w * 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, rows


def main():
    w, h, rows = read_png(sys.argv[1])
    if len(sys.argv) == 5 and sys.argv[2] == "--pixel":
        x, y = int(sys.argv[3]), int(sys.argv[4])
        print(*rows[y][x * 3:x * 3 + 3])
        return
    bg = rows[0][0:3]
    colors, nonbg = set(), 0
    for r in rows:
        for x in range(w):
            px = r[x * 3:x * 3 + 3]
            colors.add(px)
            nonbg += px != bg
    print(w, h, len(colors), nonbg)


if __name__ == "__main__":
    main()
