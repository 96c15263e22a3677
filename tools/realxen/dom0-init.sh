#!/bin/sh
# PID 1 of the real-Xen rig's dom0 (run.sh copies it into the run folder,
# which the initramfs mounts at /xdf): mount the usual file systems, load
# Xen's device drivers, start xenstored, xen-init-dom0 and xenconsoled,
# mount the folders run.sh shares (/xdf/shares: "tag path" lines) at the
# same paths as on the host, run /xdf/test.sh with its output in
# /xdf/output.log and its exit status in /xdf/status, then reboot (QEMU runs
# with -no-reboot, so that ends it).
#
# SPDX-License-Identifier: GPL-2.0-or-later

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export HOME=/root LANG=C.UTF-8
stage() { echo "XDF-STAGE $*"; }
fail() { echo "XDF-ERROR $*"; echo "$*" > /xdf/error; echo 125 > /xdf/status; sync; reboot -f 2>/dev/null || echo b > /proc/sysrq-trigger; }

stage dom0-init
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock /run/xen /run/xenstored /var/log/xen /var/lib/xen /var/lib/xenstored
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do
    modprobe "$m" 2>/dev/null || echo "note: modprobe $m failed (built in?)"
done
mount -t xenfs xenfs /proc/xen || fail "cannot mount xenfs on /proc/xen: is this dom0 of a Xen host?"
grep -q control_d /proc/xen/capabilities || fail "/proc/xen/capabilities has no control_d: not dom0"

while read -r tag path; do
    [ -n "$tag" ] || continue
    mkdir -p "$path"
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose,ro "$tag" "$path" ||
        fail "cannot mount share $tag at $path"
done < /xdf/shares

stage xenstored
xenstored --pid-file /run/xenstored.pid || fail "xenstored did not start"
i=0
until xenstore-read / >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 120 ] || fail "xenstored does not answer after 60 s"
    sleep 0.5
done
xen-init-dom0 || fail "xen-init-dom0 failed"
# guests' consoles go to /xdf/guest-console/guest-NAME.log (the run
# folder: they come back to the host, also while the run goes on)
mkdir -p /xdf/guest-console
xenconsoled --pid-file /run/xenconsoled.pid --log=guest \
    --log-dir=/xdf/guest-console || fail "xenconsoled did not start"
xl info >/dev/null || fail "xl info failed"
stage tools-up

cd "$(cat /xdf/cwd 2>/dev/null || echo /)"
export XDF_RUN=/xdf
[ -f /xdf/env ] && . /xdf/env
chmod +x /xdf/test.sh 2>/dev/null
/xdf/test.sh > /xdf/output.log 2>&1 < /dev/null
rc=$?
echo "$rc" > /xdf/status
stage "done rc=$rc"
sync
# minbase has no reboot(8) (systemd-sysv is not in it): the kernel's
# sysrq does the same, at once
reboot -f 2>/dev/null || echo b > /proc/sysrq-trigger
