/*
 * xen-displfront: displif protocol helpers that need nothing from QEMU
 *
 * Kept free of QEMU headers so that unit tests and fuzzers can build
 * them on their own.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef DISPLIF_PROTO_H
#define DISPLIF_PROTO_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* Largest connector we accept, per side, in pixels. */
#define DISPLIF_MAX_SIDE 8192

/*
 * Parse one decimal side of a resolution, advancing *@p past it.
 * No sign, no blanks, at least one digit.  Returns -EINVAL for no
 * digit, -ERANGE for a value over DISPLIF_MAX_SIDE.
 */
static inline int displif_parse_side(const char **p, uint32_t *side)
{
    const char *s = *p;
    uint32_t v = 0;

    if (*s < '0' || *s > '9') {
        return -EINVAL;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > DISPLIF_MAX_SIDE) {
            continue;           /* keep scanning, the value is too big */
        }
        v = v * 10 + (uint32_t)(*s - '0');
    }
    *p = s;
    *side = v;
    return v > DISPLIF_MAX_SIDE ? -ERANGE : 0;
}

/*
 * Parse a connector resolution the way XenStore and xl.cfg write it:
 * "<width>x<height>", both decimal.  Returns 0 on success, -EINVAL when
 * @str is not of that form, -ERANGE when a side is 0 or larger than
 * DISPLIF_MAX_SIDE.
 */
static inline int displif_parse_resolution(const char *str, uint32_t *width,
                                           uint32_t *height)
{
    const char *p = str;
    uint32_t w, h;
    int rw, rh;

    if (!str) {
        return -EINVAL;
    }
    rw = displif_parse_side(&p, &w);
    if (rw == -EINVAL || *p++ != 'x') {
        return -EINVAL;
    }
    rh = displif_parse_side(&p, &h);
    if (rh == -EINVAL || *p != '\0') {
        return -EINVAL;
    }
    if (rw || rh || w == 0 || h == 0) {
        return -ERANGE;
    }
    *width = w;
    *height = h;
    return 0;
}

#endif /* DISPLIF_PROTO_H */
