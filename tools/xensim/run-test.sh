#!/bin/sh
# Run a test under a private copy of the xensim launcher.
#   run-test.sh SRCDIR BUILDDIR CMD [ARG...]
# (The top level's build/xensim is generated after this folder is read,
# so tests make their own copy from xensim.in.)
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -e
srcdir=$1 builddir=$2
shift 2
launcher=$(mktemp "${TMPDIR:-/tmp}/xensim-test.XXXXXX")
trap 'rm -f "$launcher"' EXIT
sed -e "s|@BUILDDIR@|$builddir|g" -e "s|@SRCDIR@|$srcdir|g" \
    "$srcdir/tools/xensim/xensim.in" > "$launcher"
set +e
sh "$launcher" run -- "$@"
