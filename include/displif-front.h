/*
 * xen-displfront: the frontend's reading of what a displif backend
 * writes into shared memory -- responses on a request ring, events on
 * an event page -- with every check a frontend must make, and nothing
 * from QEMU, so that a fuzzer can drive exactly this code.
 *
 * Include displif.h first (QEMU's copy, or Xen's <xen/io/displif.h>).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef DISPLIF_FRONT_H
#define DISPLIF_FRONT_H

#include <string.h>

#include "displif-proto.h"

/*
 * Take the next response from @ring into @rsp.  Returns 1 when one was
 * taken, 0 when there is none, -EPROTO when the backend's rsp_prod runs
 * past the requests we sent (nothing is taken then).  The response is
 * copied out once: the backend may change the slot under us.
 */
static inline int displif_front_get_response(
    struct xen_displif_front_ring *ring, struct xendispl_resp *rsp)
{
    RING_IDX prod = __atomic_load_n(&ring->sring->rsp_prod,
                                    __ATOMIC_ACQUIRE);

    if (!displif_rsp_prod_ok(prod, ring->rsp_cons, ring->req_prod_pvt)) {
        return -EPROTO;
    }
    if (prod == ring->rsp_cons) {
        return 0;
    }
    memcpy(rsp, RING_GET_RESPONSE(ring, ring->rsp_cons), sizeof(*rsp));
    ring->rsp_cons++;
    return 1;
}

/*
 * After taking responses: ask for a notification for the next one
 * (displif.h's rsp_event) and say whether one slipped in meanwhile.
 */
static inline bool displif_front_final_check(
    struct xen_displif_front_ring *ring)
{
    ring->sring->rsp_event = ring->rsp_cons + 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&ring->sring->rsp_prod, __ATOMIC_ACQUIRE) !=
           ring->rsp_cons;
}

/*
 * How far the backend says the events go: *@prod, read once for a
 * batch, so that a backend that keeps adding events cannot hold the
 * frontend in its loop.  Returns 0, or -EPROTO when in_prod claims more
 * events than the ring holds.  @cons is our own copy of the consumer
 * index: the backend may scribble on the page's in_cons.
 */
static inline int displif_front_event_prod(struct xendispl_event_page *page,
                                           uint32_t cons, uint32_t *prod)
{
    *prod = __atomic_load_n(&page->in_prod, __ATOMIC_ACQUIRE);
    return displif_evt_prod_ok(*prod, cons, XENDISPL_IN_RING_LEN) ? 0 :
           -EPROTO;
}

/*
 * Take the event at *@cons (below the batch's prod) into @evt, copied
 * out once, and publish the new consumer index to the page.
 */
static inline void displif_front_take_event(struct xendispl_event_page *page,
                                            uint32_t *cons,
                                            struct xendispl_evt *evt)
{
    memcpy(evt, &XENDISPL_IN_RING_REF(page, *cons), sizeof(*evt));
    (*cons)++;
    __atomic_store_n(&page->in_cons, *cons, __ATOMIC_RELEASE);
}

#endif /* DISPLIF_FRONT_H */
