/*
 * libFuzzer target: everything a displif backend or XenStore hands the
 * frontend, through the same code the device runs -- the request ring's
 * responses, the event page, page directories the backend fills in,
 * EDIDs, and connector resolutions.
 *
 *   build/fuzz-displif -runs=N [CORPUS]
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* for Xen's ring.h, which builds xen_mb() and friends on these */
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/displif.h>

#include "displif-front.h"


/* Copy up to @len bytes of input to @dst, zero-filling the rest. */
static void take(void *dst, size_t len, const uint8_t **data, size_t *size)
{
    size_t n = *size < len ? *size : len;

    memcpy(dst, *data, n);
    memset((char *)dst + n, 0, len - n);
    *data += n;
    *size -= n;
}

static void fuzz_responses(const uint8_t *data, size_t size)
{
    static uint8_t page[DISPLIF_PAGE_SIZE] __attribute__((aligned(4096)));
    struct xen_displif_front_ring ring;
    struct xendispl_resp rsp;
    uint32_t idx[2];
    unsigned int taken = 0;
    int ret;

    take(idx, sizeof(idx), &data, &size);
    take(page, sizeof(page), &data, &size);
    ring.sring = (struct xen_displif_sring *)page;
    ring.nr_ents = __RING_SIZE(ring.sring, DISPLIF_PAGE_SIZE);
    ring.rsp_cons = idx[0];
    /* we never have more requests out than the ring holds */
    ring.req_prod_pvt = idx[0] + idx[1] % (ring.nr_ents + 1);

    do {
        while ((ret = displif_front_get_response(&ring, &rsp)) > 0) {
            taken++;
            /* never more responses than requests sent */
            assert(taken <= ring.nr_ents);
            assert(ring.rsp_cons - idx[0] <= ring.req_prod_pvt - idx[0]);
        }
        if (ret < 0) {
            return;
        }
    } while (displif_front_final_check(&ring));
    assert(ring.sring->rsp_event == ring.rsp_cons + 1);
}

static void fuzz_events(const uint8_t *data, size_t size)
{
    static uint8_t page[DISPLIF_PAGE_SIZE] __attribute__((aligned(4096)));
    struct xendispl_event_page *ep = (struct xendispl_event_page *)page;
    struct xendispl_evt evt;
    uint32_t cons, start, prod;
    unsigned int taken = 0;

    take(&cons, sizeof(cons), &data, &size);
    take(page, sizeof(page), &data, &size);
    start = cons;
    if (displif_front_event_prod(ep, cons, &prod)) {
        return;
    }
    while (cons != prod) {
        displif_front_take_event(ep, &cons, &evt);
        taken++;
        assert(taken <= XENDISPL_IN_RING_LEN);
        assert(ep->in_cons == cons);
    }
    assert(cons - start == taken);
}

static void fuzz_pgdir(const uint8_t *data, size_t size)
{
    static uint8_t dir[3 * DISPLIF_PAGE_SIZE];
    uint32_t dir_refs[3], n[2], refs[3 * DISPLIF_GREFS_PER_DIR_PAGE];
    uint32_t n_data, n_dir, i;

    take(n, sizeof(n), &data, &size);
    take(dir_refs, sizeof(dir_refs), &data, &size);
    take(dir, sizeof(dir), &data, &size);
    n_data = n[0] % (3 * DISPLIF_GREFS_PER_DIR_PAGE + 1);
    n_dir = displif_dir_pages(n_data);
    if (displif_pgdir_read(dir, n_dir, dir_refs, refs, n_data) == 0) {
        for (i = 0; i < n_data; i++) {
            assert(refs[i] != 0);
        }
    }
}

static void fuzz_resolution(const uint8_t *data, size_t size)
{
    char str[64];
    uint32_t w = 0, h = 0;
    size_t n = size < sizeof(str) - 1 ? size : sizeof(str) - 1;

    memcpy(str, data, n);
    str[n] = '\0';
    if (displif_parse_resolution(str, &w, &h) == 0) {
        assert(w >= 1 && w <= DISPLIF_MAX_SIDE);
        assert(h >= 1 && h <= DISPLIF_MAX_SIDE);
    }
}

static void fuzz_edid(const uint8_t *data, size_t size)
{
    static uint8_t edid[XENDISPL_EDID_MAX_SIZE];
    uint32_t len = size < sizeof(edid) ? size : sizeof(edid), w, h, mhz;

    take(edid, sizeof(edid), &data, &size);
    if (displif_edid_preferred(edid, len, &w, &h) == 0) {
        assert(w >= 1 && w <= DISPLIF_MAX_SIDE);
        assert(h >= 1 && h <= DISPLIF_MAX_SIDE);
    }
    if (displif_edid_refresh_mhz(edid, len, &mhz) == 0) {
        assert(mhz >= 1000 && mhz <= 1000000);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    switch (data[0] % 5) {
    case 0:
        fuzz_responses(data + 1, size - 1);
        break;
    case 1:
        fuzz_events(data + 1, size - 1);
        break;
    case 2:
        fuzz_pgdir(data + 1, size - 1);
        break;
    case 3:
        fuzz_edid(data + 1, size - 1);
        break;
    default:
        fuzz_resolution(data + 1, size - 1);
        break;
    }
    return 0;
}
