/*
 * xdf-backend: pixel formats and PNG output
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xdf-image.h"

unsigned int xdf_format_bpp(uint32_t fourcc)
{
    switch (fourcc) {
    case XDF_FMT_XRGB8888:
    case XDF_FMT_ARGB8888:
        return 32;
    case XDF_FMT_RGB888:
        return 24;
    case XDF_FMT_RGB565:
    case XDF_FMT_XRGB1555:
    case XDF_FMT_ARGB1555:
    case XDF_FMT_XRGB4444:
    case XDF_FMT_ARGB4444:
        return 16;
    default:
        return 0;
    }
}

const char *xdf_format_name(uint32_t fourcc, char *buf)
{
    int i;

    for (i = 0; i < 4; i++) {
        char ch = (char)(fourcc >> (8 * i));

        if (ch < ' ' || ch > '~') {
            snprintf(buf, 11, "0x%08x", fourcc);
            return buf;
        }
        buf[i] = ch;
    }
    buf[4] = '\0';
    return buf;
}

/* Widen an n-bit channel to 8 bits by repeating its high bits. */
static inline uint8_t widen(uint32_t v, unsigned int bits)
{
    v <<= 8 - bits;
    return (uint8_t)(v | (v >> bits));
}

void xdf_to_rgb(uint8_t *dst, const uint8_t *src, size_t stride,
                uint32_t width, uint32_t height, uint32_t fourcc)
{
    uint32_t x, y;

    for (y = 0; y < height; y++, src += stride) {
        const uint8_t *s = src;

        for (x = 0; x < width; x++, dst += 3) {
            uint32_t p;

            switch (fourcc) {
            case XDF_FMT_XRGB8888:
            case XDF_FMT_ARGB8888:
                dst[0] = s[2];
                dst[1] = s[1];
                dst[2] = s[0];
                s += 4;
                break;
            case XDF_FMT_RGB888:
                dst[0] = s[2];
                dst[1] = s[1];
                dst[2] = s[0];
                s += 3;
                break;
            case XDF_FMT_RGB565:
                p = s[0] | (uint32_t)s[1] << 8;
                dst[0] = widen(p >> 11, 5);
                dst[1] = widen((p >> 5) & 0x3f, 6);
                dst[2] = widen(p & 0x1f, 5);
                s += 2;
                break;
            case XDF_FMT_XRGB1555:
            case XDF_FMT_ARGB1555:
                p = s[0] | (uint32_t)s[1] << 8;
                dst[0] = widen((p >> 10) & 0x1f, 5);
                dst[1] = widen((p >> 5) & 0x1f, 5);
                dst[2] = widen(p & 0x1f, 5);
                s += 2;
                break;
            case XDF_FMT_XRGB4444:
            case XDF_FMT_ARGB4444:
                p = s[0] | (uint32_t)s[1] << 8;
                dst[0] = widen((p >> 8) & 0xf, 4);
                dst[1] = widen((p >> 4) & 0xf, 4);
                dst[2] = widen(p & 0xf, 4);
                s += 2;
                break;
            default:
                dst[0] = dst[1] = dst[2] = 0;
                break;
            }
        }
    }
}

/* libpng reports errors by longjmp: keep what may change across it here. */
typedef struct PngJob {
    FILE *f;
    png_structp png;
    png_infop info;
} PngJob;

static int png_write_file(PngJob *j, const uint8_t *rgb, uint32_t width,
                          uint32_t height, const char **why)
{
    uint32_t y;

    j->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    j->info = j->png ? png_create_info_struct(j->png) : NULL;
    if (!j->info) {
        *why = "out of memory in libpng";
        return -ENOMEM;
    }
    if (setjmp(png_jmpbuf(j->png))) {
        *why = "libpng could not encode or write the image";
        return -EIO;
    }
    png_init_io(j->png, j->f);
    png_set_compression_level(j->png, 1);
    /*
     * No row filters: cheaper to write, and any reader (the tests' own,
     * in Python, under TCG) decodes rows with zlib alone.
     */
    png_set_filter(j->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_IHDR(j->png, j->info, width, height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(j->png, j->info);
    for (y = 0; y < height; y++) {
        png_write_row(j->png, rgb + (size_t)y * width * 3);
    }
    png_write_end(j->png, NULL);
    return 0;
}

int xdf_png_write(const char *path, const uint8_t *rgb, uint32_t width,
                  uint32_t height, const char **why)
{
    PngJob j = { 0 };
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    int ret;

    if (!tmp) {
        *why = "out of memory";
        return -ENOMEM;
    }
    snprintf(tmp, len, "%s.tmp", path);
    j.f = fopen(tmp, "wb");
    if (!j.f) {
        ret = -errno;
        *why = strerror(errno);
        free(tmp);
        return ret;
    }
    ret = png_write_file(&j, rgb, width, height, why);
    png_destroy_write_struct(&j.png, &j.info);
    if (fclose(j.f) && !ret) {
        ret = -errno;
        *why = strerror(errno);
    }
    if (!ret && rename(tmp, path) < 0) {
        ret = -errno;
        *why = strerror(errno);
    }
    if (ret) {
        unlink(tmp);
    }
    free(tmp);
    return ret;
}
