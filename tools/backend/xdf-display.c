/*
 * xdf-backend: a vdispl device we serve
 *
 * The frontend is never trusted: ring indices, sizes, cookies, page
 * directories and formats are checked; a bad request gets an error
 * response, a broken ring costs the connection, never the process.
 *
 * What one device may make us allocate and compute is bounded: a
 * picture fits its framebuffer, a framebuffer its dbuf, a dbuf the pages
 * granted (each data page its own grant); backend-allocated buffers take
 * at most XDF_BE_ALLOC_FRAMES frames of the device's connectors; and all
 * of it at most --max-device-memory.  Lines about a device's requests
 * are rate-limited (xdf_req_log()).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "displif-proto.h"
#include "xdf-display.h"
#include "xdf-edid.h"
#include "xdf-image.h"

#define XDF_MAX_DBUFS 64
#define XDF_MAX_BUFFER_SZ (256u << 20)     /* 8192 x 8192 x 32 bpp */
/* backend-allocated buffers: at most this many frames of the connectors */
#define XDF_BE_ALLOC_FRAMES 4

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

/*
 * Make the backend directory as a toolstack would, when nobody did: the
 * backend domain owns it, the frontend may read it.
 */
static void ensure_backend_dir(Vdispl *b)
{
    g_autofree char *fe = xdf_xs_read(b->xs, b->end.be_path, "frontend");
    char val[16];

    if (!fe && b->opt.fe_auto) {
        return;     /* removed by the toolstack: the host lets go of us */
    }
    if (!fe) {
        struct xs_permissions perms[2] = {
            { .id = b->own, .perms = XS_PERM_NONE },
            { .id = b->opt.fe_domid, .perms = XS_PERM_READ },
        };

        xdf_log(&b->log, "creating %s (no toolstack or frontend made it)",
                b->end.be_path);
        if (!xs_mkdir(b->xs, XBT_NULL, b->end.be_path) ||
            !xs_set_permissions(b->xs, XBT_NULL, b->end.be_path, perms, 2)) {
            xdf_log(&b->log, "cannot create %s: %s", b->end.be_path,
                    strerror(errno));
        }
        xdf_xs_write(&b->log, b->xs, b->end.be_path, "frontend",
                     b->end.fe_path);
        snprintf(val, sizeof(val), "%u", b->opt.fe_domid);
        xdf_xs_write(&b->log, b->xs, b->end.be_path, "frontend-id", val);
        xdf_xs_write(&b->log, b->xs, b->end.be_path, "online", "1");
    }
    xdf_xs_write(&b->log, b->xs, b->end.be_path, "versions", "1,2");
}

/* Output -------------------------------------------------------------- */

static void save_png(Connector *c, const uint8_t *rgb, uint32_t w, uint32_t h,
                     const char *tag)
{
    Vdispl *b = c->dev;
    g_autofree char *path = NULL;
    const char *why = NULL;

    if (!b->opt.output_dir || !rgb) {
        return;
    }
    path = g_strdup_printf("%s/conn%u-%s.png", b->opt.output_dir, c->index,
                           tag);
    if (xdf_png_write(path, rgb, w, h, &why)) {
        xdf_log(&b->log, "cannot write %s: %s", path, why);
        return;
    }
    xdf_debug(&b->log, "wrote %s (%ux%u)", path, w, h);
}

/*
 * Show what the connector shows now in its live view, opened at the
 * first frame.  A port we cannot listen on ends the backend.
 */
static void vnc_show(Connector *c)
{
    Vdispl *b = c->dev;
    uint32_t w = c->shown_width, h = c->shown_height;
    bool port_in_use;

    if (b->opt.vnc_port <= 0 || !w || !h) {
        return;
    }
    if (!c->vnc) {
        c->vnc = xdf_vnc_open(&b->log, c->index, b->opt.vnc_address,
                              b->opt.vnc_port + c->index,
                              b->opt.vnc_passwords, w, h, b->vnc_ops, c,
                              &port_in_use);
        if (!c->vnc) {
            b->opt.vnc_port = -1;
            if (port_in_use) {
                b->hooks->port_in_use(b->opaque);
            }
            return;
        }
    }
    xdf_vnc_show(c->vnc, c->shown, w, h);
}

/*
 * Take a copy of what the connector shows now: the configured size, read
 * from @f at x, y (clipped to the framebuffer; outside it is black).
 */
static void capture(Connector *c, Fb *f)
{
    Vdispl *b = c->dev;
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

/* Buffers ------------------------------------------------------------- */

/* Release a buffer's pages (the table entry is freed by dbuf_free). */
static void dbuf_release(Vdispl *b, Dbuf *d)
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

/*
 * A frame is read (turned into RGB: PNG files, the live view) only when
 * something wants it (frame_wanted()); the last one flipped may stay
 * unread.  Before a framebuffer goes, read it for each connector that
 * shows it unread: conn<i>-last.png, and a viewer that comes later, still
 * get it.
 */
static void keep_last(Vdispl *b, uint64_t cookie)
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
static void fb_forget(Vdispl *b, uint64_t cookie)
{
    unsigned int i;

    keep_last(b, cookie);
    for (i = 0; i < b->nr_conn; i++) {
        if (b->conn[i].config_fb == cookie) {
            xdf_debug(&b->log, "connector %u: framebuffer 0x%" PRIx64
                      " went away: display off", i, cookie);
            b->conn[i].config_fb = 0;
        }
    }
    g_hash_table_remove(b->fbs, &cookie);
}

static void dbuf_destroy(Vdispl *b, Dbuf *d)
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

static void dbufs_destroy_all(Vdispl *b)
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
static uint64_t picture_bytes(Vdispl *b, uint32_t width, uint32_t height)
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
    return MAX(picture_bytes(c->dev, c->shown_width, c->shown_height),
               picture_bytes(c->dev, c->cfg_width, c->cfg_height));
}

/* What device @b costs us now, leaving out connector @skip's picture. */
static uint64_t device_bytes(Vdispl *b, Connector *skip)
{
    uint64_t n = b->be_alloc_bytes;
    unsigned int i;

    for (i = 0; i < XDF_BE_MAX_CONNECTORS; i++) {
        if (&b->conn[i] != skip) {
            n += connector_bytes(&b->conn[i]);
        }
    }
    return n;
}

/* Backend-allocated buffers may take XDF_BE_ALLOC_FRAMES frames. */
static uint64_t be_alloc_allowance(Vdispl *b)
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
static int pgdir_walk(Vdispl *b, uint32_t dir_ref, uint32_t n_data,
                      uint32_t *refs, const uint32_t *fill)
{
    uint32_t n_dir = displif_dir_pages(n_data), i, j, k = 0;
    uint32_t ref = dir_ref;
    int prot = fill ? PROT_READ | PROT_WRITE : PROT_READ;

    for (i = 0; i < n_dir; i++) {
        uint32_t *page;

        if (!ref) {
            xdf_req_log(&b->log, "page directory ends after %u page(s); %u "
                        "data refs need %u", i, n_data, n_dir);
            return -EINVAL;
        }
        page = xengnttab_map_grant_ref(b->xg, b->opt.fe_domid, ref, prot);
        if (!page) {
            xdf_req_log(&b->log, "cannot map page directory page %u (grant "
                        "ref %u) of domain %u: %s", i, ref, b->opt.fe_domid,
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
                    xdf_req_log(&b->log, "page directory: data ref %u of %u "
                                "is 0", k, n_data);
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

/* Requests ------------------------------------------------------------ */

static int op_dbuf_create(Vdispl *b, const struct xendispl_dbuf_create_req *r)
{
    XdfLog *log = &b->log;
    g_autofree uint32_t *refs = NULL;
    uint64_t need, bytes, used;
    uint32_t ref;
    Dbuf *d;
    int ret;

    if (!r->dbuf_cookie) {
        xdf_req_log(log, "DBUF_CREATE: dbuf_cookie 0 is not a cookie");
        return -EINVAL;
    }
    if (g_hash_table_contains(b->dbufs, &r->dbuf_cookie)) {
        xdf_req_log(log, "DBUF_CREATE: dbuf_cookie 0x%" PRIx64
                    " already exists", r->dbuf_cookie);
        return -EEXIST;
    }
    if (g_hash_table_size(b->dbufs) >= XDF_MAX_DBUFS) {
        xdf_req_log(log, "DBUF_CREATE: already %d buffers", XDF_MAX_DBUFS);
        return -ENOMEM;
    }
    if (!r->width || !r->height || r->width > DISPLIF_MAX_SIDE ||
        r->height > DISPLIF_MAX_SIDE || !r->bpp || r->bpp > 32 ||
        r->bpp % 8) {
        xdf_req_log(log, "DBUF_CREATE: %ux%u at %u bpp is out of range",
                    r->width, r->height, r->bpp);
        return -EINVAL;
    }
    need = (uint64_t)r->data_ofs +
           displif_buffer_size(r->width, r->height, r->bpp);
    if (r->buffer_sz < need || r->buffer_sz > XDF_MAX_BUFFER_SZ) {
        xdf_req_log(log, "DBUF_CREATE: buffer_sz %u for %ux%u at %u bpp, "
                    "data_ofs %u: need %" PRIu64 " to %u", r->buffer_sz,
                    r->width, r->height, r->bpp, r->data_ofs, need,
                    XDF_MAX_BUFFER_SZ);
        return -EINVAL;
    }
    if (r->flags & ~XENDISPL_DBUF_FLG_REQ_ALLOC) {
        xdf_req_log(log, "DBUF_CREATE: unknown flags 0x%x", r->flags);
        return -EINVAL;
    }
    if (!r->gref_directory) {
        xdf_req_log(log, "DBUF_CREATE: gref_directory is 0");
        return -EINVAL;
    }
    bytes = (uint64_t)displif_pages(r->buffer_sz) * DISPLIF_PAGE_SIZE;
    if (r->flags & XENDISPL_DBUF_FLG_REQ_ALLOC) {
        if (!b->xgs) {
            xdf_req_log(log, "DBUF_CREATE: REQ_ALLOC, but grant sharing is "
                        "not available");
            return -EOPNOTSUPP;
        }
        if (!b->be_alloc_allowed) {
            xdf_req_log(log, "DBUF_CREATE: REQ_ALLOC but %s/be-alloc is not "
                        "\"1\"", b->end.fe_path);
            return -EINVAL;
        }
        /* our memory: bounded by the connectors, and by our budget */
        used = b->be_alloc_bytes + bytes;
        if (used > be_alloc_allowance(b)) {
            xdf_req_log(log, "DBUF_CREATE: REQ_ALLOC of %" PRIu64 " bytes: "
                        "backend-allocated buffers would take %" PRIu64
                        " bytes, more than %d frames of the connectors (%"
                        PRIu64 ")", bytes, used, XDF_BE_ALLOC_FRAMES,
                        be_alloc_allowance(b));
            return -ENOMEM;
        }
        used = device_bytes(b, NULL) + bytes;
        if (used > b->opt.max_device_memory) {
            xdf_req_log(log, "DBUF_CREATE: REQ_ALLOC of %" PRIu64 " bytes "
                        "would take the device to %" PRIu64 " bytes, more "
                        "than --max-device-memory (%" PRIu64 ")", bytes, used,
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
            xdf_req_log(log, "DBUF_CREATE: cannot share %u pages with domain "
                        "%u: %s", d->n_data, b->opt.fe_domid,
                        strerror(errno));
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
            xdf_req_log(log, "DBUF_CREATE: the page directory lists grant ref "
                        "%u more than once: each of the %u data pages must "
                        "be granted on its own", ref, d->n_data);
            g_free(d);
            return -EINVAL;
        }
        d->data = xengnttab_map_domain_grant_refs(b->xg, d->n_data,
                                                  b->opt.fe_domid, refs,
                                                  PROT_READ);
        if (!d->data) {
            xdf_req_log(log, "DBUF_CREATE: cannot map the %u data pages of "
                        "domain %u: %s", d->n_data, b->opt.fe_domid,
                        strerror(errno));
            g_free(d);
            return -EINVAL;
        }
    }
    g_hash_table_insert(b->dbufs, &d->cookie, d);
    xdf_debug(log, "dbuf 0x%" PRIx64 ": %ux%u, %u bpp, %u pages%s", d->cookie,
              d->width, d->height, d->bpp, d->n_data,
              d->be_alloc ? ", backend-allocated" : "");
    return 0;
}

static int op_dbuf_destroy(Vdispl *b,
                           const struct xendispl_dbuf_destroy_req *r)
{
    Dbuf *d = g_hash_table_lookup(b->dbufs, &r->dbuf_cookie);

    if (!d) {
        xdf_req_log(&b->log, "DBUF_DESTROY: no dbuf_cookie 0x%" PRIx64,
                    r->dbuf_cookie);
        return -ENOENT;
    }
    dbuf_destroy(b, d);
    return 0;
}

static int op_fb_attach(Vdispl *b, const struct xendispl_fb_attach_req *r)
{
    XdfLog *log = &b->log;
    Dbuf *d = g_hash_table_lookup(b->dbufs, &r->dbuf_cookie);
    unsigned int bpp = xdf_format_bpp(r->pixel_format);
    char name[12];
    Fb *f;

    if (!d) {
        xdf_req_log(log, "FB_ATTACH: no dbuf_cookie 0x%" PRIx64,
                    r->dbuf_cookie);
        return -ENOENT;
    }
    if (!r->fb_cookie) {
        xdf_req_log(log, "FB_ATTACH: fb_cookie 0 is not a cookie");
        return -EINVAL;
    }
    if (g_hash_table_contains(b->fbs, &r->fb_cookie)) {
        xdf_req_log(log, "FB_ATTACH: fb_cookie 0x%" PRIx64 " already exists",
                    r->fb_cookie);
        return -EEXIST;
    }
    if (!bpp) {
        xdf_req_log(log, "FB_ATTACH: pixel format %s is not supported",
                    xdf_format_name(r->pixel_format, name));
        return -EINVAL;
    }
    if (bpp != d->bpp || !r->width || !r->height || r->width > d->width ||
        r->height > d->height) {
        xdf_req_log(log, "FB_ATTACH: %ux%u %s does not fit dbuf 0x%" PRIx64
                    " (%ux%u, %u bpp)", r->width, r->height,
                    xdf_format_name(r->pixel_format, name), d->cookie,
                    d->width, d->height, d->bpp);
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

static int op_fb_detach(Vdispl *b, const struct xendispl_fb_detach_req *r)
{
    if (!g_hash_table_contains(b->fbs, &r->fb_cookie)) {
        xdf_req_log(&b->log, "FB_DETACH: no fb_cookie 0x%" PRIx64,
                    r->fb_cookie);
        return -ENOENT;
    }
    fb_forget(b, r->fb_cookie);
    return 0;
}

static int op_set_config(Connector *c, const struct xendispl_set_config_req *r)
{
    Vdispl *b = c->dev;
    XdfLog *log = &b->log;
    uint64_t used;
    Fb *f;

    if (!r->fb_cookie) {
        if (r->x || r->y || r->width || r->height || r->bpp) {
            xdf_req_log(log, "connector %u: SET_CONFIG without a framebuffer "
                        "but %ux%u+%u+%u at %u bpp", c->index, r->width,
                        r->height, r->x, r->y, r->bpp);
            return -EINVAL;
        }
        if (c->config_fb) {
            xdf_req_log(log, "connector %u: display off", c->index);
        }
        c->config_fb = 0;
        return 0;
    }
    f = g_hash_table_lookup(b->fbs, &r->fb_cookie);
    if (!f) {
        xdf_req_log(log, "connector %u: SET_CONFIG: no fb_cookie 0x%" PRIx64,
                    c->index, r->fb_cookie);
        return -ENOENT;
    }
    if (!r->width || !r->height ||
        (uint64_t)r->x + r->width > c->width ||
        (uint64_t)r->y + r->height > c->height ||
        r->width > f->width || r->height > f->height ||
        r->bpp != f->dbuf->bpp) {
        xdf_req_log(log, "connector %u: SET_CONFIG %ux%u+%u+%u at %u bpp "
                    "does not fit the connector (%ux%u) or framebuffer 0x%"
                    PRIx64 " (%ux%u, %u bpp)", c->index, r->width, r->height,
                    r->x, r->y, r->bpp, c->width, c->height, f->cookie,
                    f->width, f->height, f->dbuf->bpp);
        return -EINVAL;
    }
    used = device_bytes(b, c) +
           MAX(picture_bytes(b, r->width, r->height),
               picture_bytes(b, c->shown_width, c->shown_height));
    if (used > b->opt.max_device_memory) {
        xdf_req_log(log, "connector %u: SET_CONFIG %ux%u: its picture would "
                    "take the device to %" PRIu64 " bytes, more than "
                    "--max-device-memory (%" PRIu64 ")", c->index, r->width,
                    r->height, used, b->opt.max_device_memory);
        return -ENOMEM;
    }
    if (c->config_fb == 0 || c->cfg_width != r->width ||
        c->cfg_height != r->height) {
        xdf_req_log(log, "connector %u: display on, %ux%u", c->index,
                    r->width, r->height);
    }
    c->config_fb = r->fb_cookie;
    c->cfg_x = r->x;
    c->cfg_y = r->y;
    c->cfg_width = r->width;
    c->cfg_height = r->height;
    return 0;
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
    VdisplOptions *o = &c->dev->opt;

    if (o->last_only) {
        return false;
    }
    return o->on_change || (o->every && c->frames % o->every == 0) ||
           (o->vnc_port > 0 && (!c->vnc || xdf_vnc_viewed(c->vnc)));
}

static int op_pg_flip(Connector *c, const struct xendispl_page_flip_req *r)
{
    Vdispl *b = c->dev;
    Fb *f;

    if (!c->config_fb) {
        xdf_debug(&b->log, "connector %u: PG_FLIP before SET_CONFIG",
                  c->index);
        return -EPERM;          /* as displ_be */
    }
    f = g_hash_table_lookup(b->fbs, &r->fb_cookie);
    if (!f) {
        xdf_req_log(&b->log, "connector %u: PG_FLIP: no fb_cookie 0x%"
                    PRIx64, c->index, r->fb_cookie);
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
    Vdispl *b = c->dev;
    uint32_t n, ref;
    uint8_t *page;
    int ret;

    if (r->buffer_sz < XDF_EDID_SIZE || r->buffer_sz > XENDISPL_EDID_MAX_SIZE
        || !r->gref_directory) {
        xdf_req_log(&b->log, "connector %u: GET_EDID: buffer_sz %u (need %d "
                    "to %d) or gref_directory %u is bad", c->index,
                    r->buffer_sz, XDF_EDID_SIZE, XENDISPL_EDID_MAX_SIZE,
                    r->gref_directory);
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
        xdf_req_log(&b->log, "connector %u: GET_EDID: cannot map grant ref "
                    "%u of domain %u writable: %s", c->index, ref,
                    b->opt.fe_domid, strerror(errno));
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
            xdf_log(&c->dev->log, "connector %u: event ring full (in_prod "
                    "%u, in_cons %u): dropping frame-done events", c->index,
                    prod, cons);
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
    if (xenevtchn_notify(c->dev->xe, c->evt_port) < 0) {
        xdf_log(&c->dev->log, "connector %u: cannot notify event port %d: %s",
                c->index, c->evt_port, strerror(errno));
    }
}

static int handle(Connector *c, const struct xendispl_req *req,
                  struct xendispl_resp *rsp)
{
    Vdispl *b = c->dev;
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
        xdf_req_log(&b->log, "connector %u: unknown operation 0x%02x (id %u)",
                    c->index, req->operation, req->id);
        return -EINVAL;
    }
}

/*
 * Answer what is on the connector's request ring.  Returns false when the
 * frontend broke the ring (the caller disconnects).
 */
static bool serve_ring(Connector *c)
{
    Vdispl *b = c->dev;
    uint64_t flipped[XENDISPL_IN_RING_LEN];
    unsigned int n_flipped = 0, i;
    int more;

    do {
        RING_IDX rc = c->ring.req_cons;
        RING_IDX rp = c->ring.sring->req_prod;

        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(&c->ring, rp)) {
            xdf_log(&b->log, "connector %u: frontend set req_prod to %u with "
                    "%u responses given: more than the ring's %u slots",
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
            xdf_debug(&b->log, "connector %u: op 0x%02x id %u -> %d",
                      c->index, req.operation, req.id, rsp->status);
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
        xdf_log(&b->log, "connector %u: cannot notify request port %d: %s",
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
    Vdispl *b = c->dev;

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

static void disconnect(Vdispl *b)
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
    xdf_log(&b->log, "disconnected from %s", b->end.fe_path);
}

static bool read_connectors(Vdispl *b)
{
    unsigned int i;

    for (i = 0; i < XDF_BE_MAX_CONNECTORS; i++) {
        g_autofree char *dir = g_strdup_printf("%s/%u", b->end.fe_path, i);
        g_autofree char *res = xdf_xs_read(b->xs, dir,
                                           XENDISPL_FIELD_RESOLUTION);
        Connector *c = &b->conn[i];
        uint32_t w, h;

        if (!res) {
            break;
        }
        if (displif_parse_resolution(res, &w, &h)) {
            xdf_log(&b->log, "%s/%s is '%s', not WIDTHxHEIGHT with sides 1 "
                    "to %d", dir, XENDISPL_FIELD_RESOLUTION, res,
                    DISPLIF_MAX_SIDE);
            return false;
        }
        if (i >= b->nr_conn || c->width != w || c->height != h) {
            xdf_log(&b->log, "connector %u: %ux%u", i, w, h);
        }
        c->dev = b;
        c->index = i;
        c->width = w;
        c->height = h;
    }
    if (!i) {
        xdf_log(&b->log, "%s/0/%s is missing: no connector", b->end.fe_path,
                XENDISPL_FIELD_RESOLUTION);
        return false;
    }
    b->nr_conn = i;
    return true;
}

/* Map page @ref of the frontend (@what: which), saying why not. */
static void *connector_map_page(Connector *c, unsigned long ref,
                                const char *what)
{
    Vdispl *b = c->dev;
    void *page = xengnttab_map_grant_ref(b->xg, b->opt.fe_domid, ref,
                                         PROT_READ | PROT_WRITE);

    if (!page) {
        xdf_log(&b->log, "connector %u: cannot map %s (grant ref %lu of "
                "domain %u): %s", c->index, what, ref, b->opt.fe_domid,
                strerror(errno));
    }
    return page;
}

/* Bind event channel @chn of the frontend (@what: which), saying why not. */
static int connector_bind(Connector *c, unsigned long chn, const char *what)
{
    Vdispl *b = c->dev;
    int port = xenevtchn_bind_interdomain(b->xe, b->opt.fe_domid, chn);

    if (port < 0) {
        xdf_log(&b->log, "connector %u: cannot bind %s %lu of domain %u: %s",
                c->index, what, chn, b->opt.fe_domid, strerror(errno));
    }
    return port;
}

static bool connector_map(Connector *c)
{
    Vdispl *b = c->dev;
    g_autofree char *dir = g_strdup_printf("%s/%u", b->end.fe_path, c->index);
    unsigned long req_ref, evt_ref, req_chn, evt_chn;

    if (!xdf_xs_read_uint(b->xs, dir, XENDISPL_FIELD_REQ_RING_REF,
                          UINT32_MAX, &req_ref) ||
        !xdf_xs_read_uint(b->xs, dir, XENDISPL_FIELD_EVT_RING_REF,
                          UINT32_MAX, &evt_ref) ||
        !xdf_xs_read_uint(b->xs, dir, XENDISPL_FIELD_REQ_CHANNEL,
                          UINT32_MAX, &req_chn) ||
        !xdf_xs_read_uint(b->xs, dir, XENDISPL_FIELD_EVT_CHANNEL,
                          UINT32_MAX, &evt_chn)) {
        xdf_log(&b->log, "%s: %s, %s, %s or %s is missing or not a number",
                dir, XENDISPL_FIELD_REQ_RING_REF, XENDISPL_FIELD_EVT_RING_REF,
                XENDISPL_FIELD_REQ_CHANNEL, XENDISPL_FIELD_EVT_CHANNEL);
        return false;
    }
    c->ring_page = connector_map_page(c, req_ref, "request ring");
    if (!c->ring_page) {
        return false;
    }
    BACK_RING_INIT(&c->ring, (struct xen_displif_sring *)c->ring_page,
                   DISPLIF_PAGE_SIZE);
    c->evt_page = connector_map_page(c, evt_ref, "event page");
    if (!c->evt_page) {
        return false;
    }
    c->req_port = connector_bind(c, req_chn, "request event channel");
    if (c->req_port < 0) {
        return false;
    }
    c->evt_port = connector_bind(c, evt_chn, "event channel");
    if (c->evt_port < 0) {
        return false;
    }
    c->evt_id = 0;
    c->evt_dropped = 0;
    xdf_debug(&b->log, "connector %u: rings mapped, ports %d/%d", c->index,
              c->req_port, c->evt_port);
    return true;
}

/* Map what the frontend published; on failure nothing stays mapped. */
static bool connect_frontend(Vdispl *b)
{
    unsigned long v = 0;
    unsigned int i;

    if (!read_connectors(b)) {
        return false;
    }
    b->be_alloc_allowed = xdf_xs_read_uint(b->xs, b->end.fe_path,
                                           XENDISPL_FIELD_BE_ALLOC, 1, &v) &&
                          v == 1;
    b->connected = true;
    for (i = 0; i < b->nr_conn; i++) {
        if (!connector_map(&b->conn[i])) {
            disconnect(b);
            return false;
        }
    }
    xdf_log(&b->log, "connected to %s: %u connector(s), version %s, "
            "be-alloc %s", b->end.fe_path, b->nr_conn,
            xdf_xs_read_uint(b->xs, b->end.fe_path, "version", 99, &v) ?
            (v == 2 ? "2" : "1") : "(not set)",
            b->be_alloc_allowed ? "on" : "off");
    return true;
}

#define VDISPL_OF(e) ((Vdispl *)((char *)(e) - offsetof(Vdispl, end)))

static void vdispl_prepare(XbEnd *e)
{
    ensure_backend_dir(VDISPL_OF(e));
}

static bool vdispl_connect(XbEnd *e)
{
    return connect_frontend(VDISPL_OF(e));
}

static void vdispl_disconnect(XbEnd *e)
{
    disconnect(VDISPL_OF(e));
}

static const XbEndOps vdispl_ops = {
    .prepare = vdispl_prepare,
    .connect = vdispl_connect,
    .disconnect = vdispl_disconnect,
};

/* The live view ------------------------------------------------------- */

/* A viewer came: show it the frame flipped last, read now if need be. */
static void vnc_viewer_came(void *opaque)
{
    Connector *c = opaque;
    Fb *f = g_hash_table_lookup(c->dev->fbs, &c->flipped_fb);

    if (c->unread && f) {
        capture(c, f);
    }
}

/* Its viewers' input goes to the connector's vkbd device, if any. */
static void vnc_key(void *opaque, bool down, uint32_t keysym)
{
    Connector *c = opaque;

    c->dev->hooks->key(c->dev->opaque, c, down, keysym);
}

static void vnc_pointer(void *opaque, int mask, int x, int y)
{
    Connector *c = opaque;

    c->dev->hooks->pointer(c->dev->opaque, c, mask, x, y);
}

static const XdfVncOps vnc_ops = {
    .viewer_came = vnc_viewer_came,
    .key = vnc_key,
    .pointer = vnc_pointer,
};

void connector_pixel(const Connector *c, int x, int y, uint64_t *cx,
                     uint64_t *cy)
{
    *cx = (uint64_t)c->cfg_x + CLAMP(x, 0, MAX((int)c->shown_width - 1, 0));
    *cy = (uint64_t)c->cfg_y + CLAMP(y, 0, MAX((int)c->shown_height - 1, 0));
}

/* The device ---------------------------------------------------------- */

Vdispl *vdispl_new(const XdfXen *xen, const VdisplOptions *opt,
                   const char *tag, const VdisplHooks *hooks, void *opaque)
{
    Vdispl *b = g_new0(Vdispl, 1);
    unsigned int i;

    b->opt = *opt;
    b->out_dir = g_strdup(opt->output_dir);
    b->opt.output_dir = b->out_dir;
    b->log.tag = g_strdup(tag);
    b->xs = xen->xs;
    b->xe = xen->xe;
    b->xg = xen->xg;
    b->xgs = xen->xgs;
    b->own = xen->own;
    b->hooks = hooks;
    b->opaque = opaque;
    b->vnc_ops = &vnc_ops;
    for (i = 0; i < XDF_BE_MAX_CONNECTORS; i++) {
        b->conn[i].dev = b;
        b->conn[i].index = i;
        b->conn[i].req_port = b->conn[i].evt_port = -1;
    }
    b->dbufs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                     g_free);
    b->fbs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                   g_free);
    b->end.ops = &vdispl_ops;
    b->end.xs = b->xs;
    b->end.log = &b->log;
    b->end.guarded = b->opt.fe_auto;
    b->end.fe_path = g_strdup_printf("/local/domain/%u/device/%s/%u",
                                     opt->fe_domid, XENDISPL_DRIVER_NAME,
                                     opt->dev_id);
    b->end.be_path = g_strdup_printf("/local/domain/%lu/backend/%s/%u/%u",
                                     xen->own, XENDISPL_DRIVER_NAME,
                                     opt->fe_domid, opt->dev_id);
    return b;
}

void vdispl_event(Vdispl *b, int port)
{
    unsigned int i;

    for (i = 0; b->connected && i < b->nr_conn; i++) {
        Connector *c = &b->conn[i];

        if (port == c->req_port && !serve_ring(c)) {
            xb_close_and_wait(&b->end);
        }
    }
}

void vdispl_poll(Vdispl *b)
{
    unsigned int i;

    xb_poll(&b->end);
    for (i = 0; i < XDF_BE_MAX_CONNECTORS; i++) {
        if (b->conn[i].vnc) {
            xdf_vnc_poll(b->conn[i].vnc);
        }
    }
}

void vdispl_save_last(Vdispl *b)
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

static void summary(Vdispl *b)
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
    xdf_log(&b->log, "%s", s->str);
    g_string_free(s, TRUE);
}

void vdispl_stop(Vdispl *b, bool removed)
{
    vdispl_save_last(b);
    xb_stop(&b->end, removed);
    xdf_req_log_suppressed(&b->log);
    summary(b);
}

void vdispl_free(Vdispl *b)
{
    unsigned int i;

    for (i = 0; i < XDF_BE_MAX_CONNECTORS; i++) {
        if (b->conn[i].vnc) {
            xdf_vnc_close(b->conn[i].vnc);
        }
        g_free(b->conn[i].shown);
        g_free(b->conn[i].saved);
    }
    g_hash_table_destroy(b->fbs);
    g_hash_table_destroy(b->dbufs);
    g_free(b->end.fe_path);
    g_free(b->end.be_path);
    g_free(b->out_dir);
    g_free(b->log.tag);
    g_free(b);
}
