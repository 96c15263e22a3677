/*
 * xdf-backend: log lines, each naming what it is about
 *
 * Every line goes to stderr as "[xdf-backend] TAG: text"; TAG is that of
 * the XdfLog the caller passes (a device's, e.g. "vdispl 1/0"), none for
 * the process's own lines (a NULL XdfLog).  Lines about a frontend's
 * requests, which it can cause at will, are rate-limited.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_LOG_H
#define XDF_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* What one device's lines carry: its tag, and its request lines' count. */
typedef struct XdfLog {
    char *tag;                  /* NULL: lines carry no tag */

    /* xdf_req_log(): lines in this window, then counted */
    int64_t window_end;
    unsigned int lines;
    unsigned long suppressed;
} XdfLog;

/* --verbose: xdf_debug() lines are written */
extern bool xdf_verbose;

/* Milliseconds of the monotonic clock. */
int64_t xdf_now_ms(void);

/* A line about @log's device; @log NULL: about the process. */
void G_GNUC_PRINTF(2, 3) xdf_log(const XdfLog *log, const char *fmt, ...);

#define xdf_debug(log, ...) do {        \
    if (xdf_verbose) {                  \
        xdf_log(log, __VA_ARGS__);      \
    }                                   \
} while (0)

/*
 * A line about a request of @log's frontend (a refusal and why, a mode
 * set): one it can cause at will, so at most 20 of them are written
 * every 10 s (XDF_LOG_BURST, XDF_LOG_WINDOW_MS); the rest are counted,
 * and the count said at the next line written and by
 * xdf_req_log_suppressed().
 */
void G_GNUC_PRINTF(2, 3) xdf_req_log(XdfLog *log, const char *fmt, ...);

/* Say how many lines xdf_req_log() left out, if any (the device goes). */
void xdf_req_log_suppressed(XdfLog *log);

#endif /* XDF_LOG_H */
