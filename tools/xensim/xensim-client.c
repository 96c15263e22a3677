/*
 * xensim: connection helpers shared by the drop-in libraries and tools.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "xensim-client.h"

uint32_t xensim_domid(void)
{
    const char *s = getenv("XENSIM_DOMID");
    char *end;
    unsigned long v;

    if (!s || !*s) {
        return 0;
    }
    v = strtoul(s, &end, 0);
    if (*end || v >= XENSIM_MAX_DOMID) {
        return 0;
    }
    return v;
}

static ssize_t recv_with_fds(int fd, void *buf, size_t len,
                             int *fds, unsigned maxfds, unsigned *nfds)
{
    char cbuf[CMSG_SPACE(sizeof(int) * XENSIM_MAX_FDS_PER_MSG)];
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = cbuf, .msg_controllen = sizeof(cbuf),
    };
    struct cmsghdr *c;
    ssize_t n;

    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }
    if (n == 0) {
        errno = ECONNRESET;
        return -1;
    }
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        int *p = (int *)CMSG_DATA(c);
        unsigned k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        for (unsigned i = 0; i < k; i++) {
            if (*nfds < maxfds) {
                fds[(*nfds)++] = p[i];
            } else {
                close(p[i]);
            }
        }
    }
    if (msg.msg_flags & MSG_TRUNC) {
        errno = EPROTO;
        return -1;
    }
    return n;
}

int xensim_call(int fd, const struct xensim_req *req,
                const void *payload, size_t plen,
                struct xensim_rep *rep,
                void *rpayload, size_t rcap, size_t *rlen,
                int *fds, unsigned maxfds, unsigned *nfds)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)req, .iov_len = sizeof(*req) },
        { .iov_base = (void *)payload, .iov_len = plen },
    };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
    char *buf;
    ssize_t n;
    unsigned got = 0;

    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }

    buf = malloc(sizeof(*rep) + rcap);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    n = recv_with_fds(fd, buf, sizeof(*rep) + rcap, fds, maxfds, &got);
    if (n < (ssize_t)sizeof(*rep)) {
        int e = n < 0 ? errno : EPROTO;
        free(buf);
        errno = e;
        goto fail_fds;
    }
    memcpy(rep, buf, sizeof(*rep));
    if (rlen) {
        *rlen = n - sizeof(*rep);
    }
    if (rpayload && n > (ssize_t)sizeof(*rep)) {
        memcpy(rpayload, buf + sizeof(*rep), n - sizeof(*rep));
    }
    free(buf);

    /* Descriptors beyond one packet's worth come in header-only packets. */
    while (got < rep->nfds) {
        struct xensim_rep more;
        unsigned before = got;

        n = recv_with_fds(fd, &more, sizeof(more), fds, maxfds, &got);
        if (n < 0 || got == before) {
            errno = n < 0 ? errno : EPROTO;
            goto fail_fds;
        }
    }
    if (nfds) {
        *nfds = got;
    } else {
        for (unsigned i = 0; i < got; i++) {
            close(fds[i]);
        }
    }
    if (rep->err) {
        if (nfds) {
            for (unsigned i = 0; i < got; i++) {
                close(fds[i]);
            }
            *nfds = 0;
        }
        errno = rep->err;
        return -1;
    }
    return 0;

fail_fds:
    {
        int e = errno;
        for (unsigned i = 0; i < got; i++) {
            close(fds[i]);
        }
        if (nfds) {
            *nfds = 0;
        }
        errno = e;
    }
    return -1;
}

int xensim_connect(enum xensim_kind kind, bool cloexec,
                   int *fds, unsigned nfds, uint32_t *id)
{
    const char *path = getenv("XENSIM_SOCKET");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct xensim_req req = { .op = XENSIM_OP_HELLO };
    struct xensim_rep rep;
    unsigned got = 0;
    int fd;

    if (!path || !*path) {
        errno = ENOENT;     /* as if /dev/xen/... were missing */
        return -1;
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);

    fd = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }

    req.a[0] = kind;
    req.a[1] = xensim_domid();
    if (xensim_call(fd, &req, NULL, 0, &rep, NULL, 0, NULL,
                    fds, nfds, &got) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (got != nfds) {
        for (unsigned i = 0; i < got; i++) {
            close(fds[i]);
        }
        close(fd);
        errno = EPROTO;
        return -1;
    }
    for (unsigned i = 0; i < got && !cloexec; i++) {
        fcntl(fds[i], F_SETFD, 0);
    }
    if (id) {
        *id = rep.val;
    }
    return fd;
}
