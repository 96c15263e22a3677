/*
 * xensim: the wire protocol between the drop-in Xen libraries and xensimd.
 *
 * Every library handle owns one SOCK_SEQPACKET connection to xensimd
 * (path in $XENSIM_SOCKET).  A request is one packet: a header and an
 * optional payload; most requests get exactly one reply packet, which
 * may carry file descriptors.  NOTIFY and UNMASK are one-way.
 *
 * Event channel handles get, with the HELLO reply, three descriptors:
 * the read end of their event queue (a SOCK_SEQPACKET socketpair; one
 * uint32_t port per delivered event, so it polls readable exactly when
 * an event is pending), a writer into that queue, and a memfd holding
 * struct xensim_evtchn_shared: per-port pending and mask bits and a
 * binding generation, like Xen's shared_info.  A sender asks xensimd
 * once for the route of its port (the peer's writer and shared page,
 * EVT_ROUTE) and from then on raises events directly: set pending; if
 * it wins the mask bit, clear pending and queue the port.  Unmask is
 * local too.  xensimd bumps a port's generation whenever its binding
 * changes, which invalidates cached routes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <stdint.h>
#include <sys/socket.h>

#define XENSIM_PAGE_SIZE        4096
#define XENSIM_MAX_DOMID        0x7FF0u /* DOMID_FIRST_RESERVED */
#define XENSIM_MAX_PORTS        4096    /* per domain */
#define XENSIM_NR_GRANTS        32768   /* per domain: 64 v1 frames */
#define XENSIM_FIRST_GREF       8       /* Linux reserves refs 0..7 */
#define XENSIM_MAX_BATCH        2048    /* refs per map request packet */
#define XENSIM_MAX_SHARE        16384   /* pages per share request */
#define XENSIM_GNTALLOC_LIMIT   1024    /* Linux gntalloc's default limit */
#define XENSIM_MAX_FDS_PER_MSG  250     /* below SCM_MAX_FD */
#define XENSIM_MAX_PACKET       (64 * 1024)

enum xensim_kind {
    XENSIM_KIND_EVTCHN = 1,
    XENSIM_KIND_GNTTAB,
    XENSIM_KIND_GNTSHR,
    XENSIM_KIND_STAT,
};

enum xensim_op {
    XENSIM_OP_HELLO = 1,        /* a0 = kind, a1 = domid; reply val =
                                 * connection id; evtchn fds: queue
                                 * reader, queue writer, shared page */
    XENSIM_OP_EVT_UNBOUND,      /* a0 = remote domid; reply val = port */
    XENSIM_OP_EVT_INTERDOMAIN,  /* a0 = remote domid, a1 = remote port */
    XENSIM_OP_EVT_VIRQ,         /* a0 = virq */
    XENSIM_OP_EVT_UNBIND,       /* a0 = port */
    XENSIM_OP_EVT_ROUTE,        /* a0 = port; reply payload:
                                 * xensim_route; fds: peer writer, peer
                                 * shared page (when it has a route) */
    XENSIM_OP_SHR_SHARE,        /* a0 = domid, a1 = count, a2 = writable,
                                 * a3 = notify offset, a4 = notify port;
                                 * reply val = first page offset in the
                                 * connection's memfd, payload: refs,
                                 * fd: that memfd */
    XENSIM_OP_SHR_UNSHARE,      /* payload: refs to release */
    XENSIM_OP_GNT_MAP,          /* a0 = count, a1 = notify offset,
                                 * a2 = notify port, a3 = all-or-nothing;
                                 * payload: xensim_map_req[count];
                                 * reply val = map id, payload:
                                 * xensim_map_page[count]; fds follow */
    XENSIM_OP_GNT_UNMAP,        /* a0 = map id */
    XENSIM_OP_STAT,             /* reply payload: xensim_stat */
};

#define XENSIM_NONE             UINT32_MAX  /* "no notify offset/port" */

struct xensim_req {
    uint32_t op;
    uint32_t a[5];
};

struct xensim_rep {
    int32_t err;                /* 0 or a positive errno */
    uint32_t val;
    uint32_t nfds;              /* fds carried by this and later packets */
    uint32_t pad;
};

struct xensim_map_req {
    uint32_t domid;
    uint32_t ref;
    uint32_t writable;
};

struct xensim_map_page {
    int32_t status;             /* GNTST_* */
    uint32_t fd_index;          /* index into the fds sent with the reply */
    uint64_t pgoff;             /* page offset inside that memfd */
};

struct xensim_route {
    uint32_t has_route;         /* 0: unbound, virq or peer closing */
    uint32_t own_gen;
    uint32_t peer_id;           /* connection id of the peer handle */
    uint32_t peer_port;
    uint32_t peer_gen;
};

struct xensim_evtchn_shared {
    uint64_t pending[XENSIM_MAX_PORTS / 64];
    uint64_t mask[XENSIM_MAX_PORTS / 64];
    uint32_t gen[XENSIM_MAX_PORTS];
};

#define XENSIM_EVTCHN_SHARED_SIZE \
    ((sizeof(struct xensim_evtchn_shared) + XENSIM_PAGE_SIZE - 1) & \
     ~(size_t)(XENSIM_PAGE_SIZE - 1))

/*
 * Raise @port in a handle's shared page: it stays pending while
 * masked; otherwise it gets masked and queued (Linux's evtchn driver
 * masks a port when it delivers it).
 */
static inline void xensim_evtchn_raise(struct xensim_evtchn_shared *sh,
                                       int writer, uint32_t port)
{
    uint64_t bit = 1ull << (port % 64);

    __atomic_fetch_or(&sh->pending[port / 64], bit, __ATOMIC_SEQ_CST);
    if (__atomic_fetch_or(&sh->mask[port / 64], bit, __ATOMIC_SEQ_CST) & bit) {
        return;
    }
    __atomic_fetch_and(&sh->pending[port / 64], ~bit, __ATOMIC_SEQ_CST);
    send(writer, &port, sizeof(port), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Unmask @port; an event raised while it was masked is queued now. */
static inline void xensim_evtchn_unmask(struct xensim_evtchn_shared *sh,
                                        int writer, uint32_t port)
{
    uint64_t bit = 1ull << (port % 64);

    __atomic_fetch_and(&sh->mask[port / 64], ~bit, __ATOMIC_SEQ_CST);
    if (!(__atomic_load_n(&sh->pending[port / 64], __ATOMIC_SEQ_CST) & bit) ||
        (__atomic_fetch_or(&sh->mask[port / 64], bit, __ATOMIC_SEQ_CST) &
         bit)) {
        return;
    }
    if (__atomic_fetch_and(&sh->pending[port / 64], ~bit, __ATOMIC_SEQ_CST) &
        bit) {
        send(writer, &port, sizeof(port), MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
        __atomic_fetch_and(&sh->mask[port / 64], ~bit, __ATOMIC_SEQ_CST);
    }
}

struct xensim_stat {
    uint32_t connections;
    uint32_t ports;
    uint32_t grants;
    uint32_t mappings;          /* live map requests */
    uint32_t mapped_pages;
    uint32_t memobjs;
};

#endif /* XENSIM_PROTO_H */
