/*
 * xdf-backend: the live view of a connector, a VNC server
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <rfb/rfb.h>

#include "xdf-vnc.h"

struct XdfVnc {
    rfbScreenInfoPtr screen;
    uint8_t *fb;                /* 32 bpp, what the viewers read */
    const XdfVncOps *ops;
    void *opaque;
};

static enum rfbNewClientAction vnc_new_client(rfbClientPtr cl)
{
    XdfVnc *v = cl->screen->screenData;

    v->ops->viewer_came(v->opaque);
    return RFB_CLIENT_ACCEPT;
}

static void vnc_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    XdfVnc *v = cl->screen->screenData;

    v->ops->key(v->opaque, down, keysym);
}

static void vnc_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    XdfVnc *v = cl->screen->screenData;

    rfbDefaultPtrAddEvent(mask, x, y, cl);  /* the viewers' cursor */
    v->ops->pointer(v->opaque, mask, x, y);
}

void xdf_vnc_close(XdfVnc *v)
{
    if (v->screen) {
        rfbShutdownServer(v->screen, TRUE);
        rfbScreenCleanup(v->screen);
    }
    g_free(v->fb);
    g_free(v);
}

XdfVnc *xdf_vnc_open(const XdfLog *log, unsigned int conn,
                     const char *address, int port, char **passwords,
                     uint32_t width, uint32_t height,
                     const XdfVncOps *ops, void *opaque, bool *port_in_use)
{
    XdfVnc *v;
    rfbScreenInfoPtr s;
    struct in_addr addr;
    int argc = 0;

    *port_in_use = false;
    if (inet_pton(AF_INET, address, &addr) != 1) {
        /* the caller checked it (xdf_vnc_address_ok) */
        xdf_log(log, "connector %u: '%s' is not an IPv4 address", conn,
                address);
        return NULL;
    }
    v = g_new0(XdfVnc, 1);
    rfbLogEnable(xdf_verbose);
    v->ops = ops;
    v->opaque = opaque;
    v->fb = g_malloc0((size_t)width * height * 4);
    s = v->screen = rfbGetScreen(&argc, NULL, width, height, 8, 3, 4);
    if (!s) {
        xdf_log(log, "connector %u: cannot start the VNC server", conn);
        xdf_vnc_close(v);
        return NULL;
    }
    s->desktopName = "xen-displfront";
    s->port = port;
    s->ipv6port = 0;
    s->listenInterface = addr.s_addr;
    s->alwaysShared = TRUE;
    s->cursor = NULL;           /* show the frame, no pointer drawn in */
    s->frameBuffer = (char *)v->fb;
    s->screenData = v;
    s->kbdAddEvent = vnc_key;
    s->ptrAddEvent = vnc_pointer;
    s->newClientHook = vnc_new_client;
    if (passwords[0]) {
        s->authPasswdData = passwords;
        s->passwordCheck = rfbCheckPasswordByList;
    }
    errno = 0;
    rfbInitServer(s);
    if (s->listenSock == RFB_INVALID_SOCKET) {
        /* rfbListenOnTCPPort() leaves bind()'s or listen()'s errno */
        xdf_log(log, "connector %u: cannot listen on %s:%d for the "
                "live view: %s; exiting", conn, address, port,
                errno ? strerror(errno) : "unknown error");
        xdf_vnc_close(v);
        *port_in_use = true;
        return NULL;
    }
    xdf_log(log, "connector %u: live view on VNC %s:%d%s", conn, address,
            port, passwords[0] ? ", password" :
            addr.s_addr == htonl(INADDR_LOOPBACK) ?
            " (no password: anyone on this host can view it and type "
            "into the guest)" :
            " (no password: anyone who reaches this address can view it "
            "and type into the guest)");
    return v;
}

bool xdf_vnc_address_ok(const char *address)
{
    struct in_addr addr;

    return inet_pton(AF_INET, address, &addr) == 1;
}

void xdf_vnc_show(XdfVnc *v, const uint8_t *rgb, uint32_t width,
                  uint32_t height)
{
    size_t i;

    if ((uint32_t)v->screen->width != width ||
        (uint32_t)v->screen->height != height) {
        uint8_t *old = v->fb;

        v->fb = g_malloc0((size_t)width * height * 4);
        rfbNewFramebuffer(v->screen, (char *)v->fb, width, height, 8, 3, 4);
        g_free(old);
    }
    /* libvncserver's default 32 bpp layout: R, G, B, pad in memory */
    for (i = 0; i < (size_t)width * height; i++) {
        memcpy(v->fb + i * 4, rgb + i * 3, 3);
    }
    rfbMarkRectAsModified(v->screen, 0, 0, width, height);
}

bool xdf_vnc_viewed(const XdfVnc *v)
{
    return v->screen->clientHead;
}

void xdf_vnc_poll(XdfVnc *v)
{
    rfbProcessEvents(v->screen, 0);
}
