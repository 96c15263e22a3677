/*
 * xdf-backend: a VNC viewer's input as kbdif (vkbd) events
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include <linux/input-event-codes.h>
#include <rfb/keysym.h>

#include "xdf-input.h"

_Static_assert(XDF_BTN_LEFT == BTN_LEFT && XDF_BTN_RIGHT == BTN_RIGHT &&
               XDF_BTN_MIDDLE == BTN_MIDDLE, "Linux button codes");

/* Keys of a US keyboard by the ASCII character on them (and shifted). */
static uint32_t ascii_key(uint32_t c)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
    static const uint16_t letter_keys[26] = {
        KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I,
        KEY_J, KEY_K, KEY_L, KEY_M, KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R,
        KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z,
    };
    static const struct {
        char plain, shifted;
        uint16_t key;
    } punct[] = {
        { '1', '!', KEY_1 }, { '2', '@', KEY_2 }, { '3', '#', KEY_3 },
        { '4', '$', KEY_4 }, { '5', '%', KEY_5 }, { '6', '^', KEY_6 },
        { '7', '&', KEY_7 }, { '8', '*', KEY_8 }, { '9', '(', KEY_9 },
        { '0', ')', KEY_0 }, { '-', '_', KEY_MINUS },
        { '=', '+', KEY_EQUAL }, { '[', '{', KEY_LEFTBRACE },
        { ']', '}', KEY_RIGHTBRACE }, { '\\', '|', KEY_BACKSLASH },
        { ';', ':', KEY_SEMICOLON }, { '\'', '"', KEY_APOSTROPHE },
        { '`', '~', KEY_GRAVE }, { ',', '<', KEY_COMMA },
        { '.', '>', KEY_DOT }, { '/', '?', KEY_SLASH },
        { ' ', ' ', KEY_SPACE },
    };
    size_t i;

    if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return letter_keys[strchr(letters, (int)c) - letters];
    }
    for (i = 0; i < sizeof(punct) / sizeof(punct[0]); i++) {
        if ((char)c == punct[i].plain || (char)c == punct[i].shifted) {
            return punct[i].key;
        }
    }
    return 0;
}

uint32_t xdf_keysym_to_key(uint32_t keysym)
{
    static const struct {
        uint32_t keysym;
        uint16_t key;
    } special[] = {
        { XK_Return, KEY_ENTER }, { XK_KP_Enter, KEY_KPENTER },
        { XK_BackSpace, KEY_BACKSPACE }, { XK_Tab, KEY_TAB },
        { XK_ISO_Left_Tab, KEY_TAB }, { XK_Escape, KEY_ESC },
        { XK_Delete, KEY_DELETE }, { XK_Insert, KEY_INSERT },
        { XK_Home, KEY_HOME }, { XK_End, KEY_END },
        { XK_Page_Up, KEY_PAGEUP }, { XK_Page_Down, KEY_PAGEDOWN },
        { XK_Left, KEY_LEFT }, { XK_Up, KEY_UP }, { XK_Right, KEY_RIGHT },
        { XK_Down, KEY_DOWN },
        { XK_Shift_L, KEY_LEFTSHIFT }, { XK_Shift_R, KEY_RIGHTSHIFT },
        { XK_Control_L, KEY_LEFTCTRL }, { XK_Control_R, KEY_RIGHTCTRL },
        { XK_Alt_L, KEY_LEFTALT }, { XK_Alt_R, KEY_RIGHTALT },
        { XK_Meta_L, KEY_LEFTMETA }, { XK_Meta_R, KEY_RIGHTMETA },
        { XK_Super_L, KEY_LEFTMETA }, { XK_Super_R, KEY_RIGHTMETA },
        { XK_ISO_Level3_Shift, KEY_RIGHTALT },
        { XK_Caps_Lock, KEY_CAPSLOCK }, { XK_Num_Lock, KEY_NUMLOCK },
        { XK_Scroll_Lock, KEY_SCROLLLOCK }, { XK_Print, KEY_SYSRQ },
        { XK_Pause, KEY_PAUSE }, { XK_Menu, KEY_COMPOSE },
        { XK_F1, KEY_F1 }, { XK_F2, KEY_F2 }, { XK_F3, KEY_F3 },
        { XK_F4, KEY_F4 }, { XK_F5, KEY_F5 }, { XK_F6, KEY_F6 },
        { XK_F7, KEY_F7 }, { XK_F8, KEY_F8 }, { XK_F9, KEY_F9 },
        { XK_F10, KEY_F10 }, { XK_F11, KEY_F11 }, { XK_F12, KEY_F12 },
    };
    size_t i;

    if (keysym >= 0x20 && keysym <= 0x7e) {
        return ascii_key(keysym);   /* Latin-1 keysyms are ASCII there */
    }
    for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (special[i].keysym == keysym) {
            return special[i].key;
        }
    }
    return 0;
}

unsigned int xdf_pointer_events(XdfPointer *p, int mask, int32_t x,
                                int32_t y, bool abs,
                                union xenkbd_in_event *out)
{
    static const uint32_t buttons[3] = {
        XDF_BTN_LEFT, XDF_BTN_MIDDLE, XDF_BTN_RIGHT,
    };
    int pressed = mask & ~p->buttons;
    int32_t z = 0;
    bool moved = !p->have_pos || x != p->x || y != p->y;
    unsigned int n = 0, i;

    /* the wheel: a press of "button" 4 (up) or 5 (down) is one step */
    if (pressed & 8) {
        z -= 1;
    }
    if (pressed & 16) {
        z += 1;
    }
    if (abs && (moved || z)) {
        memset(&out[n], 0, sizeof(out[n]));
        out[n].pos.type = XENKBD_TYPE_POS;
        out[n].pos.abs_x = x;
        out[n].pos.abs_y = y;
        out[n].pos.rel_z = z;
        n++;
    } else if (!abs && ((p->have_pos && moved) || z)) {
        memset(&out[n], 0, sizeof(out[n]));
        out[n].motion.type = XENKBD_TYPE_MOTION;
        out[n].motion.rel_x = p->have_pos ? x - p->x : 0;
        out[n].motion.rel_y = p->have_pos ? y - p->y : 0;
        out[n].motion.rel_z = z;
        n++;
    }
    for (i = 0; i < 3; i++) {
        if ((mask ^ p->buttons) & (1 << i)) {
            memset(&out[n], 0, sizeof(out[n]));
            out[n].key.type = XENKBD_TYPE_KEY;
            out[n].key.pressed = !!(mask & (1 << i));
            out[n].key.keycode = buttons[i];
            n++;
        }
    }
    p->buttons = mask;
    p->have_pos = true;
    p->x = x;
    p->y = y;
    return n;
}
