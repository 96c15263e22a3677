# xdf: the Python helpers of the project's tests, demo and benchmark, each
# written once.  Import the module you need; this file imports none.
#
#   tap          Tap: numbered TAP lines ("ok N - ..."), or unnumbered
#   poll         until(predicate, timeout, what): the one poll loop;
#                within(): the same, for a check that reports
#   process      stop(): SIGTERM, then SIGKILL
#   xenstore     read(), ls(), resolution(): XenStore through its tools
#   qmp          QMP: QEMU's own client (qemu.qmp) at a Unix socket
#   vnc          VNC: a small RFB client (the backend's live view)
#   image        pictures (width, height, RGB bytes): PNG and PPM
#   pattern      xdf-anim's test pattern, the device's fit rule
#   screen       until_same(): a guest's screen against a backend's
#   backend      Backend: xdf-backend started, read (SIGUSR1), stopped
#   installed    the Debian packages' paths, the backend service's command
#   contactsheet the demo's contact sheet and animation
#   guestboot    the demo guest's boot: accelerator, stages
#   bochs        a bochs-display driven through QEMU's qtest protocol
#
# Found through PYTHONPATH=<source>/tools:<build>/qemu-src/python (the
# second for qemu.qmp): meson's test environment, tools/run-demo,
# tools/run-bench and the real-Xen rig's tools/tests/realxen/lib.sh set
# it.  Scripts in tools/ itself find xdf without it.
#
# SPDX-License-Identifier: GPL-2.0-or-later
