/*
 * xdf-backend: pixel formats and PNG output
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_IMAGE_H
#define XDF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XDF_FOURCC(a, b, c, d) \
    ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | \
     ((uint32_t)(d) << 24))

/* DRM fourccs, little-endian pixels as in drm_fourcc.h */
#define XDF_FMT_XRGB8888 XDF_FOURCC('X', 'R', '2', '4')
#define XDF_FMT_ARGB8888 XDF_FOURCC('A', 'R', '2', '4')
#define XDF_FMT_RGB888   XDF_FOURCC('R', 'G', '2', '4')
#define XDF_FMT_RGB565   XDF_FOURCC('R', 'G', '1', '6')
#define XDF_FMT_XRGB1555 XDF_FOURCC('X', 'R', '1', '5')
#define XDF_FMT_ARGB1555 XDF_FOURCC('A', 'R', '1', '5')
#define XDF_FMT_XRGB4444 XDF_FOURCC('X', 'R', '1', '2')
#define XDF_FMT_ARGB4444 XDF_FOURCC('A', 'R', '1', '2')

/* Bits per pixel of a format we can show, 0 for any other. */
unsigned int xdf_format_bpp(uint32_t fourcc);

/* The fourcc as text ("XR24"), or hex when not printable; @buf >= 11. */
const char *xdf_format_name(uint32_t fourcc, char *buf);

/*
 * Convert a @width x @height rectangle of @fourcc pixels, rows @stride
 * bytes apart starting at @src, to packed 8-bit RGB at @dst (3 * @width
 * bytes a row).  Alpha is ignored: a display shows what is under it.
 */
void xdf_to_rgb(uint8_t *dst, const uint8_t *src, size_t stride,
                uint32_t width, uint32_t height, uint32_t fourcc);

/*
 * Write packed RGB as an 8-bit RGB PNG at @path (through a temporary
 * file and a rename, so that readers never see half a file).  Returns 0
 * or a negative errno; on failure *@why says what went wrong.
 */
int xdf_png_write(const char *path, const uint8_t *rgb, uint32_t width,
                  uint32_t height, const char **why);

#endif /* XDF_IMAGE_H */
