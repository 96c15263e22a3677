# TAP lines for the Python tests.
#
# SPDX-License-Identifier: GPL-2.0-or-later


class Tap:
    """TAP lines: "ok N - text" and a plan at end(); with
    @numbered=False "ok - text" and no plan (the lines of a helper whose
    caller numbers its own, as the real-Xen scripts do).  end() gives
    the exit status."""

    def __init__(self, numbered=True):
        self.numbered = numbered
        self.n = 0
        self.failed = 0

    def ok(self, cond, text):
        self.n += 1
        n = f' {self.n}' if self.numbered else ''
        print(f"{'ok' if cond else 'not ok'}{n} - {text}", flush=True)
        if not cond:
            self.failed += 1
        return cond

    @staticmethod
    def note(text):
        for line in str(text).splitlines():
            print(f'# {line}', flush=True)

    def end(self):
        if self.numbered:
            print(f'1..{self.n}', flush=True)
        return 1 if self.failed else 0
