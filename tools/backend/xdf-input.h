/*
 * xdf-backend: a VNC viewer's input as kbdif (vkbd) events
 *
 * Pure functions, unit-tested in test-xdf-units.c: X keysyms (what RFB
 * key events carry) to Linux key codes, and RFB pointer events (button
 * mask, position) to XENKBD_TYPE_KEY / POS / MOTION events.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_INPUT_H
#define XDF_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/kbdif.h>

/* Linux's BTN_LEFT, BTN_RIGHT, BTN_MIDDLE (linux/input-event-codes.h) */
#define XDF_BTN_LEFT   0x110
#define XDF_BTN_RIGHT  0x111
#define XDF_BTN_MIDDLE 0x112

/* The most events one pointer event becomes: position, 3 buttons, wheel */
#define XDF_POINTER_MAX_EVENTS 6

/*
 * The Linux key code (KEY_*) of X keysym @keysym on a US keyboard, 0
 * when there is none.  Shifted symbols give their key ('!' is KEY_1,
 * 'A' is KEY_A): viewers send Shift as a key of its own.
 */
uint32_t xdf_keysym_to_key(uint32_t keysym);

/* What the pointer did last, per kbdif device. */
typedef struct XdfPointer {
    int buttons;            /* RFB button mask */
    bool have_pos;
    int32_t x, y;
} XdfPointer;

/*
 * The kbdif events for an RFB pointer event: button mask @mask (bit 0
 * left, 1 middle, 2 right, 3 wheel up, 4 wheel down) at @x, @y (already
 * in the frontend's coordinates).  With @abs a XENKBD_TYPE_POS when the
 * position changed or the wheel turned, else a XENKBD_TYPE_MOTION with
 * the distance from the last position; then a XENKBD_TYPE_KEY for each
 * button that changed.  The wheel counts on the press (rel_z -1 up, +1
 * down).  Writes up to XDF_POINTER_MAX_EVENTS events into @out and
 * returns how many.
 */
unsigned int xdf_pointer_events(XdfPointer *p, int mask, int32_t x,
                                int32_t y, bool abs,
                                union xenkbd_in_event *out);

#endif
