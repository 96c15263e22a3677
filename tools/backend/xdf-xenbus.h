/*
 * xdf-backend: the backend end of a XenBus device, vdispl or vkbd
 *
 * The XenBus state machine of displif.h and kbdif.h, driven from the
 * frontend's state node and our own; what connecting means, the
 * device's XbEndOps say.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_XENBUS_H
#define XDF_XENBUS_H

#include <stdbool.h>
#include <stdint.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "xdf-xs.h"

/* The Xen handles of the process, which the devices share; our domain. */
typedef struct XdfXen {
    struct xs_handle *xs;
    xenevtchn_handle *xe;
    xengnttab_handle *xg;
    xengntshr_handle *xgs;      /* NULL: no grant sharing */
    unsigned long own;
} XdfXen;

typedef struct XbEnd XbEnd;

typedef struct XbEndOps {
    void (*prepare)(XbEnd *e);      /* our nodes, before InitWait */
    bool (*connect)(XbEnd *e);      /* map what the frontend published */
    void (*disconnect)(XbEnd *e);
    /* the frontend may go Connected before we do (Linux's xen-kbdfront) */
    bool frontend_first;
} XbEndOps;

/* A device's directories and the state we last wrote. */
struct XbEnd {
    const XbEndOps *ops;
    struct xs_handle *xs;
    const XdfLog *log;          /* the device's */
    char *fe_path;
    char *be_path;
    bool guarded;               /* write state only while be_path exists */
    int state;                  /* what we last wrote to be_path/state */
    int64_t reset_deadline;     /* after writing Closed at start-up */
};

/* Start serving @e: our nodes, then InitWait (or make it start over). */
void xb_start(XbEnd *e);

/*
 * Bring our state in line with the frontend's; run on every change of
 * either directory.  Idempotent.
 */
void xb_reconcile(XbEnd *e);

/*
 * Close (a broken ring, or the frontend's nodes are bad) and wait for
 * the frontend to start over; one that does not react in time (a dead
 * one) gets InitWait anyway, at xb_poll().
 */
void xb_close_and_wait(XbEnd *e);

/* Run the state machine when the wait of xb_close_and_wait() is over. */
void xb_poll(XbEnd *e);

/* The earlier of @deadline and the end of that wait (0: none). */
int64_t xb_deadline(const XbEnd *e, int64_t deadline);

/*
 * Stop serving @e: disconnect and, unless its directory was @removed,
 * go Closing, then Closed.
 */
void xb_stop(XbEnd *e, bool removed);

#endif /* XDF_XENBUS_H */
