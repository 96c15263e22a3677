/*
 * xdf-backend: the kbdif (vkbd) devices linked to connectors we serve
 *
 * vkbd devices are found under two backend directories of ours: "vkbd"
 * (what our QEMU device writes, as a toolstack would) and "vinput" (what
 * libxl writes for vkb = ["backend-type=linux,..."]).  One is served
 * while its unique-id names exactly one connector of the vdispl devices
 * we serve, of the same frontend domain; the backend directory is always
 * someone else's (toolstack or device): we never create it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xen/io/kbdif.h>

#include "displif-proto.h"
#include "xdf-input.h"
#include "xdf-kbd.h"

static const char *const kbd_kinds[2] = { XENKBD_DRIVER_NAME, "vinput" };

struct Vkbds {
    const XdfXen *xen;
    GPtrArray *devices;         /* Vdispl *: the vdispl devices we serve */
    char *roots[2];             /* .../backend/vkbd and .../backend/vinput */
    GPtrArray *kbds;            /* Vkbd *: the vkbd devices served */
    GHashTable *unlinked;       /* backend dir -> why it is not served */
};

/*
 * A kbdif (vkbd) device linked to a connector we serve: its backend
 * directory's unique-id is the connector's.  What that connector's VNC
 * viewers type and point goes to its frontend.
 */
typedef struct Vkbd {
    Vkbds *ks;
    unsigned int fe_domid;
    XbEnd end;                  /* fe_path: its backend dir's "frontend" */
    XdfLog log;                 /* tag "vkbd <fe-domid>/<n>" */
    Vdispl *disp;               /* linked to connector conn of disp */
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

/* A size node of the backend directory: 1 to INT32_MAX, else @dflt. */
static uint32_t kbd_read_size(Vkbd *k, const char *node, uint32_t dflt)
{
    g_autofree char *val = xdf_xs_read(k->ks->xen->xs, k->end.be_path, node);
    unsigned long v;

    if (!xdf_parse_uint(val, INT32_MAX, &v) || !v) {
        xdf_log(&k->log, "%s/%s is '%s', not a size from 1 to %d: using %u",
                k->end.be_path, node, val ? val : "(missing)", INT32_MAX,
                dflt);
        return dflt;
    }
    return v;
}

/* In transaction @t, write @val to @node of @k's directory if unset. */
static void kbd_write_default(Vkbd *k, xs_transaction_t t, const char *node,
                              uint32_t val)
{
    struct xs_handle *xs = k->ks->xen->xs;
    g_autofree char *old = xdf_xs_read_t(xs, t, k->end.be_path, node);
    g_autofree char *path = NULL;
    char buf[16];

    if (!old) {
        path = g_strdup_printf("%s/%s", k->end.be_path, node);
        snprintf(buf, sizeof(buf), "%u", val);
        xs_write(xs, t, path, buf, strlen(buf));
    }
}

/*
 * What we offer: an absolute pointer, as large as the linked connector
 * unless the toolstack set a size.  Written in a transaction, only into
 * a directory that still exists.
 */
static void kbd_write_features(Vkbd *k)
{
    struct xs_handle *xs = k->ks->xen->xs;

    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        g_autofree char *fe = NULL;
        g_autofree char *path = NULL;

        if (t == XBT_NULL) {
            xdf_log(&k->log, "cannot start a XenStore transaction: %s",
                    strerror(errno));
            return;
        }
        fe = xdf_xs_read_t(xs, t, k->end.be_path, "frontend");
        if (fe) {
            path = g_strdup_printf("%s/%s", k->end.be_path,
                                   XENKBD_FIELD_FEAT_ABS_POINTER);
            xs_write(xs, t, path, "1", 1);
            kbd_write_default(k, t, XENKBD_FIELD_WIDTH, k->conn_width);
            kbd_write_default(k, t, XENKBD_FIELD_HEIGHT, k->conn_height);
        }
        if (xs_transaction_end(xs, t, false)) {
            break;
        }
        if (errno != EAGAIN) {
            xdf_log(&k->log, "cannot write the features of %s: %s",
                    k->end.be_path, strerror(errno));
            return;
        }
    }
    k->width = kbd_read_size(k, XENKBD_FIELD_WIDTH, k->conn_width);
    k->height = kbd_read_size(k, XENKBD_FIELD_HEIGHT, k->conn_height);
}

/* Map what the frontend published; on failure nothing stays mapped. */
static bool kbd_connect(Vkbd *k)
{
    const XdfXen *x = k->ks->xen;
    unsigned long gref, evtchn, v;
    g_autofree char *abs = NULL;
    int port;

    if (!xdf_xs_read_uint(x->xs, k->end.fe_path, XENKBD_FIELD_RING_GREF,
                          UINT32_MAX, &gref) ||
        !xdf_xs_read_uint(x->xs, k->end.fe_path, XENKBD_FIELD_EVT_CHANNEL,
                          UINT32_MAX, &evtchn)) {
        xdf_log(&k->log, "%s: %s or %s is missing or not a number",
                k->end.fe_path, XENKBD_FIELD_RING_GREF,
                XENKBD_FIELD_EVT_CHANNEL);
        return false;
    }
    abs = xdf_xs_read(x->xs, k->end.fe_path, XENKBD_FIELD_REQ_ABS_POINTER);
    k->abs = xdf_parse_uint(abs, UINT32_MAX, &v) && v;
    k->page = xengnttab_map_grant_ref(x->xg, k->fe_domid, gref,
                                      PROT_READ | PROT_WRITE);
    if (!k->page) {
        xdf_log(&k->log, "cannot map the shared page (grant ref %lu of "
                "domain %u): %s", gref, k->fe_domid, strerror(errno));
        return false;
    }
    port = xenevtchn_bind_interdomain(x->xe, k->fe_domid, evtchn);
    if (port < 0) {
        xdf_log(&k->log, "cannot bind event channel %lu of domain %u: %s",
                evtchn, k->fe_domid, strerror(errno));
        xengnttab_unmap(x->xg, k->page, 1);
        k->page = NULL;
        return false;
    }
    k->port = port;
    /* the frontend may change it: read once, then keep our own count */
    k->in_prod = __atomic_load_n(&k->page->in_prod, __ATOMIC_RELAXED);
    memset(&k->ptr, 0, sizeof(k->ptr));
    k->dropping = false;
    k->connected = true;
    xdf_log(&k->log, "connected to %s: %s pointer, %ux%u; input of "
            "connector %u of %s", k->end.fe_path,
            k->abs ? "absolute" : "relative", k->width, k->height, k->conn,
            k->disp->end.fe_path);
    return true;
}

static void kbd_disconnect(Vkbd *k)
{
    const XdfXen *x = k->ks->xen;

    if (!k->connected) {
        return;
    }
    xengnttab_unmap(x->xg, k->page, 1);
    k->page = NULL;
    xenevtchn_unbind(x->xe, k->port);
    k->port = -1;
    k->connected = false;
    xdf_log(&k->log, "disconnected from %s", k->end.fe_path);
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
            xdf_log(&k->log, "event ring full (in_prod %u, in_cons %u): "
                    "dropping input events", k->in_prod, cons);
        }
        return;
    }
    if (k->dropping) {
        k->dropping = false;
        xdf_log(&k->log, "event ring has room again; %lu input events "
                "dropped so far", k->dropped);
    }
    memcpy(&XENKBD_IN_RING_REF(page, k->in_prod), ev, sizeof(*ev));
    xen_wmb();
    k->in_prod++;
    __atomic_store_n(&page->in_prod, k->in_prod, __ATOMIC_RELAXED);
    k->events++;
    if (xenevtchn_notify(k->ks->xen->xe, k->port) < 0) {
        xdf_log(&k->log, "cannot notify event port %d: %s", k->port,
                strerror(errno));
    }
}

/* The vkbd device linked to connector @c, if any. */
static Vkbd *kbd_of(Vkbds *ks, Connector *c)
{
    unsigned int i;

    for (i = 0; i < ks->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

        if (k->disp == c->dev && k->conn == c->index) {
            return k;
        }
    }
    return NULL;
}

void vkbds_key(Vkbds *ks, Connector *c, bool down, uint32_t keysym)
{
    Vkbd *k = kbd_of(ks, c);
    union xenkbd_in_event ev;
    uint32_t key = xdf_keysym_to_key(keysym);

    if (!k || !k->connected) {
        xdf_debug(&c->dev->log, "connector %u: VNC keysym 0x%x: no vkbd "
                  "device connected", c->index, keysym);
        return;
    }
    if (!key) {
        xdf_debug(&k->log, "VNC keysym 0x%x has no Linux key code: dropped",
                  keysym);
        return;
    }
    xdf_debug(&k->log, "VNC keysym 0x%x %s: key %u", keysym,
              down ? "down" : "up", key);
    memset(&ev, 0, sizeof(ev));
    ev.key.type = XENKBD_TYPE_KEY;
    ev.key.pressed = down;
    ev.key.keycode = key;
    kbd_send(k, &ev);
}

/*
 * The viewer's pixel is the connector's pixel at the configured offset
 * (SET_CONFIG's x, y), scaled to the frontend's size where the
 * toolstack set another.
 */
void vkbds_pointer(Vkbds *ks, Connector *c, int mask, int x, int y)
{
    Vkbd *k = kbd_of(ks, c);
    union xenkbd_in_event ev[XDF_POINTER_MAX_EVENTS];
    uint64_t cx, cy;
    unsigned int n, i;

    if (!k || !k->connected) {
        return;
    }
    connector_pixel(c, x, y, &cx, &cy);
    if (k->width != k->conn_width) {
        cx = cx * k->width / k->conn_width;
    }
    if (k->height != k->conn_height) {
        cy = cy * k->height / k->conn_height;
    }
    cx = MIN(cx, k->width);
    cy = MIN(cy, k->height);
    n = xdf_pointer_events(&k->ptr, mask & 0x1f, cx, cy, k->abs, ev);
    xdf_debug(&k->log, "VNC pointer %d,%d buttons 0x%x: %u event(s)", x, y,
              mask, n);
    for (i = 0; i < n; i++) {
        kbd_send(k, &ev[i]);
    }
}

static void kbd_start(Vkbd *k)
{
    struct xs_handle *xs = k->ks->xen->xs;

    if (!xs_watch(xs, k->end.fe_path, k->end.fe_path)) {
        xdf_log(&k->log, "cannot watch %s: %s", k->end.fe_path,
                strerror(errno));
    }
    xdf_log(&k->log, "serving %s from %s: the input of connector %u "
            "(%ux%u) of %s", k->end.fe_path, k->end.be_path, k->conn,
            k->conn_width, k->conn_height, k->disp->end.fe_path);
    xb_start(&k->end);
}

/* Stop serving @k (its directory was @removed, or we go). */
static void kbd_stop(Vkbd *k, bool removed)
{
    Vkbds *ks = k->ks;

    xb_stop(&k->end, removed);
    xdf_log(&k->log, "summary: %lu input events sent, %lu dropped (ring "
            "full)", k->events, k->dropped);
    xs_unwatch(ks->xen->xs, k->end.fe_path, k->end.fe_path);
    g_ptr_array_remove(ks->kbds, k);
    g_free(k->end.fe_path);
    g_free(k->end.be_path);
    g_free(k->log.tag);
    g_free(k);
}

void vkbds_unlink(Vkbds *ks, Vdispl *b)
{
    unsigned int i;

    for (i = 0; i < ks->kbds->len;) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

        if (k->disp == b) {
            xdf_log(&k->log, "%s is no longer served: closing",
                    b->end.fe_path);
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
static Vdispl *kbd_find_link(Vkbds *ks, unsigned int fe_domid,
                             const char *uid, unsigned int *conn,
                             uint32_t *width, uint32_t *height, char **why)
{
    struct xs_handle *xs = ks->xen->xs;
    Vdispl *found = NULL;
    unsigned int i, j, n = 0;

    if (!uid) {
        *why = g_strdup("it has no unique-id");
        return NULL;
    }
    for (i = 0; i < ks->devices->len; i++) {
        Vdispl *b = g_ptr_array_index(ks->devices, i);

        if (b->opt.fe_domid != fe_domid) {
            continue;
        }
        for (j = 0; j < XDF_BE_MAX_CONNECTORS; j++) {
            g_autofree char *dir = g_strdup_printf("%s/%u", b->end.fe_path, j);
            g_autofree char *res = xdf_xs_read(xs, dir,
                                               XENDISPL_FIELD_RESOLUTION);
            g_autofree char *id = NULL;
            uint32_t w, ht;

            if (!res) {
                break;
            }
            id = xdf_xs_read(xs, dir, XENDISPL_FIELD_UNIQUE_ID);
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

static Vkbd *kbd_find(Vkbds *ks, const char *be_path)
{
    unsigned int i;

    for (i = 0; i < ks->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

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
static void kbd_check(Vkbds *ks, const char *kind, const char *dir,
                      unsigned int fe_domid, unsigned int dev_id,
                      const char *fe)
{
    Vkbd *k = kbd_find(ks, dir);
    g_autofree char *uid = xdf_xs_read(ks->xen->xs, dir,
                                       XENKBD_FIELD_UNIQUE_ID);
    g_autofree char *prefix = g_strdup_printf("/local/domain/%u/device/",
                                              fe_domid);
    g_autofree char *why = NULL;
    unsigned int conn = 0;
    uint32_t w = 0, ht = 0;
    Vdispl *b = kbd_find_link(ks, fe_domid, uid, &conn, &w, &ht, &why);
    const char *old;

    if (b && (!g_str_has_prefix(fe, prefix) || strstr(fe, "/.."))) {
        why = g_strdup_printf("its frontend node '%s' is not a device of "
                              "domain %u", fe, fe_domid);
        b = NULL;
    }
    if (k && (k->disp != b || k->conn != conn)) {
        xdf_log(&k->log, "no longer linked to connector %u of %s: %s",
                k->conn, k->disp->end.fe_path,
                why ? why : "its unique-id names another");
        kbd_stop(k, false);
        k = NULL;
    }
    if (!b) {
        old = g_hash_table_lookup(ks->unlinked, dir);
        if (!old || strcmp(old, why)) {
            xdf_log(NULL, "%s %u/%u: not serving %s: %s", kind, fe_domid,
                    dev_id, dir, why);
            g_hash_table_insert(ks->unlinked, g_strdup(dir),
                                g_steal_pointer(&why));
        }
        return;
    }
    if (k) {
        return;
    }
    g_hash_table_remove(ks->unlinked, dir);
    k = g_new0(Vkbd, 1);
    k->ks = ks;
    k->fe_domid = fe_domid;
    k->end.ops = &vkbd_ops;
    k->end.xs = ks->xen->xs;
    k->end.log = &k->log;
    k->end.guarded = true;
    k->end.fe_path = g_strdup(fe);
    k->end.be_path = g_strdup(dir);
    k->log.tag = g_strdup_printf("%s %u/%u", kind, fe_domid, dev_id);
    k->disp = b;
    k->conn = conn;
    k->conn_width = w;
    k->conn_height = ht;
    k->port = -1;
    g_ptr_array_add(ks->kbds, k);
    kbd_start(k);
}

/* @k's backend directory was removed (xl destroy, the device's QEMU gone). */
static void kbd_removed(Vkbd *k)
{
    xdf_log(&k->log, "%s was removed: no longer serving it", k->end.be_path);
    kbd_stop(k, true);
}

/*
 * The vkbd device of backend directory @dir (device @dev_id of domain
 * @fe_domid, of kind @kind) changed at @node ("" for the directory
 * itself): let go of it when it was removed, check its link when that
 * may have changed, and drive its state.
 */
static void kbd_dir_changed(Vkbds *ks, const char *kind, const char *dir,
                            unsigned long fe_domid, unsigned long dev_id,
                            const char *node)
{
    Vkbd *k = kbd_find(ks, dir);
    g_autofree char *fe = xdf_xs_read(ks->xen->xs, dir, "frontend");

    if (!fe) {
        g_hash_table_remove(ks->unlinked, dir);
        if (k) {
            kbd_removed(k);
        }
        return;
    }
    if (!k || !*node || !strcmp(node, "frontend") ||
        !strcmp(node, XENKBD_FIELD_UNIQUE_ID)) {
        kbd_check(ks, kind, dir, fe_domid, dev_id, fe);
        k = kbd_find(ks, dir);
    }
    if (k) {
        xb_reconcile(&k->end);
    }
}

typedef struct KbdScan {
    Vkbds *ks;
    const char *kind;
    GHashTable *seen;           /* backend directories */
} KbdScan;

static void kbd_dir_seen(void *opaque, const char *dir,
                         unsigned long fe_domid, unsigned long dev_id)
{
    KbdScan *scan = opaque;

    g_hash_table_add(scan->seen, g_strdup(dir));
    kbd_dir_changed(scan->ks, scan->kind, dir, fe_domid, dev_id, "");
}

/* Whether vkbd backend directory @dir is of frontend domain @dom. */
static bool kbd_dir_of(Vkbds *ks, const char *dir, long dom)
{
    unsigned long fe_domid, dev_id;
    const char *node;
    unsigned int r;

    for (r = 0; r < G_N_ELEMENTS(kbd_kinds); r++) {
        if (xdf_backend_path_split(dir, ks->roots[r], &fe_domid, &dev_id,
                                   &node) == 2) {
            return dom < 0 || fe_domid == (unsigned long)dom;
        }
    }
    return false;
}

void vkbds_scan(Vkbds *ks, long dom)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);
    GHashTableIter it;
    gpointer dir;
    unsigned int r, i;

    for (r = 0; r < G_N_ELEMENTS(kbd_kinds); r++) {
        KbdScan scan = { .ks = ks, .kind = kbd_kinds[r], .seen = seen };

        xdf_backend_dirs_foreach(ks->xen->xs, ks->roots[r], dom,
                                 kbd_dir_seen, &scan);
    }
    /* what is no longer there has gone with its domain's directory */
    g_hash_table_iter_init(&it, ks->unlinked);
    while (g_hash_table_iter_next(&it, &dir, NULL)) {
        if (kbd_dir_of(ks, dir, dom) && !g_hash_table_contains(seen, dir)) {
            g_hash_table_iter_remove(&it);
        }
    }
    for (i = 0; i < ks->kbds->len;) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

        if (kbd_dir_of(ks, k->end.be_path, dom) &&
            !g_hash_table_contains(seen, k->end.be_path)) {
            kbd_removed(k);
            continue;
        }
        i++;
    }
}

bool vkbds_watch_event(Vkbds *ks, const char *path, const char *token)
{
    unsigned long dom = 0, dev;
    const char *node = "";
    unsigned int i;
    int n;

    if (!strcmp(token, "kbd")) {
        for (i = 0; i < G_N_ELEMENTS(kbd_kinds); i++) {
            n = xdf_backend_path_split(path, ks->roots[i], &dom, &dev, &node);
            if (n == 2) {
                g_autofree char *dir = g_strdup_printf("%s/%lu/%lu",
                                                       ks->roots[i], dom,
                                                       dev);

                kbd_dir_changed(ks, kbd_kinds[i], dir, dom, dev, node);
            } else if (n >= 0) {
                vkbds_scan(ks, n ? (long)dom : -1);
            }
        }
        return true;
    }
    for (i = 0; i < ks->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

        if (!strcmp(token, k->end.fe_path)) {
            xb_reconcile(&k->end);
            return true;
        }
    }
    return false;
}

int64_t vkbds_deadline(Vkbds *ks, int64_t deadline)
{
    unsigned int i;

    for (i = 0; i < ks->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

        deadline = xb_deadline(&k->end, deadline);
    }
    return deadline;
}

void vkbds_poll(Vkbds *ks)
{
    unsigned int i;

    for (i = 0; i < ks->kbds->len; i++) {
        Vkbd *k = g_ptr_array_index(ks->kbds, i);

        xb_poll(&k->end);
    }
}

void vkbds_free(Vkbds *ks)
{
    unsigned int i;

    while (ks->kbds->len) {
        kbd_stop(g_ptr_array_index(ks->kbds, 0), false);
    }
    g_ptr_array_free(ks->kbds, TRUE);
    g_hash_table_destroy(ks->unlinked);
    for (i = 0; i < G_N_ELEMENTS(kbd_kinds); i++) {
        g_free(ks->roots[i]);
    }
    g_free(ks);
}

Vkbds *vkbds_new(const XdfXen *xen, GPtrArray *devices)
{
    Vkbds *ks = g_new0(Vkbds, 1);
    unsigned int i;

    ks->xen = xen;
    ks->devices = devices;
    ks->kbds = g_ptr_array_new();
    ks->unlinked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_free);
    for (i = 0; i < G_N_ELEMENTS(kbd_kinds); i++) {
        ks->roots[i] = g_strdup_printf("/local/domain/%lu/backend/%s",
                                       xen->own, kbd_kinds[i]);
        if (!xs_watch(xen->xs, ks->roots[i], "kbd")) {
            xdf_log(NULL, "cannot watch %s: %s", ks->roots[i],
                    strerror(errno));
            vkbds_free(ks);
            return NULL;
        }
    }
    return ks;
}
