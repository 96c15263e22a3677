/*
 * xen-displfront: the transport, the layer every other one stands on.
 *
 * XdfXen is what a device's layers share instead of the device: its Xen
 * handles, its domains and its name, and the event channels bound
 * through it.  One fd handler serves every channel: it finds the
 * channel by its port (as hw/xen/xen-bus.c's event channels are found),
 * and each channel is guarded against notifications that bring nothing.
 *
 * On the channels: XdfEvents, an event page (displif's or kbdif's), and
 * XdfRing, a displif request ring with one request in flight, each with
 * a completion and a timeout.  Either, when the backend breaks the
 * protocol, stops at once (it is broken) and tells its user in a bottom
 * half, outside its own loops.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_TRANSPORT_H
#define XDF_TRANSPORT_H

#include "qemu/queue.h"
#include "qemu/timer.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/interface/io/displif.h"

#include "event-page-front.h"

typedef struct XdfChannel XdfChannel;

/* A device's Xen: what each of its layers is given. */
typedef struct XdfXen {
    const char *id;             /* the device's qdev id, for messages */
    struct qemu_xs_handle *xsh;
    xenevtchn_handle *xeh;
    xengntshr_handle *xgs;      /* pages we share */
    xengnttab_handle *xgt;      /* pages a backend shares (be-alloc) */
    uint32_t own_domid;         /* QEMU's; DOMID_INVALID: unknown */
    uint32_t frontend_domid;
    uint32_t backend_domid;
    QLIST_HEAD(, XdfChannel) channels;
} XdfXen;

/*
 * Open XenStore, event channels and grant sharing, and find QEMU's own
 * domain (a @frontend_domid of DOMID_SELF becomes it).
 */
bool xdf_xen_open(XdfXen *x, const char *id, uint32_t frontend_domid,
                  uint32_t backend_domid, Error **errp);
void xdf_xen_close(XdfXen *x);

/* error_report(), warn_report(), info_report(), for the device named */
typedef enum XdfLevel {
    XDF_ERROR,
    XDF_WARN,
    XDF_INFO,
} XdfLevel;

void G_GNUC_PRINTF(3, 4)
xdf_report(const XdfXen *x, XdfLevel level, const char *fmt, ...);
/* report @err (and free it, hints too), for the device named */
void xdf_report_err(const XdfXen *x, XdfLevel level, Error *err);

/*
 * Set @errp for a failure with errno @err; when a limit was hit, the
 * message says which one to raise.
 */
void G_GNUC_PRINTF(3, 4)
xdf_error_limit(Error **errp, int err, const char *fmt, ...);

/*
 * A port was notified (or its masked period is over): take what it
 * announces, and say how many things that did (see XdfChannel).
 */
typedef unsigned int XdfChannelHandler(void *opaque);

/*
 * An unbound event channel to the backend.  A backend that notifies a
 * port again and again with nothing behind it that does something must
 * not keep QEMU's main loop busy: after XDF_FLOOD_KICKS notifications in
 * a row that did nothing, the port stays masked for a while (10 ms,
 * doubling up to 1 s while the flood lasts), then its handler takes
 * what is there as for a notification.
 */
struct XdfChannel {
    XdfXen *x;
    const char *what;           /* "requests", "events", "input" */
    unsigned int index;         /* the connector */
    int port;                   /* 0: not bound */
    XdfChannelHandler *handler;
    void *opaque;
    unsigned int idle_kicks;
    uint32_t masked_ms;         /* the next masked period */
    QEMUTimer *unmask_timer;
    QLIST_ENTRY(XdfChannel) next;
};

/*
 * What a broken transport tells its user, in a bottom half: @msg says
 * how the backend broke the protocol.  The user closes the connection.
 */
typedef void XdfBrokenFn(void *opaque, const char *msg);

/* A transport's failure, said once, outside its loops. */
typedef struct XdfBreak {
    char *msg;                  /* NULL: not broken */
    QEMUBH *bh;
    XdfBrokenFn *broken;
    void *opaque;
} XdfBreak;

/*
 * An event (evt_size bytes, copied off the page: the user's to change):
 * whether it did something (see XdfChannel).
 */
typedef bool XdfEventFn(void *opaque, void *evt);

/* An event page we share, and its channel. */
typedef struct XdfEvents {
    XdfXen *x;
    const EventPageLayout *layout;
    XdfEventFn *event;
    void *opaque;
    void *page;                 /* NULL while closed */
    uint32_t ref;
    uint32_t cons;              /* ours: the backend may write in_cons */
    XdfChannel ch;
    XdfBreak brk;
} XdfEvents;

bool xdf_events_open(XdfEvents *e, XdfXen *x, const char *what,
                     unsigned int index, const EventPageLayout *layout,
                     XdfEventFn *event, XdfBrokenFn *broken, void *opaque,
                     Error **errp);
/* the backend broke the protocol: take nothing more, tell the user */
void G_GNUC_PRINTF(2, 3) xdf_events_fail(XdfEvents *e, const char *fmt, ...);
void xdf_events_close(XdfEvents *e);

typedef struct XdfRequest XdfRequest;

/*
 * A request's completion, <request>_done.  @status is the backend's
 * answer (a backend's own -ECANCELED arrives as -EIO), or -ECANCELED
 * when the ring closed before an answer came: then the completion only
 * frees what it owns, and neither submits nor fails anything.
 */
typedef void XdfRequestDone(XdfRequest *r, int status);

/* A request waiting for, or holding, its ring's single slot. */
struct XdfRequest {
    struct xendispl_req req;
    struct xendispl_resp rsp;   /* filled in before done() */
    XdfRequestDone *done;
    void *opaque;               /* the completion's */
    QSIMPLEQ_ENTRY(XdfRequest) next;
};

/* A displif request ring we share, and its channel. */
typedef struct XdfRing {
    XdfXen *x;
    unsigned int index;         /* the connector */
    uint32_t timeout_ms;        /* for each request */
    struct xen_displif_sring *sring;    /* NULL while closed */
    struct xen_displif_front_ring ring;
    uint32_t ref;
    XdfChannel ch;
    uint16_t next_id;
    XdfRequest *in_flight;
    QSIMPLEQ_HEAD(, XdfRequest) queue;
    QEMUTimer *timer;           /* in_flight's answer is late */
    int64_t sent_us;            /* when in_flight went out */
    XdfBreak brk;
    /* figures, kept across connections: request round trips */
    int64_t rtt_last_us;
    int64_t rtt_worst_us;
} XdfRing;

bool xdf_ring_open(XdfRing *ring, XdfXen *x, unsigned int index,
                   uint32_t timeout_ms, XdfBrokenFn *broken, void *opaque,
                   Error **errp);
/*
 * Send request @op with @body; @done(r, status) is called with the
 * answer, or with -ECANCELED when the ring closes first.
 */
void xdf_ring_submit(XdfRing *ring, uint8_t op, const void *body,
                     size_t len, XdfRequestDone *done, void *opaque);
/* the backend broke the protocol: send and take nothing more */
void G_GNUC_PRINTF(2, 3) xdf_ring_fail(XdfRing *ring, const char *fmt, ...);
/* every request still queued or in flight completes with -ECANCELED */
void xdf_ring_close(XdfRing *ring);

const char *xdf_op_name(uint8_t op);

#endif /* XDF_TRANSPORT_H */
