#!/bin/bash
# Makes docs/fit-{scale,center,crop}.png: what xdf-backend receives from
# -device xen-displfront,fit=MODE on a 1024x576 connector while SeaBIOS
# shows its 720x400 text screen on std VGA.  Run from the repository, on
# xensim, after a build:
#
#   XENSIM_GNTALLOC_LIMIT=16384 build/xensim run -- docs/fit-pictures.sh
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for fit in scale center crop; do
    mkdir -p "$out/$fit"
    build/tools/backend/xdf-backend --output-dir "$out/$fit" --timeout 60 \
        2>/dev/null &
    be=$!
    build/qemu-system-x86_64 -M pc -accel tcg -display none -nodefaults \
        -device VGA,id=v \
        -device "xen-displfront,display=v,resolution=1024x576,fit=$fit" &
    qemu=$!
    sleep 7                     # SeaBIOS gives up on its boot devices
    kill -USR1 "$be"
    sleep 1
    kill "$qemu"
    wait "$qemu" || true
    kill "$be"
    wait "$be" || true
    cp "$out/$fit/conn0-last.png" "docs/fit-$fit.png"
    echo "docs/fit-$fit.png"
done
