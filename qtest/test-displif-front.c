/*
 * Unit tests for the frontend's reading of shared memory
 * (include/displif-front.h): responses on the request ring, events on
 * the event page, against the displif.h the device is built with (the
 * copy in patches/0001, extracted at build time as qemu-displif.h).
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <stdint.h>

/* for Xen's ring.h, which builds xen_mb() and friends on these */
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include "qemu-displif.h"

#include "displif-front.h"

static uint8_t page[DISPLIF_PAGE_SIZE] __attribute__((aligned(4096)));

/* A front ring over @page with @sent requests out from index @start. */
static void ring_init(struct xen_displif_front_ring *ring, RING_IDX start,
                      RING_IDX sent)
{
    memset(page, 0, sizeof(page));
    ring->sring = (struct xen_displif_sring *)page;
    ring->sring->req_prod = ring->sring->rsp_prod = start;
    ring->nr_ents = __RING_SIZE(ring->sring, DISPLIF_PAGE_SIZE);
    ring->rsp_cons = start;
    ring->req_prod_pvt = start + sent;
}

/* The backend answers request @id (operation @op, @status). */
static void backend_respond(struct xen_displif_front_ring *ring, uint16_t id,
                            uint8_t op, int32_t status)
{
    struct xendispl_resp *rsp = &ring->sring->ring[ring->sring->rsp_prod &
                                                   (ring->nr_ents - 1)].rsp;

    memset(rsp, 0, sizeof(*rsp));
    rsp->id = id;
    rsp->operation = op;
    rsp->status = status;
    ring->sring->rsp_prod++;
}

static void test_responses_in_order(void)
{
    struct xen_displif_front_ring ring;
    struct xendispl_resp rsp;

    /* near the top of the index space: the ring wraps on the way */
    ring_init(&ring, UINT32_MAX - 1, 3);
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, 0);
    backend_respond(&ring, 7, XENDISPL_OP_PG_FLIP, 0);
    backend_respond(&ring, 8, XENDISPL_OP_SET_CONFIG, -EINVAL);
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, 1);
    g_assert_cmpuint(rsp.id, ==, 7);
    g_assert_cmpuint(rsp.operation, ==, XENDISPL_OP_PG_FLIP);
    g_assert_cmpint(rsp.status, ==, 0);
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, 1);
    g_assert_cmpuint(rsp.id, ==, 8);
    g_assert_cmpint(rsp.status, ==, -EINVAL);
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, 0);
    g_assert_cmpuint(ring.rsp_cons, ==, 0);     /* wrapped */

    /* nothing new: ask for the next one, nothing slipped in */
    g_assert_false(displif_front_final_check(&ring));
    g_assert_cmpuint(ring.sring->rsp_event, ==, 1);
    backend_respond(&ring, 9, XENDISPL_OP_GET_EDID, 0);
    g_assert_true(displif_front_final_check(&ring));
}

static void test_responses_past_requests(void)
{
    struct xen_displif_front_ring ring;
    struct xendispl_resp rsp;

    ring_init(&ring, 100, 1);
    backend_respond(&ring, 1, XENDISPL_OP_PG_FLIP, 0);
    backend_respond(&ring, 2, XENDISPL_OP_PG_FLIP, 0);
    /* two answers to one request: nothing is taken */
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, -EPROTO);
    g_assert_cmpuint(ring.rsp_cons, ==, 100);

    /* rsp_prod behind what we took: as bad */
    ring_init(&ring, 100, 1);
    ring.sring->rsp_prod = 99;
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, -EPROTO);
    g_assert_cmpuint(ring.rsp_cons, ==, 100);
}

/* The response is copied out: a later change of the slot is not seen. */
static void test_response_copied_once(void)
{
    struct xen_displif_front_ring ring;
    struct xendispl_resp rsp;

    ring_init(&ring, 0, 1);
    backend_respond(&ring, 5, XENDISPL_OP_DBUF_CREATE, 0);
    g_assert_cmpint(displif_front_get_response(&ring, &rsp), ==, 1);
    ring.sring->ring[0].rsp.status = -EIO;
    ring.sring->ring[0].rsp.id = 6;
    g_assert_cmpint(rsp.status, ==, 0);
    g_assert_cmpuint(rsp.id, ==, 5);
}

static struct xendispl_event_page *events_init(uint32_t in_prod)
{
    struct xendispl_event_page *ep = (struct xendispl_event_page *)page;

    memset(page, 0, sizeof(page));
    ep->in_prod = in_prod;
    return ep;
}

static void test_events(void)
{
    struct xendispl_event_page *ep;
    struct xendispl_evt evt;
    uint32_t cons = UINT32_MAX, prod, i;

    ep = events_init(UINT32_MAX);
    for (i = 0; i < 3; i++) {
        struct xendispl_evt *slot = &XENDISPL_IN_RING_REF(ep, ep->in_prod);

        slot->id = i;
        slot->type = XENDISPL_EVT_PG_FLIP;
        slot->op.pg_flip.fb_cookie = 0x1000 + i;
        ep->in_prod++;
    }
    g_assert_cmpint(event_page_prod(ep, &displif_event_page, cons, &prod),
                    ==, 0);
    g_assert_cmpuint(prod, ==, 2);
    /* the backend scribbles on in_cons: our own copy counts */
    ep->in_cons = 12345;
    for (i = 0; cons != prod; i++) {
        event_page_take(ep, &displif_event_page, &cons, &evt);
        g_assert_cmpuint(evt.id, ==, i);
        g_assert_cmpuint(evt.type, ==, XENDISPL_EVT_PG_FLIP);
        g_assert_cmpuint(evt.op.pg_flip.fb_cookie, ==, 0x1000 + i);
        g_assert_cmpuint(ep->in_cons, ==, cons);
    }
    g_assert_cmpuint(i, ==, 3);
}

static void test_events_bounds(void)
{
    struct xendispl_event_page *ep;
    uint32_t prod;

    /* a full ring is fine, one more is not */
    ep = events_init(10 + XENDISPL_IN_RING_LEN);
    g_assert_cmpint(event_page_prod(ep, &displif_event_page, 10, &prod),
                    ==, 0);
    ep = events_init(11 + XENDISPL_IN_RING_LEN);
    g_assert_cmpint(event_page_prod(ep, &displif_event_page, 10, &prod),
                    ==, -EPROTO);
    /* behind our consumer index: as bad */
    ep = events_init(9);
    g_assert_cmpint(event_page_prod(ep, &displif_event_page, 10, &prod),
                    ==, -EPROTO);
    ep = events_init(10);
    g_assert_cmpint(event_page_prod(ep, &displif_event_page, 10, &prod),
                    ==, 0);
    g_assert_cmpuint(prod, ==, 10);
    /* free-running indices, across the wrap */
    ep = events_init(10);
    g_assert_cmpint(event_page_prod(ep, &displif_event_page,
                                    UINT32_MAX - 10, &prod), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/displif-front/responses/in-order",
                    test_responses_in_order);
    g_test_add_func("/displif-front/responses/past-requests",
                    test_responses_past_requests);
    g_test_add_func("/displif-front/responses/copied-once",
                    test_response_copied_once);
    g_test_add_func("/displif-front/events/take", test_events);
    g_test_add_func("/displif-front/events/bounds", test_events_bounds);
    return g_test_run();
}
