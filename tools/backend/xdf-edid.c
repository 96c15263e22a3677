/*
 * xdf-backend: EDID for a connector
 *
 * Layout from VESA E-EDID 1.4: header, vendor and product, basic
 * parameters, chromaticity, no established or standard timings, one
 * detailed timing descriptor, the monitor name, two dummy descriptors,
 * checksum.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>

#include "xdf-edid.h"

#define EDID_MAX_ACTIVE 4095
#define EDID_MAX_CLOCK_10KHZ 65535

/* Reduced blanking (as CVT-RB): fixed horizontal blank, sync and porches. */
#define RB_H_BLANK 160
#define RB_H_FRONT 48
#define RB_H_SYNC 32
#define RB_V_FRONT 3
#define RB_V_SYNC 6
#define RB_V_MIN_BLANK 23

/* sRGB primaries and D65 white point, in units of 1/1024 */
static const uint16_t srgb_chroma[8] = {
    655, 338,   /* red   0.640, 0.330 */
    307, 614,   /* green 0.300, 0.600 */
    154, 61,    /* blue  0.150, 0.060 */
    320, 337,   /* white 0.3127, 0.3290 */
};

static void put_descriptor_text(uint8_t *d, uint8_t tag, const char *text)
{
    size_t n = strlen(text);

    memset(d, 0, 18);
    d[3] = tag;
    memset(d + 5, ' ', 13);
    if (n > 13) {
        n = 13;
    }
    memcpy(d + 5, text, n);
    if (n < 13) {
        d[5 + n] = '\n';
    }
}

static void put_detailed_timing(uint8_t *d, uint32_t w, uint32_t h)
{
    uint32_t hblank = RB_H_BLANK, vblank = RB_V_MIN_BLANK;
    uint32_t htotal = w + hblank, vtotal, refresh = 60;
    uint64_t clock;
    uint32_t wmm = (uint32_t)((uint64_t)w * 254 / 960);   /* 96 dpi */
    uint32_t hmm = (uint32_t)((uint64_t)h * 254 / 960);

    /* vertical blank of at least 460 us, as CVT-RB */
    while ((uint64_t)vblank * 1000000 < 460ull * (h + vblank) * refresh) {
        vblank++;
    }
    vtotal = h + vblank;
    clock = ((uint64_t)htotal * vtotal * refresh + 9999) / 10000;
    while (clock > EDID_MAX_CLOCK_10KHZ && refresh > 1) {
        refresh--;
        clock = ((uint64_t)htotal * vtotal * refresh + 9999) / 10000;
    }
    if (clock > EDID_MAX_CLOCK_10KHZ) {
        clock = EDID_MAX_CLOCK_10KHZ;
    }
    if (wmm > 4095) {
        wmm = 4095;
    }
    if (hmm > 4095) {
        hmm = 4095;
    }

    d[0] = clock & 0xff;
    d[1] = clock >> 8;
    d[2] = w & 0xff;
    d[3] = hblank & 0xff;
    d[4] = ((w >> 8) & 0xf) << 4 | ((hblank >> 8) & 0xf);
    d[5] = h & 0xff;
    d[6] = vblank & 0xff;
    d[7] = ((h >> 8) & 0xf) << 4 | ((vblank >> 8) & 0xf);
    d[8] = RB_H_FRONT & 0xff;
    d[9] = RB_H_SYNC & 0xff;
    d[10] = (RB_V_FRONT & 0xf) << 4 | (RB_V_SYNC & 0xf);
    d[11] = 0;                      /* high bits of the four above */
    d[12] = wmm & 0xff;
    d[13] = hmm & 0xff;
    d[14] = ((wmm >> 8) & 0xf) << 4 | ((hmm >> 8) & 0xf);
    d[15] = 0;                      /* no borders */
    d[16] = 0;
    d[17] = 0x1a;                   /* digital separate sync, +hsync -vsync */
}

void xdf_edid_build(uint8_t edid[XDF_EDID_SIZE], uint32_t width,
                    uint32_t height)
{
    static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0 };
    /* "XEN" as three 5-bit letters, big-endian */
    uint16_t vendor = ('X' - '@') << 10 | ('E' - '@') << 5 | ('N' - '@');
    uint32_t w = width > EDID_MAX_ACTIVE ? EDID_MAX_ACTIVE : width;
    uint32_t h = height > EDID_MAX_ACTIVE ? EDID_MAX_ACTIVE : height;
    uint8_t sum = 0;
    int i;

    memset(edid, 0, XDF_EDID_SIZE);
    memcpy(edid, header, sizeof(header));
    edid[8] = vendor >> 8;
    edid[9] = vendor & 0xff;
    edid[10] = 0x01;                /* product code 0x0001 */
    edid[16] = 0;                   /* week: unspecified */
    edid[17] = 2026 - 1990;         /* model year */
    edid[18] = 1;                   /* EDID 1.4 */
    edid[19] = 4;
    edid[20] = 0x80;                /* digital input */
    edid[21] = (uint8_t)((uint64_t)w * 254 / 96000 > 255 ? 255 :
                         (uint64_t)w * 254 / 96000);    /* cm at 96 dpi */
    edid[22] = (uint8_t)((uint64_t)h * 254 / 96000 > 255 ? 255 :
                         (uint64_t)h * 254 / 96000);
    edid[23] = 120;                 /* gamma 2.2 */
    edid[24] = 0x06;                /* sRGB default; preferred timing native */

    edid[25] = (srgb_chroma[0] & 3) << 6 | (srgb_chroma[1] & 3) << 4 |
               (srgb_chroma[2] & 3) << 2 | (srgb_chroma[3] & 3);
    edid[26] = (srgb_chroma[4] & 3) << 6 | (srgb_chroma[5] & 3) << 4 |
               (srgb_chroma[6] & 3) << 2 | (srgb_chroma[7] & 3);
    for (i = 0; i < 8; i++) {
        edid[27 + i] = srgb_chroma[i] >> 2;
    }
    /* 35-37: no established timings; 38-53: standard timings unused */
    for (i = 38; i < 54; i++) {
        edid[i] = 0x01;
    }
    put_detailed_timing(edid + 54, w, h);
    put_descriptor_text(edid + 72, 0xfc, "xdf-backend");
    edid[90 + 3] = 0x10;            /* dummy descriptors */
    edid[108 + 3] = 0x10;
    edid[126] = 0;                  /* no extension blocks */
    for (i = 0; i < 127; i++) {
        sum += edid[i];
    }
    edid[127] = (uint8_t)(0x100 - sum);
}
