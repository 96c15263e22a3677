/*
 * xen-displfront: a frontend's reading of an event page, the page on
 * which a backend writes events for its frontend.  displif's event page
 * and kbdif's (vkbd) page share its layout: in_cons and in_prod first,
 * then, further on, a ring of fixed-size events.  Every check a frontend
 * must make, and nothing from QEMU, so that unit tests and a fuzzer can
 * drive exactly this code.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef EVENT_PAGE_FRONT_H
#define EVENT_PAGE_FRONT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Where a protocol's events lie on its page. */
typedef struct EventPageLayout {
    uint32_t ring_offs;         /* of the first event */
    uint32_t ring_len;          /* events the ring holds */
    uint32_t evt_size;          /* bytes of each */
} EventPageLayout;

/* in_cons and in_prod, at the start of every event page */
typedef struct EventPageHead {
    uint32_t in_cons;
    uint32_t in_prod;
} EventPageHead;

/*
 * How far the backend says the events go: *@prod, read once for a
 * batch, so that a backend that keeps adding events cannot hold the
 * frontend in its loop.  Returns 0, or -EPROTO when in_prod claims more
 * events than the ring holds, or runs behind @cons (our own copy of the
 * consumer index: the backend may scribble on the page's in_cons).
 */
static inline int event_page_prod(void *page, const EventPageLayout *l,
                                  uint32_t cons, uint32_t *prod)
{
    EventPageHead *head = page;

    *prod = __atomic_load_n(&head->in_prod, __ATOMIC_ACQUIRE);
    return *prod - cons <= l->ring_len ? 0 : -EPROTO;
}

/*
 * Take the event at *@cons (below the batch's prod) into @evt (evt_size
 * bytes), copied out once, and publish the new consumer index.
 */
static inline void event_page_take(void *page, const EventPageLayout *l,
                                   uint32_t *cons, void *evt)
{
    EventPageHead *head = page;

    memcpy(evt, (char *)page + l->ring_offs +
                (size_t)(*cons % l->ring_len) * l->evt_size, l->evt_size);
    (*cons)++;
    __atomic_store_n(&head->in_cons, *cons, __ATOMIC_RELEASE);
}

#endif /* EVENT_PAGE_FRONT_H */
