/*
 * xdf-backend: the kbdif (vkbd) devices linked to connectors we serve
 *
 * A vkbd device whose backend directory (ours, under "vkbd" or, as
 * libxl names backend-type=linux, "vinput") has the unique-id of a
 * connector we serve, of the same frontend domain, is served (kbdif.h:
 * feature-abs-pointer, width/height of the connector unless the
 * toolstack set them, the shared page and event channel); the keys and
 * pointer of that connector's VNC viewers become its KEY, POS (or
 * MOTION) events.  A full (or bogus) ring drops input events.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_KBD_H
#define XDF_KBD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "xdf-display.h"
#include "xdf-xenbus.h"

typedef struct Vkbds Vkbds;

/*
 * The vkbd devices linked to connectors of @devices (Vdispl *: the
 * vdispl devices we serve, as they come and go); our backend
 * directories of vkbd devices watched with token "kbd".  NULL when they
 * cannot be watched, having said why.
 */
Vkbds *vkbds_new(const XdfXen *xen, GPtrArray *devices);

/*
 * Look at every vkbd device of frontend domain @dom (every domain: -1):
 * serve the linked ones, let go of those that have been removed or are
 * no longer linked.
 */
void vkbds_scan(Vkbds *ks, long dom);

/* Stop serving the vkbd devices linked to @b (it goes away). */
void vkbds_unlink(Vkbds *ks, Vdispl *b);

/* A XenStore watch event: false when it is none of ours. */
bool vkbds_watch_event(Vkbds *ks, const char *path, const char *token);

/* The earlier of @deadline and our devices' xb_deadline(). */
int64_t vkbds_deadline(Vkbds *ks, int64_t deadline);

/* Run the state machine of those whose wait is over (xb_poll()). */
void vkbds_poll(Vkbds *ks);

/* A viewer of connector @c's live view typed, or pointed (VdisplHooks). */
void vkbds_key(Vkbds *ks, Connector *c, bool down, uint32_t keysym);
void vkbds_pointer(Vkbds *ks, Connector *c, int mask, int x, int y);

/* Stop serving every vkbd device (we go). */
void vkbds_free(Vkbds *ks);

#endif /* XDF_KBD_H */
