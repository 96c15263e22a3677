#!/usr/bin/python3
# test-contactsheet.py: checks xdf.contactsheet's pictures with the
# project's own PNG reader (xdf.image, not Pillow's), as TAP.
#
#   test-contactsheet.py              on frames it draws itself (unit)
#   test-contactsheet.py DEMO_OUT     on what tools/demo.py left in DEMO_OUT
#                                     (frames/, contact-sheet.png, run.apng)
#
# The sheet must have the size layout() gives for its tiles, and the last
# tile must hold the last frame, pixel for pixel, shrunk as documented
# (tile pixel (x, y) = frame pixel (f*x + f//2, f*y + f//2)).  The
# animation must be an APNG with one frame per frame received.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import struct
import sys
import tempfile

from xdf import contactsheet
from xdf.image import read_image, rows as rows_of
from xdf.tap import Tap

tap = Tap()
ok = tap.ok


def apng_frames(path):
    """num_frames of the acTL chunk, or None for a still PNG."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        return None
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        if kind == b'acTL':
            return struct.unpack('>I', data[pos + 8:pos + 12])[0]
        if kind == b'IDAT':
            return None
        pos += 12 + length
    return None


def check_sheet(frames, sheet, anim, what):
    """The checks of the header, for @frames as given to the writer."""
    last = read_image(frames[-1])
    fw, fh, last_rows = last[0], last[1], rows_of(last)
    tiles = min(contactsheet.MAX_TILES, len(frames))
    # room for the largest frame of the run, from each PNG's IHDR
    rw, rh = contactsheet.run_size(frames)
    f, (tw, th), size, boxes = contactsheet.layout(tiles, rw, rh)
    sheet_pic = read_image(sheet)
    sw, sh, rows = sheet_pic[0], sheet_pic[1], rows_of(sheet_pic)
    ok((sw, sh) == size,
       f'{what}: sheet is {sw}x{sh} for {tiles} tiles of {rw}x{rh} '
       f'(expected {size[0]}x{size[1]})')
    x0, y0 = boxes[-1]
    bad = 0
    for y in range(fh // f):
        src = last_rows[f * y + f // 2]
        dst = rows[y0 + y]
        for x in range(fw // f):
            sx = 3 * (f * x + f // 2)
            if dst[3 * (x0 + x):3 * (x0 + x) + 3] != src[sx:sx + 3]:
                bad += 1
    ok(bad == 0, f'{what}: the last tile ({fw // f}x{fh // f} at {x0},{y0}, '
       f'scale 1/{f}, tiles {tw}x{th}) is the last frame '
       f'({os.path.basename(frames[-1])}); {bad} pixels differ')
    ok(apng_frames(anim) == len(frames),
       f'{what}: the animation has {apng_frames(anim)} frames for '
       f'{len(frames)} received')


def unit():
    from PIL import Image
    d = tempfile.mkdtemp(prefix='xdf-sheet-')
    frames = []
    w, h = 1024, 96
    for i in range(1, 24):
        # distinct everywhere: x, y and the frame number in the channels
        img = Image.frombytes('RGB', (w, h), bytes(
            v for y in range(h) for x in range(w)
            for v in ((x * 7 + i) & 255, (y * 3 + i * 11) & 255,
                      (x ^ y) + i * 9 & 255)))
        p = os.path.join(d, f'conn0-{i * 2:04d}.png')
        img.save(p)
        frames.append(p)
    ok(contactsheet.frames_in(d) == frames, 'frames_in orders by number')
    chosen = contactsheet.pick(frames, keep=[frames[5]])
    ok(len(chosen) == contactsheet.MAX_TILES and chosen[0] == frames[0]
       and chosen[-1] == frames[-1] and frames[5] in chosen
       and chosen == sorted(chosen, key=contactsheet.frame_number),
       'pick: 16 tiles, first, last and the kept one, in order')
    sheet = os.path.join(d, 'sheet.png')
    anim = os.path.join(d, 'run.apng')
    contactsheet.write_sheet([(p, f'frame {contactsheet.frame_number(p)}')
                              for p in chosen],
                             contactsheet.run_size(frames), sheet)
    contactsheet.write_animation(frames, anim)
    check_sheet(frames, sheet, anim, '23 drawn frames of 1024x96')

    # an odd scale (3), fewer frames than columns, the last one smaller
    few = []
    for i in range(2):
        img = Image.new('RGB', (1100 - 300 * i, 300 - 100 * i),
                        (i * 50, 200, 10))
        img.putpixel((1, 1), (1, 2, 3))
        img.putpixel((4, 1), (250, 251, 252))
        p = os.path.join(d, f'conn1-{i:04d}.png')
        img.save(p)
        few.append(p)
    contactsheet.write_sheet([(p, '') for p in few],
                             contactsheet.run_size(few), sheet)
    contactsheet.write_animation(few, anim)
    check_sheet(few, sheet, anim, '2 frames, 1100x300 and 800x200')


def demo(out):
    frames = contactsheet.frames_in(os.path.join(out, 'frames'))
    ok(len(frames) > 0, f'{len(frames)} frames received in {out}/frames')
    if frames:
        check_sheet(frames, os.path.join(out, 'contact-sheet.png'),
                    os.path.join(out, 'run.apng'), 'demo')


def main():
    if len(sys.argv) == 1:
        unit()
    else:
        demo(sys.argv[1])
    return tap.end()


if __name__ == '__main__':
    sys.exit(main())
