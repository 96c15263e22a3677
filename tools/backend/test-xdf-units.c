/*
 * Unit tests of xdf-backend's EDID, image and input code
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <glib/gstdio.h>
#include <png.h>
#include <string.h>

#include "xdf-edid.h"
#include "xdf-input.h"
#include "xdf-image.h"

static void check_edid(uint32_t w, uint32_t h)
{
    uint8_t e[XDF_EDID_SIZE];
    const uint8_t *d = e + 54;
    uint8_t sum = 0;
    uint32_t clock, htotal, vtotal;
    int i;

    xdf_edid_build(e, w, h);
    for (i = 0; i < XDF_EDID_SIZE; i++) {
        sum += e[i];
    }
    g_assert_cmpuint(sum, ==, 0);
    g_assert_cmpmem(e, 8, "\0\xff\xff\xff\xff\xff\xff\0", 8);
    g_assert_cmpuint(e[18], ==, 1);
    g_assert_cmpuint(e[19], ==, 4);
    g_assert_cmpuint(d[2] | (d[4] & 0xf0) << 4, ==, MIN(w, 4095));
    g_assert_cmpuint(d[5] | (d[7] & 0xf0) << 4, ==, MIN(h, 4095));
    clock = (d[0] | d[1] << 8) * 10000u;
    htotal = (d[2] | (d[4] & 0xf0) << 4) + (d[3] | (d[4] & 0xf) << 8);
    vtotal = (d[5] | (d[7] & 0xf0) << 4) + (d[6] | (d[7] & 0xf) << 8);
    g_assert_cmpuint(clock, >, 0);
    /*
     * refresh 60 Hz where the clock allows, at least 1 Hz (the clock is
     * rounded up to 10 kHz: tiny modes come out a little faster)
     */
    g_assert_cmpuint(clock / htotal / vtotal, <=, w < 64 ? 70 : 60);
    g_assert_cmpuint(clock / htotal / vtotal, >=, 1);
    g_assert_cmpuint(e[72 + 3], ==, 0xfc);
}

static void test_edid(void)
{
    check_edid(640, 480);
    check_edid(800, 600);
    check_edid(1920, 1080);
    check_edid(3840, 2160);
    check_edid(1, 1);
    check_edid(8192, 8192);
}

static void test_formats(void)
{
    /* one red, one green, one blue, one white pixel in each format */
    static const uint8_t want[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255,
                                      255, 255, 255 };
    static const uint32_t xr24[4] = { 0xff0000, 0x00ff00, 0x0000ff,
                                      0xffffffff };
    static const uint16_t rg16[4] = { 0xf800, 0x07e0, 0x001f, 0xffff };
    static const uint16_t xr15[4] = { 0x7c00, 0x03e0, 0x001f, 0x7fff };
    static const uint16_t xr12[4] = { 0x0f00, 0x00f0, 0x000f, 0x0fff };
    static const uint8_t rg24[12] = { 0, 0, 255, 0, 255, 0, 255, 0, 0,
                                      255, 255, 255 };
    uint8_t out[12];
    char name[12];

    xdf_to_rgb(out, (const uint8_t *)xr24, 16, 4, 1, XDF_FMT_XRGB8888);
    g_assert_cmpmem(out, 12, want, 12);
    xdf_to_rgb(out, (const uint8_t *)xr24, 16, 4, 1, XDF_FMT_ARGB8888);
    g_assert_cmpmem(out, 12, want, 12);
    xdf_to_rgb(out, (const uint8_t *)rg16, 8, 4, 1, XDF_FMT_RGB565);
    g_assert_cmpmem(out, 12, want, 12);
    xdf_to_rgb(out, (const uint8_t *)xr15, 8, 4, 1, XDF_FMT_XRGB1555);
    g_assert_cmpmem(out, 12, want, 12);
    xdf_to_rgb(out, (const uint8_t *)xr12, 8, 4, 1, XDF_FMT_ARGB4444);
    g_assert_cmpmem(out, 12, want, 12);
    xdf_to_rgb(out, rg24, 12, 4, 1, XDF_FMT_RGB888);
    g_assert_cmpmem(out, 12, want, 12);

    g_assert_cmpuint(xdf_format_bpp(XDF_FMT_XRGB8888), ==, 32);
    g_assert_cmpuint(xdf_format_bpp(XDF_FMT_RGB565), ==, 16);
    g_assert_cmpuint(xdf_format_bpp(XDF_FOURCC('Y', 'U', 'Y', 'V')), ==, 0);
    g_assert_cmpstr(xdf_format_name(XDF_FMT_XRGB8888, name), ==, "XR24");
    g_assert_cmpstr(xdf_format_name(0x01020304, name), ==, "0x01020304");
}

/* Rows with a stride larger than the width are read correctly. */
static void test_stride(void)
{
    /* 3x2 RGB565 with stride 8 (4 * ceil(3 * 16 / 32)) */
    static const uint16_t src[8] = { 0xf800, 0xf800, 0xf800, 0x1234,
                                     0x001f, 0x001f, 0x001f, 0x1234 };
    uint8_t out[18];
    int i;

    xdf_to_rgb(out, (const uint8_t *)src, 8, 3, 2, XDF_FMT_RGB565);
    for (i = 0; i < 3; i++) {
        g_assert_cmpuint(out[i * 3], ==, 255);
        g_assert_cmpuint(out[9 + i * 3 + 2], ==, 255);
        g_assert_cmpuint(out[9 + i * 3], ==, 0);
    }
}

static void test_png(void)
{
    g_autofree char *dir = g_dir_make_tmp("xdf-units-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "t.png", NULL);
    uint8_t rgb[5 * 3 * 3];
    png_image img = { .version = PNG_IMAGE_VERSION };
    uint8_t back[sizeof(rgb)];
    const char *why = NULL;
    size_t i;

    for (i = 0; i < sizeof(rgb); i++) {
        rgb[i] = (uint8_t)(i * 7);
    }
    g_assert_cmpint(xdf_png_write(path, rgb, 5, 3, &why), ==, 0);
    g_assert_true(png_image_begin_read_from_file(&img, path));
    g_assert_cmpuint(img.width, ==, 5);
    g_assert_cmpuint(img.height, ==, 3);
    img.format = PNG_FORMAT_RGB;
    g_assert_true(png_image_finish_read(&img, NULL, back, 0, NULL));
    g_assert_cmpmem(back, sizeof(back), rgb, sizeof(rgb));
    g_unlink(path);

    g_assert_cmpint(xdf_png_write("/nonexistent/dir/t.png", rgb, 5, 3,
                                  &why), <, 0);
    g_assert_nonnull(why);
    g_rmdir(dir);
}

static void test_keysyms(void)
{
    /* the X keysyms of a US keyboard; Linux's KEY_* numbers */
    static const struct {
        uint32_t keysym, key;
    } cases[] = {
        { 'a', 30 }, { 'A', 30 }, { 'q', 16 }, { 'z', 44 }, { 'm', 50 },
        { 'x', 45 }, { 'e', 18 }, { 'n', 49 }, { '1', 2 }, { '!', 2 },
        { '0', 11 }, { ')', 11 }, { ' ', 57 }, { '-', 12 }, { '_', 12 },
        { '/', 53 }, { '?', 53 }, { '`', 41 }, { '~', 41 }, { '"', 40 },
        { 0xff0d, 28 },         /* Return */
        { 0xff08, 14 },         /* BackSpace */
        { 0xff09, 15 },         /* Tab */
        { 0xff1b, 1 },          /* Escape */
        { 0xffe1, 42 },         /* Shift_L */
        { 0xffe3, 29 },         /* Control_L */
        { 0xffe9, 56 },         /* Alt_L */
        { 0xff51, 105 },        /* Left */
        { 0xff54, 108 },        /* Down */
        { 0xffbe, 59 },         /* F1 */
        { 0xffc7, 68 },         /* F10 */
        { 0xffc8, 87 },         /* F11 */
        { 0xffc9, 88 },         /* F12 */
        { 0x00e9, 0 },          /* eacute: not on a US keyboard */
        { 0x20ac, 0 },          /* EuroSign */
        { 0, 0 }, { 0x1f, 0 }, { 0x7f, 0 }, { 0xffffffff, 0 },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpuint(xdf_keysym_to_key(cases[i].keysym), ==,
                         cases[i].key);
    }
}

static void test_pointer(void)
{
    union xenkbd_in_event ev[XDF_POINTER_MAX_EVENTS];
    XdfPointer p = { 0 };
    unsigned int n;

    /* absolute: the first event gives the position */
    n = xdf_pointer_events(&p, 0, 10, 20, true, ev);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(ev[0].type, ==, XENKBD_TYPE_POS);
    g_assert_cmpint(ev[0].pos.abs_x, ==, 10);
    g_assert_cmpint(ev[0].pos.abs_y, ==, 20);
    g_assert_cmpint(ev[0].pos.rel_z, ==, 0);
    /* the same place again: nothing */
    g_assert_cmpuint(xdf_pointer_events(&p, 0, 10, 20, true, ev), ==, 0);
    /* a click somewhere else: position first, then the button */
    n = xdf_pointer_events(&p, 1, 30, 40, true, ev);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(ev[0].type, ==, XENKBD_TYPE_POS);
    g_assert_cmpint(ev[0].pos.abs_x, ==, 30);
    g_assert_cmpuint(ev[1].type, ==, XENKBD_TYPE_KEY);
    g_assert_cmpuint(ev[1].key.keycode, ==, XDF_BTN_LEFT);
    g_assert_cmpuint(ev[1].key.pressed, ==, 1);
    /* release left, press right and middle: in bit order */
    n = xdf_pointer_events(&p, 6, 30, 40, true, ev);
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmpuint(ev[0].key.keycode, ==, XDF_BTN_LEFT);
    g_assert_cmpuint(ev[0].key.pressed, ==, 0);
    g_assert_cmpuint(ev[1].key.keycode, ==, XDF_BTN_MIDDLE);
    g_assert_cmpuint(ev[1].key.pressed, ==, 1);
    g_assert_cmpuint(ev[2].key.keycode, ==, XDF_BTN_RIGHT);
    g_assert_cmpuint(ev[2].key.pressed, ==, 1);
    n = xdf_pointer_events(&p, 0, 30, 40, true, ev);
    g_assert_cmpuint(n, ==, 2);
    /* wheel up on the press only, then down */
    n = xdf_pointer_events(&p, 8, 30, 40, true, ev);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(ev[0].pos.rel_z, ==, -1);
    g_assert_cmpuint(xdf_pointer_events(&p, 0, 30, 40, true, ev), ==, 0);
    n = xdf_pointer_events(&p, 16, 30, 40, true, ev);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(ev[0].pos.rel_z, ==, 1);

    /* relative: nothing to measure from at first, then the distance */
    memset(&p, 0, sizeof(p));
    g_assert_cmpuint(xdf_pointer_events(&p, 0, 100, 100, false, ev), ==, 0);
    n = xdf_pointer_events(&p, 0, 90, 105, false, ev);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(ev[0].type, ==, XENKBD_TYPE_MOTION);
    g_assert_cmpint(ev[0].motion.rel_x, ==, -10);
    g_assert_cmpint(ev[0].motion.rel_y, ==, 5);
    g_assert_cmpint(ev[0].motion.rel_z, ==, 0);
    n = xdf_pointer_events(&p, 16 | 4, 90, 105, false, ev);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(ev[0].type, ==, XENKBD_TYPE_MOTION);
    g_assert_cmpint(ev[0].motion.rel_x, ==, 0);
    g_assert_cmpint(ev[0].motion.rel_z, ==, 1);
    g_assert_cmpuint(ev[1].key.keycode, ==, XDF_BTN_RIGHT);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xdf-backend/edid", test_edid);
    g_test_add_func("/xdf-backend/formats", test_formats);
    g_test_add_func("/xdf-backend/stride", test_stride);
    g_test_add_func("/xdf-backend/png", test_png);
    g_test_add_func("/xdf-backend/keysyms", test_keysyms);
    g_test_add_func("/xdf-backend/pointer", test_pointer);
    return g_test_run();
}
