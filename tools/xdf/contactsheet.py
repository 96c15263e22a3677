# A picture of a run from the frames xdf-backend saved
# (DIR/conn<i>-<n>.png): one contact sheet (PNG) and one animation (APNG),
# both with Debian's Pillow (python3-pil).
#
#   python3 -m xdf.contactsheet FRAMES_DIR SHEET.png [ANIMATION.png]
#
# The sheet holds at most MAX_TILES frames, in order: the first, the last
# and others spread evenly between them (callers may pick their own).
# Layout, which tests recompute with layout():
#   - the frames of a run differ in size as the guest changes mode: every
#     tile has room for the largest frame of the run (W x H, the widest
#     and the highest), and each frame sits at its tile's top left;
#   - scale: frames are shrunk by the integer factor
#     f = ceil(W / MAX_TILE_WIDTH), nearest neighbour: tile pixel (x, y)
#     is frame pixel (f*x + f//2, f*y + f//2);
#   - COLUMNS tiles a row (fewer when there are fewer tiles), PAD pixels
#     around and between tiles, a LABEL high caption under each tile;
#   - tile i sits at column i % columns, row i // columns.
# The animation has every frame at the same scale, timed by the frames'
# modification times (each shown 40 ms to 2 s, the last 3 s), looping.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import glob
import math
import os
import re
import struct
import sys

MAX_TILES = 16
MAX_TILE_WIDTH = 512
COLUMNS = 4
PAD = 8
LABEL = 16
BACKGROUND = (40, 40, 40)
TEXT = (235, 235, 235)


def frame_number(path):
    """The backend's frame number in conn<i>-<n>.png."""
    m = re.search(r'-(\d+)\.png$', path)
    return int(m.group(1)) if m else -1


def frames_in(directory, connector=0):
    """The numbered frames of one connector, in order."""
    return sorted(glob.glob(os.path.join(directory,
                                         f'conn{connector}-[0-9]*.png')),
                  key=frame_number)


def png_size(path):
    """(width, height) from a PNG's IHDR."""
    with open(path, 'rb') as f:
        head = f.read(24)
    if head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        raise ValueError(f'{path}: not a PNG')
    return struct.unpack('>II', head[16:24])


def run_size(frames):
    """(W, H): room for the largest frame of the run."""
    sizes = [png_size(p) for p in frames]
    return max(w for w, _ in sizes), max(h for _, h in sizes)


def pick(frames, keep=(), max_tiles=MAX_TILES):
    """min(@max_tiles, len(@frames)) of @frames, in order: spread evenly
    from the first to the last, with each of @keep in place of the
    nearest spread one."""
    n = len(frames)
    if n <= max_tiles:
        return list(frames)
    idx = [round(i * (n - 1) / (max_tiles - 1)) for i in range(max_tiles)]
    fixed = {0, max_tiles - 1}
    for k in keep:
        if k not in frames or frames.index(k) in idx:
            continue
        want = frames.index(k)
        free = [j for j in range(max_tiles) if j not in fixed]
        if not free:
            break
        j = min(free, key=lambda j: abs(idx[j] - want))
        idx[j] = want
        fixed.add(j)
    return [frames[i] for i in sorted(idx)]


def layout(n, width, height):
    """(scale, tile size, sheet size, tile boxes) for @n frames of
    @width x @height: see the header."""
    f = max(1, math.ceil(width / MAX_TILE_WIDTH))
    tw, th = width // f, height // f
    cols = min(COLUMNS, n)
    rows = math.ceil(n / cols)
    sheet = (PAD + cols * (tw + PAD), PAD + rows * (th + LABEL + PAD))
    boxes = [(PAD + (i % cols) * (tw + PAD), PAD + (i // cols) * (th + LABEL + PAD))
             for i in range(n)]
    return f, (tw, th), sheet, boxes


def shrink(img, f):
    """Nearest-neighbour shrink by the integer @f, pixel (f*x + f//2, ...)."""
    from PIL import Image
    if f == 1:
        return img
    w, h = img.size[0] // f, img.size[1] // f
    # A box per output pixel: Pillow's NEAREST then samples its centre.
    return img.resize((w, h), Image.NEAREST, box=(0, 0, w * f, h * f))


def write_sheet(entries, size, out):
    """@entries: (path, caption) pairs; @size: run_size() of the run."""
    from PIL import Image, ImageDraw
    f, (tw, th), size, boxes = layout(len(entries), *size)
    sheet = Image.new('RGB', size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for (path, caption), (x, y) in zip(entries, boxes):
        with Image.open(path) as img:
            sheet.paste(shrink(img.convert('RGB'), f), (x, y))
        draw.text((x + 2, y + th + 3), caption, fill=TEXT)
    sheet.save(out, optimize=False)
    return out


def write_animation(frames, out):
    """Every frame in @frames, at the sheet's scale, as an APNG (each on
    a canvas of the run's largest size)."""
    from PIL import Image
    times = [os.path.getmtime(p) for p in frames]
    durations = [min(2000, max(40, round((b - a) * 1000)))
                 for a, b in zip(times, times[1:])] + [3000]
    f, canvas = layout(1, *run_size(frames))[:2]
    images = []
    for p in frames:
        with Image.open(p) as img:
            im = Image.new('RGB', canvas, BACKGROUND)
            im.paste(shrink(img.convert('RGB'), f), (0, 0))
            images.append(im)
    images[0].save(out, format='PNG', save_all=True,
                   append_images=images[1:], duration=durations, loop=0)
    return out


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit('usage: python3 -m xdf.contactsheet FRAMES_DIR SHEET.png [ANIMATION.png]')
    frames = frames_in(sys.argv[1])
    if not frames:
        sys.exit(f'{sys.argv[1]}: no conn0-<n>.png frames')
    chosen = pick(frames)
    write_sheet([(p, f'frame {frame_number(p)}') for p in chosen],
                run_size(frames), sys.argv[2])
    print(sys.argv[2])
    if len(sys.argv) == 4:
        print(write_animation(frames, sys.argv[3]))


if __name__ == '__main__':
    main()
