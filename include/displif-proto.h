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

/* Grant references in one page-directory page, after the "next" ref. */
#define DISPLIF_PAGE_SIZE 4096u
#define DISPLIF_GREFS_PER_DIR_PAGE ((DISPLIF_PAGE_SIZE - 4) / 4)

/* Pages needed for @bytes bytes. */
static inline uint32_t displif_pages(uint64_t bytes)
{
    return (uint32_t)((bytes + DISPLIF_PAGE_SIZE - 1) / DISPLIF_PAGE_SIZE);
}

/* Page-directory pages needed to list @n_data data pages (at least one). */
static inline uint32_t displif_dir_pages(uint32_t n_data)
{
    return n_data ? (n_data + DISPLIF_GREFS_PER_DIR_PAGE - 1) /
                    DISPLIF_GREFS_PER_DIR_PAGE : 1;
}

/*
 * The stride a backend assumes for a buffer (displ_be: 4 * ceil(width *
 * bpp / 32)), and so the least number of bytes it may read from it.
 */
static inline uint32_t displif_stride(uint32_t width, uint32_t bpp)
{
    return (uint32_t)(4 * (((uint64_t)width * bpp + 31) / 32));
}

static inline uint64_t displif_buffer_size(uint32_t width, uint32_t height,
                                           uint32_t bpp)
{
    return (uint64_t)displif_stride(width, bpp) * height;
}

/*
 * Write a page directory: @n_dir pages at @dir (contiguous, page after
 * page), granted as @dir_refs, listing the @n_data refs in @data_refs
 * (NULL: zeroes, for the backend to fill in).  Each page holds the ref
 * of the next directory page (0 for the last) and then up to
 * DISPLIF_GREFS_PER_DIR_PAGE data refs.
 */
static inline void displif_pgdir_fill(void *dir, uint32_t n_dir,
                                      const uint32_t *dir_refs,
                                      const uint32_t *data_refs,
                                      uint32_t n_data)
{
    uint32_t i, j, k = 0;

    for (i = 0; i < n_dir; i++) {
        uint32_t *page = (uint32_t *)((char *)dir + i * DISPLIF_PAGE_SIZE);

        page[0] = i + 1 < n_dir ? dir_refs[i + 1] : 0;
        for (j = 0; j < DISPLIF_GREFS_PER_DIR_PAGE; j++, k++) {
            page[1 + j] = data_refs && k < n_data ? data_refs[k] : 0;
        }
    }
}

/*
 * Read the @n_data refs a backend wrote into a directory we granted.
 * Returns 0, or -EINVAL when a ref is 0 (no grant) or a page's "next"
 * ref does not match the page we granted next.
 */
static inline int displif_pgdir_read(const void *dir, uint32_t n_dir,
                                     const uint32_t *dir_refs,
                                     uint32_t *data_refs, uint32_t n_data)
{
    uint32_t i, j, k = 0;

    for (i = 0; i < n_dir; i++) {
        /* the backend writes these pages: read each ref exactly once */
        const volatile uint32_t *page = (const volatile uint32_t *)
            ((const char *)dir + i * DISPLIF_PAGE_SIZE);

        if (page[0] != (i + 1 < n_dir ? dir_refs[i + 1] : 0)) {
            return -EINVAL;
        }
        for (j = 0; j < DISPLIF_GREFS_PER_DIR_PAGE && k < n_data; j++, k++) {
            data_refs[k] = page[1 + j];
            if (!data_refs[k]) {
                return -EINVAL;
            }
        }
    }
    return k == n_data ? 0 : -EINVAL;
}

/*
 * Ring indices are free-running 32-bit counters.  A backend may not
 * answer more requests than were sent (nor have more events unread than
 * the event ring holds: event_page_prod()).
 */
static inline bool displif_rsp_prod_ok(uint32_t rsp_prod, uint32_t rsp_cons,
                                       uint32_t req_prod)
{
    return rsp_prod - rsp_cons <= req_prod - rsp_cons;
}

/*
 * The preferred mode of an EDID a backend returned (GET_EDID): the first
 * detailed timing of the base block.  Returns 0, or -EINVAL when @len is
 * short, the header or checksum is wrong, or there is no such timing.
 */
static inline int displif_edid_preferred(const uint8_t *edid, uint32_t len,
                                         uint32_t *width, uint32_t *height)
{
    static const uint8_t header[8] = {
        0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00
    };
    const uint8_t *dtd = edid + 54;
    uint8_t sum = 0;
    uint32_t i, w, h;

    if (len < 128) {
        return -EINVAL;
    }
    for (i = 0; i < 8; i++) {
        if (edid[i] != header[i]) {
            return -EINVAL;
        }
    }
    for (i = 0; i < 128; i++) {
        sum += edid[i];
    }
    if (sum || !(dtd[0] | dtd[1])) {    /* pixel clock 0: no timing */
        return -EINVAL;
    }
    w = dtd[2] | (uint32_t)(dtd[4] & 0xf0) << 4;
    h = dtd[5] | (uint32_t)(dtd[7] & 0xf0) << 4;
    if (!w || !h || w > DISPLIF_MAX_SIDE || h > DISPLIF_MAX_SIDE) {
        return -EINVAL;
    }
    *width = w;
    *height = h;
    return 0;
}

/*
 * The refresh rate of the EDID's preferred timing, in mHz: its pixel
 * clock over the total (active plus blanking) pixels of a frame.  0, or
 * -EINVAL when there is no valid preferred timing or the rate is not
 * 1 to 1000 Hz.
 */
static inline int displif_edid_refresh_mhz(const uint8_t *edid, uint32_t len,
                                           uint32_t *mhz)
{
    const uint8_t *dtd = edid + 54;
    uint32_t w, h;
    uint64_t clock_hz, htotal, vtotal, rate;

    if (displif_edid_preferred(edid, len, &w, &h)) {
        return -EINVAL;
    }
    clock_hz = (uint64_t)(dtd[0] | dtd[1] << 8) * 10000;
    htotal = w + (dtd[3] | (uint32_t)(dtd[4] & 0x0f) << 8);
    vtotal = h + (dtd[6] | (uint32_t)(dtd[7] & 0x0f) << 8);
    rate = clock_hz * 1000 / (htotal * vtotal);
    if (rate < 1000 || rate > 1000000) {
        return -EINVAL;
    }
    *mhz = rate;
    return 0;
}

/*
 * One axis of a picture fitted into the connector (the fit property,
 * docs/xen-displfront.rst): the guest's @src_len pixels are shown at
 * connector coordinates [@dst_off, @dst_off + @dst_len), 1:1 from guest
 * pixel @src_off, or scaled, each buffer pixel d showing guest pixel
 * (2 * d + 1) * src_len / (2 * dst_len), the one nearest to its centre.
 * *@g is the guest pixel shown at connector coordinate @c; outside the
 * picture, the nearest edge's, and false is returned.  The device's copy
 * and its input (a click lands on the pixel shown under it) both use it.
 */
static inline bool displif_fit_guest_pixel(uint32_t c, uint32_t dst_off,
                                           uint32_t dst_len,
                                           uint32_t src_off,
                                           uint32_t src_len,
                                           bool one_to_one, uint32_t *g)
{
    uint32_t d;

    if (!dst_len || !src_len) {
        *g = 0;
        return false;
    }
    d = c < dst_off ? 0 : c - dst_off;
    if (d >= dst_len) {
        d = dst_len - 1;
    }
    *g = one_to_one ? src_off + d :
         (uint32_t)((2 * (uint64_t)d + 1) * src_len / (2 * (uint64_t)dst_len));
    return c >= dst_off && c - dst_off < dst_len;
}

#endif /* DISPLIF_PROTO_H */
