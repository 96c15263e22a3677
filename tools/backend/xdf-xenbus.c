/*
 * xdf-backend: the backend end of a XenBus device, vdispl or vkbd
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdf-xenbus.h"

#define XDF_RESET_WAIT_MS 2000

/* XenBus states, as xenbus.h numbers them */
enum {
    XB_UNKNOWN = 0,
    XB_INITIALISING = 1,
    XB_INITWAIT = 2,
    XB_INITIALISED = 3,
    XB_CONNECTED = 4,
    XB_CLOSING = 5,
    XB_CLOSED = 6,
};

static const char *state_name(int state)
{
    static const char *const names[] = {
        "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
        "Closing", "Closed", "Reconfiguring", "Reconfigured",
    };

    return state >= 0 && state < (int)G_N_ELEMENTS(names) ? names[state] :
           "invalid";
}

static int xb_read_state(struct xs_handle *xs, const char *dir)
{
    unsigned long v;

    return xdf_xs_read_uint(xs, dir, "state", XB_CLOSED, &v) ? (int)v :
           XB_UNKNOWN;
}

/*
 * Write @state to @be_path/state.  With @guarded, only into a directory
 * that still exists: a toolstack owns it and may remove it at any time
 * (xl destroy); never bring back one that was removed.
 */
static void xb_write_state(const XdfLog *log, struct xs_handle *xs,
                           const char *be_path, bool guarded, int state)
{
    char val[4];

    snprintf(val, sizeof(val), "%d", state);
    if (guarded) {
        g_autofree char *state_path = g_strdup_printf("%s/state", be_path);
        g_autofree char *fe_node = g_strdup_printf("%s/frontend", be_path);

        for (;;) {
            xs_transaction_t t = xs_transaction_start(xs);
            unsigned int len;
            char *fe;

            if (t == XBT_NULL) {
                xdf_log(log, "cannot start a XenStore transaction: %s",
                        strerror(errno));
                return;
            }
            fe = xs_read(xs, t, fe_node, &len);
            if (fe && !xs_write(xs, t, state_path, val, strlen(val))) {
                xdf_log(log, "cannot write %s = '%s': %s", state_path, val,
                        strerror(errno));
            }
            free(fe);
            if (xs_transaction_end(xs, t, false) || errno != EAGAIN) {
                return;
            }
        }
    }
    xdf_xs_write(log, xs, be_path, "state", val);
}

static void xb_set_state(XbEnd *e, int state)
{
    if (e->state != state) {
        xdf_log(e->log, "backend state %s -> %s (frontend is %s)",
                state_name(e->state), state_name(state),
                state_name(xb_read_state(e->xs, e->fe_path)));
    }
    e->state = state;
    xb_write_state(e->log, e->xs, e->be_path, e->guarded, state);
}

void xb_close_and_wait(XbEnd *e)
{
    e->ops->disconnect(e);
    xb_set_state(e, XB_CLOSING);
    xb_set_state(e, XB_CLOSED);
    e->reset_deadline = xdf_now_ms() + XDF_RESET_WAIT_MS;
}

void xb_reconcile(XbEnd *e)
{
    int fe = xb_read_state(e->xs, e->fe_path);
    int ours = xb_read_state(e->xs, e->be_path);
    unsigned long online;

    /*
     * A toolstack removing the device (xl destroy, xl vdispl-detach)
     * writes online = 0 and state = Closing, and waits for Closed.
     */
    if (xdf_xs_read_uint(e->xs, e->be_path, "online", 1, &online) &&
        !online) {
        if (e->state != XB_CLOSED) {
            xdf_log(e->log, "the toolstack took %s offline: closing",
                    e->be_path);
            e->ops->disconnect(e);
            e->state = ours;
            xb_set_state(e, XB_CLOSED);
        }
        return;
    }

    if (ours != e->state) {
        /* a frontend or toolstack (re)wrote the nodes, or removed them */
        xdf_debug(e->log, "backend state node is %s, we wrote %s",
                  state_name(ours), state_name(e->state));
        e->ops->disconnect(e);
        e->ops->prepare(e);
        xb_set_state(e, XB_INITWAIT);
    }

    switch (e->state) {
    case XB_INITWAIT:
        if (fe == XB_INITIALISED ||
            (fe == XB_CONNECTED && e->ops->frontend_first)) {
            if (e->ops->connect(e)) {
                xb_set_state(e, XB_CONNECTED);
            } else {
                xdf_log(e->log, "cannot connect to %s: closing; waiting for "
                        "the frontend to start again", e->fe_path);
                xb_close_and_wait(e);
            }
        }
        break;
    case XB_CONNECTED:
        if (fe != XB_INITIALISED && fe != XB_CONNECTED) {
            xdf_log(e->log, "frontend went %s", state_name(fe));
            e->ops->disconnect(e);
            xb_set_state(e, XB_INITWAIT);
        }
        break;
    case XB_CLOSED:
        /* wait for the frontend to restart (or, at start-up, give up) */
        if (fe != XB_INITIALISED && fe != XB_CONNECTED) {
            xb_set_state(e, XB_INITWAIT);
        } else if (e->reset_deadline && xdf_now_ms() >= e->reset_deadline) {
            xdf_log(e->log, "frontend still %s after %d ms: waiting for it "
                    "anyway", state_name(fe), XDF_RESET_WAIT_MS);
            xb_set_state(e, XB_INITWAIT);
        }
        if (e->state == XB_INITWAIT) {
            e->reset_deadline = 0;
            xb_reconcile(e);
        }
        break;
    default:
        break;
    }
}

void xb_start(XbEnd *e)
{
    int fe = xb_read_state(e->xs, e->fe_path);

    e->ops->prepare(e);
    e->state = xb_read_state(e->xs, e->be_path);
    if (fe == XB_CONNECTED) {
        /* connected to an earlier backend instance: make it start over */
        xdf_log(e->log, "frontend %s is already Connected: asking it to "
                "start over", e->fe_path);
        xb_close_and_wait(e);
    } else {
        xb_set_state(e, XB_INITWAIT);
    }
    xb_reconcile(e);
}

void xb_poll(XbEnd *e)
{
    if (e->reset_deadline && xdf_now_ms() >= e->reset_deadline) {
        xb_reconcile(e);
    }
}

int64_t xb_deadline(const XbEnd *e, int64_t deadline)
{
    int64_t d = e->reset_deadline;

    return d && (!deadline || d < deadline) ? d : deadline;
}

void xb_stop(XbEnd *e, bool removed)
{
    e->ops->disconnect(e);
    if (!removed && xb_read_state(e->xs, e->be_path) != XB_UNKNOWN) {
        xb_set_state(e, XB_CLOSING);
        xb_set_state(e, XB_CLOSED);
    }
}
