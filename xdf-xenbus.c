/*
 * xen-displfront: XenBus, a frontend device's life in XenStore (see
 * xdf-xenbus.h)
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "qemu/uuid.h"
#include "system/system.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "xdf-xenbus.h"

#define XDF_XS_TRIES            16      /* XenStore transaction retries */
#define XDF_MAX_AUTO_DEV_ID     1023    /* dev-id=auto: 0 to this */
#define XDF_RETRY_MS            100     /* first reconnect backoff */
#define XDF_SHORT_LIVED_MS      5000    /* a connection that ends sooner */
#define XDF_BE_RECREATE_MS      5000    /* a backend Closed this long */
#define XDF_BE_GONE_MS          500     /* its directory away this long */

/* States ----------------------------------------------------------------- */

static void xdf_xenbus_set_state(XdfXenbus *xb, enum xenbus_state state)
{
    Error *local_err = NULL;

    if (xb->state == state) {
        return;
    }
    trace_xen_displfront_state(xb->x->id, xb->name,
                               xs_strstate(xb->state), xs_strstate(state));
    xb->state = state;
    xs_node_printf(xb->x->xsh, XBT_NULL, xb->fe_path, "state", &local_err,
                   "%u", state);
    if (local_err) {
        xdf_report_err(xb->x, XDF_ERROR, local_err);
    }
}

void xdf_xs_printf(struct qemu_xs_handle *h, xs_transaction_t t,
                   const char *node, const char *key, Error **errp,
                   const char *fmt, ...)
{
    ERRP_GUARD();
    va_list ap;

    if (*errp) {
        return;
    }
    va_start(ap, fmt);
    xs_node_vprintf(h, t, node, key, errp, fmt, ap);
    va_end(ap);
}


/* @what names the job in errors. */
bool xdf_xs_transaction(XdfXenbus *xb, XdfXsWrite *write, const char *what,
                        Error **errp)
{
    struct qemu_xs_handle *h = xb->x->xsh;
    Error *local_err = NULL;
    xs_transaction_t t;
    int tries;

    for (tries = 0; tries < XDF_XS_TRIES; tries++) {
        t = qemu_xen_xs_transaction_start(h);
        if (t == XBT_NULL) {
            error_setg_errno(errp, errno, "cannot %s: no XenStore "
                             "transaction", what);
            return false;
        }
        write(xb, t, &local_err);
        if (local_err) {
            qemu_xen_xs_transaction_end(h, t, true);
            error_propagate_prepend(errp, local_err, "cannot %s: ", what);
            return false;
        }
        if (qemu_xen_xs_transaction_end(h, t, false)) {
            return true;
        }
        if (errno != EAGAIN) {
            error_setg_errno(errp, errno, "cannot %s", what);
            return false;
        }
    }
    error_setg(errp, "cannot %s: XenStore transactions kept conflicting "
               "(%d tries)", what, XDF_XS_TRIES);
    return false;
}

/*
 * The frontend and backend directories, as a toolstack would write them
 * (xl.cfg's vdispl= or vkb=), when none exist yet.  Owner of each is its
 * own domain, and the other end may read it.  The backend's first:
 */
static void xdf_write_be_nodes(XdfXenbus *xb, xs_transaction_t t,
                               Error **errp)
{
    ERRP_GUARD();
    XdfXen *x = xb->x;
    struct qemu_xs_handle *h = x->xsh;

    xs_node_create(h, t, xb->be_path, x->backend_domid, x->frontend_domid,
                   XS_PERM_READ, errp);
    xdf_xs_printf(h, t, xb->be_path, "frontend", errp, "%s", xb->fe_path);
    xdf_xs_printf(h, t, xb->be_path, "frontend-id", errp, "%" PRIu32,
                  x->frontend_domid);
    xdf_xs_printf(h, t, xb->be_path, "online", errp, "1");
    xdf_xs_printf(h, t, xb->be_path, "state", errp, "%u",
                  XenbusStateInitialising);
    if (!*errp && xb->ops->be_nodes_txn) {
        xb->ops->be_nodes_txn(xb, t, errp);
    }
}

static void xdf_write_nodes_txn(XdfXenbus *xb, xs_transaction_t t,
                               Error **errp)
{
    ERRP_GUARD();
    XdfXen *x = xb->x;
    struct qemu_xs_handle *h = x->xsh;
    Error *stale = NULL;

    /* whatever an earlier run left */
    xs_node_destroy(h, t, xb->fe_path, &stale);
    error_free(stale);
    stale = NULL;
    xs_node_destroy(h, t, xb->be_path, &stale);
    error_free(stale);

    xs_node_create(h, t, xb->fe_path, x->frontend_domid, x->backend_domid,
                   XS_PERM_READ, errp);
    if (*errp) {
        return;
    }
    xdf_write_be_nodes(xb, t, errp);
    xdf_xs_printf(h, t, xb->fe_path, "backend", errp, "%s", xb->be_path);
    xdf_xs_printf(h, t, xb->fe_path, "backend-id", errp, "%" PRIu32,
                  x->backend_domid);
    if (!*errp && xb->ops->fe_nodes_txn) {
        xb->ops->fe_nodes_txn(xb, t, errp);
    }
    xdf_xs_printf(h, t, xb->fe_path, "state", errp, "%u",
                  XenbusStateInitialising);
}

/*
 * Ownership.  Every QEMU in a domain is a vdispl (and vkbd) frontend of
 * that domain, so the devices of all its guests meet under one
 * device/vdispl/ (and device/vkbd/).  A device claims its index in a
 * transaction and records itself in <frontend dir>/owner/: pid,
 * pid-start (its start time, so that a reused pid is not taken for it)
 * and pid-ns (its PID namespace, in which alone the pid means it), the
 * VM's name and UUID, the qdev id, and who wrote the directories
 * ("device": us, "toolstack": xl.cfg's vdispl= or vkb=).  A directory is
 * taken from another owner only when that owner is proved gone: a
 * device that cannot tell (another PID namespace, /proc hidden or
 * absent, no start time) leaves it alone, as if in use.
 */

/* Start time of process @pid (/proc/PID/stat field 22); false if none. */
static bool xdf_pid_start(uint64_t pid, uint64_t *start)
{
    g_autofree char *path = g_strdup_printf("/proc/%" PRIu64 "/stat", pid);
    g_autofree char *stat = NULL;
    const char *p, *end;
    int field;

    if (!g_file_get_contents(path, &stat, NULL, NULL)) {
        return false;
    }
    /* field 2 is the command in parentheses, which may hold anything */
    p = strrchr(stat, ')');
    for (field = 3; p && field <= 22; field++) {
        p = strchr(p + 1, ' ');
    }
    return p && !qemu_strtou64(p + 1, &end, 10, start) && *end == ' ';
}

/* This process, as owner records name it. */
typedef struct XdfSelf {
    uint64_t start;             /* 0: unknown */
    char *pid_ns;               /* NULL: unknown */
} XdfSelf;

/*
 * Read once, at the first claim: QEMU's -chroot and -runas come after
 * the devices of its command line, and may leave no /proc behind.
 */
static const XdfSelf *xdf_self(void)
{
    static XdfSelf self;
    static bool known;

    if (!known) {
        if (!xdf_pid_start(getpid(), &self.start)) {
            self.start = 0;
        }
        self.pid_ns = g_file_read_link("/proc/self/ns/pid", NULL);
        known = true;
    }
    return &self;
}

/* What we know of the process that recorded an owner. */
typedef enum XdfOwnerLife {
    XDF_OWNER_ALIVE,
    XDF_OWNER_DEAD,
    XDF_OWNER_UNKNOWN,
} XdfOwnerLife;

/*
 * Is the QEMU that recorded @pid (1 to INT32_MAX), @start and @pid_ns
 * still running?  Dead only when proved: no such process in our PID
 * namespace, or another one by now (another start time).  Otherwise
 * *@why says what keeps us from telling.
 */
static XdfOwnerLife xdf_owner_life(uint64_t pid, uint64_t start,
                                   const char *pid_ns, char **why)
{
    const XdfSelf *self = xdf_self();
    uint64_t now;

    if (!self->pid_ns || !pid_ns || strcmp(pid_ns, self->pid_ns)) {
        *why = g_strdup_printf("it recorded %s%s, this QEMU is in %s: "
                               "its pid means nothing here",
                               pid_ns ? "PID namespace " : "no PID namespace",
                               pid_ns ? pid_ns : "",
                               self->pid_ns ? self->pid_ns :
                               "an unknown one (no /proc)");
        return XDF_OWNER_UNKNOWN;
    }
    if (pid == getpid()) {
        return start == self->start ? XDF_OWNER_ALIVE : XDF_OWNER_DEAD;
    }
    if (kill(pid, 0) && errno == ESRCH) {
        return XDF_OWNER_DEAD;
    }
    if (!start) {
        *why = g_strdup_printf("a process %" PRIu64 " runs, and the owner "
                               "recorded no start time to tell whether it "
                               "is the same one", pid);
        return XDF_OWNER_UNKNOWN;
    }
    if (!xdf_pid_start(pid, &now)) {
        *why = g_strdup_printf("a process %" PRIu64 " runs, but /proc/%"
                               PRIu64 "/stat cannot be read (hidepid?) to "
                               "tell whether it is the same one", pid, pid);
        return XDF_OWNER_UNKNOWN;
    }
    return now == start ? XDF_OWNER_ALIVE : XDF_OWNER_DEAD;
}

typedef enum XdfDirKind {
    XDF_DIR_FREE,           /* no frontend directory */
    XDF_DIR_STALE,          /* left by a QEMU that died, or half made */
    XDF_DIR_TOOLSTACK,      /* a toolstack's, with no live user */
    XDF_DIR_IN_USE,         /* a live QEMU's, or another device's */
    XDF_DIR_UNKNOWN,        /* a QEMU's that may be gone: we cannot tell */
    XDF_DIR_FOREIGN,        /* a toolstack's we cannot serve */
} XdfDirKind;

static const char *const xdf_dir_kind_names[] = {
    [XDF_DIR_FREE] = "free",
    [XDF_DIR_STALE] = "reclaimed",
    [XDF_DIR_TOOLSTACK] = "toolstack",
    [XDF_DIR_IN_USE] = "in use",
    [XDF_DIR_UNKNOWN] = "owner alive or dead",
    [XDF_DIR_FOREIGN] = "toolstack, not ours to serve",
};

/*
 * What frontend directory @fe is to us; for one in use, or whose owner
 * may be gone, *@owner names the QEMU (and device) that has it.
 */
static XdfDirKind xdf_dir_kind(XdfXenbus *xb, xs_transaction_t t,
                               const char *fe, char **owner)
{
    struct qemu_xs_handle *h = xb->x->xsh;
    g_autofree char *dir = xs_node_read(h, t, NULL, NULL, "%s", fe);
    g_autofree char *pid_str = NULL;
    g_autofree char *nodes = NULL;
    g_autofree char *backend = NULL;
    g_autofree char *vm = NULL;
    g_autofree char *dev = NULL;
    g_autofree char *pid_ns = NULL;
    g_autofree char *why = NULL;
    uint64_t pid = 0, start = 0;
    XdfOwnerLife life;

    if (!dir) {
        return XDF_DIR_FREE;
    }
    pid_str = xs_node_read(h, t, NULL, NULL, "%s/owner/pid", fe);
    if (!pid_str) {
        /* nobody's: a toolstack's, or half made */
        backend = xs_node_read(h, t, NULL, NULL, "%s/backend", fe);
        return backend ? XDF_DIR_TOOLSTACK : XDF_DIR_STALE;
    }
    if (qemu_strtou64(pid_str, NULL, 10, &pid) || !pid || pid > INT32_MAX) {
        life = XDF_OWNER_UNKNOWN;
        why = g_strdup_printf("its owner's pid '%s' is no process id",
                              pid_str);
    } else {
        xs_node_scanf(h, t, fe, "owner/pid-start", NULL, "%" SCNu64, &start);
        pid_ns = xs_node_read(h, t, NULL, NULL, "%s/owner/pid-ns", fe);
        life = xdf_owner_life(pid, start, pid_ns, &why);
    }
    if (life == XDF_OWNER_DEAD) {
        nodes = xs_node_read(h, t, NULL, NULL, "%s/owner/nodes", fe);
        return nodes && !strcmp(nodes, "toolstack") ? XDF_DIR_TOOLSTACK :
               XDF_DIR_STALE;
    }
    vm = xs_node_read(h, t, NULL, NULL, "%s/owner/vm-name", fe);
    dev = xs_node_read(h, t, NULL, NULL, "%s/owner/device", fe);
    *owner = g_strdup_printf("xen-displfront '%s' of %s (pid %s%s%s%s)%s%s",
                             dev ? dev : "?",
                             pid == getpid() ? "this QEMU" : "QEMU",
                             pid_str, vm && *vm ? ", VM '" : "",
                             vm && *vm ? vm : "", vm && *vm ? "'" : "",
                             why ? ", which may have exited: this QEMU "
                             "cannot tell, as " : "", why ? why : "");
    return life == XDF_OWNER_ALIVE ? XDF_DIR_IN_USE : XDF_DIR_UNKNOWN;
}

/* Where backend directory @be_driver of device @idx is. */
static char *xdf_be_path(XdfXenbus *xb, const char *be_driver, uint32_t idx)
{
    return g_strdup_printf("/local/domain/%" PRIu32 "/backend/%s/%" PRIu32
                           "/%" PRIu32, xb->x->backend_domid, be_driver,
                           xb->x->frontend_domid, idx);
}

static void xdf_set_paths(XdfXenbus *xb)
{
    XdfXen *x = xb->x;

    g_free(xb->name);
    g_free(xb->fe_path);
    g_free(xb->be_path);
    xb->name = g_strdup_printf("%s/%" PRIu32, xb->ops->driver, xb->dev_id);
    xb->fe_path = g_strdup_printf("/local/domain/%" PRIu32
                                  "/device/%s/%" PRIu32, x->frontend_domid,
                                  xb->ops->driver, xb->dev_id);
    xb->be_path = xdf_be_path(xb, xb->be_driver, xb->dev_id);
}

/*
 * Is toolstack directory @fe's backend @be (as its "backend" node says)
 * one we can be served from: backend-domid's for device @idx, of a kind
 * the ops name (a vkbd's is vinput or vkbd, wherever the toolstack put
 * it)?  If not, *@why.
 */
bool xdf_toolstack_backend(XdfXenbus *xb, const char *fe, const char *be,
                           uint32_t idx, char **why)
{
    g_autoptr(GString) want = g_string_new(NULL);
    unsigned int i;

    for (i = 0; xb->ops->be_drivers[i]; i++) {
        g_autofree char *path = xdf_be_path(xb, xb->ops->be_drivers[i], idx);

        if (be && !strcmp(be, path)) {
            return true;
        }
        g_string_append_printf(want, "%s'%s'", i ? " or " : "", path);
    }
    *why = g_strdup_printf("%s/backend is '%s', not %s: check "
                           "backend-domid and frontend-domid", fe,
                           be ? be : "(none)", want->str);
    return false;
}

static gint xdf_cmp_u32(gconstpointer a, gconstpointer b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * The device indices a claim looks at, in order: the one asked for; with
 * dev-id=auto 0 to XDF_MAX_AUTO_DEV_ID, or, for a device that only takes
 * a toolstack's directories (adopt_only), those under @base.
 */
static GArray *xdf_claim_candidates(XdfXenbus *xb, xs_transaction_t t,
                                    const char *base)
{
    GArray *c = g_array_new(false, false, sizeof(uint32_t));
    unsigned int i, n = 0;
    uint32_t idx;
    char **dirs;

    if (!xb->dev_id_auto) {
        g_array_append_val(c, xb->dev_id);
    } else if (!xb->adopt_only) {
        for (idx = 0; idx <= XDF_MAX_AUTO_DEV_ID; idx++) {
            g_array_append_val(c, idx);
        }
    } else {
        dirs = qemu_xen_xs_directory(xb->x->xsh, t, base, &n);
        for (i = 0; dirs && i < n; i++) {
            if (!qemu_strtoui(dirs[i], NULL, 10, &idx) &&
                g_ascii_isdigit(dirs[i][0]) && idx <= INT32_MAX) {
                g_array_append_val(c, idx);
            }
        }
        free(dirs);
        g_array_sort(c, xdf_cmp_u32);
    }
    return c;
}

/*
 * Claim a device index: the one asked for unless a live device has it
 * (or one we cannot tell from a dead one), or with dev-id=auto the
 * lowest that is free, stale or a toolstack's with no live user that the
 * ops may take (a toolstack's we cannot serve is skipped; the skipped
 * list says why, for after the transaction).  A toolstack's directory is
 * adopted; any other is (re)written.  Then our owner record goes in.
 */
static void xdf_claim_txn(XdfXenbus *xb, xs_transaction_t t, Error **errp)
{
    XdfXen *x = xb->x;
    struct qemu_xs_handle *h = x->xsh;
    const char *driver = xb->ops->driver;
    const XdfSelf *self = xdf_self();
    g_autofree char *base = g_strdup_printf("/local/domain/%" PRIu32
                                            "/device/%s", x->frontend_domid,
                                            driver);
    g_autoptr(GArray) candidates = xdf_claim_candidates(xb, t, base);
    g_autofree char *owner = NULL;
    XdfDirKind kind = XDF_DIR_FREE;
    bool found = false;
    Error *stale = NULL;
    uint32_t idx = 0;
    guint i;

    g_ptr_array_set_size(xb->skipped, 0);
    xb->waiting = false;
    for (i = 0; i < candidates->len && !found; i++) {
        g_autofree char *fe = NULL;

        idx = g_array_index(candidates, uint32_t, i);
        fe = g_strdup_printf("%s/%" PRIu32, base, idx);
        g_clear_pointer(&owner, g_free);
        kind = xdf_dir_kind(xb, t, fe, &owner);
        if (kind == XDF_DIR_TOOLSTACK) {
            switch (xb->ops->adopt_txn(xb, t, fe, idx, &owner)) {
            case XDF_ADOPT_OTHER:
                kind = XDF_DIR_IN_USE;
                g_free(owner);
                owner = g_strdup("its toolstack, for another device");
                break;
            case XDF_ADOPT_NO:
                kind = XDF_DIR_FOREIGN;
                g_ptr_array_add(xb->skipped,
                                g_strdup_printf("leaving %s/%" PRIu32
                                                " to its toolstack: %s",
                                                driver, idx, owner));
                break;
            default:
                break;
            }
        }
        found = kind == XDF_DIR_TOOLSTACK ||
                (!xb->adopt_only &&
                 (kind == XDF_DIR_FREE || kind == XDF_DIR_STALE));
        if (!found) {
            trace_xen_displfront_claim_skip(x->id, driver, idx,
                                            xdf_dir_kind_names[kind]);
        }
    }
    if (!found) {
        if (xb->adopt_only) {
            xb->waiting = true;     /* none of the toolstack's yet */
        } else if (xb->dev_id_auto) {
            error_setg(errp, "every %s dev-id from 0 to %d of frontend "
                       "domain %" PRIu32 " is in use", driver,
                       XDF_MAX_AUTO_DEV_ID, x->frontend_domid);
        } else if (kind == XDF_DIR_FOREIGN) {
            g_ptr_array_set_size(xb->skipped, 0);
            error_setg(errp, "dev-id %" PRIu32 ": %s", xb->dev_id, owner);
        } else {
            error_setg(errp, "dev-id %" PRIu32 " is in use by %s",
                       xb->dev_id, owner);
            if (kind == XDF_DIR_UNKNOWN) {
                error_append_hint(errp, "If that QEMU has exited, remove "
                                  "%s/%" PRIu32 " and its backend directory "
                                  "(xenstore-rm).\n", base, xb->dev_id);
            }
            error_append_hint(errp, "Leave dev-id out (or say dev-id=auto) "
                              "to take the lowest free index.\n");
        }
        return;
    }
    xb->dev_id = idx;
    xdf_set_paths(xb);
    trace_xen_displfront_claim(x->id, driver, xb->dev_id,
                               xdf_dir_kind_names[kind]);

    xb->wrote_nodes = kind != XDF_DIR_TOOLSTACK;
    if (xb->wrote_nodes) {
        xdf_write_nodes_txn(xb, t, errp);
    } else {
        /* a dead user's record; the backend is where the toolstack says */
        g_autofree char *rec = g_strdup_printf("%s/owner", xb->fe_path);

        xs_node_destroy(h, t, rec, &stale);
        error_free(stale);
        g_free(xb->be_path);
        xb->be_path = xs_node_read(h, t, NULL, NULL, "%s/backend",
                                   xb->fe_path);
        if (!xb->be_path) {
            error_setg(errp, "%s/backend is gone", xb->fe_path);
            return;
        }
    }
    xdf_xs_printf(h, t, xb->fe_path, "owner/pid", errp, "%d", getpid());
    xdf_xs_printf(h, t, xb->fe_path, "owner/pid-start", errp, "%" PRIu64,
                  self->start);
    if (self->pid_ns) {
        xdf_xs_printf(h, t, xb->fe_path, "owner/pid-ns", errp, "%s",
                      self->pid_ns);
    }
    xdf_xs_printf(h, t, xb->fe_path, "owner/vm-name", errp, "%s",
                  qemu_name ? qemu_name : "");
    if (qemu_uuid_set) {
        g_autofree char *uuid = qemu_uuid_unparse_strdup(&qemu_uuid);

        xdf_xs_printf(h, t, xb->fe_path, "owner/vm-uuid", errp, "%s", uuid);
    }
    xdf_xs_printf(h, t, xb->fe_path, "owner/device", errp, "%s",
                  x->id);
    xdf_xs_printf(h, t, xb->fe_path, "owner/nodes", errp, "%s",
                  xb->wrote_nodes ? "device" : "toolstack");
}

/*
 * Is our owner record still in fe_path (read in transaction @t)?  If
 * not, lost_to_pid says whose it is (-1: nobody's) for the caller to
 * report once the transaction is over.
 */
static bool xdf_still_ours(XdfXenbus *xb, xs_transaction_t t)
{
    struct qemu_xs_handle *h = xb->x->xsh;
    g_autofree char *pid_ns = xs_node_read(h, t, NULL, NULL,
                                           "%s/owner/pid-ns", xb->fe_path);
    const XdfSelf *self = xdf_self();
    uint64_t start = 0;
    int pid = 0;

    xb->lost_to_pid = 0;
    if (xs_node_scanf(h, t, xb->fe_path, "owner/pid", NULL, "%d",
                      &pid) != 1 ||
        xs_node_scanf(h, t, xb->fe_path, "owner/pid-start", NULL,
                      "%" SCNu64, &start) != 1 ||
        pid != getpid() || start != self->start ||
        g_strcmp0(pid_ns, self->pid_ns)) {
        xb->lost_to_pid = pid ? pid : -1;
        return false;
    }
    return true;
}

/* After a transaction that found our record gone: say so, once. */
static void xdf_report_lost(XdfXenbus *xb)
{
    if (xb->lost_to_pid) {
        xdf_report(xb->x, XDF_WARN, "%s is no longer ours (owner pid %d): "
                   "leaving it", xb->fe_path,
                    MAX(xb->lost_to_pid, 0));
        xb->lost_to_pid = 0;
    }
}

/*
 * Let go of our device: the directories we wrote, or our record in a
 * toolstack's; nothing if the record is not ours any more.
 */
static void xdf_release_txn(XdfXenbus *xb, xs_transaction_t t, Error **errp)
{
    ERRP_GUARD();
    struct qemu_xs_handle *h = xb->x->xsh;

    if (!xdf_still_ours(xb, t)) {
        return;
    }
    if (xb->wrote_nodes) {
        xs_node_destroy(h, t, xb->fe_path, errp);
        if (!*errp) {
            xs_node_destroy(h, t, xb->be_path, errp);
        }
    } else {
        g_autofree char *rec = g_strdup_printf("%s/owner", xb->fe_path);

        xs_node_destroy(h, t, rec, errp);
    }
}

/*
 * The backend directory anew (our own, as we wrote it), in two steps:
 * backends built on libxenbe (displ_be) stop serving a device after an
 * error, and forget it only when their watch finds its directory gone.
 * First remove it...
 */
static void xdf_remove_be_txn(XdfXenbus *xb, xs_transaction_t t,
                             Error **errp)
{
    if (xdf_still_ours(xb, t)) {
        xs_node_destroy(xb->x->xsh, t, xb->be_path, errp);
    }
}

/* ... then, a while later, write it again (unless somebody else has). */
static void xdf_rewrite_be_txn(XdfXenbus *xb, xs_transaction_t t,
                              Error **errp)
{
    g_autofree char *there = NULL;

    if (!xdf_still_ours(xb, t)) {
        return;
    }
    there = xs_node_read(xb->x->xsh, t, NULL, NULL, "%s", xb->be_path);
    if (!there) {
        xdf_write_be_nodes(xb, t, errp);
    }
}

/*
 * Claim a device (xb->dev_id, or with dev_id_auto the lowest free
 * index): write its directories, or take a toolstack's, with our owner
 * record.
 */
bool xdf_xenbus_claim(XdfXenbus *xb, Error **errp)
{
    g_autofree char *what = g_strdup_printf("claim a %s device",
                                            xb->ops->driver);
    bool ok;
    guint i;

    if (!xb->skipped) {
        xb->skipped = g_ptr_array_new_with_free_func(g_free);
        xb->said = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         NULL);
    }
    ok = xdf_xs_transaction(xb, xdf_claim_txn, what, errp);
    for (i = 0; i < xb->skipped->len; i++) {
        char *line = g_ptr_array_index(xb->skipped, i);

        /* once each, however often a waiting device looks */
        if (g_hash_table_add(xb->said, g_strdup(line))) {
            xdf_report(xb->x, XDF_WARN, "%s", line);
        }
    }
    g_ptr_array_set_size(xb->skipped, 0);
    xb->claimed = ok && !xb->waiting;
    return ok;
}

static void xdf_xenbus_unwatch_dirs(XdfXenbus *xb)
{
    if (xb->dir_watch) {
        qemu_xen_xs_unwatch(xb->x->xsh, xb->dir_watch);
        xb->dir_watch = NULL;
    }
}

/*
 * Something changed under the directories a waiting device looks at:
 * look again; once one is ours, stop looking and go on (ops->claimed).
 */
static void xdf_xenbus_dirs_changed(void *opaque, const char *path)
{
    XdfXenbus *xb = opaque;
    Error *local_err = NULL;

    if (!xb->waiting) {
        return;
    }
    if (!xdf_xenbus_claim(xb, &local_err)) {
        /* XenStore trouble: the next change tries again */
        xdf_report_err(xb->x, XDF_ERROR, local_err);
        xb->waiting = true;
        return;
    }
    if (xb->waiting) {
        return;
    }
    xdf_xenbus_unwatch_dirs(xb);
    trace_xen_displfront_adopted(xb->x->id, xb->fe_path);
    xb->ops->claimed(xb);
}

/*
 * A device that found none of the toolstack's directories it may take:
 * say what it waits for, once, and watch for it (no polling).
 */
bool xdf_xenbus_wait(XdfXenbus *xb, Error **errp)
{
    XdfXen *x = xb->x;
    g_autofree char *base = g_strdup_printf("/local/domain/%" PRIu32
                                            "/device/%s", x->frontend_domid,
                                            xb->ops->driver);

    xdf_report(x, XDF_INFO, "waiting for the toolstack to write %s under %s "
               "(QEMU in a stub domain may not write its own devices: in "
               "dom0, run xdf-stubdom-attach)", xb->waiting_for, base);
    xb->dir_watch = xs_node_watch(x->xsh, "", base, xdf_xenbus_dirs_changed, xb,
                                  errp);
    return xb->dir_watch != NULL;
}

static void xdf_xenbus_release(XdfXenbus *xb)
{
    Error *local_err = NULL;
    g_autofree char *what = NULL;

    if (!xb->claimed) {
        return;
    }
    what = g_strdup_printf("remove the %s nodes", xb->ops->driver);
    if (!xdf_xs_transaction(xb, xdf_release_txn, what, &local_err)) {
        xdf_report_err(xb->x, XDF_ERROR, local_err);
    }
    xdf_report_lost(xb);
    xb->claimed = false;
}

/*
 * Drop the connection.  One that ended in a failure, that never worked
 * -- refused, broken, or closed by the backend -- or that ended within
 * XDF_SHORT_LIVED_MS of its start, however clean its handshake, counts
 * as failed: the next attempt waits longer, so that no fault, ours or
 * the backend's, and no backend that keeps connecting and closing,
 * makes a busy loop.  One that worked for longer ends the streak.
 */
static void xdf_xenbus_disconnect(XdfXenbus *xb)
{
    bool worked = xb->ops->disconnect(xb);
    bool lasted = worked && qemu_clock_get_ms(QEMU_CLOCK_REALTIME) -
                            xb->attempt_ms >= XDF_SHORT_LIVED_MS;

    if (lasted) {
        xb->fail_streak = 0;
    }
    if (xb->attempting && (!lasted || xb->broken)) {
        xb->fail_streak = MIN(xb->fail_streak + 1, 16);
    }
    xb->attempting = false;
    xb->broken = false;
}

/*
 * The backend broke the protocol (the caller has said how): close the
 * connection, never QEMU or the guest.  A failure even if it had worked:
 * the next attempt waits longer.
 */
void xdf_xenbus_failed(XdfXenbus *xb, const char *why)
{
    g_free(xb->last_error);
    xb->last_error = g_strdup(why);
    xb->broken = true;
    xdf_xenbus_disconnect(xb);
    xdf_xenbus_set_state(xb, XenbusStateClosing);
    xdf_xenbus_set_state(xb, XenbusStateClosed);
}

/* Call xdf_xenbus_retry() after the backoff the failures so far earn. */
static void xdf_xenbus_schedule_retry(XdfXenbus *xb)
{
    /* 100 ms after the first failure, doubling up to 6.4 s */
    uint32_t ms = XDF_RETRY_MS << MIN(xb->fail_streak - 1, 6);

    trace_xen_displfront_retry(xb->x->id, xb->name, xb->fail_streak,
                               ms);
    timer_mod(xb->retry_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
}

static enum xenbus_state xdf_xenbus_read_be_state(XdfXenbus *xb)
{
    unsigned int state;

    if (xs_node_scanf(xb->x->xsh, XBT_NULL, xb->be_path, "state", NULL,
                      "%u", &state) != 1 ||
        state > XenbusStateReconfigured) {
        return XenbusStateUnknown;
    }
    return state;
}

/*
 * For a backend in InitWait: publish what it needs and go Initialised;
 * on failure say why and stay Initialising.
 */
static void xdf_xenbus_initialise(XdfXenbus *xb)
{
    Error *local_err = NULL;

    xb->attempting = true;
    xb->attempt_ms = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    xb->broken = false;
    if (!xb->ops->connect(xb, &local_err)) {
        g_free(xb->last_error);
        xb->last_error = g_strdup(error_get_pretty(local_err));
        xdf_report_err(xb->x, XDF_ERROR, local_err);
        xdf_xenbus_disconnect(xb);
        /* the backend stays in InitWait: try again after a while */
        xdf_xenbus_schedule_retry(xb);
        return;
    }
    xdf_xenbus_set_state(xb, XenbusStateInitialised);
}

/* The state machine of displif.h (and kbdif.h), driven by the backend. */
static void xdf_xenbus_backend_changed(void *opaque, const char *path)
{
    XdfXenbus *xb = opaque;
    enum xenbus_state be = xdf_xenbus_read_be_state(xb);

    if (be == xb->be_state) {
        return;
    }
    trace_xen_displfront_backend_state(xb->x->id, xb->name,
                                       xs_strstate(xb->be_state),
                                       xs_strstate(be));
    xb->be_state = be;
    if (be == XenbusStateClosed && xb->wrote_nodes) {
        timer_mod(xb->recreate_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                  XDF_BE_RECREATE_MS);
    } else if (!xb->recreating) {
        timer_del(xb->recreate_timer);
    }

    switch (be) {
    case XenbusStateInitWait:
        /*
         * A backend that restarted may come straight back to InitWait
         * (XenStore watches coalesce): drop the old connection first.
         */
        if (xb->state != XenbusStateInitialising &&
            xb->state != XenbusStateClosed) {
            xdf_xenbus_disconnect(xb);
        }
        xdf_xenbus_set_state(xb, XenbusStateInitialising);
        if (xb->fail_streak) {
            xdf_xenbus_schedule_retry(xb);
            break;
        }
        xdf_xenbus_initialise(xb);
        break;

    case XenbusStateConnected:
        if (xb->state != XenbusStateInitialised) {
            break;
        }
        xdf_xenbus_set_state(xb, XenbusStateConnected);
        xb->connections++;
        xb->ops->connected(xb);
        break;

    case XenbusStateClosing:
    case XenbusStateClosed:
    case XenbusStateUnknown:
        /* Backend went away: drop everything, wait for it to come back. */
        timer_del(xb->retry_timer);
        if (xb->state == XenbusStateInitialising) {
            break;
        }
        xdf_xenbus_disconnect(xb);
        xdf_xenbus_set_state(xb, XenbusStateInitialising);
        break;

    default:
        break;
    }
}

/*
 * The backend has stayed Closed: backends built on libxenbe (displ_be)
 * serve a device again only once its directory is made anew, as a
 * toolstack would: removed, and XDF_BE_GONE_MS later written again, two
 * changes their watch sees.  Only a directory we wrote; a toolstack's is
 * its own.
 */
static void xdf_xenbus_recreate_backend(void *opaque)
{
    XdfXenbus *xb = opaque;
    bool remove = !xb->recreating;
    Error *local_err = NULL;

    if (remove && (xb->be_state != XenbusStateClosed || !xb->wrote_nodes)) {
        return;
    }
    xb->recreating = false;
    trace_xen_displfront_recreate(xb->x->id, xb->be_path,
                                  remove ? "removing" : "writing",
                                  remove ? XDF_BE_RECREATE_MS :
                                           XDF_BE_GONE_MS);
    if (!xdf_xs_transaction(xb, remove ? xdf_remove_be_txn :
                                         xdf_rewrite_be_txn,
                            "recreate the backend directory", &local_err)) {
        xdf_report_err(xb->x, XDF_ERROR, local_err);
    } else if (remove && !xb->lost_to_pid) {
        xb->recreating = true;
        timer_mod(xb->recreate_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + XDF_BE_GONE_MS);
    }
    xdf_report_lost(xb);
}

/* The backoff after a lost connection is over: take InitWait now. */
static void xdf_xenbus_retry(void *opaque)
{
    XdfXenbus *xb = opaque;

    if (xb->be_state == XenbusStateInitWait &&
        xb->state == XenbusStateInitialising) {
        xdf_xenbus_initialise(xb);
    }
}

/*
 * Go Initialising (even over nodes a toolstack, or a QEMU that died,
 * left: a backend still Connected to our past self resets) and let the
 * backend's state drive us from now on.
 */
bool xdf_xenbus_watch(XdfXenbus *xb, Error **errp)
{
    xb->retry_timer = timer_new_ms(QEMU_CLOCK_REALTIME, xdf_xenbus_retry,
                                   xb);
    xb->recreate_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                      xdf_xenbus_recreate_backend, xb);
    xb->state = XenbusStateUnknown;
    xdf_xenbus_set_state(xb, XenbusStateInitialising);
    trace_xen_displfront_xenstore(xb->x->id, xb->fe_path, xb->be_path,
                                  xb->wrote_nodes);
    xb->be_state = XenbusStateUnknown;
    xb->be_watch = xs_node_watch(xb->x->xsh, xb->be_path, "state",
                                 xdf_xenbus_backend_changed, xb, errp);
    return xb->be_watch != NULL;
}

/*
 * Stop following the backend, close the connection as displif.h wants
 * it (Closing, then Closed) and remove the nodes we own.  The device is
 * gone then (state Unknown): closing it again does nothing.
 */
void xdf_xenbus_close(XdfXenbus *xb)
{
    xdf_xenbus_unwatch_dirs(xb);
    xb->waiting = false;
    if (xb->be_watch) {
        qemu_xen_xs_unwatch(xb->x->xsh, xb->be_watch);
        xb->be_watch = NULL;
    }
    if (xb->state != XenbusStateUnknown) {
        xdf_xenbus_set_state(xb, XenbusStateClosing);
        xdf_xenbus_disconnect(xb);
        xdf_xenbus_set_state(xb, XenbusStateClosed);
    }
    g_clear_pointer(&xb->retry_timer, timer_free);
    g_clear_pointer(&xb->recreate_timer, timer_free);
    xb->recreating = false;
    xdf_xenbus_release(xb);
    xb->state = XenbusStateUnknown;
}

void xdf_xenbus_free(XdfXenbus *xb)
{
    g_clear_pointer(&xb->skipped, g_ptr_array_unref);
    g_clear_pointer(&xb->said, g_hash_table_unref);
    g_clear_pointer(&xb->waiting_for, g_free);
    g_clear_pointer(&xb->name, g_free);
    g_clear_pointer(&xb->fe_path, g_free);
    g_clear_pointer(&xb->be_path, g_free);
    g_clear_pointer(&xb->last_error, g_free);
}

/*
 * A toolstack's directory of ours, closed, follows backend-domid: its
 * old backend directory goes, one is written anew in backend-domid's
 * (of the same kind: vinput or vkbd), and the frontend's "backend" and
 * "backend-id" name it.
 */
static void xdf_rehome_txn(XdfXenbus *xb, xs_transaction_t t, Error **errp)
{
    ERRP_GUARD();
    struct qemu_xs_handle *h = xb->x->xsh;
    g_autofree char *old = xs_node_read(h, t, NULL, NULL, "%s/backend",
                                        xb->fe_path);
    g_auto(GStrv) part = old ? g_strsplit(old, "/", 0) : NULL;

    /* /local/domain/<domid>/backend/<driver>/<frontend>/<index> */
    if (!part || g_strv_length(part) != 8 || strcmp(part[4], "backend")) {
        error_setg(errp, "%s/backend is '%s', not a backend directory",
                   xb->fe_path, old ? old : "(none)");
        return;
    }
    g_free(xb->be_path);
    xb->be_path = xdf_be_path(xb, part[5], xb->dev_id);
    if (strcmp(old, xb->be_path)) {
        xs_node_destroy(h, t, old, errp);
    }
    if (*errp) {
        return;
    }
    xdf_write_be_nodes(xb, t, errp);
    xdf_xs_printf(h, t, xb->fe_path, "backend", errp, "%s", xb->be_path);
    xdf_xs_printf(h, t, xb->fe_path, "backend-id", errp, "%" PRIu32,
                  xb->x->backend_domid);
}

bool xdf_xenbus_move(XdfXenbus *xb, Error **errp)
{
    xb->fail_streak = 0;
    if (!xb->fe_path) {
        return true;            /* never claimed: nothing to move */
    }
    xb->dev_id_auto = false;    /* the same index */
    if (xb->wrote_nodes) {
        return true;            /* written anew at the claim */
    }
    return xdf_xs_transaction(xb, xdf_rehome_txn,
                              "move the backend directory", errp);
}

const char *xdf_xenbus_state_name(XdfXenbus *xb)
{
    return xb->waiting ? "waiting" : xs_strstate(xb->state);
}
