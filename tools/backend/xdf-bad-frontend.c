/*
 * xdf-bad-frontend: a displif frontend that misbehaves, to test a backend
 *
 * Sets up vdispl device DEV of domain 0 through the real libxenstore,
 * libxenevtchn and libxengnttab (xensim or Xen) and connects to the
 * backend.  Prints TAP lines, without the plan.
 *
 *   xdf-bad-frontend DEV
 *       sends good and bad requests one at a time and checks each
 *       status; then breaks the ring, checks that the backend closes, and
 *       that it takes the frontend back.  Leaves the backend showing a
 *       64x48 RGB565 picture, left half red, right half blue (a
 *       backend-allocated buffer), for the caller to check in its PNG.
 *   xdf-bad-frontend --picture DEV
 *       shows a 64x48 XRGB8888 picture, left half red, right half blue.
 *   xdf-bad-frontend --flood N DEV
 *       shows that picture, then sends N requests of an unknown operation.
 *   xdf-bad-frontend --amplify DEV
 *       asks for much with little (connector 0 is 8192x8192): a picture
 *       larger than its framebuffer, a page granted once and listed 16384
 *       times; then, connector 0 being 640x480, more backend-allocated
 *       buffers than four frames.
 *   xdf-bad-frontend --budget DEV
 *       asks a backend run with --max-device-memory 24, --output-dir and
 *       --vnc for a picture, and a backend-allocated buffer, past that.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <glib.h>
#include <xenstore.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/displif.h>
#include <xen/io/xenbus.h>

#include "displif-proto.h"

#define WAIT_MS 5000
#define FMT_XR24 0x34325258
#define FMT_RG16 0x36314752
#define FMT_YUYV 0x56595559

#define NR_CONN 2

/* One connector's transport */
typedef struct FeConn {
    void *ring_page, *evt_page;
    uint32_t ring_ref, evt_ref;
    int req_port, evt_port;
    struct xen_displif_front_ring ring;
} FeConn;

typedef struct Fe {
    struct xs_handle *xs;
    xenevtchn_handle *xe;
    xengnttab_handle *xg;
    xengntshr_handle *xgs;
    char *fe_path, *be_path;

    FeConn conn[NR_CONN];
    FeConn *c;                  /* where requests go */
    uint16_t next_id;
} Fe;

static unsigned int tap_n;
static unsigned int tap_failed;

static void G_GNUC_PRINTF(2, 3) ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    printf("%sok %u - ", cond ? "" : "not ", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    tap_failed += !cond;
}

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN bail(const char *fmt, ...)
{
    va_list ap;

    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    exit(1);
}

static void fe_write(Fe *f, const char *dir, const char *node,
                     const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void fe_write(Fe *f, const char *dir, const char *node,
                     const char *fmt, ...)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);
    g_autofree char *val = NULL;
    va_list ap;

    va_start(ap, fmt);
    val = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!xs_write(f->xs, XBT_NULL, path, val, strlen(val))) {
        bail("cannot write %s: %s", path, strerror(errno));
    }
}

static int be_state(Fe *f)
{
    g_autofree char *path = g_strdup_printf("%s/state", f->be_path);
    unsigned int len;
    char *v = xs_read(f->xs, XBT_NULL, path, &len);
    int s = v ? atoi(v) : 0;

    free(v);
    return s;
}

static bool wait_be_state(Fe *f, int want)
{
    int64_t end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (g_get_monotonic_time() < end) {
        if (be_state(f) == want) {
            return true;
        }
        g_usleep(2000);
    }
    return false;
}

/* Share @n pages with domain 0; refs into @refs. */
static void *share(Fe *f, uint32_t n, uint32_t *refs)
{
    void *p = xengntshr_share_pages(f->xgs, 0, n, refs, 1);

    if (!p) {
        bail("cannot share %u pages: %s", n, strerror(errno));
    }
    return p;
}

/* Allocate the transport, publish it, go Initialised, wait Connected. */
static bool fe_connect(Fe *f)
{
    int i;

    if (!wait_be_state(f, XenbusStateInitWait)) {
        return false;
    }
    for (i = 0; i < NR_CONN; i++) {
        g_autofree char *dir = g_strdup_printf("%s/%d", f->fe_path, i);
        FeConn *c = &f->conn[i];

        c->ring_page = share(f, 1, &c->ring_ref);
        c->evt_page = share(f, 1, &c->evt_ref);
        SHARED_RING_INIT((struct xen_displif_sring *)c->ring_page);
        FRONT_RING_INIT(&c->ring, (struct xen_displif_sring *)c->ring_page,
                        DISPLIF_PAGE_SIZE);
        c->req_port = xenevtchn_bind_unbound_port(f->xe, 0);
        c->evt_port = xenevtchn_bind_unbound_port(f->xe, 0);
        if (c->req_port < 0 || c->evt_port < 0) {
            bail("cannot allocate event channels: %s", strerror(errno));
        }
        fe_write(f, dir, XENDISPL_FIELD_REQ_RING_REF, "%u", c->ring_ref);
        fe_write(f, dir, XENDISPL_FIELD_REQ_CHANNEL, "%d", c->req_port);
        fe_write(f, dir, XENDISPL_FIELD_EVT_RING_REF, "%u", c->evt_ref);
        fe_write(f, dir, XENDISPL_FIELD_EVT_CHANNEL, "%d", c->evt_port);
    }
    f->c = &f->conn[0];
    fe_write(f, f->fe_path, "version", "2");
    fe_write(f, f->fe_path, "state", "%d", XenbusStateInitialised);
    if (!wait_be_state(f, XenbusStateConnected)) {
        return false;
    }
    fe_write(f, f->fe_path, "state", "%d", XenbusStateConnected);
    return true;
}

static void fe_disconnect(Fe *f)
{
    int i;

    for (i = 0; i < NR_CONN; i++) {
        FeConn *c = &f->conn[i];

        xenevtchn_unbind(f->xe, c->req_port);
        xenevtchn_unbind(f->xe, c->evt_port);
        xengntshr_unshare(f->xgs, c->ring_page, 1);
        xengntshr_unshare(f->xgs, c->evt_page, 1);
    }
}

/* Wait for an event on @port. */
static bool wait_port(Fe *f, int port)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(f->xe), .events = POLLIN };
    int64_t end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (g_get_monotonic_time() < end) {
        int p;

        if (poll(&pfd, 1, 10) <= 0) {
            continue;
        }
        p = xenevtchn_pending(f->xe);
        if (p < 0) {
            continue;
        }
        xenevtchn_unmask(f->xe, p);
        if (p == port) {
            return true;
        }
    }
    return false;
}

/*
 * Send one request and wait for its response.  Returns the status, or
 * INT32_MIN on no response.
 */
static int32_t request(Fe *f, uint8_t op, const void *body, size_t len,
                       struct xendispl_resp *out)
{
    FeConn *c = f->c;
    struct xendispl_req *req = RING_GET_REQUEST(&c->ring,
                                                c->ring.req_prod_pvt);
    uint16_t id = f->next_id++;
    int64_t end = g_get_monotonic_time() + WAIT_MS * 1000;
    int notify;

    memset(req, 0, sizeof(*req));
    req->id = id;
    req->operation = op;
    memcpy(&req->op, body, len);
    c->ring.req_prod_pvt++;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&c->ring, notify);
    (void)notify;
    xenevtchn_notify(f->xe, c->req_port);

    while (g_get_monotonic_time() < end) {
        if (c->ring.sring->rsp_prod != c->ring.rsp_cons) {
            struct xendispl_resp rsp;

            xen_rmb();
            memcpy(&rsp, RING_GET_RESPONSE(&c->ring, c->ring.rsp_cons),
                   sizeof(rsp));
            c->ring.rsp_cons++;
            c->ring.sring->rsp_event = c->ring.rsp_cons + 1;
            if (rsp.id != id || rsp.operation != op) {
                printf("# response id %u op 0x%x, sent id %u op 0x%x\n",
                       rsp.id, rsp.operation, id, op);
                return INT32_MIN;
            }
            if (out) {
                *out = rsp;
            }
            return rsp.status;
        }
        wait_port(f, c->req_port);
    }
    return INT32_MIN;
}

typedef struct Buf {
    uint32_t n_dir, n_data;
    uint32_t *dir_refs, *data_refs;
    void *dir;
    void *data;
    bool mapped;                /* data mapped from the backend */
} Buf;

/* Share a directory (and, unless @be_alloc, data) for @size bytes. */
static void buf_alloc(Fe *f, Buf *b, uint32_t size, bool be_alloc)
{
    memset(b, 0, sizeof(*b));
    b->n_data = displif_pages(size);
    b->n_dir = displif_dir_pages(b->n_data);
    b->dir_refs = g_new0(uint32_t, b->n_dir);
    b->data_refs = g_new0(uint32_t, b->n_data);
    b->dir = share(f, b->n_dir, b->dir_refs);
    if (!be_alloc) {
        b->data = share(f, b->n_data, b->data_refs);
    }
    displif_pgdir_fill(b->dir, b->n_dir, b->dir_refs,
                       be_alloc ? NULL : b->data_refs, b->n_data);
}

static void buf_free(Fe *f, Buf *b)
{
    if (b->data) {
        if (b->mapped) {
            xengnttab_unmap(f->xg, b->data, b->n_data);
        } else {
            xengntshr_unshare(f->xgs, b->data, b->n_data);
        }
    }
    xengntshr_unshare(f->xgs, b->dir, b->n_dir);
    g_free(b->dir_refs);
    g_free(b->data_refs);
}

static int32_t dbuf_create(Fe *f, uint64_t cookie, uint32_t w, uint32_t h,
                           uint32_t bpp, uint32_t size, uint32_t dir_ref,
                           uint32_t flags)
{
    struct xendispl_dbuf_create_req r = {
        .dbuf_cookie = cookie, .width = w, .height = h, .bpp = bpp,
        .buffer_sz = size, .flags = flags, .gref_directory = dir_ref,
    };

    return request(f, XENDISPL_OP_DBUF_CREATE, &r, sizeof(r), NULL);
}

static int32_t fb_attach(Fe *f, uint64_t dbuf, uint64_t fb, uint32_t w,
                         uint32_t h, uint32_t format)
{
    struct xendispl_fb_attach_req r = {
        .dbuf_cookie = dbuf, .fb_cookie = fb, .width = w, .height = h,
        .pixel_format = format,
    };

    return request(f, XENDISPL_OP_FB_ATTACH, &r, sizeof(r), NULL);
}

static int32_t set_config(Fe *f, uint64_t fb, uint32_t w, uint32_t h,
                          uint32_t bpp)
{
    struct xendispl_set_config_req r = {
        .fb_cookie = fb, .width = w, .height = h, .bpp = bpp,
    };

    return request(f, XENDISPL_OP_SET_CONFIG, &r, sizeof(r), NULL);
}

static int32_t pg_flip(Fe *f, uint64_t fb)
{
    struct xendispl_page_flip_req r = { .fb_cookie = fb };

    return request(f, XENDISPL_OP_PG_FLIP, &r, sizeof(r), NULL);
}

/* The next frame-done event's cookie, 0 if none came. */
static uint64_t flip_event(Fe *f)
{
    struct xendispl_event_page *page = f->c->evt_page;
    int64_t end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (g_get_monotonic_time() < end) {
        if (page->in_prod != page->in_cons) {
            struct xendispl_evt *e;
            uint64_t cookie;

            xen_rmb();
            e = &XENDISPL_IN_RING_REF(page, page->in_cons);
            cookie = e->type == XENDISPL_EVT_PG_FLIP ?
                     e->op.pg_flip.fb_cookie : 0;
            page->in_cons++;
            return cookie;
        }
        wait_port(f, f->c->evt_port);
    }
    return 0;
}

static void test_requests(Fe *f)
{
    struct xendispl_resp rsp;
    Buf good, bad, edid, ba;
    uint32_t w = 64, h = 48, size = displif_buffer_size(64, 48, 32);
    uint32_t *px;
    uint16_t *px16;
    uint32_t x, y, i;
    uint8_t sum = 0;
    int32_t st;

    st = request(f, 0x42, "", 0, NULL);
    ok(st == -EINVAL, "unknown operation 0x42: %d", st);
    st = pg_flip(f, 1);
    ok(st == -EPERM, "PG_FLIP before SET_CONFIG: %d", st);

    buf_alloc(f, &good, size, false);
    st = dbuf_create(f, 0, w, h, 32, size, good.dir_refs[0], 0);
    ok(st == -EINVAL, "DBUF_CREATE with cookie 0: %d", st);
    st = dbuf_create(f, 1, w, h, 32, size - 1, good.dir_refs[0], 0);
    ok(st == -EINVAL, "DBUF_CREATE with buffer_sz one byte short: %d", st);
    st = dbuf_create(f, 1, w, h, 0, size, good.dir_refs[0], 0);
    ok(st == -EINVAL, "DBUF_CREATE with bpp 0: %d", st);
    st = dbuf_create(f, 1, 100000, h, 32, size, good.dir_refs[0], 0);
    ok(st == -EINVAL, "DBUF_CREATE with width 100000: %d", st);
    st = dbuf_create(f, 1, w, h, 32, size, 0, 0);
    ok(st == -EINVAL, "DBUF_CREATE with gref_directory 0: %d", st);
    st = dbuf_create(f, 1, w, h, 32, size, 60000, 0);
    ok(st == -EINVAL, "DBUF_CREATE with an ungranted directory: %d", st);
    st = dbuf_create(f, 1, w, h, 32, size, good.dir_refs[0], 0x80);
    ok(st == -EINVAL, "DBUF_CREATE with unknown flags: %d", st);

    /* a directory that lists a 0 ref, and one that lists too few pages */
    buf_alloc(f, &bad, size, false);
    ((uint32_t *)bad.dir)[2] = 0;
    st = dbuf_create(f, 2, w, h, 32, size, bad.dir_refs[0], 0);
    ok(st == -EINVAL, "DBUF_CREATE with a 0 data ref: %d", st);
    st = dbuf_create(f, 2, w, h, 32, 2000 * 4096, bad.dir_refs[0], 0);
    ok(st == -EINVAL, "DBUF_CREATE whose directory is one page short: %d",
       st);
    buf_free(f, &bad);

    px = good.data;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            px[y * w + x] = x < w / 2 ? 0x00ff00 : 0xffff00;
        }
    }
    st = dbuf_create(f, 1, w, h, 32, size, good.dir_refs[0], 0);
    ok(st == 0, "DBUF_CREATE 64x48 XRGB8888: %d", st);
    st = dbuf_create(f, 1, w, h, 32, size, good.dir_refs[0], 0);
    ok(st == -EEXIST, "DBUF_CREATE with a cookie in use: %d", st);

    st = fb_attach(f, 99, 10, w, h, FMT_XR24);
    ok(st == -ENOENT, "FB_ATTACH to an unknown dbuf: %d", st);
    st = fb_attach(f, 1, 10, w, h, FMT_YUYV);
    ok(st == -EINVAL, "FB_ATTACH with YUYV: %d", st);
    st = fb_attach(f, 1, 10, w, h, FMT_RG16);
    ok(st == -EINVAL, "FB_ATTACH RGB565 on a 32 bpp dbuf: %d", st);
    st = fb_attach(f, 1, 10, w + 1, h, FMT_XR24);
    ok(st == -EINVAL, "FB_ATTACH wider than its dbuf: %d", st);
    st = fb_attach(f, 1, 10, w, h, FMT_XR24);
    ok(st == 0, "FB_ATTACH XRGB8888: %d", st);
    st = fb_attach(f, 1, 10, w, h, FMT_XR24);
    ok(st == -EEXIST, "FB_ATTACH with a cookie in use: %d", st);

    st = set_config(f, 77, w, h, 32);
    ok(st == -ENOENT, "SET_CONFIG with an unknown framebuffer: %d", st);
    st = set_config(f, 10, 1000, h, 32);
    ok(st == -EINVAL, "SET_CONFIG wider than the connector: %d", st);
    st = set_config(f, 10, w, h, 16);
    ok(st == -EINVAL, "SET_CONFIG with the wrong bpp: %d", st);
    st = set_config(f, 10, w, h, 32);
    ok(st == 0, "SET_CONFIG 64x48: %d", st);

    st = pg_flip(f, 12345);
    ok(st == -EINVAL, "PG_FLIP of an unknown framebuffer: %d", st);
    st = pg_flip(f, 10);
    ok(st == 0, "PG_FLIP: %d", st);
    ok(flip_event(f) == 10, "frame-done event for framebuffer 10");

    /* GET_EDID */
    buf_alloc(f, &edid, 4096, false);
    {
        struct xendispl_get_edid_req r = { .buffer_sz = 64,
                                           .gref_directory =
                                               edid.dir_refs[0] };

        st = request(f, XENDISPL_OP_GET_EDID, &r, sizeof(r), NULL);
        ok(st == -EINVAL, "GET_EDID into 64 bytes: %d", st);
        r.buffer_sz = 4096;
        memset(&rsp, 0, sizeof(rsp));
        st = request(f, XENDISPL_OP_GET_EDID, &r, sizeof(r), &rsp);
        ok(st == 0 && rsp.op.get_edid.edid_sz == 128,
           "GET_EDID: %d, edid_sz %u", st, rsp.op.get_edid.edid_sz);
    }
    {
        const uint8_t *e = edid.data;
        static const uint8_t hdr[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0 };

        for (i = 0; i < 128; i++) {
            sum += e[i];
        }
        ok(!memcmp(e, hdr, 8) && sum == 0 &&
           (e[56] | (e[58] & 0xf0) << 4) == 640 &&
           (e[59] | (e[61] & 0xf0) << 4) == 480,
           "EDID: header, checksum, 640x480 preferred timing");
    }
    buf_free(f, &edid);

    /* a full event ring: the flip is answered, the event dropped */
    {
        struct xendispl_event_page *page = f->c->evt_page;
        uint32_t prod = page->in_prod;

        page->in_cons -= 1000;
        st = pg_flip(f, 10);
        /* the backend sends (or drops) the event after the response */
        g_usleep(200 * 1000);
        ok(st == 0 && page->in_prod == prod,
           "PG_FLIP with a bogus event in_cons: %d, event dropped", st);
        page->in_cons = page->in_prod;
    }

    st = request(f, XENDISPL_OP_FB_DETACH, &(uint64_t){ 555 }, 8, NULL);
    ok(st == -ENOENT, "FB_DETACH of an unknown framebuffer: %d", st);
    st = request(f, XENDISPL_OP_DBUF_DESTROY, &(uint64_t){ 555 }, 8, NULL);
    ok(st == -ENOENT, "DBUF_DESTROY of an unknown dbuf: %d", st);
    st = request(f, XENDISPL_OP_DBUF_DESTROY, &(uint64_t){ 1 }, 8, NULL);
    ok(st == 0, "DBUF_DESTROY: %d", st);
    st = pg_flip(f, 10);
    ok(st == -EPERM, "PG_FLIP of a framebuffer on a destroyed dbuf: %d",
       st);
    buf_free(f, &good);

    /* backend-allocated RGB565: left half red, right half blue */
    size = displif_buffer_size(w, h, 16);
    buf_alloc(f, &ba, size, true);
    st = dbuf_create(f, 3, w, h, 16, size, ba.dir_refs[0],
                     XENDISPL_DBUF_FLG_REQ_ALLOC);
    ok(st == 0, "DBUF_CREATE with REQ_ALLOC: %d", st);
    if (!st && !displif_pgdir_read(ba.dir, ba.n_dir, ba.dir_refs,
                                   ba.data_refs, ba.n_data)) {
        ba.data = xengnttab_map_domain_grant_refs(f->xg, ba.n_data, 0,
                                                  ba.data_refs,
                                                  PROT_READ | PROT_WRITE);
        ba.mapped = ba.data != NULL;
    }
    ok(ba.data != NULL, "backend's refs read and mapped");
    if (ba.data) {
        px16 = ba.data;
        for (y = 0; y < h; y++) {
            for (x = 0; x < w; x++) {
                px16[y * (displif_stride(w, 16) / 2) + x] =
                    x < w / 2 ? 0xf800 : 0x001f;
            }
        }
    }
    st = fb_attach(f, 3, 30, w, h, FMT_RG16);
    ok(st == 0, "FB_ATTACH RGB565: %d", st);
    st = set_config(f, 30, w, h, 16);
    ok(st == 0, "SET_CONFIG RGB565: %d", st);
    st = pg_flip(f, 30);
    ok(st == 0 && flip_event(f) == 30, "PG_FLIP RGB565: %d", st);

    /* connector 1: its own ring and event page, buffers from ring 0 */
    f->c = &f->conn[1];
    st = pg_flip(f, 30);
    ok(st == -EPERM, "connector 1: PG_FLIP before its SET_CONFIG: %d", st);
    st = dbuf_create(f, 4, w, h, 32, size, 1, 0);
    ok(st == -EINVAL, "connector 1: DBUF_CREATE not on connector 0: %d", st);
    st = set_config(f, 30, 321, h, 16);
    ok(st == -EINVAL, "connector 1: SET_CONFIG wider than its 320x200: %d",
       st);
    st = set_config(f, 30, w, h, 16);
    ok(st == 0, "connector 1: SET_CONFIG: %d", st);
    st = pg_flip(f, 30);
    ok(st == 0 && flip_event(f) == 30 &&
       f->conn[0].evt_page && ((struct xendispl_event_page *)
                               f->conn[0].evt_page)->in_prod ==
       ((struct xendispl_event_page *)f->conn[0].evt_page)->in_cons,
       "connector 1: PG_FLIP: %d, event on its own page only", st);
    f->c = &f->conn[0];
    buf_free(f, &ba);
}

/* A 64x48 XRGB8888 picture on connector 0: left half red, right blue. */
static void show_picture(Fe *f, Buf *buf)
{
    uint32_t w = 64, h = 48, size = displif_buffer_size(64, 48, 32);
    uint32_t *px, x, y;
    int32_t st;

    buf_alloc(f, buf, size, false);
    px = buf->data;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            px[y * w + x] = x < w / 2 ? 0xff0000 : 0x0000ff;
        }
    }
    st = dbuf_create(f, 100, w, h, 32, size, buf->dir_refs[0], 0);
    if (!st) {
        st = fb_attach(f, 100, 101, w, h, FMT_XR24);
    }
    if (!st) {
        st = set_config(f, 101, w, h, 32);
    }
    if (!st) {
        st = pg_flip(f, 101);
    }
    ok(st == 0 && flip_event(f) == 101, "a 64x48 picture shown: %d", st);
}

static void test_flood(Fe *f, unsigned long n)
{
    unsigned long i, refused = 0;

    for (i = 0; i < n; i++) {
        refused += request(f, 0x42, "", 0, NULL) == -EINVAL;
    }
    ok(refused == n, "%lu of %lu requests of an unknown operation refused",
       refused, n);
}

/* Start over (Closing, then connect again) with connector 0 at @res0. */
static bool fe_restart(Fe *f, const char *res0)
{
    fe_write(f, f->fe_path, "state", "%d", XenbusStateClosing);
    if (!wait_be_state(f, XenbusStateInitWait)) {
        return false;
    }
    fe_disconnect(f);
    fe_write(f, f->fe_path, "0/" XENDISPL_FIELD_RESOLUTION, "%s", res0);
    f->next_id = 0;
    return fe_connect(f);
}

/* Ask for much with little; connector 0 is 8192x8192. */
static void test_amplify(Fe *f)
{
    uint32_t size = displif_buffer_size(64, 48, 32);
    uint32_t dir_ref, data_ref, *dir, i, n;
    int32_t st, st2, st3, sts[5];
    Buf small, bas[5];

    /* a picture larger than its framebuffer */
    buf_alloc(f, &small, size, false);
    st = dbuf_create(f, 1, 64, 48, 32, size, small.dir_refs[0], 0);
    if (!st) {
        st = fb_attach(f, 1, 10, 64, 48, FMT_XR24);
    }
    ok(st == 0, "a 64x48 framebuffer (3 data pages): %d", st);
    st = set_config(f, 10, 8192, 8192, 32);
    ok(st == -EINVAL, "SET_CONFIG 8192x8192 of that 64x48 framebuffer: %d",
       st);
    for (i = n = 0; i < 3; i++) {
        n += pg_flip(f, 10) == -EPERM;
    }
    ok(n == 3, "PG_FLIP without a configuration, 3 times: %u refused", n);
    st = set_config(f, 10, 64, 48, 32);
    ok(st == 0 && pg_flip(f, 10) == 0 && flip_event(f) == 10,
       "SET_CONFIG 64x48 and PG_FLIP: %d", st);

    /* one page granted, listed 16384 times by a directory that loops */
    dir = share(f, 1, &dir_ref);
    share(f, 1, &data_ref);
    dir[0] = dir_ref;
    for (i = 0; i < DISPLIF_GREFS_PER_DIR_PAGE; i++) {
        dir[1 + i] = data_ref;
    }
    st = dbuf_create(f, 2, 4096, 4096, 32,
                     displif_buffer_size(4096, 4096, 32), dir_ref, 0);
    ok(st == -EINVAL, "DBUF_CREATE 4096x4096 of one page listed 16384 "
       "times: %d", st);
    st = fb_attach(f, 2, 20, 4096, 4096, FMT_XR24);
    st2 = set_config(f, 20, 4096, 4096, 32);
    st3 = pg_flip(f, 20);
    ok(st == -ENOENT && st2 == -ENOENT && st3 == -EINVAL,
       "nothing of it shown: FB_ATTACH %d, SET_CONFIG %d, PG_FLIP %d", st,
       st2, st3);

    /* connector 0 640x480: backend-allocated buffers of four frames */
    ok(fe_restart(f, "640x480"), "connected again, connector 0 640x480 "
       "(backend state %d)", be_state(f));
    size = displif_buffer_size(640, 480, 32);
    for (i = 0; i < 5; i++) {
        buf_alloc(f, &bas[i], size, true);
        sts[i] = dbuf_create(f, 40 + i, 640, 480, 32, size,
                             bas[i].dir_refs[0], XENDISPL_DBUF_FLG_REQ_ALLOC);
    }
    ok(!sts[0] && !sts[1] && !sts[2] && !sts[3] && sts[4] == -ENOMEM,
       "DBUF_CREATE REQ_ALLOC 640x480 five times: %d %d %d %d %d (four "
       "frames of the connectors)", sts[0], sts[1], sts[2], sts[3], sts[4]);
}

/*
 * Past the backend's --max-device-memory 24 (MiB); with --output-dir and
 * --vnc, a picture costs it 10 bytes a pixel.
 */
static void test_budget(Fe *f)
{
    uint32_t size = displif_buffer_size(4096, 1024, 32);
    Buf big, ba;
    int32_t st;

    /* 16 MiB granted: its 4096x1024 picture (42 MB to the backend) */
    buf_alloc(f, &big, size, false);
    st = dbuf_create(f, 3, 4096, 1024, 32, size, big.dir_refs[0], 0);
    if (!st) {
        st = fb_attach(f, 3, 30, 4096, 1024, FMT_XR24);
    }
    ok(st == 0, "a 4096x1024 framebuffer (4096 pages granted): %d", st);
    st = set_config(f, 30, 4096, 1024, 32);
    ok(st == -ENOMEM, "SET_CONFIG 4096x1024, past --max-device-memory: %d",
       st);
    st = set_config(f, 30, 1024, 1024, 32);
    ok(st == 0 && pg_flip(f, 30) == 0 && flip_event(f) == 30,
       "SET_CONFIG 1024x1024 (10.5 MB to the backend) and PG_FLIP: %d", st);

    /* and 16 MiB of backend-allocated buffer on top of it */
    buf_alloc(f, &ba, size, true);
    st = dbuf_create(f, 4, 4096, 1024, 32, size, ba.dir_refs[0],
                     XENDISPL_DBUF_FLG_REQ_ALLOC);
    ok(st == -ENOMEM, "DBUF_CREATE REQ_ALLOC 4096x1024 (16 MiB), past "
       "--max-device-memory: %d", st);
}

/*
 * Break the ring: the backend closes, and takes us back; then a ring ref
 * that is not granted.
 */
static void test_broken_ring(Fe *f, const char *c0)
{
    bool connected, reached;
    int32_t st;

    /* more requests than the ring holds: the backend closes */
    f->c->ring.sring->req_prod = f->c->ring.req_prod_pvt + 100;
    xenevtchn_notify(f->xe, f->c->req_port);
    reached = wait_be_state(f, XenbusStateClosed);
    ok(reached,
       "req_prod 100 past the ring: backend closed (state %d)", be_state(f));
    fe_disconnect(f);
    fe_write(f, f->fe_path, "state", "%d", XenbusStateClosed);
    fe_write(f, f->fe_path, "state", "%d", XenbusStateInitialising);

    /* and takes us back */
    f->next_id = 0;
    connected = fe_connect(f);
    ok(connected, "connected again (backend state %d)", be_state(f));
    st = pg_flip(f, 10);
    ok(st == -EPERM, "PG_FLIP on the new connection: %d", st);

    /* a published ring ref that is not granted: the backend closes */
    fe_write(f, f->fe_path, "state", "%d", XenbusStateClosing);
    reached = wait_be_state(f, XenbusStateInitWait);
    ok(reached,
       "frontend Closing: backend back to InitWait (state %d)", be_state(f));
    fe_disconnect(f);
    fe_write(f, c0, XENDISPL_FIELD_REQ_RING_REF, "60001");
    fe_write(f, f->fe_path, "state", "%d", XenbusStateInitialised);
    reached = wait_be_state(f, XenbusStateClosed);
    ok(reached,
       "ungranted ring ref: backend closed (state %d)", be_state(f));
    fe_write(f, f->fe_path, "state", "%d", XenbusStateClosed);
    reached = wait_be_state(f, XenbusStateInitWait);
    ok(reached,
       "frontend Closed: backend back to InitWait (state %d)", be_state(f));
}

int main(int argc, char **argv)
{
    enum { REQUESTS, PICTURE, FLOOD, AMPLIFY, BUDGET } mode = REQUESTS;
    Fe fe = { 0 }, *f = &fe;
    unsigned long flood = 0;
    unsigned int dev;
    g_autofree char *c0 = NULL;
    Buf picture;
    int a = 1;

    if (argc > a + 1 && !strcmp(argv[a], "--flood")) {
        mode = FLOOD;
        flood = g_ascii_strtoull(argv[a + 1], NULL, 10);
        a += 2;
    } else if (argc > a && !strcmp(argv[a], "--picture")) {
        mode = PICTURE;
        a++;
    } else if (argc > a && !strcmp(argv[a], "--amplify")) {
        mode = AMPLIFY;
        a++;
    } else if (argc > a && !strcmp(argv[a], "--budget")) {
        mode = BUDGET;
        a++;
    }
    dev = argc > a ? (unsigned int)atoi(argv[a]) : 9;

    f->xs = xs_open(0);
    f->xe = xenevtchn_open(NULL, 0);
    f->xg = xengnttab_open(NULL, 0);
    f->xgs = xengntshr_open(NULL, 0);
    if (!f->xs || !f->xe || !f->xg || !f->xgs) {
        bail("cannot open the Xen libraries: %s", strerror(errno));
    }
    f->fe_path = g_strdup_printf("/local/domain/0/device/vdispl/%u", dev);
    f->be_path = g_strdup_printf("/local/domain/0/backend/vdispl/0/%u", dev);
    c0 = g_strdup_printf("%s/0", f->fe_path);

    /* our nodes; the backend made its own directory */
    fe_write(f, f->fe_path, "backend", "%s", f->be_path);
    fe_write(f, f->fe_path, "backend-id", "0");
    fe_write(f, f->fe_path, XENDISPL_FIELD_BE_ALLOC, "1");
    fe_write(f, c0, XENDISPL_FIELD_RESOLUTION, "%s",
             mode == AMPLIFY || mode == BUDGET ? "8192x8192" : "640x480");
    fe_write(f, c0, XENDISPL_FIELD_UNIQUE_ID, "bad-0");
    fe_write(f, f->fe_path, "1/" XENDISPL_FIELD_RESOLUTION, "320x200");
    fe_write(f, f->fe_path, "1/" XENDISPL_FIELD_UNIQUE_ID, "bad-1");
    fe_write(f, f->fe_path, "state", "%d", XenbusStateInitialising);

    if (!fe_connect(f)) {
        bail("no connection (backend state %d)", be_state(f));
    }
    ok(true, "connected (backend state %d)", be_state(f));
    switch (mode) {
    case REQUESTS:
        test_requests(f);
        test_broken_ring(f, c0);
        break;
    case PICTURE:
        show_picture(f, &picture);
        break;
    case FLOOD:
        show_picture(f, &picture);
        test_flood(f, flood);
        break;
    case AMPLIFY:
        test_amplify(f);
        break;
    case BUDGET:
        test_budget(f);
        break;
    }

    /* the caller goes on numbering and prints the plan */
    xs_close(f->xs);
    xenevtchn_close(f->xe);
    xengnttab_close(f->xg);
    xengntshr_close(f->xgs);
    return tap_failed ? 1 : 0;
}
