/*
 * xdf-kbd-frontend: a kbdif (vkbd) frontend that prints what it gets
 *
 * Makes vkbd device DEV of domain 0 as a toolstack would (backend
 * directory /local/domain/0/backend/vkbd/0/DEV with unique-id UID, the
 * frontend directory), connects like Linux's xen-kbdfront (page and
 * event channel published, Initialised, then Connected once the backend
 * is InitWait) and prints each event it reads from the page:
 *
 *   connected: feature-abs-pointer 1, width 64, height 48
 *   key 35 1
 *   pos 10 20 0
 *   motion -1 2 0
 *
 * After @COUNT events it stops reading and writes a bogus in_cons
 * (in_prod + 1000) into the page: the backend must treat the ring as
 * full, drop what comes, and live on.  After @SECONDS it removes both
 * directories as a toolstack does (online = 0, Closing, wait for Closed,
 * remove) and exits; 0 when all went as it should.
 *
 *   xdf-kbd-frontend DEV UID COUNT SECONDS
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <xenstore.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/io/kbdif.h>
#include <xen/io/xenbus.h>

#define WAIT_MS 10000

static struct xs_handle *xs;
static char *fe_path, *be_path;

static void G_GNUC_NORETURN die(const char *what)
{
    printf("error: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put(const char *dir, const char *node, const char *val)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);

    if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) {
        die(path);
    }
}

/* online 0 and state Closing in the backend directory, in one go. */
static void remove_device(void)
{
    g_autofree char *online = g_strdup_printf("%s/online", be_path);
    g_autofree char *state = g_strdup_printf("%s/state", be_path);
    g_autofree char *closing = g_strdup_printf("%d", XenbusStateClosing);
    xs_transaction_t t;

    do {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL ||
            !xs_write(xs, t, online, "0", 1) ||
            !xs_write(xs, t, state, closing, strlen(closing))) {
            die(be_path);
        }
    } while (!xs_transaction_end(xs, t, false) && errno == EAGAIN);
}

static char *get(const char *dir, const char *node)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);
    unsigned int len;
    char *v = xs_read(xs, XBT_NULL, path, &len);
    char *ret = v ? g_strndup(v, len) : NULL;

    free(v);
    return ret;
}

static int be_state(void)
{
    g_autofree char *v = get(be_path, "state");

    return v ? atoi(v) : 0;
}

static bool wait_be_state(int want)
{
    int64_t end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (g_get_monotonic_time() < end) {
        if (be_state() == want) {
            return true;
        }
        g_usleep(5000);
    }
    printf("error: backend state %d, not %d, after %d ms\n", be_state(),
           want, WAIT_MS);
    return false;
}

int main(int argc, char **argv)
{
    struct xs_permissions perms[2] = {
        { .id = 0, .perms = XS_PERM_NONE },
        { .id = 0, .perms = XS_PERM_READ },
    };
    xenevtchn_handle *xe;
    xengntshr_handle *xgs;
    struct xenkbd_page *page;
    uint32_t gref;
    int port;
    unsigned long count, n = 0;
    int64_t end;
    char val[32];
    bool stalled = false, ok = true;

    if (argc != 5) {
        fprintf(stderr, "usage: xdf-kbd-frontend DEV UID COUNT SECONDS\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    count = strtoul(argv[3], NULL, 10);
    end = g_get_monotonic_time() + strtoll(argv[4], NULL, 10) * 1000000;
    xs = xs_open(0);
    xe = xenevtchn_open(NULL, 0);
    xgs = xengntshr_open(NULL, 0);
    if (!xs || !xe || !xgs) {
        die("cannot open the Xen libraries");
    }
    fe_path = g_strdup_printf("/local/domain/0/device/vkbd/%s", argv[1]);
    be_path = g_strdup_printf("/local/domain/0/backend/vkbd/0/%s", argv[1]);

    /* the toolstack's part */
    if (!xs_mkdir(xs, XBT_NULL, be_path) ||
        !xs_set_permissions(xs, XBT_NULL, be_path, perms, 2)) {
        die(be_path);
    }
    put(be_path, XENKBD_FIELD_UNIQUE_ID, argv[2]);
    put(be_path, "frontend-id", "0");
    put(be_path, "online", "1");
    put(be_path, "state", "1");
    put(fe_path, "backend", be_path);
    put(fe_path, "backend-id", "0");
    put(fe_path, "state", "1");
    put(be_path, "frontend", fe_path);

    /* the frontend's, as xen-kbdfront's probe */
    page = xengntshr_share_pages(xgs, 0, 1, &gref, 1);
    if (!page) {
        die("cannot share a page");
    }
    memset(page, 0, 4096);
    port = xenevtchn_bind_unbound_port(xe, 0);
    if (port < 0) {
        die("cannot allocate an event channel");
    }
    snprintf(val, sizeof(val), "%u", gref);
    put(fe_path, XENKBD_FIELD_RING_GREF, val);
    snprintf(val, sizeof(val), "%d", port);
    put(fe_path, XENKBD_FIELD_EVT_CHANNEL, val);
    put(fe_path, XENKBD_FIELD_REQ_ABS_POINTER, "1");
    snprintf(val, sizeof(val), "%d", XenbusStateInitialised);
    put(fe_path, "state", val);
    if (!wait_be_state(XenbusStateConnected)) {
        return 1;
    }
    snprintf(val, sizeof(val), "%d", XenbusStateConnected);
    put(fe_path, "state", val);
    {
        g_autofree char *abs = get(be_path, XENKBD_FIELD_FEAT_ABS_POINTER);
        g_autofree char *w = get(be_path, XENKBD_FIELD_WIDTH);
        g_autofree char *h = get(be_path, XENKBD_FIELD_HEIGHT);

        printf("connected: feature-abs-pointer %s, width %s, height %s\n",
               abs ? abs : "-", w ? w : "-", h ? h : "-");
    }

    while (g_get_monotonic_time() < end) {
        struct pollfd pfd = { .fd = xenevtchn_fd(xe), .events = POLLIN };
        uint32_t cons, prod;
        int p;

        if (poll(&pfd, 1, 20) > 0 && (p = xenevtchn_pending(xe)) >= 0) {
            xenevtchn_unmask(xe, p);
        }
        if (stalled) {
            continue;
        }
        prod = __atomic_load_n(&page->in_prod, __ATOMIC_ACQUIRE);
        for (cons = page->in_cons; cons != prod && n < count; cons++, n++) {
            union xenkbd_in_event *ev = &XENKBD_IN_RING_REF(page, cons);

            switch (ev->type) {
            case XENKBD_TYPE_KEY:
                printf("key %u %u\n", ev->key.keycode, ev->key.pressed);
                break;
            case XENKBD_TYPE_POS:
                printf("pos %d %d %d\n", ev->pos.abs_x, ev->pos.abs_y,
                       ev->pos.rel_z);
                break;
            case XENKBD_TYPE_MOTION:
                printf("motion %d %d %d\n", ev->motion.rel_x,
                       ev->motion.rel_y, ev->motion.rel_z);
                break;
            default:
                printf("unknown event type %u\n", ev->type);
                ok = false;
            }
        }
        __atomic_store_n(&page->in_cons, cons, __ATOMIC_RELEASE);
        xenevtchn_notify(xe, port);
        if (n >= count) {
            printf("stalled: in_cons %u + 1000\n", prod);
            __atomic_store_n(&page->in_cons, prod + 1000, __ATOMIC_RELEASE);
            stalled = true;
        }
    }

    /*
     * removal, as xl destroy does it: online 0 and Closing in one
     * transaction (libxl__initiate_device_generic_remove), or a backend
     * quick to answer the first would see its Closed overwritten
     */
    remove_device();
    ok &= wait_be_state(XenbusStateClosed);
    printf("backend Closed\n");
    xs_rm(xs, XBT_NULL, be_path);
    xs_rm(xs, XBT_NULL, fe_path);
    xenevtchn_unbind(xe, port);
    xengntshr_unshare(xgs, page, 1);
    xengntshr_close(xgs);
    xenevtchn_close(xe);
    xs_close(xs);
    return ok ? 0 : 1;
}
