#!/usr/bin/env python3
# The main job's guest: boot QEMU with an emulated card and
# -device xen-displfront on the (simulated) Xen this runs on, let the
# firmware draw, and show what the device and XenStore say.
#
# Run it through tools/run-demo (which starts xensim around it).
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU = os.path.join(TOP, "build", "qemu-system-x86_64")
CARDS = {"vga": "VGA", "bochs": "bochs-display", "cirrus": "cirrus-vga",
         "virtio": "virtio-gpu-pci"}


def say(msg):
    print(f"[demo] {msg}", flush=True)


class QMP:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())            # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError(f"{name}: {r['error']['desc']}")
            return r["return"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--card", choices=sorted(CARDS), default="vga")
    ap.add_argument("--resolution", default="1024x768")
    ap.add_argument("--be-alloc", action="store_true")
    ap.add_argument("--seconds", type=float, default=4.0,
                    help="how long to let the firmware run")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "demo"))
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="xdf-demo-")
    qmp_path = os.path.join(tmp, "qmp.sock")
    accel = "kvm:tcg" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
    cmd = [QEMU, "-M", "pc", "-accel", accel, "-m", "256",
           "-display", "none", "-nodefaults", "-serial", "none",
           "-device", f"{CARDS[args.card]},id=card0",
           "-device", "xen-displfront,id=xdf0,display=card0,"
                      f"resolution={args.resolution},"
                      f"be-alloc={'on' if args.be_alloc else 'off'}",
           "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    say("starting: " + " ".join(cmd))
    qemu = subprocess.Popen(cmd)
    try:
        for _ in range(100):
            if os.path.exists(qmp_path) or qemu.poll() is not None:
                break
            time.sleep(0.05)
        if qemu.poll() is not None:
            say(f"QEMU exited with status {qemu.returncode}")
            return 1
        qmp = QMP(qmp_path)
        say(f"guest running ({accel}); letting the firmware draw for "
            f"{args.seconds:g} s")
        time.sleep(args.seconds)
        state = qmp.cmd("qom-get", path="/machine/peripheral/xdf0",
                        property="state")
        say(f"xen-displfront state: {state}")
        shot = os.path.join(args.out, f"console-{args.card}.ppm")
        qmp.cmd("screendump", filename=shot)
        say(f"the card's console as QEMU sees it: {shot}")
        say("XenStore:")
        subprocess.run(["xenstore-ls", "-f", "/local/domain"], check=False)
        qmp.cmd("quit")
        qemu.wait(timeout=10)
        say(f"QEMU exited with status {qemu.returncode}")
        return qemu.returncode
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()


if __name__ == "__main__":
    sys.exit(main())
