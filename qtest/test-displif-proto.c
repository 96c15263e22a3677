/*
 * Unit tests for the displif protocol helpers
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>

#include "displif-proto.h"

static void test_resolution_good(void)
{
    static const struct {
        const char *str;
        uint32_t w, h;
    } good[] = {
        { "1x1", 1, 1 },
        { "640x480", 640, 480 },
        { "1920x1080", 1920, 1080 },
        { "8192x8192", DISPLIF_MAX_SIDE, DISPLIF_MAX_SIDE },
        { "0800x0600", 800, 600 },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(good); i++) {
        uint32_t w = 0, h = 0;

        g_assert_cmpint(displif_parse_resolution(good[i].str, &w, &h), ==, 0);
        g_assert_cmpuint(w, ==, good[i].w);
        g_assert_cmpuint(h, ==, good[i].h);
    }
}

static void test_resolution_bad(void)
{
    static const char *const malformed[] = {
        "", "x", "1024", "1024x", "x768", "1024*768", "-1x768", "+1x768",
        "1024x768x", " 1024x768", "1024x 768", "1024x768 ", "1024X768",
        "1024x-768", "0x1024x768", "1e3x768",
    };
    static const char *const out_of_range[] = {
        "0x0", "0x768", "1024x0", "8193x600", "600x8193", "99999x99999",
        "4294967297x600", "99999999999999999999999999x1",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(malformed); i++) {
        uint32_t w = 7, h = 7;

        g_assert_cmpint(displif_parse_resolution(malformed[i], &w, &h), ==,
                        -EINVAL);
        /* nothing written on failure */
        g_assert_cmpuint(w, ==, 7);
        g_assert_cmpuint(h, ==, 7);
    }
    for (i = 0; i < G_N_ELEMENTS(out_of_range); i++) {
        uint32_t w = 7, h = 7;

        g_assert_cmpint(displif_parse_resolution(out_of_range[i], &w, &h), ==,
                        -ERANGE);
        g_assert_cmpuint(w, ==, 7);
        g_assert_cmpuint(h, ==, 7);
    }
    g_assert_cmpint(displif_parse_resolution(NULL, NULL, NULL), ==, -EINVAL);
}

static void test_sizes(void)
{
    g_assert_cmpuint(DISPLIF_GREFS_PER_DIR_PAGE, ==, 1023);
    g_assert_cmpuint(displif_pages(0), ==, 0);
    g_assert_cmpuint(displif_pages(1), ==, 1);
    g_assert_cmpuint(displif_pages(4096), ==, 1);
    g_assert_cmpuint(displif_pages(4097), ==, 2);
    /* 1920x1080x32: 2025 data pages, 2 directory pages */
    g_assert_cmpuint(displif_pages(displif_buffer_size(1920, 1080, 32)), ==,
                     2025);
    g_assert_cmpuint(displif_dir_pages(2025), ==, 2);
    g_assert_cmpuint(displif_dir_pages(1023), ==, 1);
    g_assert_cmpuint(displif_dir_pages(1024), ==, 2);
    g_assert_cmpuint(displif_dir_pages(0), ==, 1);
    /* displ_be's stride: 4 * ceil(width * bpp / 32) */
    g_assert_cmpuint(displif_stride(641, 16), ==, 1284);
    g_assert_cmpuint(displif_stride(641, 24), ==, 1924);
    g_assert_cmpuint(displif_stride(640, 32), ==, 2560);
    g_assert_cmpuint(displif_stride(1, 8), ==, 4);
    g_assert_cmpuint(displif_buffer_size(8192, 8192, 32), ==,
                     (uint64_t)8192 * 8192 * 4);
}

static void test_pgdir(void)
{
    const uint32_t n_data = 2500;
    uint32_t n_dir = displif_dir_pages(n_data);
    g_autofree uint32_t *data = g_new(uint32_t, n_data);
    g_autofree uint32_t *back = g_new0(uint32_t, n_data);
    uint32_t dir_refs[3] = { 100, 200, 300 };
    g_autofree uint32_t *dir = g_malloc0(n_dir * DISPLIF_PAGE_SIZE);
    uint32_t i;

    g_assert_cmpuint(n_dir, ==, 3);
    for (i = 0; i < n_data; i++) {
        data[i] = 1000 + i;
    }
    displif_pgdir_fill(dir, n_dir, dir_refs, data, n_data);
    /* the chain */
    g_assert_cmpuint(dir[0], ==, 200);
    g_assert_cmpuint(dir[1024], ==, 300);
    g_assert_cmpuint(dir[2048], ==, 0);
    /* refs, 1023 per page */
    g_assert_cmpuint(dir[1], ==, 1000);
    g_assert_cmpuint(dir[1023], ==, 1000 + 1022);
    g_assert_cmpuint(dir[1025], ==, 1000 + 1023);
    g_assert_cmpuint(dir[2048 + 1 + 2500 - 2046 - 1], ==, 1000 + 2499);
    g_assert_cmpuint(dir[2048 + 1 + 2500 - 2046], ==, 0);
    g_assert_cmpint(displif_pgdir_read(dir, n_dir, dir_refs, back, n_data),
                    ==, 0);
    g_assert_cmpmem(back, n_data * 4, data, n_data * 4);

    /* be-alloc: the backend has to fill in the refs */
    displif_pgdir_fill(dir, n_dir, dir_refs, NULL, n_data);
    g_assert_cmpuint(dir[1024], ==, 300);
    g_assert_cmpint(displif_pgdir_read(dir, n_dir, dir_refs, back, n_data),
                    ==, -EINVAL);
    displif_pgdir_fill(dir, n_dir, dir_refs, data, n_data);
    dir[2048 + 1 + 10] = 0;                 /* one ref missing */
    g_assert_cmpint(displif_pgdir_read(dir, n_dir, dir_refs, back, n_data),
                    ==, -EINVAL);
    displif_pgdir_fill(dir, n_dir, dir_refs, data, n_data);
    dir[1024] = 7;                          /* chain rewritten */
    g_assert_cmpint(displif_pgdir_read(dir, n_dir, dir_refs, back, n_data),
                    ==, -EINVAL);
}

static void test_ring_checks(void)
{
    /* free-running indices, across the wrap */
    g_assert_true(displif_rsp_prod_ok(10, 10, 10));
    g_assert_true(displif_rsp_prod_ok(11, 10, 11));
    g_assert_false(displif_rsp_prod_ok(12, 10, 11));
    g_assert_false(displif_rsp_prod_ok(9, 10, 11));    /* went backwards */
    g_assert_true(displif_rsp_prod_ok(1, UINT32_MAX, 2));
    g_assert_false(displif_rsp_prod_ok(3, UINT32_MAX, 2));
}

static void test_edid(void)
{
    uint8_t edid[256] = {
        0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
    };
    uint8_t *dtd = edid + 54, sum = 0;
    uint32_t w = 0, h = 0;
    int i;

    dtd[0] = 0x02;                      /* pixel clock */
    dtd[1] = 0x3a;
    dtd[2] = 1920 & 0xff;
    dtd[4] = (1920 >> 8) << 4;
    dtd[5] = 1080 & 0xff;
    dtd[7] = (1080 >> 8) << 4;
    for (i = 0; i < 127; i++) {
        sum += edid[i];
    }
    edid[127] = -sum;
    g_assert_cmpint(displif_edid_preferred(edid, 128, &w, &h), ==, 0);
    g_assert_cmpuint(w, ==, 1920);
    g_assert_cmpuint(h, ==, 1080);
    g_assert_cmpint(displif_edid_preferred(edid, 127, &w, &h), ==, -EINVAL);
    edid[100] ^= 1;                     /* checksum breaks */
    g_assert_cmpint(displif_edid_preferred(edid, 128, &w, &h), ==, -EINVAL);
    edid[100] ^= 1;
    edid[0] = 1;                        /* header breaks */
    g_assert_cmpint(displif_edid_preferred(edid, 128, &w, &h), ==, -EINVAL);
}

/* CEA-861's 1920x1080 at 60 Hz: 148.5 MHz over 2200 x 1125 pixels. */
static void test_edid_refresh(void)
{
    uint8_t edid[128] = {
        0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
    };
    uint8_t *dtd = edid + 54, sum = 0;
    uint32_t mhz = 0;
    int i;

    dtd[0] = 14850 & 0xff;              /* 148.5 MHz in 10 kHz units */
    dtd[1] = 14850 >> 8;
    dtd[2] = 1920 & 0xff;
    dtd[3] = 280 & 0xff;                /* horizontal blanking */
    dtd[4] = (1920 >> 8) << 4 | 280 >> 8;
    dtd[5] = 1080 & 0xff;
    dtd[6] = 45;                        /* vertical blanking */
    dtd[7] = (1080 >> 8) << 4;
    for (i = 0; i < 127; i++) {
        sum += edid[i];
    }
    edid[127] = -sum;
    g_assert_cmpint(displif_edid_refresh_mhz(edid, 128, &mhz), ==, 0);
    g_assert_cmpuint(mhz, ==, 60000);

    /* 1 kHz: a nonsense rate (no blanking, a tiny mode, a fast clock) */
    dtd[2] = 16;
    dtd[3] = 0;
    dtd[4] = 0;
    dtd[5] = 16;
    dtd[6] = 0;
    dtd[7] = 0;
    sum = 0;
    for (i = 0; i < 127; i++) {
        sum += edid[i];
    }
    edid[127] = -sum;
    g_assert_cmpint(displif_edid_refresh_mhz(edid, 128, &mhz), ==, -EINVAL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/displif-proto/resolution/good", test_resolution_good);
    g_test_add_func("/displif-proto/resolution/bad", test_resolution_bad);
    g_test_add_func("/displif-proto/sizes", test_sizes);
    g_test_add_func("/displif-proto/pgdir", test_pgdir);
    g_test_add_func("/displif-proto/ring-checks", test_ring_checks);
    g_test_add_func("/displif-proto/edid", test_edid);
    g_test_add_func("/displif-proto/edid-refresh", test_edid_refresh);
    return g_test_run();
}
