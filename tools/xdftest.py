# Shared by the project's Python tests and the demo: TAP output, stopping
# a helper process, reading XenStore.
#
#   sys.path.insert(0, TOOLS); from xdftest import Tap, stop, xs_read
#
# SPDX-License-Identifier: GPL-2.0-or-later

import signal
import subprocess


class Tap:
    """Numbered TAP lines; end() prints the plan and gives the status."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, text):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {text}", flush=True)
        if not cond:
            self.failed += 1
        return cond

    @staticmethod
    def note(text):
        for line in str(text).splitlines():
            print(f'# {line}', flush=True)

    def end(self):
        print(f'1..{self.n}', flush=True)
        return 1 if self.failed else 0


def stop(proc, timeout=20):
    """SIGTERM, then SIGKILL after @timeout s; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def xs_read(path):
    """A XenStore node's value, or None."""
    r = subprocess.run(['xenstore-read', path], capture_output=True,
                       text=True)
    return r.stdout.strip() if r.returncode == 0 else None
