/*
 * xdf-backend: a reference Xen displif (para-virtual display) backend
 *
 * Serves one vdispl device of one frontend domain, or with --all every
 * vdispl device under its backend directory as devices come and go (as
 * displ_be does): all their connectors, the XenBus state machine of
 * displif.h, every request, and frame-done events.  What each connector
 * shows is saved as PNG, and with --vnc shown to VNC viewers.  Also
 * serves each kbdif (vkbd) device linked to a connector it serves: the
 * input of that connector's live view.
 *
 * This file is the process: its options, the devices it serves (found
 * with --all), its main loop.  Each device is served by its unit:
 * xdf-display.c (vdispl: rings, requests, buffers, frames, PNG),
 * xdf-vnc.c (a connector's live view), xdf-kbd.c (vkbd), over
 * xdf-xenbus.c (the XenBus state machine), xdf-xs.c (XenStore) and
 * xdf-log.c (log lines, each naming its device).
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xdf-display.h"
#include "xdf-kbd.h"

#define XDF_MAX_DEVICE_MIB 256          /* --max-device-memory default */
#define XDF_VNC_PASSWORD_MAX 8          /* VNC authentication's DES key */

typedef struct Options {
    VdisplOptions disp;         /* for each device */
    bool all;                   /* every device under our backend dir */
    unsigned long exit_after_frames;
    unsigned int timeout_s;
    bool verbose;
} Options;

/* The process: Xen handles, options, the devices served. */
typedef struct Host {
    Options opt;
    XdfXen xen;
    char *be_root;              /* /local/domain/<own>/backend/vdispl */
    GPtrArray *devices;         /* Vdispl * */
    unsigned long frames;       /* of devices that have gone */
    Vkbds *kbds;                /* the vkbd devices; NULL: gone, at exit */
    bool quit;
    int exit_status;
} Host;

/* Devices ------------------------------------------------------------- */

static void host_key(void *opaque, Connector *c, bool down, uint32_t keysym)
{
    Host *h = opaque;

    vkbds_key(h->kbds, c, down, keysym);
}

static void host_pointer(void *opaque, Connector *c, int mask, int x, int y)
{
    Host *h = opaque;

    vkbds_pointer(h->kbds, c, mask, x, y);
}

static void host_port_in_use(void *opaque)
{
    Host *h = opaque;

    h->exit_status = 1;
    h->quit = true;
}

static const VdisplHooks device_hooks = {
    .key = host_key,
    .pointer = host_pointer,
    .port_in_use = host_port_in_use,
};

/*
 * Serve vdispl device @dev_id of frontend domain @fe_domid.  With --all,
 * in the lowest free slot, with its own output folder.  NULL when that
 * folder cannot be made.
 */
static Vdispl *device_new(Host *h, unsigned int fe_domid,
                          unsigned int dev_id)
{
    VdisplOptions o = h->opt.disp;
    g_autofree char *tag = NULL;
    g_autofree char *out_dir = NULL;
    unsigned int slot = 0, i;
    Vdispl *b;

    o.fe_domid = fe_domid;
    o.dev_id = dev_id;
    if (h->opt.all) {
        bool used;

        for (slot = 0;; slot++) {
            used = false;
            for (i = 0; i < h->devices->len; i++) {
                Vdispl *other = g_ptr_array_index(h->devices, i);

                used |= other->slot == slot;
            }
            if (!used) {
                break;
            }
        }
        tag = g_strdup_printf("vdispl %u/%u", fe_domid, dev_id);
        o.fe_auto = true;           /* the device's maker removes it */
        if (o.vnc_port > 0) {
            o.vnc_port += slot * XDF_BE_MAX_CONNECTORS;
            if (o.vnc_port + XDF_BE_MAX_CONNECTORS > 65535) {
                o.vnc_port = -1;
            }
        }
        if (o.output_dir) {
            out_dir = g_strdup_printf("%s/%u-%u", o.output_dir, fe_domid,
                                      dev_id);
            o.output_dir = out_dir;
        }
    }
    b = vdispl_new(&h->xen, &o, tag, &device_hooks, h);
    b->slot = slot;
    if (out_dir && g_mkdir_with_parents(out_dir, 0755) < 0) {
        xdf_log(NULL, "cannot make %s: %s; not serving %s", out_dir,
                strerror(errno), b->end.fe_path);
        vdispl_free(b);
        return NULL;
    }
    return b;
}

static void device_start(Host *h, Vdispl *b)
{
    if (h->opt.all) {
        /* the host watches the backend directories, we the frontend's */
        if (!xs_watch(h->xen.xs, b->end.fe_path, b->end.fe_path)) {
            xdf_log(&b->log, "cannot watch %s: %s", b->end.fe_path,
                    strerror(errno));
        }
        xdf_log(&b->log, "serving %s from %s; frames in %s, live view %s%d",
                b->end.fe_path, b->end.be_path,
                b->out_dir ? b->out_dir : "(not saved)",
                b->opt.vnc_port > 0 ? "on VNC port " : "off",
                b->opt.vnc_port > 0 ? b->opt.vnc_port : 0);
    } else {
        xdf_log(&b->log, "serving %s from %s", b->end.fe_path,
                b->end.be_path);
    }
    xb_start(&b->end);
}

/* Stop serving @b: its vkbd devices first, then the device itself. */
static void device_stop(Host *h, Vdispl *b, bool removed)
{
    if (h->kbds) {
        vkbds_unlink(h->kbds, b);
    }
    vdispl_stop(b, removed);
    if (h->opt.all) {
        xs_unwatch(h->xen.xs, b->end.fe_path, b->end.fe_path);
    }
    h->frames += b->frames;
    g_ptr_array_remove(h->devices, b);
    vdispl_free(b);
}

static Vdispl *device_find(Host *h, unsigned long fe_domid,
                           unsigned long dev_id)
{
    unsigned int i;

    for (i = 0; i < h->devices->len; i++) {
        Vdispl *b = g_ptr_array_index(h->devices, i);

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
static bool device_check(Host *h, Vdispl *b)
{
    if (b->opt.fe_auto) {
        g_autofree char *fe = xdf_xs_read(h->xen.xs, b->end.be_path,
                                          "frontend");

        if (!fe) {
            xdf_log(&b->log, "%s was removed: %s", b->end.be_path,
                    h->opt.all ? "no longer serving it" : "exiting");
            device_stop(h, b, true);
            h->quit |= !h->opt.all;
            return false;
        }
    }
    xb_reconcile(&b->end);
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
    Vdispl *b = device_find(h, fe_domid, dev_id);
    g_autofree char *fe = NULL;

    if (b) {
        return !device_check(h, b);
    }
    fe = xdf_xs_read(h->xen.xs, dir, "frontend");
    b = fe ? device_new(h, fe_domid, dev_id) : NULL;
    if (b) {
        g_ptr_array_add(h->devices, b);
        device_start(h, b);
    }
    return b != NULL;
}

static void device_dir_seen(void *opaque, const char *dir,
                            unsigned long fe_domid, unsigned long dev_id)
{
    device_dir_changed(opaque, dir, fe_domid, dev_id);
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
        Vdispl *b = g_ptr_array_index(h->devices, i);

        if ((dom >= 0 && b->opt.fe_domid != (unsigned long)dom) ||
            device_check(h, b)) {
            i++;
        }
    }
    xdf_backend_dirs_foreach(h->xen.xs, h->be_root, dom, device_dir_seen, h);
    vkbds_scan(h->kbds, dom);
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
        n = xdf_backend_path_split(path, h->be_root, &dom, &dev, &node);
        if (n == 2) {
            g_autofree char *dir = g_strdup_printf("%s/%lu/%lu", h->be_root,
                                                   dom, dev);

            if (device_dir_changed(h, dir, dom, dev)) {
                vkbds_scan(h->kbds, dom);
            }
        } else if (n >= 0) {
            devices_scan(h, n ? (long)dom : -1);
        }
        return;
    }
    for (i = 0; i < h->devices->len; i++) {
        Vdispl *b = g_ptr_array_index(h->devices, i);

        if (!strcmp(token, b->end.fe_path) || !strcmp(token, b->end.be_path)) {
            bool relink = changes_links(path, b->end.fe_path);

            dom = b->opt.fe_domid;
            if (!device_check(h, b) || relink) {
                vkbds_scan(h->kbds, dom);
            }
            return;
        }
    }
    /* else "kbd" or a vkbd device's; or one we no longer serve */
    vkbds_watch_event(h->kbds, path, token);
}

static void handle_watches(Host *h)
{
    char **w;

    while ((w = xs_check_watch(h->xen.xs))) {
        watch_event(h, w[XS_WATCH_PATH], w[XS_WATCH_TOKEN]);
        free(w);
    }
}

static unsigned long frames_received(Host *h)
{
    unsigned long n = h->frames;
    unsigned int i;

    for (i = 0; i < h->devices->len; i++) {
        n += ((Vdispl *)g_ptr_array_index(h->devices, i))->frames;
    }
    return n;
}

static void handle_events(Host *h)
{
    int port;
    unsigned int i;

    while ((port = xenevtchn_pending(h->xen.xe)) >= 0) {
        if (xenevtchn_unmask(h->xen.xe, port) < 0) {
            xdf_log(NULL, "cannot unmask port %d: %s", port,
                    strerror(errno));
        }
        for (i = 0; i < h->devices->len; i++) {
            vdispl_event(g_ptr_array_index(h->devices, i), port);
        }
        if (h->opt.exit_after_frames &&
            frames_received(h) >= h->opt.exit_after_frames) {
            xdf_log(NULL, "%lu frames received: exiting",
                    frames_received(h));
            h->quit = true;
            return;
        }
    }
}

/* Main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"Usage: xdf-backend [OPTION]...\n"
"\n"
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
"  --vnc PORT             live view: a VNC server on ADDRESS:PORT for\n"
"                         connector 0, PORT+1 for connector 1, ...; its\n"
"                         viewers' keys and pointer go to the connector's\n"
"                         vkbd device, if any (a console: keep it to\n"
"                         yourself); a port in use ends the backend\n"
"  --vnc-address ADDRESS  where the live views listen: an IPv4 address of\n"
"                         this host (default 127.0.0.1; 0.0.0.0: all)\n"
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
    if (!xdf_parse_uint(arg, max, out)) {
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
static bool read_vnc_password(const char *path, char **password)
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
    g_free(*password);
    *password = g_steal_pointer(&text);
    return true;
}

static bool parse_options(int argc, char **argv, Options *o)
{
    enum { O_FE = 256, O_DEV, O_DIR, O_EVERY, O_CHANGE, O_LAST, O_EXIT,
           O_TIMEOUT, O_VERBOSE, O_VNC, O_ALL, O_VNC_PASSWORD, O_MAX_MEM,
           O_VNC_ADDRESS, O_HELP };
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
        { "vnc-address", required_argument, NULL, O_VNC_ADDRESS },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    VdisplOptions *d = &o->disp;
    unsigned long v;
    int ch;

    d->max_device_memory = (uint64_t)XDF_MAX_DEVICE_MIB << 20;
    d->vnc_address = "127.0.0.1";
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *name = ch >= O_FE && ch <= O_HELP ?
                           longopts[ch - O_FE].name : "";
        g_autofree char *opt = g_strdup_printf("--%s", name);

        switch (ch) {
        case O_FE:
            if (!strcmp(optarg, "auto")) {
                d->fe_auto = true;
                break;
            }
            if (!parse_ulong(opt, optarg, 0x7fef, &v)) {
                return false;
            }
            d->fe_auto = false;
            d->fe_domid = v;
            break;
        case O_DEV:
            if (!parse_ulong(opt, optarg, INT32_MAX, &v)) {
                return false;
            }
            d->dev_id = v;
            break;
        case O_DIR:
            d->output_dir = optarg;
            break;
        case O_EVERY:
            if (!parse_ulong(opt, optarg, ULONG_MAX, &d->every)) {
                return false;
            }
            break;
        case O_CHANGE:
            d->on_change = true;
            break;
        case O_LAST:
            d->last_only = true;
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
            if (!parse_ulong(opt, optarg, 65535 - XDF_BE_MAX_CONNECTORS, &v) ||
                v == 0) {
                return false;
            }
            d->vnc_port = v;
            break;
        case O_ALL:
            o->all = true;
            break;
        case O_VNC_ADDRESS:
            if (!xdf_vnc_address_ok(optarg)) {
                fprintf(stderr, "xdf-backend: --vnc-address '%s' is not an "
                        "IPv4 address (such as 127.0.0.1)\n", optarg);
                return false;
            }
            d->vnc_address = optarg;
            break;
        case O_VNC_PASSWORD:
            if (!read_vnc_password(optarg, &d->vnc_passwords[0])) {
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
            d->max_device_memory = (uint64_t)v << 20;
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
    if (d->vnc_passwords[0] && d->vnc_port <= 0) {
        fprintf(stderr, "xdf-backend: --vnc-password-file is for the live "
                "view: it needs --vnc\n");
        return false;
    }
    if (o->all && d->fe_auto) {
        fprintf(stderr, "xdf-backend: --all serves every frontend domain: "
                "drop --frontend-domid\n");
        return false;
    }
    if (d->last_only && (!d->output_dir || d->every || d->on_change ||
                         d->vnc_port > 0)) {
        fprintf(stderr, "xdf-backend: --last-only saves DIR/conn<i>-last.png "
                "and reads no frame as it arrives: it needs --output-dir, "
                "without --every, --on-change or --vnc\n");
        return false;
    }
    if (d->output_dir && !d->every && !d->on_change && !d->last_only) {
        d->on_change = true;
    }
    if (d->output_dir) {
        struct stat st;

        if (stat(d->output_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "xdf-backend: --output-dir '%s' is not a "
                    "directory\n", d->output_dir);
            return false;
        }
    }
    return true;
}

static bool open_xen(XdfXen *x)
{
    int fl;

    x->xs = xs_open(0);
    if (!x->xs) {
        xdf_log(NULL, "cannot reach XenStore: %s (run in dom0 with "
                "xenstored, or under xensim: build/xensim run -- ...)",
                strerror(errno));
        return false;
    }
    x->xe = xenevtchn_open(NULL, 0);
    if (!x->xe) {
        xdf_log(NULL, "cannot open event channels: %s", strerror(errno));
        return false;
    }
    /*
     * handle_events() takes every pending port: a read of
     * /dev/xen/evtchn blocks when none is left, unless O_NONBLOCK.
     */
    fl = fcntl(xenevtchn_fd(x->xe), F_GETFL);
    if (fl < 0 || fcntl(xenevtchn_fd(x->xe), F_SETFL, fl | O_NONBLOCK) < 0) {
        xdf_log(NULL, "cannot make the event channel fd non-blocking: %s",
                strerror(errno));
        return false;
    }
    x->xg = xengnttab_open(NULL, 0);
    if (!x->xg) {
        xdf_log(NULL, "cannot open grant tables (gntdev): %s",
                strerror(errno));
        return false;
    }
    x->xgs = xengntshr_open(NULL, 0);
    if (!x->xgs) {
        /* only backend allocation needs it */
        xdf_log(NULL, "cannot open grant sharing (gntalloc): %s; backend "
                "allocation is off", strerror(errno));
    }
    return true;
}

static void close_xen(XdfXen *x)
{
    if (x->xgs) {
        xengntshr_close(x->xgs);
    }
    if (x->xg) {
        xengnttab_close(x->xg);
    }
    if (x->xe) {
        xenevtchn_close(x->xe);
    }
    if (x->xs) {
        xs_close(x->xs);
    }
}

/*
 * --frontend-domid auto: wait until a toolstack creates
 * <own>/backend/vdispl/<domid>/<dev-id>/frontend for some domain (xl does
 * at "xl create" with a vdispl line, and waits for our InitWait), and
 * take that domain.  False on a signal, a timeout or an error.
 */
static bool wait_for_device(Host *h, int sfd, int64_t end)
{
    struct xs_handle *xs = h->xen.xs;
    VdisplOptions *o = &h->opt.disp;
    g_autofree char *dir = g_strdup_printf("/local/domain/%lu/backend/%s",
                                           h->xen.own, XENDISPL_DRIVER_NAME);
    bool found = false;

    if (!xs_watch(xs, dir, "auto")) {
        xdf_log(NULL, "cannot watch %s: %s", dir, strerror(errno));
        return false;
    }
    xdf_log(NULL, "waiting for a toolstack to create vdispl device %u under "
            "%s", o->dev_id, dir);
    while (!found) {
        struct pollfd pfd[2] = {
            { .fd = xs_fileno(xs), .events = POLLIN },
            { .fd = sfd, .events = POLLIN },
        };
        unsigned int i, n = 0;
        char **doms = xs_directory(xs, XBT_NULL, dir, &n);
        char **w;

        for (i = 0; doms && i < n && !found; i++) {
            g_autofree char *dev = g_strdup_printf("%s/%s/%u", dir, doms[i],
                                                   o->dev_id);
            g_autofree char *fe = xdf_xs_read(xs, dev, "frontend");
            unsigned long domid;

            if (fe && xdf_parse_uint(doms[i], 0x7fef, &domid)) {
                o->fe_domid = domid;
                found = true;
            }
        }
        free(doms);
        if (found) {
            break;
        }
        if (poll(pfd, 2, end ? (int)MAX(0, end - xdf_now_ms()) : -1) < 0 &&
            errno != EINTR) {
            xdf_log(NULL, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents & POLLIN) {
            xdf_log(NULL, "signal while waiting for a device: exiting");
            break;
        }
        while ((w = xs_check_watch(xs))) {
            free(w);
        }
        if (end && xdf_now_ms() >= end) {
            xdf_log(NULL, "timeout: no vdispl device %u appeared under %s",
                    o->dev_id, dir);
            break;
        }
    }
    xs_unwatch(xs, dir, "auto");
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
    xdf_verbose = h->opt.verbose;
    h->devices = g_ptr_array_new();

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        xdf_log(NULL, "signalfd: %s", strerror(errno));
        return 1;
    }

    if (!open_xen(&h->xen)) {
        close_xen(&h->xen);
        return 1;
    }
    if (h->opt.timeout_s) {
        end = xdf_now_ms() + (int64_t)h->opt.timeout_s * 1000;
    }
    xdf_xs_read_uint(h->xen.xs, "", "domid", UINT16_MAX, &h->xen.own);
    h->be_root = g_strdup_printf("/local/domain/%lu/backend/%s", h->xen.own,
                                 XENDISPL_DRIVER_NAME);
    h->kbds = vkbds_new(&h->xen, h->devices);
    if (!h->kbds) {
        close_xen(&h->xen);
        return 1;
    }
    if (h->opt.all) {
        if (!xs_watch(h->xen.xs, h->be_root, "all")) {
            xdf_log(NULL, "cannot watch %s: %s", h->be_root, strerror(errno));
            close_xen(&h->xen);
            return 1;
        }
        xdf_log(NULL, "serving every vdispl device under %s", h->be_root);
        devices_scan(h, -1);
    } else {
        Vdispl *b;

        if (h->opt.disp.fe_auto && !wait_for_device(h, sfd, end)) {
            close_xen(&h->xen);
            return 2;
        }
        b = device_new(h, h->opt.disp.fe_domid, h->opt.disp.dev_id);
        g_ptr_array_add(h->devices, b);
        if (!xs_watch(h->xen.xs, b->end.fe_path, b->end.fe_path) ||
            !xs_watch(h->xen.xs, b->end.be_path, b->end.be_path)) {
            xdf_log(NULL, "cannot watch %s and %s: %s", b->end.fe_path,
                    b->end.be_path, strerror(errno));
            close_xen(&h->xen);
            return 1;
        }
        device_start(h, b);
        vkbds_scan(h->kbds, -1);
    }

    pfd[0] = (struct pollfd) { .fd = xs_fileno(h->xen.xs), .events = POLLIN };
    pfd[1] = (struct pollfd) { .fd = xenevtchn_fd(h->xen.xe),
                               .events = POLLIN };
    pfd[2] = (struct pollfd) { .fd = sfd, .events = POLLIN };
    while (!h->quit) {
        int timeout = -1;
        int64_t reset = 0;
        bool vnc = false;
        struct signalfd_siginfo si;

        if (end) {
            timeout = (int)MAX(0, end - xdf_now_ms());
        }
        for (i = 0; i < h->devices->len; i++) {
            Vdispl *b = g_ptr_array_index(h->devices, i);

            reset = xb_deadline(&b->end, reset);
            vnc |= b->opt.vnc_port > 0;
        }
        reset = vkbds_deadline(h->kbds, reset);
        if (reset) {
            int t = (int)MAX(0, reset - xdf_now_ms());

            timeout = timeout < 0 ? t : MIN(timeout, t);
        }
        if (vnc) {
            timeout = timeout < 0 ? 20 : MIN(timeout, 20);  /* VNC clients */
        }
        if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
            xdf_log(NULL, "poll: %s", strerror(errno));
            h->exit_status = 1;
            break;
        }
        if (pfd[2].revents & POLLIN) {
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGUSR1) {
                    xdf_log(NULL, "SIGUSR1: saving what each connector "
                            "shows");
                    for (i = 0; i < h->devices->len; i++) {
                        vdispl_save_last(g_ptr_array_index(h->devices, i));
                    }
                } else {
                    xdf_log(NULL, "%s: exiting", strsignal(si.ssi_signo));
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
            vdispl_poll(g_ptr_array_index(h->devices, i));
        }
        vkbds_poll(h->kbds);
        if (end && xdf_now_ms() >= end && !h->quit) {
            xdf_log(NULL, "timeout after %u s", h->opt.timeout_s);
            if (h->opt.exit_after_frames) {
                h->exit_status = 2;
            }
            h->quit = true;
        }
    }

    /* the vkbd devices first: closed as we go, not unlinked one by one */
    vkbds_free(h->kbds);
    h->kbds = NULL;
    while (h->devices->len) {
        device_stop(h, g_ptr_array_index(h->devices, 0), false);
    }
    g_ptr_array_free(h->devices, TRUE);
    close_xen(&h->xen);
    g_free(h->be_root);
    close(sfd);
    return h->exit_status;
}
