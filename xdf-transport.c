/*
 * xen-displfront: the transport (see xdf-transport.h)
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen_backend_ops.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "xdf-transport.h"
#include "displif-front.h"

#define XDF_FLOOD_KICKS         64      /* idle notifications: a flood */
#define XDF_FLOOD_POLL_MS       10      /* first masked period */
#define XDF_FLOOD_POLL_MAX_MS   1000

/* Reports ---------------------------------------------------------------- */

static void G_GNUC_PRINTF(3, 0)
xdf_vreport(const XdfXen *x, XdfLevel level, const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);

    switch (level) {
    case XDF_ERROR:
        error_report("xen-displfront '%s': %s", x->id, msg);
        break;
    case XDF_WARN:
        warn_report("xen-displfront '%s': %s", x->id, msg);
        break;
    case XDF_INFO:
        info_report("xen-displfront '%s': %s", x->id, msg);
        break;
    }
}

void xdf_report(const XdfXen *x, XdfLevel level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xdf_vreport(x, level, fmt, ap);
    va_end(ap);
}

void xdf_report_err(const XdfXen *x, XdfLevel level, Error *err)
{
    error_prepend(&err, "xen-displfront '%s': ", x->id);
    switch (level) {
    case XDF_ERROR:
        error_report_err(err);
        break;
    case XDF_WARN:
        warn_report_err(err);
        break;
    case XDF_INFO:
        info_report("%s", error_get_pretty(err));
        error_free(err);
        break;
    }
}

/*
 * In the message, not a hint: it reaches the log through a failed
 * connection, which prints no hints.
 */
void xdf_error_limit(Error **errp, int err, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    const char *limit = "";
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (err == ENOSPC) {
        limit = strstr(msg, "event channel") ?
            " (the domain's event channel limit: xl.cfg max_event_channels)" :
            " (the pages QEMU's domain may share: raise xen_gntalloc's "
            "'limit' parameter, /sys/module/xen_gntalloc/parameters/limit)";
    }
    error_setg(errp, "%s: %s%s", msg, strerror(err), limit);
}

/* Event channels --------------------------------------------------------- */

/*
 * @ch's port was notified (or its masked period is over): let its
 * handler take what the port announces, then unmask it -- or, past the
 * flood limit, leave it masked for a while.
 */
static void xdf_channel_notified(XdfChannel *ch)
{
    int port = ch->port;
    unsigned int progress = ch->handler(ch->opaque);
    uint32_t ms = ch->masked_ms;

    trace_xen_displfront_notified(ch->x->id, ch->what, ch->index, port,
                                  progress);
    if (!ch->port) {
        return;                 /* its user closed: the port is gone */
    }
    if (progress) {
        ch->idle_kicks = 0;
        ch->masked_ms = XDF_FLOOD_POLL_MS;
    } else if (++ch->idle_kicks >= XDF_FLOOD_KICKS) {
        ch->idle_kicks = 0;
        timer_mod(ch->unmask_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
        ch->masked_ms = MIN(ms * 2, XDF_FLOOD_POLL_MAX_MS);
        trace_xen_displfront_flood(ch->x->id, ch->what, ch->index, port, ms);
        return;
    }
    qemu_xen_evtchn_unmask(ch->x->xeh, port);
}

static void xdf_channel_unmask(void *opaque)
{
    xdf_channel_notified(opaque);
}

/* A port was notified: the channel bound to it takes what it announces. */
static void xdf_xen_evtchn_handler(void *opaque)
{
    XdfXen *x = opaque;
    int port = qemu_xen_evtchn_pending(x->xeh);
    XdfChannel *ch;

    if (port <= 0) {
        return;
    }
    QLIST_FOREACH(ch, &x->channels, next) {
        if (ch->port == port) {
            xdf_channel_notified(ch);
            return;
        }
    }
    qemu_xen_evtchn_unmask(x->xeh, port);
}

static bool xdf_channel_bind(XdfChannel *ch, XdfXen *x, const char *what,
                             unsigned int index, XdfChannelHandler *handler,
                             void *opaque, Error **errp)
{
    int port = qemu_xen_evtchn_bind_unbound_port(x->xeh, x->backend_domid);

    if (port <= 0) {
        xdf_error_limit(errp, port ? -port : EIO, "connector %u: cannot "
                        "allocate an event channel for %s", index, what);
        return false;
    }
    ch->x = x;
    ch->what = what;
    ch->index = index;
    ch->port = port;
    ch->handler = handler;
    ch->opaque = opaque;
    ch->idle_kicks = 0;
    ch->masked_ms = XDF_FLOOD_POLL_MS;
    ch->unmask_timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_channel_unmask,
                                    ch);
    QLIST_INSERT_HEAD(&x->channels, ch, next);
    return true;
}

static void xdf_channel_notify(XdfChannel *ch)
{
    qemu_xen_evtchn_notify(ch->x->xeh, ch->port);
}

static void xdf_channel_unbind(XdfChannel *ch)
{
    if (!ch->port) {
        return;
    }
    QLIST_REMOVE(ch, next);
    g_clear_pointer(&ch->unmask_timer, timer_free);
    qemu_xen_evtchn_unbind(ch->x->xeh, ch->port);
    ch->port = 0;
}

/* Failures --------------------------------------------------------------- */

static void xdf_break_bh(void *opaque)
{
    XdfBreak *brk = opaque;
    g_autofree char *msg = g_strdup(brk->msg);   /* the user closes us */

    brk->broken(brk->opaque, msg);
}

static void xdf_break_init(XdfBreak *brk, XdfBrokenFn *broken, void *opaque)
{
    brk->msg = NULL;
    brk->broken = broken;
    brk->opaque = opaque;
    brk->bh = qemu_bh_new(xdf_break_bh, brk);
}

/* The first failure counts; the user hears of it in a bottom half. */
static void G_GNUC_PRINTF(2, 0)
xdf_break_vset(XdfBreak *brk, const char *fmt, va_list ap)
{
    if (!brk->msg) {
        brk->msg = g_strdup_vprintf(fmt, ap);
        qemu_bh_schedule(brk->bh);
    }
}

static void xdf_break_fini(XdfBreak *brk)
{
    g_clear_pointer(&brk->bh, qemu_bh_delete);
    g_clear_pointer(&brk->msg, g_free);
}

/* Event pages ------------------------------------------------------------ */

/* Take the events on the page, one batch; how many did something. */
static unsigned int xdf_events_take(void *opaque)
{
    XdfEvents *e = opaque;
    uint64_t evt[8];            /* one event, aligned for any of its fields */
    unsigned int progress = 0;
    uint32_t prod;

    assert(e->layout->evt_size <= sizeof(evt));
    if (e->brk.msg) {
        return 0;
    }
    if (event_page_prod(e->page, e->layout, e->cons, &prod)) {
        xdf_events_fail(e, "backend set in_prod to %" PRIu32 " with %"
                        PRIu32 " events taken: more than the %" PRIu32
                        " the ring holds", prod, e->cons,
                        e->layout->ring_len);
        return 0;
    }
    while (e->cons != prod && !e->brk.msg) {
        event_page_take(e->page, e->layout, &e->cons, evt);
        progress += e->event(e->opaque, evt);
    }
    return progress;
}

bool xdf_events_open(XdfEvents *e, XdfXen *x, const char *what,
                     unsigned int index, const EventPageLayout *layout,
                     XdfEventFn *event, XdfBrokenFn *broken, void *opaque,
                     Error **errp)
{
    e->x = x;
    e->layout = layout;
    e->event = event;
    e->opaque = opaque;
    e->page = qemu_xen_gntshr_share_pages(x->xgs, x->backend_domid, 1,
                                          &e->ref, true);
    if (!e->page) {
        xdf_error_limit(errp, errno, "connector %u: cannot share the %s "
                        "page", index, what);
        return false;
    }
    memset(e->page, 0, XEN_PAGE_SIZE);
    e->cons = 0;
    xdf_break_init(&e->brk, broken, opaque);
    if (!xdf_channel_bind(&e->ch, x, what, index, xdf_events_take, e,
                          errp)) {
        xdf_events_close(e);
        return false;
    }
    return true;
}

void xdf_events_fail(XdfEvents *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xdf_break_vset(&e->brk, fmt, ap);
    va_end(ap);
}

void xdf_events_close(XdfEvents *e)
{
    xdf_channel_unbind(&e->ch);
    xdf_break_fini(&e->brk);
    if (e->page) {
        qemu_xen_gntshr_unshare(e->x->xgs, e->page, 1);
        e->page = NULL;
    }
}

/* Request rings ---------------------------------------------------------- */

const char *xdf_op_name(uint8_t op)
{
    switch (op) {
    case XENDISPL_OP_DBUF_CREATE:
        return "DBUF_CREATE";
    case XENDISPL_OP_DBUF_DESTROY:
        return "DBUF_DESTROY";
    case XENDISPL_OP_FB_ATTACH:
        return "FB_ATTACH";
    case XENDISPL_OP_FB_DETACH:
        return "FB_DETACH";
    case XENDISPL_OP_SET_CONFIG:
        return "SET_CONFIG";
    case XENDISPL_OP_PG_FLIP:
        return "PG_FLIP";
    case XENDISPL_OP_GET_EDID:
        return "GET_EDID";
    default:
        return "unknown";
    }
}

void xdf_ring_fail(XdfRing *ring, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xdf_break_vset(&ring->brk, fmt, ap);
    va_end(ap);
    if (ring->timer) {
        timer_del(ring->timer);
    }
}

static void xdf_ring_timeout(void *opaque)
{
    XdfRing *ring = opaque;
    XdfRequest *r = ring->in_flight;

    xdf_ring_fail(ring, "request %s (id %u) got no response in %u ms",
                  xdf_op_name(r->req.operation), r->req.id,
                  ring->timeout_ms);
}

/* Put the next queued request in the ring's slot, if it is free. */
static void xdf_ring_kick(XdfRing *ring)
{
    struct xendispl_req *slot;
    XdfRequest *r;

    if (ring->in_flight || QSIMPLEQ_EMPTY(&ring->queue) || ring->brk.msg) {
        return;
    }
    r = QSIMPLEQ_FIRST(&ring->queue);
    QSIMPLEQ_REMOVE_HEAD(&ring->queue, next);
    r->req.id = ring->next_id++;
    ring->in_flight = r;

    slot = RING_GET_REQUEST(&ring->ring, ring->ring.req_prod_pvt);
    memcpy(slot, &r->req, sizeof(*slot));
    ring->ring.req_prod_pvt++;
    RING_PUSH_REQUESTS(&ring->ring);
    trace_xen_displfront_request(ring->x->id, ring->index, r->req.id,
                                 xdf_op_name(r->req.operation));
    ring->sent_us = qemu_clock_get_us(QEMU_CLOCK_REALTIME);
    timer_mod(ring->timer, ring->sent_us / 1000 + ring->timeout_ms);
    /* always notify: the backend may not have set rsp_event yet */
    xdf_channel_notify(&ring->ch);
}

void xdf_ring_submit(XdfRing *ring, uint8_t op, const void *body,
                     size_t len, XdfRequestDone *done, void *opaque)
{
    XdfRequest *r = g_new0(XdfRequest, 1);

    r->req.operation = op;
    assert(len <= sizeof(r->req.op));
    memcpy(&r->req.op, body, len);
    r->done = done;
    r->opaque = opaque;
    QSIMPLEQ_INSERT_TAIL(&ring->queue, r, next);
    xdf_ring_kick(ring);
}

/* Take the responses on the ring; how many there were. */
static unsigned int xdf_ring_take_responses(void *opaque)
{
    XdfRing *ring = opaque;
    struct xendispl_resp rsp;
    unsigned int taken = 0;
    XdfRequest *r;
    int ret = 0;

    do {
        while (!ring->brk.msg &&
               (ret = displif_front_get_response(&ring->ring, &rsp)) > 0) {
            taken++;
            r = ring->in_flight;
            if (!r || rsp.id != r->req.id ||
                rsp.operation != r->req.operation) {
                xdf_ring_fail(ring, "response id %u operation 0x%x answers "
                              "no outstanding request", rsp.id,
                              rsp.operation);
                return taken;
            }
            trace_xen_displfront_response(ring->x->id, ring->index, rsp.id,
                                          xdf_op_name(rsp.operation),
                                          rsp.status);
            timer_del(ring->timer);
            ring->rtt_last_us = qemu_clock_get_us(QEMU_CLOCK_REALTIME) -
                                ring->sent_us;
            ring->rtt_worst_us = MAX(ring->rtt_worst_us, ring->rtt_last_us);
            ring->in_flight = NULL;
            r->rsp = rsp;
            r->done(r, rsp.status == -ECANCELED ? -EIO : rsp.status);
            g_free(r);
        }
        if (ret < 0) {
            xdf_ring_fail(ring, "backend set rsp_prod to %u with %u "
                          "requests sent and %u answered",
                          ring->ring.sring->rsp_prod,
                          ring->ring.req_prod_pvt, ring->ring.rsp_cons);
        }
        if (ring->brk.msg) {
            return taken;
        }
    } while (displif_front_final_check(&ring->ring));
    xdf_ring_kick(ring);
    return taken;
}

bool xdf_ring_open(XdfRing *ring, XdfXen *x, unsigned int index,
                   uint32_t timeout_ms, XdfBrokenFn *broken, void *opaque,
                   Error **errp)
{
    ring->x = x;
    ring->index = index;
    ring->timeout_ms = timeout_ms;
    ring->next_id = 0;
    ring->in_flight = NULL;
    QSIMPLEQ_INIT(&ring->queue);
    ring->sring = qemu_xen_gntshr_share_pages(x->xgs, x->backend_domid, 1,
                                              &ring->ref, true);
    if (!ring->sring) {
        xdf_error_limit(errp, errno, "connector %u: cannot share the "
                        "request ring", index);
        return false;
    }
    SHARED_RING_INIT(ring->sring);
    FRONT_RING_INIT(&ring->ring, ring->sring, XEN_PAGE_SIZE);
    ring->timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_ring_timeout, ring);
    xdf_break_init(&ring->brk, broken, opaque);
    if (!xdf_channel_bind(&ring->ch, x, "requests", index,
                          xdf_ring_take_responses, ring, errp)) {
        xdf_ring_close(ring);
        return false;
    }
    return true;
}

void xdf_ring_close(XdfRing *ring)
{
    XdfRequest *r;

    if (ring->in_flight) {
        QSIMPLEQ_INSERT_HEAD(&ring->queue, ring->in_flight, next);
        ring->in_flight = NULL;
    }
    while ((r = QSIMPLEQ_FIRST(&ring->queue))) {
        QSIMPLEQ_REMOVE_HEAD(&ring->queue, next);
        r->done(r, -ECANCELED);
        g_free(r);
    }
    g_clear_pointer(&ring->timer, timer_free);
    xdf_channel_unbind(&ring->ch);
    xdf_break_fini(&ring->brk);
    if (ring->sring) {
        qemu_xen_gntshr_unshare(ring->x->xgs, ring->sring, 1);
        ring->sring = NULL;
    }
}

/* Xen -------------------------------------------------------------------- */

/*
 * Without a Xen accelerator nothing has set up the operation tables:
 * use the real Xen libraries then, as any dom0 or stub-domain process
 * would.
 */
bool xdf_xen_open(XdfXen *x, const char *id, uint32_t frontend_domid,
                  uint32_t backend_domid, Error **errp)
{
    g_autofree char *domid = NULL;

    x->id = id;
    x->backend_domid = backend_domid;
    QLIST_INIT(&x->channels);
    if (xen_mode == XEN_DISABLED && !xen_xenstore_ops) {
        setup_xen_backend_ops();
    }
    x->xsh = qemu_xen_xs_open();
    if (!x->xsh) {
        error_setg_errno(errp, errno, "cannot reach XenStore");
        error_append_hint(errp, "xen-displfront needs Xen: run QEMU in dom0 "
                          "or a stub domain with xenstored running, or "
                          "under xensim (build/xensim run -- ...).\n");
        return false;
    }
    if (!xen_gntshr_ops || !xen_evtchn_ops ||
        !xen_evtchn_ops->bind_unbound_port) {
        error_setg(errp, "this Xen (%s) cannot share pages with a backend",
                   xen_mode == XEN_EMULATE ? "QEMU's own Xen emulation" :
                   "accelerator");
        error_append_hint(errp, "Use real Xen libraries: drop the "
                          "accelerator's xen-version option.\n");
        return false;
    }
    x->xeh = qemu_xen_evtchn_open();
    if (!x->xeh) {
        error_setg_errno(errp, errno, "cannot open Xen event channels "
                         "(/dev/xen/evtchn)");
        return false;
    }
    qemu_set_fd_handler(qemu_xen_evtchn_fd(x->xeh), xdf_xen_evtchn_handler,
                        NULL, x);
    x->xgs = qemu_xen_gntshr_open();
    if (!x->xgs) {
        error_setg_errno(errp, errno, "cannot open Xen grant sharing "
                         "(/dev/xen/gntalloc)");
        return false;
    }
    x->xgt = qemu_xen_gnttab_open();
    if (!x->xgt) {
        error_setg_errno(errp, errno, "cannot open Xen grant mapping "
                         "(/dev/xen/gntdev)");
        return false;
    }

    /*
     * A domain's "domid" node sits in its home, which is where relative
     * paths lead; dom0's toolstack may not write it.
     */
    x->own_domid = 0;
    domid = qemu_xen_xs_read(x->xsh, XBT_NULL, "domid", NULL);
    if (domid && (qemu_strtoui(domid, NULL, 10, &x->own_domid) ||
                  x->own_domid >= DOMID_FIRST_RESERVED)) {
        if (frontend_domid == DOMID_SELF) {
            error_setg(errp, "XenStore node 'domid' holds '%s', not a "
                       "domain id; set frontend-domid", domid);
            return false;
        }
        x->own_domid = DOMID_INVALID;   /* unknown: trusted for nothing */
    }
    x->frontend_domid = frontend_domid == DOMID_SELF ? x->own_domid :
                                                       frontend_domid;
    return true;
}

/* Every channel is unbound by now: their users have closed. */
void xdf_xen_close(XdfXen *x)
{
    if (x->xeh) {
        qemu_set_fd_handler(qemu_xen_evtchn_fd(x->xeh), NULL, NULL, NULL);
    }
    if (x->xgs) {
        qemu_xen_gntshr_close(x->xgs);
        x->xgs = NULL;
    }
    if (x->xgt) {
        qemu_xen_gnttab_close(x->xgt);
        x->xgt = NULL;
    }
    if (x->xeh) {
        qemu_xen_evtchn_close(x->xeh);
        x->xeh = NULL;
    }
    if (x->xsh) {
        qemu_xen_xs_close(x->xsh);
        x->xsh = NULL;
    }
}
