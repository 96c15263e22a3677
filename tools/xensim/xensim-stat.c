/*
 * xensim-stat: print what xensimd currently holds.
 *
 * Output, one line: connections=N ports=N grants=N mappings=N
 * mapped_pages=N memobjs=N.  Exit status 1 if xensimd cannot be reached
 * (used by build/xensim to wait for it).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "xensim-client.h"

int main(int argc, char **argv)
{
    struct xensim_req req = { .op = XENSIM_OP_STAT };
    struct xensim_rep rep;
    struct xensim_stat st;
    size_t len;
    int fd;

    if (argc > 1) {
        fprintf(stderr, "usage: %s\n"
                "Prints the counts of xensimd ($XENSIM_SOCKET) tables.\n",
                argv[0]);
        return 2;
    }
    fd = xensim_connect(XENSIM_KIND_STAT, true, NULL, 0, NULL);
    if (fd < 0) {
        fprintf(stderr, "xensim-stat: cannot reach xensimd at %s: %s\n",
                getenv("XENSIM_SOCKET") ? getenv("XENSIM_SOCKET") : "(unset)",
                strerror(errno));
        return 1;
    }
    if (xensim_call(fd, &req, NULL, 0, &rep, &st, sizeof(st), &len,
                    NULL, 0, NULL) < 0 || len != sizeof(st)) {
        fprintf(stderr, "xensim-stat: query failed: %s\n", strerror(errno));
        return 1;
    }
    printf("connections=%u ports=%u grants=%u mappings=%u mapped_pages=%u "
           "memobjs=%u\n", st.connections, st.ports, st.grants, st.mappings,
           st.mapped_pages, st.memobjs);
    close(fd);
    return 0;
}
