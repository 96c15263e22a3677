/*
 * xdf-backend: a vdispl device we serve
 *
 * Its connectors, the requests on their rings (DBUF_CREATE/DESTROY,
 * FB_ATTACH/DETACH, SET_CONFIG, PG_FLIP, GET_EDID), their buffers,
 * frame-done events; each frame's picture saved as PNG and shown in the
 * connector's live view.  What a frontend may make it allocate, compute
 * and log is bounded (see README.md).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_DISPLAY_H
#define XDF_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
/* for Xen's ring.h, which builds xen_mb() and friends on these */
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/displif.h>

#include "xdf-vnc.h"
#include "xdf-xenbus.h"

/*
 * Connectors a device may have here: more than the 4 of our frontend
 * and Linux's, for other frontends; also each device's stride of VNC
 * ports (--all).
 */
#define XDF_BE_MAX_CONNECTORS 8

typedef struct Vdispl Vdispl;

typedef struct Connector {
    Vdispl *dev;
    unsigned int index;
    uint32_t width, height;     /* resolution */

    /* transport */
    void *ring_page;
    struct xen_displif_back_ring ring;
    struct xendispl_event_page *evt_page;
    int req_port;               /* local ports, -1: not bound */
    int evt_port;
    uint16_t evt_id;
    unsigned long evt_dropped;

    /* display: SET_CONFIG */
    uint64_t config_fb;         /* 0: disabled */
    uint32_t cfg_x, cfg_y, cfg_width, cfg_height;

    /* frames */
    unsigned long frames;
    uint64_t flipped_fb;        /* the last PG_FLIP's, 0: none */
    bool unread;                /* not read since (see frame_wanted()) */
    uint32_t shown_width, shown_height;
    uint8_t *shown;             /* RGB of the last flip */
    uint8_t *saved;             /* RGB of the last numbered PNG */

    XdfVnc *vnc;                /* the live view, NULL: not (yet) open */
} Connector;

/* What a device is to do: the options, as they are for it. */
typedef struct VdisplOptions {
    unsigned int fe_domid;
    unsigned int dev_id;
    bool fe_auto;               /* a toolstack made it and removes it */
    const char *output_dir;
    unsigned long every;        /* numbered PNG every N frames, 0: off */
    bool on_change;
    bool last_only;             /* read frames only to save conn<i>-last */
    int vnc_port;               /* connector i on vnc_port + i; -1: off */
    const char *vnc_address;    /* where the live views listen (IPv4) */
    /* --vnc-password-file: the password, as libvncserver's list */
    char *vnc_passwords[2];
    uint64_t max_device_memory; /* bytes */
} VdisplOptions;

/* What a device asks of whoever serves it, with its opaque. */
typedef struct VdisplHooks {
    /* a viewer of connector @c's live view typed, or pointed at @x, @y */
    void (*key)(void *opaque, Connector *c, bool down, uint32_t keysym);
    void (*pointer)(void *opaque, Connector *c, int mask, int x, int y);
    /* a live view cannot listen on its port: the backend must end */
    void (*port_in_use)(void *opaque);
} VdisplHooks;

struct Vdispl {
    VdisplOptions opt;
    unsigned int slot;          /* --all: VNC ports slot * 8 + connector */
    char *out_dir;              /* opt.output_dir, our copy */
    XdfLog log;                 /* tag "vdispl <fe-domid>/<dev-id>" */
    struct xs_handle *xs;       /* the host's handles */
    xenevtchn_handle *xe;
    xengnttab_handle *xg;
    xengntshr_handle *xgs;
    unsigned long own;          /* our domain */
    const VdisplHooks *hooks;
    void *opaque;
    const XdfVncOps *vnc_ops;   /* the live views' */
    XbEnd end;

    bool connected;             /* rings mapped, ports bound */
    bool be_alloc_allowed;      /* frontend's be-alloc = "1" */
    unsigned int nr_conn;
    Connector conn[XDF_BE_MAX_CONNECTORS];
    GHashTable *dbufs;          /* cookie -> Dbuf */
    GHashTable *fbs;            /* cookie -> Fb */

    unsigned long frames;       /* on all connectors */
    unsigned long be_alloc_dbufs;
    uint64_t be_alloc_bytes;    /* in the backend-allocated dbufs now */
    unsigned long errors;       /* error responses sent */
};

/*
 * Device @opt->dev_id of frontend domain @opt->fe_domid, not yet served
 * (xb_start(&end) serves it); its log lines carry @tag (NULL: none).
 */
Vdispl *vdispl_new(const XdfXen *xen, const VdisplOptions *opt,
                   const char *tag, const VdisplHooks *hooks, void *opaque);

/* Event channel @port fired: serve the ring of the connector it is of. */
void vdispl_event(Vdispl *b, int port);

/* What is due without an event: the state machine's wait, the viewers. */
void vdispl_poll(Vdispl *b);

/* Save what each connector shows now as conn<i>-last.png. */
void vdispl_save_last(Vdispl *b);

/*
 * Stop serving @b (its directory was @removed, or we go): what it shows
 * is saved, its connection closed, its summary said.
 */
void vdispl_stop(Vdispl *b, bool removed);

void vdispl_free(Vdispl *b);

/*
 * The connector's pixel that a viewer's pixel @x, @y of @c's live view
 * shows (at SET_CONFIG's x, y; clamped to the picture).
 */
void connector_pixel(const Connector *c, int x, int y, uint64_t *cx,
                     uint64_t *cy);

#endif /* XDF_DISPLAY_H */
