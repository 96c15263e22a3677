/*
 * Xen para-virtual display (displif) frontend for emulated cards
 *
 * A legacy HVM guest draws into an emulated card (VGA, cirrus,
 * bochs-display, virtio-gpu, ramfb).  This device follows that card's
 * console and hands what it shows to a Xen displif backend, acting as
 * the frontend on behalf of a guest that has no PV display driver.
 *
 * Grants and event channels are issued by QEMU's own domain, so the
 * device is a displif frontend of that domain (frontend-domid), not of
 * the guest's.
 *
 * With input on, each connector is also a kbdif (vkbd) frontend: what
 * the backend's viewer types and points reaches the guest's emulated
 * keyboard, mouse or tablet through QEMU's input layer.
 *
 * The file reads bottom up, each layer calling only the ones above it
 * in the file; a lower layer reaches a higher one only through the
 * callbacks it was given:
 *  - the transport (XdfRing): per connector a request ring and an event
 *    page, each with its event channel; one request in flight, each
 *    with a completion and a timeout; events and failures go to the
 *    ring's XdfRingOps; XdfFlood, the guard against empty notifications;
 *  - XenBus (XdfXenbus): a frontend device's XenStore nodes and their
 *    ownership, the state machine, reconnect backoff; what a connection
 *    is comes from its XdfXenbusOps;
 *  - the display (XdfConnector): console listener, the connector's two
 *    buffers, damage, fitting the guest's picture, flips, GET_EDID;
 *  - the vdispl device: the display's XdfXenbusOps (nodes, rings);
 *  - the vkbd devices (XdfInput): a connector's input page, its events
 *    into QEMU's input layer, and their XdfXenbusOps;
 *  - the QOM device: properties, realize and teardown.
 *
 * Names: functions and types are xdf_ and Xdf (the QOM type itself is
 * XenDisplFront); trace points are xen_displfront_<what>.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitops.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/queue.h"
#include "qemu/timer.h"
#include "hw/qdev-core.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "hw/display/xen-displfront.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/xen-bus-helper.h"
#include "hw/xen/interface/io/displif.h"
#include "hw/xen/interface/io/kbdif.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include "system/system.h"
#include "ui/console.h"
#include "ui/input.h"
#include "qom/object.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "displif-proto.h"
#include "displif-front.h"
#include "kbdif-front.h"

OBJECT_DECLARE_SIMPLE_TYPE(XenDisplFront, XEN_DISPLFRONT)

#define XDF_DEFAULT_RESOLUTION  "1024x768"

/* What the Linux frontend uses, and what backends expect. */
#define XDF_REQ_TIMEOUT_MS      3000    /* default of req-timeout-ms */
#define XDF_FRAME_DONE_TIMEOUT_MS 100
#define XDF_REFRESH_US          16667   /* 60 Hz unless the EDID says */
#define XDF_IDLE_REFRESH_MS     1000    /* an idle guest: once a second */
#define XDF_QUIET_TICKS         8       /* refreshes with nothing new */
#define XDF_NR_BUFFERS          2
#define XDF_MAX_CONNECTORS      4       /* as Linux's frontend */
#define XDF_XS_TRIES            16      /* XenStore transaction retries */
#define XDF_MAX_DAMAGE_RECTS    16      /* then the bounding box */
#define XDF_FLOOD_KICKS         64      /* idle notifications: a flood */
#define XDF_FLOOD_POLL_MS       10      /* first masked period */
#define XDF_FLOOD_POLL_MAX_MS   1000
#define XDF_RETRY_MS            100     /* first reconnect backoff */
#define XDF_SHORT_LIVED_MS      5000    /* a connection that ends sooner */
#define XDF_MAX_AUTO_DEV_ID     1023    /* dev-id=auto: 0 to this */
#define XDF_BE_RECREATE_MS      5000    /* a backend Closed this long */
#define XDF_BE_GONE_MS          500     /* its directory away this long */
#define XDF_INPUT_MAX_WHEEL     16      /* wheel steps one event may make */
#define XDF_INPUT_MAX_REL       4096    /* pixels one motion event may move */
#define XDF_ID_MAX              1024    /* characters of a unique-id */

/*
 * The buffers' format, DRM's XRGB8888 (fourcc "XR24"): what every
 * backend takes; pixman converts other console formats while copying.
 */
#define XDF_DRM_FORMAT_XRGB8888 \
    ((uint32_t)'X' | ((uint32_t)'R' << 8) | ((uint32_t)'2' << 16) | \
     ((uint32_t)'4' << 24))

/* Helpers ---------------------------------------------------------------- */

static const char *xdf_op_name(uint8_t op)
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

/* The index of @name in @names, or -1. */
static int xdf_name_index(const char *const *names, size_t n,
                          const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!strcmp(names[i], name)) {
            return i;
        }
    }
    return -1;
}

/*
 * Set @errp for a failure with errno @err; when a limit was hit, the
 * message says which one to raise (in the message, not a hint: it
 * reaches the log through a failed connection, which prints no hints).
 */
static void G_GNUC_PRINTF(3, 4)
xdf_error_limit(Error **errp, int err, const char *fmt, ...)
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

/* Transport -------------------------------------------------------------- */

/*
 * Notifications that brought nothing.  A backend that notifies a port
 * again and again without putting anything behind it that does
 * something (a response, a frame-done event for the flip under way, an
 * input event the guest gets) must not keep QEMU's main loop busy: after
 * XDF_FLOOD_KICKS such notifications in a row the port stays masked for
 * a while (10 ms, doubling up to 1 s while the flood lasts), then its
 * user takes what is there as for a notification.  One guard per port:
 * a backend alternating between two ports floods both.
 */
typedef struct XdfFlood {
    unsigned int idle_kicks;
    uint32_t ms;                /* the next masked period */
    QEMUTimer *timer;           /* the end of the masked period */
} XdfFlood;

static void xdf_flood_init(XdfFlood *f, QEMUTimerCB *poll, void *opaque)
{
    f->idle_kicks = 0;
    f->ms = XDF_FLOOD_POLL_MS;
    f->timer = timer_new_ms(QEMU_CLOCK_REALTIME, poll, opaque);
}

static void xdf_flood_fini(XdfFlood *f)
{
    g_clear_pointer(&f->timer, timer_free);
}

/*
 * @port was notified (or its masked period is over) and what it brought
 * did @progress things: unmask it and return 0, or, past the flood
 * limit, leave it masked, arm the timer and return how long it stays so.
 */
static uint32_t xdf_flood_kicked(XdfFlood *f, xenevtchn_handle *xeh,
                                 int port, unsigned int progress)
{
    uint32_t ms = f->ms;

    if (progress) {
        f->idle_kicks = 0;
        f->ms = XDF_FLOOD_POLL_MS;
    } else if (++f->idle_kicks >= XDF_FLOOD_KICKS) {
        f->idle_kicks = 0;
        timer_mod(f->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
        f->ms = MIN(ms * 2, XDF_FLOOD_POLL_MAX_MS);
        return ms;
    }
    qemu_xen_evtchn_unmask(xeh, port);
    return 0;
}

typedef struct XdfRequest XdfRequest;

/*
 * A request's completion.  @status is the backend's answer (a backend's
 * own -ECANCELED arrives as -EIO), or -ECANCELED when the ring closed
 * before an answer came: then the completion only frees what it owns,
 * and neither submits nor fails anything.
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

/* What a ring tells its user. */
typedef struct XdfRingOps {
    /*
     * An event from the backend, already taken off the event page:
     * whether it did something (see XdfFlood).
     */
    bool (*event)(void *opaque, const struct xendispl_evt *evt);
    /*
     * The backend broke the protocol or did not answer in time (or the
     * user called xdf_ring_fail()): @msg says how.  The user closes the
     * connection; the ring does nothing more after this returns.
     */
    void (*fail)(void *opaque, const char *msg);
} XdfRingOps;

/*
 * One connector's transport: a request ring and an event page shared
 * with the backend, each with its own unbound event channel.  Nothing
 * else touches them.
 */
typedef struct XdfRing {
    /* set by the user before xdf_ring_open() */
    const XdfRingOps *ops;
    void *opaque;
    const char *id;             /* the device, for traces */
    unsigned int index;         /* the connector */
    xenevtchn_handle *xeh;
    xengntshr_handle *xgs;
    uint32_t backend_domid;
    uint32_t timeout_ms;        /* for each request */

    /* request ring; sring is NULL while the ring is closed */
    struct xen_displif_sring *sring;
    struct xen_displif_front_ring ring;
    uint32_t req_ref;
    int req_port;
    uint16_t next_id;
    XdfRequest *in_flight;
    QSIMPLEQ_HEAD(, XdfRequest) queue;
    QEMUTimer *req_timer;

    /* event page */
    struct xendispl_event_page *evt_page;
    uint32_t evt_cons;          /* ours: the backend may write in_cons */
    uint32_t evt_ref;
    int evt_port;

    XdfFlood req_flood;         /* each port's guard */
    XdfFlood evt_flood;
} XdfRing;

static void G_GNUC_PRINTF(2, 3)
xdf_ring_fail(XdfRing *ring, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ring->ops->fail(ring->opaque, msg);
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

    if (ring->in_flight || QSIMPLEQ_EMPTY(&ring->queue) || !ring->sring) {
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
    trace_xen_displfront_request(ring->id, ring->index, r->req.id,
                                 xdf_op_name(r->req.operation));
    timer_mod(ring->req_timer,
              qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ring->timeout_ms);
    /* always notify: the backend may not have set rsp_event yet */
    qemu_xen_evtchn_notify(ring->xeh, ring->req_port);
}

/*
 * Send request @op with @body; @done(r, status) is called with the
 * answer, or with -ECANCELED when the ring closes first.
 */
static void xdf_ring_submit(XdfRing *ring, uint8_t op, const void *body,
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
static unsigned int xdf_ring_take_responses(XdfRing *ring)
{
    struct xendispl_resp rsp;
    unsigned int taken = 0;
    XdfRequest *r;
    int ret;

    do {
        while ((ret = displif_front_get_response(&ring->ring, &rsp)) > 0) {
            taken++;
            r = ring->in_flight;
            if (!r || rsp.id != r->req.id ||
                rsp.operation != r->req.operation) {
                xdf_ring_fail(ring, "response id %u operation 0x%x answers "
                              "no outstanding request", rsp.id,
                              rsp.operation);
                return taken;
            }
            trace_xen_displfront_response(ring->id, ring->index, rsp.id,
                                          xdf_op_name(rsp.operation),
                                          rsp.status);
            timer_del(ring->req_timer);
            ring->in_flight = NULL;
            r->rsp = rsp;
            r->done(r, rsp.status == -ECANCELED ? -EIO : rsp.status);
            g_free(r);
            if (!ring->sring) {
                return taken;   /* the completion closed the ring */
            }
        }
        if (ret < 0) {
            xdf_ring_fail(ring, "backend set rsp_prod to %u with %u "
                          "requests sent and %u answered",
                          ring->ring.sring->rsp_prod,
                          ring->ring.req_prod_pvt, ring->ring.rsp_cons);
            return taken;
        }
    } while (displif_front_final_check(&ring->ring));
    xdf_ring_kick(ring);
    return taken;
}

/* Take the events on the event page; how many did something. */
static unsigned int xdf_ring_take_events(XdfRing *ring)
{
    struct xendispl_evt evt;
    unsigned int progress = 0;
    uint32_t prod;

    /* one batch: a backend that keeps adding events cannot hold us here */
    if (displif_front_event_prod(ring->evt_page, ring->evt_cons, &prod)) {
        xdf_ring_fail(ring, "backend set in_prod to %u with %u events "
                      "taken: more than the %zu the event ring holds", prod,
                      ring->evt_cons, (size_t)XENDISPL_IN_RING_LEN);
        return 0;
    }
    while (ring->evt_cons != prod) {
        displif_front_take_event(ring->evt_page, &ring->evt_cons, &evt);
        progress += ring->ops->event(ring->opaque, &evt);
        if (!ring->sring) {
            break;              /* the user closed the ring */
        }
    }
    return progress;
}

static bool xdf_ring_has_port(XdfRing *ring, int port)
{
    return ring->sring && (port == ring->req_port ||
                           port == ring->evt_port);
}

/*
 * @port, one of the ring's, was notified (or its masked period is
 * over): take what it announces, each port guarded against floods (see
 * XdfFlood).
 */
static void xdf_ring_notified(XdfRing *ring, int port)
{
    bool req = port == ring->req_port;
    unsigned int progress;
    uint32_t masked_ms;

    progress = req ? xdf_ring_take_responses(ring) :
                     xdf_ring_take_events(ring);
    trace_xen_displfront_notified(ring->id, req ? "requests" : "events",
                                  ring->index, port, progress);
    if (!ring->sring) {
        return;                 /* closed: the port is gone */
    }
    masked_ms = xdf_flood_kicked(req ? &ring->req_flood : &ring->evt_flood,
                                 ring->xeh, port, progress);
    if (masked_ms) {
        trace_xen_displfront_flood(ring->id, "connector", ring->index, port,
                                   masked_ms);
    }
}

/* A port's masked period is over (see XdfFlood). */
static void xdf_ring_req_unflood(void *opaque)
{
    XdfRing *ring = opaque;

    xdf_ring_notified(ring, ring->req_port);
}

static void xdf_ring_evt_unflood(void *opaque)
{
    XdfRing *ring = opaque;

    xdf_ring_notified(ring, ring->evt_port);
}

/*
 * Close the ring: every request still queued or in flight completes
 * with -ECANCELED, then the ports and pages go back.
 */
static void xdf_ring_close(XdfRing *ring)
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
    g_clear_pointer(&ring->req_timer, timer_free);
    xdf_flood_fini(&ring->req_flood);
    xdf_flood_fini(&ring->evt_flood);
    if (ring->req_port > 0) {
        qemu_xen_evtchn_unbind(ring->xeh, ring->req_port);
    }
    if (ring->evt_port > 0) {
        qemu_xen_evtchn_unbind(ring->xeh, ring->evt_port);
    }
    ring->req_port = ring->evt_port = 0;
    if (ring->sring) {
        qemu_xen_gntshr_unshare(ring->xgs, ring->sring, 1);
        ring->sring = NULL;
    }
    if (ring->evt_page) {
        qemu_xen_gntshr_unshare(ring->xgs, ring->evt_page, 1);
        ring->evt_page = NULL;
    }
}

/*
 * Share the request ring and the event page with the backend and bind
 * an unbound event channel for each; on failure the ring is closed.
 */
static bool xdf_ring_open(XdfRing *ring, Error **errp)
{
    QSIMPLEQ_INIT(&ring->queue);
    ring->sring = qemu_xen_gntshr_share_pages(ring->xgs, ring->backend_domid,
                                              1, &ring->req_ref, true);
    if (!ring->sring) {
        xdf_error_limit(errp, errno, "connector %u: cannot share the "
                        "request ring", ring->index);
        return false;
    }
    SHARED_RING_INIT(ring->sring);
    FRONT_RING_INIT(&ring->ring, ring->sring, XEN_PAGE_SIZE);
    ring->req_timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_ring_timeout,
                                   ring);
    xdf_flood_init(&ring->req_flood, xdf_ring_req_unflood, ring);
    xdf_flood_init(&ring->evt_flood, xdf_ring_evt_unflood, ring);
    ring->next_id = 0;

    ring->evt_page = qemu_xen_gntshr_share_pages(ring->xgs,
                                                 ring->backend_domid, 1,
                                                 &ring->evt_ref, true);
    if (!ring->evt_page) {
        xdf_error_limit(errp, errno, "connector %u: cannot share the "
                        "event page", ring->index);
        goto fail;
    }
    memset(ring->evt_page, 0, XEN_PAGE_SIZE);
    ring->evt_cons = 0;

    ring->req_port = qemu_xen_evtchn_bind_unbound_port(ring->xeh,
                                                       ring->backend_domid);
    if (ring->req_port <= 0) {
        xdf_error_limit(errp, ring->req_port ? -ring->req_port : EIO,
                        "connector %u: cannot allocate an event channel",
                        ring->index);
        ring->req_port = 0;
        goto fail;
    }
    ring->evt_port = qemu_xen_evtchn_bind_unbound_port(ring->xeh,
                                                       ring->backend_domid);
    if (ring->evt_port <= 0) {
        xdf_error_limit(errp, ring->evt_port ? -ring->evt_port : EIO,
                        "connector %u: cannot allocate an event channel",
                        ring->index);
        ring->evt_port = 0;
        goto fail;
    }
    trace_xen_displfront_connector(ring->id, ring->index, ring->req_ref,
                                   ring->req_port, ring->evt_ref,
                                   ring->evt_port);
    return true;

fail:
    xdf_ring_close(ring);
    return false;
}

/* State ------------------------------------------------------------------ */

/* How the guest's picture is fitted into a connector's buffers. */
typedef enum XdfFitMode {
    XDF_FIT_SCALE,              /* largest that fits, aspect kept, centred */
    XDF_FIT_CENTER,             /* 1:1, centred */
    XDF_FIT_CROP,               /* 1:1, top left */
} XdfFitMode;

static const char *const xdf_fit_names[] = {
    [XDF_FIT_SCALE] = "scale",
    [XDF_FIT_CENTER] = "center",
    [XDF_FIT_CROP] = "crop",
};

/*
 * Where the guest's picture lands in a buffer: the picture rectangle
 * (dst_*) and, per buffer column and row in it, the guest's column and
 * row shown there.  1:1 when the maps are the identity plus an offset.
 */
typedef struct XdfFit {
    uint32_t src_w, src_h;      /* the guest's picture, 0: none */
    uint32_t dst_x, dst_y, dst_w, dst_h;
    bool one_to_one;            /* src = dst - dst_* + src_* */
    uint32_t src_x, src_y;      /* 1:1: the first guest pixel shown */
    uint32_t *xmap;             /* scaled: dst_w guest columns */
    uint32_t *ymap;             /* scaled: dst_h guest rows */
} XdfFit;

typedef struct XdfConnector XdfConnector;

/*
 * A XenBus frontend device of ours: the vdispl device, or a connector's
 * vkbd.  Each is claimed, owned, released and driven by its backend's
 * state in the same way (see "XenBus" below); what a connection is, its
 * ops say.
 */
typedef struct XdfXenbus XdfXenbus;

/* Whether a device may take a toolstack's directory with no live user. */
typedef enum XdfAdopt {
    XDF_ADOPT_YES,
    XDF_ADOPT_OTHER,            /* another device's: not ours to take */
    XDF_ADOPT_NO,               /* ours, but we cannot serve it: say why */
} XdfAdopt;

typedef struct XdfXenbusOps {
    const char *driver;         /* in XenStore: vdispl, vkbd */
    /* the backend directories that may serve it: vdispl; vinput, vkbd */
    const char *const *be_drivers;
    /* the device's own nodes in directories we write, or NULL */
    void (*fe_nodes)(XdfXenbus *xb, xs_transaction_t t, Error **errp);
    void (*be_nodes)(XdfXenbus *xb, xs_transaction_t t, Error **errp);
    /* may we take toolstack directory @fe, device @idx?  NO sets *why */
    XdfAdopt (*adopt)(XdfXenbus *xb, xs_transaction_t t, const char *fe,
                      uint32_t idx, char **why);
    /* the backend waits (InitWait): share and publish what it needs */
    bool (*connect)(XdfXenbus *xb, Error **errp);
    /* the backend is Connected, and now so are we */
    void (*connected)(XdfXenbus *xb);
    /* drop the connection; whether it had worked */
    bool (*disconnect)(XdfXenbus *xb);
} XdfXenbusOps;

struct XdfXenbus {
    XenDisplFront *s;           /* handles, domains, owner */
    const XdfXenbusOps *ops;
    void *opaque;               /* the ops' */
    char *name;                 /* "<driver>/<dev-id>", in messages */
    bool dev_id_auto;
    uint32_t dev_id;            /* the index asked for, then the one claimed */
    const char *be_driver;      /* the backend directory we write */
    char *fe_path;              /* .../device/<driver>/<dev-id> */
    char *be_path;              /* .../backend/<be_driver>/<fe>/<dev-id> */
    bool claimed;               /* our owner record is in fe_path */
    /*
     * Its directories are a toolstack's to write (QEMU in a stub domain
     * may not): take one, or wait for one (waiting, dir_watch).
     */
    bool adopt_only;
    bool waiting;
    char *waiting_for;          /* "a vdispl device", in the message */
    struct qemu_xs_watch *dir_watch;
    void (*on_claim)(XdfXenbus *xb);    /* a waited-for one is ours now */
    GPtrArray *skipped;         /* claim: toolstack directories, and why */
    GHashTable *said;           /* ... of those, the ones said already */
    bool wrote_nodes;           /* we created both directories */
    int lost_to_pid;            /* another owner found at release, or 0 */
    struct qemu_xs_watch *be_watch;
    enum xenbus_state state;
    enum xenbus_state be_state;
    unsigned int fail_streak;   /* attempts that failed since one worked */
    bool attempting;            /* a connection attempt is under way */
    int64_t attempt_ms;         /* since when */
    bool broken;                /* it ended in a failure */
    QEMUTimer *retry_timer;     /* reconnect after a backoff */
    QEMUTimer *recreate_timer;  /* backend Closed too long: new directory */
    bool recreating;            /* removed it, to write it again */
};

/*
 * A connector's input: a kbdif (vkbd) device, linked to the connector by
 * unique-id, whose events go to the connector's console.
 */
typedef struct XdfInput {
    XdfXenbus bus;
    struct xenkbd_page *page;   /* NULL while no attempt holds one */
    uint32_t page_ref;
    int port;
    uint32_t cons;              /* ours: the backend may write in_cons */
    XdfFlood flood;
    bool connected;             /* the backend took the page */
    bool abs;                   /* we asked for absolute positions */
    uint32_t area_w;            /* the backend's pointer area */
    uint32_t area_h;
    bool touch;                 /* we asked for multi-touch */
    uint32_t touch_w;           /* the backend's touch area */
    uint32_t touch_h;
    uint32_t contacts;          /* at most this many at once */
    touch_slot slots[INPUT_EVENT_SLOTS_MAX];  /* QEMU's, per contact */
    uint32_t migrated_touch;    /* contacts down in the source's guest */
    bool have_pos;              /* gx, gy: the last position, in the guest */
    uint32_t gx, gy;
    bool said_relative;         /* "no absolute device" said */
    bool said_system_key;       /* "dropping a system key" said */
    /* keys and buttons the backend holds, and those the guest saw go down */
    unsigned long held[BITS_TO_LONGS(KBDIF_KEY_MAX + 1)];
    unsigned long down[BITS_TO_LONGS(KBDIF_KEY_MAX + 1)];
} XdfInput;

/* A display buffer's life: shared, then DBUF_CREATE, then FB_ATTACH. */
typedef enum XdfBufferState {
    XDF_BUFFER_NONE,            /* nothing shared */
    XDF_BUFFER_SHARED,          /* pages and directory granted */
    XDF_BUFFER_CREATED,         /* DBUF_CREATE answered (and mapped) */
    XDF_BUFFER_ATTACHED,        /* FB_ATTACH answered: it can be shown */
} XdfBufferState;

/* A display buffer and the framebuffer attached to it. */
typedef struct XdfBuffer {
    XdfConnector *c;            /* whose it is */
    XdfBufferState state;
    uint64_t dbuf_cookie;
    uint64_t fb_cookie;
    uint32_t width;
    uint32_t height;
    uint32_t stride;
    uint32_t bpp;
    uint32_t fourcc;
    pixman_format_code_t format;

    void *data;                 /* shared with the backend */
    bool be_alloc;              /* data is the backend's, mapped by us */
    uint32_t n_data;
    uint32_t *data_refs;
    void *dir;                  /* page directory */
    uint32_t n_dir;
    uint32_t *dir_refs;
    pixman_image_t *image;      /* wraps data */

    pixman_region32_t stale;    /* what differs from what it should show */
} XdfBuffer;

/*
 * What a connector's guest holds, for the migration stream: keys and
 * buttons (a bit per Linux code), multi-touch contacts (-1: up).
 */
typedef struct XdfHeld {
    uint32_t keys[(KBDIF_KEY_MAX + 1) / 32];
    int32_t touch_id[INPUT_EVENT_SLOTS_MAX];
    int32_t touch_x[INPUT_EVENT_SLOTS_MAX];
    int32_t touch_y[INPUT_EVENT_SLOTS_MAX];
} XdfHeld;

/* What a connector's display is doing. */
typedef enum XdfDisplayState {
    XDF_DISPLAY_OFF,            /* no buffers: not connected */
    XDF_DISPLAY_CONFIGURING,    /* buffers being created and attached */
    XDF_DISPLAY_ON,             /* SET_CONFIG answered: flipping */
} XdfDisplayState;

/* One connector: its transport, and the console it shows. */
struct XdfConnector {
    XenDisplFront *s;
    unsigned int index;
    uint32_t width;             /* from XenStore's "resolution" */
    uint32_t height;
    XdfRing ring;

    char *unique_id;            /* the connector's */
    char *input_id;             /* its vkbd's: links the two */
    XdfInput input;

    /* the console: head (head + index) of the card */
    QemuConsole *con;
    DisplayChangeListener dcl;
    bool dcl_registered;
    DisplaySurface *surface;
    XdfFit fit;                 /* the surface in the buffers */
    pixman_region32_t damage;   /* since the last flip */

    /* display */
    XdfDisplayState display;
    XdfRing *setup_ring;        /* DBUF and FB requests: connector 0's */
    XdfBuffer buf[XDF_NR_BUFFERS];
    int front;                  /* buffer shown, -1: none yet */
    int flipping;               /* buffer being flipped to, -1: none */
    int64_t last_flip_ms;
    QEMUTimer *frame_timer;     /* gives up waiting for frame-done */

    /* GET_EDID's buffer, while the request is out */
    void *edid;
    uint32_t edid_refs[XENDISPL_EDID_MAX_SIZE / XEN_PAGE_SIZE];
    uint32_t *edid_dir;
    uint32_t edid_dir_ref;

    /* refresh: the connector's rate, backing off while nothing changes */
    uint32_t refresh_us;        /* the connector's frame period */
    uint32_t interval_ms;       /* its whole ms, or backed off */
    int64_t next_frame_us;      /* when the next refresh is due, 0: now */
    unsigned int quiet_ticks;
};

struct XenDisplFront {
    /* parent */
    DeviceState parent_obj;

    /* device config */
    char *display;              /* qdev id of the card to follow */
    uint32_t head;
    uint32_t backend_domid;
    uint32_t frontend_domid;    /* DOMID_SELF: QEMU's own domain */
    char *dev_id_prop;          /* "auto" (NULL) or an index; then the index */
    char *resolution;
    char *unique_id;            /* per connector, '|' between them */
    char *input_id;             /* each connector's vkbd's unique-id */
    char *input_backend;        /* vinput (NULL) or vkbd */
    char *fit;                  /* scale (default), center or crop */
    bool be_alloc;
    OnOffAuto input;            /* a vkbd frontend per connector */
    bool input_system_keys;     /* the backend may press power, SysRq */
    uint32_t connectors;
    uint32_t req_timeout_ms;

    /* parsed config */
    uint32_t width;
    uint32_t height;
    char **unique_ids;          /* from unique-id, NULL: made up */
    char **input_ids;           /* from input-id, NULL: the unique-ids */
    XdfFitMode fit_mode;

    /* Xen handles */
    uint32_t own_domid;         /* QEMU's domain */
    struct qemu_xs_handle *xsh;
    xenevtchn_handle *xeh;
    xengntshr_handle *xgs;
    xengnttab_handle *xgt;      /* maps backend-allocated buffers */

    /* XenBus: the vdispl device */
    XdfXenbus bus;
    unsigned int version;

    /* connectors */
    unsigned int nr_connectors;
    XdfConnector *conn;
    uint64_t next_cookie;

    /* migration: what each connector's guest holds (xdf_vmstate_held) */
    uint32_t mig_connectors;
    XdfHeld mig_held[XDF_MAX_CONNECTORS];

    Notifier exit_notifier;
    VMChangeStateEntry *vm_state;  /* flips stop while the VM does */
    QEMUBH *give_up;            /* a late start failed: tear down */
    QLIST_ENTRY(XenDisplFront) next;
};

static QLIST_HEAD(, XenDisplFront) xdf_devices =
    QLIST_HEAD_INITIALIZER(xdf_devices);

static const char *xdf_id(XenDisplFront *s)
{
    DeviceState *dev = DEVICE(s);

    return dev->id ? dev->id : TYPE_XEN_DISPLFRONT;
}

/* XenBus ----------------------------------------------------------------- */

static void xdf_bus_set_state(XdfXenbus *xb, enum xenbus_state state)
{
    Error *local_err = NULL;

    if (xb->state == state) {
        return;
    }
    trace_xen_displfront_state(xdf_id(xb->s), xb->name,
                               xs_strstate(xb->state), xs_strstate(state));
    xb->state = state;
    xs_node_printf(xb->s->xsh, XBT_NULL, xb->fe_path, "state", &local_err,
                   "%u", state);
    if (local_err) {
        error_report_err(local_err);
    }
}

/* xs_node_printf(), skipped once an error is set: one check per batch. */
static void G_GNUC_PRINTF(6, 7)
xdf_xs_printf(struct qemu_xs_handle *h, xs_transaction_t t, const char *node,
              const char *key, Error **errp, const char *fmt, ...)
{
    ERRP_GUARD();
    va_list ap;

    if (*errp) {
        return;
    }
    va_start(ap, fmt);
    xs_node_vprintf(h, t, node, key, errp, fmt, ap);
    va_end(ap);
}

typedef void XdfXsWrite(XdfXenbus *xb, xs_transaction_t t, Error **errp);

/*
 * Run @write in one XenStore transaction, again while it conflicts with
 * another writer; @what names the job in errors.
 */
static bool xdf_xs_transaction(XdfXenbus *xb, XdfXsWrite *write,
                               const char *what, Error **errp)
{
    struct qemu_xs_handle *h = xb->s->xsh;
    Error *local_err = NULL;
    xs_transaction_t t;
    int tries;

    for (tries = 0; tries < XDF_XS_TRIES; tries++) {
        t = qemu_xen_xs_transaction_start(h);
        if (t == XBT_NULL) {
            error_setg_errno(errp, errno, "cannot %s: no XenStore "
                             "transaction", what);
            return false;
        }
        write(xb, t, &local_err);
        if (local_err) {
            qemu_xen_xs_transaction_end(h, t, true);
            error_propagate_prepend(errp, local_err, "cannot %s: ", what);
            return false;
        }
        if (qemu_xen_xs_transaction_end(h, t, false)) {
            return true;
        }
        if (errno != EAGAIN) {
            error_setg_errno(errp, errno, "cannot %s", what);
            return false;
        }
    }
    error_setg(errp, "cannot %s: XenStore transactions kept conflicting "
               "(%d tries)", what, XDF_XS_TRIES);
    return false;
}

/*
 * The frontend and backend directories, as a toolstack would write them
 * (xl.cfg's vdispl= or vkb=), when none exist yet.  Owner of each is its
 * own domain, and the other end may read it.  The backend's first:
 */
static void xdf_write_be_nodes(XdfXenbus *xb, xs_transaction_t t,
                               Error **errp)
{
    ERRP_GUARD();
    XenDisplFront *s = xb->s;
    struct qemu_xs_handle *h = s->xsh;

    xs_node_create(h, t, xb->be_path, s->backend_domid, s->frontend_domid,
                   XS_PERM_READ, errp);
    xdf_xs_printf(h, t, xb->be_path, "frontend", errp, "%s", xb->fe_path);
    xdf_xs_printf(h, t, xb->be_path, "frontend-id", errp, "%" PRIu32,
                  s->frontend_domid);
    xdf_xs_printf(h, t, xb->be_path, "online", errp, "1");
    xdf_xs_printf(h, t, xb->be_path, "state", errp, "%u",
                  XenbusStateInitialising);
    if (!*errp && xb->ops->be_nodes) {
        xb->ops->be_nodes(xb, t, errp);
    }
}

static void xdf_write_nodes_in(XdfXenbus *xb, xs_transaction_t t,
                               Error **errp)
{
    ERRP_GUARD();
    XenDisplFront *s = xb->s;
    struct qemu_xs_handle *h = s->xsh;
    Error *stale = NULL;

    /* whatever an earlier run left */
    xs_node_destroy(h, t, xb->fe_path, &stale);
    error_free(stale);
    stale = NULL;
    xs_node_destroy(h, t, xb->be_path, &stale);
    error_free(stale);

    xs_node_create(h, t, xb->fe_path, s->frontend_domid, s->backend_domid,
                   XS_PERM_READ, errp);
    if (*errp) {
        return;
    }
    xdf_write_be_nodes(xb, t, errp);
    xdf_xs_printf(h, t, xb->fe_path, "backend", errp, "%s", xb->be_path);
    xdf_xs_printf(h, t, xb->fe_path, "backend-id", errp, "%" PRIu32,
                  s->backend_domid);
    if (!*errp && xb->ops->fe_nodes) {
        xb->ops->fe_nodes(xb, t, errp);
    }
    xdf_xs_printf(h, t, xb->fe_path, "state", errp, "%u",
                  XenbusStateInitialising);
}

/*
 * Ownership.  Every QEMU in a domain is a vdispl (and vkbd) frontend of
 * that domain, so the devices of all its guests meet under one
 * device/vdispl/ (and device/vkbd/).  A device claims its index in a
 * transaction and records itself in <frontend dir>/owner/: pid,
 * pid-start (its start time, so that a reused pid is not taken for it)
 * and pid-ns (its PID namespace, in which alone the pid means it), the
 * VM's name and UUID, the qdev id, and who wrote the directories
 * ("device": us, "toolstack": xl.cfg's vdispl= or vkb=).  A directory is
 * taken from another owner only when that owner is proved gone: a
 * device that cannot tell (another PID namespace, /proc hidden or
 * absent, no start time) leaves it alone, as if in use.
 */

/* Start time of process @pid (/proc/PID/stat field 22); false if none. */
static bool xdf_pid_start(uint64_t pid, uint64_t *start)
{
    g_autofree char *path = g_strdup_printf("/proc/%" PRIu64 "/stat", pid);
    g_autofree char *stat = NULL;
    const char *p, *end;
    int field;

    if (!g_file_get_contents(path, &stat, NULL, NULL)) {
        return false;
    }
    /* field 2 is the command in parentheses, which may hold anything */
    p = strrchr(stat, ')');
    for (field = 3; p && field <= 22; field++) {
        p = strchr(p + 1, ' ');
    }
    return p && !qemu_strtou64(p + 1, &end, 10, start) && *end == ' ';
}

/* This process, as owner records name it. */
typedef struct XdfSelf {
    uint64_t start;             /* 0: unknown */
    char *pid_ns;               /* NULL: unknown */
} XdfSelf;

/*
 * Read once, at the first claim: QEMU's -chroot and -runas come after
 * the devices of its command line, and may leave no /proc behind.
 */
static const XdfSelf *xdf_self(void)
{
    static XdfSelf self;
    static bool known;

    if (!known) {
        if (!xdf_pid_start(getpid(), &self.start)) {
            self.start = 0;
        }
        self.pid_ns = g_file_read_link("/proc/self/ns/pid", NULL);
        known = true;
    }
    return &self;
}

/* What we know of the process that recorded an owner. */
typedef enum XdfOwnerLife {
    XDF_OWNER_ALIVE,
    XDF_OWNER_DEAD,
    XDF_OWNER_UNKNOWN,
} XdfOwnerLife;

/*
 * Is the QEMU that recorded @pid (1 to INT32_MAX), @start and @pid_ns
 * still running?  Dead only when proved: no such process in our PID
 * namespace, or another one by now (another start time).  Otherwise
 * *@why says what keeps us from telling.
 */
static XdfOwnerLife xdf_owner_life(uint64_t pid, uint64_t start,
                                   const char *pid_ns, char **why)
{
    const XdfSelf *self = xdf_self();
    uint64_t now;

    if (!self->pid_ns || !pid_ns || strcmp(pid_ns, self->pid_ns)) {
        *why = g_strdup_printf("it recorded %s%s, this QEMU is in %s: "
                               "its pid means nothing here",
                               pid_ns ? "PID namespace " : "no PID namespace",
                               pid_ns ? pid_ns : "",
                               self->pid_ns ? self->pid_ns :
                               "an unknown one (no /proc)");
        return XDF_OWNER_UNKNOWN;
    }
    if (pid == getpid()) {
        return start == self->start ? XDF_OWNER_ALIVE : XDF_OWNER_DEAD;
    }
    if (kill(pid, 0) && errno == ESRCH) {
        return XDF_OWNER_DEAD;
    }
    if (!start) {
        *why = g_strdup_printf("a process %" PRIu64 " runs, and the owner "
                               "recorded no start time to tell whether it "
                               "is the same one", pid);
        return XDF_OWNER_UNKNOWN;
    }
    if (!xdf_pid_start(pid, &now)) {
        *why = g_strdup_printf("a process %" PRIu64 " runs, but /proc/%"
                               PRIu64 "/stat cannot be read (hidepid?) to "
                               "tell whether it is the same one", pid, pid);
        return XDF_OWNER_UNKNOWN;
    }
    return now == start ? XDF_OWNER_ALIVE : XDF_OWNER_DEAD;
}

typedef enum XdfDirKind {
    XDF_DIR_FREE,           /* no frontend directory */
    XDF_DIR_STALE,          /* left by a QEMU that died, or half made */
    XDF_DIR_TOOLSTACK,      /* a toolstack's, with no live user */
    XDF_DIR_IN_USE,         /* a live QEMU's, or another device's */
    XDF_DIR_UNKNOWN,        /* a QEMU's that may be gone: we cannot tell */
    XDF_DIR_FOREIGN,        /* a toolstack's we cannot serve */
} XdfDirKind;

static const char *const xdf_dir_kind_names[] = {
    [XDF_DIR_FREE] = "free",
    [XDF_DIR_STALE] = "reclaimed",
    [XDF_DIR_TOOLSTACK] = "toolstack",
    [XDF_DIR_IN_USE] = "in use",
    [XDF_DIR_UNKNOWN] = "owner alive or dead",
    [XDF_DIR_FOREIGN] = "toolstack, not ours to serve",
};

/*
 * What frontend directory @fe is to us; for one in use, or whose owner
 * may be gone, *@owner names the QEMU (and device) that has it.
 */
static XdfDirKind xdf_dir_kind(XdfXenbus *xb, xs_transaction_t t,
                               const char *fe, char **owner)
{
    struct qemu_xs_handle *h = xb->s->xsh;
    g_autofree char *dir = xs_node_read(h, t, NULL, NULL, "%s", fe);
    g_autofree char *pid_str = NULL;
    g_autofree char *nodes = NULL;
    g_autofree char *backend = NULL;
    g_autofree char *vm = NULL;
    g_autofree char *dev = NULL;
    g_autofree char *pid_ns = NULL;
    g_autofree char *why = NULL;
    uint64_t pid = 0, start = 0;
    XdfOwnerLife life;

    if (!dir) {
        return XDF_DIR_FREE;
    }
    pid_str = xs_node_read(h, t, NULL, NULL, "%s/owner/pid", fe);
    if (!pid_str) {
        /* nobody's: a toolstack's, or half made */
        backend = xs_node_read(h, t, NULL, NULL, "%s/backend", fe);
        return backend ? XDF_DIR_TOOLSTACK : XDF_DIR_STALE;
    }
    if (qemu_strtou64(pid_str, NULL, 10, &pid) || !pid || pid > INT32_MAX) {
        life = XDF_OWNER_UNKNOWN;
        why = g_strdup_printf("its owner's pid '%s' is no process id",
                              pid_str);
    } else {
        xs_node_scanf(h, t, fe, "owner/pid-start", NULL, "%" SCNu64, &start);
        pid_ns = xs_node_read(h, t, NULL, NULL, "%s/owner/pid-ns", fe);
        life = xdf_owner_life(pid, start, pid_ns, &why);
    }
    if (life == XDF_OWNER_DEAD) {
        nodes = xs_node_read(h, t, NULL, NULL, "%s/owner/nodes", fe);
        return nodes && !strcmp(nodes, "toolstack") ? XDF_DIR_TOOLSTACK :
               XDF_DIR_STALE;
    }
    vm = xs_node_read(h, t, NULL, NULL, "%s/owner/vm-name", fe);
    dev = xs_node_read(h, t, NULL, NULL, "%s/owner/device", fe);
    *owner = g_strdup_printf("xen-displfront '%s' of %s (pid %s%s%s%s)%s%s",
                             dev ? dev : "?",
                             pid == getpid() ? "this QEMU" : "QEMU",
                             pid_str, vm && *vm ? ", VM '" : "",
                             vm && *vm ? vm : "", vm && *vm ? "'" : "",
                             why ? ", which may have exited: this QEMU "
                             "cannot tell, as " : "", why ? why : "");
    return life == XDF_OWNER_ALIVE ? XDF_DIR_IN_USE : XDF_DIR_UNKNOWN;
}

/* Where backend directory @be_driver of device @idx is. */
static char *xdf_be_path(XdfXenbus *xb, const char *be_driver, uint32_t idx)
{
    return g_strdup_printf("/local/domain/%" PRIu32 "/backend/%s/%" PRIu32
                           "/%" PRIu32, xb->s->backend_domid, be_driver,
                           xb->s->frontend_domid, idx);
}

static void xdf_set_paths(XdfXenbus *xb)
{
    XenDisplFront *s = xb->s;

    g_free(xb->name);
    g_free(xb->fe_path);
    g_free(xb->be_path);
    xb->name = g_strdup_printf("%s/%" PRIu32, xb->ops->driver, xb->dev_id);
    xb->fe_path = g_strdup_printf("/local/domain/%" PRIu32
                                  "/device/%s/%" PRIu32, s->frontend_domid,
                                  xb->ops->driver, xb->dev_id);
    xb->be_path = xdf_be_path(xb, xb->be_driver, xb->dev_id);
}

/*
 * Is toolstack directory @fe's backend @be (as its "backend" node says)
 * one we can be served from: backend-domid's for device @idx, of a kind
 * the ops name (a vkbd's is vinput or vkbd, wherever the toolstack put
 * it)?  If not, *@why.
 */
static bool xdf_toolstack_backend(XdfXenbus *xb, const char *fe,
                                  const char *be, uint32_t idx, char **why)
{
    g_autoptr(GString) want = g_string_new(NULL);
    unsigned int i;

    for (i = 0; xb->ops->be_drivers[i]; i++) {
        g_autofree char *path = xdf_be_path(xb, xb->ops->be_drivers[i], idx);

        if (be && !strcmp(be, path)) {
            return true;
        }
        g_string_append_printf(want, "%s'%s'", i ? " or " : "", path);
    }
    *why = g_strdup_printf("%s/backend is '%s', not %s: check "
                           "backend-domid and frontend-domid", fe,
                           be ? be : "(none)", want->str);
    return false;
}

static gint xdf_cmp_u32(gconstpointer a, gconstpointer b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * The device indices a claim looks at, in order: the one asked for; with
 * dev-id=auto 0 to XDF_MAX_AUTO_DEV_ID, or, for a device that only takes
 * a toolstack's directories (adopt_only), those under @base.
 */
static GArray *xdf_claim_candidates(XdfXenbus *xb, xs_transaction_t t,
                                    const char *base)
{
    GArray *c = g_array_new(false, false, sizeof(uint32_t));
    unsigned int i, n = 0;
    uint32_t idx;
    char **dirs;

    if (!xb->dev_id_auto) {
        g_array_append_val(c, xb->dev_id);
    } else if (!xb->adopt_only) {
        for (idx = 0; idx <= XDF_MAX_AUTO_DEV_ID; idx++) {
            g_array_append_val(c, idx);
        }
    } else {
        dirs = qemu_xen_xs_directory(xb->s->xsh, t, base, &n);
        for (i = 0; dirs && i < n; i++) {
            if (!qemu_strtoui(dirs[i], NULL, 10, &idx) &&
                g_ascii_isdigit(dirs[i][0]) && idx <= INT32_MAX) {
                g_array_append_val(c, idx);
            }
        }
        free(dirs);
        g_array_sort(c, xdf_cmp_u32);
    }
    return c;
}

/*
 * Claim a device index: the one asked for unless a live device has it
 * (or one we cannot tell from a dead one), or with dev-id=auto the
 * lowest that is free, stale or a toolstack's with no live user that the
 * ops may take (a toolstack's we cannot serve is skipped; the skipped
 * list says why, for after the transaction).  A toolstack's directory is
 * adopted; any other is (re)written.  Then our owner record goes in.
 */
static void xdf_claim_in(XdfXenbus *xb, xs_transaction_t t, Error **errp)
{
    XenDisplFront *s = xb->s;
    struct qemu_xs_handle *h = s->xsh;
    const char *driver = xb->ops->driver;
    const XdfSelf *self = xdf_self();
    g_autofree char *base = g_strdup_printf("/local/domain/%" PRIu32
                                            "/device/%s", s->frontend_domid,
                                            driver);
    g_autoptr(GArray) candidates = xdf_claim_candidates(xb, t, base);
    g_autofree char *owner = NULL;
    XdfDirKind kind = XDF_DIR_FREE;
    bool found = false;
    Error *stale = NULL;
    uint32_t idx = 0;
    guint i;

    g_ptr_array_set_size(xb->skipped, 0);
    xb->waiting = false;
    for (i = 0; i < candidates->len && !found; i++) {
        g_autofree char *fe = NULL;

        idx = g_array_index(candidates, uint32_t, i);
        fe = g_strdup_printf("%s/%" PRIu32, base, idx);
        g_clear_pointer(&owner, g_free);
        kind = xdf_dir_kind(xb, t, fe, &owner);
        if (kind == XDF_DIR_TOOLSTACK) {
            switch (xb->ops->adopt(xb, t, fe, idx, &owner)) {
            case XDF_ADOPT_OTHER:
                kind = XDF_DIR_IN_USE;
                g_free(owner);
                owner = g_strdup("its toolstack, for another device");
                break;
            case XDF_ADOPT_NO:
                kind = XDF_DIR_FOREIGN;
                g_ptr_array_add(xb->skipped,
                                g_strdup_printf("leaving %s/%" PRIu32
                                                " to its toolstack: %s",
                                                driver, idx, owner));
                break;
            default:
                break;
            }
        }
        found = kind == XDF_DIR_TOOLSTACK ||
                (!xb->adopt_only &&
                 (kind == XDF_DIR_FREE || kind == XDF_DIR_STALE));
        if (!found) {
            trace_xen_displfront_claim_skip(xdf_id(s), driver, idx,
                                            xdf_dir_kind_names[kind]);
        }
    }
    if (!found) {
        if (xb->adopt_only) {
            xb->waiting = true;     /* none of the toolstack's yet */
        } else if (xb->dev_id_auto) {
            error_setg(errp, "every %s dev-id from 0 to %d of frontend "
                       "domain %" PRIu32 " is in use", driver,
                       XDF_MAX_AUTO_DEV_ID, s->frontend_domid);
        } else if (kind == XDF_DIR_FOREIGN) {
            g_ptr_array_set_size(xb->skipped, 0);
            error_setg(errp, "dev-id %" PRIu32 ": %s", xb->dev_id, owner);
        } else {
            error_setg(errp, "dev-id %" PRIu32 " is in use by %s",
                       xb->dev_id, owner);
            if (kind == XDF_DIR_UNKNOWN) {
                error_append_hint(errp, "If that QEMU has exited, remove "
                                  "%s/%" PRIu32 " and its backend directory "
                                  "(xenstore-rm).\n", base, xb->dev_id);
            }
            error_append_hint(errp, "Leave dev-id out (or say dev-id=auto) "
                              "to take the lowest free index.\n");
        }
        return;
    }
    xb->dev_id = idx;
    xdf_set_paths(xb);
    trace_xen_displfront_claim(xdf_id(s), driver, xb->dev_id,
                               xdf_dir_kind_names[kind]);

    xb->wrote_nodes = kind != XDF_DIR_TOOLSTACK;
    if (xb->wrote_nodes) {
        xdf_write_nodes_in(xb, t, errp);
    } else {
        /* a dead user's record; the backend is where the toolstack says */
        g_autofree char *rec = g_strdup_printf("%s/owner", xb->fe_path);

        xs_node_destroy(h, t, rec, &stale);
        error_free(stale);
        g_free(xb->be_path);
        xb->be_path = xs_node_read(h, t, NULL, NULL, "%s/backend",
                                   xb->fe_path);
        if (!xb->be_path) {
            error_setg(errp, "%s/backend is gone", xb->fe_path);
            return;
        }
    }
    xdf_xs_printf(h, t, xb->fe_path, "owner/pid", errp, "%d", getpid());
    xdf_xs_printf(h, t, xb->fe_path, "owner/pid-start", errp, "%" PRIu64,
                  self->start);
    if (self->pid_ns) {
        xdf_xs_printf(h, t, xb->fe_path, "owner/pid-ns", errp, "%s",
                      self->pid_ns);
    }
    xdf_xs_printf(h, t, xb->fe_path, "owner/vm-name", errp, "%s",
                  qemu_name ? qemu_name : "");
    if (qemu_uuid_set) {
        g_autofree char *uuid = qemu_uuid_unparse_strdup(&qemu_uuid);

        xdf_xs_printf(h, t, xb->fe_path, "owner/vm-uuid", errp, "%s", uuid);
    }
    xdf_xs_printf(h, t, xb->fe_path, "owner/device", errp, "%s",
                  xdf_id(s));
    xdf_xs_printf(h, t, xb->fe_path, "owner/nodes", errp, "%s",
                  xb->wrote_nodes ? "device" : "toolstack");
}

/*
 * Is our owner record still in fe_path (read in transaction @t)?  If
 * not, lost_to_pid says whose it is (-1: nobody's) for the caller to
 * report once the transaction is over.
 */
static bool xdf_still_ours(XdfXenbus *xb, xs_transaction_t t)
{
    struct qemu_xs_handle *h = xb->s->xsh;
    g_autofree char *pid_ns = xs_node_read(h, t, NULL, NULL,
                                           "%s/owner/pid-ns", xb->fe_path);
    const XdfSelf *self = xdf_self();
    uint64_t start = 0;
    int pid = 0;

    xb->lost_to_pid = 0;
    if (xs_node_scanf(h, t, xb->fe_path, "owner/pid", NULL, "%d",
                      &pid) != 1 ||
        xs_node_scanf(h, t, xb->fe_path, "owner/pid-start", NULL,
                      "%" SCNu64, &start) != 1 ||
        pid != getpid() || start != self->start ||
        g_strcmp0(pid_ns, self->pid_ns)) {
        xb->lost_to_pid = pid ? pid : -1;
        return false;
    }
    return true;
}

/* After a transaction that found our record gone: say so, once. */
static void xdf_report_lost(XdfXenbus *xb)
{
    if (xb->lost_to_pid) {
        warn_report("xen-displfront '%s': %s is no longer ours (owner pid "
                    "%d): leaving it", xdf_id(xb->s), xb->fe_path,
                    MAX(xb->lost_to_pid, 0));
        xb->lost_to_pid = 0;
    }
}

/*
 * Let go of our device: the directories we wrote, or our record in a
 * toolstack's; nothing if the record is not ours any more.
 */
static void xdf_release_in(XdfXenbus *xb, xs_transaction_t t, Error **errp)
{
    ERRP_GUARD();
    struct qemu_xs_handle *h = xb->s->xsh;

    if (!xdf_still_ours(xb, t)) {
        return;
    }
    if (xb->wrote_nodes) {
        xs_node_destroy(h, t, xb->fe_path, errp);
        if (!*errp) {
            xs_node_destroy(h, t, xb->be_path, errp);
        }
    } else {
        g_autofree char *rec = g_strdup_printf("%s/owner", xb->fe_path);

        xs_node_destroy(h, t, rec, errp);
    }
}

/*
 * The backend directory anew (our own, as we wrote it), in two steps:
 * backends built on libxenbe (displ_be) stop serving a device after an
 * error, and forget it only when their watch finds its directory gone.
 * First remove it...
 */
static void xdf_remove_be_in(XdfXenbus *xb, xs_transaction_t t,
                             Error **errp)
{
    if (xdf_still_ours(xb, t)) {
        xs_node_destroy(xb->s->xsh, t, xb->be_path, errp);
    }
}

/* ... then, a while later, write it again (unless somebody else has). */
static void xdf_rewrite_be_in(XdfXenbus *xb, xs_transaction_t t,
                              Error **errp)
{
    g_autofree char *there = NULL;

    if (!xdf_still_ours(xb, t)) {
        return;
    }
    there = xs_node_read(xb->s->xsh, t, NULL, NULL, "%s", xb->be_path);
    if (!there) {
        xdf_write_be_nodes(xb, t, errp);
    }
}

/*
 * Claim a device (xb->dev_id, or with dev_id_auto the lowest free
 * index): write its directories, or take a toolstack's, with our owner
 * record.
 */
static bool xdf_bus_claim(XdfXenbus *xb, Error **errp)
{
    g_autofree char *what = g_strdup_printf("claim a %s device",
                                            xb->ops->driver);
    bool ok;
    guint i;

    if (!xb->skipped) {
        xb->skipped = g_ptr_array_new_with_free_func(g_free);
        xb->said = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         NULL);
    }
    ok = xdf_xs_transaction(xb, xdf_claim_in, what, errp);
    for (i = 0; i < xb->skipped->len; i++) {
        char *line = g_ptr_array_index(xb->skipped, i);

        /* once each, however often a waiting device looks */
        if (g_hash_table_add(xb->said, g_strdup(line))) {
            warn_report("xen-displfront '%s': %s", xdf_id(xb->s), line);
        }
    }
    g_ptr_array_set_size(xb->skipped, 0);
    xb->claimed = ok && !xb->waiting;
    return ok;
}

static void xdf_bus_unwatch_dirs(XdfXenbus *xb)
{
    if (xb->dir_watch) {
        qemu_xen_xs_unwatch(xb->s->xsh, xb->dir_watch);
        xb->dir_watch = NULL;
    }
}

/*
 * Something changed under the directories a waiting device looks at:
 * look again; once one is ours, stop looking and go on (ops->claimed).
 */
static void xdf_bus_dirs_changed(void *opaque, const char *path)
{
    XdfXenbus *xb = opaque;
    Error *local_err = NULL;

    if (!xb->waiting) {
        return;
    }
    if (!xdf_bus_claim(xb, &local_err)) {
        /* XenStore trouble: the next change tries again */
        error_prepend(&local_err, "xen-displfront '%s': ", xdf_id(xb->s));
        error_report_err(local_err);
        xb->waiting = true;
        return;
    }
    if (xb->waiting) {
        return;
    }
    xdf_bus_unwatch_dirs(xb);
    trace_xen_displfront_adopted(xdf_id(xb->s), xb->fe_path);
    xb->on_claim(xb);
}

/*
 * A device that found none of the toolstack's directories it may take:
 * say what it waits for, once, and watch for it (no polling).
 */
static bool xdf_bus_wait(XdfXenbus *xb, Error **errp)
{
    XenDisplFront *s = xb->s;
    g_autofree char *base = g_strdup_printf("/local/domain/%" PRIu32
                                            "/device/%s", s->frontend_domid,
                                            xb->ops->driver);

    info_report("xen-displfront '%s': waiting for the toolstack to write %s "
                "under %s (QEMU in a stub domain may not write its own "
                "devices: in dom0, run xdf-stubdom-attach)", xdf_id(s),
                xb->waiting_for, base);
    xb->dir_watch = xs_node_watch(s->xsh, "", base, xdf_bus_dirs_changed, xb,
                                  errp);
    return xb->dir_watch != NULL;
}

static void xdf_bus_release(XdfXenbus *xb)
{
    Error *local_err = NULL;
    g_autofree char *what = NULL;

    if (!xb->claimed) {
        return;
    }
    what = g_strdup_printf("remove the %s nodes", xb->ops->driver);
    if (!xdf_xs_transaction(xb, xdf_release_in, what, &local_err)) {
        error_report_err(local_err);
    }
    xdf_report_lost(xb);
    xb->claimed = false;
    xb->wrote_nodes = false;
}

/*
 * Drop the connection.  One that ended in a failure, that never worked
 * -- refused, broken, or closed by the backend -- or that ended within
 * XDF_SHORT_LIVED_MS of its start, however clean its handshake, counts
 * as failed: the next attempt waits longer, so that no fault, ours or
 * the backend's, and no backend that keeps connecting and closing,
 * makes a busy loop.  One that worked for longer ends the streak.
 */
static void xdf_bus_disconnect(XdfXenbus *xb)
{
    bool worked = xb->ops->disconnect(xb);
    bool lasted = worked && qemu_clock_get_ms(QEMU_CLOCK_REALTIME) -
                            xb->attempt_ms >= XDF_SHORT_LIVED_MS;

    if (lasted) {
        xb->fail_streak = 0;
    }
    if (xb->attempting && (!lasted || xb->broken)) {
        xb->fail_streak = MIN(xb->fail_streak + 1, 16);
    }
    xb->attempting = false;
    xb->broken = false;
}

/*
 * The backend broke the protocol (the caller has said how): close the
 * connection, never QEMU or the guest.  A failure even if it had worked:
 * the next attempt waits longer.
 */
static void xdf_bus_failed(XdfXenbus *xb)
{
    xb->broken = true;
    xdf_bus_disconnect(xb);
    xdf_bus_set_state(xb, XenbusStateClosing);
    xdf_bus_set_state(xb, XenbusStateClosed);
}

/* Call xdf_bus_retry() after the backoff the failures so far earn. */
static void xdf_bus_schedule_retry(XdfXenbus *xb)
{
    /* 100 ms after the first failure, doubling up to 6.4 s */
    uint32_t ms = XDF_RETRY_MS << MIN(xb->fail_streak - 1, 6);

    trace_xen_displfront_retry(xdf_id(xb->s), xb->name, xb->fail_streak,
                               ms);
    timer_mod(xb->retry_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
}

static enum xenbus_state xdf_bus_read_be_state(XdfXenbus *xb)
{
    unsigned int state;

    if (xs_node_scanf(xb->s->xsh, XBT_NULL, xb->be_path, "state", NULL,
                      "%u", &state) != 1 ||
        state > XenbusStateReconfigured) {
        return XenbusStateUnknown;
    }
    return state;
}

/*
 * For a backend in InitWait: publish what it needs and go Initialised;
 * on failure say why and stay Initialising.
 */
static void xdf_bus_initialise(XdfXenbus *xb)
{
    Error *local_err = NULL;

    xb->attempting = true;
    xb->attempt_ms = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    xb->broken = false;
    if (!xb->ops->connect(xb, &local_err)) {
        error_prepend(&local_err, "xen-displfront '%s': ", xdf_id(xb->s));
        error_report_err(local_err);
        xdf_bus_disconnect(xb);
        /* the backend stays in InitWait: try again after a while */
        xdf_bus_schedule_retry(xb);
        return;
    }
    xdf_bus_set_state(xb, XenbusStateInitialised);
}

/* The state machine of displif.h (and kbdif.h), driven by the backend. */
static void xdf_bus_backend_changed(void *opaque, const char *path)
{
    XdfXenbus *xb = opaque;
    enum xenbus_state be = xdf_bus_read_be_state(xb);

    if (be == xb->be_state) {
        return;
    }
    trace_xen_displfront_backend_state(xdf_id(xb->s), xb->name,
                                       xs_strstate(xb->be_state),
                                       xs_strstate(be));
    xb->be_state = be;
    if (be == XenbusStateClosed && xb->wrote_nodes) {
        timer_mod(xb->recreate_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                  XDF_BE_RECREATE_MS);
    } else if (!xb->recreating) {
        timer_del(xb->recreate_timer);
    }

    switch (be) {
    case XenbusStateInitWait:
        /*
         * A backend that restarted may come straight back to InitWait
         * (XenStore watches coalesce): drop the old connection first.
         */
        if (xb->state != XenbusStateInitialising &&
            xb->state != XenbusStateClosed) {
            xdf_bus_disconnect(xb);
        }
        xdf_bus_set_state(xb, XenbusStateInitialising);
        if (xb->fail_streak) {
            xdf_bus_schedule_retry(xb);
            break;
        }
        xdf_bus_initialise(xb);
        break;

    case XenbusStateConnected:
        if (xb->state != XenbusStateInitialised) {
            break;
        }
        xdf_bus_set_state(xb, XenbusStateConnected);
        xb->ops->connected(xb);
        break;

    case XenbusStateClosing:
    case XenbusStateClosed:
    case XenbusStateUnknown:
        /* Backend went away: drop everything, wait for it to come back. */
        timer_del(xb->retry_timer);
        if (xb->state == XenbusStateInitialising) {
            break;
        }
        xdf_bus_disconnect(xb);
        xdf_bus_set_state(xb, XenbusStateInitialising);
        break;

    default:
        break;
    }
}

/*
 * The backend has stayed Closed: backends built on libxenbe (displ_be)
 * serve a device again only once its directory is made anew, as a
 * toolstack would: removed, and XDF_BE_GONE_MS later written again, two
 * changes their watch sees.  Only a directory we wrote; a toolstack's is
 * its own.
 */
static void xdf_bus_recreate_backend(void *opaque)
{
    XdfXenbus *xb = opaque;
    bool remove = !xb->recreating;
    Error *local_err = NULL;

    if (remove && (xb->be_state != XenbusStateClosed || !xb->wrote_nodes)) {
        return;
    }
    xb->recreating = false;
    trace_xen_displfront_recreate(xdf_id(xb->s), xb->be_path,
                                  remove ? "removing" : "writing",
                                  remove ? XDF_BE_RECREATE_MS :
                                           XDF_BE_GONE_MS);
    if (!xdf_xs_transaction(xb, remove ? xdf_remove_be_in :
                                         xdf_rewrite_be_in,
                            "recreate the backend directory", &local_err)) {
        error_prepend(&local_err, "xen-displfront '%s': ", xdf_id(xb->s));
        error_report_err(local_err);
    } else if (remove && !xb->lost_to_pid) {
        xb->recreating = true;
        timer_mod(xb->recreate_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + XDF_BE_GONE_MS);
    }
    xdf_report_lost(xb);
}

/* The backoff after a lost connection is over: take InitWait now. */
static void xdf_bus_retry(void *opaque)
{
    XdfXenbus *xb = opaque;

    if (xb->be_state == XenbusStateInitWait &&
        xb->state == XenbusStateInitialising) {
        xdf_bus_initialise(xb);
    }
}

/*
 * Go Initialising (even over nodes a toolstack, or a QEMU that died,
 * left: a backend still Connected to our past self resets) and let the
 * backend's state drive us from now on.
 */
static bool xdf_bus_watch(XdfXenbus *xb, Error **errp)
{
    xb->retry_timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_bus_retry, xb);
    xb->recreate_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                      xdf_bus_recreate_backend, xb);
    xb->state = XenbusStateUnknown;
    xdf_bus_set_state(xb, XenbusStateInitialising);
    trace_xen_displfront_xenstore(xdf_id(xb->s), xb->fe_path, xb->be_path,
                                  xb->wrote_nodes);
    xb->be_state = XenbusStateUnknown;
    xb->be_watch = xs_node_watch(xb->s->xsh, xb->be_path, "state",
                                 xdf_bus_backend_changed, xb, errp);
    return xb->be_watch != NULL;
}

/*
 * Stop following the backend, close the connection as displif.h wants
 * it (Closing, then Closed) and remove the nodes we own.  The device is
 * gone then (state Unknown): closing it again does nothing.
 */
static void xdf_bus_close(XdfXenbus *xb)
{
    xdf_bus_unwatch_dirs(xb);
    xb->waiting = false;
    if (xb->be_watch) {
        qemu_xen_xs_unwatch(xb->s->xsh, xb->be_watch);
        xb->be_watch = NULL;
    }
    if (xb->state != XenbusStateUnknown) {
        xdf_bus_set_state(xb, XenbusStateClosing);
        xdf_bus_disconnect(xb);
        xdf_bus_set_state(xb, XenbusStateClosed);
    }
    g_clear_pointer(&xb->retry_timer, timer_free);
    g_clear_pointer(&xb->recreate_timer, timer_free);
    xb->recreating = false;
    xdf_bus_release(xb);
    xb->state = XenbusStateUnknown;
}

static void xdf_bus_free(XdfXenbus *xb)
{
    g_clear_pointer(&xb->skipped, g_ptr_array_unref);
    g_clear_pointer(&xb->said, g_hash_table_unref);
    g_clear_pointer(&xb->waiting_for, g_free);
    g_clear_pointer(&xb->name, g_free);
    g_clear_pointer(&xb->fe_path, g_free);
    g_clear_pointer(&xb->be_path, g_free);
}

/* Display: buffers -------------------------------------------------------- */

static void xdf_buffer_free(XdfBuffer *b)
{
    XenDisplFront *s = b->c->s;
    XdfConnector *c = b->c;

    if (b->image) {
        pixman_image_unref(b->image);
    }
    if (b->data && b->be_alloc) {
        qemu_xen_gnttab_unmap(s->xgt, b->data, b->data_refs, b->n_data);
    } else if (b->data) {
        qemu_xen_gntshr_unshare(s->xgs, b->data, b->n_data);
    }
    if (b->dir) {
        qemu_xen_gntshr_unshare(s->xgs, b->dir, b->n_dir);
    }
    g_free(b->data_refs);
    g_free(b->dir_refs);
    pixman_region32_fini(&b->stale);
    memset(b, 0, sizeof(*b));
    b->c = c;
    pixman_region32_init(&b->stale);
}

/*
 * Share the page directory and, unless the backend allocates the
 * buffer (be-alloc), the data pages.  Sized so that a backend copying
 * height * 4 * ceil(width * bpp / 32) bytes never reads past the end.
 */
static bool xdf_buffer_share(XdfBuffer *b, uint32_t width, uint32_t height,
                             Error **errp)
{
    XenDisplFront *s = b->c->s;
    pixman_format_code_t format = PIXMAN_x8r8g8b8;
    uint32_t bpp = PIXMAN_FORMAT_BPP(format);
    uint64_t size = displif_buffer_size(width, height, bpp);

    b->width = width;
    b->height = height;
    b->bpp = bpp;
    b->format = format;
    b->stride = displif_stride(width, bpp);
    b->fourcc = XDF_DRM_FORMAT_XRGB8888;
    b->n_data = displif_pages(size);
    b->n_dir = displif_dir_pages(b->n_data);
    b->data_refs = g_new0(uint32_t, b->n_data);
    b->dir_refs = g_new0(uint32_t, b->n_dir);

    b->be_alloc = s->be_alloc;
    if (!b->be_alloc) {
        /* writable: backends (displ_be) map buffers read-write */
        b->data = qemu_xen_gntshr_share_pages(s->xgs, s->backend_domid,
                                              b->n_data, b->data_refs, true);
        if (!b->data) {
            xdf_error_limit(errp, errno, "cannot share %u pages for a %ux%u "
                            "display buffer", b->n_data, width, height);
            return false;
        }
        b->image = pixman_image_create_bits(format, width, height, b->data,
                                            b->stride);
    }
    /* writable: the backend fills in the refs when it allocates */
    b->dir = qemu_xen_gntshr_share_pages(s->xgs, s->backend_domid, b->n_dir,
                                         b->dir_refs, true);
    if (!b->dir) {
        xdf_error_limit(errp, errno, "cannot share %u page-directory pages",
                        b->n_dir);
        return false;
    }
    displif_pgdir_fill(b->dir, b->n_dir, b->dir_refs,
                       b->be_alloc ? NULL : b->data_refs, b->n_data);
    b->dbuf_cookie = ++s->next_cookie;
    b->fb_cookie = ++s->next_cookie;
    /* all of it is stale until first drawn */
    pixman_region32_union_rect(&b->stale, &b->stale, 0, 0, width, height);
    b->state = XDF_BUFFER_SHARED;
    return true;
}

/*
 * The backend allocated a buffer for us: take its grant references from
 * the directory, check them and map the pages.
 */
static bool xdf_buffer_map_backend(XdfBuffer *b)
{
    XenDisplFront *s = b->c->s;

    if (displif_pgdir_read(b->dir, b->n_dir, b->dir_refs, b->data_refs,
                           b->n_data)) {
        xdf_ring_fail(&b->c->ring, "backend left dbuf_cookie 0x%" PRIx64
                      "'s page directory incomplete or broken (%u refs "
                      "expected)", b->dbuf_cookie, b->n_data);
        return false;
    }
    b->data = qemu_xen_gnttab_map_refs(s->xgt, b->n_data, s->backend_domid,
                                       b->data_refs,
                                       PROT_READ | PROT_WRITE);
    if (!b->data) {
        xdf_ring_fail(&b->c->ring, "cannot map the %u pages backend domain %"
                      PRIu32 " granted for dbuf_cookie 0x%" PRIx64 ": %s",
                      b->n_data, s->backend_domid, b->dbuf_cookie,
                      strerror(errno));
        return false;
    }
    b->image = pixman_image_create_bits(b->format, b->width, b->height,
                                        b->data, b->stride);
    return true;
}

/* Display: fitting the guest's picture ----------------------------------- */

static void xdf_fit_free(XdfFit *f)
{
    g_free(f->xmap);
    g_free(f->ymap);
    memset(f, 0, sizeof(*f));
}

/*
 * Place a @src_w x @src_h picture in the connector (see the fit
 * property): scale keeps the aspect ratio at the largest size that fits
 * (W = cw and H = cw * sh / sw rounded down, or H = ch and W = ch * sw /
 * sh, whichever fits), centred; buffer pixel d of the picture shows
 * guest pixel (2 * d + 1) * s / (2 * D), nearest to its centre, so that
 * an integer ratio repeats every pixel exactly.  center and crop are 1:1,
 * centred or at the top left, cut to the connector.
 */
static void xdf_fit_compute(XdfConnector *c)
{
    XdfFit *f = &c->fit;
    uint32_t sw = c->surface ? surface_width(c->surface) : 0;
    uint32_t sh = c->surface ? surface_height(c->surface) : 0;
    uint32_t cw = c->width, ch = c->height, i;

    xdf_fit_free(f);
    f->src_w = sw;
    f->src_h = sh;
    if (!sw || !sh) {
        return;
    }
    if ((sw == cw && sh == ch) || c->s->fit_mode != XDF_FIT_SCALE) {
        f->one_to_one = true;
        f->dst_w = MIN(sw, cw);
        f->dst_h = MIN(sh, ch);
        if (c->s->fit_mode == XDF_FIT_CENTER) {
            f->dst_x = (cw - f->dst_w) / 2;
            f->dst_y = (ch - f->dst_h) / 2;
            f->src_x = (sw - f->dst_w) / 2;
            f->src_y = (sh - f->dst_h) / 2;
        }
    } else {
        if ((uint64_t)cw * sh <= (uint64_t)ch * sw) {
            f->dst_w = cw;
            f->dst_h = MAX(1, (uint64_t)cw * sh / sw);
        } else {
            f->dst_w = MAX(1, (uint64_t)ch * sw / sh);
            f->dst_h = ch;
        }
        f->dst_x = (cw - f->dst_w) / 2;
        f->dst_y = (ch - f->dst_h) / 2;
        f->xmap = g_new(uint32_t, f->dst_w);
        f->ymap = g_new(uint32_t, f->dst_h);
        /* the rule input will invert: displif_fit_guest_pixel() */
        for (i = 0; i < f->dst_w; i++) {
            displif_fit_guest_pixel(f->dst_x + i, f->dst_x, f->dst_w, 0, sw,
                                    false, &f->xmap[i]);
        }
        for (i = 0; i < f->dst_h; i++) {
            displif_fit_guest_pixel(f->dst_y + i, f->dst_y, f->dst_h, 0, sh,
                                    false, &f->ymap[i]);
        }
    }
    trace_xen_displfront_fit(xdf_id(c->s), c->index, sw, sh,
                             xdf_fit_names[c->s->fit_mode], f->dst_x,
                             f->dst_y, f->dst_w, f->dst_h);
}

/*
 * Guest columns [@a, @b) in buffer columns, for one axis of a scaled
 * picture: a little wider than exact, which only repaints a few more.
 */
static void xdf_fit_span(uint32_t a, uint32_t b, uint32_t src, uint32_t dst,
                         int32_t *da, int32_t *db)
{
    *da = MAX(0, (int64_t)a * dst / src - 1);
    *db = MIN(dst, ((int64_t)b * dst + src - 1) / src + 1);
}

/* Guest damage @x, @y, @w, @h, as damage of the buffers. */
static void xdf_fit_damage(XdfConnector *c, int x, int y, int w,
                           int h)
{
    XdfFit *f = &c->fit;
    int32_t x1 = MAX(x, 0), y1 = MAX(y, 0);
    int32_t x2 = MIN(x + w, (int32_t)f->src_w);
    int32_t y2 = MIN(y + h, (int32_t)f->src_h);
    int32_t dx1, dx2, dy1, dy2;

    if (x1 >= x2 || y1 >= y2) {
        return;
    }
    if (f->one_to_one) {
        dx1 = MAX(x1 - (int32_t)f->src_x, 0);
        dy1 = MAX(y1 - (int32_t)f->src_y, 0);
        dx2 = MIN(x2 - (int32_t)f->src_x, (int32_t)f->dst_w);
        dy2 = MIN(y2 - (int32_t)f->src_y, (int32_t)f->dst_h);
    } else {
        xdf_fit_span(x1, x2, f->src_w, f->dst_w, &dx1, &dx2);
        xdf_fit_span(y1, y2, f->src_h, f->dst_h, &dy1, &dy2);
    }
    if (dx1 >= dx2 || dy1 >= dy2) {
        return;
    }
    pixman_region32_union_rect(&c->damage, &c->damage, f->dst_x + dx1,
                               f->dst_y + dy1, dx2 - dx1, dy2 - dy1);
    /*
     * A guest that flushes many small rectangles must not make every
     * union slower than the last: past a few, the bounding box will do.
     */
    if (pixman_region32_n_rects(&c->damage) > XDF_MAX_DAMAGE_RECTS) {
        pixman_box32_t box = *pixman_region32_extents(&c->damage);

        pixman_region32_reset(&c->damage, &box);
    }
}

/* Paint @r of buffer @b: the guest's picture, black around it. */
static void xdf_paint(XdfConnector *c, XdfBuffer *b,
                      const pixman_box32_t *r)
{
    static const pixman_color_t black = { 0, 0, 0, 0xffff };
    XdfFit *f = &c->fit;
    pixman_region32_t border;
    pixman_box32_t *boxes, p;
    int n;
    int32_t x, y;

    pixman_region32_init_rect(&border, r->x1, r->y1, r->x2 - r->x1,
                              r->y2 - r->y1);
    if (f->src_w) {
        pixman_region32_t pic;

        pixman_region32_init_rect(&pic, f->dst_x, f->dst_y, f->dst_w,
                                  f->dst_h);
        pixman_region32_subtract(&border, &border, &pic);
        pixman_region32_fini(&pic);
    }
    boxes = pixman_region32_rectangles(&border, &n);
    if (n) {
        pixman_image_fill_boxes(PIXMAN_OP_SRC, b->image, &black, n, boxes);
    }
    pixman_region32_fini(&border);

    p.x1 = MAX(r->x1, (int32_t)f->dst_x);
    p.y1 = MAX(r->y1, (int32_t)f->dst_y);
    p.x2 = MIN(r->x2, (int32_t)(f->dst_x + f->dst_w));
    p.y2 = MIN(r->y2, (int32_t)(f->dst_y + f->dst_h));
    if (!f->src_w || p.x1 >= p.x2 || p.y1 >= p.y2) {
        return;
    }
    if (f->one_to_one) {
        /* the guest's mode is the connector's, or 1:1: pixman's copy */
        pixman_image_composite32(PIXMAN_OP_SRC, c->surface->image, NULL,
                                 b->image,
                                 p.x1 - f->dst_x + f->src_x,
                                 p.y1 - f->dst_y + f->src_y, 0, 0,
                                 p.x1, p.y1, p.x2 - p.x1, p.y2 - p.y1);
        return;
    }

    /* scaled: guest rows in XRGB8888 (converted when they are not) */
    {
        pixman_format_code_t fmt = surface_format(c->surface);
        bool direct = fmt == PIXMAN_x8r8g8b8 || fmt == PIXMAN_a8r8g8b8;
        g_autofree uint32_t *conv = NULL;
        pixman_image_t *row_img = NULL;
        const uint8_t *src = surface_data(c->surface);
        int stride = surface_stride(c->surface);

        if (!direct) {
            conv = g_new(uint32_t, f->src_w);
            row_img = pixman_image_create_bits(PIXMAN_x8r8g8b8, f->src_w, 1,
                                               conv, f->src_w * 4);
        }
        for (y = p.y1; y < p.y2; y++) {
            uint32_t sy = f->ymap[y - f->dst_y];
            const uint32_t *srow;
            uint32_t *drow = (uint32_t *)((uint8_t *)b->data +
                                          (size_t)y * b->stride);

            if (direct) {
                srow = (const uint32_t *)(src + (size_t)sy * stride);
            } else {
                pixman_image_composite32(PIXMAN_OP_SRC, c->surface->image,
                                         NULL, row_img, 0, sy, 0, 0, 0, 0,
                                         f->src_w, 1);
                srow = conv;
            }
            for (x = p.x1; x < p.x2; x++) {
                drow[x] = srow[f->xmap[x - f->dst_x]];
            }
        }
        if (row_img) {
            pixman_image_unref(row_img);
        }
    }
}

/* Display: flips -------------------------------------------------------- */

/* CPU time of this thread: a copy's cost, whatever else runs. */
static int64_t xdf_thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) {
        return 0;
    }
    return ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
}

/* PG_FLIP is answered: now the frame-done event, or a timeout. */
static void xdf_flipped(XdfRequest *r, int status)
{
    XdfConnector *c = r->opaque;

    if (status == -ECANCELED || c->flipping < 0 ||
        c->buf[c->flipping].fb_cookie != r->req.op.pg_flip.fb_cookie) {
        return;
    }
    if (status) {
        xdf_ring_fail(&c->ring, "backend refused PG_FLIP: status %d",
                      status);
        return;
    }
    /* wait for the frame-done event, or give up on it after a while */
    timer_mod(c->frame_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              XDF_FRAME_DONE_TIMEOUT_MS);
}

/*
 * Bring the back buffer up to date (only what is stale in it) and flip
 * to it: at most one flip outstanding, about one a refresh.
 */
static void xdf_flip(XdfConnector *c)
{
    XenDisplFront *s = c->s;
    struct xendispl_page_flip_req flip = { 0 };
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    int64_t pixels = 0, copy_ns = 0;
    pixman_region32_t *stale;
    pixman_box32_t *rects;
    int back, i, n;
    XdfBuffer *b;

    /* a stopped VM (paused, migrated away, not yet in) shows what it did */
    if (c->display != XDF_DISPLAY_ON || c->flipping >= 0 ||
        !runstate_is_running()) {
        return;
    }
    if (!pixman_region32_not_empty(&c->damage) && c->front >= 0) {
        return;
    }
    /*
     * A flip at each refresh, even one the timer ran a little early, but
     * no more than 4/3 of the connector's rate however often damage or
     * frame-done events come: the refresh timer comes back.
     */
    if (now - c->last_flip_ms < c->refresh_us * 3 / 4000) {
        return;
    }

    /* this frame's damage is stale in every buffer */
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        pixman_region32_union(&c->buf[i].stale, &c->buf[i].stale,
                              &c->damage);
    }
    pixman_region32_clear(&c->damage);

    back = c->front == 0 ? 1 : 0;
    b = &c->buf[back];
    stale = &b->stale;
    pixman_region32_intersect_rect(stale, stale, 0, 0, b->width, b->height);
    rects = pixman_region32_rectangles(stale, &n);
    /* what a frame costs, for tools/run-bench: the copy's CPU time */
    if (trace_event_get_state_backends(TRACE_XEN_DISPLFRONT_FLIP)) {
        copy_ns = xdf_thread_cpu_ns();
    }
    for (i = 0; i < n; i++) {
        xdf_paint(c, b, &rects[i]);
        pixels += (int64_t)(rects[i].x2 - rects[i].x1) *
                  (rects[i].y2 - rects[i].y1);
    }
    if (trace_event_get_state_backends(TRACE_XEN_DISPLFRONT_FLIP)) {
        copy_ns = xdf_thread_cpu_ns() - copy_ns;
    }
    trace_xen_displfront_flip(xdf_id(s), c->index, back, n,
                              pixels, copy_ns);
    pixman_region32_clear(stale);

    c->flipping = back;
    c->last_flip_ms = now;
    flip.fb_cookie = b->fb_cookie;
    xdf_ring_submit(&c->ring, XENDISPL_OP_PG_FLIP, &flip, sizeof(flip),
                    xdf_flipped, c);
}


/* The backend showed the frame we flipped to (or gave up waiting). */
static void xdf_frame_done(XdfConnector *c, bool timeout)
{
    trace_xen_displfront_frame_done(xdf_id(c->s), c->index, c->flipping,
                                    timeout);
    timer_del(c->frame_timer);
    c->front = c->flipping;
    c->flipping = -1;
    /* damage that arrived during the flip goes out now */
    xdf_flip(c);
}

static void xdf_frame_timeout(void *opaque)
{
    XdfConnector *c = opaque;

    if (c->flipping >= 0) {
        xdf_frame_done(c, true);
    }
}

/* Is @cookie a framebuffer the backend may still show? */
static bool xdf_fb_known(XdfConnector *c, uint64_t cookie)
{
    unsigned int i;

    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        if (c->buf[i].state == XDF_BUFFER_ATTACHED &&
            c->buf[i].fb_cookie == cookie) {
            return true;
        }
    }
    return false;
}

/*
 * The ring's event callback: frame-done events.  Only one that ends the
 * flip under way does something.
 */
static bool xdf_display_event(void *opaque, const struct xendispl_evt *evt)
{
    XdfConnector *c = opaque;
    uint64_t cookie = evt->op.pg_flip.fb_cookie;

    if (evt->type != XENDISPL_EVT_PG_FLIP) {
        trace_xen_displfront_event_unknown(xdf_id(c->s), c->index,
                                           evt->type);
        return false;
    }
    trace_xen_displfront_event_flip(xdf_id(c->s), c->index, cookie);
    if (!xdf_fb_known(c, cookie)) {
        xdf_ring_fail(&c->ring, "frame-done event for fb_cookie 0x%" PRIx64
                      ", which is no framebuffer of ours", cookie);
        return false;
    }
    if (c->flipping < 0 || c->buf[c->flipping].fb_cookie != cookie) {
        return false;           /* late, or for a frame shown already */
    }
    xdf_frame_done(c, false);
    return true;
}

/* Display: life cycle ----------------------------------------------------- */

/* SET_CONFIG is answered: the connector shows our buffers; flip. */
static void xdf_config_set(XdfRequest *r, int status)
{
    XdfConnector *c = r->opaque;

    if (status == -ECANCELED || c->display != XDF_DISPLAY_CONFIGURING ||
        r->req.op.set_config.fb_cookie != c->buf[0].fb_cookie) {
        return;
    }
    if (status) {
        xdf_ring_fail(&c->ring, "backend refused SET_CONFIG for connector "
                      "%u: status %d", c->index, status);
        return;
    }
    c->display = XDF_DISPLAY_ON;
    trace_xen_displfront_display_on(xdf_id(c->s), c->index, c->buf[0].width,
                                    c->buf[0].height);
    xdf_flip(c);
}

/* Show the connector's first framebuffer, as large as the connector. */
static void xdf_set_config(XdfConnector *c)
{
    struct xendispl_set_config_req cfg = {
        .fb_cookie = c->buf[0].fb_cookie,
        .width = c->buf[0].width,
        .height = c->buf[0].height,
        .bpp = c->buf[0].bpp,
    };

    xdf_ring_submit(&c->ring, XENDISPL_OP_SET_CONFIG, &cfg, sizeof(cfg),
                    xdf_config_set, c);
}

/*
 * A buffer's set-up request is answered.  Both travel on connector 0's
 * ring (c->setup_ring), whichever connector the buffer is for.
 */
static XdfBuffer *xdf_setup_answered(XdfRequest *r, int status,
                                     XdfBufferState before, uint64_t cookie,
                                     uint64_t cookie_sent)
{
    XdfBuffer *b = r->opaque;

    if (status == -ECANCELED || b->state != before || cookie != cookie_sent) {
        return NULL;
    }
    if (status) {
        xdf_ring_fail(b->c->setup_ring, "backend refused %s for connector "
                      "%u: status %d", xdf_op_name(r->req.operation),
                      b->c->index, status);
        return NULL;
    }
    return b;
}

static void xdf_dbuf_created(XdfRequest *r, int status)
{
    XdfBuffer *b = r->opaque;

    b = xdf_setup_answered(r, status, XDF_BUFFER_SHARED, b->dbuf_cookie,
                           r->req.op.dbuf_create.dbuf_cookie);
    if (!b || (b->be_alloc && !xdf_buffer_map_backend(b))) {
        return;
    }
    b->state = XDF_BUFFER_CREATED;
}

/* Once both buffers have their framebuffer: SET_CONFIG. */
static void xdf_fb_attached(XdfRequest *r, int status)
{
    XdfBuffer *b = r->opaque;
    XdfConnector *c = b->c;
    int i;

    b = xdf_setup_answered(r, status, XDF_BUFFER_CREATED, b->fb_cookie,
                           r->req.op.fb_attach.fb_cookie);
    if (!b) {
        return;
    }
    b->state = XDF_BUFFER_ATTACHED;
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        if (c->buf[i].state != XDF_BUFFER_ATTACHED) {
            return;
        }
    }
    xdf_set_config(c);
}

/*
 * Forget this connector's buffers: the backend drops them with the
 * connection.
 */
static void xdf_display_stop(XdfConnector *c)
{
    int i;

    timer_del(c->frame_timer);
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        xdf_buffer_free(&c->buf[i]);
    }
    c->display = XDF_DISPLAY_OFF;
    c->front = c->flipping = -1;
}

/*
 * The connector's two buffers, for the life of the connection: the
 * connector's size in XRGB8888, whatever the guest does, so that grants
 * are bounded by the connector and a mode change costs a repaint, not
 * new buffers.  DBUF_CREATE and FB_ATTACH for each, then (once they are
 * answered) SET_CONFIG.
 */
static void xdf_display_start(XdfConnector *c)
{
    Error *local_err = NULL;
    int i;

    xdf_display_stop(c);
    c->display = XDF_DISPLAY_CONFIGURING;
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        XdfBuffer *b = &c->buf[i];
        struct xendispl_dbuf_create_req dbuf = { 0 };
        struct xendispl_fb_attach_req fb = { 0 };

        if (!xdf_buffer_share(b, c->width, c->height, &local_err)) {
            xdf_ring_fail(&c->ring, "%s", error_get_pretty(local_err));
            error_free(local_err);
            return;
        }
        dbuf.dbuf_cookie = b->dbuf_cookie;
        dbuf.width = b->width;
        dbuf.height = b->height;
        dbuf.bpp = b->bpp;
        dbuf.buffer_sz = b->n_data * XEN_PAGE_SIZE;
        dbuf.flags = b->be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0;
        dbuf.gref_directory = b->dir_refs[0];
        dbuf.data_ofs = 0;
        xdf_ring_submit(c->setup_ring, XENDISPL_OP_DBUF_CREATE, &dbuf,
                        sizeof(dbuf), xdf_dbuf_created, b);
        fb.dbuf_cookie = b->dbuf_cookie;
        fb.fb_cookie = b->fb_cookie;
        fb.width = b->width;
        fb.height = b->height;
        fb.pixel_format = b->fourcc;
        xdf_ring_submit(c->setup_ring, XENDISPL_OP_FB_ATTACH, &fb, sizeof(fb),
                        xdf_fb_attached, b);
    }
}

/* Display: refresh and EDID ---------------------------------------------- */

/*
 * The console refresh of this connector at its full rate again: at the
 * connector's refresh, at once (QEMU re-arms its timer when the
 * interval gets shorter).
 */
static void xdf_refresh_now(XdfConnector *c)
{
    c->quiet_ticks = 0;
    if (!runstate_is_running()) {
        return;                 /* nothing is flipped until it runs */
    }
    if (c->dcl_registered && c->interval_ms != c->refresh_us / 1000) {
        c->interval_ms = c->refresh_us / 1000;
        c->next_frame_us = 0;
        trace_xen_displfront_refresh(xdf_id(c->s), c->index, c->interval_ms,
                                     c->refresh_us);
        update_displaychangelistener(&c->dcl, c->interval_ms);
    }
}

static void xdf_edid_free(XdfConnector *c)
{
    XenDisplFront *s = c->s;

    if (c->edid) {
        qemu_xen_gntshr_unshare(s->xgs, c->edid, ARRAY_SIZE(c->edid_refs));
        c->edid = NULL;
    }
    if (c->edid_dir) {
        qemu_xen_gntshr_unshare(s->xgs, c->edid_dir, 1);
        c->edid_dir = NULL;
    }
}

/*
 * GET_EDID is answered: tell the card the preferred mode, as a monitor
 * would, when the card can pass it to the guest, and refresh at the
 * display's rate.  Backends that do not implement GET_EDID answer
 * -EINVAL: the connector keeps its XenStore resolution then.
 */
static void xdf_edid_done(XdfRequest *r, int status)
{
    XdfConnector *c = r->opaque;
    XenDisplFront *s = c->s;
    uint32_t len = r->rsp.op.get_edid.edid_sz, w, h;
    g_autofree uint8_t *edid = NULL;
    QemuUIInfo info;

    if (status == -ECANCELED) {
        xdf_edid_free(c);
        return;
    }
    /* one read of the shared page: the backend may change it meanwhile */
    if (!status && len <= XENDISPL_EDID_MAX_SIZE) {
        edid = g_memdup2(c->edid, len);
    }
    if (status) {
        trace_xen_displfront_edid(xdf_id(s), c->index, status, 0, 0);
    } else if (!edid || displif_edid_preferred(edid, len, &w, &h)) {
        warn_report("xen-displfront '%s': connector %u: ignoring the "
                    "backend's EDID (%u bytes): not a valid EDID",
                    xdf_id(s), c->index, len);
    } else {
        uint32_t mhz;

        /* a mode larger than the connector would only be shrunk again */
        w = MIN(w, c->width);
        h = MIN(h, c->height);
        trace_xen_displfront_edid(xdf_id(s), c->index, 0, w, h);
        if (!displif_edid_refresh_mhz(edid, len, &mhz)) {
            /* the display's own rate, within 10 to 125 Hz */
            c->refresh_us = MIN(MAX(1000000000ULL / mhz, 8000), 100000);
            xdf_refresh_now(c);
        }
        if (dpy_ui_info_supported(c->con)) {
            info = *dpy_get_ui_info(c->con);
            info.width = w;
            info.height = h;
            dpy_set_ui_info(c->con, &info, false);
        }
    }
    xdf_edid_free(c);
}

/* Ask for the backend's EDID (GET_EDID came with protocol version 2). */
static void xdf_get_edid(XdfConnector *c)
{
    XenDisplFront *s = c->s;
    struct xendispl_get_edid_req req = {
        .buffer_sz = XENDISPL_EDID_MAX_SIZE,
    };

    if (s->version < 2 || !c->ring.sring || c->edid) {
        return;
    }
    c->edid = qemu_xen_gntshr_share_pages(s->xgs, s->backend_domid,
                                          ARRAY_SIZE(c->edid_refs),
                                          c->edid_refs, true);
    c->edid_dir = qemu_xen_gntshr_share_pages(s->xgs, s->backend_domid, 1,
                                              &c->edid_dir_ref, true);
    if (!c->edid || !c->edid_dir) {
        warn_report("xen-displfront '%s': connector %u: cannot share a "
                    "buffer for the EDID: %s", xdf_id(s), c->index,
                    strerror(errno));
        xdf_edid_free(c);
        return;
    }
    displif_pgdir_fill(c->edid_dir, 1, &c->edid_dir_ref, c->edid_refs,
                       ARRAY_SIZE(c->edid_refs));
    req.gref_directory = c->edid_dir_ref;
    xdf_ring_submit(&c->ring, XENDISPL_OP_GET_EDID, &req, sizeof(req),
                    xdf_edid_done, c);
}

/* Display: the console listener ------------------------------------------ */

static void xdf_gfx_update(DisplayChangeListener *dcl, int x, int y, int w,
                           int h)
{
    XdfConnector *c = container_of(dcl, XdfConnector, dcl);

    xdf_fit_damage(c, x, y, w, h);
    xdf_refresh_now(c);
}

/* A new surface (a mode change): fit it anew and repaint everything. */
static void xdf_gfx_switch(DisplayChangeListener *dcl,
                           DisplaySurface *surface)
{
    XdfConnector *c = container_of(dcl, XdfConnector, dcl);
    XenDisplFront *s = c->s;

    c->surface = surface;
    if (surface) {
        trace_xen_displfront_gfx_switch(xdf_id(s), c->index,
                                        surface_width(surface),
                                        surface_height(surface),
                                        surface_bits_per_pixel(surface),
                                        surface_format(surface));
    }
    xdf_fit_compute(c);
    pixman_region32_union_rect(&c->damage, &c->damage, 0, 0, c->width,
                               c->height);
    xdf_refresh_now(c);
}

/*
 * QEMU arms the console's refresh timer a whole number of ms after the
 * refresh callbacks return, so a fixed interval runs slow by what each
 * refresh costs and by the rounding (17 ms a frame where a 60 Hz
 * connector has 16.7: 58 flips a second, not 60).  Aim each refresh at
 * the connector's own frame times instead: the next is due one period
 * after the last was due, unless we are a period late.
 */
static void xdf_refresh_pace(XdfConnector *c)
{
    int64_t now = qemu_clock_get_us(QEMU_CLOCK_REALTIME);
    int64_t ms;

    c->next_frame_us += c->refresh_us;
    if (c->next_frame_us <= now || c->next_frame_us > now + c->refresh_us) {
        c->next_frame_us = now + c->refresh_us;
    }
    /* the timer fires at now_ms + ms, now_ms rounded down */
    ms = MAX(1, (c->next_frame_us + 500) / 1000 - now / 1000);
    if (ms != c->dcl.update_interval) {
        update_displaychangelistener(&c->dcl, ms);
    }
}

/*
 * The console's refresh: let the card report what changed, then flip.
 * While nothing changes, or the VM is stopped, the refresh backs off,
 * doubling up to once a second (as QEMU's VNC server does); any change
 * of a running VM brings the connector's rate back (xdf_refresh_now(),
 * from the damage callbacks and when the VM runs again).
 */
static void xdf_refresh(DisplayChangeListener *dcl)
{
    XdfConnector *c = container_of(dcl, XdfConnector, dcl);
    uint32_t interval;

    graphic_hw_update(dcl->con);
    xdf_flip(c);
    if (runstate_is_running() &&
        (pixman_region32_not_empty(&c->damage) || c->flipping >= 0 ||
         ++c->quiet_ticks < XDF_QUIET_TICKS)) {
        xdf_refresh_pace(c);
        return;
    }
    interval = MIN(c->interval_ms * 2, XDF_IDLE_REFRESH_MS);
    if (interval != c->interval_ms) {
        c->interval_ms = interval;
        trace_xen_displfront_refresh(xdf_id(c->s), c->index, interval,
                                     c->refresh_us);
        update_displaychangelistener(dcl, interval);
    }
}

static bool xdf_check_format(DisplayChangeListener *dcl,
                             pixman_format_code_t format)
{
    return true;                /* pixman converts while copying */
}

static const DisplayChangeListenerOps xdf_dcl_ops = {
    .dpy_name = TYPE_XEN_DISPLFRONT,
    .dpy_refresh = xdf_refresh,
    .dpy_gfx_update = xdf_gfx_update,
    .dpy_gfx_switch = xdf_gfx_switch,
    .dpy_gfx_check_format = xdf_check_format,
};

/* vdispl: the display's XenBus device ------------------------------------ */

/*
 * Connector @i's unique-id from the properties: given, or made up from
 * the qdev id, the dev-id claimed and the connector, which no other
 * device of the frontend domain has (a backend serving every QEMU of a
 * host tells their connectors, and their inputs, apart by it).
 */
static char *xdf_unique_id(XenDisplFront *s, unsigned int i)
{
    if (s->unique_ids && i < g_strv_length(s->unique_ids)) {
        return g_strdup(s->unique_ids[i]);
    }
    return g_strdup_printf("%s-%" PRIu32 "-%u", xdf_id(s), s->bus.dev_id, i);
}

/* The connectors, @n of them, with nothing shared yet. */
static void xdf_connectors_new(XenDisplFront *s, unsigned int n)
{
    unsigned int i, j;

    s->nr_connectors = n;
    s->conn = g_new0(XdfConnector, n);
    for (i = 0; i < n; i++) {
        XdfConnector *c = &s->conn[i];

        c->s = s;
        c->index = i;
        c->width = s->width;
        c->height = s->height;
        c->unique_id = xdf_unique_id(s, i);
        for (j = 0; j < INPUT_EVENT_SLOTS_MAX; j++) {
            c->input.slots[j].tracking_id = -1;     /* no contact */
        }
        c->setup_ring = &s->conn[0].ring;
        c->front = c->flipping = -1;
        pixman_region32_init(&c->damage);
        for (j = 0; j < XDF_NR_BUFFERS; j++) {
            c->buf[j].c = c;
            pixman_region32_init(&c->buf[j].stale);
        }
    }
}

/* Our vdispl directory's nodes: be-alloc and the connectors. */
static void xdf_vdispl_fe_nodes(XdfXenbus *xb, xs_transaction_t t,
                                Error **errp)
{
    XenDisplFront *s = xb->s;
    unsigned int i;

    xdf_xs_printf(s->xsh, t, xb->fe_path, XENDISPL_FIELD_BE_ALLOC, errp,
                  "%d", s->be_alloc);
    for (i = 0; i < s->connectors; i++) {
        g_autofree char *cpath = g_strdup_printf("%s/%u", xb->fe_path, i);
        g_autofree char *id = xdf_unique_id(s, i);

        xdf_xs_printf(s->xsh, t, cpath, XENDISPL_FIELD_RESOLUTION, errp,
                      "%" PRIu32 "x%" PRIu32, s->width, s->height);
        xdf_xs_printf(s->xsh, t, cpath, XENDISPL_FIELD_UNIQUE_ID, errp, "%s",
                      id);
    }
}

/* What a toolstack wrote in a vdispl directory (xl.cfg's vdispl=). */
typedef struct XdfVdisplNodes {
    int be_alloc;               /* -1: not said */
    unsigned int count;         /* connectors */
    uint32_t width[XDF_MAX_CONNECTORS];
    uint32_t height[XDF_MAX_CONNECTORS];
    char *unique_id[XDF_MAX_CONNECTORS];    /* NULL: not said */
} XdfVdisplNodes;

static void xdf_vdispl_nodes_free(XdfVdisplNodes *n)
{
    unsigned int i;

    for (i = 0; i < n->count; i++) {
        g_free(n->unique_id[i]);
    }
    memset(n, 0, sizeof(*n));
}

/*
 * Read toolstack directory @fe of device @idx, in transaction @t: its
 * backend (ours?), be-alloc and each connector's resolution and
 * unique-id; connectors are numbered 0, 1, ... without gaps.
 */
static bool xdf_vdispl_nodes_read(XdfXenbus *xb, xs_transaction_t t,
                                  const char *fe, uint32_t idx,
                                  XdfVdisplNodes *n, Error **errp)
{
    struct qemu_xs_handle *h = xb->s->xsh;
    g_autofree char *be = xs_node_read(h, t, NULL, NULL, "%s/backend", fe);
    g_autofree char *why = NULL;
    unsigned int i, nr = 0, count = 0, be_alloc;
    char **dirs;

    memset(n, 0, sizeof(*n));
    if (!xdf_toolstack_backend(xb, fe, be, idx, &why)) {
        error_setg(errp, "%s", why);
        return false;
    }
    n->be_alloc = -1;
    if (xs_node_scanf(h, t, fe, XENDISPL_FIELD_BE_ALLOC, NULL, "%u",
                      &be_alloc) == 1) {
        n->be_alloc = be_alloc == 1;
    }
    dirs = qemu_xen_xs_directory(h, t, fe, &nr);
    for (i = 0; dirs && i < nr; i++) {
        unsigned int c;

        if (!qemu_strtoui(dirs[i], NULL, 10, &c) && c + 1 > count) {
            count = c + 1;
        }
    }
    free(dirs);
    if (!count) {
        error_setg(errp, "%s has no connector (0/resolution)", fe);
        return false;
    }
    if (count > XDF_MAX_CONNECTORS) {
        error_setg(errp, "%s has %u connectors; at most %d are supported",
                   fe, count, XDF_MAX_CONNECTORS);
        return false;
    }
    for (i = 0; i < count; i++) {
        g_autofree char *res = xs_node_read(h, t, NULL, NULL, "%s/%u/%s", fe,
                                            i, XENDISPL_FIELD_RESOLUTION);

        if (!res || displif_parse_resolution(res, &n->width[i],
                                             &n->height[i])) {
            xdf_vdispl_nodes_free(n);
            error_setg(errp, "%s/%u/%s is '%s', not a resolution WxH with "
                       "sides 1 to %d", fe, i, XENDISPL_FIELD_RESOLUTION,
                       res ? res : "(missing)", DISPLIF_MAX_SIDE);
            return false;
        }
        n->count = i + 1;
        n->unique_id[i] = xs_node_read(h, t, NULL, NULL, "%s/%u/%s", fe, i,
                                       XENDISPL_FIELD_UNIQUE_ID);
    }
    return true;
}

/* A toolstack's vdispl directory is ours to take if we can serve it. */
static XdfAdopt xdf_vdispl_adopt(XdfXenbus *xb, xs_transaction_t t,
                                 const char *fe, uint32_t idx, char **why)
{
    XdfVdisplNodes nodes;
    Error *local_err = NULL;

    if (!xdf_vdispl_nodes_read(xb, t, fe, idx, &nodes, &local_err)) {
        *why = g_strdup(error_get_pretty(local_err));
        error_free(local_err);
        return XDF_ADOPT_NO;
    }
    xdf_vdispl_nodes_free(&nodes);
    return XDF_ADOPT_YES;
}

/* The connectors of the toolstack's directory we took: it rules. */
static bool xdf_read_nodes(XenDisplFront *s, Error **errp)
{
    XdfVdisplNodes nodes;
    unsigned int i;

    if (!xdf_vdispl_nodes_read(&s->bus, XBT_NULL, s->bus.fe_path,
                               s->bus.dev_id, &nodes, errp)) {
        return false;
    }
    if (nodes.be_alloc >= 0) {
        s->be_alloc = nodes.be_alloc;
    }
    xdf_connectors_new(s, nodes.count);
    for (i = 0; i < nodes.count; i++) {
        XdfConnector *c = &s->conn[i];

        c->width = nodes.width[i];
        c->height = nodes.height[i];
        if (nodes.unique_id[i]) {
            g_free(c->unique_id);
            c->unique_id = g_steal_pointer(&nodes.unique_id[i]);
        }
    }
    xdf_vdispl_nodes_free(&nodes);
    return true;
}

/* Pick the highest version both ends speak; the backend may not say. */
static void xdf_negotiate_version(XenDisplFront *s)
{
    g_autofree char *versions = xs_node_read(s->xsh, XBT_NULL, NULL, NULL,
                                             "%s/%s", s->bus.be_path,
                                             XENDISPL_FIELD_BE_VERSIONS);
    g_auto(GStrv) list = NULL;
    unsigned int i, v;

    s->version = 1;
    if (!versions) {
        return;
    }
    list = g_strsplit(versions, XENDISPL_LIST_SEPARATOR, -1);
    for (i = 0; list[i]; i++) {
        if (!qemu_strtoui(list[i], NULL, 10, &v) &&
            v <= XENDISPL_PROTOCOL_VERSION_INT && v > s->version) {
            s->version = v;
        }
    }
}

static void xdf_publish_in(XdfXenbus *xb, xs_transaction_t t, Error **errp)
{
    XenDisplFront *s = xb->s;
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];
        g_autofree char *cpath = g_strdup_printf("%s/%u", xb->fe_path, i);

        xdf_xs_printf(s->xsh, t, cpath, XENDISPL_FIELD_REQ_RING_REF, errp,
                      "%" PRIu32, c->ring.req_ref);
        xdf_xs_printf(s->xsh, t, cpath, XENDISPL_FIELD_REQ_CHANNEL, errp,
                      "%d", c->ring.req_port);
        xdf_xs_printf(s->xsh, t, cpath, XENDISPL_FIELD_EVT_RING_REF, errp,
                      "%" PRIu32, c->ring.evt_ref);
        xdf_xs_printf(s->xsh, t, cpath, XENDISPL_FIELD_EVT_CHANNEL, errp,
                      "%d", c->ring.evt_port);
    }
    xdf_xs_printf(s->xsh, t, xb->fe_path, XENDISPL_FIELD_FE_VERSION, errp,
                  "%u", s->version);
}

/*
 * Close every ring (outstanding requests complete with -ECANCELED) and
 * forget every buffer.  It worked if any connector's SET_CONFIG was
 * answered.
 */
static bool xdf_vdispl_disconnect(XdfXenbus *xb)
{
    XenDisplFront *s = xb->s;
    bool worked = false;
    unsigned int i;

    for (i = 0; s->conn && i < s->nr_connectors; i++) {
        worked = worked || s->conn[i].display == XDF_DISPLAY_ON;
    }
    for (i = 0; s->conn && i < s->nr_connectors; i++) {
        xdf_ring_close(&s->conn[i].ring);
        xdf_display_stop(&s->conn[i]);
        xdf_edid_free(&s->conn[i]);
    }
    return worked;
}

/*
 * The rings' failure callback.  A backend that breaks the protocol costs
 * its own connection, never QEMU or the guest: say what happened and
 * close.
 */
static void xdf_connection_failed(void *opaque, const char *msg)
{
    XdfConnector *c = opaque;
    XenDisplFront *s = c->s;

    error_report("xen-displfront '%s': connector %u: %s; closing the "
                 "connection to backend domain %" PRIu32,
                 xdf_id(s), c->index, msg, s->backend_domid);
    xdf_bus_failed(&s->bus);
}

static const XdfRingOps xdf_ring_ops = {
    .event = xdf_display_event,
    .fail = xdf_connection_failed,
};

/* The backend is waiting for us: open and publish every ring. */
static bool xdf_vdispl_connect(XdfXenbus *xb, Error **errp)
{
    XenDisplFront *s = xb->s;
    unsigned int i;

    xdf_negotiate_version(s);
    for (i = 0; i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];

        c->ring.ops = &xdf_ring_ops;
        c->ring.opaque = c;
        c->ring.id = xdf_id(s);
        c->ring.index = i;
        c->ring.xeh = s->xeh;
        c->ring.xgs = s->xgs;
        c->ring.backend_domid = s->backend_domid;
        c->ring.timeout_ms = s->req_timeout_ms;
        if (!xdf_ring_open(&c->ring, errp)) {
            return false;
        }
    }
    return xdf_xs_transaction(xb, xdf_publish_in, "publish the rings", errp);
}

/* Connected: each connector asks for its EDID and starts showing. */
static void xdf_vdispl_connected(XdfXenbus *xb)
{
    XenDisplFront *s = xb->s;
    unsigned int i;

    for (i = 0; i < s->nr_connectors &&
                xb->state == XenbusStateConnected; i++) {
        xdf_get_edid(&s->conn[i]);
        xdf_display_start(&s->conn[i]);
    }
}

static const XdfXenbusOps xdf_vdispl_ops = {
    .driver = XENDISPL_DRIVER_NAME,
    .be_drivers = (const char *const []) { XENDISPL_DRIVER_NAME, NULL },
    .fe_nodes = xdf_vdispl_fe_nodes,
    .adopt = xdf_vdispl_adopt,
    .connect = xdf_vdispl_connect,
    .connected = xdf_vdispl_connected,
    .disconnect = xdf_vdispl_disconnect,
};

/* vkbd: each connector's input ------------------------------------------- */

/*
 * The input's failure: a backend that breaks kbdif costs the input
 * connection, never QEMU, the guest or the display.
 */
static void G_GNUC_PRINTF(2, 3)
xdf_input_fail(XdfConnector *c, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("xen-displfront '%s': connector %u: input (%s): %s; "
                 "closing its connection to backend domain %" PRIu32,
                 xdf_id(c->s), c->index, c->input.bus.name, msg,
                 c->s->backend_domid);
    xdf_bus_failed(&c->input.bus);
}

static InputButton xdf_input_button(uint32_t code)
{
    switch (code) {
    case KBDIF_BTN_LEFT:
        return INPUT_BUTTON_LEFT;
    case KBDIF_BTN_RIGHT:
        return INPUT_BUTTON_RIGHT;
    case KBDIF_BTN_MIDDLE:
        return INPUT_BUTTON_MIDDLE;
    case KBDIF_BTN_SIDE:
        return INPUT_BUTTON_SIDE;
    default:
        return INPUT_BUTTON_EXTRA;
    }
}

/*
 * Keys that act on the guest's machine rather than type into it: power,
 * sleep, wake-up, and SysRq (Linux's KEY_SYSRQ is also the Print Screen
 * key; with Alt it is the magic SysRq that reboots a Linux guest).
 * KEY_SUSPEND has no qcode, so no emulated keyboard sends it anyway.
 */
static bool xdf_input_system_key(int qcode)
{
    switch (qcode) {
    case Q_KEY_CODE_POWER:
    case Q_KEY_CODE_SLEEP:
    case Q_KEY_CODE_WAKE:
    case Q_KEY_CODE_SYSRQ:
    case Q_KEY_CODE_PRINT:
        return true;
    default:
        return false;
    }
}

/*
 * Key or button @code goes down or up in the guest; false: no such key,
 * or a system key the backend may not press (input-system-keys).
 */
static bool xdf_input_send(XdfConnector *c, uint32_t code, bool down)
{
    XdfInput *in = &c->input;
    int qcode;

    if (code >= KBDIF_BTN_LEFT && code <= KBDIF_BTN_EXTRA) {
        trace_xen_displfront_input_button(xdf_id(c->s), c->index, code,
                                          down);
        qemu_input_queue_btn(c->con, xdf_input_button(code), down);
        qemu_input_event_sync();
        return true;
    }
    qcode = qemu_input_linux_to_qcode(code);
    trace_xen_displfront_input_key(xdf_id(c->s), c->index, code, qcode,
                                   down);
    if (qcode == Q_KEY_CODE_UNMAPPED) {
        return false;           /* a code no emulated keyboard has */
    }
    if (!c->s->input_system_keys && xdf_input_system_key(qcode)) {
        if (!in->said_system_key) {
            warn_report("xen-displfront '%s': connector %u: dropping the "
                        "backend's system key '%s' (power, sleep, wake-up "
                        "and SysRq reach the guest only with "
                        "input-system-keys=on)", xdf_id(c->s), c->index,
                        QKeyCode_str(qcode));
            in->said_system_key = true;
        }
        return false;
    }
    qemu_input_event_send_key_qcode(c->con, qcode, down);
    return true;
}

/* Multi-touch contact @i goes up in the guest, if it is down. */
static void xdf_input_touch_up(XdfConnector *c, unsigned int i)
{
    XdfInput *in = &c->input;
    touch_slot *slot = &in->slots[i];

    if (slot->tracking_id >= 0 && c->fit.src_w) {
        trace_xen_displfront_input_touch(xdf_id(c->s), c->index, i,
                                         XENKBD_MT_EV_UP, slot->x, slot->y);
        console_handle_touch_event(c->con, in->slots, i, c->fit.src_w,
                                   c->fit.src_h, slot->x, slot->y,
                                   INPUT_MULTI_TOUCH_TYPE_END, NULL);
    }
    slot->tracking_id = -1;
}

/*
 * What the guest holds and the backend no longer does goes up, once the
 * VM runs: keys and buttons let go of while it was stopped, and after a
 * migration what the source's guest held (contacts too).  Nothing sticks
 * in the guest.
 */
static void xdf_input_resync(XdfConnector *c)
{
    XdfInput *in = &c->input;
    unsigned long code;
    unsigned int i;

    if (!runstate_is_running()) {
        return;
    }
    for (code = find_first_bit(in->down, KBDIF_KEY_MAX + 1);
         code <= KBDIF_KEY_MAX;
         code = find_next_bit(in->down, KBDIF_KEY_MAX + 1, code + 1)) {
        if (!test_bit(code, in->held)) {
            xdf_input_send(c, code, false);
            clear_bit(code, in->down);
        }
    }
    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        if (in->migrated_touch & BIT(i)) {
            xdf_input_touch_up(c, i);
        }
    }
    in->migrated_touch = 0;
}

/*
 * The backend presses or releases @code.  QEMU's input layer drops what
 * comes while the VM is stopped; xdf_input_resync() releases what the
 * guest still holds when it runs again.  False when the guest gets
 * nothing of it.
 */
static bool xdf_input_key(XdfConnector *c, uint32_t code, bool down)
{
    XdfInput *in = &c->input;

    if (down) {
        set_bit(code, in->held);
    } else {
        clear_bit(code, in->held);
    }
    if (!runstate_is_running() || !xdf_input_send(c, code, down)) {
        return false;
    }
    if (down) {
        set_bit(code, in->down);
    } else {
        clear_bit(code, in->down);
    }
    return true;
}

/* A backend's relative motion, bounded: no wrap in a device's sums. */
static int xdf_input_clamp_rel(int32_t v)
{
    return MIN(MAX(v, -XDF_INPUT_MAX_REL), XDF_INPUT_MAX_REL);
}

/* @z wheel steps, positive towards the user (Linux's -REL_WHEEL). */
static void xdf_input_wheel(XdfConnector *c, int32_t z)
{
    InputButton b = z > 0 ? INPUT_BUTTON_WHEEL_DOWN : INPUT_BUTTON_WHEEL_UP;
    int64_t i, n = MIN(ABS((int64_t)z), XDF_INPUT_MAX_WHEEL);

    for (i = 0; i < n; i++) {
        qemu_input_queue_btn(c->con, b, true);
        qemu_input_event_sync();
        qemu_input_queue_btn(c->con, b, false);
        qemu_input_event_sync();
    }
}

/*
 * Position @x, @y of an @area_w x @area_h area of the backend's (checked
 * to lie in it): onto the connector, then through the inverse of the
 * connector's fit to the guest pixel shown there (*@gx, *@gy), by
 * displif_fit_guest_pixel(), the rule the copy uses, so that a click
 * lands where the viewer saw it.  False while no picture is shown.
 */
static bool xdf_input_guest_pixel(XdfConnector *c, int32_t x, int32_t y,
                                  uint32_t area_w, uint32_t area_h,
                                  uint32_t *gx, uint32_t *gy)
{
    XdfFit *f = &c->fit;
    uint32_t cx, cy;

    if (!f->src_w || !f->src_h) {
        return false;           /* no picture: nowhere to point */
    }
    cx = (uint64_t)x * c->width / area_w;
    cy = (uint64_t)y * c->height / area_h;
    displif_fit_guest_pixel(cx, f->dst_x, f->dst_w, f->src_x, f->src_w,
                            f->one_to_one, gx);
    displif_fit_guest_pixel(cy, f->dst_y, f->dst_h, f->src_y, f->src_h,
                            f->one_to_one, gy);
    return true;
}

/*
 * An absolute position in the backend's pointer area, to the guest's
 * absolute pointing device; a guest without one gets the moves
 * relative, said once.
 */
static bool xdf_input_position(XdfConnector *c, int32_t x, int32_t y)
{
    XdfInput *in = &c->input;
    XdfFit *f = &c->fit;
    uint32_t gx, gy;

    if (!xdf_input_guest_pixel(c, x, y, in->area_w, in->area_h, &gx, &gy)) {
        return false;
    }
    trace_xen_displfront_input_abs(xdf_id(c->s), c->index, x, y, gx, gy,
                                   f->src_w, f->src_h);
    if (qemu_input_is_absolute(c->con)) {
        qemu_input_queue_abs(c->con, INPUT_AXIS_X, gx, 0, f->src_w);
        qemu_input_queue_abs(c->con, INPUT_AXIS_Y, gy, 0, f->src_h);
    } else {
        if (!in->said_relative) {
            warn_report("xen-displfront '%s': connector %u: the guest has "
                        "no absolute pointing device: pointer moves reach it "
                        "as relative motion (add -device usb-tablet or "
                        "virtio-tablet-pci for exact positions)",
                        xdf_id(c->s), c->index);
            in->said_relative = true;
        }
        if (in->have_pos) {
            qemu_input_queue_rel(c->con, INPUT_AXIS_X,
                                 (int64_t)gx - in->gx);
            qemu_input_queue_rel(c->con, INPUT_AXIS_Y,
                                 (int64_t)gy - in->gy);
        }
    }
    in->have_pos = true;
    in->gx = gx;
    in->gy = gy;
    return true;
}

/*
 * A multi-touch contact goes down, moves or goes up, at a position in
 * the backend's touch area mapped to the guest pixel shown there as for
 * the pointer; QEMU's multi-touch devices (virtio-multitouch-pci) take
 * it, each contact one of QEMU's slots.
 */
static bool xdf_input_touch(XdfConnector *c, struct xenkbd_mtouch *mt)
{
    static const InputMultiTouchType types[] = {
        [XENKBD_MT_EV_DOWN] = INPUT_MULTI_TOUCH_TYPE_BEGIN,
        [XENKBD_MT_EV_UP] = INPUT_MULTI_TOUCH_TYPE_END,
        [XENKBD_MT_EV_MOTION] = INPUT_MULTI_TOUCH_TYPE_UPDATE,
    };
    XdfInput *in = &c->input;
    touch_slot *slot = &in->slots[mt->contact_id];
    Error *local_err = NULL;
    uint32_t gx = slot->x, gy = slot->y;

    if (mt->event_type != XENKBD_MT_EV_UP &&
        !xdf_input_guest_pixel(c, mt->u.pos.abs_x, mt->u.pos.abs_y,
                               in->touch_w, in->touch_h, &gx, &gy)) {
        return false;
    }
    if (mt->event_type != XENKBD_MT_EV_DOWN && slot->tracking_id < 0) {
        return false;           /* not down (or down before we came) */
    }
    in->migrated_touch &= ~BIT(mt->contact_id);    /* the backend's now */
    trace_xen_displfront_input_touch(xdf_id(c->s), c->index, mt->contact_id,
                                     mt->event_type, gx, gy);
    console_handle_touch_event(c->con, in->slots, mt->contact_id,
                               c->fit.src_w, c->fit.src_h, gx, gy,
                               types[mt->event_type], &local_err);
    /* contact ids are checked against the slots: it cannot fail */
    error_free(local_err);
    return true;
}

/* Every contact still down goes up. */
static void xdf_input_touch_end(XdfConnector *c)
{
    unsigned int i;

    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        xdf_input_touch_up(c, i);
    }
    c->input.migrated_touch = 0;
}

/*
 * One event from the backend: 1 when the guest got something of it, 0
 * when not (see XdfFlood), -1 when it cost the connection.
 */
static int xdf_input_event(XdfConnector *c, union xenkbd_in_event *evt)
{
    XdfInput *in = &c->input;
    uint32_t code = 0;
    bool done;

    switch (kbdif_check_event(evt, in->area_w, in->area_h, &code)) {
    case KBDIF_INPUT_KEY:
    case KBDIF_INPUT_BUTTON:
        return xdf_input_key(c, code, evt->key.pressed);
    case KBDIF_INPUT_MOTION:
        trace_xen_displfront_input_rel(xdf_id(c->s), c->index,
                                       evt->motion.rel_x, evt->motion.rel_y,
                                       evt->motion.rel_z);
        qemu_input_queue_rel(c->con, INPUT_AXIS_X,
                             xdf_input_clamp_rel(evt->motion.rel_x));
        qemu_input_queue_rel(c->con, INPUT_AXIS_Y,
                             xdf_input_clamp_rel(evt->motion.rel_y));
        qemu_input_event_sync();
        xdf_input_wheel(c, evt->motion.rel_z);
        in->have_pos = false;
        return 1;
    case KBDIF_INPUT_POS:
        done = xdf_input_position(c, evt->pos.abs_x, evt->pos.abs_y);
        qemu_input_event_sync();
        xdf_input_wheel(c, evt->pos.rel_z);
        return done || evt->pos.rel_z;
    case KBDIF_INPUT_TOUCH:
        if (!in->touch) {
            trace_xen_displfront_input_ignored(xdf_id(c->s), c->index,
                                               evt->type, 0);
            return 0;           /* not asked for */
        }
        switch (kbdif_check_touch(evt, in->touch_w, in->touch_h,
                                  in->contacts)) {
        case KBDIF_INPUT_TOUCH:
            return xdf_input_touch(c, &evt->mtouch);
        case KBDIF_INPUT_BAD:
            xdf_input_fail(c, "multi-touch contact %u is past the %"
                           PRIu32 " contacts of the touch area",
                           evt->mtouch.contact_id, in->contacts);
            return -1;
        default:
            trace_xen_displfront_input_ignored(xdf_id(c->s), c->index,
                                               evt->type,
                                               evt->mtouch.event_type);
            return 0;
        }
    case KBDIF_INPUT_IGNORED:
        trace_xen_displfront_input_ignored(xdf_id(c->s), c->index,
                                           evt->type, code);
        return 0;
    case KBDIF_INPUT_BAD:
    default:
        if (evt->type == XENKBD_TYPE_KEY) {
            xdf_input_fail(c, "key code %" PRIu32 " is beyond KEY_MAX (%d)",
                           code, KBDIF_KEY_MAX);
        } else {
            xdf_input_fail(c, "event type %u is not valid here", evt->type);
        }
        return -1;
    }
}

/* Take the events on the page, one batch; how many did something. */
static unsigned int xdf_input_take_events(XdfConnector *c)
{
    XdfInput *in = &c->input;
    union xenkbd_in_event evt;
    unsigned int progress = 0;
    uint32_t prod;
    int done;

    if (kbdif_front_event_prod(in->page, in->cons, &prod)) {
        xdf_input_fail(c, "backend set in_prod to %" PRIu32 " with %" PRIu32
                       " events taken: more than the %zu the ring holds",
                       prod, in->cons, (size_t)XENKBD_IN_RING_LEN);
        return 0;
    }
    while (in->cons != prod) {
        kbdif_front_take_event(in->page, &in->cons, &evt);
        done = xdf_input_event(c, &evt);
        if (done < 0) {
            break;
        }
        progress += done;
    }
    return progress;
}

static bool xdf_input_has_port(XdfConnector *c, int port)
{
    return c->input.page && port == c->input.port;
}

/*
 * The input's port was notified (or its masked period is over): take
 * the events, guarded against floods (see XdfFlood).
 */
static void xdf_input_notified(XdfConnector *c)
{
    XdfInput *in = &c->input;
    int port = in->port;
    unsigned int progress = xdf_input_take_events(c);
    uint32_t masked_ms;

    trace_xen_displfront_notified(xdf_id(c->s), "input", c->index, port,
                                  progress);
    if (!in->page) {
        return;                 /* closed: the port is gone */
    }
    masked_ms = xdf_flood_kicked(&in->flood, c->s->xeh, port, progress);
    if (masked_ms) {
        trace_xen_displfront_flood(xdf_id(c->s), "input", c->index, port,
                                   masked_ms);
    }
}

static void xdf_input_unflood(void *opaque)
{
    xdf_input_notified(opaque);
}

/* The backend directory's unique-id links the vkbd to its connector. */
static void xdf_input_be_nodes(XdfXenbus *xb, xs_transaction_t t,
                               Error **errp)
{
    XdfConnector *c = xb->opaque;

    xdf_xs_printf(xb->s->xsh, t, xb->be_path, XENKBD_FIELD_UNIQUE_ID, errp,
                  "%s", c->input_id);
}

/*
 * A toolstack's vkbd (xl.cfg vkb=) is this connector's if its backend
 * directory names the connector's unique-id; we can serve it if that
 * directory is backend-domid's.
 */
static XdfAdopt xdf_input_adopt(XdfXenbus *xb, xs_transaction_t t,
                                const char *fe, uint32_t idx, char **why)
{
    XdfConnector *c = xb->opaque;
    struct qemu_xs_handle *h = xb->s->xsh;
    g_autofree char *be = xs_node_read(h, t, NULL, NULL, "%s/backend", fe);
    g_autofree char *id = NULL;

    if (be) {
        id = xs_node_read(h, t, NULL, NULL, "%s/%s", be,
                          XENKBD_FIELD_UNIQUE_ID);
    }
    if (!id || strcmp(id, c->input_id)) {
        return XDF_ADOPT_OTHER;
    }
    return xdf_toolstack_backend(xb, fe, be, idx, why) ? XDF_ADOPT_YES :
                                                          XDF_ADOPT_NO;
}

static void xdf_input_publish_in(XdfXenbus *xb, xs_transaction_t t,
                                 Error **errp)
{
    XdfInput *in = &((XdfConnector *)xb->opaque)->input;
    struct qemu_xs_handle *h = xb->s->xsh;

    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_REQ_ABS_POINTER, errp,
                  "%d", in->abs);
    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_REQ_MTOUCH, errp, "%d",
                  in->touch);
    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_RING_GREF, errp,
                  "%" PRIu32, in->page_ref);
    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_EVT_CHANNEL, errp, "%d",
                  in->port);
}

/* The backend's unsigned node @key, if it is there and 1 to @max. */
static bool xdf_read_be_uint(XdfXenbus *xb, const char *key, uint32_t max,
                             uint32_t *val)
{
    uint32_t v;

    if (xs_node_scanf(xb->s->xsh, XBT_NULL, xb->be_path, key, NULL,
                      "%" SCNu32, &v) != 1 || !v || v > max) {
        return false;
    }
    *val = v;
    return true;
}

/*
 * The backend waits: share the event page, bind its port, and ask for
 * absolute positions when the backend offers them (whether the guest can
 * take them is decided per event: its devices come and go).
 */
static bool xdf_input_connect(XdfXenbus *xb, Error **errp)
{
    XdfConnector *c = xb->opaque;
    XdfInput *in = &c->input;
    XenDisplFront *s = xb->s;
    uint32_t feature = 0;

    in->abs = xdf_read_be_uint(xb, XENKBD_FIELD_FEAT_ABS_POINTER, 1,
                               &feature);
    in->area_w = c->width;
    in->area_h = c->height;
    xdf_read_be_uint(xb, XENKBD_FIELD_WIDTH, INT32_MAX, &in->area_w);
    xdf_read_be_uint(xb, XENKBD_FIELD_HEIGHT, INT32_MAX, &in->area_h);
    in->have_pos = false;
    /* multi-touch: as many contacts as QEMU has slots, at most */
    feature = 0;
    in->touch = xdf_read_be_uint(xb, XENKBD_FIELD_FEAT_MTOUCH, 1, &feature);
    in->touch_w = c->width;
    in->touch_h = c->height;
    in->contacts = INPUT_EVENT_SLOTS_MAX;
    xdf_read_be_uint(xb, XENKBD_FIELD_MT_WIDTH, INT32_MAX, &in->touch_w);
    xdf_read_be_uint(xb, XENKBD_FIELD_MT_HEIGHT, INT32_MAX, &in->touch_h);
    xdf_read_be_uint(xb, XENKBD_FIELD_MT_NUM_CONTACTS, INPUT_EVENT_SLOTS_MAX,
                     &in->contacts);

    in->page = qemu_xen_gntshr_share_pages(s->xgs, s->backend_domid, 1,
                                           &in->page_ref, true);
    if (!in->page) {
        xdf_error_limit(errp, errno, "connector %u: cannot share the input "
                        "page", c->index);
        return false;
    }
    memset(in->page, 0, XEN_PAGE_SIZE);
    in->cons = 0;
    xdf_flood_init(&in->flood, xdf_input_unflood, c);
    in->port = qemu_xen_evtchn_bind_unbound_port(s->xeh, s->backend_domid);
    if (in->port <= 0) {
        xdf_error_limit(errp, in->port ? -in->port : EIO, "connector %u: "
                        "cannot allocate an event channel for input",
                        c->index);
        in->port = 0;
        return false;
    }
    trace_xen_displfront_input_connect(xdf_id(s), c->index, xb->name,
                                       in->page_ref, in->port, in->abs,
                                       in->area_w, in->area_h, in->touch,
                                       in->contacts);
    return xdf_xs_transaction(xb, xdf_input_publish_in,
                              "publish the input page", errp);
}

static void xdf_input_connected(XdfXenbus *xb)
{
    XdfConnector *c = xb->opaque;

    c->input.connected = true;
}

/* Keys still down go up; the page and port go back. */
static bool xdf_input_disconnect(XdfXenbus *xb)
{
    XdfConnector *c = xb->opaque;
    XdfInput *in = &c->input;
    bool worked = in->connected;

    bitmap_zero(in->held, KBDIF_KEY_MAX + 1);
    xdf_input_resync(c);
    xdf_input_touch_end(c);
    in->connected = false;
    xdf_flood_fini(&in->flood);
    if (in->port > 0) {
        qemu_xen_evtchn_unbind(c->s->xeh, in->port);
    }
    in->port = 0;
    if (in->page) {
        qemu_xen_gntshr_unshare(c->s->xgs, in->page, 1);
        in->page = NULL;
    }
    return worked;
}

static const XdfXenbusOps xdf_input_ops = {
    .driver = XENKBD_DRIVER_NAME,
    .be_drivers = (const char *const []) { "vinput", XENKBD_DRIVER_NAME,
                                           NULL },
    .be_nodes = xdf_input_be_nodes,
    .adopt = xdf_input_adopt,
    .connect = xdf_input_connect,
    .connected = xdf_input_connected,
    .disconnect = xdf_input_disconnect,
};

/*
 * A port was notified: the connector whose ring or input has it takes
 * what it announces.
 */
static void xdf_evtchn_handler(void *opaque)
{
    XenDisplFront *s = opaque;
    int port = qemu_xen_evtchn_pending(s->xeh);
    unsigned int i;

    if (port <= 0) {
        return;
    }
    for (i = 0; s->conn && i < s->nr_connectors; i++) {
        if (xdf_ring_has_port(&s->conn[i].ring, port)) {
            xdf_ring_notified(&s->conn[i].ring, port);
            return;
        }
        if (xdf_input_has_port(&s->conn[i], port)) {
            xdf_input_notified(&s->conn[i]);
            return;
        }
    }
    qemu_xen_evtchn_unmask(s->xeh, port);
}

/* QOM device ------------------------------------------------------------- */

/*
 * The console connector @index follows: head (head + @index) of the
 * card whose qdev id is @display, or, when no card is named, the first
 * graphic console.  The lookup is QEMU's; the messages name the card's
 * type and say what to do.
 */
static QemuConsole *xdf_find_console(XenDisplFront *s, unsigned int index,
                                     Error **errp)
{
    uint32_t head = s->head + index;
    Error *local_err = NULL;
    QemuConsole *con;
    DeviceState *card;
    int i;

    if (!s->display) {
        if (s->head) {
            error_setg(errp, "head=%" PRIu32 " needs display=<card id>",
                       s->head);
            return NULL;
        }
        if (index) {
            error_setg(errp, "connector %u needs display=<card id> with "
                       "that many heads", index);
            return NULL;
        }
        for (i = 0; (con = qemu_console_lookup_by_index(i)); i++) {
            if (qemu_console_is_graphic(con)) {
                return con;
            }
        }
        error_setg(errp, "there is no graphic console to follow");
        error_append_hint(errp, "Add an emulated card (e.g. -device VGA,id="
                          "vga0) and name it with display=vga0.\n");
        return NULL;
    }

    con = qemu_console_lookup_by_device_name(s->display, head, &local_err);
    if (con && qemu_console_is_graphic(con)) {
        return con;
    }
    if (local_err &&
        error_get_class(local_err) == ERROR_CLASS_DEVICE_NOT_FOUND) {
        error_free(local_err);
        error_setg(errp, "display '%s': no device with that id", s->display);
        error_append_hint(errp, "A card given with -device must come before "
                          "xen-displfront on the command line.\n");
        return NULL;
    }
    error_free(local_err);
    card = qdev_find_recursive(sysbus_get_default(), s->display);
    if (index) {
        error_setg(errp, "connector %u: display '%s' (%s) has no graphic "
                   "console at head %" PRIu32, index, s->display,
                   object_get_typename(OBJECT(card)), head);
    } else {
        error_setg(errp, "display '%s' (%s) has no graphic console at head %"
                   PRIu32, s->display, object_get_typename(OBJECT(card)),
                   head);
    }
    return NULL;
}

/*
 * Property @name's @value (NULL: not given) as one id per connector,
 * '|' between them (ids hold ':' and ';': displ_be's input ids do), each
 * 1 to XDF_ID_MAX printable characters without blanks.
 */
static bool xdf_parse_ids(const char *name, const char *value,
                          uint32_t connectors, char ***ids, Error **errp)
{
    unsigned int i, n;

    if (!value) {
        return true;
    }
    *ids = g_strsplit(value, "|", -1);
    n = g_strv_length(*ids);
    if (n != connectors) {
        error_setg(errp, "%s '%s' names %u connector(s), not %" PRIu32
                   " (one id per connector, '|' between them)", name, value,
                   n, connectors);
        return false;
    }
    for (i = 0; i < n; i++) {
        const char *id = (*ids)[i];
        size_t j, len = strlen(id);
        bool printable = len > 0 && len <= XDF_ID_MAX;

        for (j = 0; j < len; j++) {
            printable = printable && g_ascii_isgraph(id[j]);
        }
        if (!printable) {
            error_setg(errp, "%s '%s': connector %u's id '%s' must be 1 to "
                       "%d printable characters without blanks", name, value,
                       i, id, XDF_ID_MAX);
            return false;
        }
    }
    return true;
}

static bool xdf_check_config(XenDisplFront *s, Error **errp)
{
    const char *res = s->resolution ? s->resolution :
                      XDF_DEFAULT_RESOLUTION;
    unsigned int dev_id;
    int ret;

    ret = displif_parse_resolution(res, &s->width, &s->height);
    if (ret == -EINVAL) {
        error_setg(errp, "resolution '%s' is not of the form WIDTHxHEIGHT "
                   "(e.g. 1024x768)", res);
        return false;
    }
    if (ret) {
        error_setg(errp, "resolution '%s' is out of range: width and height "
                   "must be 1 to %d", res, DISPLIF_MAX_SIDE);
        return false;
    }
    if (s->backend_domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "backend-domid %" PRIu32 " is not a domain id "
                   "(0 to %d)", s->backend_domid, DOMID_FIRST_RESERVED - 1);
        return false;
    }
    if (s->frontend_domid >= DOMID_FIRST_RESERVED &&
        s->frontend_domid != DOMID_SELF) {
        error_setg(errp, "frontend-domid %" PRIu32 " is not a domain id "
                   "(0 to %d)", s->frontend_domid, DOMID_FIRST_RESERVED - 1);
        return false;
    }

    s->bus.dev_id_auto = !s->dev_id_prop || !strcmp(s->dev_id_prop, "auto");
    if (!s->bus.dev_id_auto) {
        if (qemu_strtoui(s->dev_id_prop, NULL, 10, &dev_id) ||
            dev_id > INT32_MAX || !g_ascii_isdigit(s->dev_id_prop[0])) {
            error_setg(errp, "dev-id '%s' is neither 'auto' nor a device "
                       "index (0 to %d)", s->dev_id_prop, INT32_MAX);
            return false;
        }
        s->bus.dev_id = dev_id;
    }
    if (s->req_timeout_ms < 100 || s->req_timeout_ms > 600000) {
        error_setg(errp, "req-timeout-ms=%" PRIu32 " is out of range "
                   "(100 to 600000)", s->req_timeout_ms);
        return false;
    }
    if (s->connectors < 1 || s->connectors > XDF_MAX_CONNECTORS) {
        error_setg(errp, "connectors=%" PRIu32 " is out of range (1 to %d)",
                   s->connectors, XDF_MAX_CONNECTORS);
        return false;
    }
    s->fit_mode = XDF_FIT_SCALE;
    if (s->fit) {
        int mode = xdf_name_index(xdf_fit_names, ARRAY_SIZE(xdf_fit_names),
                                  s->fit);

        if (mode < 0) {
            error_setg(errp, "fit '%s' is not scale, center or crop",
                       s->fit);
            return false;
        }
        s->fit_mode = mode;
    }
    if (!xdf_parse_ids("unique-id", s->unique_id, s->connectors,
                       &s->unique_ids, errp) ||
        !xdf_parse_ids("input-id", s->input_id, s->connectors,
                       &s->input_ids, errp)) {
        return false;
    }
    if (s->input_backend && strcmp(s->input_backend, "vinput") &&
        strcmp(s->input_backend, "vkbd")) {
        error_setg(errp, "input-backend '%s' is neither vinput nor vkbd",
                   s->input_backend);
        return false;
    }
    /* the card must exist before we talk to Xen */
    return xdf_find_console(s, 0, errp) != NULL;
}


/*
 * Open XenStore, event channels and grant sharing, and find the
 * frontend domain.  Without a Xen accelerator nothing has set up the
 * operation tables: use the real Xen libraries then, as any dom0 or
 * stub-domain process would.
 */
static bool xdf_open_xen(XenDisplFront *s, Error **errp)
{
    g_autofree char *domid = NULL;

    if (xen_mode == XEN_DISABLED && !xen_xenstore_ops) {
        setup_xen_backend_ops();
    }
    s->xsh = qemu_xen_xs_open();
    if (!s->xsh) {
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
    s->xeh = qemu_xen_evtchn_open();
    if (!s->xeh) {
        error_setg_errno(errp, errno, "cannot open Xen event channels "
                         "(/dev/xen/evtchn)");
        return false;
    }
    s->xgs = qemu_xen_gntshr_open();
    if (!s->xgs) {
        error_setg_errno(errp, errno, "cannot open Xen grant sharing "
                         "(/dev/xen/gntalloc)");
        return false;
    }
    s->xgt = qemu_xen_gnttab_open();
    if (!s->xgt) {
        error_setg_errno(errp, errno, "cannot open Xen grant mapping "
                         "(/dev/xen/gntdev)");
        return false;
    }

    /*
     * A domain's "domid" node sits in its home, which is where relative
     * paths lead; dom0's toolstack may not write it.
     */
    s->own_domid = 0;
    domid = qemu_xen_xs_read(s->xsh, XBT_NULL, "domid", NULL);
    if (domid && (qemu_strtoui(domid, NULL, 10, &s->own_domid) ||
                  s->own_domid >= DOMID_FIRST_RESERVED)) {
        if (s->frontend_domid == DOMID_SELF) {
            error_setg(errp, "XenStore node 'domid' holds '%s', not a "
                       "domain id; set frontend-domid", domid);
            return false;
        }
        s->own_domid = DOMID_INVALID;   /* unknown: trusted for nothing */
    }
    if (s->frontend_domid == DOMID_SELF) {
        s->frontend_domid = s->own_domid;
    }
    return true;
}

/*
 * A connector's vkbd could (@ok) or could not be claimed or watched
 * (@err says why).  input=on makes that an error; with input=auto the
 * connector goes on without input -- a domain that may not write the
 * backend's directory, every index taken -- and says so once.
 */
static bool xdf_input_check(XdfConnector *c, bool ok, Error *err,
                            Error **errp)
{
    XdfXenbus *xb = &c->input.bus;

    if (ok) {
        return true;
    }
    if (c->s->input == ON_OFF_AUTO_ON) {
        error_propagate_prepend(errp, err, "connector %u: input: ",
                                c->index);
        return false;
    }
    warn_reportf_err(err, "xen-displfront '%s': connector %u goes without "
                     "input: ", xdf_id(c->s), c->index);
    xdf_bus_close(xb);
    xb->ops = NULL;
    return true;
}

/* The toolstack wrote the vkbd device this connector waited for. */
static void xdf_input_claimed(XdfXenbus *xb)
{
    XdfConnector *c = xb->opaque;
    Error *local_err = NULL;
    bool ok = xdf_bus_watch(xb, &local_err);

    if (!xdf_input_check(c, ok, local_err, &local_err)) {
        error_prepend(&local_err, "xen-displfront '%s': ", xdf_id(c->s));
        error_report_err(local_err);
        xdf_bus_close(xb);
    }
}

/*
 * Input makes the backend the guest's keyboard and pointer.  A display
 * backend is trusted with pixels, not with that: with input=auto only a
 * backend in dom0 (which can do anything to the guest anyway) or in
 * QEMU's own domain gets input; one in a driver domain needs input=on.
 */
static bool xdf_input_trusted(XenDisplFront *s)
{
    if (s->input != ON_OFF_AUTO_AUTO) {
        return s->input == ON_OFF_AUTO_ON;
    }
    if (s->backend_domid == 0 || s->backend_domid == s->own_domid) {
        return true;
    }
    info_report("xen-displfront '%s': no input for backend domain %" PRIu32
                ": by default only a backend in dom0 or in QEMU's own domain "
                "gets the guest's keyboard and pointer (input=on trusts this "
                "one, input=off says so)", xdf_id(s), s->backend_domid);
    return false;
}

/*
 * Is the frontend domain a device model's stub domain (libxl wrote its
 * "target")?  Then it may not write its own device directories, nor
 * dom0's backend ones: dom0's toolstack writes them, and the device takes
 * them, waiting for them if need be.
 */
static bool xdf_stub_domain(XenDisplFront *s)
{
    g_autofree char *target = xs_node_read(s->xsh, XBT_NULL, NULL, NULL,
                                           "/local/domain/%" PRIu32 "/target",
                                           s->frontend_domid);

    return target != NULL;
}

/*
 * Claim a vdispl device: write the nodes, or take what a toolstack
 * wrote, with our owner record.  In a stub domain only the latter, and
 * s->bus.waiting says when there is none yet.
 */
static bool xdf_claim(XenDisplFront *s, Error **errp)
{
    s->bus.s = s;
    s->bus.ops = &xdf_vdispl_ops;
    s->bus.be_driver = XENDISPL_DRIVER_NAME;
    s->bus.opaque = s;
    s->bus.adopt_only = xdf_stub_domain(s);
    s->bus.waiting_for = g_strdup("a vdispl device");
    return xdf_bus_claim(&s->bus, errp);
}

/*
 * The vdispl device is ours: the connectors its directory describes,
 * and with input a vkbd device for each, linked by its input id (in a
 * stub domain the toolstack's, or, while it has none, waited for).
 */
static bool xdf_claim_connectors(XenDisplFront *s, Error **errp)
{
    Error *local_err = NULL;
    bool input = xdf_input_trusted(s);
    unsigned int i;
    bool ok;

    g_free(s->dev_id_prop);
    s->dev_id_prop = g_strdup_printf("%" PRIu32, s->bus.dev_id);
    if (!s->bus.wrote_nodes) {
        /* a toolstack set it up (xl.cfg vdispl=): it rules */
        if (!xdf_read_nodes(s, errp)) {
            return false;
        }
    } else {
        xdf_connectors_new(s, s->connectors);
    }
    for (i = 0; i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];
        bool given = s->input_ids && i < g_strv_length(s->input_ids);

        c->input_id = g_strdup(given ? s->input_ids[i] : c->unique_id);
    }
    for (i = 0; input && i < s->nr_connectors; i++) {
        XdfXenbus *xb = &s->conn[i].input.bus;

        xb->s = s;
        xb->ops = &xdf_input_ops;
        xb->be_driver = s->input_backend ? s->input_backend : "vinput";
        xb->opaque = &s->conn[i];
        xb->dev_id_auto = true;
        xb->adopt_only = s->bus.adopt_only;
        xb->waiting_for = g_strdup_printf("connector %u's vkbd device (its "
                                          "backend's unique-id '%s')", i,
                                          s->conn[i].input_id);
        xb->on_claim = xdf_input_claimed;
        ok = xdf_bus_claim(xb, &local_err) &&
             (!xb->waiting || xdf_bus_wait(xb, &local_err));
        if (!xdf_input_check(&s->conn[i], ok, local_err, errp)) {
            return false;
        }
        local_err = NULL;
    }
    return true;
}

/* Follow each connector's console; one device per console. */
static bool xdf_bind_consoles(XenDisplFront *s, Error **errp)
{
    XenDisplFront *other;
    unsigned int i, j;

    for (i = 0; i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];

        c->con = xdf_find_console(s, i, errp);
        if (!c->con) {
            return false;
        }
        QLIST_FOREACH(other, &xdf_devices, next) {
            for (j = 0; other != s && j < other->nr_connectors; j++) {
                if (other->conn[j].con == c->con) {
                    error_setg(errp, "console %d is already followed by "
                               "xen-displfront '%s'",
                               qemu_console_get_index(c->con),
                               xdf_id(other));
                    return false;
                }
            }
        }
    }
    for (i = 0; i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];

        c->frame_timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_frame_timeout,
                                      c);
        c->dcl.ops = &xdf_dcl_ops;
        c->dcl.con = c->con;
        c->refresh_us = XDF_REFRESH_US;
        c->interval_ms = c->refresh_us / 1000;
        c->dcl.update_interval = c->interval_ms;
        register_displaychangelistener(&c->dcl);
        c->dcl_registered = true;
    }
    return true;
}

/* Let each device's backend drive it from now on. */
static bool xdf_watch_backend(XenDisplFront *s, Error **errp)
{
    unsigned int i;

    qemu_set_fd_handler(qemu_xen_evtchn_fd(s->xeh), xdf_evtchn_handler, NULL,
                        s);
    if (!xdf_bus_watch(&s->bus, errp)) {
        return false;
    }
    for (i = 0; i < s->nr_connectors; i++) {
        XdfXenbus *xb = &s->conn[i].input.bus;
        Error *local_err = NULL;
        bool ok;

        if (!xb->ops || xb->waiting) {
            continue;
        }
        ok = xdf_bus_watch(xb, &local_err);
        if (!xdf_input_check(&s->conn[i], ok, local_err, errp)) {
            return false;
        }
    }
    return true;
}

/*
 * The vdispl device is ours: its connectors, each following its console,
 * each device driven by its backend from now on.  The consoles are bound
 * after the claim: a toolstack's directory says how many connectors
 * there are.
 */
static bool xdf_start(XenDisplFront *s, Error **errp)
{
    if (!xdf_claim_connectors(s, errp) ||  /* from the directory; vkbds */
        !xdf_bind_consoles(s, errp) ||     /* each connector's console */
        !xdf_watch_backend(s, errp)) {     /* Initialising: state machine */
        return false;
    }
    trace_xen_displfront_realize(xdf_id(s),
                                 qemu_console_get_index(s->conn[0].con),
                                 s->head, s->nr_connectors,
                                 s->conn[0].width, s->conn[0].height,
                                 s->frontend_domid, s->backend_domid,
                                 s->bus.dev_id);
    return true;
}

/*
 * Undo what realize did, whichever step it reached, in the reverse
 * order: on a failed realize, on unplug and when QEMU quits.  Each
 * connection is closed as displif.h wants it (Closing, then Closed) and
 * only the nodes we own are removed.
 */
static void xdf_teardown(XenDisplFront *s)
{
    unsigned int i;

    if (!s->xsh) {
        return;                 /* never opened, or torn down already */
    }
    if (s->xeh) {
        qemu_set_fd_handler(qemu_xen_evtchn_fd(s->xeh), NULL, NULL, NULL);
    }
    for (i = 0; s->conn && i < s->nr_connectors; i++) {
        if (s->conn[i].input.bus.ops) {
            xdf_bus_close(&s->conn[i].input.bus);
        }
    }
    xdf_bus_close(&s->bus);
    for (i = 0; s->conn && i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];

        if (c->dcl_registered) {
            unregister_displaychangelistener(&c->dcl);
            c->dcl_registered = false;
        }
        g_clear_pointer(&c->frame_timer, timer_free);
    }
    if (s->xgs) {
        qemu_xen_gntshr_close(s->xgs);
        s->xgs = NULL;
    }
    if (s->xgt) {
        qemu_xen_gnttab_close(s->xgt);
        s->xgt = NULL;
    }
    if (s->xeh) {
        qemu_xen_evtchn_close(s->xeh);
        s->xeh = NULL;
    }
    if (s->xsh) {
        qemu_xen_xs_close(s->xsh);
        s->xsh = NULL;
    }
}

/*
 * The VM runs again (cont, or a migration came in): flip what changed,
 * release the keys let go of meanwhile.
 */
static void xdf_vm_state_change(void *opaque, bool running, RunState state)
{
    XenDisplFront *s = opaque;
    unsigned int i;

    for (i = 0; running && i < s->nr_connectors; i++) {
        xdf_refresh_now(&s->conn[i]);
        xdf_input_resync(&s->conn[i]);
    }
}

static void xdf_exit_notify(Notifier *n, void *data)
{
    xdf_teardown(container_of(n, XenDisplFront, exit_notifier));
}

static void xdf_give_up(void *opaque)
{
    xdf_teardown(opaque);
}

/*
 * The toolstack wrote the vdispl device we waited for: go on as realize
 * would have.  A failure now cannot fail realize: say it, and let go --
 * in a bottom half: this runs in a XenStore watch, whose handle the
 * teardown closes.
 */
static void xdf_vdispl_claimed(XdfXenbus *xb)
{
    XenDisplFront *s = xb->s;
    Error *local_err = NULL;

    if (!xdf_start(s, &local_err)) {
        error_prepend(&local_err, "xen-displfront '%s': ", xdf_id(s));
        error_report_err(local_err);
        qemu_bh_schedule(s->give_up);
    }
}

/*
 * The card of the first connector is checked with the properties, before
 * anything is asked of Xen.  In a stub domain whose toolstack has not
 * written the vdispl device yet, the device waits for it (xdf_start()
 * then runs from xdf_vdispl_claimed()).
 */
static void xdf_realize(DeviceState *dev, Error **errp)
{
    XenDisplFront *s = XEN_DISPLFRONT(dev);

    s->bus.on_claim = xdf_vdispl_claimed;
    s->give_up = qemu_bh_new(xdf_give_up, s);
    if (!xdf_check_config(s, errp) ||      /* properties; the card exists */
        !xdf_open_xen(s, errp) ||          /* handles; the frontend domain */
        !xdf_claim(s, errp) ||             /* a dev-id and its nodes */
        (s->bus.waiting ? !xdf_bus_wait(&s->bus, errp) :
                          !xdf_start(s, errp))) {
        xdf_teardown(s);
        g_clear_pointer(&s->give_up, qemu_bh_delete);
        return;
    }
    QLIST_INSERT_HEAD(&xdf_devices, s, next);
    s->exit_notifier.notify = xdf_exit_notify;
    qemu_add_exit_notifier(&s->exit_notifier);
    s->vm_state = qemu_add_vm_change_state_handler(xdf_vm_state_change, s);
}

static void xdf_unrealize(DeviceState *dev)
{
    XenDisplFront *s = XEN_DISPLFRONT(dev);

    qemu_remove_exit_notifier(&s->exit_notifier);
    qemu_del_vm_change_state_handler(s->vm_state);
    QLIST_REMOVE(s, next);
    xdf_teardown(s);
    g_clear_pointer(&s->give_up, qemu_bh_delete);
}

static void xdf_finalize(Object *obj)
{
    XenDisplFront *s = XEN_DISPLFRONT(obj);
    unsigned int i, j;

    for (i = 0; s->conn && i < s->nr_connectors; i++) {
        pixman_region32_fini(&s->conn[i].damage);
        for (j = 0; j < XDF_NR_BUFFERS; j++) {
            pixman_region32_fini(&s->conn[i].buf[j].stale);
        }
        xdf_fit_free(&s->conn[i].fit);
        xdf_bus_free(&s->conn[i].input.bus);
        g_free(s->conn[i].unique_id);
        g_free(s->conn[i].input_id);
    }
    g_free(s->conn);
    g_strfreev(s->unique_ids);
    g_strfreev(s->input_ids);
    xdf_bus_free(&s->bus);
}

/* A device's XenBus state, or "waiting" for the toolstack's directory. */
static const char *xdf_bus_state_name(XdfXenbus *xb)
{
    return xb->waiting ? "waiting" : xs_strstate(xb->state);
}

static char *xdf_get_state(Object *obj, Error **errp)
{
    return g_strdup(xdf_bus_state_name(&XEN_DISPLFRONT(obj)->bus));
}

/* Each connector's vkbd state, ',' between them; "none" without input. */
static char *xdf_get_input_state(Object *obj, Error **errp)
{
    XenDisplFront *s = XEN_DISPLFRONT(obj);
    g_autoptr(GString) str = g_string_new(NULL);
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        XdfXenbus *xb = &s->conn[i].input.bus;

        g_string_append_printf(str, "%s%s", i ? "," : "",
                               xb->ops ? xdf_bus_state_name(xb) : "none");
    }
    return g_string_free(g_steal_pointer(&str), false);
}

/*
 * Migration.  The connection cannot move: its grants, ports and XenStore
 * nodes belong to this QEMU.  So the destination's device claims its own
 * directory and connects when it is realized, and flips the card's
 * picture (which migrates with the card) as soon as the migrated VM
 * runs; the source's keeps its connection, showing the last frame,
 * until it quits or is unplugged, then leaves and removes its nodes.
 *
 * What does move is what the guest holds: a key, button or contact down
 * at the switch-over (or at xl save) would stay down in the destination's
 * guest, whose device never saw it go down.  A subsection carries them
 * when there are any, and the destination lets each go when the VM
 * runs (xdf_input_resync()).
 */
static bool xdf_held_needed(void *opaque)
{
    XenDisplFront *s = opaque;
    unsigned int i, j;

    for (i = 0; i < s->nr_connectors; i++) {
        XdfInput *in = &s->conn[i].input;

        if (!bitmap_empty(in->down, KBDIF_KEY_MAX + 1)) {
            return true;
        }
        for (j = 0; j < INPUT_EVENT_SLOTS_MAX; j++) {
            if (in->slots[j].tracking_id >= 0) {
                return true;
            }
        }
    }
    return false;
}

static int xdf_held_pre_save(void *opaque)
{
    XenDisplFront *s = opaque;
    unsigned long code;
    unsigned int i, j;

    memset(s->mig_held, 0, sizeof(s->mig_held));
    s->mig_connectors = MIN(s->nr_connectors, XDF_MAX_CONNECTORS);
    for (i = 0; i < s->mig_connectors; i++) {
        XdfInput *in = &s->conn[i].input;
        XdfHeld *h = &s->mig_held[i];

        for (code = find_first_bit(in->down, KBDIF_KEY_MAX + 1);
             code <= KBDIF_KEY_MAX;
             code = find_next_bit(in->down, KBDIF_KEY_MAX + 1, code + 1)) {
            h->keys[code / 32] |= 1u << (code % 32);
        }
        for (j = 0; j < INPUT_EVENT_SLOTS_MAX; j++) {
            h->touch_id[j] = in->slots[j].tracking_id;
            h->touch_x[j] = in->slots[j].x;
            h->touch_y[j] = in->slots[j].y;
        }
    }
    return 0;
}

static int xdf_held_post_load(void *opaque, int version_id)
{
    XenDisplFront *s = opaque;
    unsigned int i, j, code;

    for (i = 0; i < MIN(s->mig_connectors, s->nr_connectors); i++) {
        XdfInput *in = &s->conn[i].input;
        XdfHeld *h = &s->mig_held[i];

        for (code = 0; code <= KBDIF_KEY_MAX; code++) {
            if (h->keys[code / 32] & (1u << (code % 32))) {
                set_bit(code, in->down);
            }
        }
        for (j = 0; j < INPUT_EVENT_SLOTS_MAX; j++) {
            if (h->touch_id[j] >= 0 && in->slots[j].tracking_id < 0) {
                in->slots[j].tracking_id = j;
                in->slots[j].x = h->touch_x[j];
                in->slots[j].y = h->touch_y[j];
                in->migrated_touch |= BIT(j);
            }
        }
    }
    return 0;
}

static const VMStateDescription xdf_vmstate_held_connector = {
    .name = TYPE_XEN_DISPLFRONT "/held-connector",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_ARRAY(keys, XdfHeld, (KBDIF_KEY_MAX + 1) / 32),
        VMSTATE_INT32_ARRAY(touch_id, XdfHeld, INPUT_EVENT_SLOTS_MAX),
        VMSTATE_INT32_ARRAY(touch_x, XdfHeld, INPUT_EVENT_SLOTS_MAX),
        VMSTATE_INT32_ARRAY(touch_y, XdfHeld, INPUT_EVENT_SLOTS_MAX),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription xdf_vmstate_held = {
    .name = TYPE_XEN_DISPLFRONT "/held",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = xdf_held_needed,
    .pre_save = xdf_held_pre_save,
    .post_load = xdf_held_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mig_connectors, XenDisplFront),
        VMSTATE_STRUCT_ARRAY(mig_held, XenDisplFront, XDF_MAX_CONNECTORS, 1,
                             xdf_vmstate_held_connector, XdfHeld),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription xdf_vmstate = {
    .name = TYPE_XEN_DISPLFRONT,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &xdf_vmstate_held,
        NULL
    },
};

static const Property xdf_properties[] = {
    DEFINE_PROP_STRING("display", XenDisplFront, display),
    DEFINE_PROP_UINT32("head", XenDisplFront, head, 0),
    DEFINE_PROP_UINT32("backend-domid", XenDisplFront, backend_domid, 0),
    DEFINE_PROP_UINT32("frontend-domid", XenDisplFront, frontend_domid,
                       DOMID_SELF),
    DEFINE_PROP_STRING("dev-id", XenDisplFront, dev_id_prop),
    DEFINE_PROP_STRING("resolution", XenDisplFront, resolution),
    DEFINE_PROP_STRING("unique-id", XenDisplFront, unique_id),
    DEFINE_PROP_STRING("input-id", XenDisplFront, input_id),
    DEFINE_PROP_STRING("input-backend", XenDisplFront, input_backend),
    DEFINE_PROP_STRING("fit", XenDisplFront, fit),
    DEFINE_PROP_BOOL("be-alloc", XenDisplFront, be_alloc, false),
    DEFINE_PROP_ON_OFF_AUTO("input", XenDisplFront, input, ON_OFF_AUTO_AUTO),
    DEFINE_PROP_BOOL("input-system-keys", XenDisplFront, input_system_keys,
                     false),
    DEFINE_PROP_UINT32("connectors", XenDisplFront, connectors, 1),
    DEFINE_PROP_UINT32("req-timeout-ms", XenDisplFront, req_timeout_ms,
                       XDF_REQ_TIMEOUT_MS),
};

static void xdf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "Xen displif frontend for an emulated card";
    dc->realize = xdf_realize;
    dc->unrealize = xdf_unrealize;
    dc->vmsd = &xdf_vmstate;
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
    device_class_set_props(dc, xdf_properties);

    object_class_property_add_str(klass, "state", xdf_get_state,
                                  NULL);
    object_class_property_set_description(klass, "state",
        "XenBus state of the frontend");
    object_class_property_add_str(klass, "input-state", xdf_get_input_state,
                                  NULL);
    object_class_property_set_description(klass, "input-state",
        "XenBus state of each connector's vkbd frontend, ',' between them "
        "(none: no input)");
    object_class_property_set_description(klass, "display",
        "id of the emulated card to follow (default: first graphic console)");
    object_class_property_set_description(klass, "head",
        "head of that card");
    object_class_property_set_description(klass, "backend-domid",
        "domain of the displif backend");
    object_class_property_set_description(klass, "frontend-domid",
        "domain the frontend belongs to; 32752 (DOMID_SELF): QEMU's own");
    object_class_property_set_description(klass, "dev-id",
        "vdispl device index in XenStore: 'auto' (default, the lowest free "
        "one) or a number; once realized, the index in use");
    object_class_property_set_description(klass, "resolution",
        "connector resolution WIDTHxHEIGHT (default: "
        XDF_DEFAULT_RESOLUTION ")");
    object_class_property_set_description(klass, "unique-id",
        "each connector's unique-id for the backend, '|' between them "
        "(default: <qdev id>-<dev-id>-<connector>)");
    object_class_property_set_description(klass, "input-id",
        "each connector's vkbd unique-id, '|' between them (default: the "
        "connector's unique-id; displ_be: K:<id>;P:<id>;T:<id>)");
    object_class_property_set_description(klass, "input-backend",
        "where the vkbd backend directories go: vinput (default, as libxl "
        "for a userspace backend such as displ_be) or vkbd");
    object_class_property_set_description(klass, "fit",
        "how the guest's picture fills the connector: scale (default: "
        "aspect kept, centred), center (1:1, centred) or crop (1:1, top "
        "left)");
    object_class_property_set_description(klass, "be-alloc",
        "let the backend allocate display buffers");
    object_class_property_set_description(klass, "input",
        "a kbdif (vkbd) frontend per connector: the backend's keyboard and "
        "pointer reach the guest's emulated input devices; auto (default): "
        "only for a backend in dom0 or QEMU's own domain, and a connector "
        "whose vkbd cannot be had goes without; on: any backend, and no "
        "vkbd is an error");
    object_class_property_set_description(klass, "input-system-keys",
        "let the backend press power, sleep, wake-up and SysRq (Print "
        "Screen) in the guest (default: off, they are dropped)");
    object_class_property_set_description(klass, "connectors",
        "number of connectors; connector i shows head (head + i)");
    object_class_property_set_description(klass, "req-timeout-ms",
        "how long the backend has to answer a request, in ms");
}

static const TypeInfo xdf_info = {
    .name = TYPE_XEN_DISPLFRONT,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(XenDisplFront),
    .instance_finalize = xdf_finalize,
    .class_init = xdf_class_init,
};

static void xdf_register_types(void)
{
    type_register_static(&xdf_info);
}

type_init(xdf_register_types)
