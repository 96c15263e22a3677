/*
 * xdf-backend: a reference Xen displif (para-virtual display) backend
 *
 * Serves one vdispl device of one frontend domain, or with --all every
 * vdispl device under its backend directory as devices come and go (as
 * displ_be does): all their connectors, the XenBus state machine of
 * displif.h, every request, and frame-done events.  What each connector
 * shows is saved as PNG, and with --vnc shown to VNC viewers.
 *
 * Input: a kbdif (vkbd) device whose backend directory (ours, under
 * "vkbd" or, as libxl names backend-type=linux, "vinput") has the
 * unique-id of a connector we serve, of the same frontend domain, is
 * served too (kbdif.h: feature-abs-pointer, width/height of the
 * connector unless the toolstack set them, the shared page and event
 * channel); the keys and pointer of that connector's VNC viewers become
 * its KEY, POS (or MOTION) events.
 *
 * The frontend is never trusted: ring indices, sizes, cookies, page
 * directories and formats are checked; a bad request gets an error
 * response, a broken ring costs the connection, never the process; a
 * full (or bogus) kbdif ring drops input events.
 *
 * What one device may make us allocate and compute is bounded: a
 * picture fits its framebuffer, a framebuffer its dbuf, a dbuf the pages
 * granted (each data page its own grant); backend-allocated buffers take
 * at most XDF_BE_ALLOC_FRAMES frames of the device's connectors; and all
 * of it at most --max-device-memory.  Lines about a device's requests
 * are rate-limited (XDF_LOG_BURST per XDF_LOG_WINDOW_MS, the rest
 * counted); a XenStore watch event is handled by the device it concerns.
 *
 *   xdf-backend [--frontend-domid N|auto] [--dev-id N | --all]
 *               [--output-dir DIR] [--every N | --on-change | --last-only]
 *               [--exit-after-frames N] [--timeout SECONDS] [--vnc PORT]
 *               [--vnc-password-file FILE] [--max-device-memory MIB]
 *               [--verbose]
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <rfb/rfb.h>
#include <xenstore.h>
#include <xenevtchn.h>
#include <xengnttab.h>
/* for Xen's ring.h, which builds xen_mb() and friends on these */
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/displif.h>
#include <xen/io/kbdif.h>

#include "displif-proto.h"
#include "xdf-edid.h"
#include "xdf-image.h"
#include "xdf-input.h"

#define XDF_MAX_CONNECTORS 8
#define XDF_MAX_DBUFS 64
#define XDF_MAX_BUFFER_SZ (256u << 20)     /* 8192 x 8192 x 32 bpp */
#define XDF_RESET_WAIT_MS 2000
/* backend-allocated buffers: at most this many frames of the connectors */
#define XDF_BE_ALLOC_FRAMES 4
#define XDF_MAX_DEVICE_MIB 256          /* --max-device-memory default */
/* lines about one device's requests: this many in a window, then counted */
#define XDF_LOG_BURST 20
#define XDF_LOG_WINDOW_MS 10000
#define XDF_VNC_PASSWORD_MAX 8          /* VNC authentication's DES key */

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

/* A display buffer: pages of the frontend, or ours shared with it. */
typedef struct Dbuf {
    uint64_t cookie;
    uint32_t width, height, bpp;
    uint32_t buffer_sz, data_ofs, stride;
    uint32_t n_data;            /* data pages */
    bool be_alloc;              /* our pages (xengntshr), else mapped */
    uint8_t *data;
} Dbuf;

typedef struct Fb {
    uint64_t cookie;
    Dbuf *dbuf;
    uint32_t width, height, format;
} Fb;

typedef struct Backend Backend;
typedef struct Host Host;

typedef struct Connector {
    Backend *be;
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

    /* live view: a VNC server showing the last flip */
    rfbScreenInfoPtr vnc;
    uint8_t *vnc_fb;            /* 32 bpp, what VNC clients read */
} Connector;

typedef struct Options {
    unsigned int fe_domid;
    bool fe_auto;               /* wait for a toolstack-made device */
    bool all;                   /* every device under our backend dir */
    unsigned int dev_id;
    const char *output_dir;
    unsigned long every;        /* numbered PNG every N frames, 0: off */
    bool on_change;
    bool last_only;             /* read frames only to save conn<i>-last */
    unsigned long exit_after_frames;
    unsigned int timeout_s;
    bool verbose;
    int vnc_port;               /* connector i on vnc_port + i; -1: off */
    /* --vnc-password-file: the password, as libvncserver's list */
    char *vnc_passwords[2];
    uint64_t max_device_memory; /* bytes */
} Options;

/*
 * The backend end of a XenBus device we serve, vdispl or vkbd: its
 * directories and the state we last wrote.  xb_reconcile() drives it
 * from the frontend's state and our own node; what connecting means,
 * its ops say.
 */
typedef struct XbEnd XbEnd;

typedef struct XbEndOps {
    void (*prepare)(XbEnd *e);      /* our nodes, before InitWait */
    bool (*connect)(XbEnd *e);      /* map what the frontend published */
    void (*disconnect)(XbEnd *e);
    bool frontend_first;            /* it may go Connected before we do
                                       (Linux's xen-kbdfront) */
} XbEndOps;

struct XbEnd {
    const XbEndOps *ops;
    struct xs_handle *xs;
    char *fe_path;
    char *be_path;
    bool guarded;               /* write state only while be_path exists */
    int state;                  /* what we last wrote to be_path/state */
    int64_t reset_deadline;     /* after writing Closed at start-up */
};

/* One vdispl device we serve. */
struct Backend {
    Host *host;
    Options opt;                /* the host's, for this device */
    unsigned int slot;          /* --all: VNC ports slot * 8 + connector */
    char *out_dir;              /* --all: DIR/<fe-domid>-<dev-id> */
    char *tag;                  /* in log lines: "<fe-domid>/<dev-id>" */
    struct xs_handle *xs;       /* the host's handles */
    xenevtchn_handle *xe;
    xengnttab_handle *xg;
    xengntshr_handle *xgs;
    XbEnd end;

    bool connected;             /* rings mapped, ports bound */
    bool be_alloc_allowed;      /* frontend's be-alloc = "1" */
    unsigned int nr_conn;
    Connector conn[XDF_MAX_CONNECTORS];
    GHashTable *dbufs;          /* cookie -> Dbuf */
    GHashTable *fbs;            /* cookie -> Fb */

    unsigned long frames;       /* on all connectors */
    unsigned long be_alloc_dbufs;
    uint64_t be_alloc_bytes;    /* in the backend-allocated dbufs now */
    unsigned long errors;       /* error responses sent */

    /* req_log(): lines about our requests in this window, then counted */
    int64_t log_window_end;
    unsigned int log_lines;
    unsigned long log_suppressed;
};

/* The process: Xen handles, options, the devices served. */
struct Host {
    Options opt;
    struct xs_handle *xs;
    xenevtchn_handle *xe;
    xengnttab_handle *xg;
    xengntshr_handle *xgs;
    unsigned long own;          /* our domain */
    char *be_root;              /* /local/domain/<own>/backend/vdispl */
    GPtrArray *devices;         /* Backend * */
    unsigned long frames;       /* of devices that have gone */
    char *kbd_roots[2];         /* .../backend/vkbd and .../backend/vinput */
    GPtrArray *kbds;            /* Vkbd *: the vkbd devices served */
    GHashTable *kbd_unlinked;   /* backend dir -> why it is not served */
    bool quit;
    int exit_status;
};

/*
 * A kbdif (vkbd) device linked to a connector we serve: its backend
 * directory's unique-id is the connector's.  What that connector's VNC
 * viewers type and point goes to its frontend.
 */
typedef struct Vkbd {
    Host *host;
    unsigned int fe_domid;
    XbEnd end;                  /* fe_path: the backend directory's
                                   "frontend" */
    char *tag;                  /* in log lines: "vkbd <fe-domid>/<n>" */
    Backend *disp;              /* linked to connector conn of disp */
    unsigned int conn;
    uint32_t conn_width, conn_height;   /* that connector's resolution */
    uint32_t width, height;     /* the pointer's range the frontend knows */

    bool connected;             /* page mapped, port bound */
    struct xenkbd_page *page;
    int port;                   /* local port, -1: not bound */
    bool abs;                   /* the frontend's request-abs-pointer */
    uint32_t in_prod;
    XdfPointer ptr;

    unsigned long events, dropped;
    bool dropping;              /* in a burst of drops (logged once) */
} Vkbd;

/* Logging ------------------------------------------------------------- */

static bool verbose;
/* --all: the device being served, named in each log line */
static const char *log_tag;

static void G_GNUC_PRINTF(1, 0) xdf_vlog(const char *fmt, va_list ap)
{
    fputs("[xdf-backend] ", stderr);
    if (log_tag) {
        fprintf(stderr, "%s: ", log_tag);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void G_GNUC_PRINTF(1, 2) xdf_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xdf_vlog(fmt, ap);
    va_end(ap);
}

#define xdf_debug(...) do {     \
    if (verbose) {              \
        xdf_log(__VA_ARGS__);   \
    }                           \
} while (0)

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* Say how many lines req_log() left out, if any. */
static void req_log_suppressed(Backend *b)
{
    if (b->log_suppressed) {
        xdf_log("%lu more lines about its requests suppressed",
                b->log_suppressed);
        b->log_suppressed = 0;
    }
}

/*
 * A line about a request of @b's frontend (a refusal and why, a mode
 * set): one it can cause at will, so at most XDF_LOG_BURST of them are
 * written every XDF_LOG_WINDOW_MS; the rest are counted, and the count
 * said at the next line written and when the device goes.
 */
static void G_GNUC_PRINTF(2, 3) req_log(Backend *b, const char *fmt, ...)
{
    int64_t now = now_ms();
    va_list ap;

    if (now >= b->log_window_end) {
        req_log_suppressed(b);
        b->log_window_end = now + XDF_LOG_WINDOW_MS;
        b->log_lines = 0;
    }
    if (b->log_lines >= XDF_LOG_BURST) {
        if (!b->log_suppressed++) {
            xdf_log("more than %d lines about its requests in %d s: "
                    "counting, not writing, the rest", XDF_LOG_BURST,
                    XDF_LOG_WINDOW_MS / 1000);
        }
        return;
    }
    b->log_lines++;
    va_start(ap, fmt);
    xdf_vlog(fmt, ap);
    va_end(ap);
}

/* XenStore ------------------------------------------------------------ */

/* A decimal number from 0 to @max: digits only, no sign or blanks. */
static bool parse_uint(const char *str, unsigned long max, unsigned long *out)
{
    char *end;
    guint64 v;

    if (!str || !g_ascii_isdigit(str[0])) {
        return false;
    }
    errno = 0;
    v = g_ascii_strtoull(str, &end, 10);
    if (errno || *end || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static char *xs_t_read(struct xs_handle *xs, xs_transaction_t t,
                       const char *dir, const char *node)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);
    unsigned int len;
    char *val = xs_read(xs, t, path, &len);
    char *ret = val ? g_strndup(val, len) : NULL;

    free(val);
    return ret;
}

static char *xs_read_node(struct xs_handle *xs, const char *dir,
                          const char *node)
{
    return xs_t_read(xs, XBT_NULL, dir, node);
}

static bool xs_read_uint(struct xs_handle *xs, const char *dir,
                         const char *node, unsigned long max,
                         unsigned long *out)
{
    g_autofree char *val = xs_read_node(xs, dir, node);

    return parse_uint(val, max, out);
}

static bool xs_write_node(struct xs_handle *xs, const char *dir,
                          const char *node, const char *val)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);

    if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) {
        xdf_log("cannot write %s = '%s': %s", path, val, strerror(errno));
        return false;
    }
    return true;
}

static int xb_read_state(struct xs_handle *xs, const char *dir)
{
    unsigned long v;

    return xs_read_uint(xs, dir, "state", XB_CLOSED, &v) ? (int)v :
           XB_UNKNOWN;
}

/*
 * Split @path below backend directory @root
 * ("<root>/<fe-domid>/<dev-id>/<node>"): returns how many ids it names
 * (0: @root itself, 1: a domain's directory, 2: a device's directory or
 * a node in it, *@node then the rest after the dev-id, "" for none);
 * -1 when it is not under @root or an id is not a number.
 */
static int backend_path_split(const char *path, const char *root,
                              unsigned long *fe_domid, unsigned long *dev_id,
                              const char **node)
{
    static const unsigned long max[2] = { 0x7fef, INT32_MAX };
    unsigned long *ids[2] = { fe_domid, dev_id };
    size_t n = strlen(root);
    int i;

    if (strncmp(path, root, n) || (path[n] && path[n] != '/')) {
        return -1;
    }
    path += n;
    for (i = 0; i < 2; i++) {
        g_autofree char *id = NULL;

        if (!*path) {
            return i;
        }
        n = strcspn(path + 1, "/");
        id = g_strndup(path + 1, n);
        if (!parse_uint(id, max[i], ids[i])) {
            return -1;
        }
        path += 1 + n;
    }
    *node = *path ? path + 1 : "";
    return 2;
}

typedef void BackendDirFn(Host *h, const char *dir, unsigned long fe_domid,
                          unsigned long dev_id, void *opaque);

/*
 * Call @fn for each device directory "<root>/<fe-domid>/<dev-id>" of
 * frontend domain @dom (of every domain: -1).
 */
static void backend_dirs_foreach(Host *h, const char *root, long dom,
                                 BackendDirFn *fn, void *opaque)
{
    g_autofree char *one = dom < 0 ? NULL : g_strdup_printf("%ld", dom);
    unsigned int i, j, n = 1;
    char **doms = one ? &one : xs_directory(h->xs, XBT_NULL, root, &n);

    for (i = 0; doms && i < n; i++) {
        g_autofree char *dom_dir = g_strdup_printf("%s/%s", root, doms[i]);
        unsigned long fe_domid, dev_id;
        unsigned int m = 0;
        char **devs;

        if (!parse_uint(doms[i], 0x7fef, &fe_domid)) {
            continue;
        }
        devs = xs_directory(h->xs, XBT_NULL, dom_dir, &m);
        for (j = 0; devs && j < m; j++) {
            g_autofree char *dir = g_strdup_printf("%s/%s", dom_dir,
                                                   devs[j]);

            if (parse_uint(devs[j], INT32_MAX, &dev_id)) {
                fn(h, dir, fe_domid, dev_id, opaque);
            }
        }
        free(devs);
    }
    if (!one) {
        free(doms);
    }
}

static int read_state(Backend *b, const char *dir)
{
    return xb_read_state(b->xs, dir);
}

/*
 * Write @state to @be_path/state.  With @guarded, only into a directory
 * that still exists: a toolstack owns it and may remove it at any time
 * (xl destroy); never bring back one that was removed.
 */
static void xb_write_state(struct xs_handle *xs, const char *be_path,
                           bool guarded, int state)
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
                xdf_log("cannot start a XenStore transaction: %s",
                        strerror(errno));
                return;
            }
            fe = xs_read(xs, t, fe_node, &len);
            if (fe && !xs_write(xs, t, state_path, val, strlen(val))) {
                xdf_log("cannot write %s = '%s': %s", state_path, val,
                        strerror(errno));
            }
            free(fe);
            if (xs_transaction_end(xs, t, false) || errno != EAGAIN) {
                return;
            }
        }
    }
    xs_write_node(xs, be_path, "state", val);
}

static void xb_set_state(XbEnd *e, int state)
{
    if (e->state != state) {
        xdf_log("backend state %s -> %s (frontend is %s)",
                state_name(e->state), state_name(state),
                state_name(xb_read_state(e->xs, e->fe_path)));
    }
    e->state = state;
    xb_write_state(e->xs, e->be_path, e->guarded, state);
}

/*
 * Make the backend directory as a toolstack would, when nobody did: the
 * backend domain owns it, the frontend may read it.
 */
static void ensure_backend_dir(Backend *b)
{
    g_autofree char *fe = xs_read_node(b->xs, b->end.be_path, "frontend");
    char val[16];

    if (!fe && b->opt.fe_auto) {
        return;     /* removed by the toolstack: handle_watches ends us */
    }
    if (!fe) {
        struct xs_permissions perms[2] = {
            { .id = b->host->own, .perms = XS_PERM_NONE },
            { .id = b->opt.fe_domid, .perms = XS_PERM_READ },
        };

        xdf_log("creating %s (no toolstack or frontend made it)",
                b->end.be_path);
        if (!xs_mkdir(b->xs, XBT_NULL, b->end.be_path) ||
            !xs_set_permissions(b->xs, XBT_NULL, b->end.be_path, perms, 2)) {
            xdf_log("cannot create %s: %s", b->end.be_path, strerror(errno));
        }
        xs_write_node(b->xs, b->end.be_path, "frontend", b->end.fe_path);
        snprintf(val, sizeof(val), "%u", b->opt.fe_domid);
        xs_write_node(b->xs, b->end.be_path, "frontend-id", val);
        xs_write_node(b->xs, b->end.be_path, "online", "1");
    }
    xs_write_node(b->xs, b->end.be_path, "versions", "1,2");
}

/* Buffers ------------------------------------------------------------- */

/* Release a buffer's pages (the table entry is freed by dbuf_free). */
static void dbuf_release(Backend *b, Dbuf *d)
{
    if (!d->data) {
        return;
    }
    if (d->be_alloc) {
        xengntshr_unshare(b->xgs, d->data, d->n_data);
        b->be_alloc_bytes -= (uint64_t)d->n_data * DISPLIF_PAGE_SIZE;
    } else {
        xengnttab_unmap(b->xg, d->data, d->n_data);
    }
    d->data = NULL;
}

static void capture(Connector *c, Fb *f);

/*
 * A frame is read (turned into RGB: PNG files, the live view) only when
 * something wants it (frame_wanted()); the last one flipped may stay
 * unread.  Before a framebuffer goes, read it for each connector that
 * shows it unread: conn<i>-last.png, and a viewer that comes later, still
 * get it.
 */
static void keep_last(Backend *b, uint64_t cookie)
{
    Fb *f = g_hash_table_lookup(b->fbs, &cookie);
    unsigned int i;

    for (i = 0; f && i < b->nr_conn; i++) {
        if (b->conn[i].unread && b->conn[i].flipped_fb == cookie) {
            capture(&b->conn[i], f);
        }
    }
}

/* Disable every connector showing @fb (it is going away). */
static void fb_forget(Backend *b, uint64_t cookie)
{
    unsigned int i;

    keep_last(b, cookie);
    for (i = 0; i < b->nr_conn; i++) {
        if (b->conn[i].config_fb == cookie) {
            xdf_debug("connector %u: framebuffer 0x%" PRIx64 " went away: "
                      "display off", i, cookie);
            b->conn[i].config_fb = 0;
        }
    }
    g_hash_table_remove(b->fbs, &cookie);
}

static void dbuf_destroy(Backend *b, Dbuf *d)
{
    GHashTableIter it;
    gpointer key, val;
    GSList *gone = NULL, *l;

    g_hash_table_iter_init(&it, b->fbs);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        Fb *f = val;

        if (f->dbuf == d) {
            gone = g_slist_prepend(gone, f);
        }
    }
    for (l = gone; l; l = l->next) {
        fb_forget(b, ((Fb *)l->data)->cookie);
    }
    g_slist_free(gone);
    dbuf_release(b, d);
    g_hash_table_remove(b->dbufs, &d->cookie);
}

static void dbufs_destroy_all(Backend *b)
{
    GHashTableIter it;
    gpointer key, val;
    unsigned int i;

    for (i = 0; i < b->nr_conn; i++) {
        keep_last(b, b->conn[i].flipped_fb);
    }
    g_hash_table_remove_all(b->fbs);
    g_hash_table_iter_init(&it, b->dbufs);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        dbuf_release(b, val);
    }
    g_hash_table_remove_all(b->dbufs);
}

/*
 * What a device costs us (--max-device-memory): its backend-allocated
 * buffers, and each connector's copies of its picture: RGB, the RGB of
 * the last numbered PNG, the VNC framebuffer.
 */
static uint64_t picture_bytes(Backend *b, uint32_t width, uint32_t height)
{
    unsigned int per_pixel = 3;

    if (b->opt.output_dir && !b->opt.last_only) {
        per_pixel += 3;
    }
    if (b->opt.vnc_port > 0) {
        per_pixel += 4;
    }
    return (uint64_t)width * height * per_pixel;
}

/* Connector @c's copies: of the picture it keeps, or the configured one. */
static uint64_t connector_bytes(Connector *c)
{
    return MAX(picture_bytes(c->be, c->shown_width, c->shown_height),
               picture_bytes(c->be, c->cfg_width, c->cfg_height));
}

/* What device @b costs us now, leaving out connector @skip's picture. */
static uint64_t device_bytes(Backend *b, Connector *skip)
{
    uint64_t n = b->be_alloc_bytes;
    unsigned int i;

    for (i = 0; i < XDF_MAX_CONNECTORS; i++) {
        if (&b->conn[i] != skip) {
            n += connector_bytes(&b->conn[i]);
        }
    }
    return n;
}

/* Backend-allocated buffers may take XDF_BE_ALLOC_FRAMES frames. */
static uint64_t be_alloc_allowance(Backend *b)
{
    uint64_t n = 0;
    unsigned int i;

    for (i = 0; i < b->nr_conn; i++) {
        n += displif_buffer_size(b->conn[i].width, b->conn[i].height, 32);
    }
    return n * XDF_BE_ALLOC_FRAMES;
}

static int compare_refs(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* A grant ref that @refs lists more than once, 0 if none does. */
static uint32_t ref_repeated(const uint32_t *refs, uint32_t n)
{
    g_autofree uint32_t *sorted = g_memdup2(refs, n * sizeof(*refs));
    uint32_t i;

    qsort(sorted, n, sizeof(*sorted), compare_refs);
    for (i = 1; i < n; i++) {
        if (sorted[i] == sorted[i - 1]) {
            return sorted[i];
        }
    }
    return 0;
}

/*
 * Walk a page directory of @n_data refs starting at @dir_ref.  With
 * @fill NULL, read the refs into @refs; else write @fill into the
 * directory (be-alloc: the frontend granted the directory writable).
 * Returns 0 or a negative errno, having said why.
 */
static int pgdir_walk(Backend *b, uint32_t dir_ref, uint32_t n_data,
                      uint32_t *refs, const uint32_t *fill)
{
    uint32_t n_dir = displif_dir_pages(n_data), i, j, k = 0;
    uint32_t ref = dir_ref;
    int prot = fill ? PROT_READ | PROT_WRITE : PROT_READ;

    for (i = 0; i < n_dir; i++) {
        uint32_t *page;

        if (!ref) {
            req_log(b, "page directory ends after %u page(s); %u data refs "
                       "need %u", i, n_data, n_dir);
            return -EINVAL;
        }
        page = xengnttab_map_grant_ref(b->xg, b->opt.fe_domid, ref, prot);
        if (!page) {
            req_log(b, "cannot map page directory page %u (grant ref %u) of "
                       "domain %u: %s", i, ref, b->opt.fe_domid,
                       strerror(errno));
            return -EINVAL;
        }
        for (j = 0; j < DISPLIF_GREFS_PER_DIR_PAGE && k < n_data; j++, k++) {
            if (fill) {
                page[1 + j] = fill[k];
            } else {
                /* the frontend may change it: read it once */
                refs[k] = __atomic_load_n(&page[1 + j], __ATOMIC_RELAXED);
                if (!refs[k]) {
                    req_log(b, "page directory: data ref %u of %u is 0", k,
                               n_data);
                    xengnttab_unmap(b->xg, page, 1);
                    return -EINVAL;
                }
            }
        }
        ref = __atomic_load_n(&page[0], __ATOMIC_RELAXED);
        xengnttab_unmap(b->xg, page, 1);
    }
    return 0;
}

static int op_dbuf_create(Backend *b, const struct xendispl_dbuf_create_req *r)
{
    g_autofree uint32_t *refs = NULL;
    uint64_t need, bytes, used;
    uint32_t ref;
    Dbuf *d;
    int ret;

    if (!r->dbuf_cookie) {
        req_log(b, "DBUF_CREATE: dbuf_cookie 0 is not a cookie");
        return -EINVAL;
    }
    if (g_hash_table_contains(b->dbufs, &r->dbuf_cookie)) {
        req_log(b, "DBUF_CREATE: dbuf_cookie 0x%" PRIx64 " already exists",
                   r->dbuf_cookie);
        return -EEXIST;
    }
    if (g_hash_table_size(b->dbufs) >= XDF_MAX_DBUFS) {
        req_log(b, "DBUF_CREATE: already %d buffers", XDF_MAX_DBUFS);
        return -ENOMEM;
    }
    if (!r->width || !r->height || r->width > DISPLIF_MAX_SIDE ||
        r->height > DISPLIF_MAX_SIDE || !r->bpp || r->bpp > 32 ||
        r->bpp % 8) {
        req_log(b, "DBUF_CREATE: %ux%u at %u bpp is out of range", r->width,
                   r->height, r->bpp);
        return -EINVAL;
    }
    need = (uint64_t)r->data_ofs +
           displif_buffer_size(r->width, r->height, r->bpp);
    if (r->buffer_sz < need || r->buffer_sz > XDF_MAX_BUFFER_SZ) {
        req_log(b, "DBUF_CREATE: buffer_sz %u for %ux%u at %u bpp, data_ofs "
                   "%u: need %" PRIu64 " to %u", r->buffer_sz, r->width,
                   r->height, r->bpp, r->data_ofs, need, XDF_MAX_BUFFER_SZ);
        return -EINVAL;
    }
    if (r->flags & ~XENDISPL_DBUF_FLG_REQ_ALLOC) {
        req_log(b, "DBUF_CREATE: unknown flags 0x%x", r->flags);
        return -EINVAL;
    }
    if (!r->gref_directory) {
        req_log(b, "DBUF_CREATE: gref_directory is 0");
        return -EINVAL;
    }
    bytes = (uint64_t)displif_pages(r->buffer_sz) * DISPLIF_PAGE_SIZE;
    if (r->flags & XENDISPL_DBUF_FLG_REQ_ALLOC) {
        if (!b->xgs) {
            req_log(b, "DBUF_CREATE: REQ_ALLOC, but grant sharing is not "
                       "available");
            return -EOPNOTSUPP;
        }
        if (!b->be_alloc_allowed) {
            req_log(b, "DBUF_CREATE: REQ_ALLOC but %s/be-alloc is not \"1\"",
                       b->end.fe_path);
            return -EINVAL;
        }
        /* our memory: bounded by the connectors, and by our budget */
        used = b->be_alloc_bytes + bytes;
        if (used > be_alloc_allowance(b)) {
            req_log(b, "DBUF_CREATE: REQ_ALLOC of %" PRIu64 " bytes: "
                       "backend-allocated buffers would take %" PRIu64
                       " bytes, more than %d frames of the connectors (%"
                       PRIu64 ")", bytes, used, XDF_BE_ALLOC_FRAMES,
                       be_alloc_allowance(b));
            return -ENOMEM;
        }
        used = device_bytes(b, NULL) + bytes;
        if (used > b->opt.max_device_memory) {
            req_log(b, "DBUF_CREATE: REQ_ALLOC of %" PRIu64 " bytes would "
                       "take the device to %" PRIu64 " bytes, more than "
                       "--max-device-memory (%" PRIu64 ")", bytes, used,
                       b->opt.max_device_memory);
            return -ENOMEM;
        }
    }

    d = g_new0(Dbuf, 1);
    d->cookie = r->dbuf_cookie;
    d->width = r->width;
    d->height = r->height;
    d->bpp = r->bpp;
    d->buffer_sz = r->buffer_sz;
    d->data_ofs = r->data_ofs;
    d->stride = displif_stride(r->width, r->bpp);
    d->n_data = displif_pages(r->buffer_sz);
    refs = g_new0(uint32_t, d->n_data);

    if (r->flags & XENDISPL_DBUF_FLG_REQ_ALLOC) {
        d->be_alloc = true;
        d->data = xengntshr_share_pages(b->xgs, b->opt.fe_domid, d->n_data,
                                        refs, 1);
        if (!d->data) {
            ret = -errno;
            req_log(b, "DBUF_CREATE: cannot share %u pages with domain %u: %s",
                       d->n_data, b->opt.fe_domid, strerror(errno));
            g_free(d);
            return ret ? ret : -ENOMEM;
        }
        b->be_alloc_bytes += bytes;
        ret = pgdir_walk(b, r->gref_directory, d->n_data, NULL, refs);
        if (ret) {
            dbuf_release(b, d);
            g_free(d);
            return ret;
        }
        b->be_alloc_dbufs++;
    } else {
        ret = pgdir_walk(b, r->gref_directory, d->n_data, refs, NULL);
        if (ret) {
            g_free(d);
            return ret;
        }
        /* its size is what the frontend granted: a page once */
        ref = ref_repeated(refs, d->n_data);
        if (ref) {
            req_log(b, "DBUF_CREATE: the page directory lists grant ref %u "
                       "more than once: each of the %u data pages must be "
                       "granted on its own", ref, d->n_data);
            g_free(d);
            return -EINVAL;
        }
        d->data = xengnttab_map_domain_grant_refs(b->xg, d->n_data,
                                                  b->opt.fe_domid, refs,
                                                  PROT_READ);
        if (!d->data) {
            req_log(b, "DBUF_CREATE: cannot map the %u data pages of domain "
                       "%u: %s", d->n_data, b->opt.fe_domid, strerror(errno));
            g_free(d);
            return -EINVAL;
        }
    }
    g_hash_table_insert(b->dbufs, &d->cookie, d);
    xdf_debug("dbuf 0x%" PRIx64 ": %ux%u, %u bpp, %u pages%s", d->cookie,
              d->width, d->height, d->bpp, d->n_data,
              d->be_alloc ? ", backend-allocated" : "");
    return 0;
}

static int op_dbuf_destroy(Backend *b,
                           const struct xendispl_dbuf_destroy_req *r)
{
    Dbuf *d = g_hash_table_lookup(b->dbufs, &r->dbuf_cookie);

    if (!d) {
        req_log(b, "DBUF_DESTROY: no dbuf_cookie 0x%" PRIx64, r->dbuf_cookie);
        return -ENOENT;
    }
    dbuf_destroy(b, d);
    return 0;
}

static int op_fb_attach(Backend *b, const struct xendispl_fb_attach_req *r)
{
    Dbuf *d = g_hash_table_lookup(b->dbufs, &r->dbuf_cookie);
    unsigned int bpp = xdf_format_bpp(r->pixel_format);
    char name[12];
    Fb *f;

    if (!d) {
        req_log(b, "FB_ATTACH: no dbuf_cookie 0x%" PRIx64, r->dbuf_cookie);
        return -ENOENT;
    }
    if (!r->fb_cookie) {
        req_log(b, "FB_ATTACH: fb_cookie 0 is not a cookie");
        return -EINVAL;
    }
    if (g_hash_table_contains(b->fbs, &r->fb_cookie)) {
        req_log(b, "FB_ATTACH: fb_cookie 0x%" PRIx64 " already exists",
                   r->fb_cookie);
        return -EEXIST;
    }
    if (!bpp) {
        req_log(b, "FB_ATTACH: pixel format %s is not supported",
                   xdf_format_name(r->pixel_format, name));
        return -EINVAL;
    }
    if (bpp != d->bpp || !r->width || !r->height || r->width > d->width ||
        r->height > d->height) {
        req_log(b, "FB_ATTACH: %ux%u %s does not fit dbuf 0x%" PRIx64
                   " (%ux%u, %u bpp)", r->width, r->height,
                   xdf_format_name(r->pixel_format, name), d->cookie, d->width,
                   d->height, d->bpp);
        return -EINVAL;
    }
    f = g_new0(Fb, 1);
    f->cookie = r->fb_cookie;
    f->dbuf = d;
    f->width = r->width;
    f->height = r->height;
    f->format = r->pixel_format;
    g_hash_table_insert(b->fbs, &f->cookie, f);
    return 0;
}

static int op_fb_detach(Backend *b, const struct xendispl_fb_detach_req *r)
{
    if (!g_hash_table_contains(b->fbs, &r->fb_cookie)) {
        req_log(b, "FB_DETACH: no fb_cookie 0x%" PRIx64, r->fb_cookie);
        return -ENOENT;
    }
    fb_forget(b, r->fb_cookie);
    return 0;
}

static int op_set_config(Connector *c, const struct xendispl_set_config_req *r)
{
    Backend *b = c->be;
    uint64_t used;
    Fb *f;

    if (!r->fb_cookie) {
        if (r->x || r->y || r->width || r->height || r->bpp) {
            req_log(b, "connector %u: SET_CONFIG without a framebuffer but "
                       "%ux%u+%u+%u at %u bpp", c->index, r->width, r->height,
                       r->x, r->y, r->bpp);
            return -EINVAL;
        }
        if (c->config_fb) {
            req_log(b, "connector %u: display off", c->index);
        }
        c->config_fb = 0;
        return 0;
    }
    f = g_hash_table_lookup(b->fbs, &r->fb_cookie);
    if (!f) {
        req_log(b, "connector %u: SET_CONFIG: no fb_cookie 0x%" PRIx64,
                   c->index, r->fb_cookie);
        return -ENOENT;
    }
    if (!r->width || !r->height ||
        (uint64_t)r->x + r->width > c->width ||
        (uint64_t)r->y + r->height > c->height ||
        r->width > f->width || r->height > f->height ||
        r->bpp != f->dbuf->bpp) {
        req_log(b, "connector %u: SET_CONFIG %ux%u+%u+%u at %u bpp does not "
                   "fit the connector (%ux%u) or framebuffer 0x%" PRIx64
                   " (%ux%u, %u bpp)", c->index, r->width, r->height, r->x,
                   r->y, r->bpp, c->width, c->height, f->cookie, f->width,
                   f->height, f->dbuf->bpp);
        return -EINVAL;
    }
    used = device_bytes(b, c) +
           MAX(picture_bytes(b, r->width, r->height),
               picture_bytes(b, c->shown_width, c->shown_height));
    if (used > b->opt.max_device_memory) {
        req_log(b, "connector %u: SET_CONFIG %ux%u: its picture would take "
                   "the device to %" PRIu64 " bytes, more than "
                   "--max-device-memory (%" PRIu64 ")", c->index, r->width,
                   r->height, used, b->opt.max_device_memory);
        return -ENOMEM;
    }
    if (c->config_fb == 0 || c->cfg_width != r->width ||
        c->cfg_height != r->height) {
        req_log(b, "connector %u: display on, %ux%u", c->index, r->width,
                   r->height);
    }
    c->config_fb = r->fb_cookie;
    c->cfg_x = r->x;
    c->cfg_y = r->y;
    c->cfg_width = r->width;
    c->cfg_height = r->height;
    return 0;
}

/* Output -------------------------------------------------------------- */

static void save_png(Connector *c, const uint8_t *rgb, uint32_t w, uint32_t h,
                     const char *tag)
{
    Backend *b = c->be;
    g_autofree char *path = NULL;
    const char *why = NULL;

    if (!b->opt.output_dir || !rgb) {
        return;
    }
    path = g_strdup_printf("%s/conn%u-%s.png", b->opt.output_dir, c->index,
                           tag);
    if (xdf_png_write(path, rgb, w, h, &why)) {
        xdf_log("cannot write %s: %s", path, why);
        return;
    }
    xdf_debug("wrote %s (%ux%u)", path, w, h);
}

static void save_last(Backend *b)
{
    unsigned int i;

    for (i = 0; i < b->nr_conn; i++) {
        Connector *c = &b->conn[i];
        Fb *f = g_hash_table_lookup(b->fbs, &c->flipped_fb);

        if (c->unread && f) {
            capture(c, f);      /* read now what was not read at the flip */
        }
        save_png(c, c->shown, c->shown_width, c->shown_height, "last");
    }
}

/*
 * Take a copy of what the connector shows now: the configured size, read
 * from @f at x, y (clipped to the framebuffer; outside it is black).
 */
/*
 * The live view: connector i is a VNC desktop on 127.0.0.1, port
 * vnc_port + i, showing the last frame flipped (any VNC viewer,
 * e.g. "vncviewer 127.0.0.1::5900").  It is a console: its viewers type
 * into the guest (kbd_vnc_key).  With --vnc-password-file, only viewers
 * that know the password (VNC authentication) get in.  A port we cannot
 * listen on ends the backend: another process holding it would get our
 * viewers, and what they type.
 */
static void kbd_vnc_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl);
static enum rfbNewClientAction vnc_new_client(rfbClientPtr cl);
static void kbd_vnc_pointer(int mask, int x, int y, rfbClientPtr cl);
static void vnc_close(Connector *c);

static void vnc_show(Connector *c)
{
    Backend *b = c->be;
    uint32_t w = c->shown_width, h = c->shown_height;
    size_t i;

    if (b->opt.vnc_port <= 0 || !w || !h) {
        return;
    }
    if (!c->vnc) {
        int argc = 0;

        c->vnc_fb = g_malloc0((size_t)w * h * 4);
        c->vnc = rfbGetScreen(&argc, NULL, w, h, 8, 3, 4);
        if (!c->vnc) {
            xdf_log("connector %u: cannot start the VNC server", c->index);
            g_free(c->vnc_fb);
            c->vnc_fb = NULL;
            b->opt.vnc_port = -1;
            return;
        }
        c->vnc->desktopName = "xen-displfront";
        c->vnc->port = b->opt.vnc_port + c->index;
        c->vnc->ipv6port = 0;
        c->vnc->listenInterface = htonl(INADDR_LOOPBACK);
        c->vnc->alwaysShared = TRUE;
        c->vnc->cursor = NULL;  /* show the frame, no pointer drawn in */
        c->vnc->frameBuffer = (char *)c->vnc_fb;
        /* the viewers' input goes to the connector's vkbd device */
        c->vnc->screenData = c;
        c->vnc->kbdAddEvent = kbd_vnc_key;
        c->vnc->ptrAddEvent = kbd_vnc_pointer;
        c->vnc->newClientHook = vnc_new_client;
        if (b->opt.vnc_passwords[0]) {
            c->vnc->authPasswdData = b->opt.vnc_passwords;
            c->vnc->passwordCheck = rfbCheckPasswordByList;
        }
        errno = 0;
        rfbInitServer(c->vnc);
        if (c->vnc->listenSock == RFB_INVALID_SOCKET) {
            /* rfbListenOnTCPPort() leaves bind()'s or listen()'s errno */
            xdf_log("connector %u: cannot listen on 127.0.0.1:%d for the "
                    "live view: %s; exiting", c->index, c->vnc->port,
                    errno ? strerror(errno) : "unknown error");
            vnc_close(c);
            b->opt.vnc_port = -1;
            b->host->exit_status = 1;
            b->host->quit = true;
            return;
        }
        xdf_log("connector %u: live view on VNC 127.0.0.1:%d%s", c->index,
                c->vnc->port, b->opt.vnc_passwords[0] ? ", password" :
                " (no password: anyone on this host can view it and type "
                "into the guest)");
    } else if ((uint32_t)c->vnc->width != w ||
               (uint32_t)c->vnc->height != h) {
        uint8_t *old = c->vnc_fb;

        c->vnc_fb = g_malloc0((size_t)w * h * 4);
        rfbNewFramebuffer(c->vnc, (char *)c->vnc_fb, w, h, 8, 3, 4);
        g_free(old);
    }
    /* libvncserver's default 32 bpp layout: R, G, B, pad in memory */
    for (i = 0; i < (size_t)w * h; i++) {
        memcpy(c->vnc_fb + i * 4, c->shown + i * 3, 3);
    }
    rfbMarkRectAsModified(c->vnc, 0, 0, w, h);
}

/* A viewer came: show it the frame flipped last, read now if need be. */
static enum rfbNewClientAction vnc_new_client(rfbClientPtr cl)
{
    Connector *c = cl->screen->screenData;
    Fb *f = g_hash_table_lookup(c->be->fbs, &c->flipped_fb);

    if (c->unread && f) {
        capture(c, f);
    }
    return RFB_CLIENT_ACCEPT;
}

static void vnc_poll(Backend *b)
{
    unsigned int i;

    for (i = 0; i < XDF_MAX_CONNECTORS; i++) {
        if (b->conn[i].vnc) {
            rfbProcessEvents(b->conn[i].vnc, 0);
        }
    }
}

static void vnc_close(Connector *c)
{
    if (c->vnc) {
        rfbShutdownServer(c->vnc, TRUE);
        rfbScreenCleanup(c->vnc);
        c->vnc = NULL;
    }
    g_free(c->vnc_fb);
    c->vnc_fb = NULL;
}

static void capture(Connector *c, Fb *f)
{
    Backend *b = c->be;
    Dbuf *d = f->dbuf;
    uint32_t w = c->cfg_width, h = c->cfg_height, cw = 0, ch = 0, y;
    size_t bytes = (size_t)w * h * 3;
    unsigned int cpp = d->bpp / 8;     /* bytes a pixel */
    bool changed;

    c->unread = false;
    if (c->shown_width != w || c->shown_height != h) {
        /* every copy we keep is of the configured size (device_bytes) */
        g_free(c->shown);
        g_free(c->saved);
        c->saved = NULL;
        c->shown = g_malloc0(bytes);
        c->shown_width = w;
        c->shown_height = h;
    } else {
        memset(c->shown, 0, bytes);
    }
    if (c->cfg_x < f->width && c->cfg_y < f->height) {
        cw = MIN(w, f->width - c->cfg_x);
        ch = MIN(h, f->height - c->cfg_y);
    }
    for (y = 0; y < ch; y++) {
        xdf_to_rgb(c->shown + (size_t)y * w * 3,
                   d->data + d->data_ofs + (size_t)(c->cfg_y + y) * d->stride +
                   (size_t)c->cfg_x * cpp, d->stride, cw, 1, f->format);
    }
    vnc_show(c);

    if (!b->opt.output_dir) {
        return;
    }
    changed = !c->saved || memcmp(c->saved, c->shown, bytes);
    if ((b->opt.on_change && changed) ||
        (b->opt.every && c->frames % b->opt.every == 0)) {
        char tag[24];

        snprintf(tag, sizeof(tag), "%04lu", c->frames);
        save_png(c, c->shown, w, h, tag);
        if (changed) {
            g_free(c->saved);
            c->saved = g_memdup2(c->shown, bytes);
        }
    }
}

/*
 * Is a frame just flipped wanted at once: a numbered PNG is due (or, with
 * --on-change, may be), or the live view has viewers (or is still to be
 * opened, at the first frame)?  Reading every frame into RGB costs more
 * than everything else a flip does (11 ms at 1080p; under an emulated
 * CPU it fell seconds behind); what is not wanted is read when it is:
 * SIGUSR1, a viewer coming, the framebuffer going.
 */
static bool frame_wanted(Connector *c)
{
    Options *o = &c->be->opt;

    if (o->last_only) {
        return false;
    }
    return o->on_change || (o->every && c->frames % o->every == 0) ||
           (o->vnc_port > 0 && (!c->vnc || c->vnc->clientHead));
}

static int op_pg_flip(Connector *c, const struct xendispl_page_flip_req *r)
{
    Backend *b = c->be;
    Fb *f;

    if (!c->config_fb) {
        xdf_debug("connector %u: PG_FLIP before SET_CONFIG", c->index);
        return -EPERM;          /* as displ_be */
    }
    f = g_hash_table_lookup(b->fbs, &r->fb_cookie);
    if (!f) {
        req_log(b, "connector %u: PG_FLIP: no fb_cookie 0x%" PRIx64, c->index,
                   r->fb_cookie);
        return -EINVAL;
    }
    c->frames++;
    b->frames++;
    c->flipped_fb = f->cookie;
    c->unread = true;
    if (frame_wanted(c)) {
        capture(c, f);
    }
    return 0;
}

/* Write an EDID into the buffer the request's page directory lists. */
static int op_get_edid(Connector *c, const struct xendispl_get_edid_req *r,
                       uint32_t *edid_sz)
{
    Backend *b = c->be;
    uint32_t n, ref;
    uint8_t *page;
    int ret;

    if (r->buffer_sz < XDF_EDID_SIZE || r->buffer_sz > XENDISPL_EDID_MAX_SIZE
        || !r->gref_directory) {
        req_log(b, "connector %u: GET_EDID: buffer_sz %u (need %d to %d) or "
                   "gref_directory %u is bad", c->index, r->buffer_sz,
                   XDF_EDID_SIZE, XENDISPL_EDID_MAX_SIZE, r->gref_directory);
        return -EINVAL;
    }
    n = displif_pages(r->buffer_sz);
    {
        g_autofree uint32_t *refs = g_new0(uint32_t, n);

        ret = pgdir_walk(b, r->gref_directory, n, refs, NULL);
        if (ret) {
            return ret;
        }
        ref = refs[0];
    }
    page = xengnttab_map_grant_ref(b->xg, b->opt.fe_domid, ref,
                                   PROT_READ | PROT_WRITE);
    if (!page) {
        req_log(b, "connector %u: GET_EDID: cannot map grant ref %u of domain "
                   "%u writable: %s", c->index, ref, b->opt.fe_domid,
                   strerror(errno));
        return -EINVAL;
    }
    xdf_edid_build(page, c->width, c->height);
    xengnttab_unmap(b->xg, page, 1);
    *edid_sz = XDF_EDID_SIZE;
    return 0;
}

/* Transport ----------------------------------------------------------- */

static void send_flip_event(Connector *c, uint64_t fb_cookie)
{
    struct xendispl_event_page *page = c->evt_page;
    uint32_t prod = page->in_prod;
    uint32_t cons = __atomic_load_n(&page->in_cons, __ATOMIC_ACQUIRE);
    struct xendispl_evt *evt;

    /* full (or a bogus in_cons): drop the event, as displ_be */
    if (prod - cons >= XENDISPL_IN_RING_LEN) {
        if (!c->evt_dropped++) {
            xdf_log("connector %u: event ring full (in_prod %u, in_cons "
                    "%u): dropping frame-done events", c->index, prod, cons);
        }
        return;
    }
    evt = &XENDISPL_IN_RING_REF(page, prod);
    memset(evt, 0, sizeof(*evt));
    evt->id = c->evt_id++;
    evt->type = XENDISPL_EVT_PG_FLIP;
    evt->op.pg_flip.fb_cookie = fb_cookie;
    xen_wmb();
    page->in_prod = prod + 1;
    if (xenevtchn_notify(c->be->xe, c->evt_port) < 0) {
        xdf_log("connector %u: cannot notify event port %d: %s", c->index,
                c->evt_port, strerror(errno));
    }
}

static int handle(Connector *c, const struct xendispl_req *req,
                  struct xendispl_resp *rsp)
{
    Backend *b = c->be;
    bool on_conn0 = c->index == 0;

    switch (req->operation) {
    case XENDISPL_OP_DBUF_CREATE:
        return on_conn0 ? op_dbuf_create(b, &req->op.dbuf_create) : -EINVAL;
    case XENDISPL_OP_DBUF_DESTROY:
        return on_conn0 ? op_dbuf_destroy(b, &req->op.dbuf_destroy) :
               -EINVAL;
    case XENDISPL_OP_FB_ATTACH:
        return on_conn0 ? op_fb_attach(b, &req->op.fb_attach) : -EINVAL;
    case XENDISPL_OP_FB_DETACH:
        return on_conn0 ? op_fb_detach(b, &req->op.fb_detach) : -EINVAL;
    case XENDISPL_OP_SET_CONFIG:
        return op_set_config(c, &req->op.set_config);
    case XENDISPL_OP_PG_FLIP:
        return op_pg_flip(c, &req->op.pg_flip);
    case XENDISPL_OP_GET_EDID:
        return op_get_edid(c, &req->op.get_edid, &rsp->op.get_edid.edid_sz);
    default:
        req_log(b, "connector %u: unknown operation 0x%02x (id %u)", c->index,
                   req->operation, req->id);
        return -EINVAL;
    }
}

/*
 * Answer what is on the connector's request ring.  Returns false when the
 * frontend broke the ring (the caller disconnects).
 */
static bool serve_ring(Connector *c)
{
    Backend *b = c->be;
    uint64_t flipped[XENDISPL_IN_RING_LEN];
    unsigned int n_flipped = 0, i;
    int more;

    do {
        RING_IDX rc = c->ring.req_cons;
        RING_IDX rp = c->ring.sring->req_prod;

        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(&c->ring, rp)) {
            xdf_log("connector %u: frontend set req_prod to %u with %u "
                    "responses given: more than the ring's %u slots",
                    c->index, rp, c->ring.rsp_prod_pvt, RING_SIZE(&c->ring));
            return false;
        }
        for (; rc != rp && !RING_REQUEST_CONS_OVERFLOW(&c->ring, rc); rc++) {
            struct xendispl_req req;
            struct xendispl_resp *rsp;

            memcpy(&req, RING_GET_REQUEST(&c->ring, rc), sizeof(req));
            c->ring.req_cons = rc + 1;
            rsp = RING_GET_RESPONSE(&c->ring, c->ring.rsp_prod_pvt);
            memset(rsp, 0, sizeof(*rsp));
            rsp->id = req.id;
            rsp->operation = req.operation;
            rsp->status = handle(c, &req, rsp);
            xdf_debug("connector %u: op 0x%02x id %u -> %d", c->index,
                      req.operation, req.id, rsp->status);
            if (rsp->status) {
                b->errors++;
            } else if (req.operation == XENDISPL_OP_PG_FLIP &&
                       n_flipped < G_N_ELEMENTS(flipped)) {
                flipped[n_flipped++] = req.op.pg_flip.fb_cookie;
            }
            c->ring.rsp_prod_pvt++;
        }
        RING_PUSH_RESPONSES(&c->ring);
        RING_FINAL_CHECK_FOR_REQUESTS(&c->ring, more);
    } while (more);

    /*
     * Always notify: displif.h lets a frontend hold notifications off
     * with rsp_event, but a frontend that never moves it would wait
     * forever; an extra event costs nothing.
     */
    if (xenevtchn_notify(b->xe, c->req_port) < 0) {
        xdf_log("connector %u: cannot notify request port %d: %s",
                c->index, c->req_port, strerror(errno));
        return false;
    }
    for (i = 0; i < n_flipped; i++) {
        send_flip_event(c, flipped[i]);
    }
    return true;
}

static void connector_unmap(Connector *c)
{
    Backend *b = c->be;

    if (c->ring_page) {
        xengnttab_unmap(b->xg, c->ring_page, 1);
        c->ring_page = NULL;
    }
    if (c->evt_page) {
        xengnttab_unmap(b->xg, c->evt_page, 1);
        c->evt_page = NULL;
    }
    if (c->req_port >= 0) {
        xenevtchn_unbind(b->xe, c->req_port);
        c->req_port = -1;
    }
    if (c->evt_port >= 0) {
        xenevtchn_unbind(b->xe, c->evt_port);
        c->evt_port = -1;
    }
    c->config_fb = 0;
}

static void disconnect(Backend *b)
{
    unsigned int i;

    if (!b->connected) {
        return;
    }
    dbufs_destroy_all(b);
    for (i = 0; i < b->nr_conn; i++) {
        connector_unmap(&b->conn[i]);
    }
    b->connected = false;
    xdf_log("disconnected from %s", b->end.fe_path);
}

static bool read_connectors(Backend *b)
{
    unsigned int i;

    for (i = 0; i < XDF_MAX_CONNECTORS; i++) {
        g_autofree char *dir = g_strdup_printf("%s/%u", b->end.fe_path, i);
        g_autofree char *res = xs_read_node(b->xs, dir,
                                            XENDISPL_FIELD_RESOLUTION);
        Connector *c = &b->conn[i];
        uint32_t w, h;

        if (!res) {
            break;
        }
        if (displif_parse_resolution(res, &w, &h)) {
            xdf_log("%s/%s is '%s', not WIDTHxHEIGHT with sides 1 to %d",
                    dir, XENDISPL_FIELD_RESOLUTION, res, DISPLIF_MAX_SIDE);
            return false;
        }
        if (i >= b->nr_conn || c->width != w || c->height != h) {
            xdf_log("connector %u: %ux%u", i, w, h);
        }
        c->be = b;
        c->index = i;
        c->width = w;
        c->height = h;
    }
    if (!i) {
        xdf_log("%s/0/%s is missing: no connector", b->end.fe_path,
                XENDISPL_FIELD_RESOLUTION);
        return false;
    }
    b->nr_conn = i;
    return true;
}

static bool connector_map(Connector *c)
{
    Backend *b = c->be;
    g_autofree char *dir = g_strdup_printf("%s/%u", b->end.fe_path, c->index);
    unsigned long req_ref, evt_ref, req_chn, evt_chn;
    int port;

    if (!xs_read_uint(b->xs, dir, XENDISPL_FIELD_REQ_RING_REF, UINT32_MAX,
                      &req_ref) ||
        !xs_read_uint(b->xs, dir, XENDISPL_FIELD_EVT_RING_REF, UINT32_MAX,
                      &evt_ref) ||
        !xs_read_uint(b->xs, dir, XENDISPL_FIELD_REQ_CHANNEL, UINT32_MAX,
                      &req_chn) ||
        !xs_read_uint(b->xs, dir, XENDISPL_FIELD_EVT_CHANNEL, UINT32_MAX,
                      &evt_chn)) {
        xdf_log("%s: %s, %s, %s or %s is missing or not a number", dir,
                XENDISPL_FIELD_REQ_RING_REF, XENDISPL_FIELD_EVT_RING_REF,
                XENDISPL_FIELD_REQ_CHANNEL, XENDISPL_FIELD_EVT_CHANNEL);
        return false;
    }
    c->ring_page = xengnttab_map_grant_ref(b->xg, b->opt.fe_domid, req_ref,
                                           PROT_READ | PROT_WRITE);
    if (!c->ring_page) {
        xdf_log("connector %u: cannot map request ring (grant ref %lu of "
                "domain %u): %s", c->index, req_ref, b->opt.fe_domid,
                strerror(errno));
        return false;
    }
    BACK_RING_INIT(&c->ring, (struct xen_displif_sring *)c->ring_page,
                   DISPLIF_PAGE_SIZE);
    c->evt_page = xengnttab_map_grant_ref(b->xg, b->opt.fe_domid, evt_ref,
                                          PROT_READ | PROT_WRITE);
    if (!c->evt_page) {
        xdf_log("connector %u: cannot map event page (grant ref %lu of "
                "domain %u): %s", c->index, evt_ref, b->opt.fe_domid,
                strerror(errno));
        return false;
    }
    port = xenevtchn_bind_interdomain(b->xe, b->opt.fe_domid, req_chn);
    if (port < 0) {
        xdf_log("connector %u: cannot bind request event channel %lu of "
                "domain %u: %s", c->index, req_chn, b->opt.fe_domid,
                strerror(errno));
        return false;
    }
    c->req_port = port;
    port = xenevtchn_bind_interdomain(b->xe, b->opt.fe_domid, evt_chn);
    if (port < 0) {
        xdf_log("connector %u: cannot bind event channel %lu of domain %u: "
                "%s", c->index, evt_chn, b->opt.fe_domid, strerror(errno));
        return false;
    }
    c->evt_port = port;
    c->evt_id = 0;
    c->evt_dropped = 0;
    xdf_debug("connector %u: rings mapped, ports %d/%d", c->index,
              c->req_port, c->evt_port);
    return true;
}

/* Map what the frontend published; on failure nothing stays mapped. */
static bool connect_frontend(Backend *b)
{
    unsigned long v = 0;
    unsigned int i;

    if (!read_connectors(b)) {
        return false;
    }
    b->be_alloc_allowed = xs_read_uint(b->xs, b->end.fe_path,
                                       XENDISPL_FIELD_BE_ALLOC, 1, &v) &&
                          v == 1;
    b->connected = true;
    for (i = 0; i < b->nr_conn; i++) {
        if (!connector_map(&b->conn[i])) {
            disconnect(b);
            return false;
        }
    }
    xdf_log("connected to %s: %u connector(s), version %s, be-alloc %s",
            b->end.fe_path, b->nr_conn,
            xs_read_uint(b->xs, b->end.fe_path, "version", 99, &v) ?
            (v == 2 ? "2" : "1") : "(not set)",
            b->be_alloc_allowed ? "on" : "off");
    return true;
}

/* State machine ------------------------------------------------------- */

/*
 * Close (a broken ring, or the frontend's nodes are bad) and wait for the
 * frontend to start over; a frontend that does not react within
 * XDF_RESET_WAIT_MS (a dead one) gets InitWait anyway.
 */
/* Close the connection and wait for the frontend to start again. */
static void xb_close_and_wait(XbEnd *e)
{
    e->ops->disconnect(e);
    xb_set_state(e, XB_CLOSING);
    xb_set_state(e, XB_CLOSED);
    e->reset_deadline = now_ms() + XDF_RESET_WAIT_MS;
}

/*
 * Bring our state in line with the frontend's; run on every change of
 * either directory.  Idempotent.
 */
/*
 * Drive device end @e from the frontend's state and our own node: the
 * XenBus state machine of displif.h and kbdif.h.
 */
static void xb_reconcile(XbEnd *e)
{
    int fe = xb_read_state(e->xs, e->fe_path);
    int ours = xb_read_state(e->xs, e->be_path);
    unsigned long online;

    /*
     * A toolstack removing the device (xl destroy, xl vdispl-detach)
     * writes online = 0 and state = Closing, and waits for Closed.
     */
    if (xs_read_uint(e->xs, e->be_path, "online", 1, &online) && !online) {
        if (e->state != XB_CLOSED) {
            xdf_log("the toolstack took %s offline: closing", e->be_path);
            e->ops->disconnect(e);
            e->state = ours;
            xb_set_state(e, XB_CLOSED);
        }
        return;
    }

    if (ours != e->state) {
        /* a frontend or toolstack (re)wrote the nodes, or removed them */
        xdf_debug("backend state node is %s, we wrote %s", state_name(ours),
                  state_name(e->state));
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
                xdf_log("cannot connect to %s: closing; waiting for the "
                        "frontend to start again", e->fe_path);
                xb_close_and_wait(e);
            }
        }
        break;
    case XB_CONNECTED:
        if (fe != XB_INITIALISED && fe != XB_CONNECTED) {
            xdf_log("frontend went %s", state_name(fe));
            e->ops->disconnect(e);
            xb_set_state(e, XB_INITWAIT);
        }
        break;
    case XB_CLOSED:
        /* wait for the frontend to restart (or, at start-up, give up) */
        if (fe != XB_INITIALISED && fe != XB_CONNECTED) {
            xb_set_state(e, XB_INITWAIT);
        } else if (e->reset_deadline && now_ms() >= e->reset_deadline) {
            xdf_log("frontend still %s after %d ms: waiting for it anyway",
                    state_name(fe), XDF_RESET_WAIT_MS);
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

#define BACKEND_OF(e) ((Backend *)((char *)(e) - offsetof(Backend, end)))

static void vdispl_prepare(XbEnd *e)
{
    ensure_backend_dir(BACKEND_OF(e));
}

static bool vdispl_connect(XbEnd *e)
{
    return connect_frontend(BACKEND_OF(e));
}

static void vdispl_disconnect(XbEnd *e)
{
    disconnect(BACKEND_OF(e));
}

static const XbEndOps vdispl_ops = {
    .prepare = vdispl_prepare,
    .connect = vdispl_connect,
    .disconnect = vdispl_disconnect,
};

/* Start serving @e: our nodes, then InitWait or, see below, Closed. */
static void xb_start(XbEnd *e)
{
    int fe = xb_read_state(e->xs, e->fe_path);

    e->ops->prepare(e);
    e->state = xb_read_state(e->xs, e->be_path);
    if (fe == XB_CONNECTED) {
        /* connected to an earlier backend instance: make it start over */
        xdf_log("frontend %s is already Connected: asking it to start over",
                e->fe_path);
        xb_close_and_wait(e);
    } else {
        xb_set_state(e, XB_INITWAIT);
    }
    xb_reconcile(e);
}

static void summary(Backend *b)
{
    GString *s = g_string_new("summary:");
    unsigned int i;

    for (i = 0; i < b->nr_conn; i++) {
        Connector *c = &b->conn[i];

        g_string_append_printf(s, "%s conn%u %lu frames", i ? ";" : "", i,
                               c->frames);
        if (c->frames) {
            g_string_append_printf(s, ", last %ux%u", c->shown_width,
                                   c->shown_height);
        }
    }
    if (!b->nr_conn) {
        g_string_append(s, " no connector seen");
    }
    g_string_append_printf(s, "; %lu error responses; %lu backend-allocated "
                           "buffers", b->errors, b->be_alloc_dbufs);
    xdf_log("%s", s->str);
    g_string_free(s, TRUE);
}

/* Input: kbdif (vkbd) devices ------------------------------------------ */

/*
 * vkbd devices are found under two backend directories of ours: "vkbd"
 * (what our QEMU device writes, as a toolstack would) and "vinput" (what
 * libxl writes for vkb = ["backend-type=linux,..."]).  One is served
 * while its unique-id names exactly one connector of the vdispl devices
 * we serve, of the same frontend domain; the backend directory is always
 * someone else's (toolstack or device): we never create it.
 */
static const char *const kbd_kinds[2] = { XENKBD_DRIVER_NAME, "vinput" };

/* A size node of the backend directory: 1 to INT32_MAX, else @dflt. */
static uint32_t kbd_read_size(Vkbd *k, const char *node, uint32_t dflt)
{
    g_autofree char *val = xs_read_node(k->host->xs, k->end.be_path, node);
    unsigned long v;

    if (!parse_uint(val, INT32_MAX, &v) || !v) {
        xdf_log("%s/%s is '%s', not a size from 1 to %d: using %u",
                k->end.be_path, node, val ? val : "(missing)", INT32_MAX,
                dflt);
        return dflt;
    }
    return v;
}

/*
 * What we offer: an absolute pointer, as large as the linked connector
 * unless the toolstack set a size.  Written in a transaction, only into
 * a directory that still exists.
 */
static void kbd_write_features(Vkbd *k)
{
    struct xs_handle *xs = k->host->xs;

    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        g_autofree char *fe = NULL;
        g_autofree char *width = NULL;
        g_autofree char *height = NULL;
        g_autofree char *path = NULL;
        char val[16];

        if (t == XBT_NULL) {
            xdf_log("cannot start a XenStore transaction: %s",
                    strerror(errno));
            return;
        }
        fe = xs_t_read(xs, t, k->end.be_path, "frontend");
        if (fe) {
            path = g_strdup_printf("%s/%s", k->end.be_path,
                                   XENKBD_FIELD_FEAT_ABS_POINTER);
            xs_write(xs, t, path, "1", 1);
            width = xs_t_read(xs, t, k->end.be_path, XENKBD_FIELD_WIDTH);
            if (!width) {
                g_free(path);
                path = g_strdup_printf("%s/%s", k->end.be_path,
                                       XENKBD_FIELD_WIDTH);
                snprintf(val, sizeof(val), "%u", k->conn_width);
                xs_write(xs, t, path, val, strlen(val));
            }
            height = xs_t_read(xs, t, k->end.be_path, XENKBD_FIELD_HEIGHT);
            if (!height) {
                g_free(path);
                path = g_strdup_printf("%s/%s", k->end.be_path,
                                       XENKBD_FIELD_HEIGHT);
                snprintf(val, sizeof(val), "%u", k->conn_height);
                xs_write(xs, t, path, val, strlen(val));
            }
        }
        if (xs_transaction_end(xs, t, false)) {
            break;
        }
        if (errno != EAGAIN) {
            xdf_log("cannot write the features of %s: %s", k->end.be_path,
                    strerror(errno));
            return;
        }
    }
    k->width = kbd_read_size(k, XENKBD_FIELD_WIDTH, k->conn_width);
    k->height = kbd_read_size(k, XENKBD_FIELD_HEIGHT, k->conn_height);
}

/* Map what the frontend published; on failure nothing stays mapped. */
static bool kbd_connect(Vkbd *k)
{
    Host *h = k->host;
    unsigned long gref, evtchn, v;
    g_autofree char *abs = NULL;
    int port;

    if (!xs_read_uint(h->xs, k->end.fe_path, XENKBD_FIELD_RING_GREF,
                      UINT32_MAX, &gref) ||
        !xs_read_uint(h->xs, k->end.fe_path, XENKBD_FIELD_EVT_CHANNEL,
                      UINT32_MAX, &evtchn)) {
        xdf_log("%s: %s or %s is missing or not a number", k->end.fe_path,
                XENKBD_FIELD_RING_GREF, XENKBD_FIELD_EVT_CHANNEL);
        return false;
    }
    abs = xs_read_node(h->xs, k->end.fe_path, XENKBD_FIELD_REQ_ABS_POINTER);
    k->abs = parse_uint(abs, UINT32_MAX, &v) && v;
    k->page = xengnttab_map_grant_ref(h->xg, k->fe_domid, gref,
                                      PROT_READ | PROT_WRITE);
    if (!k->page) {
        xdf_log("cannot map the shared page (grant ref %lu of domain %u): "
                "%s", gref, k->fe_domid, strerror(errno));
        return false;
    }
    port = xenevtchn_bind_interdomain(h->xe, k->fe_domid, evtchn);
    if (port < 0) {
        xdf_log("cannot bind event channel %lu of domain %u: %s", evtchn,
                k->fe_domid, strerror(errno));
        xengnttab_unmap(h->xg, k->page, 1);
        k->page = NULL;
        return false;
    }
    k->port = port;
    /* the frontend may change it: read once, then keep our own count */
    k->in_prod = __atomic_load_n(&k->page->in_prod, __ATOMIC_RELAXED);
    memset(&k->ptr, 0, sizeof(k->ptr));
    k->dropping = false;
    k->connected = true;
    xdf_log("connected to %s: %s pointer, %ux%u; input of connector %u of "
            "%s", k->end.fe_path, k->abs ? "absolute" : "relative", k->width,
            k->height, k->conn, k->disp->end.fe_path);
    return true;
}

static void kbd_disconnect(Vkbd *k)
{
    Host *h = k->host;

    if (!k->connected) {
        return;
    }
    xengnttab_unmap(h->xg, k->page, 1);
    k->page = NULL;
    xenevtchn_unbind(h->xe, k->port);
    k->port = -1;
    k->connected = false;
    xdf_log("disconnected from %s", k->end.fe_path);
}

#define VKBD_OF(e) ((Vkbd *)((char *)(e) - offsetof(Vkbd, end)))

static void vkbd_prepare(XbEnd *e)
{
    kbd_write_features(VKBD_OF(e));
}

static bool vkbd_connect(XbEnd *e)
{
    return kbd_connect(VKBD_OF(e));
}

static void vkbd_disconnect(XbEnd *e)
{
    kbd_disconnect(VKBD_OF(e));
}

static const XbEndOps vkbd_ops = {
    .prepare = vkbd_prepare,
    .connect = vkbd_connect,
    .disconnect = vkbd_disconnect,
    .frontend_first = true,     /* xen-kbdfront: Connected after InitWait */
};

/*
 * Put @ev on the frontend's event ring.  A full ring (or a bogus in_cons:
 * the page is the frontend's) drops the event; a burst of drops is
 * logged once.
 */
static void kbd_send(Vkbd *k, const union xenkbd_in_event *ev)
{
    struct xenkbd_page *page = k->page;
    uint32_t cons;

    if (!k->connected) {
        return;
    }
    cons = __atomic_load_n(&page->in_cons, __ATOMIC_ACQUIRE);
    if (k->in_prod - cons >= XENKBD_IN_RING_LEN) {
        k->dropped++;
        if (!k->dropping) {
            k->dropping = true;
            xdf_log("event ring full (in_prod %u, in_cons %u): dropping "
                    "input events", k->in_prod, cons);
        }
        return;
    }
    if (k->dropping) {
        k->dropping = false;
        xdf_log("event ring has room again; %lu input events dropped so "
                "far", k->dropped);
    }
    memcpy(&XENKBD_IN_RING_REF(page, k->in_prod), ev, sizeof(*ev));
    xen_wmb();
    k->in_prod++;
    __atomic_store_n(&page->in_prod, k->in_prod, __ATOMIC_RELAXED);
    k->events++;
    if (xenevtchn_notify(k->host->xe, k->port) < 0) {
        xdf_log("cannot notify event port %d: %s", k->port, strerror(errno));
    }
}

/* The vkbd device linked to connector @c, if any. */
static Vkbd *kbd_of(Connector *c)
{
    Host *h = c->be->host;
    unsigned int i;

    for (i = 0; i < h->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(h->kbds, i);

        if (k->disp == c->be && k->conn == c->index) {
            return k;
        }
    }
    return NULL;
}

/* A VNC viewer's key, on the live view of connector screenData. */
static void kbd_vnc_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    Connector *c = cl->screen->screenData;
    Vkbd *k = kbd_of(c);
    const char *saved = log_tag;
    union xenkbd_in_event ev;
    uint32_t key = xdf_keysym_to_key(keysym);

    if (!k || !k->connected) {
        xdf_debug("connector %u: VNC keysym 0x%x: no vkbd device connected",
                  c->index, (unsigned int)keysym);
        return;
    }
    log_tag = k->tag;
    if (!key) {
        xdf_debug("VNC keysym 0x%x has no Linux key code: dropped",
                  (unsigned int)keysym);
    } else {
        xdf_debug("VNC keysym 0x%x %s: key %u", (unsigned int)keysym,
                  down ? "down" : "up", key);
        memset(&ev, 0, sizeof(ev));
        ev.key.type = XENKBD_TYPE_KEY;
        ev.key.pressed = !!down;
        ev.key.keycode = key;
        kbd_send(k, &ev);
    }
    log_tag = saved;
}

/*
 * A VNC viewer's pointer.  Its pixel is the connector's pixel at the
 * configured offset (SET_CONFIG's x, y), scaled to the frontend's size
 * where the toolstack set another.
 */
static void kbd_vnc_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    Connector *c = cl->screen->screenData;
    Vkbd *k = kbd_of(c);
    const char *saved = log_tag;
    union xenkbd_in_event ev[XDF_POINTER_MAX_EVENTS];
    uint64_t cx, cy;
    unsigned int n, i;

    rfbDefaultPtrAddEvent(mask, x, y, cl);  /* the viewers' cursor */
    if (!k || !k->connected) {
        return;
    }
    log_tag = k->tag;
    cx = (uint64_t)c->cfg_x + CLAMP(x, 0, MAX(cl->screen->width - 1, 0));
    cy = (uint64_t)c->cfg_y + CLAMP(y, 0, MAX(cl->screen->height - 1, 0));
    if (k->width != k->conn_width) {
        cx = cx * k->width / k->conn_width;
    }
    if (k->height != k->conn_height) {
        cy = cy * k->height / k->conn_height;
    }
    cx = MIN(cx, k->width);
    cy = MIN(cy, k->height);
    n = xdf_pointer_events(&k->ptr, mask & 0x1f, cx, cy, k->abs, ev);
    xdf_debug("VNC pointer %d,%d buttons 0x%x: %u event(s)", x, y, mask, n);
    for (i = 0; i < n; i++) {
        kbd_send(k, &ev[i]);
    }
    log_tag = saved;
}

static void kbd_start(Vkbd *k)
{
    Host *h = k->host;
    const char *saved = log_tag;

    log_tag = k->tag;
    if (!xs_watch(h->xs, k->end.fe_path, k->end.fe_path)) {
        xdf_log("cannot watch %s: %s", k->end.fe_path, strerror(errno));
    }
    xdf_log("serving %s from %s: the input of connector %u (%ux%u) of %s",
            k->end.fe_path, k->end.be_path, k->conn, k->conn_width,
            k->conn_height, k->disp->end.fe_path);
    xb_start(&k->end);
    log_tag = saved;
}

/* Stop serving @k: its connection closed, as device_stop() does. */
static void kbd_stop(Vkbd *k, bool closed_by_toolstack)
{
    Host *h = k->host;
    const char *saved = log_tag;

    log_tag = k->tag;
    kbd_disconnect(k);
    if (!closed_by_toolstack &&
        xb_read_state(h->xs, k->end.be_path) != XB_UNKNOWN) {
        xb_set_state(&k->end, XB_CLOSING);
        xb_set_state(&k->end, XB_CLOSED);
    }
    xdf_log("summary: %lu input events sent, %lu dropped (ring full)",
            k->events, k->dropped);
    xs_unwatch(h->xs, k->end.fe_path, k->end.fe_path);
    log_tag = saved;
    g_ptr_array_remove(h->kbds, k);
    g_free(k->end.fe_path);
    g_free(k->end.be_path);
    g_free(k->tag);
    g_free(k);
}

/* Stop serving the vkbd devices linked to @b (it goes away). */
static void kbds_unlink(Host *h, Backend *b)
{
    unsigned int i;

    for (i = 0; i < h->kbds->len;) {
        Vkbd *k = g_ptr_array_index(h->kbds, i);

        if (k->disp == b) {
            log_tag = k->tag;
            xdf_log("%s is no longer served: closing", b->end.fe_path);
            log_tag = NULL;
            kbd_stop(k, false);
        } else {
            i++;
        }
    }
}

/*
 * The connector that @uid names among the vdispl devices we serve of
 * frontend domain @fe_domid; NULL, saying why in @why, when none or
 * several do.
 */
static Backend *kbd_find_link(Host *h, unsigned int fe_domid,
                              const char *uid, unsigned int *conn,
                              uint32_t *width, uint32_t *height, char **why)
{
    Backend *found = NULL;
    unsigned int i, j, n = 0;

    if (!uid) {
        *why = g_strdup("it has no unique-id");
        return NULL;
    }
    for (i = 0; i < h->devices->len; i++) {
        Backend *b = g_ptr_array_index(h->devices, i);

        if (b->opt.fe_domid != fe_domid) {
            continue;
        }
        for (j = 0; j < XDF_MAX_CONNECTORS; j++) {
            g_autofree char *dir = g_strdup_printf("%s/%u", b->end.fe_path, j);
            g_autofree char *res = xs_read_node(h->xs, dir,
                                                XENDISPL_FIELD_RESOLUTION);
            g_autofree char *id = NULL;
            uint32_t w, ht;

            if (!res) {
                break;
            }
            id = xs_read_node(h->xs, dir, XENDISPL_FIELD_UNIQUE_ID);
            if (!id || strcmp(id, uid) ||
                displif_parse_resolution(res, &w, &ht)) {
                continue;
            }
            if (!n++) {
                found = b;
                *conn = j;
                *width = w;
                *height = ht;
            }
        }
    }
    if (n == 1) {
        return found;
    }
    *why = n ? g_strdup_printf("unique-id '%s' names %u connectors: "
                               "ambiguous", uid, n) :
           g_strdup_printf("no connector of a vdispl device of domain %u "
                           "served here has unique-id '%s'", fe_domid, uid);
    return NULL;
}

static Vkbd *kbd_find(Host *h, const char *be_path)
{
    unsigned int i;

    for (i = 0; i < h->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(h->kbds, i);

        if (!strcmp(k->end.be_path, be_path)) {
            return k;
        }
    }
    return NULL;
}

/*
 * Serve the vkbd device of backend directory @dir (device @dev_id of
 * domain @fe_domid, frontend directory @fe) when it is linked, stop
 * serving it when it is no longer; say once why one is not served.
 */
static void kbd_check(Host *h, const char *kind, const char *dir,
                      unsigned int fe_domid, unsigned int dev_id,
                      const char *fe)
{
    Vkbd *k = kbd_find(h, dir);
    g_autofree char *uid = xs_read_node(h->xs, dir, XENKBD_FIELD_UNIQUE_ID);
    g_autofree char *prefix = g_strdup_printf("/local/domain/%u/device/",
                                              fe_domid);
    g_autofree char *why = NULL;
    unsigned int conn = 0;
    uint32_t w = 0, ht = 0;
    Backend *b = kbd_find_link(h, fe_domid, uid, &conn, &w, &ht, &why);
    const char *old;

    if (b && (!g_str_has_prefix(fe, prefix) || strstr(fe, "/.."))) {
        why = g_strdup_printf("its frontend node '%s' is not a device of "
                              "domain %u", fe, fe_domid);
        b = NULL;
    }
    if (k && (k->disp != b || k->conn != conn)) {
        log_tag = k->tag;
        xdf_log("no longer linked to connector %u of %s: %s", k->conn,
                k->disp->end.fe_path,
                why ? why : "its unique-id names another");
        log_tag = NULL;
        kbd_stop(k, false);
        k = NULL;
    }
    if (!b) {
        old = g_hash_table_lookup(h->kbd_unlinked, dir);
        if (!old || strcmp(old, why)) {
            xdf_log("%s %u/%u: not serving %s: %s", kind, fe_domid, dev_id,
                    dir, why);
            g_hash_table_insert(h->kbd_unlinked, g_strdup(dir),
                                g_steal_pointer(&why));
        }
        return;
    }
    if (k) {
        return;
    }
    g_hash_table_remove(h->kbd_unlinked, dir);
    k = g_new0(Vkbd, 1);
    k->host = h;
    k->fe_domid = fe_domid;
    k->end.ops = &vkbd_ops;
    k->end.xs = h->xs;
    k->end.guarded = true;
    k->end.fe_path = g_strdup(fe);
    k->end.be_path = g_strdup(dir);
    k->tag = g_strdup_printf("%s %u/%u", kind, fe_domid, dev_id);
    k->disp = b;
    k->conn = conn;
    k->conn_width = w;
    k->conn_height = ht;
    k->port = -1;
    g_ptr_array_add(h->kbds, k);
    kbd_start(k);
}

/* @k's backend directory was removed (xl destroy, the device's QEMU gone). */
static void kbd_removed(Vkbd *k)
{
    log_tag = k->tag;
    xdf_log("%s was removed: no longer serving it", k->end.be_path);
    log_tag = NULL;
    kbd_stop(k, true);
}

/*
 * The vkbd device of backend directory @dir (device @dev_id of domain
 * @fe_domid, of kind @kind) changed at @node ("" for the directory
 * itself): let go of it when it was removed, check its link when that
 * may have changed, and drive its state.
 */
static void kbd_dir_changed(Host *h, const char *kind, const char *dir,
                            unsigned long fe_domid, unsigned long dev_id,
                            const char *node)
{
    Vkbd *k = kbd_find(h, dir);
    g_autofree char *fe = xs_read_node(h->xs, dir, "frontend");

    if (!fe) {
        g_hash_table_remove(h->kbd_unlinked, dir);
        if (k) {
            kbd_removed(k);
        }
        return;
    }
    if (!k || !*node || !strcmp(node, "frontend") ||
        !strcmp(node, XENKBD_FIELD_UNIQUE_ID)) {
        kbd_check(h, kind, dir, fe_domid, dev_id, fe);
        k = kbd_find(h, dir);
    }
    if (k) {
        log_tag = k->tag;
        xb_reconcile(&k->end);
        log_tag = NULL;
    }
}

typedef struct KbdScan {
    const char *kind;
    GHashTable *seen;           /* backend directories */
} KbdScan;

static void kbd_dir_seen(Host *h, const char *dir, unsigned long fe_domid,
                         unsigned long dev_id, void *opaque)
{
    KbdScan *scan = opaque;

    g_hash_table_add(scan->seen, g_strdup(dir));
    kbd_dir_changed(h, scan->kind, dir, fe_domid, dev_id, "");
}

/* Whether vkbd backend directory @dir is of frontend domain @dom. */
static bool kbd_dir_of(Host *h, const char *dir, long dom)
{
    unsigned long fe_domid, dev_id;
    const char *node;
    unsigned int r;

    for (r = 0; r < G_N_ELEMENTS(kbd_kinds); r++) {
        if (backend_path_split(dir, h->kbd_roots[r], &fe_domid, &dev_id,
                               &node) == 2) {
            return dom < 0 || fe_domid == (unsigned long)dom;
        }
    }
    return false;
}

/*
 * Look at every vkbd device under our backend directories of frontend
 * domain @dom (every domain: -1): serve the linked ones, let go of those
 * that have been removed or are no longer linked.
 */
static void kbds_scan(Host *h, long dom)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);
    GHashTableIter it;
    gpointer dir;
    unsigned int r, i;

    for (r = 0; r < G_N_ELEMENTS(kbd_kinds); r++) {
        KbdScan scan = { .kind = kbd_kinds[r], .seen = seen };

        backend_dirs_foreach(h, h->kbd_roots[r], dom, kbd_dir_seen, &scan);
    }
    /* what is no longer there has gone with its domain's directory */
    g_hash_table_iter_init(&it, h->kbd_unlinked);
    while (g_hash_table_iter_next(&it, &dir, NULL)) {
        if (kbd_dir_of(h, dir, dom) && !g_hash_table_contains(seen, dir)) {
            g_hash_table_iter_remove(&it);
        }
    }
    for (i = 0; i < h->kbds->len;) {
        Vkbd *k = g_ptr_array_index(h->kbds, i);

        if (kbd_dir_of(h, k->end.be_path, dom) &&
            !g_hash_table_contains(seen, k->end.be_path)) {
            kbd_removed(k);
            continue;
        }
        i++;
    }
}

/* Devices ------------------------------------------------------------- */

static void device_free(Backend *b)
{
    unsigned int i;

    for (i = 0; i < XDF_MAX_CONNECTORS; i++) {
        vnc_close(&b->conn[i]);
        g_free(b->conn[i].shown);
        g_free(b->conn[i].saved);
    }
    g_hash_table_destroy(b->fbs);
    g_hash_table_destroy(b->dbufs);
    g_free(b->end.fe_path);
    g_free(b->end.be_path);
    g_free(b->out_dir);
    g_free(b->tag);
    g_free(b);
}

/*
 * Serve vdispl device @dev_id of frontend domain @fe_domid.  With --all,
 * in the lowest free slot, with its own output folder.  NULL when that
 * folder cannot be made.
 */
static Backend *device_new(Host *h, unsigned int fe_domid,
                           unsigned int dev_id)
{
    Backend *b = g_new0(Backend, 1);
    unsigned int i;

    b->host = h;
    b->opt = h->opt;
    b->opt.fe_domid = fe_domid;
    b->opt.dev_id = dev_id;
    b->xs = h->xs;
    b->xe = h->xe;
    b->xg = h->xg;
    b->xgs = h->xgs;
    for (i = 0; i < XDF_MAX_CONNECTORS; i++) {
        b->conn[i].be = b;
        b->conn[i].index = i;
        b->conn[i].req_port = b->conn[i].evt_port = -1;
    }
    b->dbufs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                     g_free);
    b->fbs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                   g_free);
    b->end.fe_path = g_strdup_printf("/local/domain/%u/device/%s/%u",
                                     fe_domid, XENDISPL_DRIVER_NAME, dev_id);
    b->end.be_path = g_strdup_printf("/local/domain/%lu/backend/%s/%u/%u",
                                     h->own, XENDISPL_DRIVER_NAME, fe_domid,
                                     dev_id);
    if (h->opt.all) {
        bool used;

        for (b->slot = 0;; b->slot++) {
            used = false;
            for (i = 0; i < h->devices->len; i++) {
                Backend *o = g_ptr_array_index(h->devices, i);

                used |= o->slot == b->slot;
            }
            if (!used) {
                break;
            }
        }
        b->tag = g_strdup_printf("vdispl %u/%u", fe_domid, dev_id);
        b->opt.fe_auto = true;      /* the device's maker removes it */
        if (h->opt.vnc_port > 0) {
            b->opt.vnc_port = h->opt.vnc_port + b->slot * XDF_MAX_CONNECTORS;
            if (b->opt.vnc_port + XDF_MAX_CONNECTORS > 65535) {
                b->opt.vnc_port = -1;
            }
        }
        if (h->opt.output_dir) {
            b->out_dir = g_strdup_printf("%s/%u-%u", h->opt.output_dir,
                                         fe_domid, dev_id);
            if (g_mkdir_with_parents(b->out_dir, 0755) < 0) {
                xdf_log("cannot make %s: %s; not serving %s", b->out_dir,
                        strerror(errno), b->end.fe_path);
                device_free(b);
                return NULL;
            }
            b->opt.output_dir = b->out_dir;
        }
    }
    b->end.ops = &vdispl_ops;
    b->end.xs = b->xs;
    b->end.guarded = b->opt.fe_auto;
    return b;
}

static void device_start(Backend *b)
{
    log_tag = b->tag;
    if (b->host->opt.all) {
        /* the host watches the backend directories, we the frontend's */
        if (!xs_watch(b->xs, b->end.fe_path, b->end.fe_path)) {
            xdf_log("cannot watch %s: %s", b->end.fe_path, strerror(errno));
        }
        xdf_log("serving %s from %s; frames in %s, live view %s%d",
                b->end.fe_path, b->end.be_path,
                b->out_dir ? b->out_dir : "(not saved)",
                b->opt.vnc_port > 0 ? "on VNC port " : "off",
                b->opt.vnc_port > 0 ? b->opt.vnc_port : 0);
    } else {
        xdf_log("serving %s from %s", b->end.fe_path, b->end.be_path);
    }
    xb_start(&b->end);
    log_tag = NULL;
}

/* Stop serving @b: what it shows is saved, its connection closed. */
static void device_stop(Backend *b, bool closed_by_toolstack)
{
    Host *h = b->host;

    kbds_unlink(h, b);
    log_tag = b->tag;
    save_last(b);
    disconnect(b);
    if (!closed_by_toolstack && read_state(b, b->end.be_path) != XB_UNKNOWN) {
        xb_set_state(&b->end, XB_CLOSING);
        xb_set_state(&b->end, XB_CLOSED);
    }
    req_log_suppressed(b);
    summary(b);
    log_tag = NULL;
    if (h->opt.all) {
        xs_unwatch(b->xs, b->end.fe_path, b->end.fe_path);
    }
    h->frames += b->frames;
    g_ptr_array_remove(h->devices, b);
    device_free(b);
}

static Backend *device_find(Host *h, unsigned long fe_domid,
                            unsigned long dev_id)
{
    unsigned int i;

    for (i = 0; i < h->devices->len; i++) {
        Backend *b = g_ptr_array_index(h->devices, i);

        if (b->opt.fe_domid == fe_domid && b->opt.dev_id == dev_id) {
            return b;
        }
    }
    return NULL;
}

/*
 * Device @b's directories changed: let go of it when its maker removed
 * it (that ends the backend without --all), else drive its state.
 * False when it is gone.
 */
static bool device_check(Backend *b)
{
    Host *h = b->host;

    if (b->opt.fe_auto) {
        g_autofree char *fe = xs_read_node(b->xs, b->end.be_path,
                                           "frontend");

        if (!fe) {
            log_tag = b->tag;
            xdf_log("%s was removed: %s", b->end.be_path,
                    h->opt.all ? "no longer serving it" : "exiting");
            log_tag = NULL;
            device_stop(b, true);
            h->quit |= !h->opt.all;
            return false;
        }
    }
    log_tag = b->tag;
    xb_reconcile(&b->end);
    log_tag = NULL;
    return true;
}

/*
 * --all: backend directory @dir of device @dev_id of domain @fe_domid
 * changed: serve it when a toolstack or frontend has made it (it has a
 * "frontend" node), let go of it when it was removed.  True when it
 * started or stopped.
 */
static bool device_dir_changed(Host *h, const char *dir,
                               unsigned long fe_domid, unsigned long dev_id)
{
    Backend *b = device_find(h, fe_domid, dev_id);
    g_autofree char *fe = NULL;

    if (b) {
        return !device_check(b);
    }
    fe = xs_read_node(h->xs, dir, "frontend");
    b = fe ? device_new(h, fe_domid, dev_id) : NULL;
    if (b) {
        g_ptr_array_add(h->devices, b);
        device_start(b);
    }
    return b != NULL;
}

static void device_dir_seen(Host *h, const char *dir, unsigned long fe_domid,
                            unsigned long dev_id, void *opaque G_GNUC_UNUSED)
{
    device_dir_changed(h, dir, fe_domid, dev_id);
}

/*
 * --all: look at every device under our backend directory of frontend
 * domain @dom (every domain: -1): serve the new ones, let go of those
 * that have been removed; then link its vkbd devices anew.
 */
static void devices_scan(Host *h, long dom)
{
    unsigned int i;

    for (i = 0; i < h->devices->len;) {
        Backend *b = g_ptr_array_index(h->devices, i);

        if ((dom >= 0 && b->opt.fe_domid != (unsigned long)dom) ||
            device_check(b)) {
            i++;
        }
    }
    backend_dirs_foreach(h, h->be_root, dom, device_dir_seen, NULL);
    kbds_scan(h, dom);
}

/*
 * Whether a change at @path can change which connector of the vdispl
 * device of frontend directory @fe_path a unique-id names: the
 * directory itself, a connector's directory, its unique-id or
 * resolution.
 */
static bool changes_links(const char *path, const char *fe_path)
{
    size_t n = strlen(fe_path);

    if (strncmp(path, fe_path, n)) {
        return false;
    }
    path += n;
    if (!*path) {
        return true;
    }
    if (*path++ != '/' || !g_ascii_isdigit(*path)) {
        return false;
    }
    path += strspn(path, "0123456789");
    return !*path || !strcmp(path, "/" XENDISPL_FIELD_UNIQUE_ID) ||
           !strcmp(path, "/" XENDISPL_FIELD_RESOLUTION);
}

/*
 * One XenStore watch event, handled by the device it concerns and by no
 * other: the token of a device's own watch names it; under our backend
 * directories (tokens "all" and "kbd"), the path does.
 */
static void watch_event(Host *h, const char *path, const char *token)
{
    unsigned long dom = 0, dev;
    const char *node = "";
    unsigned int i;
    int n;

    if (!strcmp(token, "all")) {
        n = backend_path_split(path, h->be_root, &dom, &dev, &node);
        if (n == 2) {
            g_autofree char *dir = g_strdup_printf("%s/%lu/%lu", h->be_root,
                                                   dom, dev);

            if (device_dir_changed(h, dir, dom, dev)) {
                kbds_scan(h, dom);
            }
        } else if (n >= 0) {
            devices_scan(h, n ? (long)dom : -1);
        }
        return;
    }
    if (!strcmp(token, "kbd")) {
        for (i = 0; i < G_N_ELEMENTS(kbd_kinds); i++) {
            n = backend_path_split(path, h->kbd_roots[i], &dom, &dev, &node);
            if (n == 2) {
                g_autofree char *dir = g_strdup_printf("%s/%lu/%lu",
                                                       h->kbd_roots[i], dom,
                                                       dev);

                kbd_dir_changed(h, kbd_kinds[i], dir, dom, dev, node);
            } else if (n >= 0) {
                kbds_scan(h, n ? (long)dom : -1);
            }
        }
        return;
    }
    for (i = 0; i < h->devices->len; i++) {
        Backend *b = g_ptr_array_index(h->devices, i);

        if (!strcmp(token, b->end.fe_path) || !strcmp(token, b->end.be_path)) {
            bool relink = changes_links(path, b->end.fe_path);

            dom = b->opt.fe_domid;
            if (!device_check(b) || relink) {
                kbds_scan(h, dom);
            }
            return;
        }
    }
    for (i = 0; i < h->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(h->kbds, i);

        if (!strcmp(token, k->end.fe_path)) {
            log_tag = k->tag;
            xb_reconcile(&k->end);
            log_tag = NULL;
            return;
        }
    }
    /* a device we no longer serve */
}

static void handle_watches(Host *h)
{
    char **w;

    while ((w = xs_check_watch(h->xs))) {
        watch_event(h, w[XS_WATCH_PATH], w[XS_WATCH_TOKEN]);
        free(w);
    }
}

static unsigned long frames_received(Host *h)
{
    unsigned long n = h->frames;
    unsigned int i;

    for (i = 0; i < h->devices->len; i++) {
        n += ((Backend *)g_ptr_array_index(h->devices, i))->frames;
    }
    return n;
}

static void handle_events(Host *h)
{
    int port;
    unsigned int i, j;

    while ((port = xenevtchn_pending(h->xe)) >= 0) {
        if (xenevtchn_unmask(h->xe, port) < 0) {
            xdf_log("cannot unmask port %d: %s", port, strerror(errno));
        }
        for (j = 0; j < h->devices->len; j++) {
            Backend *b = g_ptr_array_index(h->devices, j);

            log_tag = b->tag;
            for (i = 0; b->connected && i < b->nr_conn; i++) {
                Connector *c = &b->conn[i];

                if (port == c->req_port && !serve_ring(c)) {
                    xb_close_and_wait(&b->end);
                }
            }
            log_tag = NULL;
        }
        if (h->opt.exit_after_frames &&
            frames_received(h) >= h->opt.exit_after_frames) {
            xdf_log("%lu frames received: exiting", frames_received(h));
            h->quit = true;
            return;
        }
    }
}

/* Main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: xdf-backend [OPTION]...\n"
"A Xen displif backend: serves one vdispl device (or all), saves frames as\n"
"PNG.  Also serves each kbdif device (backend directory vkbd/ or vinput/)\n"
"whose unique-id is that of a connector it serves, of the same frontend\n"
"domain: the input of that connector's live view.\n"
"\n"
"  --frontend-domid N     frontend domain (default 0); 'auto': wait until a\n"
"                         toolstack (xl) creates device DEV-ID of vdispl under\n"
"                         our backend directory, and serve that domain\n"
"  --dev-id N             vdispl device index (default 0)\n"
"  --all                  serve every vdispl device of every frontend domain\n"
"                         under our backend directory, as devices come and\n"
"                         go; device D of domain F saves into DIR/F-D/ and,\n"
"                         in the k-th free slot (from 0), shows connector i\n"
"                         on VNC port PORT + 8k + i\n"
"  --output-dir DIR       write DIR/conn<i>-<NNNN>.png and, on exit and on\n"
"                         SIGUSR1, DIR/conn<i>-last.png\n"
"  --every N              save every Nth frame of a connector\n"
"  --on-change            save each frame that differs from the last saved\n"
"                         (the default with --output-dir)\n"
"  --last-only            save only conn<i>-last.png; no frame is read as\n"
"                         it arrives (a peer that costs next to nothing\n"
"                         per frame, for benchmarks)\n"
"  --exit-after-frames N  exit after N frames on all connectors\n"
"  --timeout SECONDS      exit after SECONDS (status 2 if --exit-after-frames\n"
"                         was not reached)\n"
"  --vnc PORT             live view: a VNC server on 127.0.0.1:PORT for\n"
"                         connector 0, PORT+1 for connector 1, ...; its\n"
"                         viewers' keys and pointer go to the connector's\n"
"                         vkbd device, if any (a console: keep it to\n"
"                         yourself); a port in use ends the backend\n"
"  --vnc-password-file FILE\n"
"                         live view only for VNC viewers that give the\n"
"                         password on FILE's first line (1 to 8\n"
"                         characters; FILE not readable by everyone)\n"
"  --max-device-memory MIB\n"
"                         most memory one device may make us use: its\n"
"                         backend-allocated buffers and the copies of its\n"
"                         pictures (default %d); more is refused\n"
"  --verbose              log every request\n"
"  --help                 this text\n", XDF_MAX_DEVICE_MIB);
}

static bool parse_ulong(const char *opt, const char *arg, unsigned long max,
                        unsigned long *out)
{
    if (!parse_uint(arg, max, out)) {
        fprintf(stderr, "xdf-backend: %s '%s' is not a number from 0 to "
                "%lu\n", opt, arg, max);
        return false;
    }
    return true;
}

/*
 * --vnc-password-file: the password is @path's first line, 1 to
 * XDF_VNC_PASSWORD_MAX characters (VNC authentication uses no more); the
 * file must not be readable by everyone.
 */
static bool read_vnc_password(const char *path, Options *o)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    struct stat st;
    size_t len;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "xdf-backend: --vnc-password-file '%s': %s\n", path,
                strerror(errno));
        return false;
    }
    if (st.st_mode & S_IROTH) {
        fprintf(stderr, "xdf-backend: --vnc-password-file '%s' is readable "
                "by everyone: chmod o-r it\n", path);
        return false;
    }
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "xdf-backend: --vnc-password-file: %s\n",
                err->message);
        return false;
    }
    len = strcspn(text, "\n");
    text[len] = '\0';
    if (len < 1 || len > XDF_VNC_PASSWORD_MAX) {
        fprintf(stderr, "xdf-backend: --vnc-password-file '%s': the "
                "password (its first line) has %zu characters, not 1 to %d "
                "(VNC authentication uses %d)\n", path, len,
                XDF_VNC_PASSWORD_MAX, XDF_VNC_PASSWORD_MAX);
        return false;
    }
    g_free(o->vnc_passwords[0]);
    o->vnc_passwords[0] = g_steal_pointer(&text);
    return true;
}

static bool parse_options(int argc, char **argv, Options *o)
{
    enum { O_FE = 256, O_DEV, O_DIR, O_EVERY, O_CHANGE, O_LAST, O_EXIT,
           O_TIMEOUT, O_VERBOSE, O_VNC, O_ALL, O_VNC_PASSWORD, O_MAX_MEM,
           O_HELP };
    static const struct option longopts[] = {
        { "frontend-domid", required_argument, NULL, O_FE },
        { "dev-id", required_argument, NULL, O_DEV },
        { "output-dir", required_argument, NULL, O_DIR },
        { "every", required_argument, NULL, O_EVERY },
        { "on-change", no_argument, NULL, O_CHANGE },
        { "last-only", no_argument, NULL, O_LAST },
        { "exit-after-frames", required_argument, NULL, O_EXIT },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "verbose", no_argument, NULL, O_VERBOSE },
        { "vnc", required_argument, NULL, O_VNC },
        { "all", no_argument, NULL, O_ALL },
        { "vnc-password-file", required_argument, NULL, O_VNC_PASSWORD },
        { "max-device-memory", required_argument, NULL, O_MAX_MEM },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    unsigned long v;
    int ch;

    o->max_device_memory = (uint64_t)XDF_MAX_DEVICE_MIB << 20;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *name = ch >= O_FE && ch <= O_HELP ?
                           longopts[ch - O_FE].name : "";
        g_autofree char *opt = g_strdup_printf("--%s", name);

        switch (ch) {
        case O_FE:
            if (!strcmp(optarg, "auto")) {
                o->fe_auto = true;
                break;
            }
            if (!parse_ulong(opt, optarg, 0x7fef, &v)) {
                return false;
            }
            o->fe_auto = false;
            o->fe_domid = v;
            break;
        case O_DEV:
            if (!parse_ulong(opt, optarg, INT32_MAX, &v)) {
                return false;
            }
            o->dev_id = v;
            break;
        case O_DIR:
            o->output_dir = optarg;
            break;
        case O_EVERY:
            if (!parse_ulong(opt, optarg, ULONG_MAX, &o->every)) {
                return false;
            }
            break;
        case O_CHANGE:
            o->on_change = true;
            break;
        case O_LAST:
            o->last_only = true;
            break;
        case O_EXIT:
            if (!parse_ulong(opt, optarg, ULONG_MAX,
                             &o->exit_after_frames)) {
                return false;
            }
            break;
        case O_TIMEOUT:
            if (!parse_ulong(opt, optarg, 86400 * 365, &v)) {
                return false;
            }
            o->timeout_s = v;
            break;
        case O_VERBOSE:
            o->verbose = true;
            break;
        case O_VNC:
            if (!parse_ulong(opt, optarg, 65535 - XDF_MAX_CONNECTORS, &v) ||
                v == 0) {
                return false;
            }
            o->vnc_port = v;
            break;
        case O_ALL:
            o->all = true;
            break;
        case O_VNC_PASSWORD:
            if (!read_vnc_password(optarg, o)) {
                return false;
            }
            break;
        case O_MAX_MEM:
            if (!parse_ulong(opt, optarg, 1 << 20, &v)) {
                return false;
            }
            if (!v) {
                fprintf(stderr, "xdf-backend: --max-device-memory 0: a "
                        "device needs at least 1 MiB\n");
                return false;
            }
            o->max_device_memory = (uint64_t)v << 20;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "xdf-backend: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        return false;
    }
    if (o->vnc_passwords[0] && o->vnc_port <= 0) {
        fprintf(stderr, "xdf-backend: --vnc-password-file is for the live "
                "view: it needs --vnc\n");
        return false;
    }
    if (o->all && o->fe_auto) {
        fprintf(stderr, "xdf-backend: --all serves every frontend domain: "
                "drop --frontend-domid\n");
        return false;
    }
    if (o->last_only && (!o->output_dir || o->every || o->on_change ||
                         o->vnc_port > 0)) {
        fprintf(stderr, "xdf-backend: --last-only saves DIR/conn<i>-last.png "
                "and reads no frame as it arrives: it needs --output-dir, "
                "without --every, --on-change or --vnc\n");
        return false;
    }
    if (o->output_dir && !o->every && !o->on_change && !o->last_only) {
        o->on_change = true;
    }
    if (o->output_dir) {
        struct stat st;

        if (stat(o->output_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "xdf-backend: --output-dir '%s' is not a "
                    "directory\n", o->output_dir);
            return false;
        }
    }
    return true;
}

static bool open_xen(Host *b)
{
    int fl;

    b->xs = xs_open(0);
    if (!b->xs) {
        xdf_log("cannot reach XenStore: %s (run in dom0 with xenstored, or "
                "under xensim: build/xensim run -- ...)", strerror(errno));
        return false;
    }
    b->xe = xenevtchn_open(NULL, 0);
    if (!b->xe) {
        xdf_log("cannot open event channels: %s", strerror(errno));
        return false;
    }
    /*
     * handle_events() takes every pending port: a read of
     * /dev/xen/evtchn blocks when none is left, unless O_NONBLOCK.
     */
    fl = fcntl(xenevtchn_fd(b->xe), F_GETFL);
    if (fl < 0 || fcntl(xenevtchn_fd(b->xe), F_SETFL, fl | O_NONBLOCK) < 0) {
        xdf_log("cannot make the event channel fd non-blocking: %s",
                strerror(errno));
        return false;
    }
    b->xg = xengnttab_open(NULL, 0);
    if (!b->xg) {
        xdf_log("cannot open grant tables (gntdev): %s", strerror(errno));
        return false;
    }
    b->xgs = xengntshr_open(NULL, 0);
    if (!b->xgs) {
        /* only backend allocation needs it */
        xdf_log("cannot open grant sharing (gntalloc): %s; backend "
                "allocation is off", strerror(errno));
    }
    return true;
}

static void close_xen(Host *b)
{
    if (b->xgs) {
        xengntshr_close(b->xgs);
    }
    if (b->xg) {
        xengnttab_close(b->xg);
    }
    if (b->xe) {
        xenevtchn_close(b->xe);
    }
    if (b->xs) {
        xs_close(b->xs);
    }
}

/*
 * --frontend-domid auto: wait until a toolstack creates
 * <own>/backend/vdispl/<domid>/<dev-id>/frontend for some domain (xl does
 * at "xl create" with a vdispl line, and waits for our InitWait), and
 * take that domain.  False on a signal, a timeout or an error.
 */
static bool wait_for_device(Host *b, unsigned long own, int sfd,
                            int64_t end)
{
    g_autofree char *dir = g_strdup_printf("/local/domain/%lu/backend/%s",
                                           own, XENDISPL_DRIVER_NAME);
    bool found = false;

    if (!xs_watch(b->xs, dir, "auto")) {
        xdf_log("cannot watch %s: %s", dir, strerror(errno));
        return false;
    }
    xdf_log("waiting for a toolstack to create vdispl device %u under %s",
            b->opt.dev_id, dir);
    while (!found) {
        struct pollfd pfd[2] = {
            { .fd = xs_fileno(b->xs), .events = POLLIN },
            { .fd = sfd, .events = POLLIN },
        };
        unsigned int i, n = 0;
        char **doms = xs_directory(b->xs, XBT_NULL, dir, &n);
        char **w;

        for (i = 0; doms && i < n && !found; i++) {
            g_autofree char *dev = g_strdup_printf("%s/%s/%u", dir, doms[i],
                                                   b->opt.dev_id);
            g_autofree char *fe = xs_read_node(b->xs, dev, "frontend");
            unsigned long domid;

            if (fe && parse_uint(doms[i], 0x7fef, &domid)) {
                b->opt.fe_domid = domid;
                found = true;
            }
        }
        free(doms);
        if (found) {
            break;
        }
        if (poll(pfd, 2, end ? (int)MAX(0, end - now_ms()) : -1) < 0 &&
            errno != EINTR) {
            xdf_log("poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents & POLLIN) {
            xdf_log("signal while waiting for a device: exiting");
            break;
        }
        while ((w = xs_check_watch(b->xs))) {
            free(w);
        }
        if (end && now_ms() >= end) {
            xdf_log("timeout: no vdispl device %u appeared under %s",
                    b->opt.dev_id, dir);
            break;
        }
    }
    xs_unwatch(b->xs, dir, "auto");
    return found;
}

int main(int argc, char **argv)
{
    static Host host;
    Host *h = &host;
    struct pollfd pfd[3];
    int64_t end = 0;
    sigset_t sigs;
    unsigned int i;
    int sfd;

    if (!parse_options(argc, argv, &h->opt)) {
        return 1;
    }
    verbose = h->opt.verbose;
    rfbLogEnable(h->opt.verbose);
    h->devices = g_ptr_array_new();

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        xdf_log("signalfd: %s", strerror(errno));
        return 1;
    }

    if (!open_xen(h)) {
        close_xen(h);
        return 1;
    }
    if (h->opt.timeout_s) {
        end = now_ms() + (int64_t)h->opt.timeout_s * 1000;
    }
    xs_read_uint(h->xs, "", "domid", UINT16_MAX, &h->own);
    h->be_root = g_strdup_printf("/local/domain/%lu/backend/%s", h->own,
                                 XENDISPL_DRIVER_NAME);
    h->kbds = g_ptr_array_new();
    h->kbd_unlinked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            g_free);
    for (i = 0; i < G_N_ELEMENTS(kbd_kinds); i++) {
        h->kbd_roots[i] = g_strdup_printf("/local/domain/%lu/backend/%s",
                                          h->own, kbd_kinds[i]);
        if (!xs_watch(h->xs, h->kbd_roots[i], "kbd")) {
            xdf_log("cannot watch %s: %s", h->kbd_roots[i], strerror(errno));
            close_xen(h);
            return 1;
        }
    }
    if (h->opt.all) {
        if (!xs_watch(h->xs, h->be_root, "all")) {
            xdf_log("cannot watch %s: %s", h->be_root, strerror(errno));
            close_xen(h);
            return 1;
        }
        xdf_log("serving every vdispl device under %s", h->be_root);
        devices_scan(h, -1);
    } else {
        Backend *b;

        if (h->opt.fe_auto && !wait_for_device(h, h->own, sfd, end)) {
            close_xen(h);
            return 2;
        }
        b = device_new(h, h->opt.fe_domid, h->opt.dev_id);
        g_ptr_array_add(h->devices, b);
        if (!xs_watch(h->xs, b->end.fe_path, b->end.fe_path) ||
            !xs_watch(h->xs, b->end.be_path, b->end.be_path)) {
            xdf_log("cannot watch %s and %s: %s", b->end.fe_path,
                    b->end.be_path, strerror(errno));
            close_xen(h);
            return 1;
        }
        device_start(b);
        kbds_scan(h, -1);
    }

    pfd[0] = (struct pollfd) { .fd = xs_fileno(h->xs), .events = POLLIN };
    pfd[1] = (struct pollfd) { .fd = xenevtchn_fd(h->xe), .events = POLLIN };
    pfd[2] = (struct pollfd) { .fd = sfd, .events = POLLIN };
    while (!h->quit) {
        int timeout = -1;
        int64_t reset = 0;
        bool vnc = false;
        struct signalfd_siginfo si;

        if (end) {
            timeout = (int)MAX(0, end - now_ms());
        }
        for (i = 0; i < h->devices->len; i++) {
            Backend *b = g_ptr_array_index(h->devices, i);
            int64_t d = b->end.reset_deadline;

            if (d && (!reset || d < reset)) {
                reset = d;
            }
            vnc |= b->opt.vnc_port > 0;
        }
        for (i = 0; i < h->kbds->len; i++) {
            Vkbd *k = g_ptr_array_index(h->kbds, i);
            int64_t d = k->end.reset_deadline;

            if (d && (!reset || d < reset)) {
                reset = d;
            }
        }
        if (reset) {
            int t = (int)MAX(0, reset - now_ms());

            timeout = timeout < 0 ? t : MIN(timeout, t);
        }
        if (vnc) {
            timeout = timeout < 0 ? 20 : MIN(timeout, 20);  /* VNC clients */
        }
        if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
            xdf_log("poll: %s", strerror(errno));
            h->exit_status = 1;
            break;
        }
        if (pfd[2].revents & POLLIN) {
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGUSR1) {
                    xdf_log("SIGUSR1: saving what each connector shows");
                    for (i = 0; i < h->devices->len; i++) {
                        save_last(g_ptr_array_index(h->devices, i));
                    }
                } else {
                    xdf_log("%s: exiting", strsignal(si.ssi_signo));
                    h->quit = true;
                }
            }
        }
        if (pfd[0].revents & POLLIN) {
            handle_watches(h);
        }
        if (pfd[1].revents & POLLIN) {
            handle_events(h);
        }
        for (i = 0; i < h->devices->len; i++) {
            Backend *b = g_ptr_array_index(h->devices, i);

            log_tag = b->tag;
            if (b->end.reset_deadline && now_ms() >= b->end.reset_deadline) {
                xb_reconcile(&b->end);
            }
            vnc_poll(b);
            log_tag = NULL;
        }
        for (i = 0; i < h->kbds->len; i++) {
            Vkbd *k = g_ptr_array_index(h->kbds, i);

            if (k->end.reset_deadline && now_ms() >= k->end.reset_deadline) {
                log_tag = k->tag;
                xb_reconcile(&k->end);
                log_tag = NULL;
            }
        }
        if (end && now_ms() >= end && !h->quit) {
            xdf_log("timeout after %u s", h->opt.timeout_s);
            if (h->opt.exit_after_frames) {
                h->exit_status = 2;
            }
            h->quit = true;
        }
    }

    while (h->kbds->len) {
        kbd_stop(g_ptr_array_index(h->kbds, 0), false);
    }
    while (h->devices->len) {
        device_stop(g_ptr_array_index(h->devices, 0), false);
    }
    g_ptr_array_free(h->devices, TRUE);
    g_ptr_array_free(h->kbds, TRUE);
    g_hash_table_destroy(h->kbd_unlinked);
    for (i = 0; i < G_N_ELEMENTS(kbd_kinds); i++) {
        g_free(h->kbd_roots[i]);
    }
    close_xen(h);
    g_free(h->be_root);
    close(sfd);
    return h->exit_status;
}
