/*
 * xen-displfront: the display, a device's connectors.
 *
 * A connector follows a console of the card (a display change
 * listener), keeps two buffers of the connector's size shared with the
 * backend for the life of the connection, fits the guest's picture into
 * them, copies what changed into the back one and flips to it; it asks
 * for the backend's EDID.  Its transport is an XdfRing and an XdfEvents
 * (frame-done events).
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_DISPLAY_H
#define XDF_DISPLAY_H

#include "ui/console.h"

#include "xdf-transport.h"

#define XDF_NR_BUFFERS          2

/* How the guest's picture is fitted into a connector's buffers. */
typedef enum XdfFitMode {
    XDF_FIT_SCALE,              /* largest that fits, aspect kept, centred */
    XDF_FIT_CENTER,             /* 1:1, centred */
    XDF_FIT_CROP,               /* 1:1, top left */
    XDF_FIT__MAX,
} XdfFitMode;

extern const char *const xdf_fit_names[XDF_FIT__MAX];

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

/* What a device's connectors share. */
typedef struct XdfDisplay {
    XdfXen *x;
    XdfFitMode fit_mode;
    bool be_alloc;              /* the backend allocates the buffers */
    unsigned int version;       /* displif's, agreed with the backend */
    XdfRing *setup_ring;        /* DBUF and FB requests: connector 0's */
    uint64_t next_cookie;
    /* a connector's transport broke: close the connection */
    XdfBrokenFn *broken;
    void *opaque;
} XdfDisplay;

typedef struct XdfConnector XdfConnector;

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

/* What a connector did, for the device's "figures" property. */
typedef struct XdfFigures {
    uint64_t frames;            /* flips sent */
    uint64_t refreshes;         /* console refreshes */
    uint64_t skipped;           /* ... while not connected */
    uint64_t idle;              /* ... with nothing new */
    uint64_t coalesced;         /* ... whose change waited for a frame */
    int64_t copy_ns_last;       /* CPU time of the last frame's copy */
    int64_t copy_ns_total;
} XdfFigures;

/* What a connector's display is doing. */
typedef enum XdfDisplayState {
    XDF_DISPLAY_OFF,            /* no buffers: not connected */
    XDF_DISPLAY_CONFIGURING,    /* buffers being created and attached */
    XDF_DISPLAY_ON,             /* SET_CONFIG answered: flipping */
} XdfDisplayState;

struct XdfConnector {
    XdfDisplay *d;
    unsigned int index;
    uint32_t width;             /* from XenStore's "resolution" */
    uint32_t height;
    XdfRing ring;               /* open while connected */
    XdfEvents events;

    /* the console: head (head + index) of the card */
    QemuConsole *con;
    DisplayChangeListener dcl;
    bool dcl_registered;
    uint64_t vram;              /* the card's video memory, 0: no limit */
    const char *vram_prop;      /* the card's property that sets it */
    bool said_vram;             /* "too little video memory" said */
    DisplaySurface *surface;
    XdfFit fit;                 /* the surface in the buffers */
    pixman_region32_t damage;   /* since the last flip */

    XdfDisplayState display;
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

    XdfFigures fig;
};

/* A connector of @width x @height, with nothing shared or followed yet. */
void xdf_connector_init(XdfConnector *c, XdfDisplay *d, unsigned int index,
                        uint32_t width, uint32_t height);
/*
 * Follow console @con, and tell its card the connector's size is the
 * mode to prefer; @vram (0: any) is what its card can show, raised with
 * its property @vram_prop.
 */
void xdf_connector_bind(XdfConnector *c, QemuConsole *con, uint64_t vram,
                        const char *vram_prop);
/* share the ring and event page (their refs and ports to publish) */
bool xdf_connector_open(XdfConnector *c, uint32_t timeout_ms, Error **errp);
/* connected: ask for the EDID, set the buffers up, then flip */
void xdf_connector_start(XdfConnector *c);
/* close the transport, forget the buffers; whether it had shown ours */
bool xdf_connector_close(XdfConnector *c);
/* refresh at the connector's full rate again (the VM runs) */
void xdf_connector_refresh_now(XdfConnector *c);
/* stop following the console; then free what init made */
void xdf_connector_unbind(XdfConnector *c);
void xdf_connector_fini(XdfConnector *c);

#endif /* XDF_DISPLAY_H */
