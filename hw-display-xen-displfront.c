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
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/queue.h"
#include "hw/qdev-core.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/xen-bus-helper.h"
#include "migration/vmstate.h"
#include "ui/console.h"
#include "qom/object.h"
#include "trace/trace-hw_display_xen_displfront.h"

#include "displif-proto.h"

#define TYPE_XEN_DISPLFRONT "xen-displfront"
OBJECT_DECLARE_SIMPLE_TYPE(XenDisplFront, XEN_DISPLFRONT)

#define XEN_DISPLFRONT_DEFAULT_RESOLUTION "1024x768"

struct XenDisplFront {
    /* parent */
    DeviceState parent_obj;

    /* device config */
    char *display;              /* qdev id of the card to follow */
    uint32_t head;
    uint32_t backend_domid;
    uint32_t frontend_domid;    /* DOMID_SELF: QEMU's own domain */
    uint32_t dev_id;
    char *resolution;
    bool be_alloc;

    /* parsed config */
    uint32_t width;
    uint32_t height;

    /* display side */
    QemuConsole *con;
    DisplayChangeListener dcl;
    bool dcl_registered;

    /* Xen side */
    struct qemu_xs_handle *xsh;
    xenevtchn_handle *xeh;
    xengntshr_handle *xgs;
    enum xenbus_state state;

    QLIST_ENTRY(XenDisplFront) next;
};

static QLIST_HEAD(, XenDisplFront) xen_displfronts =
    QLIST_HEAD_INITIALIZER(xen_displfronts);

static const char *xen_displfront_id(XenDisplFront *s)
{
    DeviceState *dev = DEVICE(s);

    return dev->id ? dev->id : TYPE_XEN_DISPLFRONT;
}

static void xen_displfront_set_state(XenDisplFront *s,
                                     enum xenbus_state state)
{
    trace_xen_displfront_state(xen_displfront_id(s), xs_strstate(s->state),
                               xs_strstate(state));
    s->state = state;
}

/* Display side ----------------------------------------------------------- */

static void xen_displfront_gfx_switch(DisplayChangeListener *dcl,
                                      DisplaySurface *surface)
{
    XenDisplFront *s = container_of(dcl, XenDisplFront, dcl);

    if (surface) {
        trace_xen_displfront_gfx_switch(xen_displfront_id(s),
                                        surface_width(surface),
                                        surface_height(surface),
                                        surface_bits_per_pixel(surface),
                                        surface_format(surface));
    }
}

static const DisplayChangeListenerOps xen_displfront_dcl_ops = {
    .dpy_name = TYPE_XEN_DISPLFRONT,
    .dpy_gfx_switch = xen_displfront_gfx_switch,
};

/*
 * Find the console to follow: head @head of the card whose qdev id is
 * @display, or the first graphic console when no card is named.
 */
static QemuConsole *xen_displfront_find_console(XenDisplFront *s,
                                                Error **errp)
{
    QemuConsole *con;
    DeviceState *card;
    int i;

    if (!s->display) {
        if (s->head) {
            error_setg(errp, "head=%" PRIu32 " needs display=<card id>",
                       s->head);
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

    card = qdev_find_recursive(sysbus_get_default(), s->display);
    if (!card) {
        error_setg(errp, "display '%s': no device with that id", s->display);
        error_append_hint(errp, "A card given with -device must come before "
                          "xen-displfront on the command line.\n");
        return NULL;
    }
    con = qemu_console_lookup_by_device(card, s->head);
    if (!con || !qemu_console_is_graphic(con)) {
        error_setg(errp, "display '%s' (%s) has no graphic console at "
                   "head %" PRIu32, s->display,
                   object_get_typename(OBJECT(card)), s->head);
        return NULL;
    }
    return con;
}

/* Xen side --------------------------------------------------------------- */

/*
 * Open XenStore, event channels and grant sharing.  Without a Xen
 * accelerator nothing has set up the operation tables: use the real Xen
 * libraries then, as any dom0 or stub-domain process would.
 */
static bool xen_displfront_open_xen(XenDisplFront *s, Error **errp)
{
    char *domid;

    if (xen_mode == XEN_DISABLED && !xen_xenstore_ops) {
        setup_xen_backend_ops();
    }

    s->xsh = qemu_xen_xs_open();
    if (!s->xsh) {
        error_setg_errno(errp, errno, "cannot reach XenStore");
        error_append_hint(errp, "xen-displfront needs Xen: run QEMU in dom0 "
                          "or a stub domain with xenstored running, or "
                          "under xensim (build/xensim run -- ...).\n");
        return false;
    }
    if (!xen_gntshr_ops || !xen_evtchn_ops ||
        !xen_evtchn_ops->bind_unbound_port) {
        error_setg(errp, "this Xen (%s) cannot share pages with a backend",
                   xen_mode == XEN_EMULATE ? "QEMU's own Xen emulation" :
                   "accelerator");
        error_append_hint(errp, "Use real Xen libraries: drop the "
                          "accelerator's xen-version option.\n");
        return false;
    }
    s->xeh = qemu_xen_evtchn_open();
    if (!s->xeh) {
        error_setg_errno(errp, errno, "cannot open Xen event channels "
                         "(/dev/xen/evtchn)");
        return false;
    }
    s->xgs = qemu_xen_gntshr_open();
    if (!s->xgs) {
        error_setg_errno(errp, errno, "cannot open Xen grant sharing "
                         "(/dev/xen/gntalloc)");
        return false;
    }

    if (s->frontend_domid == DOMID_SELF) {
        /*
         * A domain's "domid" node sits in its home, which is where
         * relative paths lead; dom0's toolstack may not write it.
         */
        domid = qemu_xen_xs_read(s->xsh, XBT_NULL, "domid", NULL);
        if (domid && (qemu_strtoui(domid, NULL, 10, &s->frontend_domid) ||
                      s->frontend_domid >= DOMID_FIRST_RESERVED)) {
            error_setg(errp, "XenStore node 'domid' holds '%s', not a domain "
                       "id; set frontend-domid", domid);
            g_free(domid);
            return false;
        }
        if (!domid) {
            s->frontend_domid = 0;
        }
        g_free(domid);
    }
    return true;
}

static void xen_displfront_close_xen(XenDisplFront *s)
{
    if (s->xgs) {
        qemu_xen_gntshr_close(s->xgs);
        s->xgs = NULL;
    }
    if (s->xeh) {
        qemu_xen_evtchn_close(s->xeh);
        s->xeh = NULL;
    }
    if (s->xsh) {
        qemu_xen_xs_close(s->xsh);
        s->xsh = NULL;
    }
}

/* Device ----------------------------------------------------------------- */

static bool xen_displfront_check_config(XenDisplFront *s, Error **errp)
{
    const char *res = s->resolution ? s->resolution :
                      XEN_DISPLFRONT_DEFAULT_RESOLUTION;
    XenDisplFront *other;
    int ret;

    ret = displif_parse_resolution(res, &s->width, &s->height);
    if (ret == -EINVAL) {
        error_setg(errp, "resolution '%s' is not of the form WIDTHxHEIGHT "
                   "(e.g. 1024x768)", res);
        return false;
    }
    if (ret) {
        error_setg(errp, "resolution '%s' is out of range: width and height "
                   "must be 1 to %d", res, DISPLIF_MAX_SIDE);
        return false;
    }
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

    s->con = xen_displfront_find_console(s, errp);
    if (!s->con) {
        return false;
    }

    QLIST_FOREACH(other, &xen_displfronts, next) {
        if (other->con == s->con) {
            error_setg(errp, "console %d is already followed by "
                       "xen-displfront '%s'", qemu_console_get_index(s->con),
                       xen_displfront_id(other));
            return false;
        }
        if (other->dev_id == s->dev_id &&
            other->backend_domid == s->backend_domid) {
            error_setg(errp, "dev-id %" PRIu32 " of backend domain %" PRIu32
                       " is already used by xen-displfront '%s'", s->dev_id,
                       s->backend_domid, xen_displfront_id(other));
            return false;
        }
    }
    return true;
}

static void xen_displfront_realize(DeviceState *dev, Error **errp)
{
    XenDisplFront *s = XEN_DISPLFRONT(dev);

    if (!xen_displfront_check_config(s, errp)) {
        return;
    }
    if (!xen_displfront_open_xen(s, errp)) {
        xen_displfront_close_xen(s);
        return;
    }

    trace_xen_displfront_realize(xen_displfront_id(s),
                                 qemu_console_get_index(s->con), s->head,
                                 s->width, s->height, s->frontend_domid,
                                 s->backend_domid, s->dev_id);

    s->dcl.ops = &xen_displfront_dcl_ops;
    s->dcl.con = s->con;
    register_displaychangelistener(&s->dcl);
    s->dcl_registered = true;

    QLIST_INSERT_HEAD(&xen_displfronts, s, next);
    xen_displfront_set_state(s, XenbusStateInitialising);
}

static void xen_displfront_unrealize(DeviceState *dev)
{
    XenDisplFront *s = XEN_DISPLFRONT(dev);

    xen_displfront_set_state(s, XenbusStateClosed);
    QLIST_REMOVE(s, next);
    if (s->dcl_registered) {
        unregister_displaychangelistener(&s->dcl);
        s->dcl_registered = false;
    }
    xen_displfront_close_xen(s);
}

static char *xen_displfront_get_state(Object *obj, Error **errp)
{
    return g_strdup(xs_strstate(XEN_DISPLFRONT(obj)->state));
}

static const VMStateDescription xen_displfront_vmstate = {
    .name = TYPE_XEN_DISPLFRONT,
    .unmigratable = 1,
};

static const Property xen_displfront_properties[] = {
    DEFINE_PROP_STRING("display", XenDisplFront, display),
    DEFINE_PROP_UINT32("head", XenDisplFront, head, 0),
    DEFINE_PROP_UINT32("backend-domid", XenDisplFront, backend_domid, 0),
    DEFINE_PROP_UINT32("frontend-domid", XenDisplFront, frontend_domid,
                       DOMID_SELF),
    DEFINE_PROP_UINT32("dev-id", XenDisplFront, dev_id, 0),
    DEFINE_PROP_STRING("resolution", XenDisplFront, resolution),
    DEFINE_PROP_BOOL("be-alloc", XenDisplFront, be_alloc, false),
};

static void xen_displfront_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "Xen displif frontend for an emulated card";
    dc->realize = xen_displfront_realize;
    dc->unrealize = xen_displfront_unrealize;
    dc->vmsd = &xen_displfront_vmstate;
    dc->hotpluggable = false;
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
    device_class_set_props(dc, xen_displfront_properties);

    object_class_property_add_str(klass, "state", xen_displfront_get_state,
                                  NULL);
    object_class_property_set_description(klass, "state",
        "XenBus state of the frontend");
    object_class_property_set_description(klass, "display",
        "id of the emulated card to follow (default: first graphic console)");
    object_class_property_set_description(klass, "head",
        "head of that card");
    object_class_property_set_description(klass, "backend-domid",
        "domain of the displif backend");
    object_class_property_set_description(klass, "frontend-domid",
        "domain the frontend belongs to; 32752 (DOMID_SELF): QEMU's own");
    object_class_property_set_description(klass, "dev-id",
        "vdispl device index in XenStore");
    object_class_property_set_description(klass, "resolution",
        "connector resolution WIDTHxHEIGHT (default: "
        XEN_DISPLFRONT_DEFAULT_RESOLUTION ")");
    object_class_property_set_description(klass, "be-alloc",
        "let the backend allocate display buffers");
}

static const TypeInfo xen_displfront_info = {
    .name = TYPE_XEN_DISPLFRONT,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(XenDisplFront),
    .class_init = xen_displfront_class_init,
};

static void xen_displfront_register_types(void)
{
    type_register_static(&xen_displfront_info);
}

type_init(xen_displfront_register_types)
