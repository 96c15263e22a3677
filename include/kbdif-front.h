/*
 * xen-displfront: the frontend's reading of what a kbdif (vkbd) backend
 * writes into the shared page -- input events -- with every check a
 * frontend must make, and nothing from QEMU, so that unit tests and a
 * fuzzer can drive exactly this code.  The groundwork of the device's
 * input (kbdif) frontend.
 *
 * Include kbdif.h first (QEMU's copy, or Xen's <xen/io/kbdif.h>).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef KBDIF_FRONT_H
#define KBDIF_FRONT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "event-page-front.h"

/* Linux's input codes (linux/input-event-codes.h) that kbdif carries. */
#define KBDIF_KEY_MAX           0x2ff   /* KEY_MAX */
#define KBDIF_BTN_LEFT          0x110
#define KBDIF_BTN_RIGHT         0x111
#define KBDIF_BTN_MIDDLE        0x112
#define KBDIF_BTN_SIDE          0x113
#define KBDIF_BTN_EXTRA         0x114

/* kbdif's page, for event_page_prod() and event_page_take(). */
static const EventPageLayout kbdif_event_page = {
    .ring_offs = XENKBD_IN_RING_OFFS,
    .ring_len = XENKBD_IN_RING_LEN,
    .evt_size = XENKBD_IN_EVENT_SIZE,
};

/* What an event asks of the guest, once checked. */
typedef enum KbdifInput {
    KBDIF_INPUT_KEY,            /* a keyboard key: Linux code in @code */
    KBDIF_INPUT_BUTTON,         /* a pointer button: BTN_* in @code */
    KBDIF_INPUT_MOTION,         /* relative motion (and wheel) */
    KBDIF_INPUT_POS,            /* absolute position (and wheel) */
    KBDIF_INPUT_TOUCH,          /* multi-touch: kbdif_check_touch() */
    KBDIF_INPUT_IGNORED,        /* a type we do not ask for or know */
    KBDIF_INPUT_BAD,            /* a key code past KEY_MAX, a position
                                   with no area, a contact past the
                                   count: costs the connection */
} KbdifInput;

/*
 * Clamp (*@x, *@y) into [0, @width) x [0, @height), both not 0: a
 * backend rounding at the edge is not an attack.
 */
static inline void kbdif_clamp(int32_t *x, int32_t *y, uint32_t width,
                               uint32_t height)
{
    if (*x < 0) {
        *x = 0;
    } else if ((uint32_t)*x >= width) {
        *x = width - 1;
    }
    if (*y < 0) {
        *y = 0;
    } else if ((uint32_t)*y >= height) {
        *y = height - 1;
    }
}

/*
 * Classify @evt.  A key beyond KEY_MAX is KBDIF_INPUT_BAD, as is a
 * position when there is no pointer area; types we do not know are
 * KBDIF_INPUT_IGNORED; an absolute position outside [0, @width) x
 * [0, @height) is clamped into it; *@code is the key or button code.
 * Multi-touch events are KBDIF_INPUT_TOUCH, for kbdif_check_touch().
 */
static inline KbdifInput kbdif_check_event(union xenkbd_in_event *evt,
                                           uint32_t width, uint32_t height,
                                           uint32_t *code)
{
    switch (evt->type) {
    case XENKBD_TYPE_KEY:
        *code = evt->key.keycode;
        if (*code > KBDIF_KEY_MAX) {
            return KBDIF_INPUT_BAD;
        }
        return *code >= KBDIF_BTN_LEFT && *code <= KBDIF_BTN_EXTRA ?
               KBDIF_INPUT_BUTTON : KBDIF_INPUT_KEY;
    case XENKBD_TYPE_MOTION:
        return KBDIF_INPUT_MOTION;
    case XENKBD_TYPE_POS:
        if (!width || !height) {
            return KBDIF_INPUT_BAD;
        }
        kbdif_clamp(&evt->pos.abs_x, &evt->pos.abs_y, width, height);
        return KBDIF_INPUT_POS;
    case XENKBD_TYPE_MTOUCH:
        return KBDIF_INPUT_TOUCH;
    default:
        /* newer than we know */
        return KBDIF_INPUT_IGNORED;
    }
}

/*
 * Check multi-touch event @evt against the touch area @width x @height
 * and @contacts contacts: KBDIF_INPUT_TOUCH for a contact that goes
 * down, moves (its position clamped into the area) or goes up;
 * KBDIF_INPUT_IGNORED for what carries nothing we pass on (SYN: QEMU
 * makes each of those a frame; SHAPE, ORIENT, newer sub-codes);
 * KBDIF_INPUT_BAD for a contact id of @contacts or more, or no area.
 */
static inline KbdifInput kbdif_check_touch(union xenkbd_in_event *evt,
                                           uint32_t width, uint32_t height,
                                           uint32_t contacts)
{
    struct xenkbd_mtouch *mt = &evt->mtouch;

    switch (mt->event_type) {
    case XENKBD_MT_EV_DOWN:
    case XENKBD_MT_EV_MOTION:
        if (!width || !height || mt->contact_id >= contacts) {
            return KBDIF_INPUT_BAD;
        }
        kbdif_clamp(&mt->u.pos.abs_x, &mt->u.pos.abs_y, width, height);
        return KBDIF_INPUT_TOUCH;
    case XENKBD_MT_EV_UP:
        return mt->contact_id < contacts ? KBDIF_INPUT_TOUCH :
                                           KBDIF_INPUT_BAD;
    default:
        return KBDIF_INPUT_IGNORED;
    }
}

#endif /* KBDIF_FRONT_H */
