#!/usr/bin/env python3
# pngcheck.py FILE: print "WIDTH HEIGHT COLORS NONBG" for an 8-bit RGB PNG
# (COLORS: distinct colours, NONBG: pixels that differ from the top-left
# one), and with --pixel X Y the RGB of that pixel.  Standard library
# only, with the PNG reader of tools/guest/check-pattern.py.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import importlib.util
import os
import sys

# One PNG reader for the project: the guest's pattern checker's.
_spec = importlib.util.spec_from_file_location(
    "check_pattern", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                  "..", "guest", "check-pattern.py"))
_check_pattern = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_check_pattern)


def read_png(path):
    """WIDTH, HEIGHT and the rows of an 8-bit RGB(A) PNG, as RGB bytes."""
    try:
        w, h, px = _check_pattern.read_image(path)
    except _check_pattern.BadImage as e:
        sys.exit(f"{path}: {e}")
    return w, h, [px[y * w * 3:(y + 1) * w * 3] for y in range(h)]


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
