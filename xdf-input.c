/*
 * xen-displfront: input, a connector's kbdif (vkbd) device (see
 * xdf-input.h)
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "system/runstate.h"
#include "ui/console.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "displif-proto.h"
#include "xdf-input.h"

#define XDF_INPUT_MAX_WHEEL     16      /* wheel steps one event may make */
#define XDF_INPUT_MAX_REL       4096    /* pixels one motion event may move */

/* Events into QEMU's input layer ----------------------------------------- */

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
static bool xdf_input_send(XdfInput *in, uint32_t code, bool down)
{
    int qcode;

    if (code >= KBDIF_BTN_LEFT && code <= KBDIF_BTN_EXTRA) {
        trace_xen_displfront_input_button(in->bus.x->id, in->conn->index, code,
                                          down);
        qemu_input_queue_btn(in->conn->con, xdf_input_button(code), down);
        qemu_input_event_sync();
        return true;
    }
    qcode = qemu_input_linux_to_qcode(code);
    trace_xen_displfront_input_key(in->bus.x->id, in->conn->index, code, qcode,
                                   down);
    if (qcode == Q_KEY_CODE_UNMAPPED) {
        return false;           /* a code no emulated keyboard has */
    }
    if (!in->system_keys && xdf_input_system_key(qcode)) {
        if (!in->said_system_key) {
            xdf_report(in->bus.x, XDF_WARN, "connector %u: dropping the "
                       "backend's system key '%s' (power, sleep, wake-up and "
                       "SysRq reach the guest only with "
                       "input-system-keys=on)", in->conn->index,
                       QKeyCode_str(qcode));
            in->said_system_key = true;
        }
        return false;
    }
    qemu_input_event_send_key_qcode(in->conn->con, qcode, down);
    return true;
}

/* Multi-touch contact @i goes up in the guest, if it is down. */
static void xdf_input_touch_up(XdfInput *in, unsigned int i)
{
    touch_slot *slot = &in->slots[i];

    if (slot->tracking_id >= 0 && in->conn->fit.src_w) {
        trace_xen_displfront_input_touch(in->bus.x->id, in->conn->index, i,
                                         XENKBD_MT_EV_UP, slot->x, slot->y);
        console_handle_touch_event(in->conn->con, in->slots, i,
                                   in->conn->fit.src_w, in->conn->fit.src_h,
                                   slot->x, slot->y,
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
void xdf_input_resync(XdfInput *in)
{
    unsigned long code;
    unsigned int i;

    if (!runstate_is_running()) {
        return;
    }
    for (code = find_first_bit(in->down, KBDIF_KEY_MAX + 1);
         code <= KBDIF_KEY_MAX;
         code = find_next_bit(in->down, KBDIF_KEY_MAX + 1, code + 1)) {
        if (!test_bit(code, in->held)) {
            xdf_input_send(in, code, false);
            clear_bit(code, in->down);
        }
    }
    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        if (in->migrated_touch & BIT(i)) {
            xdf_input_touch_up(in, i);
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
static bool xdf_input_key(XdfInput *in, uint32_t code, bool down)
{

    if (down) {
        set_bit(code, in->held);
    } else {
        clear_bit(code, in->held);
    }
    if (!runstate_is_running() || !xdf_input_send(in, code, down)) {
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
static void xdf_input_wheel(XdfInput *in, int32_t z)
{
    InputButton b = z > 0 ? INPUT_BUTTON_WHEEL_DOWN : INPUT_BUTTON_WHEEL_UP;
    int64_t i, n = MIN(ABS((int64_t)z), XDF_INPUT_MAX_WHEEL);

    for (i = 0; i < n; i++) {
        qemu_input_queue_btn(in->conn->con, b, true);
        qemu_input_event_sync();
        qemu_input_queue_btn(in->conn->con, b, false);
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
static bool xdf_input_guest_pixel(XdfInput *in, int32_t x, int32_t y,
                                  uint32_t area_w, uint32_t area_h,
                                  uint32_t *gx, uint32_t *gy)
{
    const XdfFit *f = &in->conn->fit;
    uint32_t cx, cy;

    if (!f->src_w || !f->src_h) {
        return false;           /* no picture: nowhere to point */
    }
    cx = (uint64_t)x * in->conn->width / area_w;
    cy = (uint64_t)y * in->conn->height / area_h;
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
static bool xdf_input_position(XdfInput *in, int32_t x, int32_t y)
{
    const XdfFit *f = &in->conn->fit;
    uint32_t gx, gy;

    if (!xdf_input_guest_pixel(in, x, y, in->area_w, in->area_h, &gx, &gy)) {
        return false;
    }
    trace_xen_displfront_input_abs(in->bus.x->id, in->conn->index, x, y, gx, gy,
                                   f->src_w, f->src_h);
    if (qemu_input_is_absolute(in->conn->con)) {
        qemu_input_queue_abs(in->conn->con, INPUT_AXIS_X, gx, 0, f->src_w);
        qemu_input_queue_abs(in->conn->con, INPUT_AXIS_Y, gy, 0, f->src_h);
    } else {
        if (!in->said_relative) {
            xdf_report(in->bus.x, XDF_WARN, "connector %u: the guest has no "
                       "absolute pointing device: pointer moves reach it as "
                       "relative motion (add -device usb-tablet or "
                       "virtio-tablet-pci for exact positions)",
                       in->conn->index);
            in->said_relative = true;
        }
        if (in->have_pos) {
            qemu_input_queue_rel(in->conn->con, INPUT_AXIS_X,
                                 (int64_t)gx - in->gx);
            qemu_input_queue_rel(in->conn->con, INPUT_AXIS_Y,
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
static bool xdf_input_touch(XdfInput *in, struct xenkbd_mtouch *mt)
{
    static const InputMultiTouchType types[] = {
        [XENKBD_MT_EV_DOWN] = INPUT_MULTI_TOUCH_TYPE_BEGIN,
        [XENKBD_MT_EV_UP] = INPUT_MULTI_TOUCH_TYPE_END,
        [XENKBD_MT_EV_MOTION] = INPUT_MULTI_TOUCH_TYPE_UPDATE,
    };
    touch_slot *slot = &in->slots[mt->contact_id];
    Error *local_err = NULL;
    uint32_t gx = slot->x, gy = slot->y;

    if (mt->event_type != XENKBD_MT_EV_UP &&
        !xdf_input_guest_pixel(in, mt->u.pos.abs_x, mt->u.pos.abs_y,
                               in->touch_w, in->touch_h, &gx, &gy)) {
        return false;
    }
    if (mt->event_type != XENKBD_MT_EV_DOWN && slot->tracking_id < 0) {
        return false;           /* not down (or down before we came) */
    }
    in->migrated_touch &= ~BIT(mt->contact_id);    /* the backend's now */
    trace_xen_displfront_input_touch(in->bus.x->id, in->conn->index,
                                     mt->contact_id, mt->event_type, gx, gy);
    console_handle_touch_event(in->conn->con, in->slots, mt->contact_id,
                               in->conn->fit.src_w, in->conn->fit.src_h,
                               gx, gy, types[mt->event_type], &local_err);
    /* contact ids are checked against the slots: it cannot fail */
    error_free(local_err);
    return true;
}

/* Every contact still down goes up. */
static void xdf_input_touch_end(XdfInput *in)
{
    unsigned int i;

    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        xdf_input_touch_up(in, i);
    }
    in->migrated_touch = 0;
}

/*
 * One event from the backend (its events' XdfEventFn): whether the guest
 * got something of it (see XdfChannel).  One that breaks kbdif costs the
 * connection.
 */
static bool xdf_input_event(void *opaque, void *data)
{
    union xenkbd_in_event *evt = data;
    XdfInput *in = opaque;
    uint32_t code = 0;
    bool done;

    switch (kbdif_check_event(evt, in->area_w, in->area_h, &code)) {
    case KBDIF_INPUT_KEY:
    case KBDIF_INPUT_BUTTON:
        return xdf_input_key(in, code, evt->key.pressed);
    case KBDIF_INPUT_MOTION:
        trace_xen_displfront_input_rel(in->bus.x->id, in->conn->index,
                                       evt->motion.rel_x, evt->motion.rel_y,
                                       evt->motion.rel_z);
        qemu_input_queue_rel(in->conn->con, INPUT_AXIS_X,
                             xdf_input_clamp_rel(evt->motion.rel_x));
        qemu_input_queue_rel(in->conn->con, INPUT_AXIS_Y,
                             xdf_input_clamp_rel(evt->motion.rel_y));
        qemu_input_event_sync();
        xdf_input_wheel(in, evt->motion.rel_z);
        in->have_pos = false;
        return true;
    case KBDIF_INPUT_POS:
        done = xdf_input_position(in, evt->pos.abs_x, evt->pos.abs_y);
        qemu_input_event_sync();
        xdf_input_wheel(in, evt->pos.rel_z);
        return done || evt->pos.rel_z;
    case KBDIF_INPUT_TOUCH:
        if (!in->touch) {
            trace_xen_displfront_input_ignored(in->bus.x->id, in->conn->index,
                                               evt->type, 0);
            return false;       /* not asked for */
        }
        switch (kbdif_check_touch(evt, in->touch_w, in->touch_h,
                                  in->contacts)) {
        case KBDIF_INPUT_TOUCH:
            return xdf_input_touch(in, &evt->mtouch);
        case KBDIF_INPUT_BAD:
            xdf_events_fail(&in->events, "multi-touch contact %u is past "
                            "the %" PRIu32 " contacts of the touch area",
                            evt->mtouch.contact_id, in->contacts);
            return false;
        default:
            trace_xen_displfront_input_ignored(in->bus.x->id, in->conn->index,
                                               evt->type,
                                               evt->mtouch.event_type);
            return false;
        }
    case KBDIF_INPUT_IGNORED:
        trace_xen_displfront_input_ignored(in->bus.x->id, in->conn->index,
                                           evt->type, code);
        return false;
    case KBDIF_INPUT_BAD:
    default:
        if (evt->type == XENKBD_TYPE_KEY) {
            xdf_events_fail(&in->events, "key code %" PRIu32 " is beyond "
                            "KEY_MAX (%d)", code, KBDIF_KEY_MAX);
        } else {
            xdf_events_fail(&in->events, "event type %u is not valid here",
                            evt->type);
        }
        return false;
    }
}

/* The vkbd device -------------------------------------------------------- */

/*
 * The input's failure: a backend that breaks kbdif costs the input
 * connection, never QEMU, the guest or the display.
 */
static void xdf_input_broken(void *opaque, const char *msg)
{
    XdfInput *in = opaque;

    xdf_report(in->bus.x, XDF_ERROR, "connector %u: input (%s): %s; closing "
               "its connection to backend domain %" PRIu32, in->conn->index,
               in->bus.name, msg, in->bus.x->backend_domid);
    xdf_xenbus_failed(&in->bus, msg);
}

/* The backend directory's unique-id links the vkbd to its connector. */
static void xdf_input_be_nodes_txn(XdfXenbus *xb, xs_transaction_t t,
                                   Error **errp)
{
    XdfInput *in = xb->opaque;

    xdf_xs_printf(xb->x->xsh, t, xb->be_path, XENKBD_FIELD_UNIQUE_ID, errp,
                  "%s", in->id);
}

/*
 * A toolstack's vkbd (xl.cfg vkb=) is this connector's if its backend
 * directory names the connector's unique-id; we can serve it if that
 * directory is backend-domid's.
 */
static XdfAdopt xdf_input_adopt_txn(XdfXenbus *xb, xs_transaction_t t,
                                    const char *fe, uint32_t idx, char **why)
{
    XdfInput *in = xb->opaque;
    struct qemu_xs_handle *h = xb->x->xsh;
    g_autofree char *be = xs_node_read(h, t, NULL, NULL, "%s/backend", fe);
    g_autofree char *id = NULL;

    if (be) {
        id = xs_node_read(h, t, NULL, NULL, "%s/%s", be,
                          XENKBD_FIELD_UNIQUE_ID);
    }
    if (!id || strcmp(id, in->id)) {
        return XDF_ADOPT_OTHER;
    }
    return xdf_toolstack_backend(xb, fe, be, idx, why) ? XDF_ADOPT_YES :
                                                          XDF_ADOPT_NO;
}

static void xdf_input_publish_txn(XdfXenbus *xb, xs_transaction_t t,
                                  Error **errp)
{
    XdfInput *in = xb->opaque;
    struct qemu_xs_handle *h = xb->x->xsh;

    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_REQ_ABS_POINTER, errp,
                  "%d", in->abs);
    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_REQ_MTOUCH, errp, "%d",
                  in->touch);
    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_RING_GREF, errp,
                  "%" PRIu32, in->events.ref);
    xdf_xs_printf(h, t, xb->fe_path, XENKBD_FIELD_EVT_CHANNEL, errp, "%d",
                  in->events.ch.port);
}

/* The backend's unsigned node @key, if it is there and 1 to @max. */
static bool xdf_read_be_uint(XdfXenbus *xb, const char *key, uint32_t max,
                             uint32_t *val)
{
    uint32_t v;

    if (xs_node_scanf(xb->x->xsh, XBT_NULL, xb->be_path, key, NULL,
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
    XdfInput *in = xb->opaque;
    uint32_t feature = 0;

    in->abs = xdf_read_be_uint(xb, XENKBD_FIELD_FEAT_ABS_POINTER, 1,
                               &feature);
    in->area_w = in->conn->width;
    in->area_h = in->conn->height;
    xdf_read_be_uint(xb, XENKBD_FIELD_WIDTH, INT32_MAX, &in->area_w);
    xdf_read_be_uint(xb, XENKBD_FIELD_HEIGHT, INT32_MAX, &in->area_h);
    in->have_pos = false;
    /* multi-touch: as many contacts as QEMU has slots, at most */
    feature = 0;
    in->touch = xdf_read_be_uint(xb, XENKBD_FIELD_FEAT_MTOUCH, 1, &feature);
    in->touch_w = in->conn->width;
    in->touch_h = in->conn->height;
    in->contacts = INPUT_EVENT_SLOTS_MAX;
    xdf_read_be_uint(xb, XENKBD_FIELD_MT_WIDTH, INT32_MAX, &in->touch_w);
    xdf_read_be_uint(xb, XENKBD_FIELD_MT_HEIGHT, INT32_MAX, &in->touch_h);
    xdf_read_be_uint(xb, XENKBD_FIELD_MT_NUM_CONTACTS, INPUT_EVENT_SLOTS_MAX,
                     &in->contacts);

    if (!xdf_events_open(&in->events, xb->x, "input", in->conn->index,
                         &kbdif_event_page, xdf_input_event,
                         xdf_input_broken, in, errp)) {
        return false;
    }
    trace_xen_displfront_input_connect(xb->x->id, in->conn->index, xb->name,
                                       in->events.ref, in->events.ch.port,
                                       in->abs, in->area_w, in->area_h,
                                       in->touch, in->contacts);
    return xdf_xs_transaction(xb, xdf_input_publish_txn,
                              "publish the input page", errp);
}

static void xdf_input_connected(XdfXenbus *xb)
{
    XdfInput *in = xb->opaque;

    in->connected = true;
}

/* Keys still down go up; the page and port go back. */
static bool xdf_input_disconnect(XdfXenbus *xb)
{
    XdfInput *in = xb->opaque;
    bool worked = in->connected;

    bitmap_zero(in->held, KBDIF_KEY_MAX + 1);
    xdf_input_resync(in);
    xdf_input_touch_end(in);
    in->connected = false;
    xdf_events_close(&in->events);
    return worked;
}

/*
 * A connector's vkbd could (@ok) or could not be claimed or watched
 * (@err says why).  input=on makes that an error; with input=auto the
 * connector goes on without input -- a domain that may not write the
 * backend's directory, every index taken -- and says so once.
 */
static bool xdf_input_check(XdfInput *in, bool ok, Error *err, Error **errp)
{
    if (ok) {
        return true;
    }
    if (in->required) {
        error_propagate_prepend(errp, err, "connector %u: input: ",
                                in->conn->index);
        return false;
    }
    error_prepend(&err, "connector %u goes without input: ",
                  in->conn->index);
    xdf_report_err(in->bus.x, XDF_WARN, err);
    xdf_xenbus_close(&in->bus);
    in->bus.ops = NULL;
    return true;
}

/* The toolstack wrote the vkbd device this connector waited for. */
static void xdf_input_claimed(XdfXenbus *xb)
{
    XdfInput *in = xb->opaque;
    Error *local_err = NULL;
    bool ok = xdf_xenbus_watch(xb, &local_err);

    if (!xdf_input_check(in, ok, local_err, &local_err)) {
        xdf_report_err(xb->x, XDF_ERROR, local_err);
        xdf_xenbus_close(xb);
    }
}

static const XdfXenbusOps xdf_input_ops = {
    .driver = XENKBD_DRIVER_NAME,
    .be_drivers = (const char *const []) { "vinput", XENKBD_DRIVER_NAME,
                                           NULL },
    .be_nodes_txn = xdf_input_be_nodes_txn,
    .adopt_txn = xdf_input_adopt_txn,
    .claimed = xdf_input_claimed,
    .connect = xdf_input_connect,
    .connected = xdf_input_connected,
    .disconnect = xdf_input_disconnect,
};

/* The device's life ------------------------------------------------------ */

void xdf_input_init(XdfInput *in, XdfXen *x, const XdfConnector *conn,
                    const char *id, const char *be_driver, bool adopt_only,
                    bool required, bool system_keys)
{
    XdfXenbus *xb = &in->bus;
    unsigned int i;

    in->conn = conn;
    in->id = g_strdup(id);
    in->required = required;
    in->system_keys = system_keys;
    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        in->slots[i].tracking_id = -1;      /* no contact */
    }
    xb->x = x;
    xb->ops = &xdf_input_ops;
    xb->opaque = in;
    xb->be_driver = be_driver;
    xb->dev_id_auto = true;
    xb->adopt_only = adopt_only;
    xb->waiting_for = g_strdup_printf("connector %u's vkbd device (its "
                                      "backend's unique-id '%s')",
                                      conn->index, id);
}

bool xdf_input_claim(XdfInput *in, Error **errp)
{
    XdfXenbus *xb = &in->bus;
    Error *local_err = NULL;
    bool ok = xdf_xenbus_claim(xb, &local_err) &&
              (!xb->waiting || xdf_xenbus_wait(xb, &local_err));

    return xdf_input_check(in, ok, local_err, errp);
}

bool xdf_input_watch(XdfInput *in, Error **errp)
{
    Error *local_err = NULL;
    bool ok;

    if (!in->bus.ops || in->bus.waiting) {
        return true;
    }
    ok = xdf_xenbus_watch(&in->bus, &local_err);
    return xdf_input_check(in, ok, local_err, errp);
}

void xdf_input_close(XdfInput *in)
{
    if (in->bus.ops) {
        xdf_xenbus_close(&in->bus);
    }
}

bool xdf_input_move(XdfInput *in, Error **errp)
{
    in->bus.ops = &xdf_input_ops;
    return xdf_xenbus_move(&in->bus, errp);
}

void xdf_input_drop(XdfInput *in)
{
    xdf_input_close(in);
    in->bus.ops = NULL;
}

void xdf_input_fini(XdfInput *in)
{
    xdf_xenbus_free(&in->bus);
    g_clear_pointer(&in->id, g_free);
}

/*
 * Migration: a key, button or contact down at the switch-over would stay
 * down in the destination's guest, whose device never saw it go down.
 */
bool xdf_input_holds(const XdfInput *in)
{
    unsigned int i;

    if (!bitmap_empty(in->down, KBDIF_KEY_MAX + 1)) {
        return true;
    }
    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        if (in->slots[i].tracking_id >= 0) {
            return true;
        }
    }
    return false;
}

void xdf_input_save_held(const XdfInput *in, XdfHeld *h)
{
    unsigned long code;
    unsigned int i;

    memset(h, 0, sizeof(*h));
    for (code = find_first_bit(in->down, KBDIF_KEY_MAX + 1);
         code <= KBDIF_KEY_MAX;
         code = find_next_bit(in->down, KBDIF_KEY_MAX + 1, code + 1)) {
        h->keys[code / 32] |= 1u << (code % 32);
    }
    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        h->touch_id[i] = in->slots[i].tracking_id;
        h->touch_x[i] = in->slots[i].x;
        h->touch_y[i] = in->slots[i].y;
    }
}

/* What the source's guest held goes up when the VM runs (resync). */
void xdf_input_load_held(XdfInput *in, const XdfHeld *h)
{
    unsigned int i, code;

    for (code = 0; code <= KBDIF_KEY_MAX; code++) {
        if (h->keys[code / 32] & (1u << (code % 32))) {
            set_bit(code, in->down);
        }
    }
    for (i = 0; i < INPUT_EVENT_SLOTS_MAX; i++) {
        if (h->touch_id[i] >= 0 && in->slots[i].tracking_id < 0) {
            in->slots[i].tracking_id = i;
            in->slots[i].x = h->touch_x[i];
            in->slots[i].y = h->touch_y[i];
            in->migrated_touch |= BIT(i);
        }
    }
}
