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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/displif-proto/resolution/good", test_resolution_good);
    g_test_add_func("/displif-proto/resolution/bad", test_resolution_bad);
    return g_test_run();
}
