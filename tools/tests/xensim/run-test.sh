#!/bin/sh
# Run a test under a private copy of the xensim launcher.
#   run-test.sh SRCDIR BUILDDIR CMD [ARG...]
# (The top level's build/xensim is generated after this folder is read,
# so tests make their own copy from xensim.in.)
#
# SPDX-License-Identifier: GPL-2.0-or-later
SRCDIR=$1 BUILDDIR=$2
shift 2
. "$SRCDIR/tools/tests/xensim/lib.sh"
make_launcher
trap 'rm -f "$launcher"' EXIT
sh "$launcher" run -- "$@"
