# QMP through QEMU's own client library, qemu.qmp, from the QEMU tree we
# build (<build>/qemu-src/python on PYTHONPATH): its synchronous
# QEMUMonitorProtocol, wrapped for what the tests and the demo do.
#
#   qmp = QMP(path, timeout=20)       # waits for QEMU to make the socket
#   qmp.cmd('qom-get', path='xdf0', property='state')
#   qmp.quit()
#
# SPDX-License-Identifier: GPL-2.0-or-later

from xdf import poll

try:
    from qemu.qmp import ExecuteError, QMPError
    from qemu.qmp.legacy import QEMUMonitorProtocol
except ImportError as e:
    raise ImportError(
        f'{e}: xdf.qmp uses QEMU\'s QMP library from the QEMU tree we '
        'build: put <build>/qemu-src/python on PYTHONPATH (meson test, '
        'tools/run-demo and tools/run-bench do)') from None

# What a connection that QEMU closed, or never opened, raises.
GONE = (QMPError, EOFError, OSError)


class QMP:
    """A QMP connection to the Unix socket @path, retried until QEMU
    answers (it may not have made the socket yet) or @timeout seconds
    pass (ConnectionError, saying why).  Each command may take
    @cmd_timeout seconds."""

    def __init__(self, path, timeout=20, cmd_timeout=60):
        self.path = path
        self.monitor = None
        why = None

        def connected():
            nonlocal why
            monitor = QEMUMonitorProtocol(path)
            try:
                monitor.connect()
                return monitor
            except GONE as e:
                why = e
                return None
        try:
            self.monitor = poll.until(connected, timeout, f'QMP at {path}',
                                      step=0.1)
        except poll.Timeout as e:
            raise ConnectionError(f'{e} ({why})') from None
        self.monitor.settimeout(cmd_timeout)

    def cmd(self, name, **args):
        """The command's return value; RuntimeError "QMP NAME: why" when
        QEMU refuses it."""
        try:
            return self.monitor.cmd(name, **args)
        except ExecuteError as e:
            raise RuntimeError(f'QMP {name}: {e}') from None

    def qom_get(self, path, prop):
        return self.cmd('qom-get', path=path, property=prop)

    def wait_state(self, want, timeout, device='xdf0', step=0.5):
        """Until xen-displfront @device's XenBus state (its read-only
        'state' property) is XenbusState@want: (True, state), or (False,
        the last state read) after @timeout seconds."""
        state = None

        def there():
            nonlocal state
            state = self.qom_get(device, 'state')
            return state == 'XenbusState' + want
        return bool(poll.within(there, timeout, step)), state

    def quit(self):
        """Tell QEMU to quit (its going away before it answers is no
        error) and close the connection."""
        try:
            self.monitor.cmd('quit')
        except GONE:
            pass
        self.close()

    def close(self):
        """Let go of the socket (libxl's takes one client at a time)."""
        monitor, self.monitor = self.monitor, None
        if monitor:
            try:
                monitor.close()
            except GONE:
                pass

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
