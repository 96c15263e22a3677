/*
 * xdf-backend: XenStore nodes read and written, our backend directories
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_XS_H
#define XDF_XS_H

#include <stdbool.h>
#include <xenstore.h>

#include "xdf-log.h"

/* A decimal number from 0 to @max: digits only, no sign or blanks. */
bool xdf_parse_uint(const char *str, unsigned long max, unsigned long *out);

/* Node @dir/@node in transaction @t, NULL if missing (g_free it). */
char *xdf_xs_read_t(struct xs_handle *xs, xs_transaction_t t,
                    const char *dir, const char *node);

/* Node @dir/@node, NULL if missing (g_free it). */
char *xdf_xs_read(struct xs_handle *xs, const char *dir, const char *node);

/* Node @dir/@node as a number from 0 to @max; false if it is none. */
bool xdf_xs_read_uint(struct xs_handle *xs, const char *dir,
                      const char *node, unsigned long max,
                      unsigned long *out);

/* Write @val to @dir/@node; on failure say so in @log's name. */
bool xdf_xs_write(const XdfLog *log, struct xs_handle *xs, const char *dir,
                  const char *node, const char *val);

/*
 * Split @path below backend directory @root
 * ("<root>/<fe-domid>/<dev-id>/<node>"): returns how many ids it names
 * (0: @root itself, 1: a domain's directory, 2: a device's directory or
 * a node in it, *@node then the rest after the dev-id, "" for none);
 * -1 when it is not under @root or an id is not a number.
 */
int xdf_backend_path_split(const char *path, const char *root,
                           unsigned long *fe_domid, unsigned long *dev_id,
                           const char **node);

typedef void XdfBackendDirFn(void *opaque, const char *dir,
                             unsigned long fe_domid, unsigned long dev_id);

/*
 * Call @fn for each device directory "<root>/<fe-domid>/<dev-id>" of
 * frontend domain @dom (of every domain: -1).
 */
void xdf_backend_dirs_foreach(struct xs_handle *xs, const char *root,
                              long dom, XdfBackendDirFn *fn, void *opaque);

#endif /* XDF_XS_H */
