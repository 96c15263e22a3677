/*
 * libxensim-xenctrl.so: LD_PRELOAD shim that lets Debian's xenstored
 * run on xensim.  Used for xenstored only, never for QEMU (which links
 * the full libxenctrl).
 *
 * - xc_interface_open/close, xc_domain_getinfo: what xenstored imports
 *   from libxenctrl.  Every domain id below DOMID_FIRST_RESERVED is
 *   reported as an existing, running domain: xensim has no toolstack
 *   that creates or destroys domains.
 * - open() of /proc/xen/xsd_port and /proc/xen/xsd_kva: what the dom0
 *   kernel gives xenstored for its own xenbus connection.  We hand out
 *   an event channel port left unbound for dom0 (held by this shim)
 *   and a zeroed ring page; nobody talks on that ring (clients use the
 *   unix socket), but xenstored's dom0 set-up then runs as on Xen.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
/* Interpose the plain open() that xenstored imports, not open64(). */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>

static int dummy_interface;

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    (void)logger;
    (void)dombuild_logger;
    (void)open_flags;
    return (xc_interface *)&dummy_interface;
}

int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                      unsigned int max_doms, xc_dominfo_t *info)
{
    unsigned int n = 0;

    (void)xch;
    for (uint32_t d = first_domid; n < max_doms && d < DOMID_FIRST_RESERVED;
         d++, n++) {
        memset(&info[n], 0, sizeof(info[n]));
        info[n].domid = d;
        info[n].running = 1;
        info[n].hvm = d != 0;
        info[n].max_vcpu_id = 0;
        info[n].nr_online_vcpus = 1;
    }
    return n;
}

static int memfd_with(const void *data, size_t len, size_t size)
{
    int fd = memfd_create("xensim-xsd", MFD_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    if (ftruncate(fd, size) < 0 ||
        (len && pwrite(fd, data, len, 0) != (ssize_t)len)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int open_xsd_port(void)
{
    static xenevtchn_handle *xce;
    static int port = -1;
    char buf[16];

    if (port < 0) {
        xce = xenevtchn_open(NULL, 0);
        if (!xce) {
            return -1;
        }
        port = xenevtchn_bind_unbound_port(xce, 0);
        if (port < 0) {
            int e = errno;
            xenevtchn_close(xce);
            errno = e;
            return -1;
        }
    }
    snprintf(buf, sizeof(buf), "%d", port);
    return memfd_with(buf, strlen(buf), strlen(buf));
}

int open(const char *path, int flags, ...)
{
    static int (*real_open)(const char *, int, ...);
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;

        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!strcmp(path, "/proc/xen/xsd_port")) {
        return open_xsd_port();
    }
    if (!strcmp(path, "/proc/xen/xsd_kva")) {
        return memfd_with(NULL, 0, XC_PAGE_SIZE);
    }
    if (!real_open) {
        real_open = dlsym(RTLD_NEXT, "open");
        if (!real_open) {
            errno = ENOSYS;
            return -1;
        }
    }
    return real_open(path, flags, mode);
}
