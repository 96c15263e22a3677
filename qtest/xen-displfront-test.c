/*
 * QTest for xen-displfront
 *
 * Configuration checks run QEMU as a user would, from its command line,
 * and check its exit status and message.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-pc.h"
#include "libqos/fw_cfg.h"
#include "libqos/malloc-pc.h"
#include "libqos/virtio-pci.h"
#include "standard-headers/linux/virtio_config.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "hw/display/bochs-vbe.h"

#include <poll.h>
#include <sys/mman.h>
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

/*
 * More QEMU options for every QEMU this test starts, from the
 * environment: a slow host (Xen under TCG) raises req-timeout-ms.
 */
static const char *extra_args(void)
{
    const char *args = g_getenv("XDF_QTEST_QEMU_ARGS");

    return args ? args : "";
}

typedef struct QemuRun {
    int status;
    char *out;
    char *err;
} QemuRun;

static void qemu_run_free(QemuRun *r)
{
    g_free(r->out);
    g_free(r->err);
}

/*
 * Run QEMU with @args (split as a shell would) and no XenStore within reach
 * unless @xenstore names one; wait for it to exit (a QEMU that does not
 * within a minute is stopped: exit status 124).
 */
static QemuRun qemu_run(const char *xenstore, const char *args)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) envp = g_get_environ();
    g_autoptr(GError) err = NULL;
    QemuRun r = { 0 };

    g_assert_nonnull(qemu);
    cmd = g_strdup_printf("timeout 60 %s -M pc -nodefaults -display none -S "
                          "%s %s", qemu, extra_args(), args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &err));
    envp = g_environ_setenv(envp, "XENSTORED_PATH",
                            xenstore ? xenstore : "/nonexistent/xenstore",
                            TRUE);
    envp = g_environ_unsetenv(envp, "XENSTORE_DOMAIN_INTERFACE");
    g_assert_true(g_spawn_sync(NULL, argv, envp, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &r.out, &r.err, &r.status, &err));
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 124) {
        g_printerr("QEMU ran for a minute and was stopped: %s\n", args);
    }
    return r;
}

/* QEMU refused to start with exactly one message that contains @msg. */
static void assert_refused(const char *args, const char *msg)
{
    QemuRun r = qemu_run(NULL, args);

    if (g_test_verbose()) {
        g_printerr("%s\n  -> %s", args, r.err);
    }
    /* an orderly exit(1), not a crash */
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, msg));
    g_assert_nonnull(strstr(r.err, "xen-displfront"));
    qemu_run_free(&r);
}

static void test_listed(void)
{
    QemuRun r = qemu_run(NULL, "-device help");

    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 0);
    g_assert_nonnull(strstr(r.out, "name \"xen-displfront\""));
    qemu_run_free(&r);
}

static void test_properties(void)
{
    static const char *const props[] = {
        "display=", "head=", "backend-domid=", "frontend-domid=", "dev-id=",
        "resolution=", "be-alloc=", "fit=", "unique-id=", "input=",
        "input-system-keys=", "connectors=", "req-timeout-ms=",
    };
    QemuRun r = qemu_run(NULL, "-device xen-displfront,help");
    size_t i;

    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 0);
    for (i = 0; i < G_N_ELEMENTS(props); i++) {
        g_assert_nonnull(strstr(r.out, props[i]));
    }
    qemu_run_free(&r);
}

static void test_bad_display(void)
{
    assert_refused("-device VGA,id=vga0 -device xen-displfront,display=nosuch",
                   "display 'nosuch': no device with that id");
    /* card named after the device: wrong order on the command line */
    assert_refused("-device xen-displfront,display=vga0 -device VGA,id=vga0",
                   "display 'vga0': no device with that id");
    assert_refused("-device VGA,id=vga0 "
                   "-device xen-displfront,display=vga0,head=1",
                   "display 'vga0' (VGA) has no graphic console at head 1");
    assert_refused("-device VGA -device xen-displfront,head=2",
                   "head=2 needs display=<card id>");
    assert_refused("-device xen-displfront",
                   "there is no graphic console to follow");
}

static void test_bad_resolution(void)
{
    static const char *const malformed[] = {
        "", "x", "1024", "1024x", "x768", "1024*768", "-1x768", "+1x768",
        "1024x768x", " 1024x768", "1024x 768", "0x1024x768", "1024X768",
    };
    static const char *const out_of_range[] = {
        "0x0", "0x768", "1024x0", "99999x99999", "8193x600",
        "800x8193", "4294967297x600", "99999999999999999999x1",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(malformed); i++) {
        g_autofree char *dev = g_strdup_printf(
            "xen-displfront,display=v,resolution=%s", malformed[i]);
        g_autofree char *quoted = g_shell_quote(dev);
        g_autofree char *args = g_strdup_printf("-device VGA,id=v -device %s",
                                                quoted);
        g_autofree char *msg = g_strdup_printf(
            "resolution '%s' is not of the form WIDTHxHEIGHT", malformed[i]);

        /* an empty value is not even passed on by the option parser */
        if (!*malformed[i]) {
            continue;
        }
        assert_refused(args, msg);
    }
    for (i = 0; i < G_N_ELEMENTS(out_of_range); i++) {
        g_autofree char *args = g_strdup_printf(
            "-device VGA,id=v "
            "-device xen-displfront,display=v,resolution=%s",
            out_of_range[i]);
        g_autofree char *msg = g_strdup_printf(
            "resolution '%s' is out of range: width and height must be "
            "1 to %d", out_of_range[i], DISPLIF_MAX_SIDE);

        assert_refused(args, msg);
    }
}

static void test_bad_domid(void)
{
    assert_refused("-device VGA -device xen-displfront,backend-domid=32752",
                   "backend-domid 32752 is not a domain id (0 to 32751)");
    assert_refused("-device VGA -device xen-displfront,frontend-domid=65535",
                   "frontend-domid 65535 is not a domain id (0 to 32751)");
    assert_refused("-device VGA -device xen-displfront,dev-id=-1",
                   "dev-id '-1' is neither 'auto' nor a device index "
                   "(0 to 2147483647)");
    assert_refused("-device VGA -device xen-displfront,dev-id=next",
                   "dev-id 'next' is neither 'auto' nor a device index");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "fit=stretch", "fit 'stretch' is not scale, center or crop");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "unique-id=a|b", "unique-id 'a|b' names 2 connector(s), "
                   "not 1 (one id per connector, '|' between them)");
    assert_refused("-device VGA,id=v -device 'xen-displfront,display=v,"
                   "unique-id=a b'", "unique-id 'a b': connector 0's id "
                   "'a b' must be 1 to 1024 printable characters");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "input-id=K:/dev/input/event0|K:/dev/input/event1",
                   "input-id 'K:/dev/input/event0|K:/dev/input/event1' names "
                   "2 connector(s), not 1");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "input-backend=vkb", "input-backend 'vkb' is neither "
                   "vinput nor vkbd");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "unique-id=", "unique-id '' names 0 connector(s)");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "connectors=5", "connectors=5 is out of range (1 to 4)");
    assert_refused("-device VGA,id=v -device xen-displfront,display=v,"
                   "connectors=0", "connectors=0 is out of range (1 to 4)");
}

/* Valid configuration, but no Xen to talk to. */
static void test_no_xen(void)
{
    assert_refused("-device VGA,id=v -device xen-displfront,display=v",
                   "cannot reach XenStore");
    assert_refused("-device bochs-display,id=b "
                   "-device xen-displfront,display=b,resolution=1920x1080",
                   "cannot reach XenStore");
}

/*
 * The backend: this test plays a displif backend in domain 0, through
 * the same Xen libraries a real one uses (on xensim, or on Xen).
 */

#define BE_TIMEOUT_MS 10000

/* DRM fourccs */
#define FOURCC_XR24 0x34325258
#define BE_MAX_DBUF 8

typedef struct BeDbuf {
    uint64_t cookie;
    uint32_t width, height, bpp, size;
    uint32_t n_refs;
    void *map;
    bool allocated;             /* ours, shared with the frontend */
} BeDbuf;

typedef struct BeFb {
    uint64_t cookie;
    uint64_t dbuf_cookie;
    uint32_t width, height, format;
} BeFb;

#define BE_MAX_CONN 4

/* One connector: its request ring and event page. */
typedef struct BeConn {
    void *ring_page;
    struct xen_displif_back_ring ring;
    struct xendispl_event_page *evt_page;
    evtchn_port_t req_port;
    evtchn_port_t evt_port;
    uint16_t evt_id;
    uint64_t config_fb;         /* SET_CONFIG'd framebuffer */
    uint64_t shown_fb;          /* last flipped to */
    unsigned int nr_flips;
} BeConn;

typedef struct Backend {
    struct xs_handle *xs;
    xenevtchn_handle *xe;
    xengnttab_handle *xg;
    xengntshr_handle *xsh;
    unsigned int fe_domid;
    char *fe_path;
    char *be_path;

    BeConn conn[BE_MAX_CONN];
    unsigned int nr_conn;

    BeDbuf dbuf[BE_MAX_DBUF];
    BeFb fb[BE_MAX_DBUF];
    unsigned int nr_requests[256];
    int64_t last_request_ms;

    const char *versions;       /* what to write in "versions", if any */
    int edid_status;            /* GET_EDID's answer when not 0 */
    uint32_t edid_width, edid_height;

    bool xrgb_only;             /* like displ_be under weston */
    uint32_t last_format;       /* of the last FB_ATTACH accepted */

    /* misbehaviour, for tests */
    bool drop_requests;         /* never answer */
} Backend;

static bool xensim_available(void)
{
    return g_getenv("XENSIM_SOCKET") || g_file_test("/dev/xen/evtchn",
                                                     G_FILE_TEST_EXISTS);
}

static char *be_read(Backend *b, const char *dir, const char *node)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);
    unsigned int len;

    return xs_read(b->xs, XBT_NULL, path, &len);
}

static void be_write(Backend *b, const char *dir, const char *node,
                     const char *val)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);

    g_assert_true(xs_write(b->xs, XBT_NULL, path, val, strlen(val)));
}

/* Wait until @dir/@node reads @val. */
static void be_wait_node(Backend *b, const char *dir, const char *node,
                         const char *val)
{
    int64_t end = g_get_monotonic_time() + BE_TIMEOUT_MS * 1000;
    char *cur = NULL;

    do {
        free(cur);
        cur = be_read(b, dir, node);
        if (cur && !strcmp(cur, val)) {
            free(cur);
            return;
        }
        g_usleep(2000);
    } while (g_get_monotonic_time() < end);
    g_error("%s/%s is '%s', waited for '%s'", dir, node, cur ? cur : "(none)",
            val);
}

static unsigned int be_read_uint(Backend *b, const char *dir,
                                 const char *node)
{
    g_autofree char *v = be_read(b, dir, node);
    unsigned int val;

    g_assert_nonnull(v);
    g_assert_cmpint(qemu_strtoui(v, NULL, 10, &val), ==, 0);
    return val;
}

/* The backend, in dom0, of device @dev_id of frontend domain @fe_domid. */
static void be_open_for(Backend *b, unsigned int fe_domid,
                        unsigned int dev_id)
{
    memset(b, 0, sizeof(*b));
    b->xs = xs_open(0);
    g_assert_nonnull(b->xs);
    b->xe = xenevtchn_open(NULL, 0);
    g_assert_nonnull(b->xe);
    b->xg = xengnttab_open(NULL, 0);
    g_assert_nonnull(b->xg);
    b->xsh = xengntshr_open(NULL, 0);
    g_assert_nonnull(b->xsh);
    b->fe_domid = fe_domid;
    b->fe_path = g_strdup_printf("/local/domain/%u/device/vdispl/%u",
                                 fe_domid, dev_id);
    b->be_path = g_strdup_printf("/local/domain/0/backend/vdispl/%u/%u",
                                 fe_domid, dev_id);
}

static void be_open(Backend *b, unsigned int dev_id)
{
    be_open_for(b, 0, dev_id);
}

static void be_dbuf_release(Backend *b, BeDbuf *d)
{
    if (d->map && d->allocated) {
        xengntshr_unshare(b->xsh, d->map, d->n_refs);
    } else if (d->map) {
        xengnttab_unmap(b->xg, d->map, d->n_refs);
    }
    memset(d, 0, sizeof(*d));
}

static void be_unmap_all(Backend *b)
{
    int i;

    for (i = 0; i < BE_MAX_DBUF; i++) {
        be_dbuf_release(b, &b->dbuf[i]);
    }
    memset(b->dbuf, 0, sizeof(b->dbuf));
    memset(b->fb, 0, sizeof(b->fb));
    for (i = 0; i < (int)b->nr_conn; i++) {
        BeConn *c = &b->conn[i];

        if (c->ring_page) {
            xengnttab_unmap(b->xg, c->ring_page, 1);
        }
        if (c->evt_page) {
            xengnttab_unmap(b->xg, c->evt_page, 1);
        }
        if (c->req_port) {
            xenevtchn_unbind(b->xe, c->req_port);
        }
        if (c->evt_port) {
            xenevtchn_unbind(b->xe, c->evt_port);
        }
    }
    memset(b->conn, 0, sizeof(b->conn));
    b->nr_conn = 0;
}

static void be_close(Backend *b)
{
    be_unmap_all(b);
    xengntshr_close(b->xsh);
    xengnttab_close(b->xg);
    xenevtchn_close(b->xe);
    xs_close(b->xs);
    g_free(b->fe_path);
    g_free(b->be_path);
}

/*
 * The backend side of the XenBus handshake: InitWait, map what the
 * frontend published, Connected.
 */
static void be_attach(Backend *b)
{
    unsigned int i;

    be_wait_node(b, b->fe_path, "state", "3");
    memset(b->nr_requests, 0, sizeof(b->nr_requests));
    for (i = 0; i < BE_MAX_CONN; i++) {
        g_autofree char *ci = g_strdup_printf("%s/%u", b->fe_path, i);
        g_autofree char *ring_ref = be_read(b, ci,
                                            XENDISPL_FIELD_REQ_RING_REF);
        BeConn *c = &b->conn[i];
        uint32_t ref;
        int port;

        if (!ring_ref) {
            break;
        }
        memset(c, 0, sizeof(*c));
        ref = be_read_uint(b, ci, XENDISPL_FIELD_REQ_RING_REF);
        c->ring_page = xengnttab_map_grant_ref(b->xg, b->fe_domid, ref,
                                               PROT_READ | PROT_WRITE);
        g_assert_nonnull(c->ring_page);
        BACK_RING_INIT(&c->ring, (struct xen_displif_sring *)c->ring_page,
                       DISPLIF_PAGE_SIZE);
        ref = be_read_uint(b, ci, XENDISPL_FIELD_EVT_RING_REF);
        c->evt_page = xengnttab_map_grant_ref(b->xg, b->fe_domid, ref,
                                              PROT_READ | PROT_WRITE);
        g_assert_nonnull(c->evt_page);
        port = xenevtchn_bind_interdomain(b->xe, b->fe_domid,
                                          be_read_uint(b, ci,
                                              XENDISPL_FIELD_REQ_CHANNEL));
        g_assert_cmpint(port, >, 0);
        c->req_port = port;
        port = xenevtchn_bind_interdomain(b->xe, b->fe_domid,
                                          be_read_uint(b, ci,
                                              XENDISPL_FIELD_EVT_CHANNEL));
        g_assert_cmpint(port, >, 0);
        c->evt_port = port;
        b->nr_conn = i + 1;
    }
    g_assert_cmpuint(b->nr_conn, >, 0);
    be_write(b, b->be_path, "state", "4");
    be_wait_node(b, b->fe_path, "state", "4");
}

static void be_connect(Backend *b)
{
    be_wait_node(b, b->fe_path, "state", "1");
    if (b->versions) {
        be_write(b, b->be_path, "versions", b->versions);
    }
    be_write(b, b->be_path, "state", "2");
    be_attach(b);
}

static BeDbuf *be_dbuf(Backend *b, uint64_t cookie)
{
    int i;

    for (i = 0; i < BE_MAX_DBUF; i++) {
        if (b->dbuf[i].cookie == cookie) {
            return &b->dbuf[i];
        }
    }
    return NULL;
}

static BeFb *be_fb(Backend *b, uint64_t cookie)
{
    int i;

    for (i = 0; i < BE_MAX_DBUF; i++) {
        if (b->fb[i].cookie == cookie) {
            return &b->fb[i];
        }
    }
    return NULL;
}

/* Map a frontend-allocated buffer through its page directory. */
static int be_dbuf_create(Backend *b, const struct xendispl_dbuf_create_req *r)
{
    BeDbuf *d = be_dbuf(b, 0);
    uint32_t n = displif_pages(r->buffer_sz), k = 0, ref = r->gref_directory;
    g_autofree uint32_t *refs = g_new0(uint32_t, n);

    if (!d || be_dbuf(b, r->dbuf_cookie) || !r->dbuf_cookie ||
        r->buffer_sz < displif_buffer_size(r->width, r->height, r->bpp)) {
        return -EINVAL;
    }
    d->allocated = r->flags & XENDISPL_DBUF_FLG_REQ_ALLOC;
    if (d->allocated) {
        /* be-alloc: our pages, their refs written into the directory */
        d->map = xengntshr_share_pages(b->xsh, b->fe_domid, n, refs, true);
        g_assert_nonnull(d->map);
    }
    while (ref) {
        /*
         * read-write, as displ_be maps them: Xen refuses that for
         * read-only grants
         */
        uint32_t *page = xengnttab_map_grant_ref(b->xg, b->fe_domid, ref,
                                                 PROT_READ | PROT_WRITE);
        uint32_t j;

        g_assert_nonnull(page);
        for (j = 0; j < DISPLIF_GREFS_PER_DIR_PAGE && k < n; j++, k++) {
            if (d->allocated) {
                page[1 + j] = refs[k];
            } else {
                refs[k] = page[1 + j];
            }
        }
        ref = page[0];
        xengnttab_unmap(b->xg, page, 1);
    }
    g_assert_cmpuint(k, ==, n);
    if (!d->allocated) {
        d->map = xengnttab_map_domain_grant_refs(b->xg, n, b->fe_domid, refs,
                                                 PROT_READ | PROT_WRITE);
        g_assert_nonnull(d->map);
    }
    d->cookie = r->dbuf_cookie;
    d->width = r->width;
    d->height = r->height;
    d->bpp = r->bpp;
    d->size = r->buffer_sz;
    d->n_refs = n;
    return 0;
}

static void be_send_flip_event(Backend *b, BeConn *c, uint64_t fb_cookie)
{
    struct xendispl_event_page *page = c->evt_page;
    struct xendispl_evt *evt;

    evt = &XENDISPL_IN_RING_REF(page, page->in_prod);
    memset(evt, 0, sizeof(*evt));
    evt->id = c->evt_id++;
    evt->type = XENDISPL_EVT_PG_FLIP;
    evt->op.pg_flip.fb_cookie = fb_cookie;
    xen_wmb();
    page->in_prod++;
    xenevtchn_notify(b->xe, c->evt_port);
}

/* A monitor's EDID whose preferred (first detailed) timing is @w x @h. */
static void be_make_edid(uint8_t *edid, uint32_t w, uint32_t h)
{
    static const uint8_t header[8] = {
        0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00
    };
    uint8_t *dtd = edid + 54, sum = 0;
    int i;

    memset(edid, 0, 128);
    memcpy(edid, header, 8);
    edid[18] = 1;               /* EDID 1.4 */
    edid[19] = 4;
    dtd[0] = 0x64;              /* pixel clock, 10 kHz units */
    dtd[1] = 0x19;
    dtd[2] = w & 0xff;
    dtd[4] = (w >> 8) << 4;
    dtd[5] = h & 0xff;
    dtd[7] = (h >> 8) << 4;
    for (i = 0; i < 127; i++) {
        sum += edid[i];
    }
    edid[127] = -sum;
}

static int be_get_edid(Backend *b, const struct xendispl_get_edid_req *r,
                       uint32_t *edid_sz)
{
    uint32_t n = displif_pages(r->buffer_sz), *dir;
    g_autofree uint32_t *refs = NULL;
    uint8_t *buf;

    if (b->edid_status) {
        return b->edid_status;
    }
    g_assert_cmpuint(r->buffer_sz, >=, XENDISPL_EDID_MAX_SIZE);
    g_assert_cmpuint(n, <=, DISPLIF_GREFS_PER_DIR_PAGE);
    dir = xengnttab_map_grant_ref(b->xg, b->fe_domid, r->gref_directory,
                                  PROT_READ | PROT_WRITE);
    g_assert_nonnull(dir);
    refs = g_memdup2(dir + 1, n * sizeof(uint32_t));
    xengnttab_unmap(b->xg, dir, 1);
    buf = xengnttab_map_domain_grant_refs(b->xg, n, b->fe_domid, refs,
                                          PROT_READ | PROT_WRITE);
    g_assert_nonnull(buf);
    be_make_edid(buf, b->edid_width, b->edid_height);
    xengnttab_unmap(b->xg, buf, n);
    *edid_sz = 128;
    return 0;
}

static int be_handle(Backend *b, BeConn *c, const struct xendispl_req *req,
                     struct xendispl_resp *rsp)
{
    BeDbuf *d;
    BeFb *f;

    switch (req->operation) {
    case XENDISPL_OP_DBUF_CREATE:
        return be_dbuf_create(b, &req->op.dbuf_create);
    case XENDISPL_OP_DBUF_DESTROY:
        d = be_dbuf(b, req->op.dbuf_destroy.dbuf_cookie);
        if (!d) {
            return -EINVAL;
        }
        be_dbuf_release(b, d);
        return 0;
    case XENDISPL_OP_FB_ATTACH:
        f = be_fb(b, 0);
        if (!f || !be_dbuf(b, req->op.fb_attach.dbuf_cookie) ||
            be_fb(b, req->op.fb_attach.fb_cookie) ||
            (b->xrgb_only &&
             req->op.fb_attach.pixel_format != FOURCC_XR24)) {
            return -EINVAL;
        }
        b->last_format = req->op.fb_attach.pixel_format;
        f->cookie = req->op.fb_attach.fb_cookie;
        f->dbuf_cookie = req->op.fb_attach.dbuf_cookie;
        f->width = req->op.fb_attach.width;
        f->height = req->op.fb_attach.height;
        f->format = req->op.fb_attach.pixel_format;
        return 0;
    case XENDISPL_OP_FB_DETACH:
        f = be_fb(b, req->op.fb_detach.fb_cookie);
        if (!f) {
            return -EINVAL;
        }
        memset(f, 0, sizeof(*f));
        return 0;
    case XENDISPL_OP_SET_CONFIG:
        if (req->op.set_config.fb_cookie &&
            !be_fb(b, req->op.set_config.fb_cookie)) {
            return -EINVAL;
        }
        c->config_fb = req->op.set_config.fb_cookie;
        return 0;
    case XENDISPL_OP_GET_EDID:
        return be_get_edid(b, &req->op.get_edid, &rsp->op.get_edid.edid_sz);
    case XENDISPL_OP_PG_FLIP:
        if (!c->config_fb) {
            return -EPERM;      /* as displ_be */
        }
        if (!be_fb(b, req->op.pg_flip.fb_cookie)) {
            return -EINVAL;
        }
        c->shown_fb = req->op.pg_flip.fb_cookie;
        c->nr_flips++;
        return 0;
    default:
        return -EINVAL;
    }
}

/* Answer requests for @ms milliseconds. */
static void be_serve(Backend *b, int ms)
{
    int64_t end = g_get_monotonic_time() + ms * 1000;
    struct pollfd pfd = { .fd = xenevtchn_fd(b->xe), .events = POLLIN };

    while (g_get_monotonic_time() < end) {
        RING_IDX rc, rp;
        int port, notify;
        uint64_t flipped = 0;
        BeConn *c = NULL;
        unsigned int i;

        if (poll(&pfd, 1, 5) <= 0) {
            continue;
        }
        port = xenevtchn_pending(b->xe);
        if (port < 0) {
            continue;
        }
        xenevtchn_unmask(b->xe, port);
        for (i = 0; i < b->nr_conn; i++) {
            if (port == (int)b->conn[i].req_port) {
                c = &b->conn[i];
            }
        }
        if (!c || b->drop_requests) {
            continue;
        }
        rc = c->ring.req_cons;
        rp = c->ring.sring->req_prod;
        xen_rmb();
        for (; rc != rp; rc++) {
            struct xendispl_req req;
            struct xendispl_resp *rsp;

            memcpy(&req, RING_GET_REQUEST(&c->ring, rc), sizeof(req));
            c->ring.req_cons = rc + 1;
            b->nr_requests[req.operation]++;
            b->last_request_ms = g_get_monotonic_time() / 1000;
            rsp = RING_GET_RESPONSE(&c->ring, c->ring.rsp_prod_pvt);
            memset(rsp, 0, sizeof(*rsp));
            rsp->id = req.id;
            rsp->operation = req.operation;
            rsp->status = be_handle(b, c, &req, rsp);
            if (req.operation == XENDISPL_OP_PG_FLIP && !rsp->status) {
                flipped = req.op.pg_flip.fb_cookie;
            }
            c->ring.rsp_prod_pvt++;
        }
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->ring, notify);
        if (notify) {
            xenevtchn_notify(b->xe, c->req_port);
        }
        if (flipped) {
            be_send_flip_event(b, c, flipped);
        }
    }
}

/* The pixels the backend shows now, as XRGB8888 rows of @stride bytes. */
static const uint8_t *be_shown_format(Backend *b, unsigned int conn,
                                      uint32_t *w, uint32_t *h,
                                      uint32_t *stride, uint32_t *format)
{
    BeFb *f = b->conn[conn].shown_fb ? be_fb(b, b->conn[conn].shown_fb) :
              NULL;
    BeDbuf *d = f ? be_dbuf(b, f->dbuf_cookie) : NULL;

    if (!d) {
        return NULL;
    }
    *format = f->format;
    *w = f->width;
    *h = f->height;
    *stride = displif_stride(d->width, d->bpp);
    return d->map;
}

/*
 * The guest: an emulated card in a linear 32 bpp VBE mode, drawn into
 * through its framebuffer BAR.
 */
typedef struct Guest {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;            /* the card, or NULL for ramfb */
    QPCIBar fb;
    QPCIBar mmio;
    QOSState *qs;               /* ramfb: guest memory and fw_cfg */
    uint64_t ram_fb;            /* ramfb: the framebuffer in guest RAM */
    uint32_t width, height;
    uint32_t bytepp;
    uint8_t *pixels;            /* what we drew */
    uint32_t conn_w, conn_h;    /* the connector's resolution */
    char fit[8];                /* the device's fit property */
} Guest;

/* The device's resolution= and fit= in @opts, else their defaults. */
static void guest_connector(Guest *g, const char *opts)
{
    const char *r = strstr(opts, "resolution=");
    const char *f = strstr(opts, "fit=");

    g->conn_w = 1024;
    g->conn_h = 768;
    if (r) {
        g_assert_cmpint(sscanf(r, "resolution=%ux%u", &g->conn_w,
                               &g->conn_h), ==, 2);
    }
    g_strlcpy(g->fit, "scale", sizeof(g->fit));
    if (f) {
        g_strlcpy(g->fit, f + 4,
                  MIN(sizeof(g->fit), strcspn(f + 4, ", ") + 1));
    }
}

#define GUEST_CARD_SLOT 5

static void guest_vbe(Guest *g, int index, uint16_t val)
{
    qpci_io_writew(g->dev, g->mmio, 0x500 + index * 2, val);
}

static void guest_start(Guest *g, const char *card, const char *extra)
{
    memset(g, 0, sizeof(*g));
    g->qts = qtest_initf("%s -M pc -nodefaults -display none "
                         "-device %s,id=card0,addr=%d.0 "
                         "-device xen-displfront,id=xdf0,display=card0%s",
                         extra_args(), card, GUEST_CARD_SLOT, extra);
    guest_connector(g, extra);
    g->bus = qpci_new_pc(g->qts, NULL);
    g->dev = qpci_device_find(g->bus, QPCI_DEVFN(GUEST_CARD_SLOT, 0));
    g_assert_nonnull(g->dev);
    qpci_device_enable(g->dev);
    g->fb = qpci_iomap(g->dev, 0, NULL);
    g->mmio = qpci_iomap(g->dev, 2, NULL);
    if (!strcmp(card, "VGA")) {
        /* what the BIOS does: let the attribute controller show video */
        qtest_outb(g->qts, 0x3c0, 0x20);
    }
}

static void guest_set_mode_bpp(Guest *g, uint32_t w, uint32_t h,
                               uint32_t bpp)
{
    guest_vbe(g, VBE_DISPI_INDEX_ENABLE, 0);
    guest_vbe(g, VBE_DISPI_INDEX_XRES, w);
    guest_vbe(g, VBE_DISPI_INDEX_YRES, h);
    guest_vbe(g, VBE_DISPI_INDEX_BPP, bpp);
    guest_vbe(g, VBE_DISPI_INDEX_VIRT_WIDTH, w);
    guest_vbe(g, VBE_DISPI_INDEX_X_OFFSET, 0);
    guest_vbe(g, VBE_DISPI_INDEX_Y_OFFSET, 0);
    guest_vbe(g, VBE_DISPI_INDEX_ENABLE,
              VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    g->width = w;
    g->height = h;
    g->bytepp = bpp / 8;
    g_free(g->pixels);
    g->pixels = g_malloc0((size_t)w * h * g->bytepp);
}

static void guest_set_mode(Guest *g, uint32_t w, uint32_t h)
{
    guest_set_mode_bpp(g, w, h, 32);
}

/* Fill a rectangle with a colour, in the guest's framebuffer. */
static void guest_fill(Guest *g, uint32_t x, uint32_t y, uint32_t w,
                       uint32_t h, uint32_t rgb)
{
    size_t len = (size_t)w * g->bytepp;
    g_autofree uint8_t *row = g_malloc(len);
    uint16_t rgb565 = (rgb >> 8 & 0xf800) | (rgb >> 5 & 0x07e0) |
                      (rgb >> 3 & 0x001f);
    uint32_t i;

    for (i = 0; i < w; i++) {
        if (g->bytepp == 2) {
            memcpy(row + i * 2, &rgb565, 2);
        } else {
            memcpy(row + i * 4, &rgb, 4);
        }
    }
    for (i = y; i < y + h; i++) {
        size_t off = ((size_t)i * g->width + x) * g->bytepp;

        if (g->dev) {
            qpci_memwrite(g->dev, g->fb, off, row, len);
        } else {
            qtest_memwrite(g->qts, g->ram_fb + off, row, len);
        }
        memcpy(g->pixels + off, row, len);
    }
}

static void guest_clear(Guest *g)
{
    guest_fill(g, 0, 0, g->width, g->height, 0);
}

/* Draw @n random frames: random rectangles of random colours. */
static void guest_draw_random(Guest *g, Backend *b, unsigned int n)
{
    unsigned int i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < 4; j++) {
            uint32_t x = g_test_rand_int_range(0, g->width - 1);
            uint32_t y = g_test_rand_int_range(0, g->height - 1);
            uint32_t w = g_test_rand_int_range(1, g->width - x + 1);
            uint32_t h = g_test_rand_int_range(1, MIN(g->height - y, 64) + 1);

            guest_fill(g, x, y, w, h, g_test_rand_int() & 0xffffff);
        }
        be_serve(b, 10);
    }
}

static void guest_stop(Guest *g)
{
    g_free(g->pixels);
    if (g->qs) {
        qtest_shutdown(g->qs);
        return;
    }
    qpci_free_pc(g->bus);
    g_free(g->dev);
    qtest_quit(g->qts);
}

/*
 * ramfb: the guest hands the framebuffer's place and format over fw_cfg
 * (etc/ramfb, big-endian) and draws into its own RAM.
 */
static void guest_start_ramfb(Guest *g, uint32_t w, uint32_t h)
{
    struct QEMU_PACKED {
        uint64_t addr;
        uint32_t fourcc, flags, width, height, stride;
    } cfg;
    QFWCFG *fw_cfg;

    memset(g, 0, sizeof(*g));
    g->qs = qtest_pc_boot("%s -nodefaults -display none "
                          "-device ramfb,id=card0 "
                          "-device xen-displfront,id=xdf0,display=card0,"
                          "resolution=%ux%u", extra_args(), w, h);
    g->qts = g->qs->qts;
    g->width = w;
    g->height = h;
    g->bytepp = 4;
    g->pixels = g_malloc0((size_t)w * h * 4);
    g->ram_fb = guest_alloc(&g->qs->alloc, (size_t)w * h * 4);
    cfg.addr = cpu_to_be64(g->ram_fb);
    cfg.fourcc = cpu_to_be32(FOURCC_XR24);
    cfg.flags = 0;
    cfg.width = cpu_to_be32(w);
    cfg.height = cpu_to_be32(h);
    cfg.stride = cpu_to_be32(w * 4);
    fw_cfg = pc_fw_cfg_init(g->qts);
    qfw_cfg_write_file(fw_cfg, g->qs, "etc/ramfb", &cfg, sizeof(cfg));
    pc_fw_cfg_uninit(fw_cfg);
}


/*
 * After the guest stopped drawing, the backend's displayed buffer must
 * equal the guest's framebuffer byte for byte.
 */
/* RGB565 as pixman widens it: the top bits repeat in the new low bits. */
static uint32_t rgb565_to_xrgb(uint16_t p)
{
    uint32_t r = p >> 11, g = p >> 5 & 0x3f, b = p & 0x1f;

    return (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
}

/* Is row @y as the backend shows it (in @format) what the guest drew? */
/*
 * What a @cw x @ch connector shows of an XRGB picture @src of @sw x @sh,
 * by the rule the fit property documents (recomputed here, not taken
 * from the device): scale keeps the aspect ratio at the largest size
 * that fits, centred, buffer pixel d showing picture pixel
 * (2d + 1) * s / 2D; center and crop are 1:1, centred or top left; the
 * rest is black.
 */
static uint32_t *fit_reference(const uint32_t *src, uint32_t sw, uint32_t sh,
                               uint32_t cw, uint32_t ch, const char *fit)
{
    uint32_t *out = g_new0(uint32_t, (size_t)cw * ch);
    uint32_t x, y;

    if ((sw == cw && sh == ch) || strcmp(fit, "scale")) {
        uint32_t w = MIN(sw, cw), h = MIN(sh, ch);
        uint32_t dx = 0, dy = 0, sx = 0, sy = 0;

        if (!strcmp(fit, "center")) {
            dx = (cw - w) / 2;
            dy = (ch - h) / 2;
            sx = (sw - w) / 2;
            sy = (sh - h) / 2;
        }
        for (y = 0; y < h; y++) {
            memcpy(out + (size_t)(dy + y) * cw + dx,
                   src + (size_t)(sy + y) * sw + sx, w * 4);
        }
    } else {
        uint64_t w, h, dx, dy;

        if ((uint64_t)cw * sh <= (uint64_t)ch * sw) {
            w = cw;
            h = MAX(1, (uint64_t)cw * sh / sw);
        } else {
            w = MAX(1, (uint64_t)ch * sw / sh);
            h = ch;
        }
        dx = (cw - w) / 2;
        dy = (ch - h) / 2;
        for (y = 0; y < h; y++) {
            uint64_t py = (2 * (uint64_t)y + 1) * sh / (2 * h);

            for (x = 0; x < w; x++) {
                uint64_t px = (2 * (uint64_t)x + 1) * sw / (2 * w);

                out[(dy + y) * cw + dx + x] = src[py * sw + px];
            }
        }
    }
    return out;
}

/* What the guest drew, as XRGB (RGB565 widened as pixman does). */
static uint32_t *guest_xrgb(Guest *g)
{
    uint32_t *px = g_new(uint32_t, (size_t)g->width * g->height);
    size_t i;

    for (i = 0; i < (size_t)g->width * g->height; i++) {
        if (g->bytepp == 2) {
            uint16_t p;

            memcpy(&p, g->pixels + i * 2, 2);
            px[i] = rgb565_to_xrgb(p);
        } else {
            memcpy(&px[i], g->pixels + i * 4, 4);
            px[i] &= 0xffffff;
        }
    }
    return px;
}

/*
 * Rows of connector @conn's shown frame (@w x @h, XRGB8888) that differ
 * from @ref; all of them when the frame is not there or of another size.
 */
static uint32_t rows_differing(Backend *b, unsigned int conn,
                               const uint32_t *ref, uint32_t w, uint32_t h,
                               uint32_t *bw, uint32_t *bh)
{
    uint32_t stride = 0, format = 0, x, y, bad = 0;
    const uint8_t *shown = be_shown_format(b, conn, bw, bh, &stride,
                                           &format);

    if (!shown || *bw != w || *bh != h) {
        return h;
    }
    g_assert_cmphex(format, ==, FOURCC_XR24);
    for (y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(shown + (size_t)y * stride);

        for (x = 0; x < w; x++) {
            if ((row[x] & 0xffffff) != ref[(size_t)y * w + x]) {
                bad++;
                break;
            }
        }
    }
    return bad;
}

/* Serve until the backend shows the guest's picture, fitted. */
static void assert_backend_shows(Backend *b, Guest *g)
{
    int64_t end = g_get_monotonic_time() + BE_TIMEOUT_MS * 1000;
    g_autofree uint32_t *drawn = guest_xrgb(g);
    g_autofree uint32_t *ref = fit_reference(drawn, g->width, g->height,
                                             g->conn_w, g->conn_h, g->fit);
    uint32_t bad, w = 0, h = 0;

    for (;;) {
        be_serve(b, 100);
        bad = rows_differing(b, 0, ref, g->conn_w, g->conn_h, &w, &h);
        if (!bad || g_get_monotonic_time() > end) {
            break;
        }
    }
    if (bad) {
        g_error("backend shows %ux%u with %u rows differing from the guest's "
                "%ux%u fitted (%s) into %ux%u (%u flips)", w, h, bad,
                g->width, g->height, g->fit, g->conn_w, g->conn_h,
                b->conn[0].nr_flips);
    }
}

/* The third card: ramfb, random frames drawn into guest RAM. */
/*
 * A guest on bochs-display at 640x480, the connector's size, connected to
 * @b (opened already) and showing @n frames of random drawing; @extra
 * goes after the device's options on QEMU's command line.
 */
static void guest_show_random_with(Guest *g, Backend *b, unsigned int n,
                                   const char *extra)
{
    g_autofree char *opts = g_strdup_printf(",resolution=640x480 %s", extra);

    guest_start(g, "bochs-display", opts);
    be_connect(b);
    guest_set_mode(g, 640, 480);
    guest_clear(g);
    guest_draw_random(g, b, n);
    assert_backend_shows(b, g);
}

static void guest_show_random(Guest *g, Backend *b, unsigned int n)
{
    guest_show_random_with(g, b, n, "");
}

static void test_frames_ramfb(void)
{
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_start_ramfb(&g, 640, 480);
    be_connect(&b);
    guest_clear(&g);
    guest_draw_random(&g, &b, 20);
    assert_backend_shows(&b, &g);
    guest_stop(&g);
    be_close(&b);
}

typedef struct FramesCase {
    const char *card;
    const char *options;
} FramesCase;

static void test_frames(gconstpointer opaque)
{
    const FramesCase *fc = opaque;
    g_autofree char *opts = g_strdup_printf(",resolution=640x480%s",
                                            fc->options);
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_start(&g, fc->card, opts);
    be_connect(&b);
    guest_set_mode(&g, 640, 480);
    guest_clear(&g);
    assert_backend_shows(&b, &g);
    g_assert_cmpuint(b.nr_requests[XENDISPL_OP_DBUF_CREATE], >=, 2);
    g_assert_cmpuint(b.nr_requests[XENDISPL_OP_SET_CONFIG], >=, 1);

    guest_draw_random(&g, &b, 20);
    assert_backend_shows(&b, &g);
    g_assert_cmpuint(b.conn[0].nr_flips, >=, 2);

    /* mode change: the same buffers, the picture fitted into them */
    guest_set_mode(&g, 800, 600);
    guest_clear(&g);
    guest_draw_random(&g, &b, 5);
    assert_backend_shows(&b, &g);
    g_assert_cmpuint(b.nr_requests[XENDISPL_OP_DBUF_CREATE], ==, 2);
    g_assert_cmpuint(b.nr_requests[XENDISPL_OP_SET_CONFIG], ==, 1);

    guest_stop(&g);
    /* the device closed and removed the nodes it wrote */
    g_assert_null(be_read(&b, b.fe_path, "state"));
    be_close(&b);
}

/*
 * Read a screendump (binary PPM, P6 maxval 255) into XRGB8888 pixels.
 */
static uint32_t *read_ppm(const char *path, uint32_t *w, uint32_t *h)
{
    g_autofree char *data = NULL;
    unsigned int maxval;
    uint32_t *px, i;
    size_t len;
    int off = 0;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_assert_cmpint(sscanf(data, "P6 %u %u %u%n", w, h, &maxval, &off), ==,
                    3);
    g_assert_cmpuint(maxval, ==, 255);
    off++;                      /* the single blank after maxval */
    g_assert_cmpuint(len, >=, off + (size_t)*w * *h * 3);
    px = g_new(uint32_t, (size_t)*w * *h);
    for (i = 0; i < *w * *h; i++) {
        const uint8_t *rgb = (const uint8_t *)data + off + i * 3;

        px[i] = rgb[0] << 16 | rgb[1] << 8 | rgb[2];
    }
    return px;
}

/*
 * Serve until connector @conn shows what QEMU's screendump of head
 * @head of @card gives, fitted into the connector (fit=scale), pixel for
 * pixel, and that is not blank.
 */
static void assert_shows_screendump(QTestState *qts, Backend *b,
                                    unsigned int conn, const char *card,
                                    unsigned int head)
{
    g_autofree char *dump = NULL;
    g_autofree char *res_node = g_strdup_printf("%u/resolution", conn);
    g_autofree char *res = be_read(b, b->fe_path, res_node);
    int64_t end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    bool blank = true;
    uint32_t w = 0, h = 0, bw = 0, bh = 0, cw, ch, bad = 1, i;
    int fd;

    g_assert_nonnull(res);
    g_assert_cmpint(sscanf(res, "%ux%u", &cw, &ch), ==, 2);
    fd = g_file_open_tmp("xdf-dump-XXXXXX.ppm", &dump, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    while ((bad || blank) && g_get_monotonic_time() < end) {
        g_autofree uint32_t *shot = NULL;
        g_autofree uint32_t *ref = NULL;

        be_serve(b, 300);
        qtest_qmp_assert_success(qts, "{'execute': 'screendump', "
                                 "'arguments': {'filename': %s, "
                                 "'device': %s, 'head': %u}}",
                                 dump, card, head);
        shot = read_ppm(dump, &w, &h);
        blank = true;
        for (i = 0; i < w * h; i++) {
            blank = blank && !shot[i];
        }
        ref = fit_reference(shot, w, h, cw, ch, "scale");
        bad = rows_differing(b, conn, ref, cw, ch, &bw, &bh);
    }
    unlink(dump);
    if (bad || blank) {
        g_error("connector %u: backend shows %ux%u, screendump of %s head "
                "%u is %ux%u fitted into %ux%u, %s", conn, bw, bh, card,
                head, w, h, cw, ch, bad ? "rows differ" : "but blank");
    }
}

/*
 * The firmware (SeaBIOS and the card's VGA BIOS, run by TCG) draws its
 * banner, in text mode on VGA, cirrus and virtio-vga and in a linear
 * framebuffer on bochs-display and ramfb.  What the backend shows must
 * equal, pixel for pixel, what QEMU's screendump of that console gives,
 * and not be blank.
 */
static void test_firmware(gconstpointer card)
{
    Backend b;
    QTestState *qts;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    qts = qtest_initf("%s -M pc -accel tcg -nodefaults -display none "
                      "-device %s,id=card0 "
                      "-device xen-displfront,id=xdf0,display=card0",
                      extra_args(), (const char *)card);
    be_connect(&b);
    assert_shows_screendump(qts, &b, 0, "card0", 0);
    qtest_quit(qts);
    be_close(&b);
}

/*
 * Two connectors on a two-head card: each has its own rings and shows
 * its own head (virtio-gpu's "not initialized" screens, without a
 * guest driver), while buffers are set up on connector 0's ring.
 */
static void test_two_connectors(void)
{
    Backend b;
    QTestState *qts;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    qts = qtest_initf("%s -M pc -nodefaults -display none "
                      "-device virtio-gpu-pci,id=card0,max_outputs=2 "
                      "-device xen-displfront,id=xdf0,display=card0,"
                      "connectors=2,resolution=800x600", extra_args());
    be_connect(&b);
    g_assert_cmpuint(b.nr_conn, ==, 2);
    assert_shows_screendump(qts, &b, 0, "card0", 0);
    assert_shows_screendump(qts, &b, 1, "card0", 1);
    g_assert_cmpuint(b.conn[0].nr_flips, >=, 1);
    g_assert_cmpuint(b.conn[1].nr_flips, >=, 1);
    g_assert_cmpuint(b.conn[0].shown_fb, !=, b.conn[1].shown_fb);
    qtest_quit(qts);
    be_close(&b);
}

/*
 * GET_EDID (protocol version 2): sent once per connector when the
 * backend offers version 2, not at all with version 1; a backend that
 * answers -EINVAL costs nothing.  Frames flow in every case.
 */
static void test_edid(gconstpointer opaque)
{
    const char *mode = opaque;
    g_autofree char *version = NULL;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    b.versions = strcmp(mode, "v1") ? "1,2" : "1";
    b.edid_status = strcmp(mode, "einval") ? 0 : -EINVAL;
    b.edid_width = 1280;
    b.edid_height = 720;
    guest_start(&g, "bochs-display", ",resolution=1280x720");
    be_connect(&b);
    guest_set_mode(&g, 640, 480);
    guest_clear(&g);
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    g_assert_cmpuint(b.nr_requests[XENDISPL_OP_GET_EDID], ==,
                     strcmp(mode, "v1") ? 1 : 0);
    version = be_read(&b, b.fe_path, XENDISPL_FIELD_FE_VERSION);
    g_assert_cmpstr(version, ==, strcmp(mode, "v1") ? "2" : "1");
    guest_stop(&g);
    be_close(&b);
}

/*
 * A 16 bpp guest mode: the buffers are XRGB8888 whatever the guest's
 * format, converted while copying, so a backend that takes only XRGB8888
 * (displ_be under weston) and one that would take RGB565 both get
 * XRGB8888, with no refused FB_ATTACH.
 */
static void test_format(gconstpointer opaque)
{
    bool xrgb_only = !strcmp(opaque, "convert");
    QDict *rsp;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    b.xrgb_only = xrgb_only;
    guest_start(&g, "bochs-display", ",resolution=640x480");
    be_connect(&b);
    guest_set_mode_bpp(&g, 640, 480, 16);
    guest_clear(&g);
    guest_draw_random(&g, &b, 10);
    assert_backend_shows(&b, &g);
    g_assert_cmphex(b.last_format, ==, FOURCC_XR24);
    rsp = qtest_qmp(g.qts, "{'execute': 'qom-get', 'arguments': "
                    "{'path': '/machine/peripheral/xdf0', "
                    "'property': 'state'}}");
    g_assert_cmpstr(qdict_get_str(rsp, "return"), ==,
                    "XenbusStateConnected");
    qobject_unref(rsp);
    guest_stop(&g);
    be_close(&b);
}

/*
 * What Xen holds (xensim's tables: ports, grants, mappings), as
 * xensim-stat prints it; NULL when not on xensim.
 */
static char *xen_resources(void)
{
    g_autofree char *out = NULL;
    const char *argv[] = { "xensim-stat", NULL };

    if (!g_getenv("XENSIM_SOCKET")) {
        return NULL;
    }
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, &out, NULL, NULL, NULL));
    return g_strstrip(g_strdup(out));
}

#define VDISPL_FE "/local/domain/0/device/vdispl"
#define VDISPL_BE "/local/domain/0/backend/vdispl/0"
#define VKBD_FE "/local/domain/0/device/vkbd"
/* the device's own vkbd backend directories, as libxl's for vkb= */
#define VINPUT_BE "/local/domain/0/backend/vinput/0"
#define VKBD_BE "/local/domain/0/backend/vkbd/0"

static char *qom_get_str(QTestState *qts, const char *path, const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': "
                           "{'path': %s, 'property': %s}}", path, prop);
    char *val = g_strdup(qdict_get_str(rsp, "return"));

    qobject_unref(rsp);
    return val;
}

/* @dir/@node reads @val (NULL: the node is absent). */
static void assert_node(Backend *b, const char *dir, const char *node,
                        const char *val)
{
    g_autofree char *cur = be_read(b, dir, node);

    if (g_strcmp0(cur, val)) {
        g_error("%s/%s is '%s', expected '%s'", dir, node,
                cur ? cur : "(absent)", val ? val : "(absent)");
    }
}

/* A new temporary file for QEMU's stderr (2>path); its path. */
static char *stderr_file(void)
{
    char *path = NULL;
    int fd = g_file_open_tmp("xdf-stderr-XXXXXX.log", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    return path;
}

/* What QEMU wrote into stderr_file() @path; the file goes. */
static char *stderr_read(const char *path)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);
    if (g_test_verbose()) {
        g_printerr("QEMU said: %s", text);
    }
    return text;
}

/* How many entries XenStore directory @dir has (0 if it is absent). */
static unsigned int xs_count(Backend *b, const char *dir)
{
    unsigned int n = 0;
    char **dirs = xs_directory(b->xs, XBT_NULL, dir, &n);

    free(dirs);
    return dirs ? n : 0;
}

/*
 * A toolstack wrote the vdispl nodes (xl.cfg vdispl=): the device takes
 * be-alloc and the resolution from there, leaves them alone and
 * removes nothing when QEMU quits; it only says Closed.
 */
static void test_toolstack(void)
{
    const char *fe = "/local/domain/0/device/vdispl/0";
    const char *be = "/local/domain/0/backend/vdispl/0/0";
    g_autofree char *res = NULL;
    g_autofree char *state = NULL;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    be_write(&b, fe, "backend", be);
    be_write(&b, fe, "backend-id", "0");
    be_write(&b, fe, "be-alloc", "1");
    be_write(&b, fe, "0/resolution", "800x600");
    be_write(&b, fe, "0/unique-id", "toolstack-conn");
    be_write(&b, be, "frontend", fe);
    be_write(&b, be, "frontend-id", "0");
    be_write(&b, be, "online", "1");
    be_write(&b, be, "state", "1");

    guest_start(&g, "bochs-display", ",resolution=1920x1080");
    /* the toolstack's resolution rules */
    g.conn_w = 800;
    g.conn_h = 600;
    be_connect(&b);
    guest_set_mode(&g, 800, 600);
    guest_clear(&g);
    guest_draw_random(&g, &b, 5);
    assert_backend_shows(&b, &g);
    g_assert_true(b.dbuf[0].allocated || b.dbuf[1].allocated);
    res = be_read(&b, fe, "0/resolution");
    g_assert_cmpstr(res, ==, "800x600");
    guest_stop(&g);

    state = be_read(&b, fe, "state");
    g_assert_cmpstr(state, ==, "6");
    g_assert_true(xs_rm(b.xs, XBT_NULL, fe));
    g_assert_true(xs_rm(b.xs, XBT_NULL, be));
    be_close(&b);
}

/*
 * Toolstack directories the device cannot serve: one whose nodes are not
 * what displif says, one whose backend is another domain's.  Asked for
 * by dev-id, each is refused by name; dev-id=auto leaves them to their
 * toolstack, says why, and takes the next index.
 */
static void test_toolstack_bad(void)
{
    const char *fe0 = VDISPL_FE "/0", *be0 = VDISPL_BE "/0";
    const char *fe1 = VDISPL_FE "/1", *be1 = VDISPL_BE "/1";
    g_autofree char *errlog = stderr_file();
    g_autofree char *err = NULL;
    g_autofree char *id = NULL;
    QTestState *qts;
    Backend b;
    QemuRun r;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    be_write(&b, fe0, "backend", be0);
    be_write(&b, fe0, "0/resolution", "800x0");
    be_write(&b, fe1, "backend", "/local/domain/7/backend/vdispl/0/1");
    be_write(&b, fe1, "0/resolution", "800x600");
    be_write(&b, be1, "state", "1");

    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,display=v,dev-id=0");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, "dev-id 0: /local/domain/0/device/vdispl/"
                            "0/0/resolution is '800x0', not a resolution"));
    qemu_run_free(&r);
    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,display=v,dev-id=1");
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, "check backend-domid and "
                            "frontend-domid"));
    qemu_run_free(&r);

    qts = qtest_initf("%s -M pc -nodefaults -display none -device VGA,id=v "
                      "-device xen-displfront,id=x,display=v 2>%s",
                      extra_args(), errlog);
    id = qom_get_str(qts, "/machine/peripheral/x", "dev-id");
    g_assert_cmpstr(id, ==, "2");
    qtest_quit(qts);
    err = stderr_read(errlog);
    g_assert_nonnull(strstr(err, "xen-displfront 'x': leaving vdispl/0 to "
                            "its toolstack: " VDISPL_FE "/0/0/resolution is "
                            "'800x0', not a resolution"));
    g_assert_nonnull(strstr(err, "xen-displfront 'x': leaving vdispl/1 to "
                            "its toolstack: " VDISPL_FE "/1/backend is "
                            "'/local/domain/7/backend/vdispl/0/1', not '"
                            VDISPL_BE "/1': check backend-domid"));
    /* left as they were */
    assert_node(&b, fe0, "0/resolution", "800x0");
    assert_node(&b, fe1, "owner", NULL);
    assert_node(&b, be1, "state", "1");
    assert_node(&b, VDISPL_FE, "2", NULL);

    g_assert_true(xs_rm(b.xs, XBT_NULL, fe0));
    g_assert_true(xs_rm(b.xs, XBT_NULL, fe1));
    g_assert_true(xs_rm(b.xs, XBT_NULL, be1));
    be_close(&b);
}

typedef enum Misbehaviour {
    BE_RESTART,             /* backend process restarts */
    BE_CLOSE,               /* backend goes Closing, then comes back */
    BE_TIMEOUT,             /* backend stops answering */
    BE_RSP_PROD,            /* more responses than requests */
    BE_IN_PROD,             /* more events than the event ring holds */
    BE_COOKIE,              /* frame-done event for no framebuffer */
} Misbehaviour;

static void be_misbehave(Backend *b, Guest *g, Misbehaviour m)
{
    BeConn *c = &b->conn[0];
    struct xendispl_event_page *page = c->evt_page;

    switch (m) {
    case BE_RESTART:
        /* the old process is gone; a new one starts from InitWait */
        be_close(b);
        be_open(b, 0);
        be_write(b, b->be_path, "state", "2");
        return;
    case BE_CLOSE:
        be_write(b, b->be_path, "state", "5");
        be_wait_node(b, b->fe_path, "state", "1");
        return;
    case BE_TIMEOUT:
        b->drop_requests = true;
        guest_fill(g, 0, 0, 8, 8, 0x123456);    /* makes it flip */
        be_serve(b, 500);
        /* the device gives up after 3000 ms */
        break;
    case BE_RSP_PROD:
        c->ring.sring->rsp_prod = c->ring.rsp_prod_pvt + 5;
        xenevtchn_notify(b->xe, c->req_port);
        break;
    case BE_IN_PROD:
        page->in_prod = page->in_cons + XENDISPL_IN_RING_LEN + 1;
        xenevtchn_notify(b->xe, c->evt_port);
        break;
    case BE_COOKIE:
        be_send_flip_event(b, c, 0xdeadbeefULL);
        break;
    }
    /* the device closes the connection, QEMU stays up */
    be_wait_node(b, b->fe_path, "state", "6");
    g_assert_true(qtest_qom_get_bool(g->qts, "/machine/peripheral/xdf0",
                                     "realized"));
    b->drop_requests = false;
    /* a backend that recovers: Closed, then InitWait again */
    be_write(b, b->be_path, "state", "6");
    be_wait_node(b, b->fe_path, "state", "1");
}

/*
 * A backend that goes away, restarts or breaks the protocol costs its
 * connection, never QEMU; once it is back, the picture resumes with no
 * help from the guest and the final frame is exact.
 */
static void test_misbehave(gconstpointer opaque)
{
    Misbehaviour m = GPOINTER_TO_INT(opaque);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_show_random(&g, &b, 5);

    before = xen_resources();
    be_misbehave(&b, &g, m);
    be_unmap_all(&b);
    /* what the guest draws while no backend listens is not lost */
    guest_fill(&g, 10, 10, 100, 100, 0xff0000);
    if (m == BE_RESTART) {
        be_attach(&b);          /* it wrote InitWait already */
    } else {
        be_connect(&b);
    }
    guest_draw_random(&g, &b, 5);
    assert_backend_shows(&b, &g);
    /* the same ports, grants and mappings as before: nothing leaked */
    after = xen_resources();
    g_assert_cmpstr(after, ==, before);

    guest_stop(&g);
    be_close(&b);
}

/*
 * device_del: the device closes the connection (Closing, Closed), gives
 * back every port, grant and mapping and removes the nodes it wrote,
 * while QEMU and the guest go on; device_add brings a new one that
 * connects and shows what the guest drew meanwhile.
 */
static void test_unplug(void)
{
    g_autofree char *before = NULL, *after = NULL;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    before = xen_resources();
    guest_show_random(&g, &b, 5);

    qtest_qmp_device_del(g.qts, "xdf0");
    g_assert_null(be_read(&b, b.fe_path, "state"));
    g_assert_null(be_read(&b, b.be_path, "state"));
    be_unmap_all(&b);
    after = xen_resources();
    g_assert_cmpstr(after, ==, before);

    guest_fill(&g, 10, 10, 100, 100, 0x00ff00);
    qtest_qmp_device_add(g.qts, "xen-displfront", "xdf1",
                         "{'display': 'card0', 'resolution': '640x480'}");
    be_connect(&b);
    assert_backend_shows(&b, &g);
    guest_draw_random(&g, &b, 5);
    assert_backend_shows(&b, &g);

    guest_stop(&g);
    be_close(&b);
}

/*
 * After the @k-th failed connection in a row: back to InitWait, and the
 * device takes at least 100 ms << @k before it publishes its rings again;
 * then connect.
 */
static void be_reconnect_after_backoff(Backend *b, int k)
{
    int64_t t0, waited_ms;

    be_unmap_all(b);
    t0 = g_get_monotonic_time();
    be_write(b, b->be_path, "state", "2");
    be_wait_node(b, b->fe_path, "state", "3");
    waited_ms = (g_get_monotonic_time() - t0) / 1000;
    g_assert_cmpint(waited_ms, >=, (100 << k) * 9 / 10);
    be_attach(b);
}

/*
 * A backend that breaks the protocol every time it is connected: the
 * device closes each connection, and waits longer before each new one
 * (100 ms, doubling), instead of reconnecting in a busy loop.
 */
static void test_backoff(void)
{
    Backend b;
    Guest g;
    int k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_show_random(&g, &b, 0);

    for (k = 0; k < 4; k++) {
        be_misbehave(&b, &g, BE_RSP_PROD);
        be_reconnect_after_backoff(&b, k);
    }
    /* a connection that works ends the backoff */
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);

    guest_stop(&g);
    be_close(&b);
}

/* QOM property @prop of @path, a struct. */
static QDict *qom_get_dict(QTestState *qts, const char *path,
                           const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': "
                           "{'path': %s, 'property': %s}}", path, prop);
    QDict *val = qdict_get_qdict(rsp, "return");

    g_assert_nonnull(val);
    qobject_ref(val);
    qobject_unref(rsp);
    return val;
}

/* The "figures" of device xdf0, and of its connector 0 (in *@c0). */
static QDict *figures(Guest *g, QDict **c0)
{
    QDict *fig = qom_get_dict(g->qts, "/machine/peripheral/xdf0", "figures");
    QList *conns = qdict_get_qlist(fig, "connectors");

    g_assert_cmpuint(qlist_size(conns), ==, 1);
    *c0 = qobject_to(QDict, qlist_peek(conns));
    return fig;
}

/*
 * The live figures follow what happened: frames flipped, request round
 * trips, the refresh, connections and the error that ended one.
 */
static void test_figures(void)
{
    QDict *fig, *c0;
    uint64_t frames;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_show_random(&g, &b, 5);
    fig = figures(&g, &c0);
    g_assert_cmpstr(qdict_get_str(fig, "state"), ==,
                    "XenbusStateConnected");
    g_assert_cmpint(qdict_get_int(fig, "backend-domid"), ==, 0);
    g_assert_cmpint(qdict_get_int(fig, "connections"), ==, 1);
    g_assert_cmpint(qdict_get_int(fig, "reconnects"), ==, 0);
    g_assert_cmpstr(qdict_get_str(fig, "last-error"), ==, "");
    g_assert_cmpint(qdict_get_int(c0, "width"), ==, 640);
    g_assert_cmpint(qdict_get_int(c0, "height"), ==, 480);
    /* every frame the backend saw was flipped, and counted */
    frames = qdict_get_int(c0, "frames");
    g_assert_cmpuint(frames, >=, b.conn[0].nr_flips);
    g_assert_cmpuint(b.conn[0].nr_flips, >=, 5);
    g_assert_cmpuint(qdict_get_int(c0, "refreshes"), >=, frames);
    g_assert_cmpuint(qdict_get_int(c0, "request-us-last"), >, 0);
    g_assert_cmpuint(qdict_get_int(c0, "request-us-worst"), >=,
                     qdict_get_int(c0, "request-us-last"));
    g_assert_cmpuint(qdict_get_int(c0, "copy-us-total"), >=,
                     qdict_get_int(c0, "copy-us-last"));
    g_assert_cmpint(qdict_get_int(c0, "frame-period-us"), ==, 16667);
    g_assert_cmpint(qdict_get_int(c0, "refresh-ms"), >=, 16);
    g_assert_cmpint(qdict_get_int(c0, "refresh-ms"), <=, 1000);
    qobject_unref(fig);

    /* a broken backend: its error; the next connection counts */
    be_misbehave(&b, &g, BE_RSP_PROD);
    be_reconnect_after_backoff(&b, 0);
    guest_draw_random(&g, &b, 2);
    assert_backend_shows(&b, &g);
    fig = figures(&g, &c0);
    g_assert_cmpint(qdict_get_int(fig, "connections"), ==, 2);
    g_assert_cmpint(qdict_get_int(fig, "reconnects"), ==, 1);
    g_assert_nonnull(strstr(qdict_get_str(fig, "last-error"),
                            "backend set rsp_prod"));
    g_assert_cmpuint(qdict_get_int(c0, "frames"), >, frames);
    qobject_unref(fig);

    guest_stop(&g);
    be_close(&b);
}

/*
 * The preferred mode of the EDID @g's card serves (std VGA and
 * bochs-display: at the start of BAR 2), once it is @w x @h: the device
 * tells the card in QEMU's main loop, a moment after realize.
 */
static void assert_card_prefers(Guest *g, uint32_t w, uint32_t h)
{
    int64_t end = g_get_monotonic_time() + BE_TIMEOUT_MS * 1000;
    uint8_t edid[128];
    uint32_t pw = 0, ph = 0;
    unsigned int i;

    do {
        for (i = 0; i < sizeof(edid); i++) {
            edid[i] = qpci_io_readb(g->dev, g->mmio, i);
        }
        g_assert_cmpint(displif_edid_preferred(edid, sizeof(edid), &pw, &ph),
                        ==, 0);
        if (pw == w && ph == h) {
            return;
        }
        g_usleep(10 * 1000);
    } while (g_get_monotonic_time() < end);
    g_error("the card's EDID prefers %ux%u, not the connector's %ux%u", pw,
            ph, w, h);
}

/*
 * The connector is the guest's monitor: std VGA's and bochs-display's
 * EDID prefer its mode, whatever the cards' own default (1280x800).
 */
static void test_edid_preferred(gconstpointer opaque)
{
    const char *card = opaque;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    guest_start(&g, card, ",resolution=1920x1080");
    assert_card_prefers(&g, 1920, 1080);
    guest_stop(&g);

    guest_start(&g, card, ",resolution=800x600");
    assert_card_prefers(&g, 800, 600);
    guest_stop(&g);
}

/*
 * A connector larger than the card's video memory holds at 32 bpp: the
 * guest is offered the largest mode of its shape that fits, and QEMU
 * says which property to raise, once.
 */
static void test_edid_vram(void)
{
    g_autofree char *errlog = stderr_file();
    g_autofree char *extra = g_strdup_printf(",resolution=2560x1600 2>%s",
                                             errlog);
    g_autofree char *err = NULL;
    QTestState *qts;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    memset(&g, 0, sizeof(g));
    qts = qtest_initf("%s -M pc -nodefaults -display none "
                      "-device VGA,id=card0,addr=%d.0,vgamem_mb=8 "
                      "-device xen-displfront,id=xdf0,display=card0%s",
                      extra_args(), GUEST_CARD_SLOT, extra);
    g.qts = qts;
    g.bus = qpci_new_pc(qts, NULL);
    g.dev = qpci_device_find(g.bus, QPCI_DEVFN(GUEST_CARD_SLOT, 0));
    qpci_device_enable(g.dev);
    g.mmio = qpci_iomap(g.dev, 2, NULL);
    assert_card_prefers(&g, 1824, 1140);
    qpci_free_pc(g.bus);
    g_free(g.dev);
    qtest_quit(qts);
    err = stderr_read(errlog);
    g_assert_nonnull(strstr(err, "xen-displfront 'xdf0': connector 0: the "
                            "card's video memory (8 MiB) cannot hold "
                            "2560x1600 at 32 bpp: offering the guest "
                            "1824x1140 (raise the card's vgamem_mb to at "
                            "least 16 MiB)"));
    g_assert_null(strstr(strstr(err, "cannot hold") + 1, "cannot hold"));
}

/* A backend in domain @be_domid, as xensim lets a process choose. */
static void be_open_in(Backend *b, unsigned int be_domid,
                       unsigned int dev_id)
{
    g_autofree char *domid = g_strdup_printf("%u", be_domid);

    g_setenv("XENSIM_DOMID", domid, true);
    be_open(b, dev_id);
    g_unsetenv("XENSIM_DOMID");
    g_free(b->be_path);
    b->be_path = g_strdup_printf("/local/domain/%u/backend/vdispl/0/%u",
                                 be_domid, dev_id);
}

static void qom_set_uint(QTestState *qts, const char *path, const char *prop,
                         uint64_t val)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-set', 'arguments': "
                           "{'path': %s, 'property': %s, 'value': %ld}}",
                           path, prop, (long)val);

    g_assert_false(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
}

/*
 * qom-set backend-domid on a running device moves its screen: the old
 * backend sees Closing and Closed and its directories go, the new one
 * shows the current picture as soon as it connects, input follows, and
 * Xen holds what one connection holds, no more.
 */
static void test_backend_move(void)
{
    const char *vinput7 = "/local/domain/7/backend/vinput/0";
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *be = NULL;
    QDict *fig, *c0, *err;
    Backend a, b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&a, 0);
    be_open_in(&b, 7, 0);
    guest_start(&g, "bochs-display", ",resolution=640x480,input=on");
    be_connect(&a);
    guest_set_mode(&g, 640, 480);
    guest_clear(&g);
    guest_draw_random(&g, &a, 3);
    assert_backend_shows(&a, &g);
    g_assert_cmpuint(xs_count(&a, VINPUT_BE), ==, 1);
    before = xen_resources();

    qom_set_uint(g.qts, "/machine/peripheral/xdf0", "backend-domid", 7);
    /* nothing left at the old backend */
    g_assert_null(be_read(&a, a.be_path, "state"));
    g_assert_cmpuint(xs_count(&a, VINPUT_BE), ==, 0);
    be_unmap_all(&a);
    /* the new one: the same frontend directory, pointing at it */
    be = be_read(&b, b.fe_path, "backend");
    g_assert_cmpstr(be, ==, b.be_path);
    assert_node(&b, b.fe_path, "backend-id", "7");
    g_assert_cmpuint(xs_count(&b, vinput7), ==, 1);
    be_connect(&b);
    assert_backend_shows(&b, &g);           /* without a new frame */
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    after = xen_resources();
    g_assert_cmpstr(after, ==, before);
    fig = figures(&g, &c0);
    g_assert_cmpint(qdict_get_int(fig, "backend-domid"), ==, 7);
    g_assert_cmpint(qdict_get_int(fig, "connections"), ==, 2);
    qobject_unref(fig);

    /* and back, and nowhere */
    qom_set_uint(g.qts, "/machine/peripheral/xdf0", "backend-domid", 0);
    g_assert_null(be_read(&b, b.be_path, "state"));
    g_assert_cmpuint(xs_count(&b, vinput7), ==, 0);
    be_unmap_all(&b);
    be_connect(&a);
    assert_backend_shows(&a, &g);
    err = qtest_qmp_assert_failure_ref(
        g.qts, "{'execute': 'qom-set', 'arguments': {'path': "
        "'/machine/peripheral/xdf0', 'property': 'backend-domid', "
        "'value': 32752}}");
    g_assert_cmpstr(qdict_get_str(err, "desc"), ==, "backend-domid 32752 "
                    "is not a domain id (0 to 32751)");
    qobject_unref(err);
    assert_backend_shows(&a, &g);           /* still there */

    guest_stop(&g);
    be_close(&a);
    be_close(&b);
}

/*
 * A backend that goes Connected and then Closing before it has answered
 * anything (SET_CONFIG never came): each such connection counts as a
 * failure, so each reconnect waits longer.
 */
static void test_backoff_closing(void)
{
    Backend b;
    Guest g;
    int k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_start(&g, "bochs-display", ",resolution=640x480");
    be_connect(&b);
    for (k = 0; k < 4; k++) {
        be_write(&b, b.be_path, "state", "5");
        be_wait_node(&b, b.fe_path, "state", "1");
        be_reconnect_after_backoff(&b, k);
    }
    /* a connection that works ends the backoff */
    guest_set_mode(&g, 640, 480);
    guest_clear(&g);
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);

    guest_stop(&g);
    be_close(&b);
}

/*
 * A backend that connects cleanly -- every request answered, frames
 * shown -- and then closes, again and again: each connection that ends
 * this soon after it started counts as a failure, so each reconnect
 * waits longer, however clean the handshake.
 */
static void test_backoff_churn(void)
{
    Backend b;
    Guest g;
    int k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_show_random(&g, &b, 1);
    for (k = 0; k < 4; k++) {
        be_write(&b, b.be_path, "state", "5");
        be_wait_node(&b, b.fe_path, "state", "1");
        be_reconnect_after_backoff(&b, k);
        guest_draw_random(&g, &b, 1);
        assert_backend_shows(&b, &g);
    }
    guest_stop(&g);
    be_close(&b);
}

/*
 * QEMU options that log trace events @events (',' between them) into a
 * new file (*@log); the string is the test's until the next call.
 */
static const char *trace_to_file(const char *events, char **log)
{
    static char *opts;
    g_auto(GStrv) names = g_strsplit(events, ",", -1);
    GString *str = g_string_new(NULL);
    int fd = g_file_open_tmp("xdf-trace-XXXXXX.log", log, NULL);
    unsigned int i;

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    for (i = 0; names[i]; i++) {
        g_string_append_printf(str, "-trace enable=%s ", names[i]);
    }
    g_string_append_printf(str, "-D %s", *log);
    g_free(opts);
    opts = g_string_free(str, false);
    return opts;
}

/* What trace_to_file()'s @log holds; the file goes. */
static char *trace_read(const char *log)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    return text;
}

/*
 * A guest that changes thousands of separate rows per frame (a 1024x4000
 * mode, every other 4 KiB row: every other page dirty) makes thousands
 * of rectangles of damage; past a few the device merges them into their
 * bounding box, so that each flip copies a handful of rectangles (the
 * trace of every flip says how many) and the picture is still exact.
 */
static void test_damage_bounded(void)
{
    g_autofree char *log = NULL;
    g_autofree char *opts = NULL;
    g_autofree char *text = NULL;
    g_autofree uint8_t *row = g_malloc(1024 * 4);
    g_auto(GStrv) lines = NULL;
    unsigned int flips = 0, most = 0, i, y;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    opts = g_strdup_printf(",resolution=1024x4000 %s",
                           trace_to_file("xen_displfront_flip", &log));
    be_open(&b, 0);
    guest_start(&g, "bochs-display,vgamem=32M", opts);
    be_connect(&b);
    guest_set_mode(&g, 1024, 4000);     /* VRAM starts black, as we do */
    assert_backend_shows(&b, &g);
    for (i = 0; i < 3; i++) {
        for (y = i % 2; y < 4000; y += 2) {
            uint32_t x;

            for (x = 0; x < 1024; x++) {
                uint32_t px = (x * 7 + y * 13 + i * 101) & 0xffffff;

                memcpy(row + x * 4, &px, 4);
            }
            qpci_memwrite(g.dev, g.fb, (size_t)y * 1024 * 4, row, 1024 * 4);
            memcpy(g.pixels + (size_t)y * 1024 * 4, row, 1024 * 4);
            if (y % 256 < 2) {
                be_serve(&b, 1);        /* answer flips as they come */
            }
        }
        assert_backend_shows(&b, &g);
    }
    guest_stop(&g);
    be_close(&b);

    text = trace_read(log);
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        const char *p = strstr(lines[i], "after copying ");
        unsigned int n;

        if (p && sscanf(p, "after copying %u rectangles", &n) == 1) {
            flips++;
            most = MAX(most, n);
        }
    }
    g_assert_cmpuint(flips, >=, 3);
    if (most > 64) {
        g_error("a flip copied %u rectangles (of %u flips traced)", most,
                flips);
    }
}

/* CPU time (user and system) process @pid has used, in ms. */
static int64_t cpu_ms(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
    g_autofree char *stat = NULL;
    unsigned long long utime, stime;
    char *p;
    int i;

    g_assert_true(g_file_get_contents(path, &stat, NULL, NULL));
    p = strrchr(stat, ')');
    for (i = 3; p && i <= 13; i++) {
        p = strchr(p + 1, ' ');
    }
    g_assert_nonnull(p);
    g_assert_cmpint(sscanf(p + 1, "%llu %llu", &utime, &stime), ==, 2);
    return (utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

#define XDF_FLOOD_KICKS 64      /* the device's flood limit */

/*
 * The trace of xen_displfront_notified and xen_displfront_flood in
 * @text shows port @port guarded: masked at least once, and never more
 * than XDF_FLOOD_KICKS notifications in a row that did nothing between
 * two masked periods.  How many notifications it took.
 */
static unsigned int assert_flood_guarded(const char *text, int port)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    unsigned int i, taken = 0, idle = 0, longest = 0, masked = 0;

    for (i = 0; lines[i]; i++) {
        const char *p = strstr(lines[i], " port ");
        unsigned int progress;
        int n, pp;

        if (!p) {
            continue;
        }
        n = sscanf(p, " port %d notified, %u things done", &pp, &progress);
        if (n < 1 || pp != port) {
            continue;
        }
        if (n == 2) {
            taken++;
            idle = progress ? 0 : idle + 1;
            longest = MAX(longest, idle);
        } else if (strstr(p, "masked for")) {
            masked++;
            idle = 0;
        }
    }
    if (g_test_verbose()) {
        g_printerr("port %d: %u notifications taken, masked %u times, at "
                   "most %u idle in a row\n", port, taken, masked, longest);
    }
    if (!masked || longest > XDF_FLOOD_KICKS) {
        g_error("port %d was masked %u times and took up to %u idle "
                "notifications in a row (limit %d)", port, masked, longest,
                XDF_FLOOD_KICKS);
    }
    return taken;
}

/* How long a test's flood lasts. */
#define FLOOD_US (2 * G_USEC_PER_SEC)

/*
 * After a notification that put an event on a page: wait (at most 1 ms:
 * the port may be masked) until the frontend took it, so that the next
 * notification is one more for it to take, not one it never sees.
 */
static void flood_wait_taken(uint32_t *prod, uint32_t *cons)
{
    int64_t end = g_get_monotonic_time() + 1000;

    while (__atomic_load_n(cons, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(prod, __ATOMIC_ACQUIRE) &&
           g_get_monotonic_time() < end) {
        g_usleep(10);
    }
}

/*
 * In @text (xen_displfront_flood, traced with -msg timestamp=on), were
 * ports @a and @b ever masked at the same time?  One guard for both
 * never masks the second while the first is: a backend alternating
 * between them would not be held back.
 */
static bool flood_masked_together(const char *text, int a, int b)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GArray) start = g_array_new(false, false, sizeof(double));
    g_autoptr(GArray) end = g_array_new(false, false, sizeof(double));
    g_autoptr(GArray) port = g_array_new(false, false, sizeof(int));
    unsigned int i, j;

    for (i = 0; lines[i]; i++) {
        const char *at = strchr(lines[i], '@');
        const char *p = strstr(lines[i], " port ");
        double t;
        unsigned int ms;
        int pp;

        if (at && p && strstr(p, "masked for") &&
            sscanf(at + 1, "%lf", &t) == 1 &&
            sscanf(p, " port %d notified again", &pp) == 1 &&
            sscanf(strstr(p, "masked for"), "masked for %u ms", &ms) == 1) {
            double e = t + ms / 1000.0;

            g_array_append_val(start, t);
            g_array_append_val(end, e);
            g_array_append_val(port, pp);
        }
    }
    for (i = 0; i < port->len; i++) {
        for (j = 0; j < port->len; j++) {
            if (g_array_index(port, int, i) == a &&
                g_array_index(port, int, j) == b &&
                g_array_index(start, double, i) <
                g_array_index(end, double, j) &&
                g_array_index(start, double, j) <
                g_array_index(end, double, i)) {
                return true;
            }
        }
    }
    return false;
}

typedef enum Flood {
    FLOOD_BOTH_PORTS,           /* empty notifications, ports alternating */
    FLOOD_UNKNOWN_EVENTS,       /* events of a type nobody knows */
} Flood;

/*
 * A backend that notifies again and again with nothing that does
 * anything: empty notifications alternating between the two ports, or
 * events of an unknown type on the event page.  The device masks each
 * port for a while (its trace says so) instead of spinning, stays
 * connected, and frames still flow once the flood is over.
 */
static void test_flood(gconstpointer opaque)
{
    Flood flood = GPOINTER_TO_INT(opaque);
    g_autofree char *log = NULL;
    g_autofree char *text = NULL;
    g_autofree char *state = NULL;
    g_autofree char *conn0 = NULL;
    g_autofree char *opts = NULL;
    struct xendispl_event_page *page;
    int64_t cpu, end;
    Backend b;
    Guest g;
    BeConn *c;
    int i, req_port, evt_port;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    opts = g_strdup_printf("-msg timestamp=on %s",
                           trace_to_file("xen_displfront_flood,"
                                         "xen_displfront_notified", &log));
    guest_show_random_with(&g, &b, 2, opts);
    c = &b.conn[0];
    page = c->evt_page;
    /* the device's ports, as its trace names them */
    conn0 = g_strdup_printf("%s/0", b.fe_path);
    req_port = be_read_uint(&b, conn0, XENDISPL_FIELD_REQ_CHANNEL);
    evt_port = be_read_uint(&b, conn0, XENDISPL_FIELD_EVT_CHANNEL);
    cpu = cpu_ms(qtest_pid(g.qts));
    end = g_get_monotonic_time() + FLOOD_US;
    for (i = 0; g_get_monotonic_time() < end; i++) {
        if (flood == FLOOD_BOTH_PORTS) {
            xenevtchn_notify(b.xe, i % 2 ? c->req_port : c->evt_port);
            g_usleep(20);
            continue;
        }
        if (page->in_prod - __atomic_load_n(&page->in_cons,
                                            __ATOMIC_ACQUIRE) <
            XENDISPL_IN_RING_LEN) {
            struct xendispl_evt *evt =
                &XENDISPL_IN_RING_REF(page, page->in_prod);

            memset(evt, 0, sizeof(*evt));
            evt->type = 0x77;
            xen_wmb();
            page->in_prod++;
        }
        xenevtchn_notify(b.xe, c->evt_port);
        flood_wait_taken(&page->in_prod, &page->in_cons);
    }
    g_usleep(200 * 1000);
    cpu = cpu_ms(qtest_pid(g.qts)) - cpu;
    g_test_message("QEMU's CPU time during the flood: %" PRId64 " ms", cpu);
    state = be_read(&b, b.fe_path, "state");
    g_assert_cmpstr(state, ==, "4");
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    guest_stop(&g);

    text = trace_read(log);
    assert_flood_guarded(text, evt_port);
    if (flood == FLOOD_BOTH_PORTS) {
        assert_flood_guarded(text, req_port);
        g_assert_true(flood_masked_together(text, req_port, evt_port));
    }
    be_close(&b);
}

/*
 * A backend built on libxenbe (displ_be) killed with SIGKILL: it writes
 * nothing as it dies; the one started next finds the device's directory
 * in the dead one's state, closes it (Closing, Closed), and -- the
 * device still Connected as far as it knows -- stays Closed: libxenbe
 * drops a device only when its watch finds the directory gone, and
 * serves it again only once it is made anew.  The device removes the
 * backend directory it wrote and, a while later, writes it again -- two
 * steps such a backend sees (polled here every 2 ms; the old single
 * transaction was never seen) -- then connects when the backend comes
 * back to InitWait.
 */
static void test_backend_recreate(void)
{
    int64_t t0, gone_ms = -1, back_ms = -1, now_ms;
    char *dir;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_show_random(&g, &b, 2);
    be_close(&b);                       /* SIGKILL: nothing written */
    be_open(&b, 0);
    be_write(&b, b.be_path, "state", "5");
    be_write(&b, b.be_path, "state", "6");
    be_wait_node(&b, b.fe_path, "state", "1");
    t0 = g_get_monotonic_time();
    do {
        g_usleep(2000);
        now_ms = (g_get_monotonic_time() - t0) / 1000;
        dir = be_read(&b, b.be_path, "frontend");
        if (!dir && gone_ms < 0) {
            gone_ms = now_ms;
        } else if (dir && gone_ms >= 0) {
            back_ms = now_ms;
        }
        free(dir);
    } while (back_ms < 0 && now_ms < 10000);
    if (gone_ms < 0 || back_ms < 0) {
        g_error("the backend directory was never seen gone and back "
                "(gone after %" PRId64 " ms, back after %" PRId64 " ms)",
                gone_ms, back_ms);
    }
    g_assert_cmpint(gone_ms, >=, 4000);
    g_assert_cmpint(back_ms - gone_ms, >=, 400);
    be_wait_node(&b, b.be_path, "state", "1");
    be_wait_node(&b, b.be_path, "frontend", b.fe_path);
    be_wait_node(&b, b.be_path, "online", "1");

    be_write(&b, b.be_path, "state", "2");
    be_attach(&b);
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    guest_stop(&g);
    be_close(&b);
}

/*
 * Refresh: 60 Hz while the guest draws; when nothing changes the device
 * backs off to one refresh a second, with no flips; the next change
 * brings the full rate back and reaches the backend.
 */
static void test_refresh_idle(void)
{
    g_autofree char *log = NULL;
    g_autofree char *text = NULL;
    const char *idle, *back;
    unsigned int flips;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    guest_show_random_with(&g, &b, 3,
                           trace_to_file("xen_displfront_refresh", &log));

    flips = b.conn[0].nr_flips;
    be_serve(&b, 3000);                 /* nothing drawn */
    g_assert_cmpuint(b.conn[0].nr_flips, ==, flips);
    guest_fill(&g, 10, 10, 100, 50, 0x123456);
    assert_backend_shows(&b, &g);
    guest_stop(&g);
    be_close(&b);

    text = trace_read(log);
    idle = strstr(text, "refreshed every 1000 ms");
    g_assert_nonnull(idle);
    back = strstr(idle, "refreshed every 16 ms");
    g_assert_nonnull(back);
}

/* A second device on a console that one already follows. */
static void test_same_console(void)
{
    QemuRun r;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,id=a,display=v "
                 "-device xen-displfront,id=b,display=v,dev-id=1");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, "console 0 is already followed by "
                            "xen-displfront 'a'"));
    qemu_run_free(&r);

    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device bochs-display,id=w "
                 "-device xen-displfront,id=a,display=v,dev-id=0 "
                 "-device xen-displfront,id=b,display=w,dev-id=0");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, "dev-id 0 is in use by xen-displfront "
                            "'a' of this QEMU"));
    qemu_run_free(&r);

    /* a connector per head: VGA has one */
    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v "
                 "-device xen-displfront,id=a,display=v,connectors=2");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, "connector 1: display 'v' (VGA) has no "
                            "graphic console at head 1"));
    qemu_run_free(&r);
}

/* Fit ------------------------------------------------------------------ */

/* The backend holds exactly two buffers, each the connector's size. */
static void assert_two_connector_buffers(Backend *b, Guest *g)
{
    unsigned int i, n = 0;

    for (i = 0; i < BE_MAX_DBUF; i++) {
        if (b->dbuf[i].cookie) {
            g_assert_cmpuint(b->dbuf[i].width, ==, g->conn_w);
            g_assert_cmpuint(b->dbuf[i].height, ==, g->conn_h);
            n++;
        }
    }
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(b->nr_requests[XENDISPL_OP_DBUF_CREATE], ==, 2);
    g_assert_cmpuint(b->nr_requests[XENDISPL_OP_SET_CONFIG], ==, 1);
}

/*
 * Guest modes far larger and far smaller than the connector, in each fit
 * mode: the backend's picture is the rule's, pixel for pixel, and the
 * buffers stay the connector's two, with no reconnect.
 */
static void test_fit(gconstpointer opaque)
{
    const char *fit = opaque;
    g_autofree char *big = g_strdup_printf(",resolution=640x480,fit=%s", fit);
    g_autofree char *small = g_strdup_printf(",resolution=1920x1080,fit=%s",
                                             fit);
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    /* 8192x8000 (250 MiB) on 640x480: far more than the connector */
    be_open(&b, 0);
    guest_start(&g, "bochs-display,vgamem=256M", big);
    be_connect(&b);
    guest_set_mode(&g, 8192, 8000);     /* VRAM starts black, as we do */
    guest_fill(&g, 0, 0, 8192, 16, 0xff8000);
    guest_fill(&g, 4000, 3900, 300, 200, 0x00ff00);
    guest_fill(&g, 8100, 7990, 92, 10, 0x0000ff);
    guest_draw_random(&g, &b, 2);
    assert_backend_shows(&b, &g);
    assert_two_connector_buffers(&b, &g);
    guest_stop(&g);
    be_close(&b);

    /* 320x200 graphics and 720x400 text on 1920x1080 */
    be_open(&b, 0);
    guest_start(&g, "bochs-display", small);
    be_connect(&b);
    guest_set_mode(&g, 320, 200);
    guest_clear(&g);
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    guest_set_mode(&g, 720, 400);
    guest_clear(&g);
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    assert_two_connector_buffers(&b, &g);
    guest_stop(&g);
    be_close(&b);
}

/* Ownership of vdispl directories ------------------------------------ */


/* The pid of a process that has exited. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();

    g_assert_cmpint(pid, >=, 0);
    if (!pid) {
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
    return pid;
}

/*
 * dev-id=auto (the default): every device takes the lowest free index
 * and records itself as the owner; qom-get dev-id gives the index; an
 * explicit dev-id that a live device has is refused naming the owner;
 * each device removes what it wrote and nothing else.
 */
static void test_dev_id_auto(void)
{
    g_autofree char *ns = g_file_read_link("/proc/self/ns/pid", NULL);
    g_autofree char *pid = NULL;
    g_autofree char *id_a = NULL;
    g_autofree char *id_b = NULL;
    g_autofree char *id_c = NULL;
    g_autofree char *msg = NULL;
    QTestState *qts, *qts2;
    Backend b;
    QemuRun r;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    qts = qtest_initf("%s -M pc -nodefaults -display none -name first "
                      "-device VGA,id=v -device bochs-display,id=w "
                      "-device xen-displfront,id=a,display=v,"
                      "unique-id=HDMI-A-1 "
                      "-device xen-displfront,id=b,display=w",
                      extra_args());
    id_a = qom_get_str(qts, "/machine/peripheral/a", "dev-id");
    id_b = qom_get_str(qts, "/machine/peripheral/b", "dev-id");
    g_assert_cmpstr(id_a, ==, "0");
    g_assert_cmpstr(id_b, ==, "1");
    pid = g_strdup_printf("%d", qtest_pid(qts));
    assert_node(&b, VDISPL_FE "/0", "owner/pid", pid);
    assert_node(&b, VDISPL_FE "/0", "owner/pid-ns", ns);
    assert_node(&b, VDISPL_FE "/0", "owner/device", "a");
    assert_node(&b, VDISPL_FE "/0", "owner/vm-name", "first");
    assert_node(&b, VDISPL_FE "/0", "owner/nodes", "device");
    assert_node(&b, VDISPL_FE "/1", "owner/device", "b");
    assert_node(&b, VDISPL_FE "/1", "backend", VDISPL_BE "/1");
    /* unique-id as given, or <qdev id>-<dev-id>-<connector> */
    assert_node(&b, VDISPL_FE "/0", "0/unique-id", "HDMI-A-1");
    assert_node(&b, VDISPL_FE "/1", "0/unique-id", "b-1-0");
    assert_node(&b, VDISPL_BE "/1", "frontend", VDISPL_FE "/1");
    /* each connector's vkbd, linked by the unique-id, owned the same way */
    assert_node(&b, VINPUT_BE "/0", "unique-id",
                "HDMI-A-1");
    assert_node(&b, VINPUT_BE "/1", "unique-id",
                "b-1-0");
    assert_node(&b, "/local/domain/0/device/vkbd/1", "owner/device", "b");
    assert_node(&b, "/local/domain/0/device/vkbd/1", "owner/pid", pid);
    assert_node(&b, "/local/domain/0/device/vkbd/1", "backend",
                VINPUT_BE "/1");

    /* another QEMU: the next free index, and not one that is in use */
    qts2 = qtest_initf("%s -M pc -nodefaults -display none "
                       "-device VGA,id=v -device xen-displfront,id=c,display=v",
                       extra_args());
    id_c = qom_get_str(qts2, "/machine/peripheral/c", "dev-id");
    g_assert_cmpstr(id_c, ==, "2");
    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,display=v,dev-id=1");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    msg = g_strdup_printf("dev-id 1 is in use by xen-displfront 'b' of QEMU "
                          "(pid %s, VM 'first')", pid);
    if (!strstr(r.err, msg)) {
        g_error("expected '%s' in: %s", msg, r.err);
    }
    qemu_run_free(&r);

    /* the first QEMU goes: its two devices go, the other stays */
    qtest_quit(qts);
    assert_node(&b, VDISPL_FE, "0", NULL);
    assert_node(&b, VDISPL_FE, "1", NULL);
    assert_node(&b, VDISPL_BE, "0", NULL);
    assert_node(&b, VDISPL_BE, "1", NULL);
    assert_node(&b, VDISPL_FE "/2", "owner/device", "c");
    assert_node(&b, VDISPL_BE "/2", "frontend", VDISPL_FE "/2");
    qtest_quit(qts2);
    assert_node(&b, VDISPL_FE, "2", NULL);
    assert_node(&b, VDISPL_BE, "2", NULL);
    be_close(&b);
}

/*
 * Directories left by a QEMU that died are taken over: one it wrote is
 * written anew, a toolstack's it used is adopted as it is.
 */
static void test_dev_id_reclaim(void)
{
    g_autofree char *dead = g_strdup_printf("%d", dead_pid());
    g_autofree char *ns = g_file_read_link("/proc/self/ns/pid", NULL);
    g_autofree char *pid = NULL;
    g_autofree char *id = NULL;
    QTestState *qts;
    Backend b;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    /* 0: written by a QEMU that died */
    be_write(&b, VDISPL_FE "/0", "backend", VDISPL_BE "/0");
    be_write(&b, VDISPL_FE "/0", "0/resolution", "111x111");
    be_write(&b, VDISPL_FE "/0", "state", "4");
    be_write(&b, VDISPL_FE "/0", "owner/pid", dead);
    be_write(&b, VDISPL_FE "/0", "owner/pid-start", "1");
    be_write(&b, VDISPL_FE "/0", "owner/pid-ns", ns);
    be_write(&b, VDISPL_FE "/0", "owner/nodes", "device");
    be_write(&b, VDISPL_BE "/0", "frontend", VDISPL_FE "/0");
    be_write(&b, VDISPL_BE "/0", "state", "4");
    /* 1: a toolstack's, used by a QEMU that died */
    be_write(&b, VDISPL_FE "/1", "backend", VDISPL_BE "/1");
    be_write(&b, VDISPL_FE "/1", "0/resolution", "800x600");
    be_write(&b, VDISPL_FE "/1", "owner/pid", dead);
    be_write(&b, VDISPL_FE "/1", "owner/pid-start", "1");
    be_write(&b, VDISPL_FE "/1", "owner/pid-ns", ns);
    be_write(&b, VDISPL_FE "/1", "owner/nodes", "toolstack");
    be_write(&b, VDISPL_BE "/1", "frontend", VDISPL_FE "/1");
    be_write(&b, VDISPL_BE "/1", "state", "1");

    qts = qtest_initf("%s -M pc -nodefaults -display none "
                      "-device VGA,id=v -device bochs-display,id=w "
                      "-device xen-displfront,id=a,display=v,"
                      "resolution=640x480 "
                      "-device xen-displfront,id=b,display=w", extra_args());
    pid = g_strdup_printf("%d", qtest_pid(qts));
    id = qom_get_str(qts, "/machine/peripheral/a", "dev-id");
    g_assert_cmpstr(id, ==, "0");
    assert_node(&b, VDISPL_FE "/0", "owner/pid", pid);
    assert_node(&b, VDISPL_FE "/0", "owner/nodes", "device");
    assert_node(&b, VDISPL_FE "/0", "0/resolution", "640x480");
    assert_node(&b, VDISPL_BE "/0", "state", "1");
    g_free(id);
    id = qom_get_str(qts, "/machine/peripheral/b", "dev-id");
    g_assert_cmpstr(id, ==, "1");
    assert_node(&b, VDISPL_FE "/1", "owner/pid", pid);
    assert_node(&b, VDISPL_FE "/1", "owner/nodes", "toolstack");
    assert_node(&b, VDISPL_FE "/1", "0/resolution", "800x600");
    qtest_quit(qts);

    /* ours went; the toolstack's stays, without our record */
    assert_node(&b, VDISPL_FE, "0", NULL);
    assert_node(&b, VDISPL_BE, "0", NULL);
    assert_node(&b, VDISPL_FE "/1", "0/resolution", "800x600");
    assert_node(&b, VDISPL_FE "/1", "owner", NULL);
    assert_node(&b, VDISPL_FE "/1", "state", "6");
    g_assert_true(xs_rm(b.xs, XBT_NULL, VDISPL_FE "/1"));
    g_assert_true(xs_rm(b.xs, XBT_NULL, VDISPL_BE "/1"));
    be_close(&b);
}

/*
 * A device removes only what is still its own: once another owner is
 * recorded (an administrator handed the index over), it leaves it.
 */
/* Our own start time, as the device reads it (/proc/PID/stat field 22). */
static char *self_start(void)
{
    g_autofree char *stat = NULL;
    char *p;
    int i;

    g_assert_true(g_file_get_contents("/proc/self/stat", &stat, NULL, NULL));
    p = strrchr(stat, ')');
    for (i = 3; p && i <= 22; i++) {
        p = strchr(p + 1, ' ');
    }
    g_assert_nonnull(p);
    return g_strndup(p + 1, strcspn(p + 1, " "));
}

static void test_dev_id_not_ours(void)
{
    g_autofree char *me = g_strdup_printf("%d", getpid());
    g_autofree char *start = NULL;
    QTestState *qts;
    Backend b;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    start = self_start();

    be_open(&b, 0);
    qts = qtest_initf("%s -M pc -nodefaults -display none "
                      "-device VGA,id=v -device xen-displfront,id=a,display=v",
                      extra_args());
    assert_node(&b, VDISPL_FE "/0", "owner/device", "a");
    be_write(&b, VDISPL_FE "/0", "owner/pid", me);
    be_write(&b, VDISPL_FE "/0", "owner/pid-start", start);
    be_write(&b, VDISPL_FE "/0", "owner/device", "someone-else");
    qtest_quit(qts);
    assert_node(&b, VDISPL_FE "/0", "owner/device", "someone-else");
    assert_node(&b, VDISPL_BE "/0", "frontend", VDISPL_FE "/0");
    g_assert_true(xs_rm(b.xs, XBT_NULL, VDISPL_FE "/0"));
    g_assert_true(xs_rm(b.xs, XBT_NULL, VDISPL_BE "/0"));
    be_close(&b);
}

/*
 * An owner the device cannot prove gone is left alone: one whose pid runs
 * but whose record has no start time (pid-start 0: its QEMU had no
 * /proc), and one in another PID namespace (its pid means nothing here,
 * even one no process has).  dev-id=auto takes the next index; asked
 * for, such an index is refused with the reason; a dead owner in our
 * namespace is still reclaimed.
 */
static void test_dev_id_cannot_tell(void)
{
    g_autofree char *me = g_strdup_printf("%d", getpid());
    g_autofree char *dead = g_strdup_printf("%d", dead_pid());
    g_autofree char *ns = g_file_read_link("/proc/self/ns/pid", NULL);
    g_autofree char *id = NULL;
    g_autofree char *msg = NULL;
    QTestState *qts;
    QemuRun r;
    Backend b;
    unsigned int i;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    g_assert_nonnull(ns);
    be_open(&b, 0);
    for (i = 0; i < 3; i++) {
        g_autofree char *fe = g_strdup_printf(VDISPL_FE "/%u", i);
        g_autofree char *be = g_strdup_printf(VDISPL_BE "/%u", i);

        be_write(&b, fe, "backend", be);
        be_write(&b, fe, "0/resolution", "111x111");
        be_write(&b, fe, "owner/nodes", "device");
        be_write(&b, fe, "owner/device", "old");
        be_write(&b, be, "frontend", fe);
    }
    /* 0: a process with that pid runs, the record has no start time */
    be_write(&b, VDISPL_FE "/0", "owner/pid", me);
    be_write(&b, VDISPL_FE "/0", "owner/pid-start", "0");
    be_write(&b, VDISPL_FE "/0", "owner/pid-ns", ns);
    /* 1: another PID namespace's */
    be_write(&b, VDISPL_FE "/1", "owner/pid", dead);
    be_write(&b, VDISPL_FE "/1", "owner/pid-start", "1");
    be_write(&b, VDISPL_FE "/1", "owner/pid-ns", "pid:[1]");
    /* 2: ours, dead */
    be_write(&b, VDISPL_FE "/2", "owner/pid", dead);
    be_write(&b, VDISPL_FE "/2", "owner/pid-start", "1");
    be_write(&b, VDISPL_FE "/2", "owner/pid-ns", ns);

    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,display=v,dev-id=0");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    msg = g_strdup_printf("dev-id 0 is in use by xen-displfront 'old' of "
                          "QEMU (pid %s), which may have exited: this QEMU "
                          "cannot tell, as a process %s runs, and the owner "
                          "recorded no start time", me, me);
    if (!strstr(r.err, msg) ||
        !strstr(r.err, "If that QEMU has exited, remove " VDISPL_FE "/0")) {
        g_error("expected '%s' and what to do in: %s", msg, r.err);
    }
    qemu_run_free(&r);
    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,display=v,dev-id=1");
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_free(msg);
    msg = g_strdup_printf("it recorded PID namespace pid:[1], this QEMU is "
                          "in %s: its pid means nothing here", ns);
    if (!strstr(r.err, msg)) {
        g_error("expected '%s' in: %s", msg, r.err);
    }
    qemu_run_free(&r);

    qts = qtest_initf("%s -M pc -nodefaults -display none "
                      "-device VGA,id=v -device xen-displfront,id=a,display=v",
                      extra_args());
    id = qom_get_str(qts, "/machine/peripheral/a", "dev-id");
    g_assert_cmpstr(id, ==, "2");
    assert_node(&b, VDISPL_FE "/0", "owner/device", "old");
    assert_node(&b, VDISPL_FE "/1", "owner/device", "old");
    assert_node(&b, VDISPL_FE "/2", "owner/device", "a");
    qtest_quit(qts);
    for (i = 0; i < 2; i++) {
        g_autofree char *fe = g_strdup_printf(VDISPL_FE "/%u", i);
        g_autofree char *be = g_strdup_printf(VDISPL_BE "/%u", i);

        assert_node(&b, fe, "owner/device", "old");
        g_assert_true(xs_rm(b.xs, XBT_NULL, fe));
        g_assert_true(xs_rm(b.xs, XBT_NULL, be));
    }
    assert_node(&b, VDISPL_FE, "2", NULL);
    be_close(&b);
}

/* Input: the test as kbdif (vkbd) backend -------------------------------- */


/* Linux key codes (linux/input-event-codes.h) */
#define LNX_KEY_ENTER       28
#define LNX_KEY_A           30
#define LNX_KEY_LEFTSHIFT   42
#define LNX_KEY_B           48
#define LNX_KEY_LEFTCTRL    29
#define LNX_KEY_LEFTALT     56
#define LNX_KEY_SYSRQ       99
#define LNX_KEY_DELETE      111
#define LNX_KEY_POWER       116
#define LNX_KEY_SLEEP       142
#define LNX_KEY_WAKEUP      143
#define LNX_KEY_SUSPEND     205
#define LNX_BTN_LEFT        0x110

typedef struct Kbd {
    Backend *b;
    char *fe_path;
    char *be_path;
    struct xenkbd_page *page;
    evtchn_port_t port;
    bool abs;                   /* the frontend asked for positions */
    bool touch;                 /* and for multi-touch */
} Kbd;

/*
 * The vkbd backend directory under one of @roots whose unique-id is
 * @uid, waited for.
 */
static char *kbd_find_in(Backend *b, const char *const *roots,
                         const char *uid)
{
    int64_t end = g_get_monotonic_time() + BE_TIMEOUT_MS * 1000;
    unsigned int i, j, n;

    do {
        for (j = 0; roots[j]; j++) {
            char **dirs = xs_directory(b->xs, XBT_NULL, roots[j], &n);

            for (i = 0; dirs && i < n; i++) {
                g_autofree char *be = g_strdup_printf("%s/%s", roots[j],
                                                      dirs[i]);
                g_autofree char *id = be_read(b, be, "unique-id");

                if (id && !strcmp(id, uid)) {
                    free(dirs);
                    return g_steal_pointer(&be);
                }
            }
            free(dirs);
        }
        g_usleep(2000);
    } while (g_get_monotonic_time() < end);
    g_error("no vkbd backend directory with unique-id '%s'", uid);
}

/*
 * Serve the vkbd linked to unique-id @uid: write @nodes (name, value,
 * ..., NULL: features, areas) to its backend directory, InitWait, map
 * the page, Connected.
 */
static void kbd_connect_in(Kbd *k, Backend *b, const char *const *roots,
                           const char *uid, const char *const *nodes)
{
    g_autofree char *fe_base = NULL;

    memset(k, 0, sizeof(*k));
    k->b = b;
    k->be_path = kbd_find_in(b, roots, uid);
    k->fe_path = be_read(b, k->be_path, "frontend");
    g_assert_nonnull(k->fe_path);
    fe_base = g_strdup_printf("/local/domain/%u/device/vkbd/", b->fe_domid);
    g_assert_true(g_str_has_prefix(k->fe_path, fe_base));

    be_wait_node(b, k->fe_path, "state", "1");
    for (; nodes && nodes[0]; nodes += 2) {
        be_write(b, k->be_path, nodes[0], nodes[1]);
    }
    be_write(b, k->be_path, "state", "2");
    be_wait_node(b, k->fe_path, "state", "3");
    k->abs = be_read_uint(b, k->fe_path, XENKBD_FIELD_REQ_ABS_POINTER) == 1;
    k->touch = be_read_uint(b, k->fe_path, XENKBD_FIELD_REQ_MTOUCH) == 1;
    k->page = xengnttab_map_grant_ref(b->xg, b->fe_domid,
                                      be_read_uint(b, k->fe_path,
                                                   XENKBD_FIELD_RING_GREF),
                                      PROT_READ | PROT_WRITE);
    g_assert_nonnull(k->page);
    k->port = xenevtchn_bind_interdomain(b->xe, b->fe_domid,
                                         be_read_uint(b, k->fe_path,
                                             XENKBD_FIELD_EVT_CHANNEL));
    g_assert_cmpint(k->port, >, 0);
    be_write(b, k->be_path, "state", "4");
    be_wait_node(b, k->fe_path, "state", "4");
}

/* As xdf-backend does: the vkbd under vinput or vkbd. */
static void kbd_connect(Kbd *k, Backend *b, const char *uid,
                        const char *const *nodes)
{
    kbd_connect_in(k, b, (const char *const[]) { VINPUT_BE, VKBD_BE, NULL },
                   uid, nodes);
}

static void kbd_unmap(Kbd *k)
{
    if (k->page) {
        xengnttab_unmap(k->b->xg, k->page, 1);
        k->page = NULL;
    }
    if (k->port) {
        xenevtchn_unbind(k->b->xe, k->port);
        k->port = 0;
    }
}

static void kbd_close(Kbd *k)
{
    kbd_unmap(k);
    g_free(k->fe_path);
    g_free(k->be_path);
}

/* Put @evt on the ring (waiting while it is full) and notify. */
static void kbd_send(Kbd *k, const union xenkbd_in_event *evt)
{
    int64_t end = g_get_monotonic_time() + BE_TIMEOUT_MS * 1000;
    uint32_t prod = k->page->in_prod;

    while (prod - __atomic_load_n(&k->page->in_cons, __ATOMIC_ACQUIRE) >=
           XENKBD_IN_RING_LEN) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    XENKBD_IN_RING_REF(k->page, prod) = *evt;
    __atomic_store_n(&k->page->in_prod, prod + 1, __ATOMIC_RELEASE);
    xenevtchn_notify(k->b->xe, k->port);
}

static void kbd_key(Kbd *k, uint32_t code, bool down)
{
    union xenkbd_in_event e = { .key = {
        .type = XENKBD_TYPE_KEY, .pressed = down, .keycode = code } };

    kbd_send(k, &e);
}

static void kbd_tap(Kbd *k, uint32_t code)
{
    kbd_key(k, code, true);
    kbd_key(k, code, false);
}

static void kbd_pos(Kbd *k, int32_t x, int32_t y, int32_t z)
{
    union xenkbd_in_event e = { .pos = {
        .type = XENKBD_TYPE_POS, .abs_x = x, .abs_y = y, .rel_z = z } };

    kbd_send(k, &e);
}

static void kbd_touch(Kbd *k, uint8_t what, uint8_t contact, int32_t x,
                      int32_t y)
{
    union xenkbd_in_event e = { .mtouch = {
        .type = XENKBD_TYPE_MTOUCH, .event_type = what,
        .contact_id = contact, .u.pos = { .abs_x = x, .abs_y = y } } };

    kbd_send(k, &e);
}

static void kbd_motion(Kbd *k, int32_t dx, int32_t dy)
{
    union xenkbd_in_event e = { .motion = {
        .type = XENKBD_TYPE_MOTION, .rel_x = dx, .rel_y = dy } };

    kbd_send(k, &e);
}

/*
 * What the guest reads from the i8042, keyboard (@aux false) or mouse
 * bytes: every byte that comes until none has for 300 ms, at most @max.
 */
static size_t i8042_read(QTestState *qts, bool aux, uint8_t *buf,
                         size_t max)
{
    int64_t quiet = g_get_monotonic_time() + 300 * 1000;
    size_t n = 0;

    while (n < max && g_get_monotonic_time() < quiet) {
        uint8_t st = qtest_inb(qts, 0x64);

        if (!(st & 0x01)) {
            g_usleep(1000);
            continue;
        }
        g_assert_cmpint(!!(st & 0x20), ==, aux);
        buf[n++] = qtest_inb(qts, 0x60);
        quiet = g_get_monotonic_time() + 300 * 1000;
    }
    return n;
}

/*
 * Every byte the guest reads from the i8042 until none has come for
 * 300 ms, keyboard bytes into @kbd (*@nk of them), mouse bytes into @aux
 * (*@na), at most 16 each.
 */
static void i8042_read_both(QTestState *qts, uint8_t *kbd, size_t *nk,
                            uint8_t *aux, size_t *na)
{
    int64_t quiet = g_get_monotonic_time() + 300 * 1000;

    *nk = *na = 0;
    while (g_get_monotonic_time() < quiet) {
        uint8_t st = qtest_inb(qts, 0x64);

        if (!(st & 0x01)) {
            g_usleep(1000);
            continue;
        }
        if (st & 0x20) {
            g_assert_cmpuint(*na, <, 16);
            aux[(*na)++] = qtest_inb(qts, 0x60);
        } else {
            g_assert_cmpuint(*nk, <, 16);
            kbd[(*nk)++] = qtest_inb(qts, 0x60);
        }
        quiet = g_get_monotonic_time() + 300 * 1000;
    }
}

static void assert_bytes(const uint8_t *got, size_t n, const uint8_t *want,
                         size_t m)
{
    g_autoptr(GString) s = g_string_new(NULL);
    size_t i;

    for (i = 0; i < n; i++) {
        g_string_append_printf(s, " %02x", got[i]);
    }
    if (n != m || memcmp(got, want, n)) {
        g_string_prepend(s, "guest read:");
        g_string_append(s, "; wanted:");
        for (i = 0; i < m; i++) {
            g_string_append_printf(s, " %02x", want[i]);
        }
        g_error("%s", s->str);
    }
}

/* The guest turns the PS/2 mouse's data reporting on (0xf4 via 0xd4). */
static void ps2_mouse_enable(QTestState *qts)
{
    uint8_t ack = 0;

    qtest_outb(qts, 0x64, 0xd4);
    qtest_outb(qts, 0x60, 0xf4);
    g_assert_cmpuint(i8042_read(qts, true, &ack, 1), ==, 1);
    g_assert_cmphex(ack, ==, 0xfa);
}

/*
 * A bochs-display guest in a @w x @h mode, its device (more properties in
 * @opts) shown at backend @b; the test serves its vkbd next.
 */
static void input_start(Backend *b, Guest *g, const char *opts, uint32_t w,
                        uint32_t h)
{
    be_open(b, 0);
    guest_start(g, "bochs-display", opts);
    be_connect(b);
    guest_set_mode(g, w, h);
    guest_draw_random(g, b, 2);
    assert_backend_shows(b, g);
}

/*
 * Keys and buttons reach the guest's PS/2 keyboard and mouse in order
 * (scan code set 2, as the i8042 hands them before the guest asks for
 * translation); relative motion, and positions turned relative for a
 * guest without an absolute device; a key let go of while the VM is
 * stopped, and one held when the connection drops, are released.
 */
static void test_input_ps2(void)
{
    static const uint8_t keys[] = {
        0x1c, 0xf0, 0x1c,                   /* a */
        0x12, 0x32, 0xf0, 0x32, 0xf0, 0x12, /* shift b */
        0x5a, 0xf0, 0x5a,                   /* enter */
    };
    static const uint8_t mouse[] = {
        0x08, 0x05, 0x03,   /* motion 5, -3 (PS/2's y goes up) */
        0x09, 0x00, 0x00,   /* left down */
        0x08, 0x00, 0x00,   /* left up */
        0x08, 0x0a, 0x05,   /* positions 100,100 then 110,95: 10, -5 */
    };
    g_autofree char *state = NULL;
    uint8_t buf[64];
    size_t n;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    input_start(&b, &g, ",unique-id=screen0", 1024, 768);
    kbd_connect(&k, &b, "screen0", (const char *const[]) {
        XENKBD_FIELD_FEAT_ABS_POINTER, "1", XENKBD_FIELD_WIDTH, "1024",
        XENKBD_FIELD_HEIGHT, "768", NULL });
    g_assert_true(k.abs);
    state = qom_get_str(g.qts, "/machine/peripheral/xdf0", "input-state");
    g_assert_cmpstr(state, ==, "XenbusStateConnected");

    kbd_tap(&k, LNX_KEY_A);
    kbd_key(&k, LNX_KEY_LEFTSHIFT, true);
    kbd_tap(&k, LNX_KEY_B);
    kbd_key(&k, LNX_KEY_LEFTSHIFT, false);
    kbd_tap(&k, LNX_KEY_ENTER);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, keys, sizeof(keys));

    ps2_mouse_enable(g.qts);
    kbd_motion(&k, 5, -3);
    kbd_key(&k, LNX_BTN_LEFT, true);
    kbd_key(&k, LNX_BTN_LEFT, false);
    kbd_pos(&k, 100, 100, 0);       /* no tablet: relative from here */
    kbd_pos(&k, 110, 95, 0);
    n = i8042_read(g.qts, true, buf, sizeof(buf));
    assert_bytes(buf, n, mouse, sizeof(mouse));

    /* let go of while the VM is stopped: released when it runs again */
    kbd_key(&k, LNX_KEY_B, true);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, keys + 4, 1);
    qtest_qmp_assert_success(g.qts, "{'execute': 'stop'}");
    kbd_key(&k, LNX_KEY_B, false);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, keys, 0);
    qtest_qmp_assert_success(g.qts, "{'execute': 'cont'}");
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, keys + 5, 2);

    /* held when the backend goes: released */
    kbd_key(&k, LNX_KEY_A, true);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, keys, 1);
    be_write(&b, k.be_path, "state", "5");
    be_wait_node(&b, k.fe_path, "state", "1");
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, keys + 1, 2);
    kbd_unmap(&k);

    /* the display kept its connection */
    guest_draw_random(&g, &b, 2);
    assert_backend_shows(&b, &g);
    guest_stop(&g);

    /* the vkbd's directories went with QEMU */
    g_assert_null(be_read(&b, k.fe_path, "state"));
    g_assert_null(be_read(&b, k.be_path, "state"));
    kbd_close(&k);
    be_close(&b);
}

/* virtio-tablet-pci, driven as a guest driver would: its event queue. */
typedef struct Tablet {
    QVirtioPCIDevice dev;
    QGuestAllocator alloc;
    QVirtQueue *vq;
    uint64_t buf[48];           /* event buffers, by descriptor */
    uint32_t head[48];
} Tablet;

struct virtio_input_event_le {
    uint16_t type;
    uint16_t code;
    uint32_t value;
};

#define TABLET_SLOT 6

static void tablet_start(Tablet *t, Guest *g)
{
    QPCIAddress addr = { .devfn = QPCI_DEVFN(TABLET_SLOT, 0) };
    uint64_t features;
    unsigned int i;

    memset(t, 0, sizeof(*t));
    pc_alloc_init(&t->alloc, g->qts, ALLOC_NO_FLAGS);
    virtio_pci_init(&t->dev, g->bus, &addr);
    qvirtio_pci_device_enable(&t->dev);
    qvirtio_start_device(&t->dev.vdev);
    features = qvirtio_get_features(&t->dev.vdev);
    qvirtio_set_features(&t->dev.vdev,
                         features & (1ull << VIRTIO_F_VERSION_1));
    t->vq = qvirtqueue_setup(&t->dev.vdev, &t->alloc, 0);
    /* a buffer per event this test makes (descriptors are not reused) */
    for (i = 0; i < G_N_ELEMENTS(t->buf); i++) {
        t->buf[i] = guest_alloc(&t->alloc, 8);
        t->head[i] = qvirtqueue_add(g->qts, t->vq, t->buf[i], 8, true,
                                    false);
        qvirtqueue_kick(g->qts, &t->dev.vdev, t->vq, t->head[i]);
    }
    /* DRIVER_OK: the tablet becomes the console's pointing device */
    qvirtio_set_driver_ok(&t->dev.vdev);
}

static void tablet_stop(Tablet *t)
{
    unsigned int i;

    qvirtqueue_cleanup(t->dev.vdev.bus, t->vq, &t->alloc);
    for (i = 0; i < G_N_ELEMENTS(t->buf); i++) {
        guest_free(&t->alloc, t->buf[i]);
    }
    alloc_destroy(&t->alloc);
    qvirtio_pci_destructor(&t->dev.obj);
}

/*
 * The next event the tablet hands the guest (type, code, value), SYN
 * reports skipped; false if none comes within a few seconds.
 */
static bool tablet_event(Tablet *t, Guest *g, uint16_t *type, uint16_t *code,
                         int32_t *value)
{
    int64_t end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    struct virtio_input_event_le e;
    uint32_t desc, len;
    unsigned int i;

    while (g_get_monotonic_time() < end) {
        if (!qvirtqueue_get_buf(g->qts, t->vq, &desc, &len)) {
            g_usleep(1000);
            continue;
        }
        for (i = 0; i < G_N_ELEMENTS(t->head) && t->head[i] != desc; i++) {
            continue;
        }
        g_assert_cmpuint(i, <, G_N_ELEMENTS(t->head));
        qtest_memread(g->qts, t->buf[i], &e, sizeof(e));
        if (le16_to_cpu(e.type) == 0) {
            continue;           /* EV_SYN */
        }
        *type = le16_to_cpu(e.type);
        *code = le16_to_cpu(e.code);
        *value = le32_to_cpu(e.value);
        return true;
    }
    return false;
}

static void tablet_expect(Tablet *t, Guest *g, uint16_t type, uint16_t code,
                          int32_t value)
{
    uint16_t gt = 0, gc = 0;
    int32_t gv = 0;

    if (!tablet_event(t, g, &gt, &gc, &gv)) {
        g_error("no tablet event; wanted type %u code %u value %d", type,
                code, value);
    }
    if (gt != type || gc != code || gv != value) {
        g_error("tablet event type %u code %u value %d; wanted type %u code "
                "%u value %d", gt, gc, gv, type, code, value);
    }
}

/* The tablet reports guest pixel @gx,@gy of a @w x @h picture. */
static void tablet_expect_pixel(Tablet *t, Guest *g, uint32_t gx,
                                uint32_t gy)
{
    /* QEMU's scaling onto the tablet's 0..0x7fff, as for VNC */
    tablet_expect(t, g, 3, 0, (int64_t)gx * 0x7fff / g->width);
    tablet_expect(t, g, 3, 1, (int64_t)gy * 0x7fff / g->height);
}

typedef struct FitClick {
    int32_t x, y;               /* where the viewer clicked */
    uint32_t gx, gy;            /* the guest pixel shown there */
} FitClick;

typedef struct InputFitCase {
    const char *fit;
    FitClick clicks[4];
} InputFitCase;

/*
 * A 640x400 picture on a 1024x768 connector.  scale: 1024x640 at 0,64;
 * guest pixel g covers connector columns [g * 1.6, (g + 1) * 1.6).
 * center: 640x400 at 192,184.  crop: 640x400 at 0,0.  Clicks outside the
 * picture land on its nearest edge.
 */
static const InputFitCase input_fit_cases[] = {
    { "scale", { { 512, 384, 320, 200 }, { 0, 64, 0, 0 },
                 { 1023, 703, 639, 399 }, { 10, 10, 6, 0 } } },
    { "center", { { 512, 384, 320, 200 }, { 192, 184, 0, 0 },
                  { 831, 583, 639, 399 }, { 100, 700, 0, 399 } } },
    { "crop", { { 512, 384, 512, 384 }, { 0, 0, 0, 0 },
                { 639, 399, 639, 399 }, { 800, 600, 639, 399 } } },
};

/*
 * Absolute positions through each fit mode reach the guest's
 * virtio-tablet as the guest pixel shown under them; buttons and the
 * wheel come along.  The backend's pointer area may differ from the
 * connector (2048x1536 here): it is scaled onto the connector first.
 */
static void test_input_tablet(gconstpointer opaque)
{
    const InputFitCase *fc = opaque;
    g_autofree char *opts = NULL;
    unsigned int i;
    Tablet t;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    opts = g_strdup_printf(",unique-id=screen0,fit=%s -device "
                           "virtio-tablet-pci,addr=%d.0", fc->fit,
                           TABLET_SLOT);
    input_start(&b, &g, opts, 640, 400);
    tablet_start(&t, &g);
    kbd_connect(&k, &b, "screen0", (const char *const[]) {
        XENKBD_FIELD_FEAT_ABS_POINTER, "1", XENKBD_FIELD_WIDTH, "2048",
        XENKBD_FIELD_HEIGHT, "1536", NULL });
    g_assert_true(k.abs);

    for (i = 0; i < G_N_ELEMENTS(fc->clicks); i++) {
        const FitClick *c = &fc->clicks[i];

        kbd_pos(&k, c->x * 2, c->y * 2, 0);
        tablet_expect_pixel(&t, &g, c->gx, c->gy);
    }
    kbd_key(&k, LNX_BTN_LEFT, true);
    tablet_expect(&t, &g, 1, LNX_BTN_LEFT, 1);
    kbd_key(&k, LNX_BTN_LEFT, false);
    tablet_expect(&t, &g, 1, LNX_BTN_LEFT, 0);
    /* one step towards the user: REL_WHEEL -1 */
    kbd_pos(&k, fc->clicks[1].x * 2, fc->clicks[1].y * 2, 1);
    tablet_expect_pixel(&t, &g, fc->clicks[1].gx, fc->clicks[1].gy);
    tablet_expect(&t, &g, 2, 8, -1);

    kbd_close(&k);
    tablet_stop(&t);
    guest_stop(&g);
    be_close(&b);
}

/* Linux's multi-touch codes, as virtio-input reports them */
#define EV_KEY_             1
#define EV_ABS_             3
#define LNX_BTN_TOUCH       0x14a
#define LNX_ABS_MT_SLOT     0x2f
#define LNX_ABS_MT_X        0x35
#define LNX_ABS_MT_Y        0x36
#define LNX_ABS_MT_TRACKING 0x39

/* What QEMU reports of multi-touch slot @slot: down at @gx, @gy or up. */
static void touch_expect(Tablet *t, Guest *g, int slot, bool down,
                         uint32_t gx, uint32_t gy)
{
    tablet_expect(t, g, EV_ABS_, LNX_ABS_MT_SLOT, slot);
    tablet_expect(t, g, EV_ABS_, LNX_ABS_MT_TRACKING, down ? slot : -1);
    if (down) {
        tablet_expect(t, g, EV_KEY_, LNX_BTN_TOUCH, 1);
        tablet_expect(t, g, EV_ABS_, LNX_ABS_MT_X,
                      (int64_t)gx * 0x7fff / g->width);
        tablet_expect(t, g, EV_ABS_, LNX_ABS_MT_Y,
                      (int64_t)gy * 0x7fff / g->height);
    }
}

/*
 * Multi-touch, when the backend offers it: two contacts on a 640x400
 * picture scaled into 1024x768 reach the guest's virtio-multitouch-pci
 * in their own slots at the guest pixels shown under them, one goes up;
 * a contact past the count the backend announced costs the connection.
 */
static void test_input_touch(void)
{
    g_autofree char *opts = g_strdup_printf(
        ",unique-id=screen0 -device virtio-multitouch-pci,addr=%d.0",
        TABLET_SLOT);
    Tablet t;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    input_start(&b, &g, opts, 640, 400);
    tablet_start(&t, &g);
    kbd_connect(&k, &b, "screen0", (const char *const[]) {
        XENKBD_FIELD_FEAT_MTOUCH, "1", XENKBD_FIELD_MT_NUM_CONTACTS, "2",
        NULL });
    g_assert_true(k.touch);

    /* touch area: the connector; scale puts the picture at 0,64 1024x640 */
    kbd_touch(&k, XENKBD_MT_EV_DOWN, 0, 512, 384);
    touch_expect(&t, &g, 0, true, 320, 200);
    kbd_touch(&k, XENKBD_MT_EV_SYN, 0, 0, 0);
    kbd_touch(&k, XENKBD_MT_EV_DOWN, 1, 0, 64);
    touch_expect(&t, &g, 0, true, 320, 200);
    touch_expect(&t, &g, 1, true, 0, 0);
    kbd_touch(&k, XENKBD_MT_EV_MOTION, 1, 1023, 703);
    touch_expect(&t, &g, 0, true, 320, 200);
    touch_expect(&t, &g, 1, true, 639, 399);
    kbd_touch(&k, XENKBD_MT_EV_UP, 0, 0, 0);
    touch_expect(&t, &g, 0, false, 0, 0);
    touch_expect(&t, &g, 1, true, 639, 399);

    kbd_touch(&k, XENKBD_MT_EV_DOWN, 2, 10, 10);
    be_wait_node(&b, k.fe_path, "state", "6");
    kbd_close(&k);
    tablet_stop(&t);
    guest_stop(&g);
    be_close(&b);
}

/*
 * A vkbd that cannot be had (here every index is a live owner's): with
 * input=auto, the default, the display goes on without input; input=on
 * refuses to start and says why.
 */
static void test_input_unavailable(void)
{
    g_autofree char *me = g_strdup_printf("%d", getpid());
    g_autofree char *start = NULL;
    g_autofree char *state = NULL;
    unsigned int i, n = 0;
    char **dirs;
    QemuRun r;
    Backend b;
    Guest g;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    start = self_start();
    be_open(&b, 0);
    for (i = 0; i <= 1023; i++) {
        g_autofree char *fe = g_strdup_printf(VKBD_FE "/%u", i);

        be_write(&b, fe, "owner/pid", me);
        be_write(&b, fe, "owner/pid-start", start);
    }

    r = qemu_run(g_getenv("XENSTORED_PATH"),
                 "-device VGA,id=v -device xen-displfront,display=v,input=on");
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, "connector 0: input: cannot claim a vkbd "
                            "device: every vkbd dev-id from 0 to 1023 of "
                            "frontend domain 0 is in use"));
    qemu_run_free(&r);
    g_assert_null(be_read(&b, VDISPL_FE "/0", "state"));

    guest_show_random(&g, &b, 3);
    dirs = xs_directory(b.xs, XBT_NULL, VINPUT_BE, &n);
    g_assert_cmpuint(n, ==, 0);     /* no vkbd of ours */
    free(dirs);
    state = qom_get_str(g.qts, "/machine/peripheral/xdf0", "input-state");
    g_assert_cmpstr(state, ==, "none");
    guest_stop(&g);

    g_assert_true(xs_rm(b.xs, XBT_NULL, VKBD_FE));
    be_close(&b);
}

/*
 * A backend that breaks kbdif costs the input connection, not QEMU nor
 * the display: in_prod past the ring, and a key code past KEY_MAX; event
 * types it does not know are skipped.  The input then comes back after
 * its backoff.
 */
static void test_input_hostile(void)
{
    static const uint8_t a[] = { 0x1c, 0xf0, 0x1c };
    union xenkbd_in_event odd = { .type = 99 };
    uint8_t buf[16];
    size_t n;
    Backend b;
    Guest g;
    Kbd k;
    int round;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    input_start(&b, &g, ",unique-id=screen0", 640, 480);
    for (round = 0; round < 2; round++) {
        kbd_connect(&k, &b, "screen0", NULL);
        g_assert_false(k.abs);
        g_assert_false(k.touch);
        kbd_send(&k, &odd);
        kbd_tap(&k, LNX_KEY_A);
        n = i8042_read(g.qts, false, buf, sizeof(buf));
        assert_bytes(buf, n, a, sizeof(a));
        if (round == 0) {
            k.page->in_prod += 1000;
            xenevtchn_notify(b.xe, k.port);
        } else {
            kbd_key(&k, 0x300, true);
        }
        be_wait_node(&b, k.fe_path, "state", "6");
        /* the display is still connected and showing */
        be_wait_node(&b, b.fe_path, "state", "4");
        guest_draw_random(&g, &b, 2);
        assert_backend_shows(&b, &g);
        kbd_unmap(&k);
        /* as a backend does after an error: Closed, then anew */
        be_write(&b, k.be_path, "state", "6");
        be_wait_node(&b, k.fe_path, "state", "1");
        be_write(&b, k.be_path, "state", "1");
        kbd_close(&k);
    }
    guest_stop(&g);
    be_close(&b);
}

/*
 * A display backend is not a keyboard: with input=auto (the default)
 * only a backend in dom0 gets a vkbd; one in another domain (a driver
 * domain) gets none, and QEMU says how to trust it; with input=on it
 * gets one.
 */
static void test_input_trust(void)
{
    const char *be5 = "/local/domain/5/backend/vinput/0";
    g_autofree char *errlog = stderr_file();
    g_autofree char *err = NULL;
    g_autofree char *state = NULL;
    g_autofree char *be = NULL;
    g_autofree char *uid = NULL;
    QTestState *qts;
    Backend b;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    be_open(&b, 0);
    qts = qtest_initf("%s -M pc -nodefaults -display none -device VGA,id=v "
                      "-device xen-displfront,id=x,display=v,backend-domid=5 "
                      "2>%s", extra_args(), errlog);
    state = qom_get_str(qts, "/machine/peripheral/x", "input-state");
    g_assert_cmpstr(state, ==, "none");
    g_assert_cmpuint(xs_count(&b, be5), ==, 0);
    g_assert_cmpuint(xs_count(&b, VKBD_FE), ==, 0);
    qtest_quit(qts);
    err = stderr_read(errlog);
    g_assert_nonnull(strstr(err, "xen-displfront 'x': no input for backend "
                            "domain 5: by default only a backend in dom0 or "
                            "in QEMU's own domain gets the guest's keyboard "
                            "and pointer (input=on trusts this one"));

    qts = qtest_initf("%s -M pc -nodefaults -display none -device VGA,id=v "
                      "-device xen-displfront,id=x,display=v,backend-domid=5,"
                      "input=on", extra_args());
    g_free(state);
    state = qom_get_str(qts, "/machine/peripheral/x", "input-state");
    g_assert_cmpstr(state, ==, "XenbusStateInitialising");
    g_assert_cmpuint(xs_count(&b, be5), ==, 1);
    be = be_read(&b, VKBD_FE "/0", "backend");
    g_assert_cmpstr(be, ==, "/local/domain/5/backend/vinput/0/0");
    uid = be_read(&b, be, "unique-id");
    g_assert_cmpstr(uid, ==, "x-0-0");
    qtest_quit(qts);
    g_assert_cmpuint(xs_count(&b, be5), ==, 0);
    g_assert_cmpuint(xs_count(&b, VKBD_FE), ==, 0);
    be_close(&b);
}

/*
 * System keys (power, sleep, wake-up, SysRq: Alt+SysRq+B reboots a Linux
 * guest) never reach the guest unless input-system-keys=on, and QEMU
 * says so once; Ctrl+Alt+Del does (Windows asks for it to log on).
 */
static void test_input_system_keys(void)
{
    static const uint8_t a[] = { 0x1c, 0xf0, 0x1c };
    static const uint8_t alt_b[] = { 0x11, 0x32, 0xf0, 0x32, 0xf0, 0x11 };
    static const uint8_t cad[] = {
        0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14,
    };
    static const uint8_t power[] = { 0xe0, 0x37, 0xe0, 0xf0, 0x37 };
    g_autofree char *errlog = stderr_file();
    g_autofree char *opts = NULL;
    g_autofree char *err = NULL;
    uint8_t buf[64];
    size_t n;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    opts = g_strdup_printf(",unique-id=screen0 2>%s", errlog);
    input_start(&b, &g, opts, 640, 480);
    kbd_connect(&k, &b, "screen0", NULL);
    /* (the i8042 holds 16 bytes: read after each few keys) */
    kbd_tap(&k, LNX_KEY_POWER);
    kbd_tap(&k, LNX_KEY_SLEEP);
    kbd_tap(&k, LNX_KEY_WAKEUP);
    kbd_tap(&k, LNX_KEY_SUSPEND);
    kbd_tap(&k, LNX_KEY_A);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, a, sizeof(a));
    kbd_key(&k, LNX_KEY_LEFTALT, true);
    kbd_tap(&k, LNX_KEY_SYSRQ);
    kbd_tap(&k, LNX_KEY_B);
    kbd_key(&k, LNX_KEY_LEFTALT, false);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, alt_b, sizeof(alt_b));
    kbd_key(&k, LNX_KEY_LEFTCTRL, true);
    kbd_key(&k, LNX_KEY_LEFTALT, true);
    kbd_tap(&k, LNX_KEY_DELETE);
    kbd_key(&k, LNX_KEY_LEFTALT, false);
    kbd_key(&k, LNX_KEY_LEFTCTRL, false);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, cad, sizeof(cad));
    kbd_close(&k);
    guest_stop(&g);
    err = stderr_read(errlog);
    g_assert_nonnull(strstr(err, "connector 0: dropping the backend's "
                            "system key 'power' (power, sleep, wake-up and "
                            "SysRq reach the guest only with "
                            "input-system-keys=on)"));
    /* once */
    g_assert_null(strstr(strstr(err, "dropping") + 1, "dropping"));

    /* asked for: they pass */
    guest_start(&g, "bochs-display",
                ",unique-id=screen0,input-system-keys=on");
    be_connect(&b);
    kbd_connect(&k, &b, "screen0", NULL);
    kbd_tap(&k, LNX_KEY_POWER);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, power, sizeof(power));
    kbd_close(&k);
    guest_stop(&g);
    be_close(&b);
}

/*
 * A backend that floods the input page with events of a type nobody
 * knows: the port is masked for a while instead of spinning QEMU, and
 * keys still come through after the flood.
 */
static void test_input_flood(void)
{
    static const uint8_t a[] = { 0x1c, 0xf0, 0x1c };
    g_autofree char *log = NULL;
    g_autofree char *text = NULL;
    g_autofree char *opts = NULL;
    union xenkbd_in_event odd = { .type = 0x77 };
    int64_t end, cpu;
    uint8_t buf[16];
    size_t n = 0;
    Backend b;
    Guest g;
    Kbd k;
    int port;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    opts = g_strdup_printf(",unique-id=screen0 %s",
                           trace_to_file("xen_displfront_flood,"
                                         "xen_displfront_notified", &log));
    input_start(&b, &g, opts, 640, 480);
    kbd_connect(&k, &b, "screen0", NULL);
    port = be_read_uint(&b, k.fe_path, XENKBD_FIELD_EVT_CHANNEL);
    cpu = cpu_ms(qtest_pid(g.qts));
    end = g_get_monotonic_time() + FLOOD_US;
    while (g_get_monotonic_time() < end) {
        uint32_t prod = k.page->in_prod;

        if (prod - __atomic_load_n(&k.page->in_cons, __ATOMIC_ACQUIRE) <
            XENKBD_IN_RING_LEN) {
            XENKBD_IN_RING_REF(k.page, prod) = odd;
            __atomic_store_n(&k.page->in_prod, prod + 1, __ATOMIC_RELEASE);
        }
        xenevtchn_notify(b.xe, k.port);
        flood_wait_taken(&k.page->in_prod, &k.page->in_cons);
    }
    g_test_message("QEMU's CPU time during the flood: %" PRId64 " ms",
                   cpu_ms(qtest_pid(g.qts)) - cpu);
    /* a key after the flood arrives, at the latest after a masked period */
    kbd_tap(&k, LNX_KEY_A);
    end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (n < sizeof(a) && g_get_monotonic_time() < end) {
        n += i8042_read(g.qts, false, buf + n, sizeof(a) - n);
    }
    assert_bytes(buf, n, a, sizeof(a));
    kbd_close(&k);
    guest_stop(&g);
    be_close(&b);

    text = trace_read(log);
    assert_flood_guarded(text, port);
}

/*
 * The vkbd's watch cannot be set (a XenStore at its watch quota; here a
 * library that fails those watches): with input=auto the display goes on
 * without input, and neither device_del nor QEMU's exit trips over the
 * input that is not there, or leaves any of its nodes behind.
 */
static void test_input_watch_fails(void)
{
    const char *lib = g_getenv("XDF_XS_FAULT_LIB");
    g_autofree char *asan = NULL;
    g_autofree char *state = NULL;
    Backend b;
    Guest g;
    int round;

    if (!xensim_available() || !lib) {
        g_test_skip("needs xensim and XDF_XS_FAULT_LIB");
        return;
    }
    /* the fault library goes before an ASan QEMU's runtime */
    asan = g_strdup_printf("%s:verify_asan_link_order=0",
                           g_getenv("ASAN_OPTIONS") ?: "");
    be_open(&b, 0);
    for (round = 0; round < 2; round++) {
        g_setenv("LD_PRELOAD", lib, true);
        g_setenv("XENSIM_XS_FAIL_WATCH", "/backend/vinput/", true);
        g_setenv("ASAN_OPTIONS", asan, true);
        guest_show_random(&g, &b, 2);
        g_unsetenv("LD_PRELOAD");
        g_unsetenv("XENSIM_XS_FAIL_WATCH");
        g_free(state);
        state = qom_get_str(g.qts, "/machine/peripheral/xdf0",
                            "input-state");
        g_assert_cmpstr(state, ==, "none");
        g_assert_cmpuint(xs_count(&b, VKBD_FE), ==, 0);
        g_assert_cmpuint(xs_count(&b, VINPUT_BE), ==, 0);
        if (round == 0) {
            qtest_qmp_device_del(g.qts, "xdf0");
            g_assert_null(be_read(&b, b.fe_path, "state"));
            g_assert_cmpuint(xs_count(&b, VKBD_FE), ==, 0);
            qtest_qmp_assert_success(g.qts, "{'execute': 'query-status'}");
        }
        be_unmap_all(&b);
        /* libqtest fails the test if QEMU dies of a signal here */
        guest_stop(&g);
        g_assert_cmpuint(xs_count(&b, VKBD_FE), ==, 0);
        g_assert_cmpuint(xs_count(&b, VDISPL_FE), ==, 0);
    }
    be_close(&b);
}

/* Wait until migration from @src completed and @dst runs. */
static void migrate_wait(QTestState *src, QTestState *dst)
{
    int64_t end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    QTestState *qts = src;
    const char *want = "completed";

    for (;;) {
        QDict *rsp = qts == src ?
                     qtest_qmp(qts, "{'execute': 'query-migrate'}") :
                     qtest_qmp(qts, "{'execute': 'query-status'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *status = ret && qdict_haskey(ret, "status") ?
                             qdict_get_str(ret, "status") : "";

        if (!strcmp(status, "failed")) {
            g_error("migration failed");
        }
        if (!strcmp(status, want)) {
            qobject_unref(rsp);
            if (qts == dst) {
                return;
            }
            qts = dst;
            want = "running";
            continue;
        }
        qobject_unref(rsp);
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(10 * 1000);
    }
}

/*
 * A key, a button and a multi-touch contact held at a migration's
 * switch-over: the destination's guest, which never sees them go up at
 * the source, gets each released as soon as it runs (keys and buttons at
 * its PS/2 keyboard and mouse; the contact in the device's trace, there
 * being no multi-touch device here).
 */
static void test_input_migration(void)
{
    static const uint8_t a_down[] = { 0x1c }, a_up[] = { 0xf0, 0x1c };
    static const uint8_t left_down[] = { 0x09, 0x00, 0x00 };
    static const uint8_t left_up[] = { 0x08, 0x00, 0x00 };
    g_autofree char *uri = g_strdup_printf("unix:%s/xdf-migrate-%d.sock",
                                           g_get_tmp_dir(), getpid());
    g_autofree char *src_log = NULL, *dst_log = NULL;
    g_autofree char *src_opts = NULL;
    g_autofree char *text = NULL;
    QTestState *dst;
    int64_t end;
    uint8_t buf[16], mouse[16];
    size_t n, n_mouse;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    src_opts = g_strdup_printf(",unique-id=screen0 %s",
                               trace_to_file("xen_displfront_input_touch",
                                             &src_log));
    input_start(&b, &g, src_opts, 640, 400);
    kbd_connect(&k, &b, "screen0", (const char *const[]) {
        XENKBD_FIELD_FEAT_MTOUCH, "1", NULL });
    ps2_mouse_enable(g.qts);
    kbd_key(&k, LNX_KEY_A, true);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, a_down, sizeof(a_down));
    kbd_key(&k, LNX_BTN_LEFT, true);
    n = i8042_read(g.qts, true, buf, sizeof(buf));
    assert_bytes(buf, n, left_down, sizeof(left_down));
    kbd_touch(&k, XENKBD_MT_EV_DOWN, 0, 512, 384);
    end = g_get_monotonic_time() + BE_TIMEOUT_MS * 1000;
    do {
        g_free(text);
        g_usleep(10 * 1000);
        g_assert_true(g_file_get_contents(src_log, &text, NULL, NULL));
    } while (!strstr(text, "contact 0 event 0") &&
             g_get_monotonic_time() < end);
    g_assert_nonnull(strstr(text, "contact 0 event 0"));
    unlink(src_log);
    /* the contact's touch button makes the PS/2 mouse report: left down */
    n = i8042_read(g.qts, true, buf, sizeof(buf));
    assert_bytes(buf, n, left_down, sizeof(left_down));

    dst = qtest_initf("%s -M pc -nodefaults -display none "
                      "-device bochs-display,id=card0,addr=%d.0 "
                      "-device xen-displfront,id=xdf0,display=card0 %s "
                      "-incoming %s", extra_args(), GUEST_CARD_SLOT,
                      trace_to_file("xen_displfront_input_touch", &dst_log),
                      uri);
    be_serve(&b, 100);
    qtest_qmp_assert_success(g.qts, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    migrate_wait(g.qts, dst);

    i8042_read_both(dst, buf, &n, mouse, &n_mouse);
    assert_bytes(buf, n, a_up, sizeof(a_up));
    assert_bytes(mouse, n_mouse, left_up, sizeof(left_up));
    qtest_quit(dst);
    g_free(text);
    text = trace_read(dst_log);
    g_assert_nonnull(strstr(text, "contact 0 event 1"));

    kbd_close(&k);
    guest_stop(&g);
    be_close(&b);
}

/*
 * displ_be's reading of a vkbd's unique-id: "K:<id>;P:<id>;T:<id>", each
 * part optional (an id starting with '/' is an evdev node, any other a
 * Wayland connector); anything else it refuses.  The ids of @uid, in
 * @k, @p, @t ("" when absent); false where displ_be would throw.
 */
static bool displ_be_ids(const char *uid, char **k, char **p, char **t)
{
    g_auto(GStrv) parts = g_strsplit(uid, ";", -1);
    unsigned int i;

    *k = g_strdup("");
    *p = g_strdup("");
    *t = g_strdup("");
    for (i = 0; parts[i]; i++) {
        char *colon = strchr(parts[i], ':');
        char **slot;

        if (!colon || colon - parts[i] != 1) {
            return false;
        }
        switch (g_ascii_toupper(parts[i][0])) {
        case 'K':
            slot = k;
            break;
        case 'P':
            slot = p;
            break;
        case 'T':
            slot = t;
            break;
        default:
            return false;
        }
        g_free(*slot);
        *slot = g_strdup(colon + 1);
    }
    return true;
}

/*
 * The test as displ_be's input backend: it serves vkbd devices under
 * backend/vinput/ only (main.cpp: InputBackend("vinput")) and reads each
 * one's unique-id as input ids.  A device whose input-id carries them
 * gets its vkbd there; keys reach the guest.  A toolstack's vkbd in
 * vinput (as libxl writes xl.cfg's vkb=[ 'backend-type=linux,
 * unique-id=K:...' ]) that names the connector's input-id is taken;
 * one whose backend the device cannot serve is left, with a warning.
 */
static void test_input_displ_be(void)
{
    static const uint8_t a[] = { 0x1c, 0xf0, 0x1c };
    const char *uid = "K:/dev/input/event0;P:/dev/input/event1";
    const char *tool_fe = VKBD_FE "/1", *tool_be = VINPUT_BE "/1";
    const char *other_fe = VKBD_FE "/0";
    const char *other_be = "/local/domain/7/backend/vinput/0/0";
    g_autofree char *errlog = stderr_file();
    g_autofree char *opts = NULL;
    g_autofree char *err = NULL;
    g_autofree char *kid = NULL, *pid = NULL, *tid = NULL;
    uint8_t buf[16];
    size_t n;
    Backend b;
    Guest g;
    Kbd k;
    int round;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    g_assert_true(displ_be_ids(uid, &kid, &pid, &tid));
    g_assert_cmpstr(kid, ==, "/dev/input/event0");
    g_assert_cmpstr(pid, ==, "/dev/input/event1");
    g_assert_cmpstr(tid, ==, "");
    for (round = 0; round < 2; round++) {
        if (round == 1) {
            /*
             * a toolstack's, in vinput; before it, one of another
             * domain's backend naming us too
             */
            be_open(&b, 0);
            be_write(&b, tool_fe, "backend", tool_be);
            be_write(&b, tool_fe, "backend-id", "0");
            be_write(&b, tool_fe, "state", "1");
            be_write(&b, tool_be, "frontend", tool_fe);
            be_write(&b, tool_be, "frontend-id", "0");
            be_write(&b, tool_be, "online", "1");
            be_write(&b, tool_be, "state", "1");
            be_write(&b, tool_be, "unique-id", uid);
            be_write(&b, other_fe, "backend", other_be);
            be_write(&b, other_fe, "state", "1");
            be_write(&b, other_be, "unique-id", uid);
            be_close(&b);
        }
        /* (QEMU's command line goes through a shell: quote the ';') */
        opts = g_strdup_printf(",input-id='%s' 2>%s", uid, errlog);
        input_start(&b, &g, opts, 640, 480);
        g_clear_pointer(&opts, g_free);
        memset(&k, 0, sizeof(k));
        kbd_connect_in(&k, &b, (const char *const[]) { VINPUT_BE, NULL },
                       uid, NULL);
        if (round == 1) {
            g_assert_cmpstr(k.fe_path, ==, tool_fe);
            assert_node(&b, tool_fe, "owner/nodes", "toolstack");
        } else {
            assert_node(&b, k.fe_path, "owner/nodes", "device");
        }
        kbd_tap(&k, LNX_KEY_A);
        n = i8042_read(g.qts, false, buf, sizeof(buf));
        assert_bytes(buf, n, a, sizeof(a));
        kbd_unmap(&k);
        guest_stop(&g);
        err = stderr_read(errlog);
        if (round == 1) {
            g_assert_nonnull(strstr(err, "leaving vkbd/0 to its toolstack: "
                                    VKBD_FE "/0/backend is '"));
            g_assert_nonnull(strstr(err, "', not '" VINPUT_BE "/0' or '"
                                    VKBD_BE "/0': check backend-domid"));
            /* the toolstack's stay, without our record */
            assert_node(&b, tool_fe, "state", "6");
            assert_node(&b, tool_fe, "owner", NULL);
            assert_node(&b, tool_be, "unique-id", uid);
            g_assert_true(xs_rm(b.xs, XBT_NULL, tool_fe));
            g_assert_true(xs_rm(b.xs, XBT_NULL, other_fe));
            g_assert_true(xs_rm(b.xs, XBT_NULL, tool_be));
            g_assert_true(xs_rm(b.xs, XBT_NULL, "/local/domain/7"));
        } else {
            g_assert_null(strstr(err, "leaving"));
            g_assert_cmpuint(xs_count(&b, VINPUT_BE), ==, 0);
        }
        g_clear_pointer(&err, g_free);
        g_assert_cmpuint(xs_count(&b, VKBD_FE), ==, 0);
        kbd_close(&k);
        be_close(&b);
    }
}

/* input-backend=vkbd: the device's vkbd backend directories in vkbd. */
static void test_input_backend_vkbd(void)
{
    static const uint8_t a[] = { 0x1c, 0xf0, 0x1c };
    uint8_t buf[16];
    size_t n;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available()) {
        g_test_skip("no Xen: run under build/xensim run");
        return;
    }
    input_start(&b, &g, ",unique-id=screen0,input-backend=vkbd", 640, 480);
    kbd_connect_in(&k, &b, (const char *const[]) { VKBD_BE, NULL },
                   "screen0", NULL);
    g_assert_true(g_str_has_prefix(k.be_path, VKBD_BE "/"));
    g_assert_cmpuint(xs_count(&b, VINPUT_BE), ==, 0);
    kbd_tap(&k, LNX_KEY_A);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, a, sizeof(a));
    kbd_close(&k);
    guest_stop(&g);
    be_close(&b);
}

/* Run tools/stubdom/xdf-stubdom-attach with @args; it must succeed. */
static void stubdom_attach(const char *args)
{
    const char *tool = g_getenv("XDF_STUBDOM_ATTACH");
    g_autofree char *cmd = g_strdup_printf("%s %s", tool, args);
    g_autofree char *out = NULL, *err = NULL;
    int status = -1;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        g_error("%s failed: %s%s", cmd, out, err);
    }
}

/*
 * QEMU in a stub domain (here domain 5 of xensim, whose "target" libxl
 * would have written): it may not write its own device directories, so
 * the device waits for dom0's toolstack to write them -- saying so, its
 * state "waiting", nothing written -- and takes them when
 * xdf-stubdom-attach does, long after QEMU started: the picture reaches
 * the backend in dom0, and so do keys the other way (input=auto: the
 * backend is dom0's).  When QEMU goes, the toolstack's directories stay.
 */
static void test_stubdom_adopt(void)
{
    static const uint8_t a[] = { 0x1c, 0xf0, 0x1c };
    const char *stub_fe = "/local/domain/5/device";
    g_autofree char *errlog = stderr_file();
    g_autofree char *opts = NULL;
    g_autofree char *err = NULL;
    g_autofree char *state = NULL;
    uint8_t buf[16];
    size_t n;
    Backend b;
    Guest g;
    Kbd k;

    if (!xensim_available() || !g_getenv("XDF_STUBDOM_ATTACH")) {
        g_test_skip("needs xensim and XDF_STUBDOM_ATTACH");
        return;
    }
    be_open_for(&b, 5, 0);
    be_write(&b, "/local/domain/5", "target", "1");
    /* QEMU's grants and ports are domain 5's */
    opts = g_strdup_printf(",frontend-domid=5 2>%s", errlog);
    g_setenv("XENSIM_DOMID", "5", true);
    guest_start(&g, "bochs-display", opts);
    g_unsetenv("XENSIM_DOMID");
    g.conn_w = 640;             /* the toolstack's connector */
    g.conn_h = 480;
    state = qom_get_str(g.qts, "/machine/peripheral/xdf0", "state");
    g_assert_cmpstr(state, ==, "waiting");
    g_assert_cmpuint(xs_count(&b, stub_fe), ==, 0);
    g_assert_cmpuint(xs_count(&b, "/local/domain/0/backend/vdispl/5"), ==, 0);

    /* a while later, dom0's toolstack */
    be_serve(&b, 500);
    stubdom_attach("--stubdom-domid 5 --resolution 640x480 "
                   "--unique-id stub0");
    be_connect(&b);
    guest_set_mode(&g, 640, 480);
    guest_clear(&g);
    guest_draw_random(&g, &b, 3);
    assert_backend_shows(&b, &g);
    assert_node(&b, b.fe_path, "owner/nodes", "toolstack");

    kbd_connect_in(&k, &b, (const char *const[]) {
        "/local/domain/0/backend/vinput/5", NULL }, "stub0", NULL);
    kbd_tap(&k, LNX_KEY_A);
    n = i8042_read(g.qts, false, buf, sizeof(buf));
    assert_bytes(buf, n, a, sizeof(a));
    kbd_close(&k);
    guest_stop(&g);

    err = stderr_read(errlog);
    g_assert_nonnull(strstr(err, "xen-displfront 'xdf0': waiting for the "
                            "toolstack to write a vdispl device under "
                            "/local/domain/5/device/vdispl"));
    /* the toolstack's stay, ours gone from them */
    assert_node(&b, b.fe_path, "state", "6");
    assert_node(&b, b.fe_path, "owner", NULL);
    assert_node(&b, b.be_path, "frontend", b.fe_path);
    g_assert_true(xs_rm(b.xs, XBT_NULL, "/local/domain/5"));
    g_assert_true(xs_rm(b.xs, XBT_NULL, "/local/domain/0/backend/vdispl/5"));
    g_assert_true(xs_rm(b.xs, XBT_NULL, "/local/domain/0/backend/vinput/5"));
    g_assert_true(xs_rm(b.xs, XBT_NULL, "/libxl/5"));
    be_close(&b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_device("xen-displfront")) {
        g_test_skip("xen-displfront is not built in");
        return g_test_run();
    }
    qtest_add_func("/xen-displfront/listed", test_listed);
    qtest_add_func("/xen-displfront/properties", test_properties);
    qtest_add_func("/xen-displfront/config/display", test_bad_display);
    qtest_add_func("/xen-displfront/config/resolution", test_bad_resolution);
    qtest_add_func("/xen-displfront/config/domid", test_bad_domid);
    qtest_add_func("/xen-displfront/no-xen", test_no_xen);
    qtest_add_func("/xen-displfront/config/same-console", test_same_console);
    qtest_add_data_func("/xen-displfront/frames/bochs-display",
                        &(FramesCase){ "bochs-display", "" }, test_frames);
    qtest_add_data_func("/xen-displfront/frames/VGA",
                        &(FramesCase){ "VGA", "" }, test_frames);
    qtest_add_func("/xen-displfront/frames/ramfb", test_frames_ramfb);
    qtest_add_data_func("/xen-displfront/edid/VGA", "VGA",
                        test_edid_preferred);
    qtest_add_data_func("/xen-displfront/edid/bochs-display", "bochs-display",
                        test_edid_preferred);
    qtest_add_func("/xen-displfront/edid/vram", test_edid_vram);
    qtest_add_data_func("/xen-displfront/frames/be-alloc",
                        &(FramesCase){ "bochs-display", ",be-alloc=on" },
                        test_frames);
    qtest_add_data_func("/xen-displfront/firmware/VGA", "VGA",
                        test_firmware);
    qtest_add_data_func("/xen-displfront/firmware/cirrus-vga", "cirrus-vga",
                        test_firmware);
    qtest_add_data_func("/xen-displfront/firmware/bochs-display",
                        "bochs-display", test_firmware);
    qtest_add_data_func("/xen-displfront/firmware/ramfb", "ramfb",
                        test_firmware);
    qtest_add_data_func("/xen-displfront/firmware/virtio-vga", "virtio-vga",
                        test_firmware);
    qtest_add_func("/xen-displfront/connectors/two", test_two_connectors);
    qtest_add_func("/xen-displfront/unplug", test_unplug);
    qtest_add_func("/xen-displfront/toolstack/nodes", test_toolstack);
    qtest_add_data_func("/xen-displfront/fit/scale", "scale", test_fit);
    qtest_add_data_func("/xen-displfront/fit/center", "center", test_fit);
    qtest_add_data_func("/xen-displfront/fit/crop", "crop", test_fit);
    qtest_add_func("/xen-displfront/dev-id/auto", test_dev_id_auto);
    qtest_add_func("/xen-displfront/dev-id/reclaim", test_dev_id_reclaim);
    qtest_add_func("/xen-displfront/dev-id/not-ours", test_dev_id_not_ours);
    qtest_add_func("/xen-displfront/dev-id/cannot-tell",
                   test_dev_id_cannot_tell);
    qtest_add_func("/xen-displfront/toolstack/bad-nodes",
                   test_toolstack_bad);
    qtest_add_data_func("/xen-displfront/format/native", "native",
                        test_format);
    qtest_add_data_func("/xen-displfront/format/convert", "convert",
                        test_format);
    qtest_add_data_func("/xen-displfront/edid/v2", "v2", test_edid);
    qtest_add_data_func("/xen-displfront/edid/einval", "einval", test_edid);
    qtest_add_data_func("/xen-displfront/edid/v1", "v1", test_edid);
    qtest_add_data_func("/xen-displfront/backend/restart",
                        GINT_TO_POINTER(BE_RESTART), test_misbehave);
    qtest_add_data_func("/xen-displfront/backend/close",
                        GINT_TO_POINTER(BE_CLOSE), test_misbehave);
    qtest_add_data_func("/xen-displfront/backend/timeout",
                        GINT_TO_POINTER(BE_TIMEOUT), test_misbehave);
    qtest_add_data_func("/xen-displfront/backend/bad-rsp-prod",
                        GINT_TO_POINTER(BE_RSP_PROD), test_misbehave);
    qtest_add_data_func("/xen-displfront/backend/bad-in-prod",
                        GINT_TO_POINTER(BE_IN_PROD), test_misbehave);
    qtest_add_data_func("/xen-displfront/backend/bad-cookie",
                        GINT_TO_POINTER(BE_COOKIE), test_misbehave);
    qtest_add_func("/xen-displfront/backend/backoff", test_backoff);
    qtest_add_func("/xen-displfront/backend/figures", test_figures);
    qtest_add_func("/xen-displfront/backend/move", test_backend_move);
    qtest_add_func("/xen-displfront/backend/backoff-closing",
                   test_backoff_closing);
    qtest_add_func("/xen-displfront/backend/backoff-churn",
                   test_backoff_churn);
    qtest_add_func("/xen-displfront/damage/bounded", test_damage_bounded);
    qtest_add_func("/xen-displfront/refresh/idle", test_refresh_idle);
    qtest_add_data_func("/xen-displfront/backend/flood",
                        GINT_TO_POINTER(FLOOD_BOTH_PORTS), test_flood);
    qtest_add_data_func("/xen-displfront/backend/flood-unknown-events",
                        GINT_TO_POINTER(FLOOD_UNKNOWN_EVENTS), test_flood);
    qtest_add_func("/xen-displfront/backend/recreate",
                   test_backend_recreate);
    qtest_add_func("/xen-displfront/input/ps2", test_input_ps2);
    qtest_add_data_func("/xen-displfront/input/tablet/scale",
                        &input_fit_cases[0], test_input_tablet);
    qtest_add_data_func("/xen-displfront/input/tablet/center",
                        &input_fit_cases[1], test_input_tablet);
    qtest_add_data_func("/xen-displfront/input/tablet/crop",
                        &input_fit_cases[2], test_input_tablet);
    qtest_add_func("/xen-displfront/input/hostile", test_input_hostile);
    qtest_add_func("/xen-displfront/input/unavailable",
                   test_input_unavailable);
    qtest_add_func("/xen-displfront/input/touch", test_input_touch);
    qtest_add_func("/xen-displfront/input/trust", test_input_trust);
    qtest_add_func("/xen-displfront/input/system-keys",
                   test_input_system_keys);
    qtest_add_func("/xen-displfront/input/flood", test_input_flood);
    qtest_add_func("/xen-displfront/input/watch-fails",
                   test_input_watch_fails);
    qtest_add_func("/xen-displfront/input/migration", test_input_migration);
    qtest_add_func("/xen-displfront/input/displ-be", test_input_displ_be);
    qtest_add_func("/xen-displfront/input/backend-vkbd",
                   test_input_backend_vkbd);
    qtest_add_func("/xen-displfront/stubdom/adopt", test_stubdom_adopt);

    return g_test_run();
}
