/*
 * libFuzzer target: everything a displif backend or XenStore hands the
 * frontend, through the same code the device runs -- the request ring's
 * responses, the event page, page directories the backend fills in
 * (chains of any length), EDIDs (of any announced length), connector
 * resolutions, and a kbdif (vkbd) backend's input events -- against the
 * displif.h the device is built with (patches/0001, extracted as
 * qemu-displif.h; kbdif.h is Xen's).  Responses and events
 * are also read while a second thread keeps changing the shared page, as
 * a hostile backend may: a value fetched twice would break the checks.
 *
 *   build/fuzz-displif -runs=N [CORPUS]
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* for Xen's ring.h, which builds xen_mb() and friends on these */
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include "qemu-displif.h"
#include <xen/io/kbdif.h>

#include "displif-front.h"
#include "kbdif-front.h"


/* Copy up to @len bytes of input to @dst, zero-filling the rest. */
static void take(void *dst, size_t len, const uint8_t **data, size_t *size)
{
    size_t n = *size < len ? *size : len;

    memcpy(dst, *data, n);
    memset((char *)dst + n, 0, len - n);
    *data += n;
    *size -= n;
}

/*
 * The racing backend: while a run reads a shared page, a second thread
 * writes bytes of it (which ones, and what, from the run's input).
 */
static uint8_t *race_page;      /* the page being read, or NULL */
static uint8_t race_seed[64];
static uint32_t race_orig[4];   /* the page's first words, as it began */

static void *race_thread(void *arg)
{
    uint32_t i = 0;

    for (;;) {
        uint8_t *p = __atomic_load_n(&race_page, __ATOMIC_ACQUIRE);
        uint8_t r = race_seed[i % sizeof(race_seed)];

        if (p && (r & 1)) {
            /*
             * The indices at the start of the page, a word at a time,
             * back and forth between what they were and something else:
             * a reader that checks one fetch and uses another sees both.
             */
            unsigned int w = (r >> 1) % 4;

            __atomic_store_n((uint32_t *)p + w, (i & 2) ? race_orig[w] :
                             race_orig[w] + (r * 0x9e3779b9u >> (i % 24)),
                             __ATOMIC_RELAXED);
        } else if (p) {
            __atomic_store_n(&p[(r * 131u + i) % DISPLIF_PAGE_SIZE],
                             (uint8_t)(r ^ i), __ATOMIC_RELAXED);
        }
        i++;
    }
    return NULL;
}

static void race_start(uint8_t *page, const uint8_t **data, size_t *size)
{
    static pthread_t thread;
    static int started;

    if (!started) {
        started = !pthread_create(&thread, NULL, race_thread, NULL);
        assert(started);
    }
    memset(race_seed, 0, sizeof(race_seed));
    memcpy(race_seed, *data, *size < sizeof(race_seed) ? *size :
           sizeof(race_seed));
    memcpy(race_orig, page, sizeof(race_orig));
    __atomic_store_n(&race_page, page, __ATOMIC_RELEASE);
}

static void race_stop(void)
{
    __atomic_store_n(&race_page, NULL, __ATOMIC_RELEASE);
}

static void fuzz_responses(const uint8_t *data, size_t size, bool race)
{
    /* the racing thread's page apart: it may write a byte after a run */
    static uint8_t pages[2][DISPLIF_PAGE_SIZE] __attribute__((aligned(4096)));
    uint8_t *page = pages[race];
    struct xen_displif_front_ring ring;
    struct xendispl_resp rsp;
    uint32_t idx[2];
    unsigned int taken, round;
    int ret = 0;

    take(idx, sizeof(idx), &data, &size);
    take(page, DISPLIF_PAGE_SIZE, &data, &size);
    ring.sring = (struct xen_displif_sring *)page;
    ring.nr_ents = __RING_SIZE(ring.sring, DISPLIF_PAGE_SIZE);
    ring.rsp_cons = idx[0];
    /* we never have more requests out than the ring holds */
    ring.req_prod_pvt = idx[0] + idx[1] % (ring.nr_ents + 1);
    if (race) {
        race_start(page, &data, &size);
    }
    for (round = 0; round < (race ? 256 : 1); round++) {
        ring.rsp_cons = idx[0];
        taken = 0;
        do {
            while ((ret = displif_front_get_response(&ring, &rsp)) > 0) {
                taken++;
                /* never more responses than requests sent */
                assert(taken <= ring.nr_ents);
                assert(ring.rsp_cons - idx[0] <=
                       ring.req_prod_pvt - idx[0]);
            }
            if (ret < 0) {
                break;
            }
        } while (displif_front_final_check(&ring));
        assert(taken == ring.rsp_cons - idx[0]);
        assert(race || ret < 0 ||
               ring.sring->rsp_event == ring.rsp_cons + 1);
    }
    race_stop();
}

static void fuzz_events(const uint8_t *data, size_t size, bool race)
{
    static uint8_t pages[2][DISPLIF_PAGE_SIZE] __attribute__((aligned(4096)));
    uint8_t *page = pages[race];
    struct xendispl_event_page *ep = (struct xendispl_event_page *)page;
    struct xendispl_evt evt;
    uint32_t cons, start, prod;
    unsigned int taken, round;

    take(&cons, sizeof(cons), &data, &size);
    take(page, DISPLIF_PAGE_SIZE, &data, &size);
    start = cons;
    if (race) {
        race_start(page, &data, &size);
    }
    /* racing, again and again: the other thread's writes land anywhere */
    for (round = 0; round < (race ? 256 : 1); round++) {
        cons = start;
        taken = 0;
        if (event_page_prod(ep, &displif_event_page, cons, &prod)) {
            continue;
        }
        /* one batch, whatever in_prod says meanwhile */
        while (cons != prod) {
            event_page_take(ep, &displif_event_page, &cons, &evt);
            taken++;
            assert(taken <= XENDISPL_IN_RING_LEN);
        }
        assert(cons - start == taken);
        assert(race || !taken || ep->in_cons == cons);
    }
    race_stop();
}

/* A directory chain of any length: up to 64 pages (an 8K buffer's 33). */
static void fuzz_pgdir(const uint8_t *data, size_t size)
{
    uint32_t n[2], n_data, n_dir, i, *dir_refs, *refs;
    uint8_t *dir;

    take(n, sizeof(n), &data, &size);
    n_data = n[0] % (64 * DISPLIF_GREFS_PER_DIR_PAGE + 1);
    n_dir = displif_dir_pages(n_data);
    /* exactly as large as the device's: ASan sees any read past them */
    dir_refs = malloc(n_dir * sizeof(*dir_refs) + 1);
    refs = malloc(n_data * sizeof(*refs) + 1);
    dir = malloc((size_t)n_dir * DISPLIF_PAGE_SIZE + 1);
    take(dir_refs, n_dir * sizeof(*dir_refs), &data, &size);
    take(dir, (size_t)n_dir * DISPLIF_PAGE_SIZE, &data, &size);
    if (displif_pgdir_read(dir, n_dir, dir_refs, refs, n_data) == 0) {
        for (i = 0; i < n_data; i++) {
            assert(refs[i] != 0);
        }
    }
    free(dir);
    free(refs);
    free(dir_refs);
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

/*
 * An EDID of the length the backend announces (edid_sz, any 32-bit
 * value): as the device, only one that fits the buffer offered is
 * copied, and exactly that many bytes, so ASan sees any read past it.
 */
static void fuzz_edid(const uint8_t *data, size_t size)
{
    uint32_t len, w, h, mhz;
    uint8_t *edid;

    take(&len, sizeof(len), &data, &size);
    if (len & 0x80000000u) {
        len = (len & 0x7fffffffu) % (2 * XENDISPL_EDID_MAX_SIZE);
    } else {
        len = size < XENDISPL_EDID_MAX_SIZE ? size : XENDISPL_EDID_MAX_SIZE;
    }
    if (len > XENDISPL_EDID_MAX_SIZE) {
        return;                 /* the device ignores it: nothing read */
    }
    edid = malloc(len + 1);
    take(edid, len, &data, &size);
    if (displif_edid_preferred(edid, len, &w, &h) == 0) {
        assert(len >= 128);
        assert(w >= 1 && w <= DISPLIF_MAX_SIDE);
        assert(h >= 1 && h <= DISPLIF_MAX_SIDE);
    }
    if (displif_edid_refresh_mhz(edid, len, &mhz) == 0) {
        assert(mhz >= 1000 && mhz <= 1000000);
    }
    free(edid);
}

/* A kbdif (vkbd) backend's event page, and each event checked. */
static void fuzz_kbdif(const uint8_t *data, size_t size)
{
    static uint8_t page[DISPLIF_PAGE_SIZE] __attribute__((aligned(4096)));
    struct xenkbd_page *kp = (struct xenkbd_page *)page;
    union xenkbd_in_event evt;
    uint32_t cons, start, prod, area[2], code;
    unsigned int taken = 0;

    take(&cons, sizeof(cons), &data, &size);
    take(area, sizeof(area), &data, &size);
    take(page, sizeof(page), &data, &size);
    area[0] %= 8193;
    area[1] %= 8193;
    start = cons;
    if (event_page_prod(kp, &kbdif_event_page, cons, &prod)) {
        return;
    }
    while (cons != prod) {
        event_page_take(kp, &kbdif_event_page, &cons, &evt);
        taken++;
        assert(taken <= XENKBD_IN_RING_LEN);
        switch (kbdif_check_event(&evt, area[0], area[1], &code)) {
        case KBDIF_INPUT_KEY:
        case KBDIF_INPUT_BUTTON:
            assert(code <= KBDIF_KEY_MAX);
            break;
        case KBDIF_INPUT_POS:
            assert(evt.pos.abs_x >= 0 && (uint32_t)evt.pos.abs_x < area[0]);
            assert(evt.pos.abs_y >= 0 && (uint32_t)evt.pos.abs_y < area[1]);
            break;
        case KBDIF_INPUT_TOUCH:
            assert(evt.type == XENKBD_TYPE_MTOUCH);
            switch (kbdif_check_touch(&evt, area[0], area[1],
                                      area[0] % 11)) {
            case KBDIF_INPUT_TOUCH:
                assert(evt.mtouch.contact_id < area[0] % 11);
                if (evt.mtouch.event_type != XENKBD_MT_EV_UP) {
                    assert(evt.mtouch.u.pos.abs_x >= 0 &&
                           (uint32_t)evt.mtouch.u.pos.abs_x < area[0]);
                    assert(evt.mtouch.u.pos.abs_y >= 0 &&
                           (uint32_t)evt.mtouch.u.pos.abs_y < area[1]);
                }
                break;
            case KBDIF_INPUT_IGNORED:
            case KBDIF_INPUT_BAD:
                break;
            default:
                abort();        /* kbdif_check_touch() returns no other */
            }
            break;
        case KBDIF_INPUT_BAD:
            assert(evt.type == XENKBD_TYPE_KEY || !area[0] || !area[1]);
            break;
        default:
            break;
        }
    }
    assert(cons - start == taken);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    switch (data[0] % 8) {
    case 0:
    case 5:
        fuzz_responses(data + 1, size - 1, data[0] % 8 == 5);
        break;
    case 1:
    case 6:
        fuzz_events(data + 1, size - 1, data[0] % 8 == 6);
        break;
    case 7:
        fuzz_kbdif(data + 1, size - 1);
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
