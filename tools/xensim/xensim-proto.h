/*
 * xensim: the wire protocol between the drop-in Xen libraries and xensimd.
 *
 * Every library handle owns one SOCK_SEQPACKET connection to xensimd
 * (path in $XENSIM_SOCKET).  A request is one packet: a header and an
 * optional payload; most requests get exactly one reply packet, which
 * may carry file descriptors.  NOTIFY and UNMASK are one-way.
 *
 * Event channel handles also get an event socket (one end of a
 * socketpair, passed with the HELLO reply): xensimd writes one
 * uint32_t port per delivered event into it, so it polls readable
 * exactly when an event is pending for the handle.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <stdint.h>

#define XENSIM_PAGE_SIZE        4096
#define XENSIM_MAX_DOMID        0x7FF0u /* DOMID_FIRST_RESERVED */
#define XENSIM_MAX_PORTS        4096    /* per domain */
#define XENSIM_NR_GRANTS        32768   /* per domain: 64 v1 frames */
#define XENSIM_FIRST_GREF       8       /* Linux reserves refs 0..7 */
#define XENSIM_MAX_BATCH        2048    /* refs per request packet */
#define XENSIM_MAX_FDS_PER_MSG  250     /* below SCM_MAX_FD */
#define XENSIM_MAX_PACKET       (64 * 1024)

enum xensim_kind {
    XENSIM_KIND_EVTCHN = 1,
    XENSIM_KIND_GNTTAB,
    XENSIM_KIND_GNTSHR,
    XENSIM_KIND_STAT,
};

enum xensim_op {
    XENSIM_OP_HELLO = 1,        /* a0 = kind, a1 = domid; reply fd: events */
    XENSIM_OP_EVT_UNBOUND,      /* a0 = remote domid; reply val = port */
    XENSIM_OP_EVT_INTERDOMAIN,  /* a0 = remote domid, a1 = remote port */
    XENSIM_OP_EVT_VIRQ,         /* a0 = virq */
    XENSIM_OP_EVT_UNBIND,       /* a0 = port */
    XENSIM_OP_EVT_NOTIFY,       /* a0 = port; no reply */
    XENSIM_OP_EVT_UNMASK,       /* a0 = port; no reply */
    XENSIM_OP_SHR_SHARE,        /* a0 = domid, a1 = count, a2 = writable,
                                 * a3 = notify offset, a4 = notify port;
                                 * reply payload: refs; fd: memfd */
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

struct xensim_stat {
    uint32_t connections;
    uint32_t ports;
    uint32_t grants;
    uint32_t mappings;          /* live map requests */
    uint32_t mapped_pages;
    uint32_t memobjs;
};

#endif /* XENSIM_PROTO_H */
