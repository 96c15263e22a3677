/*
 * xdf-backend: EDID for a connector
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XDF_EDID_H
#define XDF_EDID_H

#include <stdint.h>

#define XDF_EDID_SIZE 128

/*
 * Fill @edid with an EDID 1.4 base block whose preferred (and only)
 * timing is @width x @height at 60 Hz (lower when the pixel clock would
 * not fit), reduced blanking, physical size for 96 dpi.  A detailed
 * timing holds at most 4095 x 4095: larger sides are clamped.
 */
void xdf_edid_build(uint8_t edid[XDF_EDID_SIZE], uint32_t width,
                    uint32_t height);

#endif /* XDF_EDID_H */
