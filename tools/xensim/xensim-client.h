/*
 * xensim: connection helpers shared by the drop-in libraries and tools.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef XENSIM_CLIENT_H
#define XENSIM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xensim-proto.h"

/* The caller's domain: $XENSIM_DOMID, default 0. */
uint32_t xensim_domid(void);

/*
 * Connect to xensimd ($XENSIM_SOCKET) and introduce a handle of @kind.
 * Returns the connection fd, or -1 with errno set.  @fds receives the
 * @nfds descriptors that come with the HELLO reply (see
 * xensim-proto.h), *@id (if not NULL) the connection id.
 */
int xensim_connect(enum xensim_kind kind, bool cloexec,
                   int *fds, unsigned nfds, uint32_t *id);

/*
 * One request/reply round trip.  @rpayload/@rcap receive the reply
 * payload (*@rlen its size), @fds/@maxfds the descriptors that come
 * with it (*@nfds how many).  Returns 0, or -1 with errno set (from the
 * reply's err or from the transport).
 */
int xensim_call(int fd, const struct xensim_req *req,
                const void *payload, size_t plen,
                struct xensim_rep *rep,
                void *rpayload, size_t rcap, size_t *rlen,
                int *fds, unsigned maxfds, unsigned *nfds);

#endif /* XENSIM_CLIENT_H */
