/*
 * xen-displfront: the display, a device's connectors (see xdf-display.h)
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "system/runstate.h"
#include "hw/display/xen-displfront.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "xdf-display.h"
#include "displif-front.h"

#define XDF_FRAME_DONE_TIMEOUT_MS 100
#define XDF_REFRESH_US          16667   /* 60 Hz unless the EDID says */
#define XDF_IDLE_REFRESH_MS     1000    /* an idle guest: once a second */
#define XDF_QUIET_TICKS         8       /* refreshes with nothing new */
#define XDF_MAX_DAMAGE_RECTS    16      /* then the bounding box */

/*
 * The buffers' format, DRM's XRGB8888 (fourcc "XR24"): what every
 * backend takes; pixman converts other console formats while copying.
 */
#define XDF_DRM_FORMAT_XRGB8888 \
    ((uint32_t)'X' | ((uint32_t)'R' << 8) | ((uint32_t)'2' << 16) | \
     ((uint32_t)'4' << 24))

const char *const xdf_fit_names[XDF_FIT__MAX] = {
    [XDF_FIT_SCALE] = "scale",
    [XDF_FIT_CENTER] = "center",
    [XDF_FIT_CROP] = "crop",
};

/* Buffers ---------------------------------------------------------------- */

static void xdf_buffer_free(XdfBuffer *b)
{
    XdfXen *x = b->c->d->x;
    XdfConnector *c = b->c;

    if (b->image) {
        pixman_image_unref(b->image);
    }
    if (b->data && b->be_alloc) {
        qemu_xen_gnttab_unmap(x->xgt, b->data, b->data_refs, b->n_data);
    } else if (b->data) {
        qemu_xen_gntshr_unshare(x->xgs, b->data, b->n_data);
    }
    if (b->dir) {
        qemu_xen_gntshr_unshare(x->xgs, b->dir, b->n_dir);
    }
    g_free(b->data_refs);
    g_free(b->dir_refs);
    pixman_region32_fini(&b->stale);
    memset(b, 0, sizeof(*b));
    b->c = c;
    pixman_region32_init(&b->stale);
}

/*
 * Share the page directory and, unless the backend allocates the
 * buffer (be-alloc), the data pages.  Sized so that a backend copying
 * height * 4 * ceil(width * bpp / 32) bytes never reads past the end.
 */
static bool xdf_buffer_share(XdfBuffer *b, uint32_t width, uint32_t height,
                             Error **errp)
{
    XdfXen *x = b->c->d->x;
    pixman_format_code_t format = PIXMAN_x8r8g8b8;
    uint32_t bpp = PIXMAN_FORMAT_BPP(format);
    uint64_t size = displif_buffer_size(width, height, bpp);

    b->width = width;
    b->height = height;
    b->bpp = bpp;
    b->format = format;
    b->stride = displif_stride(width, bpp);
    b->fourcc = XDF_DRM_FORMAT_XRGB8888;
    b->n_data = displif_pages(size);
    b->n_dir = displif_dir_pages(b->n_data);
    b->data_refs = g_new0(uint32_t, b->n_data);
    b->dir_refs = g_new0(uint32_t, b->n_dir);

    b->be_alloc = b->c->d->be_alloc;
    if (!b->be_alloc) {
        /* writable: backends (displ_be) map buffers read-write */
        b->data = qemu_xen_gntshr_share_pages(x->xgs, x->backend_domid,
                                              b->n_data, b->data_refs, true);
        if (!b->data) {
            xdf_error_limit(errp, errno, "cannot share %u pages for a %ux%u "
                            "display buffer", b->n_data, width, height);
            return false;
        }
        b->image = pixman_image_create_bits(format, width, height, b->data,
                                            b->stride);
    }
    /* writable: the backend fills in the refs when it allocates */
    b->dir = qemu_xen_gntshr_share_pages(x->xgs, x->backend_domid, b->n_dir,
                                         b->dir_refs, true);
    if (!b->dir) {
        xdf_error_limit(errp, errno, "cannot share %u page-directory pages",
                        b->n_dir);
        return false;
    }
    displif_pgdir_fill(b->dir, b->n_dir, b->dir_refs,
                       b->be_alloc ? NULL : b->data_refs, b->n_data);
    b->dbuf_cookie = ++b->c->d->next_cookie;
    b->fb_cookie = ++b->c->d->next_cookie;
    /* all of it is stale until first drawn */
    pixman_region32_union_rect(&b->stale, &b->stale, 0, 0, width, height);
    b->state = XDF_BUFFER_SHARED;
    return true;
}

/*
 * The backend allocated a buffer for us: take its grant references from
 * the directory, check them and map the pages.
 */
static bool xdf_buffer_map_backend(XdfBuffer *b)
{
    XdfXen *x = b->c->d->x;

    if (displif_pgdir_read(b->dir, b->n_dir, b->dir_refs, b->data_refs,
                           b->n_data)) {
        xdf_ring_fail(&b->c->ring, "backend left dbuf_cookie 0x%" PRIx64
                      "'s page directory incomplete or broken (%u refs "
                      "expected)", b->dbuf_cookie, b->n_data);
        return false;
    }
    b->data = qemu_xen_gnttab_map_refs(x->xgt, b->n_data, x->backend_domid,
                                       b->data_refs,
                                       PROT_READ | PROT_WRITE);
    if (!b->data) {
        xdf_ring_fail(&b->c->ring, "cannot map the %u pages backend domain %"
                      PRIu32 " granted for dbuf_cookie 0x%" PRIx64 ": %s",
                      b->n_data, x->backend_domid, b->dbuf_cookie,
                      strerror(errno));
        return false;
    }
    b->image = pixman_image_create_bits(b->format, b->width, b->height,
                                        b->data, b->stride);
    return true;
}

/* Fitting the guest's picture -------------------------------------------- */

static void xdf_fit_free(XdfFit *f)
{
    g_free(f->xmap);
    g_free(f->ymap);
    memset(f, 0, sizeof(*f));
}

/*
 * Place a @src_w x @src_h picture in the connector (see the fit
 * property): scale keeps the aspect ratio at the largest size that fits
 * (W = cw and H = cw * sh / sw rounded down, or H = ch and W = ch * sw /
 * sh, whichever fits), centred; buffer pixel d of the picture shows
 * guest pixel (2 * d + 1) * s / (2 * D), nearest to its centre, so that
 * an integer ratio repeats every pixel exactly.  center and crop are 1:1,
 * centred or at the top left, cut to the connector.
 */
static void xdf_fit_compute(XdfConnector *c)
{
    XdfFit *f = &c->fit;
    uint32_t sw = c->surface ? surface_width(c->surface) : 0;
    uint32_t sh = c->surface ? surface_height(c->surface) : 0;
    uint32_t cw = c->width, ch = c->height, i;

    xdf_fit_free(f);
    f->src_w = sw;
    f->src_h = sh;
    if (!sw || !sh) {
        return;
    }
    if ((sw == cw && sh == ch) || c->d->fit_mode != XDF_FIT_SCALE) {
        f->one_to_one = true;
        f->dst_w = MIN(sw, cw);
        f->dst_h = MIN(sh, ch);
        if (c->d->fit_mode == XDF_FIT_CENTER) {
            f->dst_x = (cw - f->dst_w) / 2;
            f->dst_y = (ch - f->dst_h) / 2;
            f->src_x = (sw - f->dst_w) / 2;
            f->src_y = (sh - f->dst_h) / 2;
        }
    } else {
        if ((uint64_t)cw * sh <= (uint64_t)ch * sw) {
            f->dst_w = cw;
            f->dst_h = MAX(1, (uint64_t)cw * sh / sw);
        } else {
            f->dst_w = MAX(1, (uint64_t)ch * sw / sh);
            f->dst_h = ch;
        }
        f->dst_x = (cw - f->dst_w) / 2;
        f->dst_y = (ch - f->dst_h) / 2;
        f->xmap = g_new(uint32_t, f->dst_w);
        f->ymap = g_new(uint32_t, f->dst_h);
        /* the rule input will invert: displif_fit_guest_pixel() */
        for (i = 0; i < f->dst_w; i++) {
            displif_fit_guest_pixel(f->dst_x + i, f->dst_x, f->dst_w, 0, sw,
                                    false, &f->xmap[i]);
        }
        for (i = 0; i < f->dst_h; i++) {
            displif_fit_guest_pixel(f->dst_y + i, f->dst_y, f->dst_h, 0, sh,
                                    false, &f->ymap[i]);
        }
    }
    trace_xen_displfront_fit(c->d->x->id, c->index, sw, sh,
                             xdf_fit_names[c->d->fit_mode], f->dst_x,
                             f->dst_y, f->dst_w, f->dst_h);
}

/*
 * Guest columns [@a, @b) in buffer columns, for one axis of a scaled
 * picture: a little wider than exact, which only repaints a few more.
 */
static void xdf_fit_span(uint32_t a, uint32_t b, uint32_t src, uint32_t dst,
                         int32_t *da, int32_t *db)
{
    *da = MAX(0, (int64_t)a * dst / src - 1);
    *db = MIN(dst, ((int64_t)b * dst + src - 1) / src + 1);
}

/* Guest damage @x, @y, @w, @h, as damage of the buffers. */
static void xdf_fit_damage(XdfConnector *c, int x, int y, int w,
                           int h)
{
    XdfFit *f = &c->fit;
    int32_t x1 = MAX(x, 0), y1 = MAX(y, 0);
    int32_t x2 = MIN(x + w, (int32_t)f->src_w);
    int32_t y2 = MIN(y + h, (int32_t)f->src_h);
    int32_t dx1, dx2, dy1, dy2;

    if (x1 >= x2 || y1 >= y2) {
        return;
    }
    if (f->one_to_one) {
        dx1 = MAX(x1 - (int32_t)f->src_x, 0);
        dy1 = MAX(y1 - (int32_t)f->src_y, 0);
        dx2 = MIN(x2 - (int32_t)f->src_x, (int32_t)f->dst_w);
        dy2 = MIN(y2 - (int32_t)f->src_y, (int32_t)f->dst_h);
    } else {
        xdf_fit_span(x1, x2, f->src_w, f->dst_w, &dx1, &dx2);
        xdf_fit_span(y1, y2, f->src_h, f->dst_h, &dy1, &dy2);
    }
    if (dx1 >= dx2 || dy1 >= dy2) {
        return;
    }
    pixman_region32_union_rect(&c->damage, &c->damage, f->dst_x + dx1,
                               f->dst_y + dy1, dx2 - dx1, dy2 - dy1);
    /*
     * A guest that flushes many small rectangles must not make every
     * union slower than the last: past a few, the bounding box will do.
     */
    if (pixman_region32_n_rects(&c->damage) > XDF_MAX_DAMAGE_RECTS) {
        pixman_box32_t box = *pixman_region32_extents(&c->damage);

        pixman_region32_reset(&c->damage, &box);
    }
}

/* Paint @r of buffer @b: the guest's picture, black around it. */
static void xdf_paint(XdfConnector *c, XdfBuffer *b,
                      const pixman_box32_t *r)
{
    static const pixman_color_t black = { 0, 0, 0, 0xffff };
    XdfFit *f = &c->fit;
    pixman_region32_t border;
    pixman_box32_t *boxes, p;
    int n;
    int32_t x, y;

    pixman_region32_init_rect(&border, r->x1, r->y1, r->x2 - r->x1,
                              r->y2 - r->y1);
    if (f->src_w) {
        pixman_region32_t pic;

        pixman_region32_init_rect(&pic, f->dst_x, f->dst_y, f->dst_w,
                                  f->dst_h);
        pixman_region32_subtract(&border, &border, &pic);
        pixman_region32_fini(&pic);
    }
    boxes = pixman_region32_rectangles(&border, &n);
    if (n) {
        pixman_image_fill_boxes(PIXMAN_OP_SRC, b->image, &black, n, boxes);
    }
    pixman_region32_fini(&border);

    p.x1 = MAX(r->x1, (int32_t)f->dst_x);
    p.y1 = MAX(r->y1, (int32_t)f->dst_y);
    p.x2 = MIN(r->x2, (int32_t)(f->dst_x + f->dst_w));
    p.y2 = MIN(r->y2, (int32_t)(f->dst_y + f->dst_h));
    if (!f->src_w || p.x1 >= p.x2 || p.y1 >= p.y2) {
        return;
    }
    if (f->one_to_one) {
        /* the guest's mode is the connector's, or 1:1: pixman's copy */
        pixman_image_composite32(PIXMAN_OP_SRC, c->surface->image, NULL,
                                 b->image,
                                 p.x1 - f->dst_x + f->src_x,
                                 p.y1 - f->dst_y + f->src_y, 0, 0,
                                 p.x1, p.y1, p.x2 - p.x1, p.y2 - p.y1);
        return;
    }

    /* scaled: guest rows in XRGB8888 (converted when they are not) */
    {
        pixman_format_code_t fmt = surface_format(c->surface);
        bool direct = fmt == PIXMAN_x8r8g8b8 || fmt == PIXMAN_a8r8g8b8;
        g_autofree uint32_t *conv = NULL;
        pixman_image_t *row_img = NULL;
        const uint8_t *src = surface_data(c->surface);
        int stride = surface_stride(c->surface);

        if (!direct) {
            conv = g_new(uint32_t, f->src_w);
            row_img = pixman_image_create_bits(PIXMAN_x8r8g8b8, f->src_w, 1,
                                               conv, f->src_w * 4);
        }
        for (y = p.y1; y < p.y2; y++) {
            uint32_t sy = f->ymap[y - f->dst_y];
            const uint32_t *srow;
            uint32_t *drow = (uint32_t *)((uint8_t *)b->data +
                                          (size_t)y * b->stride);

            if (direct) {
                srow = (const uint32_t *)(src + (size_t)sy * stride);
            } else {
                pixman_image_composite32(PIXMAN_OP_SRC, c->surface->image,
                                         NULL, row_img, 0, sy, 0, 0, 0, 0,
                                         f->src_w, 1);
                srow = conv;
            }
            for (x = p.x1; x < p.x2; x++) {
                drow[x] = srow[f->xmap[x - f->dst_x]];
            }
        }
        if (row_img) {
            pixman_image_unref(row_img);
        }
    }
}

/* Flips ------------------------------------------------------------------ */

/* CPU time of this thread: a copy's cost, whatever else runs. */
static int64_t xdf_thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) {
        return 0;
    }
    return ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
}

/* PG_FLIP is answered: now the frame-done event, or a timeout. */
static void xdf_pg_flip_done(XdfRequest *r, int status)
{
    XdfConnector *c = r->opaque;

    if (status == -ECANCELED || c->flipping < 0 ||
        c->buf[c->flipping].fb_cookie != r->req.op.pg_flip.fb_cookie) {
        return;
    }
    if (status) {
        xdf_ring_fail(&c->ring, "backend refused PG_FLIP: status %d",
                      status);
        return;
    }
    /* wait for the frame-done event, or give up on it after a while */
    timer_mod(c->frame_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              XDF_FRAME_DONE_TIMEOUT_MS);
}

/*
 * Bring the back buffer up to date (only what is stale in it) and flip
 * to it: at most one flip outstanding, about one a refresh.
 */
static void xdf_flip(XdfConnector *c)
{
    XdfXen *x = c->d->x;
    struct xendispl_page_flip_req flip = { 0 };
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    int64_t pixels = 0, copy_ns = 0;
    pixman_region32_t *stale;
    pixman_box32_t *rects;
    int back, i, n;
    XdfBuffer *b;

    /* a stopped VM (paused, migrated away, not yet in) shows what it did */
    if (c->display != XDF_DISPLAY_ON || c->flipping >= 0 ||
        !runstate_is_running()) {
        return;
    }
    if (!pixman_region32_not_empty(&c->damage) && c->front >= 0) {
        return;
    }
    /*
     * A flip at each refresh, even one the timer ran a little early, but
     * no more than 4/3 of the connector's rate however often damage or
     * frame-done events come: the refresh timer comes back.
     */
    if (now - c->last_flip_ms < c->refresh_us * 3 / 4000) {
        return;
    }

    /* this frame's damage is stale in every buffer */
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        pixman_region32_union(&c->buf[i].stale, &c->buf[i].stale,
                              &c->damage);
    }
    pixman_region32_clear(&c->damage);

    back = c->front == 0 ? 1 : 0;
    b = &c->buf[back];
    stale = &b->stale;
    pixman_region32_intersect_rect(stale, stale, 0, 0, b->width, b->height);
    rects = pixman_region32_rectangles(stale, &n);
    /* what a frame costs (figures, tools/run-bench): the copy's CPU time */
    copy_ns = xdf_thread_cpu_ns();
    for (i = 0; i < n; i++) {
        xdf_paint(c, b, &rects[i]);
        pixels += (int64_t)(rects[i].x2 - rects[i].x1) *
                  (rects[i].y2 - rects[i].y1);
    }
    copy_ns = xdf_thread_cpu_ns() - copy_ns;
    trace_xen_displfront_flip(x->id, c->index, back, n,
                              pixels, copy_ns);
    pixman_region32_clear(stale);
    c->fig.frames++;
    c->fig.copy_ns_last = copy_ns;
    c->fig.copy_ns_total += copy_ns;

    c->flipping = back;
    c->last_flip_ms = now;
    flip.fb_cookie = b->fb_cookie;
    xdf_ring_submit(&c->ring, XENDISPL_OP_PG_FLIP, &flip, sizeof(flip),
                    xdf_pg_flip_done, c);
}


/* The backend showed the frame we flipped to (or gave up waiting). */
static void xdf_frame_done(XdfConnector *c, bool timeout)
{
    trace_xen_displfront_frame_done(c->d->x->id, c->index, c->flipping,
                                    timeout);
    timer_del(c->frame_timer);
    c->front = c->flipping;
    c->flipping = -1;
    /* damage that arrived during the flip goes out now */
    xdf_flip(c);
}

static void xdf_frame_timeout(void *opaque)
{
    XdfConnector *c = opaque;

    if (c->flipping >= 0) {
        xdf_frame_done(c, true);
    }
}

/* Is @cookie a framebuffer the backend may still show? */
static bool xdf_fb_known(XdfConnector *c, uint64_t cookie)
{
    unsigned int i;

    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        if (c->buf[i].state == XDF_BUFFER_ATTACHED &&
            c->buf[i].fb_cookie == cookie) {
            return true;
        }
    }
    return false;
}

/*
 * The ring's event callback: frame-done events.  Only one that ends the
 * flip under way does something.
 */
static bool xdf_display_event(void *opaque, void *data)
{
    const struct xendispl_evt *evt = data;
    XdfConnector *c = opaque;
    uint64_t cookie = evt->op.pg_flip.fb_cookie;

    if (evt->type != XENDISPL_EVT_PG_FLIP) {
        trace_xen_displfront_event_unknown(c->d->x->id, c->index,
                                           evt->type);
        return false;
    }
    trace_xen_displfront_event_flip(c->d->x->id, c->index, cookie);
    if (!xdf_fb_known(c, cookie)) {
        xdf_ring_fail(&c->ring, "frame-done event for fb_cookie 0x%" PRIx64
                      ", which is no framebuffer of ours", cookie);
        return false;
    }
    if (c->flipping < 0 || c->buf[c->flipping].fb_cookie != cookie) {
        return false;           /* late, or for a frame shown already */
    }
    xdf_frame_done(c, false);
    return true;
}

/* Setting the buffers up ------------------------------------------------- */

/* SET_CONFIG is answered: the connector shows our buffers; flip. */
static void xdf_set_config_done(XdfRequest *r, int status)
{
    XdfConnector *c = r->opaque;

    if (status == -ECANCELED || c->display != XDF_DISPLAY_CONFIGURING ||
        r->req.op.set_config.fb_cookie != c->buf[0].fb_cookie) {
        return;
    }
    if (status) {
        xdf_ring_fail(&c->ring, "backend refused SET_CONFIG for connector "
                      "%u: status %d", c->index, status);
        return;
    }
    c->display = XDF_DISPLAY_ON;
    trace_xen_displfront_display_on(c->d->x->id, c->index, c->buf[0].width,
                                    c->buf[0].height);
    xdf_flip(c);
}

/* Show the connector's first framebuffer, as large as the connector. */
static void xdf_set_config(XdfConnector *c)
{
    struct xendispl_set_config_req cfg = {
        .fb_cookie = c->buf[0].fb_cookie,
        .width = c->buf[0].width,
        .height = c->buf[0].height,
        .bpp = c->buf[0].bpp,
    };

    xdf_ring_submit(&c->ring, XENDISPL_OP_SET_CONFIG, &cfg, sizeof(cfg),
                    xdf_set_config_done, c);
}

/*
 * A buffer's set-up request is answered.  Both travel on connector 0's
 * ring (c->d->setup_ring), whichever connector the buffer is for.
 */
static XdfBuffer *xdf_setup_answered(XdfRequest *r, int status,
                                     XdfBufferState before, uint64_t cookie,
                                     uint64_t cookie_sent)
{
    XdfBuffer *b = r->opaque;

    if (status == -ECANCELED || b->state != before || cookie != cookie_sent) {
        return NULL;
    }
    if (status) {
        xdf_ring_fail(b->c->d->setup_ring, "backend refused %s for connector "
                      "%u: status %d", xdf_op_name(r->req.operation),
                      b->c->index, status);
        return NULL;
    }
    return b;
}

static void xdf_dbuf_create_done(XdfRequest *r, int status)
{
    XdfBuffer *b = r->opaque;

    b = xdf_setup_answered(r, status, XDF_BUFFER_SHARED, b->dbuf_cookie,
                           r->req.op.dbuf_create.dbuf_cookie);
    if (!b || (b->be_alloc && !xdf_buffer_map_backend(b))) {
        return;
    }
    b->state = XDF_BUFFER_CREATED;
}

/* Once both buffers have their framebuffer: SET_CONFIG. */
static void xdf_fb_attach_done(XdfRequest *r, int status)
{
    XdfBuffer *b = r->opaque;
    XdfConnector *c = b->c;
    int i;

    b = xdf_setup_answered(r, status, XDF_BUFFER_CREATED, b->fb_cookie,
                           r->req.op.fb_attach.fb_cookie);
    if (!b) {
        return;
    }
    b->state = XDF_BUFFER_ATTACHED;
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        if (c->buf[i].state != XDF_BUFFER_ATTACHED) {
            return;
        }
    }
    xdf_set_config(c);
}

/*
 * Forget this connector's buffers: the backend drops them with the
 * connection.
 */
static void xdf_display_stop(XdfConnector *c)
{
    int i;

    timer_del(c->frame_timer);
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        xdf_buffer_free(&c->buf[i]);
    }
    c->display = XDF_DISPLAY_OFF;
    c->front = c->flipping = -1;
}

/*
 * The connector's two buffers, for the life of the connection: the
 * connector's size in XRGB8888, whatever the guest does, so that grants
 * are bounded by the connector and a mode change costs a repaint, not
 * new buffers.  DBUF_CREATE and FB_ATTACH for each, then (once they are
 * answered) SET_CONFIG.
 */
static void xdf_display_start(XdfConnector *c)
{
    Error *local_err = NULL;
    int i;

    xdf_display_stop(c);
    c->display = XDF_DISPLAY_CONFIGURING;
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        XdfBuffer *b = &c->buf[i];
        struct xendispl_dbuf_create_req dbuf = { 0 };
        struct xendispl_fb_attach_req fb = { 0 };

        if (!xdf_buffer_share(b, c->width, c->height, &local_err)) {
            xdf_ring_fail(&c->ring, "%s", error_get_pretty(local_err));
            error_free(local_err);
            return;
        }
        dbuf.dbuf_cookie = b->dbuf_cookie;
        dbuf.width = b->width;
        dbuf.height = b->height;
        dbuf.bpp = b->bpp;
        dbuf.buffer_sz = b->n_data * XEN_PAGE_SIZE;
        dbuf.flags = b->be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0;
        dbuf.gref_directory = b->dir_refs[0];
        dbuf.data_ofs = 0;
        xdf_ring_submit(c->d->setup_ring, XENDISPL_OP_DBUF_CREATE, &dbuf,
                        sizeof(dbuf), xdf_dbuf_create_done, b);
        fb.dbuf_cookie = b->dbuf_cookie;
        fb.fb_cookie = b->fb_cookie;
        fb.width = b->width;
        fb.height = b->height;
        fb.pixel_format = b->fourcc;
        xdf_ring_submit(c->d->setup_ring, XENDISPL_OP_FB_ATTACH, &fb,
                        sizeof(fb), xdf_fb_attach_done, b);
    }
}

/* Refresh and EDID ------------------------------------------------------- */

/*
 * The console refresh of this connector at its full rate again: at the
 * connector's refresh, at once (QEMU re-arms its timer when the
 * interval gets shorter).
 */
void xdf_connector_refresh_now(XdfConnector *c)
{
    c->quiet_ticks = 0;
    if (!runstate_is_running()) {
        return;                 /* nothing is flipped until it runs */
    }
    if (c->dcl_registered && c->interval_ms != c->refresh_us / 1000) {
        c->interval_ms = c->refresh_us / 1000;
        c->next_frame_us = 0;
        trace_xen_displfront_refresh(c->d->x->id, c->index, c->interval_ms,
                                     c->refresh_us);
        update_displaychangelistener(&c->dcl, c->interval_ms);
    }
}

static void xdf_edid_free(XdfConnector *c)
{
    XdfXen *x = c->d->x;

    if (c->edid) {
        qemu_xen_gntshr_unshare(x->xgs, c->edid, ARRAY_SIZE(c->edid_refs));
        c->edid = NULL;
    }
    if (c->edid_dir) {
        qemu_xen_gntshr_unshare(x->xgs, c->edid_dir, 1);
        c->edid_dir = NULL;
    }
}

/*
 * Tell the card @w x @h is the mode to prefer, as a monitor would (the
 * EDID std VGA and bochs-display serve, virtio-gpu's display info), so
 * that the guest comes up in it.  A card whose video memory cannot hold
 * it at 32 bpp gets the largest mode of the same shape that fits (a
 * width a multiple of 8), and the device says once what to raise.
 * Cards that cannot tell their guest (cirrus, ramfb) keep fit's work.
 */
static void xdf_connector_prefer(XdfConnector *c, uint32_t w, uint32_t h)
{
    uint32_t fw = w, fh = h;
    QemuUIInfo info;

    if (!dpy_ui_info_supported(c->con)) {
        return;
    }
    while (c->vram && (uint64_t)fw * fh * 4 > c->vram && fw > 8) {
        fw = (fw - 1) & ~7u;
        fh = MAX(1, (uint64_t)h * fw / w);
    }
    if ((fw != w || fh != h) && !c->said_vram) {
        xdf_report(c->d->x, XDF_WARN, "connector %u: the card's video "
                   "memory (%" PRIu64 " MiB) cannot hold %ux%u at 32 bpp: "
                   "offering the guest %ux%u (raise the card's %s to at "
                   "least %" PRIu64 " MiB)", c->index, c->vram / MiB, w, h,
                   fw, fh, c->vram_prop, DIV_ROUND_UP((uint64_t)w * h * 4,
                                                       MiB));
        c->said_vram = true;
    }
    trace_xen_displfront_prefer(c->d->x->id, c->index, fw, fh);
    info = *dpy_get_ui_info(c->con);
    info.width = fw;
    info.height = fh;
    dpy_set_ui_info(c->con, &info, false);
}

/*
 * GET_EDID is answered: tell the card the preferred mode, as a monitor
 * would, when the card can pass it to the guest, and refresh at the
 * display's rate.  Backends that do not implement GET_EDID answer
 * -EINVAL: the connector keeps its XenStore resolution then.
 */
static void xdf_get_edid_done(XdfRequest *r, int status)
{
    XdfConnector *c = r->opaque;
    XdfXen *x = c->d->x;
    uint32_t len = r->rsp.op.get_edid.edid_sz, w, h;
    g_autofree uint8_t *edid = NULL;

    if (status == -ECANCELED) {
        xdf_edid_free(c);
        return;
    }
    /* one read of the shared page: the backend may change it meanwhile */
    if (!status && len <= XENDISPL_EDID_MAX_SIZE) {
        edid = g_memdup2(c->edid, len);
    }
    if (status) {
        trace_xen_displfront_edid(x->id, c->index, status, 0, 0);
    } else if (!edid || displif_edid_preferred(edid, len, &w, &h)) {
        xdf_report(x, XDF_WARN, "connector %u: ignoring the backend's EDID "
                   "(%u bytes): not a valid EDID", c->index, len);
    } else {
        uint32_t mhz;

        /* a mode larger than the connector would only be shrunk again */
        w = MIN(w, c->width);
        h = MIN(h, c->height);
        trace_xen_displfront_edid(x->id, c->index, 0, w, h);
        if (!displif_edid_refresh_mhz(edid, len, &mhz)) {
            /* the display's own rate, within 10 to 125 Hz */
            c->refresh_us = MIN(MAX(1000000000ULL / mhz, 8000), 100000);
            xdf_connector_refresh_now(c);
        }
        xdf_connector_prefer(c, w, h);
    }
    xdf_edid_free(c);
}

/* Ask for the backend's EDID (GET_EDID came with protocol version 2). */
static void xdf_get_edid(XdfConnector *c)
{
    XdfXen *x = c->d->x;
    struct xendispl_get_edid_req req = {
        .buffer_sz = XENDISPL_EDID_MAX_SIZE,
    };

    if (c->d->version < 2 || !c->ring.sring || c->edid) {
        return;
    }
    c->edid = qemu_xen_gntshr_share_pages(x->xgs, x->backend_domid,
                                          ARRAY_SIZE(c->edid_refs),
                                          c->edid_refs, true);
    c->edid_dir = qemu_xen_gntshr_share_pages(x->xgs, x->backend_domid, 1,
                                              &c->edid_dir_ref, true);
    if (!c->edid || !c->edid_dir) {
        xdf_report(x, XDF_WARN, "connector %u: cannot share a buffer for "
                   "the EDID: %s", c->index, strerror(errno));
        xdf_edid_free(c);
        return;
    }
    displif_pgdir_fill(c->edid_dir, 1, &c->edid_dir_ref, c->edid_refs,
                       ARRAY_SIZE(c->edid_refs));
    req.gref_directory = c->edid_dir_ref;
    xdf_ring_submit(&c->ring, XENDISPL_OP_GET_EDID, &req, sizeof(req),
                    xdf_get_edid_done, c);
}

/* The console listener --------------------------------------------------- */

static void xdf_gfx_update(DisplayChangeListener *dcl, int x, int y, int w,
                           int h)
{
    XdfConnector *c = container_of(dcl, XdfConnector, dcl);

    xdf_fit_damage(c, x, y, w, h);
    xdf_connector_refresh_now(c);
}

/* A new surface (a mode change): fit it anew and repaint everything. */
static void xdf_gfx_switch(DisplayChangeListener *dcl,
                           DisplaySurface *surface)
{
    XdfConnector *c = container_of(dcl, XdfConnector, dcl);
    XdfXen *x = c->d->x;

    c->surface = surface;
    if (surface) {
        trace_xen_displfront_gfx_switch(x->id, c->index,
                                        surface_width(surface),
                                        surface_height(surface),
                                        surface_bits_per_pixel(surface),
                                        surface_format(surface));
    }
    xdf_fit_compute(c);
    pixman_region32_union_rect(&c->damage, &c->damage, 0, 0, c->width,
                               c->height);
    xdf_connector_refresh_now(c);
}

/*
 * QEMU arms the console's refresh timer a whole number of ms after the
 * refresh callbacks return, so a fixed interval runs slow by what each
 * refresh costs and by the rounding (17 ms a frame where a 60 Hz
 * connector has 16.7: 58 flips a second, not 60).  Aim each refresh at
 * the connector's own frame times instead: the next is due one period
 * after the last was due, unless we are a period late.
 */
static void xdf_refresh_pace(XdfConnector *c)
{
    int64_t now = qemu_clock_get_us(QEMU_CLOCK_REALTIME);
    int64_t ms;

    c->next_frame_us += c->refresh_us;
    if (c->next_frame_us <= now || c->next_frame_us > now + c->refresh_us) {
        c->next_frame_us = now + c->refresh_us;
    }
    /* the timer fires at now_ms + ms, now_ms rounded down */
    ms = MAX(1, (c->next_frame_us + 500) / 1000 - now / 1000);
    if (ms != c->dcl.update_interval) {
        update_displaychangelistener(&c->dcl, ms);
    }
}

/*
 * The console's refresh: let the card report what changed, then flip.
 * While nothing changes, or the VM is stopped, the refresh backs off,
 * doubling up to once a second (as QEMU's VNC server does); any change
 * of a running VM brings the connector's rate back
 * (xdf_connector_refresh_now(), from the damage callbacks and when the
 * VM runs again).
 */
static void xdf_refresh(DisplayChangeListener *dcl)
{
    XdfConnector *c = container_of(dcl, XdfConnector, dcl);
    uint32_t interval;

    graphic_hw_update(dcl->con);
    c->fig.refreshes++;
    if (c->display != XDF_DISPLAY_ON) {
        c->fig.skipped++;       /* not connected: nothing to flip to */
    } else if (!pixman_region32_not_empty(&c->damage)) {
        c->fig.idle++;          /* nothing new */
    } else if (c->flipping >= 0) {
        c->fig.coalesced++;     /* the change waits for the frame under way */
    }
    xdf_flip(c);
    if (runstate_is_running() &&
        (pixman_region32_not_empty(&c->damage) || c->flipping >= 0 ||
         ++c->quiet_ticks < XDF_QUIET_TICKS)) {
        xdf_refresh_pace(c);
        return;
    }
    interval = MIN(c->interval_ms * 2, XDF_IDLE_REFRESH_MS);
    if (interval != c->interval_ms) {
        c->interval_ms = interval;
        trace_xen_displfront_refresh(c->d->x->id, c->index, interval,
                                     c->refresh_us);
        update_displaychangelistener(dcl, interval);
    }
}

static bool xdf_check_format(DisplayChangeListener *dcl,
                             pixman_format_code_t format)
{
    return true;                /* pixman converts while copying */
}

static const DisplayChangeListenerOps xdf_dcl_ops = {
    .dpy_name = TYPE_XEN_DISPLFRONT,
    .dpy_refresh = xdf_refresh,
    .dpy_gfx_update = xdf_gfx_update,
    .dpy_gfx_switch = xdf_gfx_switch,
    .dpy_gfx_check_format = xdf_check_format,
};

/* Life cycle ------------------------------------------------------------- */

void xdf_connector_init(XdfConnector *c, XdfDisplay *d, unsigned int index,
                        uint32_t width, uint32_t height)
{
    int i;

    c->d = d;
    c->index = index;
    c->width = width;
    c->height = height;
    c->front = c->flipping = -1;
    pixman_region32_init(&c->damage);
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        c->buf[i].c = c;
        pixman_region32_init(&c->buf[i].stale);
    }
}

void xdf_connector_bind(XdfConnector *c, QemuConsole *con, uint64_t vram,
                        const char *vram_prop)
{
    c->con = con;
    c->vram = vram;
    c->vram_prop = vram_prop;
    c->frame_timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_frame_timeout, c);
    c->dcl.ops = &xdf_dcl_ops;
    c->dcl.con = con;
    c->refresh_us = XDF_REFRESH_US;
    c->interval_ms = c->refresh_us / 1000;
    c->dcl.update_interval = c->interval_ms;
    register_displaychangelistener(&c->dcl);
    c->dcl_registered = true;
    xdf_connector_prefer(c, c->width, c->height);
}

/* The transport broke: say which connector's, and let the device close. */
static void xdf_connector_broken(void *opaque, const char *msg)
{
    XdfConnector *c = opaque;
    g_autofree char *what = g_strdup_printf("connector %u: %s", c->index,
                                            msg);

    c->d->broken(c->d->opaque, what);
}

bool xdf_connector_open(XdfConnector *c, uint32_t timeout_ms, Error **errp)
{
    if (!xdf_ring_open(&c->ring, c->d->x, c->index, timeout_ms,
                       xdf_connector_broken, c, errp) ||
        !xdf_events_open(&c->events, c->d->x, "events", c->index,
                         &displif_event_page, xdf_display_event,
                         xdf_connector_broken, c, errp)) {
        return false;
    }
    trace_xen_displfront_connector(c->d->x->id, c->index, c->ring.ref,
                                   c->ring.ch.port, c->events.ref,
                                   c->events.ch.port);
    return true;
}

void xdf_connector_start(XdfConnector *c)
{
    xdf_get_edid(c);
    xdf_display_start(c);
}

bool xdf_connector_close(XdfConnector *c)
{
    bool worked = c->display == XDF_DISPLAY_ON;

    xdf_ring_close(&c->ring);
    xdf_events_close(&c->events);
    xdf_display_stop(c);
    xdf_edid_free(c);
    return worked;
}

void xdf_connector_unbind(XdfConnector *c)
{
    if (c->dcl_registered) {
        unregister_displaychangelistener(&c->dcl);
        c->dcl_registered = false;
    }
    g_clear_pointer(&c->frame_timer, timer_free);
}

void xdf_connector_fini(XdfConnector *c)
{
    int i;

    pixman_region32_fini(&c->damage);
    for (i = 0; i < XDF_NR_BUFFERS; i++) {
        pixman_region32_fini(&c->buf[i].stale);
    }
    xdf_fit_free(&c->fit);
}
