/*
 * Xen para-virtual display (displif) frontend for emulated cards
 *
 * A legacy HVM guest draws into an emulated card (VGA, cirrus,
 * bochs-display, virtio-gpu, ramfb).  This device follows that card's
 * console and hands what it shows to a Xen displif backend, acting as
 * the frontend on behalf of a guest that has no PV display driver.
 *
 * Grants and event channels are issued by QEMU's own domain, so the
 * device is a displif frontend of that domain (frontend-domid), not of
 * the guest's.
 *
 * With input on, each connector is also a kbdif (vkbd) frontend: what
 * the backend's viewer types and points reaches the guest's emulated
 * keyboard, mouse or tablet through QEMU's input layer.
 *
 * This file is the QOM device and the vdispl device's glue; its layers
 * sit beside it, each given an XdfXen (the device's Xen handles,
 * domains and name) rather than the device, each calling only the ones
 * before it:
 *  - xdf-transport.c: event channels, event pages, request rings;
 *  - xdf-xenbus.c: a frontend device's XenStore nodes, their ownership,
 *    the state machine, reconnect backoff;
 *  - xdf-display.c: the connectors (console, buffers, fit, flips, EDID);
 *  - xdf-input.c: each connector's vkbd device.
 *
 * Names: functions and types are xdf_ and Xdf (the QOM type itself is
 * XenDisplFront); trace points are xen_displfront_<what>.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "hw/qdev-core.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "hw/display/xen-displfront.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include "system/system.h"
#include "qom/object.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "displif-proto.h"
#include "xdf-display.h"
#include "xdf-input.h"
#include "xdf-xenbus.h"

OBJECT_DECLARE_SIMPLE_TYPE(XenDisplFront, XEN_DISPLFRONT)

#define XDF_DEFAULT_RESOLUTION  "1024x768"
#define XDF_REQ_TIMEOUT_MS      3000    /* as Linux's frontend */
#define XDF_MAX_CONNECTORS      4       /* as Linux's frontend */
#define XDF_ID_MAX              1024    /* characters of a unique-id */

typedef struct XdfResolution {
    uint32_t width;
    uint32_t height;
} XdfResolution;

/* Where a connector's vkbd backend directory goes. */
typedef enum XdfInputBackend {
    XDF_INPUT_BACKEND_VINPUT,   /* libxl's, for a userspace backend */
    XDF_INPUT_BACKEND_VKBD,
    XDF_INPUT_BACKEND__MAX,
} XdfInputBackend;

static const char *const xdf_input_backend_names[XDF_INPUT_BACKEND__MAX] = {
    [XDF_INPUT_BACKEND_VINPUT] = "vinput",
    [XDF_INPUT_BACKEND_VKBD] = "vkbd",
};

struct XenDisplFront {
    /* parent */
    DeviceState parent_obj;

    /* properties */
    char *display;              /* qdev id of the card to follow */
    uint32_t head;
    uint32_t backend_domid;
    uint32_t frontend_domid;    /* DOMID_SELF: QEMU's own domain */
    int64_t dev_id;             /* -1: auto; once claimed, the index */
    XdfResolution resolution;
    char *unique_id;            /* per connector, '|' between them */
    char *input_id;             /* each connector's vkbd's unique-id */
    int input_backend;          /* XdfInputBackend */
    int fit;                    /* XdfFitMode */
    bool be_alloc;
    OnOffAuto input;            /* a vkbd frontend per connector */
    bool input_system_keys;     /* the backend may press power, SysRq */
    uint32_t connectors;
    uint32_t req_timeout_ms;

    /* unique-id and input-id, one per connector; NULL: not given */
    char **unique_ids;
    char **input_ids;

    XdfXen xen;
    XdfXenbus bus;              /* the vdispl device */
    XdfDisplay disp;

    /* connectors: each with its unique-id and its vkbd */
    unsigned int nr_connectors;
    XdfConnector *conn;
    char **conn_ids;
    XdfInput *kbd;              /* kbd[i].conn NULL: no input */

    /* migration: what each connector's guest holds (xdf_vmstate_held) */
    uint32_t mig_connectors;
    XdfHeld mig_held[XDF_MAX_CONNECTORS];

    Notifier exit_notifier;
    VMChangeStateEntry *vm_state;  /* flips stop while the VM does */
    QEMUBH *give_up;            /* a late start failed: tear down */
    QLIST_ENTRY(XenDisplFront) next;
};

static QLIST_HEAD(, XenDisplFront) xdf_devices =
    QLIST_HEAD_INITIALIZER(xdf_devices);

static const char *xdf_id(XenDisplFront *s)
{
    DeviceState *dev = DEVICE(s);

    return dev->id ? dev->id : TYPE_XEN_DISPLFRONT;
}

/* Properties, parsed where they are set ---------------------------------- */

static void xdf_get_resolution(Object *obj, Visitor *v, const char *name,
                               void *opaque, Error **errp)
{
    XdfResolution *res = object_field_prop_ptr(obj, opaque);
    g_autofree char *str = g_strdup_printf("%" PRIu32 "x%" PRIu32,
                                           res->width, res->height);

    visit_type_str(v, name, &str, errp);
}

static void xdf_set_resolution(Object *obj, Visitor *v, const char *name,
                               void *opaque, Error **errp)
{
    XdfResolution *res = object_field_prop_ptr(obj, opaque);
    g_autofree char *str = NULL;
    uint32_t w, h;
    int ret;

    if (!visit_type_str(v, name, &str, errp)) {
        return;
    }
    ret = displif_parse_resolution(str, &w, &h);
    if (ret == -EINVAL) {
        error_setg(errp, "resolution '%s' is not of the form WIDTHxHEIGHT "
                   "(e.g. 1024x768)", str);
    } else if (ret) {
        error_setg(errp, "resolution '%s' is out of range: width and height "
                   "must be 1 to %d", str, DISPLIF_MAX_SIDE);
    } else {
        res->width = w;
        res->height = h;
    }
}

static void xdf_default_resolution(ObjectProperty *op, const Property *prop)
{
    object_property_set_default_str(op, XDF_DEFAULT_RESOLUTION);
}

static const PropertyInfo xdf_prop_resolution = {
    .type = "str",
    .description = "WIDTHxHEIGHT",
    .get = xdf_get_resolution,
    .set = xdf_set_resolution,
    .set_default_value = xdf_default_resolution,
};

/* dev-id: "auto" or an index (0 to INT32_MAX); once claimed, the index */
static void xdf_get_dev_id(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    int64_t *dev_id = object_field_prop_ptr(obj, opaque);
    g_autofree char *str = *dev_id < 0 ? g_strdup("auto") :
                           g_strdup_printf("%" PRId64, *dev_id);

    visit_type_str(v, name, &str, errp);
}

static void xdf_set_dev_id(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    int64_t *dev_id = object_field_prop_ptr(obj, opaque);
    g_autofree char *str = NULL;
    unsigned int idx;

    if (!visit_type_str(v, name, &str, errp)) {
        return;
    }
    if (!strcmp(str, "auto")) {
        *dev_id = -1;
    } else if (qemu_strtoui(str, NULL, 10, &idx) || idx > INT32_MAX ||
               !g_ascii_isdigit(str[0])) {
        error_setg(errp, "dev-id '%s' is neither 'auto' nor a device index "
                   "(0 to %d)", str, INT32_MAX);
    } else {
        *dev_id = idx;
    }
}

static void xdf_default_dev_id(ObjectProperty *op, const Property *prop)
{
    object_property_set_default_str(op, "auto");
}

static const PropertyInfo xdf_prop_dev_id = {
    .type = "str",
    .description = "'auto' or a device index",
    .get = xdf_get_dev_id,
    .set = xdf_set_dev_id,
    .set_default_value = xdf_default_dev_id,
};

/*
 * A property that takes one of a few names (fit, input-backend); the
 * first is its default.
 */
typedef struct XdfChoice {
    const char *const *names;
    int count;
} XdfChoice;

static const XdfChoice xdf_fit_choice = { xdf_fit_names, XDF_FIT__MAX };
static const XdfChoice xdf_input_backend_choice = {
    xdf_input_backend_names, XDF_INPUT_BACKEND__MAX
};

static void xdf_get_choice(const XdfChoice *c, Object *obj, Visitor *v,
                           const char *name, void *opaque, Error **errp)
{
    int *field = object_field_prop_ptr(obj, opaque);
    g_autofree char *str = g_strdup(c->names[*field]);

    visit_type_str(v, name, &str, errp);
}

/* An unknown name: "<name> '<value>' is not a, b or c" (neither a nor b). */
static void xdf_set_choice(const XdfChoice *c, Object *obj, Visitor *v,
                           const char *name, void *opaque, Error **errp)
{
    int *field = object_field_prop_ptr(obj, opaque);
    g_autoptr(GString) list = g_string_new(NULL);
    g_autofree char *str = NULL;
    int i;

    if (!visit_type_str(v, name, &str, errp)) {
        return;
    }
    for (i = 0; i < c->count; i++) {
        if (!strcmp(str, c->names[i])) {
            *field = i;
            return;
        }
        g_string_append_printf(list, "%s%s",
                               !i ? "" : i < c->count - 1 ? ", " :
                               c->count > 2 ? " or " : " nor ", c->names[i]);
    }
    error_setg(errp, "%s '%s' is %s%s", name, str,
               c->count > 2 ? "not " : "neither ", list->str);
}

static void xdf_get_fit(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    xdf_get_choice(&xdf_fit_choice, obj, v, name, opaque, errp);
}

static void xdf_set_fit(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    xdf_set_choice(&xdf_fit_choice, obj, v, name, opaque, errp);
}

static void xdf_default_fit(ObjectProperty *op, const Property *prop)
{
    object_property_set_default_str(op, xdf_fit_names[XDF_FIT_SCALE]);
}

static const PropertyInfo xdf_prop_fit = {
    .type = "str",
    .description = "scale, center or crop",
    .get = xdf_get_fit,
    .set = xdf_set_fit,
    .set_default_value = xdf_default_fit,
};

static void xdf_get_input_backend(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    xdf_get_choice(&xdf_input_backend_choice, obj, v, name, opaque, errp);
}

static void xdf_set_input_backend(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    xdf_set_choice(&xdf_input_backend_choice, obj, v, name, opaque, errp);
}

static void xdf_default_input_backend(ObjectProperty *op,
                                      const Property *prop)
{
    object_property_set_default_str(
        op, xdf_input_backend_names[XDF_INPUT_BACKEND_VINPUT]);
}

static const PropertyInfo xdf_prop_input_backend = {
    .type = "str",
    .description = "vinput or vkbd",
    .get = xdf_get_input_backend,
    .set = xdf_set_input_backend,
    .set_default_value = xdf_default_input_backend,
};

/*
 * Property @name's @value (NULL: not given) as one id per connector,
 * '|' between them (ids hold ':' and ';': displ_be's input ids do), each
 * 1 to XDF_ID_MAX printable characters without blanks.  Checked at
 * realize: how many there must be is another property.
 */
static bool xdf_parse_ids(const char *name, const char *value,
                          uint32_t connectors, char ***ids, Error **errp)
{
    unsigned int i, n;

    if (!value) {
        return true;
    }
    *ids = g_strsplit(value, "|", -1);
    n = g_strv_length(*ids);
    if (n != connectors) {
        error_setg(errp, "%s '%s' names %u connector(s), not %" PRIu32
                   " (one id per connector, '|' between them)", name, value,
                   n, connectors);
        return false;
    }
    for (i = 0; i < n; i++) {
        const char *id = (*ids)[i];
        size_t j, len = strlen(id);
        bool printable = len > 0 && len <= XDF_ID_MAX;

        for (j = 0; j < len; j++) {
            printable = printable && g_ascii_isgraph(id[j]);
        }
        if (!printable) {
            error_setg(errp, "%s '%s': connector %u's id '%s' must be 1 to "
                       "%d printable characters without blanks", name, value,
                       i, id, XDF_ID_MAX);
            return false;
        }
    }
    return true;
}

/*
 * Connector @i's unique-id from the properties: given, or made up from
 * the qdev id, the dev-id claimed and the connector, which no other
 * device of the frontend domain has (a backend serving every QEMU of a
 * host tells their connectors, and their inputs, apart by it).
 */
static char *xdf_unique_id(XenDisplFront *s, unsigned int i)
{
    if (s->unique_ids && i < g_strv_length(s->unique_ids)) {
        return g_strdup(s->unique_ids[i]);
    }
    return g_strdup_printf("%s-%" PRIu32 "-%u", xdf_id(s), s->bus.dev_id, i);
}

/* The connectors, @n of them, with nothing shared yet. */
static void xdf_connectors_new(XenDisplFront *s, unsigned int n,
                               const uint32_t *width, const uint32_t *height)
{
    unsigned int i;

    s->nr_connectors = n;
    s->conn = g_new0(XdfConnector, n);
    s->conn_ids = g_new0(char *, n + 1);
    s->kbd = g_new0(XdfInput, n);
    for (i = 0; i < n; i++) {
        xdf_connector_init(&s->conn[i], &s->disp, i,
                           width ? width[i] : s->resolution.width,
                           height ? height[i] : s->resolution.height);
        s->conn_ids[i] = xdf_unique_id(s, i);
    }
    s->disp.setup_ring = &s->conn[0].ring;
}

/* vdispl: the display's XenBus device ------------------------------------- */

/* Our vdispl directory's nodes: be-alloc and the connectors. */
static void xdf_vdispl_fe_nodes_txn(XdfXenbus *xb, xs_transaction_t t,
                                    Error **errp)
{
    XenDisplFront *s = xb->opaque;
    struct qemu_xs_handle *h = xb->x->xsh;
    unsigned int i;

    xdf_xs_printf(h, t, xb->fe_path, XENDISPL_FIELD_BE_ALLOC, errp, "%d",
                  s->be_alloc);
    for (i = 0; i < s->connectors; i++) {
        g_autofree char *cpath = g_strdup_printf("%s/%u", xb->fe_path, i);
        g_autofree char *id = xdf_unique_id(s, i);

        xdf_xs_printf(h, t, cpath, XENDISPL_FIELD_RESOLUTION, errp,
                      "%" PRIu32 "x%" PRIu32, s->resolution.width,
                      s->resolution.height);
        xdf_xs_printf(h, t, cpath, XENDISPL_FIELD_UNIQUE_ID, errp, "%s", id);
    }
}

/* What a toolstack wrote in a vdispl directory (xl.cfg's vdispl=). */
typedef struct XdfVdisplNodes {
    int be_alloc;               /* -1: not said */
    unsigned int count;         /* connectors */
    uint32_t width[XDF_MAX_CONNECTORS];
    uint32_t height[XDF_MAX_CONNECTORS];
    char *unique_id[XDF_MAX_CONNECTORS];    /* NULL: not said */
} XdfVdisplNodes;

static void xdf_vdispl_nodes_free(XdfVdisplNodes *n)
{
    unsigned int i;

    for (i = 0; i < n->count; i++) {
        g_free(n->unique_id[i]);
    }
    memset(n, 0, sizeof(*n));
}

/*
 * Read toolstack directory @fe of device @idx, in transaction @t: its
 * backend (ours?), be-alloc and each connector's resolution and
 * unique-id; connectors are numbered 0, 1, ... without gaps.
 */
static bool xdf_vdispl_nodes_read_txn(XdfXenbus *xb, xs_transaction_t t,
                                      const char *fe, uint32_t idx,
                                      XdfVdisplNodes *n, Error **errp)
{
    struct qemu_xs_handle *h = xb->x->xsh;
    g_autofree char *be = xs_node_read(h, t, NULL, NULL, "%s/backend", fe);
    g_autofree char *why = NULL;
    unsigned int i, nr = 0, count = 0, be_alloc;
    char **dirs;

    memset(n, 0, sizeof(*n));
    if (!xdf_toolstack_backend(xb, fe, be, idx, &why)) {
        error_setg(errp, "%s", why);
        return false;
    }
    n->be_alloc = -1;
    if (xs_node_scanf(h, t, fe, XENDISPL_FIELD_BE_ALLOC, NULL, "%u",
                      &be_alloc) == 1) {
        n->be_alloc = be_alloc == 1;
    }
    dirs = qemu_xen_xs_directory(h, t, fe, &nr);
    for (i = 0; dirs && i < nr; i++) {
        unsigned int c;

        if (!qemu_strtoui(dirs[i], NULL, 10, &c) && c + 1 > count) {
            count = c + 1;
        }
    }
    free(dirs);
    if (!count) {
        error_setg(errp, "%s has no connector (0/resolution)", fe);
        return false;
    }
    if (count > XDF_MAX_CONNECTORS) {
        error_setg(errp, "%s has %u connectors; at most %d are supported",
                   fe, count, XDF_MAX_CONNECTORS);
        return false;
    }
    for (i = 0; i < count; i++) {
        g_autofree char *res = xs_node_read(h, t, NULL, NULL, "%s/%u/%s", fe,
                                            i, XENDISPL_FIELD_RESOLUTION);

        if (!res || displif_parse_resolution(res, &n->width[i],
                                             &n->height[i])) {
            xdf_vdispl_nodes_free(n);
            error_setg(errp, "%s/%u/%s is '%s', not a resolution WxH with "
                       "sides 1 to %d", fe, i, XENDISPL_FIELD_RESOLUTION,
                       res ? res : "(missing)", DISPLIF_MAX_SIDE);
            return false;
        }
        n->count = i + 1;
        n->unique_id[i] = xs_node_read(h, t, NULL, NULL, "%s/%u/%s", fe, i,
                                       XENDISPL_FIELD_UNIQUE_ID);
    }
    return true;
}

/* A toolstack's vdispl directory is ours to take if we can serve it. */
static XdfAdopt xdf_vdispl_adopt_txn(XdfXenbus *xb, xs_transaction_t t,
                                     const char *fe, uint32_t idx,
                                     char **why)
{
    XdfVdisplNodes nodes;
    Error *local_err = NULL;

    if (!xdf_vdispl_nodes_read_txn(xb, t, fe, idx, &nodes, &local_err)) {
        *why = g_strdup(error_get_pretty(local_err));
        error_free(local_err);
        return XDF_ADOPT_NO;
    }
    xdf_vdispl_nodes_free(&nodes);
    return XDF_ADOPT_YES;
}

/* The connectors of the toolstack's directory we took: it rules. */
static bool xdf_read_nodes(XenDisplFront *s, Error **errp)
{
    XdfVdisplNodes nodes;
    unsigned int i;

    if (!xdf_vdispl_nodes_read_txn(&s->bus, XBT_NULL, s->bus.fe_path,
                                   s->bus.dev_id, &nodes, errp)) {
        return false;
    }
    if (nodes.be_alloc >= 0) {
        s->disp.be_alloc = nodes.be_alloc;
    }
    xdf_connectors_new(s, nodes.count, nodes.width, nodes.height);
    for (i = 0; i < nodes.count; i++) {
        if (nodes.unique_id[i]) {
            g_free(s->conn_ids[i]);
            s->conn_ids[i] = g_steal_pointer(&nodes.unique_id[i]);
        }
    }
    xdf_vdispl_nodes_free(&nodes);
    return true;
}

/* Pick the highest version both ends speak; the backend may not say. */
static void xdf_negotiate_version(XenDisplFront *s)
{
    g_autofree char *versions = xs_node_read(s->xen.xsh, XBT_NULL, NULL,
                                             NULL, "%s/%s", s->bus.be_path,
                                             XENDISPL_FIELD_BE_VERSIONS);
    g_auto(GStrv) list = NULL;
    unsigned int i, v;

    s->disp.version = 1;
    if (!versions) {
        return;
    }
    list = g_strsplit(versions, XENDISPL_LIST_SEPARATOR, -1);
    for (i = 0; list[i]; i++) {
        if (!qemu_strtoui(list[i], NULL, 10, &v) &&
            v <= XENDISPL_PROTOCOL_VERSION_INT && v > s->disp.version) {
            s->disp.version = v;
        }
    }
}

static void xdf_vdispl_publish_txn(XdfXenbus *xb, xs_transaction_t t,
                                   Error **errp)
{
    XenDisplFront *s = xb->opaque;
    struct qemu_xs_handle *h = xb->x->xsh;
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        XdfConnector *c = &s->conn[i];
        g_autofree char *cpath = g_strdup_printf("%s/%u", xb->fe_path, i);

        xdf_xs_printf(h, t, cpath, XENDISPL_FIELD_REQ_RING_REF, errp,
                      "%" PRIu32, c->ring.ref);
        xdf_xs_printf(h, t, cpath, XENDISPL_FIELD_REQ_CHANNEL, errp, "%d",
                      c->ring.ch.port);
        xdf_xs_printf(h, t, cpath, XENDISPL_FIELD_EVT_RING_REF, errp,
                      "%" PRIu32, c->events.ref);
        xdf_xs_printf(h, t, cpath, XENDISPL_FIELD_EVT_CHANNEL, errp, "%d",
                      c->events.ch.port);
    }
    xdf_xs_printf(h, t, xb->fe_path, XENDISPL_FIELD_FE_VERSION, errp, "%u",
                  s->disp.version);
}

/*
 * Close every ring (outstanding requests complete with -ECANCELED) and
 * forget every buffer.  It worked if any connector's SET_CONFIG was
 * answered.
 */
static bool xdf_vdispl_disconnect(XdfXenbus *xb)
{
    XenDisplFront *s = xb->opaque;
    bool worked = false;
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        worked = xdf_connector_close(&s->conn[i]) || worked;
    }
    return worked;
}

/*
 * The rings' failure callback.  A backend that breaks the protocol costs
 * its own connection, never QEMU or the guest: say what happened and
 * close.
 */
static void xdf_vdispl_broken(void *opaque, const char *msg)
{
    XenDisplFront *s = opaque;

    xdf_report(&s->xen, XDF_ERROR, "%s; closing the connection to backend "
               "domain %" PRIu32, msg, s->xen.backend_domid);
    xdf_xenbus_failed(&s->bus, msg);
}

/* The backend is waiting for us: open and publish every ring. */
static bool xdf_vdispl_connect(XdfXenbus *xb, Error **errp)
{
    XenDisplFront *s = xb->opaque;
    unsigned int i;

    xdf_negotiate_version(s);
    for (i = 0; i < s->nr_connectors; i++) {
        if (!xdf_connector_open(&s->conn[i], s->req_timeout_ms, errp)) {
            return false;
        }
    }
    return xdf_xs_transaction(xb, xdf_vdispl_publish_txn, "publish the rings",
                              errp);
}

/* Connected: each connector asks for its EDID and starts showing. */
static void xdf_vdispl_connected(XdfXenbus *xb)
{
    XenDisplFront *s = xb->opaque;
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        xdf_connector_start(&s->conn[i]);
    }
}

/* The device ------------------------------------------------------------- */

/*
 * The console connector @index follows: head (head + @index) of the
 * card whose qdev id is @display, or, when no card is named, the first
 * graphic console.  The lookup is QEMU's; the messages name the card's
 * type and say what to do.
 */
static QemuConsole *xdf_find_console(XenDisplFront *s, unsigned int index,
                                     Error **errp)
{
    uint32_t head = s->head + index;
    Error *local_err = NULL;
    QemuConsole *con;
    DeviceState *card;
    int i;

    if (!s->display) {
        if (s->head) {
            error_setg(errp, "head=%" PRIu32 " needs display=<card id>",
                       s->head);
            return NULL;
        }
        if (index) {
            error_setg(errp, "connector %u needs display=<card id> with "
                       "that many heads", index);
            return NULL;
        }
        for (i = 0; (con = qemu_console_lookup_by_index(i)); i++) {
            if (qemu_console_is_graphic(con)) {
                return con;
            }
        }
        error_setg(errp, "there is no graphic console to follow");
        error_append_hint(errp, "Add an emulated card (e.g. -device VGA,id="
                          "vga0) and name it with display=vga0.\n");
        return NULL;
    }

    con = qemu_console_lookup_by_device_name(s->display, head, &local_err);
    if (con && qemu_console_is_graphic(con)) {
        return con;
    }
    if (local_err &&
        error_get_class(local_err) == ERROR_CLASS_DEVICE_NOT_FOUND) {
        error_free(local_err);
        error_setg(errp, "display '%s': no device with that id", s->display);
        error_append_hint(errp, "A card given with -device must come before "
                          "xen-displfront on the command line.\n");
        return NULL;
    }
    error_free(local_err);
    card = qdev_find_recursive(sysbus_get_default(), s->display);
    if (index) {
        error_setg(errp, "connector %u: display '%s' (%s) has no graphic "
                   "console at head %" PRIu32, index, s->display,
                   object_get_typename(OBJECT(card)), head);
    } else {
        error_setg(errp, "display '%s' (%s) has no graphic console at head %"
                   PRIu32, s->display, object_get_typename(OBJECT(card)),
                   head);
    }
    return NULL;
}

/*
 * What the properties cannot check alone: ids per connector, the
 * domains, and that the card exists before we talk to Xen.
 */
static bool xdf_check_config(XenDisplFront *s, Error **errp)
{
    if (s->backend_domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "backend-domid %" PRIu32 " is not a domain id "
                   "(0 to %d)", s->backend_domid, DOMID_FIRST_RESERVED - 1);
        return false;
    }
    if (s->frontend_domid >= DOMID_FIRST_RESERVED &&
        s->frontend_domid != DOMID_SELF) {
        error_setg(errp, "frontend-domid %" PRIu32 " is not a domain id "
                   "(0 to %d)", s->frontend_domid, DOMID_FIRST_RESERVED - 1);
        return false;
    }
    if (s->req_timeout_ms < 100 || s->req_timeout_ms > 600000) {
        error_setg(errp, "req-timeout-ms=%" PRIu32 " is out of range "
                   "(100 to 600000)", s->req_timeout_ms);
        return false;
    }
    if (s->connectors < 1 || s->connectors > XDF_MAX_CONNECTORS) {
        error_setg(errp, "connectors=%" PRIu32 " is out of range (1 to %d)",
                   s->connectors, XDF_MAX_CONNECTORS);
        return false;
    }
    if (!xdf_parse_ids("unique-id", s->unique_id, s->connectors,
                       &s->unique_ids, errp) ||
        !xdf_parse_ids("input-id", s->input_id, s->connectors,
                       &s->input_ids, errp)) {
        return false;
    }
    return xdf_find_console(s, 0, errp) != NULL;
}

/*
 * Input makes the backend the guest's keyboard and pointer.  A display
 * backend is trusted with pixels, not with that: with input=auto only a
 * backend in dom0 (which can do anything to the guest anyway) or in
 * QEMU's own domain gets input; one in a driver domain needs input=on.
 */
static bool xdf_input_trusted(XenDisplFront *s)
{
    if (s->input != ON_OFF_AUTO_AUTO) {
        return s->input == ON_OFF_AUTO_ON;
    }
    if (s->backend_domid == 0 || s->backend_domid == s->xen.own_domid) {
        return true;
    }
    xdf_report(&s->xen, XDF_INFO, "no input for backend domain %" PRIu32
               ": by default only a backend in dom0 or in QEMU's own domain "
               "gets the guest's keyboard and pointer (input=on trusts this "
               "one, input=off says so)", s->backend_domid);
    return false;
}

/*
 * Is the frontend domain a device model's stub domain (libxl wrote its
 * "target")?  Then it may not write its own device directories, nor
 * dom0's backend ones: dom0's toolstack writes them, and the device takes
 * them, waiting for them if need be.
 */
static bool xdf_stub_domain(XenDisplFront *s)
{
    g_autofree char *target = xs_node_read(s->xen.xsh, XBT_NULL, NULL, NULL,
                                           "/local/domain/%" PRIu32 "/target",
                                           s->xen.frontend_domid);

    return target != NULL;
}

/* Connector @i's vkbd device, linked to it by its input id. */
static void xdf_kbd_init(XenDisplFront *s, unsigned int i)
{
    bool given = s->input_ids && i < g_strv_length(s->input_ids);

    xdf_input_init(&s->kbd[i], &s->xen, &s->conn[i],
                   given ? s->input_ids[i] : s->conn_ids[i],
                   xdf_input_backend_names[s->input_backend],
                   s->bus.adopt_only, s->input == ON_OFF_AUTO_ON,
                   s->input_system_keys);
}

/*
 * The vdispl device is ours: the connectors its directory describes,
 * and with input a vkbd device for each, linked by its input id (in a
 * stub domain the toolstack's, or, while it has none, waited for).
 */
static bool xdf_claim_connectors(XenDisplFront *s, Error **errp)
{
    bool input = xdf_input_trusted(s);
    unsigned int i;

    s->dev_id = s->bus.dev_id;
    if (!s->bus.wrote_nodes) {
        /* a toolstack set it up (xl.cfg vdispl=): it rules */
        if (!xdf_read_nodes(s, errp)) {
            return false;
        }
    } else {
        xdf_connectors_new(s, s->connectors, NULL, NULL);
    }
    for (i = 0; input && i < s->nr_connectors; i++) {
        xdf_kbd_init(s, i);
        if (!xdf_input_claim(&s->kbd[i], errp)) {
            return false;
        }
    }
    return true;
}

/*
 * The video memory of @con's card, when the modes it can show are
 * bounded by it (std VGA, bochs-display; virtio-gpu's scanouts are not):
 * in bytes, and the property that sets it; 0 otherwise.
 */
static uint64_t xdf_card_vram(QemuConsole *con, const char **prop)
{
    Object *card = object_property_get_link(OBJECT(con), "device", NULL);

    *prop = NULL;
    if (card && object_dynamic_cast(card, "pci-vga")) {
        *prop = "vgamem_mb";
        return object_property_get_uint(card, *prop, NULL) * MiB;
    }
    if (card && object_dynamic_cast(card, "bochs-display")) {
        *prop = "vgamem";
        return object_property_get_uint(card, *prop, NULL);
    }
    return 0;
}

/* Follow each connector's console; one device per console. */
static bool xdf_bind_consoles(XenDisplFront *s, Error **errp)
{
    g_autofree QemuConsole **cons = g_new0(QemuConsole *, s->nr_connectors);
    const char *vram_prop;
    XenDisplFront *other;
    unsigned int i, j;
    uint64_t vram;

    for (i = 0; i < s->nr_connectors; i++) {
        cons[i] = xdf_find_console(s, i, errp);
        if (!cons[i]) {
            return false;
        }
        QLIST_FOREACH(other, &xdf_devices, next) {
            for (j = 0; other != s && j < other->nr_connectors; j++) {
                if (other->conn[j].con == cons[i]) {
                    error_setg(errp, "console %d is already followed by "
                               "xen-displfront '%s'",
                               qemu_console_get_index(cons[i]),
                               xdf_id(other));
                    return false;
                }
            }
        }
    }
    for (i = 0; i < s->nr_connectors; i++) {
        vram = xdf_card_vram(cons[i], &vram_prop);
        xdf_connector_bind(&s->conn[i], cons[i], vram, vram_prop);
    }
    return true;
}

/* Let each device's backend drive it from now on. */
static bool xdf_watch_backend(XenDisplFront *s, Error **errp)
{
    unsigned int i;

    if (!xdf_xenbus_watch(&s->bus, errp)) {
        return false;
    }
    for (i = 0; i < s->nr_connectors; i++) {
        if (!xdf_input_watch(&s->kbd[i], errp)) {
            return false;
        }
    }
    return true;
}

/*
 * The vdispl device is ours: its connectors, each following its console,
 * each device driven by its backend from now on.  The consoles are bound
 * after the claim: a toolstack's directory says how many connectors
 * there are.
 */
static bool xdf_start(XenDisplFront *s, Error **errp)
{
    if (!xdf_claim_connectors(s, errp) ||  /* from the directory; vkbds */
        !xdf_bind_consoles(s, errp) ||     /* each connector's console */
        !xdf_watch_backend(s, errp)) {     /* Initialising: state machine */
        return false;
    }
    trace_xen_displfront_realize(xdf_id(s),
                                 qemu_console_get_index(s->conn[0].con),
                                 s->head, s->nr_connectors,
                                 s->conn[0].width, s->conn[0].height,
                                 s->xen.frontend_domid, s->backend_domid,
                                 s->bus.dev_id);
    return true;
}

/*
 * Undo what realize did, whichever step it reached, in the reverse
 * order: on a failed realize, on unplug and when QEMU quits.  Each
 * connection is closed as displif.h wants it (Closing, then Closed) and
 * only the nodes we own are removed.
 */
static void xdf_teardown(XenDisplFront *s)
{
    unsigned int i;

    if (!s->xen.xsh) {
        return;                 /* never opened, or torn down already */
    }
    for (i = 0; i < s->nr_connectors; i++) {
        xdf_input_close(&s->kbd[i]);
    }
    if (s->bus.ops) {
        xdf_xenbus_close(&s->bus);
    }
    for (i = 0; i < s->nr_connectors; i++) {
        xdf_connector_unbind(&s->conn[i]);
    }
    xdf_xen_close(&s->xen);
}

/*
 * The VM runs again (cont, or a migration came in): flip what changed,
 * release the keys let go of meanwhile.
 */
static void xdf_vm_state_change(void *opaque, bool running, RunState state)
{
    XenDisplFront *s = opaque;
    unsigned int i;

    for (i = 0; running && i < s->nr_connectors; i++) {
        xdf_connector_refresh_now(&s->conn[i]);
        if (s->kbd[i].conn) {
            xdf_input_resync(&s->kbd[i]);
        }
    }
}

static void xdf_exit_notify(Notifier *n, void *data)
{
    xdf_teardown(container_of(n, XenDisplFront, exit_notifier));
}

static void xdf_give_up(void *opaque)
{
    xdf_teardown(opaque);
}

/*
 * The toolstack wrote the vdispl device we waited for: go on as realize
 * would have.  A failure now cannot fail realize: say it, and let go --
 * in a bottom half: this runs in a XenStore watch, whose handle the
 * teardown closes.
 */
static void xdf_vdispl_claimed(XdfXenbus *xb)
{
    XenDisplFront *s = xb->opaque;
    Error *local_err = NULL;

    if (!xdf_start(s, &local_err)) {
        xdf_report_err(&s->xen, XDF_ERROR, local_err);
        qemu_bh_schedule(s->give_up);
    }
}

static const XdfXenbusOps xdf_vdispl_ops = {
    .driver = XENDISPL_DRIVER_NAME,
    .be_drivers = (const char *const []) { XENDISPL_DRIVER_NAME, NULL },
    .fe_nodes_txn = xdf_vdispl_fe_nodes_txn,
    .adopt_txn = xdf_vdispl_adopt_txn,
    .claimed = xdf_vdispl_claimed,
    .connect = xdf_vdispl_connect,
    .connected = xdf_vdispl_connected,
    .disconnect = xdf_vdispl_disconnect,
};

/*
 * Open Xen and claim a vdispl device: write the nodes, or take what a
 * toolstack wrote, with our owner record.  In a stub domain only the
 * latter, and s->bus.waiting says when there is none yet.
 */
static bool xdf_claim(XenDisplFront *s, Error **errp)
{
    if (!xdf_xen_open(&s->xen, xdf_id(s), s->frontend_domid,
                      s->backend_domid, errp)) {
        return false;
    }
    s->disp.x = &s->xen;
    s->disp.fit_mode = s->fit;
    s->disp.be_alloc = s->be_alloc;
    s->disp.broken = xdf_vdispl_broken;
    s->disp.opaque = s;
    s->bus.x = &s->xen;
    s->bus.ops = &xdf_vdispl_ops;
    s->bus.opaque = s;
    s->bus.be_driver = XENDISPL_DRIVER_NAME;
    s->bus.dev_id_auto = s->dev_id < 0;
    s->bus.dev_id = MAX(s->dev_id, 0);
    s->bus.adopt_only = xdf_stub_domain(s);
    s->bus.waiting_for = g_strdup("a vdispl device");
    return xdf_xenbus_claim(&s->bus, errp);
}

/*
 * qom-set backend-domid on a running device: the screen moves to another
 * backend.  The connection to the old one closes as displif.h wants it
 * (Closing, Closed) and its directories go (a toolstack's get their
 * backend moved); the device claims the same index for the new backend
 * and connects when it is ready, flipping the current picture at once.
 * Input follows, if the new backend may have it.
 */
static bool xdf_move_backend(XenDisplFront *s, uint32_t domid, Error **errp)
{
    bool input;
    unsigned int i;

    if (domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "backend-domid %" PRIu32 " is not a domain id "
                   "(0 to %d)", domid, DOMID_FIRST_RESERVED - 1);
        return false;
    }
    if (domid == s->backend_domid && s->bus.claimed) {
        return true;
    }
    if (!s->conn || s->bus.adopt_only) {
        error_setg(errp, "xen-displfront '%s' %s: its backend cannot move",
                   xdf_id(s), s->bus.adopt_only ?
                   "is in a stub domain, whose devices its toolstack "
                   "writes" : "has no connection");
        return false;
    }
    for (i = 0; i < s->nr_connectors; i++) {
        xdf_input_close(&s->kbd[i]);
    }
    xdf_xenbus_close(&s->bus);
    s->backend_domid = s->xen.backend_domid = domid;
    input = xdf_input_trusted(s);
    if (!xdf_xenbus_move(&s->bus, errp) || !xdf_xenbus_claim(&s->bus, errp)) {
        goto fail;
    }
    for (i = 0; i < s->nr_connectors; i++) {
        XdfInput *in = &s->kbd[i];

        if (!input) {
            xdf_input_drop(in);
            continue;
        }
        if (!in->conn) {
            xdf_kbd_init(s, i);     /* adopt_only is false here */
        } else if (!xdf_input_move(in, errp)) {
            goto fail;
        }
        if (!xdf_input_claim(in, errp)) {
            goto fail;
        }
    }
    if (!xdf_watch_backend(s, errp)) {
        goto fail;
    }
    trace_xen_displfront_moved(xdf_id(s), domid, s->bus.fe_path,
                               s->bus.be_path);
    return true;

fail:
    error_prepend(errp, "xen-displfront '%s' left its backend, but cannot "
                  "connect to backend domain %" PRIu32 ": ", xdf_id(s),
                  domid);
    return false;
}

static void xdf_get_backend_domid(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    uint32_t *domid = object_field_prop_ptr(obj, opaque);

    visit_type_uint32(v, name, domid, errp);
}

static void xdf_set_backend_domid(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    uint32_t *field = object_field_prop_ptr(obj, opaque);
    uint32_t domid;

    if (!visit_type_uint32(v, name, &domid, errp)) {
        return;
    }
    if (DEVICE(obj)->realized) {
        xdf_move_backend(XEN_DISPLFRONT(obj), domid, errp);
    } else {
        *field = domid;         /* checked at realize */
    }
}

static void xdf_default_backend_domid(ObjectProperty *op,
                                      const Property *prop)
{
    object_property_set_default_uint(op, prop->defval.u);
}

static const PropertyInfo xdf_prop_backend_domid = {
    .type = "uint32",
    .description = "a domain id; on a running device: move the screen there",
    .realized_set_allowed = true,
    .get = xdf_get_backend_domid,
    .set = xdf_set_backend_domid,
    .set_default_value = xdf_default_backend_domid,
};

/*
 * The card of the first connector is checked with the properties, before
 * anything is asked of Xen.  In a stub domain whose toolstack has not
 * written the vdispl device yet, the device waits for it (xdf_start()
 * then runs from xdf_vdispl_claimed()).
 */
static void xdf_realize(DeviceState *dev, Error **errp)
{
    XenDisplFront *s = XEN_DISPLFRONT(dev);

    s->give_up = qemu_bh_new(xdf_give_up, s);
    if (!xdf_check_config(s, errp) ||      /* properties; the card exists */
        !xdf_claim(s, errp) ||             /* Xen; a dev-id and its nodes */
        (s->bus.waiting ? !xdf_xenbus_wait(&s->bus, errp) :
                          !xdf_start(s, errp))) {
        xdf_teardown(s);
        g_clear_pointer(&s->give_up, qemu_bh_delete);
        return;
    }
    QLIST_INSERT_HEAD(&xdf_devices, s, next);
    s->exit_notifier.notify = xdf_exit_notify;
    qemu_add_exit_notifier(&s->exit_notifier);
    s->vm_state = qemu_add_vm_change_state_handler(xdf_vm_state_change, s);
}

static void xdf_unrealize(DeviceState *dev)
{
    XenDisplFront *s = XEN_DISPLFRONT(dev);

    qemu_remove_exit_notifier(&s->exit_notifier);
    qemu_del_vm_change_state_handler(s->vm_state);
    QLIST_REMOVE(s, next);
    xdf_teardown(s);
    g_clear_pointer(&s->give_up, qemu_bh_delete);
}

static void xdf_finalize(Object *obj)
{
    XenDisplFront *s = XEN_DISPLFRONT(obj);
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        xdf_connector_fini(&s->conn[i]);
        xdf_input_fini(&s->kbd[i]);
    }
    g_free(s->conn);
    g_free(s->kbd);
    g_strfreev(s->conn_ids);
    g_strfreev(s->unique_ids);
    g_strfreev(s->input_ids);
    xdf_xenbus_free(&s->bus);
}

static char *xdf_get_state(Object *obj, Error **errp)
{
    return g_strdup(xdf_xenbus_state_name(&XEN_DISPLFRONT(obj)->bus));
}

/* Each connector's vkbd state, ',' between them; "none" without input. */
static char *xdf_get_input_state(Object *obj, Error **errp)
{
    XenDisplFront *s = XEN_DISPLFRONT(obj);
    g_autoptr(GString) str = g_string_new(NULL);
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        XdfXenbus *xb = &s->kbd[i].bus;

        g_string_append_printf(str, "%s%s", i ? "," : "",
                               xb->ops ? xdf_xenbus_state_name(xb) : "none");
    }
    return g_string_free(g_steal_pointer(&str), false);
}

/*
 * Live figures: the device's connection, and per connector what it
 * flipped, what its refreshes found, what copies and requests cost.
 * Counters kept anyway; reading them costs nothing while nobody does.
 */
static bool xdf_visit_u64(Visitor *v, const char *name, uint64_t val,
                          Error **errp)
{
    return visit_type_uint64(v, name, &val, errp);
}

static bool xdf_visit_connector(Visitor *v, XdfConnector *c, Error **errp)
{
    bool ok;

    if (!visit_start_struct(v, NULL, NULL, 0, errp)) {
        return false;
    }
    ok = xdf_visit_u64(v, "index", c->index, errp) &&
         xdf_visit_u64(v, "width", c->width, errp) &&
         xdf_visit_u64(v, "height", c->height, errp) &&
         xdf_visit_u64(v, "frames", c->fig.frames, errp) &&
         xdf_visit_u64(v, "refreshes", c->fig.refreshes, errp) &&
         xdf_visit_u64(v, "refreshes-idle", c->fig.idle, errp) &&
         xdf_visit_u64(v, "refreshes-coalesced", c->fig.coalesced, errp) &&
         xdf_visit_u64(v, "refreshes-skipped", c->fig.skipped, errp) &&
         xdf_visit_u64(v, "copy-us-last", c->fig.copy_ns_last / 1000,
                       errp) &&
         xdf_visit_u64(v, "copy-us-total", c->fig.copy_ns_total / 1000,
                       errp) &&
         xdf_visit_u64(v, "request-us-last", c->ring.rtt_last_us, errp) &&
         xdf_visit_u64(v, "request-us-worst", c->ring.rtt_worst_us, errp) &&
         xdf_visit_u64(v, "refresh-ms", c->interval_ms, errp) &&
         xdf_visit_u64(v, "frame-period-us", c->refresh_us, errp);
    visit_end_struct(v, NULL);
    return ok;
}

static void xdf_get_figures(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    XenDisplFront *s = XEN_DISPLFRONT(obj);
    g_autofree char *state = g_strdup(xdf_xenbus_state_name(&s->bus));
    g_autofree char *error = g_strdup(s->bus.last_error ?: "");
    unsigned int i;
    bool ok;

    if (!visit_start_struct(v, name, NULL, 0, errp)) {
        return;
    }
    ok = visit_type_str(v, "state", &state, errp) &&
         xdf_visit_u64(v, "backend-domid", s->backend_domid, errp) &&
         xdf_visit_u64(v, "connections", s->bus.connections, errp) &&
         xdf_visit_u64(v, "reconnects", MAX(s->bus.connections, 1) - 1,
                       errp) &&
         visit_type_str(v, "last-error", &error, errp) &&
         visit_start_list(v, "connectors", NULL, 0, errp);
    if (ok) {
        for (i = 0; ok && i < s->nr_connectors; i++) {
            ok = xdf_visit_connector(v, &s->conn[i], errp);
        }
        visit_end_list(v, NULL);
    }
    visit_end_struct(v, NULL);
}

/*
 * Migration.  The connection cannot move: its grants, ports and XenStore
 * nodes belong to this QEMU.  So the destination's device claims its own
 * directory and connects when it is realized, and flips the card's
 * picture (which migrates with the card) as soon as the migrated VM
 * runs; the source's keeps its connection, showing the last frame,
 * until it quits or is unplugged, then leaves and removes its nodes.
 *
 * What does move is what the guest holds: a key, button or contact down
 * at the switch-over (or at xl save) would stay down in the destination's
 * guest, whose device never saw it go down.  A subsection carries them
 * when there are any, and the destination lets each go when the VM
 * runs (xdf_input_resync()).
 */
static bool xdf_held_needed(void *opaque)
{
    XenDisplFront *s = opaque;
    unsigned int i;

    for (i = 0; i < s->nr_connectors; i++) {
        if (s->kbd[i].conn && xdf_input_holds(&s->kbd[i])) {
            return true;
        }
    }
    return false;
}

static int xdf_held_pre_save(void *opaque)
{
    XenDisplFront *s = opaque;
    unsigned int i;

    memset(s->mig_held, 0, sizeof(s->mig_held));
    s->mig_connectors = MIN(s->nr_connectors, XDF_MAX_CONNECTORS);
    for (i = 0; i < s->mig_connectors; i++) {
        if (s->kbd[i].conn) {
            xdf_input_save_held(&s->kbd[i], &s->mig_held[i]);
        } else {
            memset(s->mig_held[i].touch_id, 0xff,
                   sizeof(s->mig_held[i].touch_id));    /* all up */
        }
    }
    return 0;
}

static int xdf_held_post_load(void *opaque, int version_id)
{
    XenDisplFront *s = opaque;
    unsigned int i;

    for (i = 0; i < MIN(s->mig_connectors, s->nr_connectors); i++) {
        if (s->kbd[i].conn) {
            xdf_input_load_held(&s->kbd[i], &s->mig_held[i]);
        }
    }
    return 0;
}

static const VMStateDescription xdf_vmstate_held_connector = {
    .name = TYPE_XEN_DISPLFRONT "/held-connector",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_ARRAY(keys, XdfHeld, (KBDIF_KEY_MAX + 1) / 32),
        VMSTATE_INT32_ARRAY(touch_id, XdfHeld, INPUT_EVENT_SLOTS_MAX),
        VMSTATE_INT32_ARRAY(touch_x, XdfHeld, INPUT_EVENT_SLOTS_MAX),
        VMSTATE_INT32_ARRAY(touch_y, XdfHeld, INPUT_EVENT_SLOTS_MAX),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription xdf_vmstate_held = {
    .name = TYPE_XEN_DISPLFRONT "/held",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = xdf_held_needed,
    .pre_save = xdf_held_pre_save,
    .post_load = xdf_held_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mig_connectors, XenDisplFront),
        VMSTATE_STRUCT_ARRAY(mig_held, XenDisplFront, XDF_MAX_CONNECTORS, 1,
                             xdf_vmstate_held_connector, XdfHeld),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription xdf_vmstate = {
    .name = TYPE_XEN_DISPLFRONT,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &xdf_vmstate_held,
        NULL
    },
};

static const Property xdf_properties[] = {
    DEFINE_PROP_STRING("display", XenDisplFront, display),
    DEFINE_PROP_UINT32("head", XenDisplFront, head, 0),
    DEFINE_PROP_UNSIGNED("backend-domid", XenDisplFront, backend_domid, 0,
                         xdf_prop_backend_domid, uint32_t),
    DEFINE_PROP_UINT32("frontend-domid", XenDisplFront, frontend_domid,
                       DOMID_SELF),
    DEFINE_PROP("dev-id", XenDisplFront, dev_id, xdf_prop_dev_id, int64_t,
                .set_default = true),
    DEFINE_PROP("resolution", XenDisplFront, resolution, xdf_prop_resolution,
                XdfResolution, .set_default = true),
    DEFINE_PROP_STRING("unique-id", XenDisplFront, unique_id),
    DEFINE_PROP_STRING("input-id", XenDisplFront, input_id),
    DEFINE_PROP("input-backend", XenDisplFront, input_backend,
                xdf_prop_input_backend, int, .set_default = true),
    DEFINE_PROP("fit", XenDisplFront, fit, xdf_prop_fit, int,
                .set_default = true),
    DEFINE_PROP_BOOL("be-alloc", XenDisplFront, be_alloc, false),
    DEFINE_PROP_ON_OFF_AUTO("input", XenDisplFront, input, ON_OFF_AUTO_AUTO),
    DEFINE_PROP_BOOL("input-system-keys", XenDisplFront, input_system_keys,
                     false),
    DEFINE_PROP_UINT32("connectors", XenDisplFront, connectors, 1),
    DEFINE_PROP_UINT32("req-timeout-ms", XenDisplFront, req_timeout_ms,
                       XDF_REQ_TIMEOUT_MS),
};

static void xdf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "Xen displif frontend for an emulated card";
    dc->realize = xdf_realize;
    dc->unrealize = xdf_unrealize;
    dc->vmsd = &xdf_vmstate;
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
    device_class_set_props(dc, xdf_properties);

    object_class_property_add_str(klass, "state", xdf_get_state,
                                  NULL);
    object_class_property_set_description(klass, "state",
        "XenBus state of the frontend");
    object_class_property_add_str(klass, "input-state", xdf_get_input_state,
                                  NULL);
    object_class_property_add(klass, "figures", "XenDisplFrontFigures",
                              xdf_get_figures, NULL, NULL, NULL);
    object_class_property_set_description(klass, "figures",
        "live figures: the connection (state, backend-domid, connections, "
        "reconnects, last-error) and per connector frames, refreshes (idle, "
        "coalesced, skipped), copy-us-last/-total, request-us-last/-worst, "
        "refresh-ms, frame-period-us");
    object_class_property_set_description(klass, "input-state",
        "XenBus state of each connector's vkbd frontend, ',' between them "
        "(none: no input)");
    object_class_property_set_description(klass, "display",
        "id of the emulated card to follow (default: first graphic console)");
    object_class_property_set_description(klass, "head",
        "head of that card");
    object_class_property_set_description(klass, "backend-domid",
        "domain of the displif backend");
    object_class_property_set_description(klass, "frontend-domid",
        "domain the frontend belongs to; 32752 (DOMID_SELF): QEMU's own");
    object_class_property_set_description(klass, "dev-id",
        "vdispl device index in XenStore: 'auto' (default, the lowest free "
        "one) or a number; once realized, the index in use");
    object_class_property_set_description(klass, "resolution",
        "connector resolution WIDTHxHEIGHT (default: "
        XDF_DEFAULT_RESOLUTION ")");
    object_class_property_set_description(klass, "unique-id",
        "each connector's unique-id for the backend, '|' between them "
        "(default: <qdev id>-<dev-id>-<connector>)");
    object_class_property_set_description(klass, "input-id",
        "each connector's vkbd unique-id, '|' between them (default: the "
        "connector's unique-id; displ_be: K:<id>;P:<id>;T:<id>)");
    object_class_property_set_description(klass, "input-backend",
        "where the vkbd backend directories go: vinput (default, as libxl "
        "for a userspace backend such as displ_be) or vkbd");
    object_class_property_set_description(klass, "fit",
        "how the guest's picture fills the connector: scale (default: "
        "aspect kept, centred), center (1:1, centred) or crop (1:1, top "
        "left)");
    object_class_property_set_description(klass, "be-alloc",
        "let the backend allocate display buffers");
    object_class_property_set_description(klass, "input",
        "a kbdif (vkbd) frontend per connector: the backend's keyboard and "
        "pointer reach the guest's emulated input devices; auto (default): "
        "only for a backend in dom0 or QEMU's own domain, and a connector "
        "whose vkbd cannot be had goes without; on: any backend, and no "
        "vkbd is an error");
    object_class_property_set_description(klass, "input-system-keys",
        "let the backend press power, sleep, wake-up and SysRq (Print "
        "Screen) in the guest (default: off, they are dropped)");
    object_class_property_set_description(klass, "connectors",
        "number of connectors; connector i shows head (head + i)");
    object_class_property_set_description(klass, "req-timeout-ms",
        "how long the backend has to answer a request, in ms");
}

static const TypeInfo xdf_info = {
    .name = TYPE_XEN_DISPLFRONT,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(XenDisplFront),
    .instance_finalize = xdf_finalize,
    .class_init = xdf_class_init,
};

static void xdf_register_types(void)
{
    type_register_static(&xdf_info);
}

type_init(xdf_register_types)
