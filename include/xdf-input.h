/*
 * xen-displfront: input, a connector's kbdif (vkbd) device.
 *
 * Linked to its connector by unique-id, a vkbd device's events go to
 * the connector's console through QEMU's input layer: keys, buttons and
 * the wheel, relative motion, and absolute positions and multi-touch
 * contacts mapped through the inverse of the connector's fit to the
 * guest pixel shown there.  Its transport is an XdfEvents (kbdif's
 * page); what the guest holds is released when the backend goes, and
 * travels with a migration.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_INPUT_H
#define XDF_INPUT_H

#include "qemu/bitops.h"
#include "ui/input.h"
#include "hw/xen/interface/io/kbdif.h"

#include "kbdif-front.h"
#include "xdf-display.h"
#include "xdf-xenbus.h"

typedef struct XdfInput {
    XdfXenbus bus;              /* bus.ops NULL: the connector has none */
    const XdfConnector *conn;   /* its console, and the picture shown */
    char *id;                   /* the vkbd's unique-id */
    bool required;              /* input=on: no vkbd is an error */
    bool system_keys;           /* the backend may press power, SysRq */
    XdfEvents events;           /* open while an attempt holds a page */
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

/*
 * A vkbd device for connector @conn whose backend's unique-id is @id,
 * its backend directory under @be_driver (vinput, vkbd); with
 * @adopt_only only a toolstack's.
 */
void xdf_input_init(XdfInput *in, XdfXen *x, const XdfConnector *conn,
                    const char *id, const char *be_driver, bool adopt_only,
                    bool required, bool system_keys);
/*
 * Claim it (or wait for the toolstack's), then let its backend drive
 * it.  Unless it is required, a connector that cannot have its vkbd goes
 * without (bus.ops NULL), said once.
 */
bool xdf_input_claim(XdfInput *in, Error **errp);
bool xdf_input_watch(XdfInput *in, Error **errp);
/* what the guest holds and the backend no longer does goes up */
void xdf_input_resync(XdfInput *in);
/* migration: whether the guest holds anything; save; load */
bool xdf_input_holds(const XdfInput *in);
void xdf_input_save_held(const XdfInput *in, XdfHeld *h);
void xdf_input_load_held(XdfInput *in, const XdfHeld *h);
void xdf_input_close(XdfInput *in);
/* closed, it follows a new backend-domid (claim it again) */
bool xdf_input_move(XdfInput *in, Error **errp);
/* closed, it goes: the new backend gets no input */
void xdf_input_drop(XdfInput *in);
void xdf_input_fini(XdfInput *in);

#endif /* XDF_INPUT_H */
