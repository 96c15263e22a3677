/*
 * xs-fault: an LD_PRELOAD library that makes libxenstore's xs_watch()
 * fail, as a XenStore that hit its watch quota (ENOSPC) does, for every
 * path that contains the string in XENSIM_XS_FAIL_WATCH.  Tests use it to
 * see what a program does when a watch cannot be set (xen-displfront's
 * vkbd with input=auto): they swap a library, not the program's logic.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct xs_handle;

bool xs_watch(struct xs_handle *h, const char *path, const char *token);

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
    static bool (*real)(struct xs_handle *, const char *, const char *);
    const char *fail = getenv("XENSIM_XS_FAIL_WATCH");

    if (fail && *fail && path && strstr(path, fail)) {
        errno = ENOSPC;
        return false;
    }
    if (!real) {
        real = (bool (*)(struct xs_handle *, const char *, const char *))
               dlsym(RTLD_NEXT, "xs_watch");
        if (!real) {
            errno = ENOSYS;
            return false;
        }
    }
    return real(h, path, token);
}
