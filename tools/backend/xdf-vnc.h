/*
 * xdf-backend: the live view of a connector, a VNC server
 *
 * Connector i is a VNC desktop on ADDRESS (127.0.0.1 unless told),
 * port PORT + i, showing the last frame flipped (any VNC viewer, e.g.
 * "vncviewer 127.0.0.1::5900").
 * It is a console: what its viewers type and point goes to whoever
 * opened it (XdfVncOps).  With a password, only viewers that know it
 * (VNC authentication) get in.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_VNC_H
#define XDF_VNC_H

#include <stdbool.h>
#include <stdint.h>

#include "xdf-log.h"

typedef struct XdfVnc XdfVnc;

/* What the viewers do, told to the opaque of xdf_vnc_open(). */
typedef struct XdfVncOps {
    void (*viewer_came)(void *opaque);
    void (*key)(void *opaque, bool down, uint32_t keysym);
    /* @mask: RFB's buttons; @x, @y: the viewer's pixel */
    void (*pointer)(void *opaque, int mask, int x, int y);
} XdfVncOps;

/* Whether @address is an IPv4 address in dotted form (inet_pton). */
bool xdf_vnc_address_ok(const char *address);

/*
 * Start the live view of connector @conn, @width x @height, on
 * @address:@port (@address: dotted IPv4, see xdf_vnc_address_ok()); only
 * for viewers that give one of @passwords (libvncserver's list,
 * NULL-ended; empty: for anyone who reaches the address).
 * Libvncserver logs only with --verbose.  NULL when it cannot, having
 * said why in @log's name; *@port_in_use then says whether it could not
 * listen on @port (another process would get our viewers, and what they
 * type: the backend must end).
 */
XdfVnc *xdf_vnc_open(const XdfLog *log, unsigned int conn,
                     const char *address, int port, char **passwords,
                     uint32_t width, uint32_t height,
                     const XdfVncOps *ops, void *opaque, bool *port_in_use);

/* Show @rgb (packed 8-bit RGB, @width x @height) to the viewers. */
void xdf_vnc_show(XdfVnc *v, const uint8_t *rgb, uint32_t width,
                  uint32_t height);

/* Whether anyone views it now. */
bool xdf_vnc_viewed(const XdfVnc *v);

/* Serve the viewers: what they sent, what they are to get. */
void xdf_vnc_poll(XdfVnc *v);

void xdf_vnc_close(XdfVnc *v);

#endif /* XDF_VNC_H */
