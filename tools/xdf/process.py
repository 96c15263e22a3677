# Ending the helper processes a test started.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import signal
import subprocess


def stop(proc, timeout=20):
    """SIGTERM, then SIGKILL after @timeout s; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
