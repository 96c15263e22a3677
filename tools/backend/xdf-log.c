/*
 * xdf-backend: log lines, each naming what it is about
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdarg.h>
#include <stdio.h>

#include "xdf-log.h"

/* lines about one device's requests: this many in a window, then counted */
#define XDF_LOG_BURST 20
#define XDF_LOG_WINDOW_MS 10000

bool xdf_verbose;

int64_t xdf_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void G_GNUC_PRINTF(2, 0) xdf_vlog(const XdfLog *log, const char *fmt,
                                         va_list ap)
{
    fputs("[xdf-backend] ", stderr);
    if (log && log->tag) {
        fprintf(stderr, "%s: ", log->tag);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void xdf_log(const XdfLog *log, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xdf_vlog(log, fmt, ap);
    va_end(ap);
}

void xdf_req_log_suppressed(XdfLog *log)
{
    if (log->suppressed) {
        xdf_log(log, "%lu more lines about its requests suppressed",
                log->suppressed);
        log->suppressed = 0;
    }
}

void xdf_req_log(XdfLog *log, const char *fmt, ...)
{
    int64_t now = xdf_now_ms();
    va_list ap;

    if (now >= log->window_end) {
        xdf_req_log_suppressed(log);
        log->window_end = now + XDF_LOG_WINDOW_MS;
        log->lines = 0;
    }
    if (log->lines >= XDF_LOG_BURST) {
        if (!log->suppressed++) {
            xdf_log(log, "more than %d lines about its requests in %d s: "
                    "counting, not writing, the rest", XDF_LOG_BURST,
                    XDF_LOG_WINDOW_MS / 1000);
        }
        return;
    }
    log->lines++;
    va_start(ap, fmt);
    xdf_vlog(log, fmt, ap);
    va_end(ap);
}
