/*
 * Unit tests for the input groundwork: reading a kbdif (vkbd) backend's
 * event page (include/kbdif-front.h) and the inverse of the fit (the
 * guest pixel shown under a connector coordinate, displif-proto.h).
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <stdint.h>

#include <xen/io/kbdif.h>

#include "displif-proto.h"
#include "kbdif-front.h"

static uint8_t page[4096] __attribute__((aligned(4096)));

static struct xenkbd_page *page_init(uint32_t in_prod)
{
    struct xenkbd_page *p = (struct xenkbd_page *)page;

    memset(page, 0, sizeof(page));
    p->in_prod = in_prod;
    return p;
}

static void put_key(struct xenkbd_page *p, uint32_t code, bool pressed)
{
    union xenkbd_in_event *e = &XENKBD_IN_RING_REF(p, p->in_prod);

    memset(e, 0, sizeof(*e));
    e->key.type = XENKBD_TYPE_KEY;
    e->key.pressed = pressed;
    e->key.keycode = code;
    p->in_prod++;
}

static void test_events_take(void)
{
    /*
     * Not near the top of the index space: the ring has 51 slots, which
     * do not divide 2^32, so kbdif's indices cannot wrap cleanly there
     * (for Linux's frontend neither).
     */
    struct xenkbd_page *p = page_init(1000);
    union xenkbd_in_event evt;
    uint32_t cons = 1000, prod, code, i;

    put_key(p, 30, true);                       /* KEY_A */
    put_key(p, 30, false);
    put_key(p, KBDIF_BTN_LEFT, true);
    g_assert_cmpint(event_page_prod(p, &kbdif_event_page, cons, &prod),
                    ==, 0);
    g_assert_cmpuint(prod, ==, 1003);
    p->in_cons = 777;                           /* ours counts */
    for (i = 0; cons != prod; i++) {
        event_page_take(p, &kbdif_event_page, &cons, &evt);
        g_assert_cmpuint(p->in_cons, ==, cons);
        g_assert_cmpint(evt.type, ==, XENKBD_TYPE_KEY);
        g_assert_cmpint(kbdif_check_event(&evt, 640, 480, &code), ==,
                        (i < 2 ? KBDIF_INPUT_KEY : KBDIF_INPUT_BUTTON));
        g_assert_cmpuint(code, ==, (i < 2 ? 30 : KBDIF_BTN_LEFT));
    }
    g_assert_cmpuint(i, ==, 3);
}

static void test_events_bounds(void)
{
    struct xenkbd_page *p;
    uint32_t prod;

    p = page_init(5 + XENKBD_IN_RING_LEN);
    g_assert_cmpint(event_page_prod(p, &kbdif_event_page, 5, &prod),
                    ==, 0);
    p = page_init(6 + XENKBD_IN_RING_LEN);
    g_assert_cmpint(event_page_prod(p, &kbdif_event_page, 5, &prod),
                    ==, -EPROTO);
    p = page_init(4);
    g_assert_cmpint(event_page_prod(p, &kbdif_event_page, 5, &prod),
                    ==, -EPROTO);
}

static void test_check(void)
{
    union xenkbd_in_event evt;
    uint32_t code = 0;

    memset(&evt, 0, sizeof(evt));
    evt.key.type = XENKBD_TYPE_KEY;
    evt.key.keycode = KBDIF_KEY_MAX;
    g_assert_cmpint(kbdif_check_event(&evt, 1, 1, &code), ==,
                    KBDIF_INPUT_KEY);
    evt.key.keycode = KBDIF_KEY_MAX + 1;
    g_assert_cmpint(kbdif_check_event(&evt, 1, 1, &code), ==,
                    KBDIF_INPUT_BAD);
    evt.key.keycode = UINT32_MAX;
    g_assert_cmpint(kbdif_check_event(&evt, 1, 1, &code), ==,
                    KBDIF_INPUT_BAD);

    memset(&evt, 0, sizeof(evt));
    evt.pos.type = XENKBD_TYPE_POS;
    evt.pos.abs_x = -5;
    evt.pos.abs_y = 1000;
    g_assert_cmpint(kbdif_check_event(&evt, 640, 480, &code), ==,
                    KBDIF_INPUT_POS);
    g_assert_cmpint(evt.pos.abs_x, ==, 0);
    g_assert_cmpint(evt.pos.abs_y, ==, 479);
    g_assert_cmpint(kbdif_check_event(&evt, 0, 480, &code), ==,
                    KBDIF_INPUT_BAD);

    memset(&evt, 0, sizeof(evt));
    evt.motion.type = XENKBD_TYPE_MOTION;
    g_assert_cmpint(kbdif_check_event(&evt, 0, 0, &code), ==,
                    KBDIF_INPUT_MOTION);
    evt.type = XENKBD_TYPE_MTOUCH;
    g_assert_cmpint(kbdif_check_event(&evt, 0, 0, &code), ==,
                    KBDIF_INPUT_TOUCH);
    evt.type = 200;
    g_assert_cmpint(kbdif_check_event(&evt, 0, 0, &code), ==,
                    KBDIF_INPUT_IGNORED);
}

/* Multi-touch: contacts within the count, positions clamped. */
static void test_check_touch(void)
{
    union xenkbd_in_event evt;

    memset(&evt, 0, sizeof(evt));
    evt.mtouch.type = XENKBD_TYPE_MTOUCH;
    evt.mtouch.event_type = XENKBD_MT_EV_DOWN;
    evt.mtouch.contact_id = 9;
    evt.mtouch.u.pos.abs_x = 2000;
    evt.mtouch.u.pos.abs_y = -1;
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 10), ==,
                    KBDIF_INPUT_TOUCH);
    g_assert_cmpint(evt.mtouch.u.pos.abs_x, ==, 799);
    g_assert_cmpint(evt.mtouch.u.pos.abs_y, ==, 0);
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 9), ==,
                    KBDIF_INPUT_BAD);
    g_assert_cmpint(kbdif_check_touch(&evt, 0, 600, 10), ==,
                    KBDIF_INPUT_BAD);

    evt.mtouch.event_type = XENKBD_MT_EV_MOTION;
    evt.mtouch.contact_id = 255;
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 10), ==,
                    KBDIF_INPUT_BAD);
    evt.mtouch.event_type = XENKBD_MT_EV_UP;
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 10), ==,
                    KBDIF_INPUT_BAD);
    evt.mtouch.contact_id = 0;
    g_assert_cmpint(kbdif_check_touch(&evt, 0, 0, 1), ==,
                    KBDIF_INPUT_TOUCH);
    evt.mtouch.event_type = XENKBD_MT_EV_SYN;
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 10), ==,
                    KBDIF_INPUT_IGNORED);
    evt.mtouch.event_type = XENKBD_MT_EV_SHAPE;
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 10), ==,
                    KBDIF_INPUT_IGNORED);
    evt.mtouch.event_type = 77;
    g_assert_cmpint(kbdif_check_touch(&evt, 800, 600, 10), ==,
                    KBDIF_INPUT_IGNORED);
}

/* Scaled: 640 guest columns in 1024 connector ones, 64 from the left. */
static void test_fit_scaled(void)
{
    uint32_t g, c, last = 0;

    /* every connector pixel of the picture shows the documented pixel */
    for (c = 64; c < 64 + 896; c++) {
        g_assert_true(displif_fit_guest_pixel(c, 64, 896, 0, 640, false,
                                              &g));
        g_assert_cmpuint(g, ==, (2 * (c - 64) + 1) * 640 / (2 * 896));
        g_assert_cmpuint(g, >=, last);          /* monotonic */
        last = g;
    }
    g_assert_cmpuint(last, ==, 639);
    /* the black bars: the nearest edge, and false */
    g_assert_false(displif_fit_guest_pixel(0, 64, 896, 0, 640, false, &g));
    g_assert_cmpuint(g, ==, 0);
    g_assert_false(displif_fit_guest_pixel(1023, 64, 896, 0, 640, false,
                                           &g));
    g_assert_cmpuint(g, ==, 639);
    /* an integer ratio repeats every pixel exactly */
    for (c = 0; c < 1280; c++) {
        displif_fit_guest_pixel(c, 0, 1280, 0, 640, false, &g);
        g_assert_cmpuint(g, ==, c / 2);
    }
}

/* 1:1 (center and crop): an offset, cut to the picture. */
static void test_fit_one_to_one(void)
{
    uint32_t g;

    /* center: 720 guest columns of 1024, the picture at 152 */
    g_assert_true(displif_fit_guest_pixel(152, 152, 720, 0, 720, true, &g));
    g_assert_cmpuint(g, ==, 0);
    g_assert_true(displif_fit_guest_pixel(871, 152, 720, 0, 720, true, &g));
    g_assert_cmpuint(g, ==, 719);
    g_assert_false(displif_fit_guest_pixel(872, 152, 720, 0, 720, true,
                                           &g));
    g_assert_cmpuint(g, ==, 719);
    /* center, a guest wider than the connector: its middle is shown */
    g_assert_true(displif_fit_guest_pixel(0, 0, 640, 320, 1280, true, &g));
    g_assert_cmpuint(g, ==, 320);
    /* nothing to show */
    g_assert_false(displif_fit_guest_pixel(5, 0, 0, 0, 640, true, &g));
    g_assert_false(displif_fit_guest_pixel(5, 0, 640, 0, 0, false, &g));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kbdif-front/events/take", test_events_take);
    g_test_add_func("/kbdif-front/events/bounds", test_events_bounds);
    g_test_add_func("/kbdif-front/check", test_check);
    g_test_add_func("/kbdif-front/check-touch", test_check_touch);
    g_test_add_func("/displif-proto/fit/scaled", test_fit_scaled);
    g_test_add_func("/displif-proto/fit/one-to-one", test_fit_one_to_one);
    return g_test_run();
}
