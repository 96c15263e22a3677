# The one poll loop: wait for a condition, with a deadline.
#
#   poll.until(lambda: xs_read(path) == '4', 30, f'{path} Connected')
#   poll.within(backend_done, 10)       # for a check that reports
#
# SPDX-License-Identifier: GPL-2.0-or-later

import time


class Timeout(Exception):
    """until() gave up; the message names what it waited for."""


def until(predicate, timeout, what, step=0.2):
    """Call @predicate every @step seconds until it returns something
    true, and return that.  After @timeout seconds (the last call at the
    deadline) raise Timeout: "@what: not within @timeout s"."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = end - time.monotonic()
        if left <= 0:
            raise Timeout(f'{what}: not within {timeout:g} s')
        time.sleep(min(step, left))


def within(predicate, timeout, step=0.2):
    """until(), for a check that reports instead of stopping: what
    @predicate returned last (false when it did not come in time)."""
    last = None

    def check():
        nonlocal last
        last = predicate()
        return last
    try:
        return until(check, timeout, 'condition', step)
    except Timeout:
        return last
