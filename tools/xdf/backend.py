# xdf-backend, the reference displif backend, as the tests and the demo
# run it: started with its output folder and a log, asked for what each
# connector shows (SIGUSR1: it saves conn<i>-last.png), stopped.
#
#   be = Backend(build, out_dir, '--all', '--last-only', log=path)
#   until_same(guest, be.shown(be.png(dev=0)), ...)
#   be.stop()
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import signal
import subprocess

from xdf import installed, poll
from xdf.image import READ_ERRORS, read_picture
from xdf.process import stop


def backend_picture(proc, png, timeout=60, step=0.2):
    """A shown() for xdf.screen.until_same: have xdf-backend @proc (a
    Popen or a pid) save what each connector shows (SIGUSR1:
    conn<i>-last.png) and read @png back; None when none comes within
    @timeout s.  The old file goes first, so a picture saved before the
    call is not read again (one that an earlier call asked for may still
    land late: still a picture the backend showed)."""
    def read():
        # xdf-backend writes PATH.tmp and renames it: PATH is whole, but
        # a 9p share may show it before all of it has arrived: read it
        # again then
        if os.path.exists(png):
            try:
                return read_picture(png)
            except READ_ERRORS:
                pass
        return None

    def shown():
        if isinstance(proc, int):
            pid = proc
        elif proc.poll() is None:
            pid = proc.pid
        else:
            return None
        try:
            os.unlink(png)
        except FileNotFoundError:
            pass
        os.kill(pid, signal.SIGUSR1)
        return poll.within(read, timeout, step)
    return shown


class Backend:
    """xdf-backend of build folder @build, saving into @out (made if
    need be) with @options, its output in the file @log.  @build None:
    the installed package's (xdf.installed), and with --all the way its
    service runs it (its unit's command, a configuration of @options
    beside @out: @out.conf, the unit's privilege)."""

    def __init__(self, build, out, *options, log):
        self.dir = out
        os.makedirs(out, exist_ok=True)
        self.log_path = log
        self.log = open(log, 'w')
        if build is None and '--all' in options:
            command = installed.service_command(f'{out}.conf', out, *options)
        else:
            program = installed.BACKEND if build is None else \
                os.path.join(build, 'tools', 'backend', 'xdf-backend')
            command = [program, '--output-dir', out, *options]
        self.proc = subprocess.Popen(command, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def png(self, dev=None, conn=0, frontend=0):
        """Where it saves what connector @conn shows: of its one device,
        or (--all) of device @dev of domain @frontend."""
        name = f'conn{conn}-last.png'
        if dev is None:
            return os.path.join(self.dir, name)
        return os.path.join(self.dir, f'{frontend}-{dev}', name)

    def shown(self, png, timeout=20, step=0.2):
        """A shown() for until_same (backend_picture())."""
        return backend_picture(self.proc, png, timeout, step)

    def picture(self, png, timeout=20):
        """What it shows now, saved into @png and read back; None when it
        saves nothing within @timeout s."""
        return self.shown(png, timeout)()

    def cpu_ns(self):
        """CPU time it has used (schedstat: in ns)."""
        with open(f'/proc/{self.proc.pid}/schedstat') as f:
            return int(f.read().split()[0])

    def tail(self, n):
        """The last @n lines of its log (also once it has stopped)."""
        with open(self.log_path, errors='replace') as f:
            return f.read().splitlines()[-n:]

    def stop(self, timeout=20):
        """SIGTERM (SIGKILL after @timeout s); its exit status."""
        status = stop(self.proc, timeout)
        self.log.close()
        return status
