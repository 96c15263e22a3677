/*
 * xen-displfront: the frontend's reading of what a displif backend
 * writes into shared memory -- responses on a request ring, and where
 * events lie on its event page (event-page-front.h reads them) -- with
 * every check a frontend must make, and nothing from QEMU, so that a
 * fuzzer can drive exactly this code.
 *
 * Include displif.h first (QEMU's copy, or Xen's <xen/io/displif.h>).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef DISPLIF_FRONT_H
#define DISPLIF_FRONT_H

#include <string.h>

#include "displif-proto.h"
#include "event-page-front.h"

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

/* displif's event page, for event_page_prod() and event_page_take(). */
static const EventPageLayout displif_event_page = {
    .ring_offs = XENDISPL_IN_RING_OFFS,
    .ring_len = XENDISPL_IN_RING_LEN,
    .evt_size = sizeof(struct xendispl_evt),
};

#endif /* DISPLIF_FRONT_H */
