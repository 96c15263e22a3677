/*
 * xen-displfront: XenBus, a frontend device's life in XenStore.
 *
 * A XenBus frontend device of ours -- the vdispl device, or a
 * connector's vkbd -- is claimed, owned, released and driven by its
 * backend's state in the same way; what a connection is, its
 * XdfXenbusOps say.  Ownership: every QEMU in a domain is a vdispl (and
 * vkbd) frontend of that domain, so the devices of all its guests meet
 * under one device/vdispl/ (and device/vkbd/); a device claims an index
 * in a transaction and records itself in <frontend dir>/owner/, and
 * takes a directory from another owner only when that owner is proved
 * gone.  A toolstack's directory (xl.cfg vdispl=, vkb=) is adopted; in a
 * stub domain, which may not write its own, waited for.
 *
 * Functions named *_txn run inside the XenStore transaction they are
 * given (xdf_xs_transaction()).
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_XENBUS_H
#define XDF_XENBUS_H

#include "hw/xen/xen-bus-helper.h"

#include "xdf-transport.h"

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
    void (*fe_nodes_txn)(XdfXenbus *xb, xs_transaction_t t, Error **errp);
    void (*be_nodes_txn)(XdfXenbus *xb, xs_transaction_t t, Error **errp);
    /* may we take toolstack directory @fe, device @idx?  NO sets *why */
    XdfAdopt (*adopt_txn)(XdfXenbus *xb, xs_transaction_t t, const char *fe,
                          uint32_t idx, char **why);
    /* a waited-for directory is ours now (xdf_xenbus_wait()) */
    void (*claimed)(XdfXenbus *xb);
    /* the backend waits (InitWait): share and publish what it needs */
    bool (*connect)(XdfXenbus *xb, Error **errp);
    /* the backend is Connected, and now so are we */
    void (*connected)(XdfXenbus *xb);
    /* drop the connection; whether it had worked */
    bool (*disconnect)(XdfXenbus *xb);
} XdfXenbusOps;

struct XdfXenbus {
    /* set by the user before xdf_xenbus_claim() */
    XdfXen *x;
    const XdfXenbusOps *ops;    /* NULL: no such device */
    void *opaque;               /* the ops' */
    bool dev_id_auto;
    uint32_t dev_id;            /* the index asked for, then the one claimed */
    const char *be_driver;      /* the backend directory we write */
    /*
     * Its directories are a toolstack's to write (QEMU in a stub domain
     * may not): take one, or wait for one (waiting, dir_watch).
     */
    bool adopt_only;
    char *waiting_for;          /* "a vdispl device", in the message */

    char *name;                 /* "<driver>/<dev-id>", in messages */
    char *fe_path;              /* .../device/<driver>/<dev-id> */
    char *be_path;              /* .../backend/<be_driver>/<fe>/<dev-id> */
    bool claimed;               /* our owner record is in fe_path */
    bool waiting;
    struct qemu_xs_watch *dir_watch;
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
    /* figures */
    unsigned int connections;   /* times it was Connected */
    char *last_error;           /* what ended the last failed attempt */
};

/*
 * Claim a device (dev_id, or with dev_id_auto the lowest free index):
 * write its directories, or take a toolstack's, with our owner record.
 * With adopt_only and none to take, xb->waiting says so.
 */
bool xdf_xenbus_claim(XdfXenbus *xb, Error **errp);
/* say what a waiting device waits for, and watch for it (ops->claimed) */
bool xdf_xenbus_wait(XdfXenbus *xb, Error **errp);
/* go Initialising and let the backend's state drive us from now on */
bool xdf_xenbus_watch(XdfXenbus *xb, Error **errp);
/* the backend broke the protocol (@why, said already): close, back off */
void xdf_xenbus_failed(XdfXenbus *xb, const char *why);
/* Closing, Closed, and remove what we own; again: nothing */
void xdf_xenbus_close(XdfXenbus *xb);
/*
 * Closed, it follows a new x->backend_domid: the next claim takes the
 * same index; a toolstack's directory gets its backend moved now.
 */
bool xdf_xenbus_move(XdfXenbus *xb, Error **errp);
void xdf_xenbus_free(XdfXenbus *xb);
/* its XenBus state, or "waiting" for the toolstack's directory */
const char *xdf_xenbus_state_name(XdfXenbus *xb);

/*
 * Is toolstack directory @fe's backend @be one we can be served from:
 * backend-domid's for device @idx, of a kind the ops name?  If not, *@why.
 */
bool xdf_toolstack_backend(XdfXenbus *xb, const char *fe, const char *be,
                           uint32_t idx, char **why);

/* Run @write in one XenStore transaction, again while it conflicts. */
typedef void XdfXsWrite(XdfXenbus *xb, xs_transaction_t t, Error **errp);
bool xdf_xs_transaction(XdfXenbus *xb, XdfXsWrite *write, const char *what,
                        Error **errp);
/* xs_node_printf(), skipped once an error is set: one check per batch */
void G_GNUC_PRINTF(6, 7)
xdf_xs_printf(struct qemu_xs_handle *h, xs_transaction_t t, const char *node,
              const char *key, Error **errp, const char *fmt, ...);

#endif /* XDF_XENBUS_H */
