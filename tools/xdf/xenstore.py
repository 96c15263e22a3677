# XenStore, through Xen's tools (xenstore-read, xenstore-list): dom0's
# on real Xen, xensim's under "xensim run".
#
# SPDX-License-Identifier: GPL-2.0-or-later

import subprocess

# dom0's vdispl and vkbd frontend devices (QEMU in dom0), and dom0's
# vdispl backend directory for them
VDISPL = '/local/domain/0/device/vdispl'
VKBD = '/local/domain/0/device/vkbd'
VDISPL_BACKEND = '/local/domain/0/backend/vdispl/0'


def read(path):
    """A node's value, or None."""
    r = subprocess.run(['xenstore-read', path], capture_output=True,
                       text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def ls(path):
    """The names of a node's children ([] when it has none or is not
    there)."""
    r = subprocess.run(['xenstore-list', path], capture_output=True,
                       text=True)
    return r.stdout.split() if r.returncode == 0 else []


def resolution(dev, conn=0, frontend=VDISPL):
    """(width, height) of connector @conn of vdispl device @dev, (0, 0)
    while it has none."""
    value = read(f'{frontend}/{dev}/{conn}/resolution') or '0x0'
    w, h = (int(v) for v in value.split('x'))
    return w, h
