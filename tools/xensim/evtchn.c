/*
 * xensim: drop-in libxenevtchn.so.1 talking to xensimd.
 *
 * Semantics follow Linux's /dev/xen/evtchn on top of Xen's event
 * channel operations: ports start unmasked, a delivered port stays
 * masked until xenevtchn_unmask(), and an event raised while masked
 * is delivered again on unmask.
 *
 * Binding goes through xensimd; notify and unmask do not: the first
 * notify on a port fetches its route (the peer handle's event queue
 * writer and shared page), later ones raise the event directly, so a
 * notification costs one wake-up, as with a real event channel.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xen/xen.h>

#include "xensim-client.h"

#define UNRESTRICTED UINT32_MAX

/* Another handle's event queue and shared page (or our own). */
struct peer {
    struct peer *next;
    uint32_t id;
    int writer;
    struct xensim_evtchn_shared *sh;
};

struct route {
    bool valid;
    bool has_route;
    uint32_t own_gen, peer_gen, peer_port;
    struct peer *peer;
};

struct xenevtchn_handle {
    int fd;                     /* request connection to xensimd */
    int evfd;                   /* delivered ports arrive here */
    uint32_t restrict_domid;
    pthread_mutex_t lock;
    struct peer *self;          /* first in the peers list */
    struct peer *peers;
    struct route *routes;       /* XENSIM_MAX_PORTS */
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
    int fds[3], shfd;

    (void)logger;
    if (flags & ~XENEVTCHN_NO_CLOEXEC) {
        errno = EINVAL;
        return NULL;
    }
    xce = calloc(1, sizeof(*xce));
    if (!xce) {
        return NULL;
    }
    xce->routes = calloc(XENSIM_MAX_PORTS, sizeof(*xce->routes));
    xce->self = calloc(1, sizeof(*xce->self));
    if (!xce->routes || !xce->self) {
        goto fail;
    }
    xce->fd = xensim_connect(XENSIM_KIND_EVTCHN,
                             !(flags & XENEVTCHN_NO_CLOEXEC), fds, 3,
                             &xce->self->id);
    if (xce->fd < 0) {
        goto fail;
    }
    xce->evfd = fds[0];
    xce->self->writer = fds[1];
    shfd = fds[2];
    xce->self->sh = mmap(NULL, XENSIM_EVTCHN_SHARED_SIZE,
                         PROT_READ | PROT_WRITE, MAP_SHARED, shfd, 0);
    close(shfd);
    if (xce->self->sh == MAP_FAILED) {
        int e = errno;
        close(xce->fd);
        close(xce->evfd);
        close(xce->self->writer);
        errno = e;
        goto fail;
    }
    xce->peers = xce->self;
    xce->restrict_domid = UNRESTRICTED;
    pthread_mutex_init(&xce->lock, NULL);
    return xce;

fail:
    {
        int e = errno;
        free(xce->routes);
        free(xce->self);
        free(xce);
        errno = e;
    }
    return NULL;
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
    while (xce->peers) {
        struct peer *p = xce->peers;

        xce->peers = p->next;
        munmap(p->sh, XENSIM_EVTCHN_SHARED_SIZE);
        close(p->writer);
        free(p);
    }
    pthread_mutex_destroy(&xce->lock);
    free(xce->routes);
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

static uint32_t gen_of(struct xensim_evtchn_shared *sh, uint32_t port)
{
    return __atomic_load_n(&sh->gen[port], __ATOMIC_SEQ_CST);
}

/* Ask xensimd where events on @port go. */
static int fetch_route(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct xensim_req req = { .op = XENSIM_OP_EVT_ROUTE, .a = { port } };
    struct route *r = &xce->routes[port];
    struct xensim_rep rep;
    struct xensim_route info;
    struct peer *p;
    unsigned nfds = 0;
    size_t len;
    int fds[2];

    if (xensim_call(xce->fd, &req, NULL, 0, &rep, &info, sizeof(info), &len,
                    fds, 2, &nfds) < 0) {
        return -1;
    }
    if (len != sizeof(info) || (info.has_route && nfds != 2)) {
        for (unsigned i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        errno = EPROTO;
        return -1;
    }
    r->valid = true;
    r->has_route = info.has_route;
    r->own_gen = info.own_gen;
    if (!info.has_route) {
        return 0;
    }
    r->peer_port = info.peer_port;
    r->peer_gen = info.peer_gen;
    for (p = xce->peers; p && p->id != info.peer_id; p = p->next) {
        continue;
    }
    if (p) {
        close(fds[0]);
        close(fds[1]);
    } else {
        p = calloc(1, sizeof(*p));
        if (p) {
            p->sh = mmap(NULL, XENSIM_EVTCHN_SHARED_SIZE,
                         PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
        }
        close(fds[1]);
        if (!p || p->sh == MAP_FAILED) {
            free(p);
            close(fds[0]);
            r->valid = false;
            errno = ENOMEM;
            return -1;
        }
        p->id = info.peer_id;
        p->writer = fds[0];
        p->next = xce->peers;
        xce->peers = p;
    }
    r->peer = p;
    return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct route *r;
    int rc = 0;

    /* Like IOCTL_EVTCHN_NOTIFY: only ports bound through this handle. */
    if (!port_is_bound(xce, port)) {
        errno = port >= XENSIM_MAX_PORTS ? EINVAL : ENOTCONN;
        return -1;
    }
    pthread_mutex_lock(&xce->lock);
    r = &xce->routes[port];
    if (!r->valid || r->own_gen != gen_of(xce->self->sh, port) ||
        (r->has_route && r->peer_gen != gen_of(r->peer->sh, r->peer_port))) {
        rc = fetch_route(xce, port);
    }
    /* EVTCHNOP_send on an unbound port drops the event, as on Xen. */
    if (rc == 0 && r->has_route) {
        xensim_evtchn_raise(r->peer->sh, r->peer->writer, r->peer_port);
    }
    pthread_mutex_unlock(&xce->lock);
    return rc;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint32_t port;
    ssize_t n;

    /*
     * Like a read() of /dev/xen/evtchn: it blocks until an event comes
     * unless the fd is O_NONBLOCK (EAGAIN then), and a signal ends it
     * (EINTR).
     */
    n = recv(xce->evfd, &port, sizeof(port), 0);
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
    /* Like a write() to /dev/xen/evtchn: foreign ports are ignored. */
    if (port_is_bound(xce, port)) {
        xensim_evtchn_unmask(xce->self->sh, xce->self->writer, port);
    }
    return 0;
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
