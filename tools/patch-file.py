#!/usr/bin/python3
# patch-file.py PATCH PATH OUT: write to OUT the file PATH as PATCH (a
# git format-patch that creates it) adds it.  The unit tests and the
# fuzzer compile against the displif.h of patches/0001 this way: the same
# header the device is built with, one source of truth.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import sys

patch, path, out = sys.argv[1:4]
lines, inside, hunk = [], False, False
with open(patch) as f:
    for line in f:
        if line.startswith('diff --git '):
            inside = line.rstrip('\n').endswith(f' b/{path}')
            hunk = False
        elif inside and line.startswith('@@ '):
            hunk = True
        elif inside and hunk:
            if line.startswith('+'):
                lines.append(line[1:])
            elif line.startswith('-- \n') or not line.strip():
                inside = False
            else:
                sys.exit(f'{patch}: {path} is not a new file there '
                         f'(line {line!r})')
if not lines:
    sys.exit(f'{patch} does not create {path}')
with open(out, 'w') as f:
    f.writelines(lines)
