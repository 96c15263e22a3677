#!/usr/bin/env python3
# The main job, run on xensim by tools/run-demo: a real guest's screen
# through displif.
#
# Starts the reference displif backend (tools/backend/xdf-backend), which
# saves every new frame it receives as PNG, then our QEMU with an
# emulated card and -device xen-displfront, booting Debian's kernel with
# the demo initramfs (tools/guest): the firmware and the kernel's boot
# console first, then xdf-anim's page-flipped animation through DRM/KMS.
# When the guest says it is done, the backend's last frame is checked
# pixel for pixel against the animation's known pattern, and the frames
# are left in --out.  Exit status 0 when the pattern arrived exact.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

from xdf import contactsheet
from xdf.backend import Backend
from xdf.guestboot import BootStages, KVM_PROBE_SECONDS, choose_accel
from xdf.image import read_image, write_ppm
from xdf.pattern import picture
from xdf.process import stop
from xdf.qmp import QMP
from xdf.screen import until_same
from xdf.vnc import VNC

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
QEMU = os.path.join(BUILD, "qemu-system-x86_64")

CARDS = {"vga": "VGA", "bochs": "bochs-display", "cirrus": "cirrus-vga",
         "virtio": "virtio-gpu-pci"}


def say(msg):
    print(f"[demo] {msg}", flush=True)


def vnc_grab(port, path):
    """Fetch the whole screen from the backend's VNC live view, write it
    to @path as PPM and return it."""
    with VNC(port) as v:
        picture = v.grab()
    write_ppm(path, picture)
    return picture


def banner_pixels(path):
    """Pixels in the top quarter of a frame that differ from its top left
    one: the firmware's banner (at the top of the guest's picture, which
    the connector may show lower down, scaled and centred)."""
    w, h, rgb = read_image(path)
    bg = rgb[0:3]
    return sum(1 for i in range(0, w * (h // 4) * 3, 3)
               if rgb[i:i + 3] != bg)


def watch_guest(args, qemu, serial, frames_dir, start):
    """Follow the guest to "xdf-anim: done", printing its stages and the
    frames received as they arrive.  Returns (done, BootStages, the stage
    the guest was in when each frame arrived)."""
    stages = BootStages(start)
    seen_in = {}
    end = start + args.timeout
    seen = 0
    shown = 0
    while True:
        now = time.monotonic()
        text = open(serial, errors="replace").read()
        # the last line may still be being written: leave it for later
        lines = text[:text.rfind("\n") + 1].splitlines()
        fatal = None
        for line in lines[seen:]:
            if stages.line(line, now) and stages.stage != "done":
                say(f"{now - start:6.1f} s  guest: {stages.stage} "
                    f"({line.strip()[:70]})")
            elif "xdf-" in line and not line.startswith("xdf-anim: frame "):
                say(f"{now - start:6.1f} s  guest: {line.strip()}")
            fatal = fatal or stages.failed()
        seen = len(lines)
        for f in contactsheet.frames_in(frames_dir):
            seen_in.setdefault(f, stages.stage)
        stages.frame_count(len(seen_in), now)
        if stages.frames != shown:
            shown = stages.frames
            drawn = (f", animation frame {stages.anim_frames}/{args.frames}"
                     if stages.anim_frames else "")
            say(f"{now - start:6.1f} s  frames received: {shown}{drawn}")
        if stages.stage == "done":
            return True, stages, seen_in
        if fatal:
            say("the guest cannot go on: " + stages.describe())
            return False, stages, seen_in
        if qemu.poll() is not None:
            say(f"QEMU exited with status {qemu.returncode}: the guest "
                + stages.describe())
            return False, stages, seen_in
        if now - stages.last_progress > args.stall:
            say(f"the guest printed nothing for {args.stall:g} s: "
                + stages.describe())
            return False, stages, seen_in
        if now > end:
            say(f"the guest did not finish in {args.timeout:g} s: "
                + stages.describe())
            return False, stages, seen_in
        time.sleep(0.5)


def picture_of_run(frames, seen_in, banner, out):
    """The contact sheet (the banner and the first frame of each boot
    stage among the tiles) and the animation; returns their paths."""
    firsts = {}
    for p in frames:
        firsts.setdefault(seen_in.get(p, "done"), p)
    chosen = contactsheet.pick(frames, keep=[banner] + list(firsts.values()))
    t0 = os.path.getmtime(frames[0])
    entries = []
    for p in chosen:
        # what "done" finds on screen the animation drew
        what = "firmware banner" if p == banner else \
            seen_in.get(p, "done").replace("done", "animation")
        entries.append((p, f"frame {contactsheet.frame_number(p)}  "
                           f"+{os.path.getmtime(p) - t0:.1f} s  {what}"))
    sheet = contactsheet.write_sheet(entries, contactsheet.run_size(frames),
                                     os.path.join(out, "contact-sheet.png"))
    anim = contactsheet.write_animation(frames,
                                        os.path.join(out, "run.apng"))
    return sheet, anim


def main():
    ap = argparse.ArgumentParser(description="xen-displfront demo")
    ap.add_argument("--card", choices=sorted(CARDS), default="vga")
    ap.add_argument("--resolution", default="1024x768",
                    help="the connector's size (default 1024x768)")
    ap.add_argument("--mode", default="640x480",
                    help="the animation's video mode (default 640x480); "
                         "'preferred': none given, the guest takes the mode "
                         "its card prefers, which is the connector's")
    ap.add_argument("--fit", choices=("scale", "center", "crop"),
                    default="scale",
                    help="how the guest's picture fills the connector "
                         "(the device's fit property; default scale)")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--be-alloc", action="store_true",
                    help="let the backend allocate the buffers")
    ap.add_argument("--kvm", choices=("auto", "on", "off"), default="auto",
                    help="auto: KVM when a kernel boots on it within "
                         f"{KVM_PROBE_SECONDS} s, else TCG (default)")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--stall", type=float, default=60,
                    help="give up when the guest prints nothing on its "
                         "serial line for this long (default 60 s)")
    ap.add_argument("--vnc", type=int, default=5900, metavar="PORT",
                    help="the backend's live view (VNC on 127.0.0.1:PORT; "
                         "0: off; default 5900)")
    ap.add_argument("--hold", type=float, default=0, metavar="SECONDS",
                    help="keep the guest and the live view up this long "
                         "after the animation")
    ap.add_argument("--qemu", default=QEMU,
                    help=f"the QEMU to run (default {QEMU})")
    ap.add_argument("--out", default=os.path.join(BUILD, "demo"))
    args = ap.parse_args()

    cw, ch = (int(v) for v in args.resolution.split("x"))
    # the connector is the guest's monitor: its mode, when none is given
    w, h = (cw, ch) if args.mode == "preferred" else \
        (int(v) for v in args.mode.split("x"))
    mode_arg = "" if args.mode == "preferred" else f"xdf.mode={args.mode} "
    out = os.path.join(args.out, args.card)
    frames_dir = os.path.join(out, "frames")
    os.makedirs(frames_dir, exist_ok=True)
    for old in glob.glob(os.path.join(frames_dir, "*.png")):
        os.unlink(old)
    guest = os.path.join(BUILD, "guest")
    tmp = tempfile.mkdtemp(prefix="xdf-demo-")
    qmp_path = os.path.join(tmp, "qmp.sock")
    serial = os.path.join(out, "serial.log")

    say("building the demo guest (Debian's kernel, our initramfs)")
    subprocess.run([os.path.join(TOP, "tools", "guest", "build-guest.sh"),
                    guest], check=True)
    kernel = os.path.join(guest, "vmlinuz")
    say(f"checking KVM (--kvm {args.kvm})")
    try:
        accel = choose_accel(args.qemu, kernel, args.kvm, say)
    except RuntimeError as e:
        say(f"FAIL: {e}")
        return 1

    say(f"starting the displif backend; frames go to {frames_dir}")
    be_opts = ["--on-change", "--timeout", str(int(args.timeout + args.hold))]
    if args.vnc:
        be_opts += ["--vnc", str(args.vnc)]
        say(f"live view: any VNC viewer on 127.0.0.1:{args.vnc} "
            f"(e.g. vncviewer 127.0.0.1::{args.vnc})")
    backend = Backend(BUILD, frames_dir, *be_opts,
                      log=os.path.join(out, "backend.log"))
    open(serial, "w").close()
    cmd = [args.qemu, "-M", "pc", "-accel", accel, "-m", "512",
           "-display", "none", "-nodefaults",
           "-serial", f"file:{serial}",
           "-device", f"{CARDS[args.card]},id=card0",
           "-device", "xen-displfront,id=xdf0,display=card0,"
                      f"resolution={args.resolution},fit={args.fit},"
                      f"be-alloc={'on' if args.be_alloc else 'off'}",
           "-kernel", kernel,
           "-initrd", os.path.join(guest, "initrd.img"),
           "-append", f"console=ttyS0 earlyprintk=ttyS0 xdf.frames={args.frames} "
                      f"{mode_arg}xdf.hold=-1",
           "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    say(f"booting the guest on {CARDS[args.card]} ({accel}): "
        + " ".join(cmd))
    start = time.monotonic()
    qemu = subprocess.Popen(cmd)
    ok = False
    seen_in = {}
    last = backend.png()
    try:
        qmp = QMP(qmp_path, 10)
        done, stages, seen_in = watch_guest(args, qemu, serial, frames_dir,
                                            start)
        if not done:
            say(f"serial log: {serial}; frames: {frames_dir}")
            return 1
        say(f"{time.monotonic() - start:6.1f} s  guest: animation done; "
            "xen-displfront state: "
            f"{qmp.cmd('qom-get', path='/machine/peripheral/xdf0', property='state')}")

        # the last frame stays on screen: wait for it at the backend,
        # taking its picture again until it is there (both pictures kept
        # in --out when it never comes)
        want = picture(w, h, args.frames, (args.fit, cw, ch))
        ok, why = until_same(lambda: want, backend.shown(last, timeout=10),
                             20, os.path.join(out, "last"), still=10,
                             step=0.5, names=("pattern", "backend"))
        say(f"the backend's last frame is the pattern's frame "
            f"{args.frames}: {'yes' if ok else 'NO'} ({why})")
        if ok and args.vnc:
            # what a person watching the live view sees is exact too
            shot = os.path.join(out, "vnc-last.ppm")
            ok, why = until_same(lambda: want,
                                 lambda: vnc_grab(args.vnc, shot), 10,
                                 os.path.join(out, "vnc"), still=5,
                                 step=0.5, names=("pattern", "live view"))
            say(f"live view (VNC) shows the same frame: "
                f"{'yes' if ok else 'NO'} ({shot}: {why})")
        if args.hold:
            say(f"holding for {args.hold:g} s")
            time.sleep(args.hold)
        qmp.quit()
        qemu.wait(timeout=20)
    finally:
        stop(qemu, 0)
        backend.stop()

    frames = contactsheet.frames_in(frames_dir)
    if not frames:
        say("the backend received no frame")
        return 1
    # the firmware's banner is the first frame with text at the top
    first, banner = None, 0
    for f in frames[:10]:
        banner = banner_pixels(f)
        if banner:
            first = f
            break
    say("writing the contact sheet and the animation")
    sheet, anim = picture_of_run(frames, seen_in, first, out)
    say(f"the backend received {len(frames)} distinct frames:")
    say(f"  firmware banner: {first} "
        f"({banner} non-background pixels in its top quarter)")
    say(f"  last (animation frame {args.frames}), checked: {last}")
    say(f"  contact sheet: {sheet}")
    say(f"  animation (APNG): {anim}")
    say(f"  backend log: {os.path.join(out, 'backend.log')}, "
        f"serial log: {serial}")
    if not banner:
        say("FAIL: no early frame shows the firmware's banner")
        return 1
    if not ok:
        say("FAIL: the final frame is not the expected pattern")
        return 1
    say(f"PASS: frame {args.frames} of the test pattern arrived "
        "pixel-exact at the backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
