/*
 * xensim: drop-in libxenevtchn.so.1 talking to xensimd.
 *
 * Semantics follow Linux's /dev/xen/evtchn on top of Xen's event
 * channel operations: ports start unmasked, a delivered port stays
 * masked until xenevtchn_unmask(), and an event raised while masked
 * is delivered again on unmask.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xen/xen.h>

#include "xensim-client.h"

#define UNRESTRICTED UINT32_MAX

struct xenevtchn_handle {
    int fd;                     /* request connection to xensimd */
    int evfd;                   /* delivered ports arrive here */
    uint32_t restrict_domid;
    pthread_mutex_t lock;
    uint8_t bound[XENSIM_MAX_PORTS / 8];   /* ports bound by this handle */
};

static bool port_is_bound(xenevtchn_handle *xce, evtchn_port_t port)
{
    return port < XENSIM_MAX_PORTS &&
           (xce->bound[port / 8] & (1u << (port % 8)));
}

static void port_set_bound(xenevtchn_handle *xce, evtchn_port_t port,
                           bool bound)
{
    if (port >= XENSIM_MAX_PORTS) {
        return;
    }
    if (bound) {
        xce->bound[port / 8] |= 1u << (port % 8);
    } else {
        xce->bound[port / 8] &= ~(1u << (port % 8));
    }
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                 unsigned int flags)
{
    xenevtchn_handle *xce;

    (void)logger;
    if (flags & ~XENEVTCHN_NO_CLOEXEC) {
        errno = EINVAL;
        return NULL;
    }
    xce = calloc(1, sizeof(*xce));
    if (!xce) {
        return NULL;
    }
    xce->fd = xensim_connect(XENSIM_KIND_EVTCHN,
                             !(flags & XENEVTCHN_NO_CLOEXEC), &xce->evfd);
    if (xce->fd < 0) {
        int e = errno;
        free(xce);
        errno = e;
        return NULL;
    }
    xce->restrict_domid = UNRESTRICTED;
    pthread_mutex_init(&xce->lock, NULL);
    return xce;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
                                   int fd, unsigned int flags)
{
    (void)logger;
    (void)fd;
    if (flags) {
        errno = EINVAL;
        return NULL;
    }
    /* The xensimd connection cannot be rebuilt from the event fd alone. */
    errno = EOPNOTSUPP;
    return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce) {
        return 0;
    }
    close(xce->evfd);
    close(xce->fd);     /* xensimd closes every port of the handle */
    pthread_mutex_destroy(&xce->lock);
    free(xce);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->evfd;
}

static xenevtchn_port_or_error_t bind_op(xenevtchn_handle *xce,
                                         uint32_t op, uint32_t a0,
                                         uint32_t a1)
{
    struct xensim_req req = { .op = op, .a = { a0, a1 } };
    struct xensim_rep rep;
    int rc;

    pthread_mutex_lock(&xce->lock);
    rc = xensim_call(xce->fd, &req, NULL, 0, &rep, NULL, 0, NULL,
                     NULL, 0, NULL);
    if (rc == 0) {
        port_set_bound(xce, rep.val, true);
        rc = rep.val;
    }
    pthread_mutex_unlock(&xce->lock);
    return rc;
}

xenevtchn_port_or_error_t
xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    if (xce->restrict_domid != UNRESTRICTED) {
        errno = EACCES;
        return -1;
    }
    return bind_op(xce, XENSIM_OP_EVT_UNBOUND, domid, 0);
}

xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                           evtchn_port_t remote_port)
{
    if (xce->restrict_domid != UNRESTRICTED &&
        domid != xce->restrict_domid) {
        errno = EACCES;
        return -1;
    }
    return bind_op(xce, XENSIM_OP_EVT_INTERDOMAIN, domid, remote_port);
}

xenevtchn_port_or_error_t
xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    if (xce->restrict_domid != UNRESTRICTED) {
        errno = EACCES;
        return -1;
    }
    return bind_op(xce, XENSIM_OP_EVT_VIRQ, virq, 0);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct xensim_req req = { .op = XENSIM_OP_EVT_UNBIND, .a = { port } };
    struct xensim_rep rep;
    int rc;

    pthread_mutex_lock(&xce->lock);
    if (!port_is_bound(xce, port)) {
        pthread_mutex_unlock(&xce->lock);
        errno = ENOTCONN;
        return -1;
    }
    rc = xensim_call(xce->fd, &req, NULL, 0, &rep, NULL, 0, NULL,
                     NULL, 0, NULL);
    if (rc == 0) {
        port_set_bound(xce, port, false);
    }
    pthread_mutex_unlock(&xce->lock);
    return rc;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct xensim_req req = { .op = XENSIM_OP_EVT_NOTIFY, .a = { port } };
    int rc;

    /* Like IOCTL_EVTCHN_NOTIFY: only ports bound through this handle. */
    if (!port_is_bound(xce, port)) {
        errno = port >= XENSIM_MAX_PORTS ? EINVAL : ENOTCONN;
        return -1;
    }
    pthread_mutex_lock(&xce->lock);
    rc = xensim_send(xce->fd, &req);
    pthread_mutex_unlock(&xce->lock);
    return rc;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint32_t port;
    ssize_t n;

    do {
        n = recv(xce->evfd, &port, sizeof(port), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        errno = ECONNRESET;     /* xensimd went away */
        return -1;
    }
    if (n != sizeof(port)) {
        return -1;
    }
    return port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct xensim_req req = { .op = XENSIM_OP_EVT_UNMASK, .a = { port } };
    int rc;

    /* Like a write() to /dev/xen/evtchn: foreign ports are ignored. */
    if (!port_is_bound(xce, port)) {
        return 0;
    }
    pthread_mutex_lock(&xce->lock);
    rc = xensim_send(xce->fd, &req);
    pthread_mutex_unlock(&xce->lock);
    return rc;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    if (xce->restrict_domid != UNRESTRICTED) {
        errno = EACCES;
        return -1;
    }
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        errno = EINVAL;
        return -1;
    }
    xce->restrict_domid = domid;
    return 0;
}
