# What the Debian packages (tools/package) install, as the real-Xen
# suite's tests run it: the paths, and xdf-backend.service's command,
# run as its unit runs it.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shlex

from xdf import poll

# xen-displfront-qemu: the device model, under its own prefix
QEMU = '/usr/lib/xen-displfront/bin/qemu-system-x86_64'
# xen-displfront-backend
BACKEND = '/usr/sbin/xdf-backend'
UNIT = '/lib/systemd/system/xdf-backend.service'
CONF = '/etc/xen-displfront/backend.conf'
# xen-displfront-stubdom: where libxl 4.17 looks, and dom0's part
STUBDOM_BOOT = '/usr/lib/xen-4.17/boot'
STUBDOM_ATTACH = '/usr/sbin/xdf-stubdom-attach'
# The unit's privilege (CapabilityBoundingSet=, NoNewPrivileges=yes,
# SecureBits=noroot-locked) where no systemd runs: setpriv of util-linux.
UNIT_PRIVILEGE = ['setpriv', '--bounding-set=-all', '--inh-caps=-all',
                  '--no-new-privs', '--securebits=+noroot,+noroot_locked']


def unit_command():
    """The unit's ExecStart, split."""
    with open(UNIT) as f:
        for line in f:
            if line.startswith('ExecStart='):
                return shlex.split(line.split('=', 1)[1])
    raise ValueError(f'{UNIT} has no ExecStart=')


def service_command(conf, out, *options):
    """The command xdf-backend.service runs (its unit's ExecStart) with the
    unit's privilege, given the configuration @conf, written here from the
    installed one: frames saved into @out, the live views on --vnc PORT
    of @options (none without), no password (the tests' VNC client has
    none), the other @options as EXTRA_ARGS.  @options must have --all:
    the service serves every device."""
    options = list(options)
    if '--all' not in options:
        raise ValueError('the service runs xdf-backend --all')
    options.remove('--all')
    port = '0'
    if '--vnc' in options:
        i = options.index('--vnc')
        port = options[i + 1]
        del options[i:i + 2]
    settings = {'OUTPUT_DIR': out, 'VNC_PORT': port,
                'VNC_ADDRESS': '127.0.0.1', 'VNC_PASSWORD_FILE': '',
                'EXTRA_ARGS': shlex.quote(' '.join(options))}
    lines = []
    with open(CONF) as f:
        for line in f.read().splitlines():
            name = line.split('=', 1)[0]
            if '=' in line and name in settings:
                line = f'{name}={settings.pop(name)}'
            lines.append(line)
    if settings:
        raise ValueError(f'{CONF} sets none of {sorted(settings)}')
    with open(conf, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    command = unit_command()
    if command[-1] != CONF:
        raise ValueError(f'{UNIT} does not name {CONF} last: {command}')
    return UNIT_PRIVILEGE + command[:-1] + [conf]


def capabilities(pid):
    """The capability sets of process @pid: {'CapEff': int, ...}."""
    with open(f'/proc/{pid}/status') as f:
        return {k: int(v, 16) for k, v in
                (line.split(':\t') for line in f if line.startswith('Cap'))}


def no_new_privs(pid):
    with open(f'/proc/{pid}/status') as f:
        return any(line.split() == ['NoNewPrivs:', '1'] for line in f)


def ready():
    """Why the installed packages cannot be run here, or None."""
    for p in (QEMU, BACKEND, UNIT, CONF):
        if not os.path.exists(p):
            return f'no {p} (apt-get install ./xen-displfront-*.deb)'
    return None


def unprivileged(pid, timeout=30):
    """(ok, text): process @pid, once it is xdf-backend (the service's
    command execs setpriv, its script, then xdf-backend, within @timeout
    s), runs as the backend's unit wants it: no capability in any set, no
    new privileges."""
    def comm():
        with open(f'/proc/{pid}/comm') as f:
            return f.read().strip()
    if not poll.within(lambda: comm() == 'xdf-backend', timeout, step=0.2):
        return False, f'process {pid} is {comm()}, not xdf-backend after {timeout} s'
    caps = capabilities(pid)
    nnp = no_new_privs(pid)
    ok = nnp and not any(caps.values())
    return ok, ', '.join(f'{k} {v:x}' for k, v in caps.items()) + \
        f', NoNewPrivs {int(nnp)}'


def add_build_arguments(ap):
    """--build B or --installed: where a script's QEMU and xdf-backend
    come from; args.build is None for the installed packages'."""
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--build', help='the build folder: its QEMU and backend')
    g.add_argument('--installed', dest='build', action='store_const',
                   const=None, help="the installed packages' (tools/package)")


def qemu(build):
    """Our QEMU: of build folder @build, or (None) the installed one."""
    return QEMU if build is None else os.path.join(build, 'qemu-system-x86_64')
