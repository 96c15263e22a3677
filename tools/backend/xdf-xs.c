/*
 * xdf-backend: XenStore nodes read and written, our backend directories
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xdf-xs.h"

bool xdf_parse_uint(const char *str, unsigned long max, unsigned long *out)
{
    char *end;
    guint64 v;

    if (!str || !g_ascii_isdigit(str[0])) {
        return false;
    }
    errno = 0;
    v = g_ascii_strtoull(str, &end, 10);
    if (errno || *end || v > max) {
        return false;
    }
    *out = v;
    return true;
}

char *xdf_xs_read_t(struct xs_handle *xs, xs_transaction_t t,
                    const char *dir, const char *node)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);
    unsigned int len;
    char *val = xs_read(xs, t, path, &len);
    char *ret = val ? g_strndup(val, len) : NULL;

    free(val);
    return ret;
}

char *xdf_xs_read(struct xs_handle *xs, const char *dir, const char *node)
{
    return xdf_xs_read_t(xs, XBT_NULL, dir, node);
}

bool xdf_xs_read_uint(struct xs_handle *xs, const char *dir,
                      const char *node, unsigned long max,
                      unsigned long *out)
{
    g_autofree char *val = xdf_xs_read(xs, dir, node);

    return xdf_parse_uint(val, max, out);
}

bool xdf_xs_write(const XdfLog *log, struct xs_handle *xs, const char *dir,
                  const char *node, const char *val)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, node);

    if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) {
        xdf_log(log, "cannot write %s = '%s': %s", path, val,
                strerror(errno));
        return false;
    }
    return true;
}

int xdf_backend_path_split(const char *path, const char *root,
                           unsigned long *fe_domid, unsigned long *dev_id,
                           const char **node)
{
    static const unsigned long max[2] = { 0x7fef, INT32_MAX };
    unsigned long *ids[2] = { fe_domid, dev_id };
    size_t n = strlen(root);
    int i;

    if (strncmp(path, root, n) || (path[n] && path[n] != '/')) {
        return -1;
    }
    path += n;
    for (i = 0; i < 2; i++) {
        g_autofree char *id = NULL;

        if (!*path) {
            return i;
        }
        n = strcspn(path + 1, "/");
        id = g_strndup(path + 1, n);
        if (!xdf_parse_uint(id, max[i], ids[i])) {
            return -1;
        }
        path += 1 + n;
    }
    *node = *path ? path + 1 : "";
    return 2;
}

void xdf_backend_dirs_foreach(struct xs_handle *xs, const char *root,
                              long dom, XdfBackendDirFn *fn, void *opaque)
{
    g_autofree char *one = dom < 0 ? NULL : g_strdup_printf("%ld", dom);
    unsigned int i, j, n = 1;
    char **doms = one ? &one : xs_directory(xs, XBT_NULL, root, &n);

    for (i = 0; doms && i < n; i++) {
        g_autofree char *dom_dir = g_strdup_printf("%s/%s", root, doms[i]);
        unsigned long fe_domid, dev_id;
        unsigned int m = 0;
        char **devs;

        if (!xdf_parse_uint(doms[i], 0x7fef, &fe_domid)) {
            continue;
        }
        devs = xs_directory(xs, XBT_NULL, dom_dir, &m);
        for (j = 0; devs && j < m; j++) {
            g_autofree char *dir = g_strdup_printf("%s/%s", dom_dir,
                                                   devs[j]);

            if (xdf_parse_uint(devs[j], INT32_MAX, &dev_id)) {
                fn(opaque, dir, fe_domid, dev_id);
            }
        }
        free(devs);
    }
    if (!one) {
        free(doms);
    }
}
