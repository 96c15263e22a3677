/*
 * xensimd: the "hypervisor" of xensim.
 *
 * Owns every domain's event channel table and grant table and the
 * memory behind grants (one memfd per share request).  Processes reach
 * it through the drop-in libxenevtchn/libxengnttab, one SOCK_SEQPACKET
 * connection per library handle; when a connection closes, everything
 * it held is released exactly as Xen and Linux release it when a
 * handle is closed or a process dies.
 *
 * Usage: xensimd SOCKET_PATH
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/grant_table.h>

#include "xensim-proto.h"

enum port_state {
    PORT_UNBOUND,               /* waiting for remote_domid to bind */
    PORT_INTERDOMAIN,           /* connected to remote_domid:remote_port */
    PORT_VIRQ,
};

struct conn;

struct port {
    uint32_t domid, port;
    struct conn *owner;         /* NULL: closed, kept alive by holds */
    enum port_state state;
    uint32_t remote_domid, remote_port;
    uint32_t virq;
    unsigned holds;             /* unmap notifications that will use it */
};

/*
 * The memory a connection shares: one memfd that grows as needed, so
 * that a mapper gets one descriptor per sharer, not one per share.
 * Freed pages are hole-punched (zeroed) and reused.
 */
struct memobj {
    int fd_rw, fd_ro;           /* fd_ro opened on first read-only map */
    unsigned users;             /* grants in it, +1 while its conn lives */
    uint64_t npages;
    uint8_t *used;              /* per page */
};

struct grant {
    uint32_t domid, ref;        /* granting domain and reference */
    uint32_t grantee;
    bool writable;
    struct memobj *mo;
    uint64_t pgoff;
    struct conn *owner;         /* NULL once unshared (still mapped) */
    unsigned nmaps;
    uint32_t notify_off;        /* byte in the page, or XENSIM_NONE */
    struct port *notify_port;   /* held, or NULL */
};

struct map {
    uint32_t id;
    struct map *next;
    unsigned count;
    struct grant **grants;      /* NULL where that page failed */
    uint32_t notify_off;        /* byte offset in the mapping */
    struct port *notify_port;
};

struct conn {
    uint32_t id;
    struct memobj *arena;       /* what this connection shares */
    int fd;
    int evfd;                   /* writer into the handle's event queue */
    int shfd;
    struct xensim_evtchn_shared *sh;    /* pending/mask bits, generations */
    uint32_t domid;
    enum xensim_kind kind;
    struct map *maps;
};

struct domain {
    uint32_t domid;
    unsigned nconns;
    struct port *ports[XENSIM_MAX_PORTS];
    struct grant **grants;      /* XENSIM_NR_GRANTS entries, lazily */
    unsigned nshared;           /* grants counting against the limit */
};

static struct domain *domains[XENSIM_MAX_DOMID];
static struct port **virq_ports;
static unsigned n_virq_ports;
static struct xensim_stat stats;
static uint32_t next_map_id = 1;
static uint32_t next_conn_id = 1;
static unsigned gntalloc_limit = XENSIM_GNTALLOC_LIMIT;
static const char *socket_path;
static int epfd;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "xensimd: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xzalloc(size_t size)
{
    void *p = calloc(1, size);

    if (!p) {
        die("out of memory");
    }
    return p;
}

static struct domain *domain_get(uint32_t domid)
{
    if (domid >= XENSIM_MAX_DOMID) {
        return NULL;
    }
    if (!domains[domid]) {
        domains[domid] = xzalloc(sizeof(struct domain));
        domains[domid]->domid = domid;
    }
    return domains[domid];
}

/* A domain exists while some process runs as it; dom0 always does. */
static bool domain_exists(uint32_t domid)
{
    return domid == 0 ||
           (domid < XENSIM_MAX_DOMID && domains[domid] &&
            domains[domid]->nconns);
}

/* --- event channels ---------------------------------------------------- */

static struct port *port_lookup(uint32_t domid, uint32_t port)
{
    if (domid >= XENSIM_MAX_DOMID || !domains[domid] ||
        port >= XENSIM_MAX_PORTS) {
        return NULL;
    }
    return domains[domid]->ports[port];
}

static struct port *port_alloc(struct conn *c, enum port_state state)
{
    struct domain *d = domain_get(c->domid);

    for (uint32_t i = 1; i < XENSIM_MAX_PORTS; i++) {
        if (!d->ports[i]) {
            struct port *p = xzalloc(sizeof(*p));

            p->domid = c->domid;
            p->port = i;
            p->owner = c;
            p->state = state;
            d->ports[i] = p;
            if (c->sh) {
                uint64_t bit = 1ull << (i % 64);

                __atomic_fetch_and(&c->sh->pending[i / 64], ~bit,
                                   __ATOMIC_SEQ_CST);
                __atomic_fetch_and(&c->sh->mask[i / 64], ~bit,
                                   __ATOMIC_SEQ_CST);
                __atomic_fetch_add(&c->sh->gen[i], 1, __ATOMIC_SEQ_CST);
            }
            stats.ports++;
            return p;
        }
    }
    return NULL;
}

/* The binding of @p changed: cached routes to or from it are stale. */
static void port_bump(struct port *p)
{
    if (p->owner && p->owner->sh) {
        __atomic_fetch_add(&p->owner->sh->gen[p->port], 1, __ATOMIC_SEQ_CST);
    }
}

static void port_raise(struct port *p)
{
    if (p->owner && p->owner->sh) {
        xensim_evtchn_raise(p->owner->sh, p->owner->evfd, p->port);
    }
}

/* EVTCHNOP_send: an unbound port drops the event silently, as on Xen. */
static void port_send(struct port *p)
{
    if (p->state == PORT_INTERDOMAIN) {
        struct port *rp = port_lookup(p->remote_domid, p->remote_port);

        if (rp) {
            port_raise(rp);
        }
    }
}

static void port_free(struct port *p)
{
    if (p->state == PORT_INTERDOMAIN) {
        struct port *rp = port_lookup(p->remote_domid, p->remote_port);

        /* EVTCHNOP_close: the peer goes back to unbound for us. */
        if (rp) {
            rp->state = PORT_UNBOUND;
            rp->remote_domid = p->domid;
            rp->remote_port = 0;
            port_bump(rp);
        }
    }
    if (p->state == PORT_VIRQ) {
        for (unsigned i = 0; i < n_virq_ports; i++) {
            if (virq_ports[i] == p) {
                virq_ports[i] = virq_ports[--n_virq_ports];
                break;
            }
        }
    }
    domains[p->domid]->ports[p->port] = NULL;
    stats.ports--;
    free(p);
}

static void port_close(struct port *p)
{
    port_bump(p);
    p->owner = NULL;
    if (!p->holds) {
        port_free(p);
    }
}

static void port_unhold(struct port *p)
{
    if (--p->holds == 0 && !p->owner) {
        port_free(p);
    }
}

/* The port a notification will be sent on: held until it fires. */
static int port_hold(uint32_t domid, uint32_t port, struct port **out)
{
    struct port *p;

    *out = NULL;
    if (port == XENSIM_NONE) {
        return 0;
    }
    p = port_lookup(domid, port);
    if (!p || !p->owner) {
        return -EINVAL;
    }
    p->holds++;
    *out = p;
    return 0;
}

static int op_evt_unbound(struct conn *c, uint32_t remote, uint32_t *val)
{
    struct port *p;

    if (remote == DOMID_SELF) {
        remote = c->domid;
    }
    if (remote >= XENSIM_MAX_DOMID) {
        return -EINVAL;
    }
    p = port_alloc(c, PORT_UNBOUND);
    if (!p) {
        return -ENOSPC;
    }
    p->remote_domid = remote;
    *val = p->port;
    return 0;
}

static int op_evt_interdomain(struct conn *c, uint32_t rdom,
                              uint32_t rport, uint32_t *val)
{
    struct port *rp, *p;

    if (rdom == DOMID_SELF) {
        rdom = c->domid;
    }
    if (!domain_exists(rdom)) {
        return -ESRCH;
    }
    rp = port_lookup(rdom, rport);
    if (!rp || !rp->owner || rp->state != PORT_UNBOUND ||
        rp->remote_domid != c->domid) {
        return -EINVAL;
    }
    p = port_alloc(c, PORT_INTERDOMAIN);
    if (!p) {
        return -ENOSPC;
    }
    p->remote_domid = rdom;
    p->remote_port = rport;
    rp->state = PORT_INTERDOMAIN;
    rp->remote_domid = c->domid;
    rp->remote_port = p->port;
    port_bump(rp);
    *val = p->port;
    return 0;
}

static int op_evt_virq(struct conn *c, uint32_t virq, uint32_t *val)
{
    struct port *p;

    if (virq >= NR_VIRQS) {
        return -EINVAL;
    }
    p = port_alloc(c, PORT_VIRQ);
    if (!p) {
        return -ENOSPC;
    }
    p->virq = virq;
    virq_ports = realloc(virq_ports, (n_virq_ports + 1) * sizeof(*virq_ports));
    if (!virq_ports) {
        die("out of memory");
    }
    virq_ports[n_virq_ports++] = p;
    *val = p->port;
    return 0;
}

static struct port *own_port(struct conn *c, uint32_t port)
{
    struct port *p = port_lookup(c->domid, port);

    return p && p->owner == c ? p : NULL;
}

/* A domain went away: tell whoever watches VIRQ_DOM_EXC (xenstored). */
static void fire_dom_exc(void)
{
    for (unsigned i = 0; i < n_virq_ports; i++) {
        if (virq_ports[i]->virq == VIRQ_DOM_EXC) {
            port_raise(virq_ports[i]);
        }
    }
}

/* --- grants ------------------------------------------------------------- */

static void memobj_put(struct memobj *mo)
{
    if (--mo->users == 0) {
        close(mo->fd_rw);
        if (mo->fd_ro >= 0) {
            close(mo->fd_ro);
        }
        free(mo->used);
        free(mo);
        stats.memobjs--;
    }
}

static struct memobj *memobj_new(void)
{
    struct memobj *mo = xzalloc(sizeof(*mo));

    mo->fd_ro = -1;
    mo->fd_rw = memfd_create("xensim-grants", MFD_CLOEXEC);
    if (mo->fd_rw < 0) {
        free(mo);
        return NULL;
    }
    mo->users = 1;
    stats.memobjs++;
    return mo;
}

/* First fit for @count free pages, growing the memfd if need be. */
static int64_t memobj_alloc(struct memobj *mo, uint32_t count)
{
    uint64_t run = 0, start;
    uint8_t *used;

    for (uint64_t i = 0; i < mo->npages; i++) {
        run = mo->used[i] ? 0 : run + 1;
        if (run == count) {
            start = i + 1 - count;
            memset(mo->used + start, 1, count);
            return start;
        }
    }
    start = mo->npages - run;
    if (ftruncate(mo->fd_rw, (off_t)(start + count) * XENSIM_PAGE_SIZE) < 0) {
        return -errno;
    }
    used = realloc(mo->used, start + count);
    if (!used) {
        die("out of memory");
    }
    mo->used = used;
    memset(mo->used + start, 1, count);
    mo->npages = start + count;
    return start;
}

static void memobj_free_page(struct memobj *mo, uint64_t pgoff)
{
    /* Zero the page now, as gntalloc gives back fresh zeroed pages. */
    if (fallocate(mo->fd_rw, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  pgoff * XENSIM_PAGE_SIZE, XENSIM_PAGE_SIZE) < 0) {
        fprintf(stderr, "xensimd: freeing a page: %s\n", strerror(errno));
        return;     /* keep it out of reuse */
    }
    mo->used[pgoff] = 0;
}

static int memobj_ro_fd(struct memobj *mo)
{
    char path[64];

    if (mo->fd_ro < 0) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", mo->fd_rw);
        mo->fd_ro = open(path, O_RDONLY | O_CLOEXEC);
    }
    return mo->fd_ro;
}

static void grant_free(struct grant *g)
{
    domains[g->domid]->grants[g->ref] = NULL;
    domains[g->domid]->nshared--;
    memobj_free_page(g->mo, g->pgoff);
    memobj_put(g->mo);
    stats.grants--;
    free(g);
}

static void clear_byte(struct memobj *mo, uint64_t pgoff, uint32_t off)
{
    static const uint8_t zero;

    if (pwrite(mo->fd_rw, &zero, 1, pgoff * XENSIM_PAGE_SIZE + off) != 1) {
        fprintf(stderr, "xensimd: unmap notify: clearing a byte failed: %s\n",
                strerror(errno));
    }
}

/* The sharer lets go (unshare or close): notify, then free once unmapped. */
static void grant_release(struct grant *g)
{
    if (g->notify_off != XENSIM_NONE) {
        clear_byte(g->mo, g->pgoff, g->notify_off);
    }
    if (g->notify_port) {
        port_send(g->notify_port);
        port_unhold(g->notify_port);
        g->notify_port = NULL;
    }
    g->owner = NULL;
    if (!g->nmaps) {
        grant_free(g);
    }
}

static int op_shr_share(struct conn *c, const struct xensim_req *req,
                        uint32_t *refs, int *fd_out, uint32_t *pgoff_out)
{
    struct domain *d = domain_get(c->domid);
    uint32_t grantee = req->a[0], count = req->a[1];
    uint32_t noff = req->a[3];
    struct port *np;
    struct memobj *mo;
    int64_t start;
    uint32_t n = 0;
    int err;

    if (count == 0 || count > XENSIM_MAX_SHARE) {
        return -EINVAL;
    }
    /* Linux's gntalloc: a global (per-kernel) limit, -ENOSPC beyond. */
    if (gntalloc_limit && d->nshared + count > gntalloc_limit) {
        return -ENOSPC;
    }
    if (noff != XENSIM_NONE && noff >= count * XENSIM_PAGE_SIZE) {
        return -EINVAL;
    }
    if (!d->grants) {
        d->grants = xzalloc(XENSIM_NR_GRANTS * sizeof(*d->grants));
    }
    for (uint32_t r = XENSIM_FIRST_GREF; r < XENSIM_NR_GRANTS && n < count;
         r++) {
        if (!d->grants[r]) {
            refs[n++] = r;
        }
    }
    if (n < count) {
        return -ENOSPC;
    }
    if (!c->arena) {
        c->arena = memobj_new();
        if (!c->arena) {
            return -errno;
        }
    }
    mo = c->arena;
    err = port_hold(c->domid, req->a[4], &np);
    if (err) {
        return err;
    }
    start = memobj_alloc(mo, count);
    if (start < 0) {
        if (np) {
            port_unhold(np);
        }
        return start;
    }

    for (uint32_t i = 0; i < count; i++) {
        struct grant *g = xzalloc(sizeof(*g));

        g->domid = c->domid;
        g->ref = refs[i];
        g->grantee = grantee == DOMID_SELF ? c->domid : grantee;
        g->writable = req->a[2] != 0;
        g->mo = mo;
        g->pgoff = start + i;
        g->owner = c;
        g->notify_off = XENSIM_NONE;
        if (noff != XENSIM_NONE && noff / XENSIM_PAGE_SIZE == i) {
            g->notify_off = noff % XENSIM_PAGE_SIZE;
        }
        if (np && i == (noff == XENSIM_NONE ? 0 : noff / XENSIM_PAGE_SIZE)) {
            g->notify_port = np;
        }
        mo->users++;
        d->grants[refs[i]] = g;
        d->nshared++;
        stats.grants++;
    }
    *fd_out = mo->fd_rw;
    *pgoff_out = start;
    return 0;
}

static void op_shr_unshare(struct conn *c, const uint32_t *refs, unsigned n)
{
    struct domain *d = domain_get(c->domid);

    for (unsigned i = 0; i < n; i++) {
        struct grant *g;

        if (!d->grants || refs[i] >= XENSIM_NR_GRANTS) {
            continue;
        }
        g = d->grants[refs[i]];
        if (g && g->owner == c) {
            grant_release(g);
        }
    }
}

/* Xen's checks of GNTTABOP_map_grant_ref / GNTTABOP_copy. */
static int grant_check(struct conn *c, const struct xensim_map_req *r,
                       struct grant **out)
{
    struct domain *d;
    struct grant *g;

    *out = NULL;
    if (!domain_exists(r->domid)) {
        return GNTST_bad_domain;
    }
    if (r->ref >= XENSIM_NR_GRANTS) {
        return GNTST_bad_gntref;
    }
    d = domain_get(r->domid);
    g = d->grants ? d->grants[r->ref] : NULL;
    if (!g || g->grantee != c->domid || (r->writable && !g->writable)) {
        return GNTST_general_error;
    }
    *out = g;
    return GNTST_okay;
}

static void map_release(struct map *m)
{
    if (m->notify_off != XENSIM_NONE) {
        struct grant *g = m->grants[m->notify_off / XENSIM_PAGE_SIZE];

        if (g) {
            clear_byte(g->mo, g->pgoff, m->notify_off % XENSIM_PAGE_SIZE);
        }
    }
    for (unsigned i = 0; i < m->count; i++) {
        struct grant *g = m->grants[i];

        if (g) {
            stats.mapped_pages--;
            if (--g->nmaps == 0 && !g->owner) {
                grant_free(g);
            }
        }
    }
    if (m->notify_port) {
        port_send(m->notify_port);
        port_unhold(m->notify_port);
    }
    stats.mappings--;
    free(m->grants);
    free(m);
}

static int send_fds(int fd, const void *buf, size_t len,
                    const int *fds, unsigned nfds)
{
    char cbuf[CMSG_SPACE(sizeof(int) * XENSIM_MAX_FDS_PER_MSG)];
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cm;

    if (nfds) {
        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Reply header + payload; descriptors beyond one packet follow alone. */
static void reply(struct conn *c, int err, uint32_t val,
                  const void *payload, size_t plen,
                  const int *fds, unsigned nfds)
{
    struct xensim_rep rep = { .err = err, .val = val, .nfds = nfds };
    static char buf[sizeof(rep) + XENSIM_MAX_PACKET];
    unsigned first = nfds < XENSIM_MAX_FDS_PER_MSG ? nfds
                                                  : XENSIM_MAX_FDS_PER_MSG;

    memcpy(buf, &rep, sizeof(rep));
    if (plen) {
        memcpy(buf + sizeof(rep), payload, plen);
    }
    if (send_fds(c->fd, buf, sizeof(rep) + plen, fds, first) < 0) {
        return;     /* the client is gone; its hangup cleans up */
    }
    for (unsigned i = first; i < nfds; i += XENSIM_MAX_FDS_PER_MSG) {
        unsigned k = nfds - i < XENSIM_MAX_FDS_PER_MSG
                     ? nfds - i : XENSIM_MAX_FDS_PER_MSG;

        if (send_fds(c->fd, &rep, sizeof(rep), fds + i, k) < 0) {
            return;
        }
    }
}

static void op_gnt_map(struct conn *c, const struct xensim_req *req,
                       const struct xensim_map_req *r, size_t plen)
{
    static struct xensim_map_page pages[XENSIM_MAX_BATCH];
    static int fds[XENSIM_MAX_BATCH];
    uint32_t count = req->a[0], noff = req->a[1];
    bool all_or_nothing = req->a[3];
    struct grant **grants;
    struct port *np;
    struct map *m;
    unsigned nfds = 0, last = 0;
    bool failed = false;
    int err;

    if (count == 0 || count > XENSIM_MAX_BATCH ||
        plen != count * sizeof(*r) ||
        (noff != XENSIM_NONE && noff >= count * XENSIM_PAGE_SIZE)) {
        reply(c, EINVAL, 0, NULL, 0, NULL, 0);
        return;
    }
    grants = xzalloc(count * sizeof(*grants));
    for (uint32_t i = 0; i < count; i++) {
        pages[i].status = grant_check(c, &r[i], &grants[i]);
        failed |= pages[i].status != GNTST_okay;
    }
    if (failed && all_or_nothing) {
        /* What gntdev's mmap() gives when a grant fails to map. */
        free(grants);
        reply(c, EINVAL, 0, NULL, 0, NULL, 0);
        return;
    }
    err = port_hold(c->domid, req->a[2], &np);
    if (err) {
        free(grants);
        reply(c, -err, 0, NULL, 0, NULL, 0);
        return;
    }

    for (uint32_t i = 0; i < count; i++) {
        struct grant *g = grants[i];
        int fd;

        pages[i].fd_index = 0;
        pages[i].pgoff = 0;
        if (!g) {
            continue;
        }
        fd = r[i].writable ? g->mo->fd_rw : memobj_ro_fd(g->mo);
        if (fd < 0) {
            fprintf(stderr, "xensimd: read-only descriptor: %s\n",
                    strerror(errno));
            fd = g->mo->fd_rw;  /* still mapped PROT_READ by the library */
        }
        if (!nfds || fds[last] != fd) {
            for (last = 0; last < nfds && fds[last] != fd; last++) {
                continue;
            }
            if (last == nfds) {
                fds[nfds++] = fd;
            }
        }
        pages[i].fd_index = last;
        pages[i].pgoff = g->pgoff;
        g->nmaps++;
        stats.mapped_pages++;
    }

    m = xzalloc(sizeof(*m));
    m->id = next_map_id++;
    m->count = count;
    m->grants = grants;
    m->notify_off = noff;
    m->notify_port = np;
    m->next = c->maps;
    c->maps = m;
    stats.mappings++;
    reply(c, 0, m->id, pages, count * sizeof(*pages), fds, nfds);
}

static int op_gnt_unmap(struct conn *c, uint32_t id)
{
    for (struct map **pm = &c->maps; *pm; pm = &(*pm)->next) {
        if ((*pm)->id == id) {
            struct map *m = *pm;

            *pm = m->next;
            map_release(m);
            return 0;
        }
    }
    return -EINVAL;
}

/* --- connections -------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    struct domain *d = domains[c->domid];

    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    while (c->maps) {
        struct map *m = c->maps;

        c->maps = m->next;
        map_release(m);
    }
    if (d) {
        for (unsigned i = 0; i < XENSIM_MAX_PORTS; i++) {
            if (d->ports[i] && d->ports[i]->owner == c) {
                port_close(d->ports[i]);
            }
        }
        for (unsigned i = 0; d->grants && i < XENSIM_NR_GRANTS; i++) {
            if (d->grants[i] && d->grants[i]->owner == c) {
                grant_release(d->grants[i]);
            }
        }
        if (c->kind != XENSIM_KIND_STAT && --d->nconns == 0) {
            fire_dom_exc();
        }
    }
    if (c->kind != XENSIM_KIND_STAT) {
        stats.connections--;
    }
    if (c->evfd >= 0) {
        close(c->evfd);
    }
    if (c->sh) {
        munmap(c->sh, XENSIM_EVTCHN_SHARED_SIZE);
        close(c->shfd);
    }
    if (c->arena) {
        memobj_put(c->arena);
    }
    close(c->fd);
    free(c);
}

static void op_hello(struct conn *c, const struct xensim_req *req)
{
    int sv[2], fds[3];

    if (c->kind || req->a[0] < XENSIM_KIND_EVTCHN ||
        req->a[0] > XENSIM_KIND_STAT || req->a[1] >= XENSIM_MAX_DOMID) {
        reply(c, EINVAL, 0, NULL, 0, NULL, 0);
        return;
    }
    c->kind = req->a[0];
    c->domid = req->a[1];
    if (c->kind != XENSIM_KIND_STAT) {
        domain_get(c->domid)->nconns++;
        stats.connections++;
    } else {
        domain_get(c->domid);
    }
    if (c->kind != XENSIM_KIND_EVTCHN) {
        reply(c, 0, c->id, NULL, 0, NULL, 0);
        return;
    }
    c->shfd = memfd_create("xensim-evtchn", MFD_CLOEXEC);
    if (c->shfd < 0 || ftruncate(c->shfd, XENSIM_EVTCHN_SHARED_SIZE) < 0) {
        die("event channel page: %s", strerror(errno));
    }
    c->sh = mmap(NULL, XENSIM_EVTCHN_SHARED_SIZE, PROT_READ | PROT_WRITE,
                 MAP_SHARED, c->shfd, 0);
    if (c->sh == MAP_FAILED ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        die("event channel set-up: %s", strerror(errno));
    }
    /*
     * sv[1] is the handle's read end: blocking, as /dev/xen/evtchn is;
     * writers (we and the peers) send with MSG_DONTWAIT.
     */
    c->evfd = sv[0];
    fds[0] = sv[1];
    fds[1] = sv[0];
    fds[2] = c->shfd;
    reply(c, 0, c->id, NULL, 0, fds, 3);
    close(sv[1]);
}

/* Where events raised on our @port go, for the library's direct path. */
static void op_evt_route(struct conn *c, uint32_t port)
{
    struct port *p = own_port(c, port), *rp = NULL;
    struct xensim_route r = { 0 };
    int fds[2];

    if (!p) {
        reply(c, ENOTCONN, 0, NULL, 0, NULL, 0);
        return;
    }
    r.own_gen = __atomic_load_n(&c->sh->gen[port], __ATOMIC_SEQ_CST);
    if (p->state == PORT_INTERDOMAIN) {
        rp = port_lookup(p->remote_domid, p->remote_port);
    }
    if (!rp || !rp->owner || !rp->owner->sh) {
        reply(c, 0, 0, &r, sizeof(r), NULL, 0);
        return;
    }
    r.has_route = 1;
    r.peer_id = rp->owner->id;
    r.peer_port = rp->port;
    r.peer_gen = __atomic_load_n(&rp->owner->sh->gen[rp->port],
                                 __ATOMIC_SEQ_CST);
    fds[0] = rp->owner->evfd;
    fds[1] = rp->owner->shfd;
    reply(c, 0, 0, &r, sizeof(r), fds, 2);
}

static bool conn_handle(struct conn *c)
{
    static char buf[sizeof(struct xensim_req) + XENSIM_MAX_PACKET];
    struct xensim_req req;
    const void *payload = buf + sizeof(req);
    static uint32_t refs[XENSIM_MAX_SHARE];
    uint32_t val = 0;
    struct port *p;
    size_t plen;
    ssize_t n;
    int err, fd;

    n = recv(c->fd, buf, sizeof(buf), MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return true;
    }
    if (n < (ssize_t)sizeof(req) || n > (ssize_t)sizeof(buf)) {
        return false;   /* hangup or garbage: drop the connection */
    }
    memcpy(&req, buf, sizeof(req));
    plen = n - sizeof(req);

    if (req.op != XENSIM_OP_HELLO && !c->kind) {
        return false;
    }
    switch (req.op) {
    case XENSIM_OP_HELLO:
        op_hello(c, &req);
        break;
    case XENSIM_OP_EVT_UNBOUND:
    case XENSIM_OP_EVT_INTERDOMAIN:
    case XENSIM_OP_EVT_VIRQ:
        if (c->kind != XENSIM_KIND_EVTCHN) {
            return false;
        }
        err = req.op == XENSIM_OP_EVT_UNBOUND
              ? op_evt_unbound(c, req.a[0], &val)
              : req.op == XENSIM_OP_EVT_VIRQ
              ? op_evt_virq(c, req.a[0], &val)
              : op_evt_interdomain(c, req.a[0], req.a[1], &val);
        reply(c, -err, val, NULL, 0, NULL, 0);
        break;
    case XENSIM_OP_EVT_UNBIND:
        p = own_port(c, req.a[0]);
        if (p) {
            port_close(p);
        }
        reply(c, p ? 0 : ENOTCONN, 0, NULL, 0, NULL, 0);
        break;
    case XENSIM_OP_EVT_ROUTE:
        if (c->kind != XENSIM_KIND_EVTCHN) {
            return false;
        }
        op_evt_route(c, req.a[0]);
        break;
    case XENSIM_OP_SHR_SHARE:
        if (c->kind != XENSIM_KIND_GNTSHR) {
            return false;
        }
        err = op_shr_share(c, &req, refs, &fd, &val);
        if (err) {
            reply(c, -err, 0, NULL, 0, NULL, 0);
        } else {
            reply(c, 0, val, refs, req.a[1] * sizeof(uint32_t), &fd, 1);
        }
        break;
    case XENSIM_OP_SHR_UNSHARE:
        op_shr_unshare(c, payload, plen / sizeof(uint32_t));
        reply(c, 0, 0, NULL, 0, NULL, 0);
        break;
    case XENSIM_OP_GNT_MAP:
        if (c->kind != XENSIM_KIND_GNTTAB) {
            return false;
        }
        op_gnt_map(c, &req, payload, plen);
        break;
    case XENSIM_OP_GNT_UNMAP:
        reply(c, -op_gnt_unmap(c, req.a[0]), 0, NULL, 0, NULL, 0);
        break;
    case XENSIM_OP_STAT:
        reply(c, 0, 0, &stats, sizeof(stats), NULL, 0);
        break;
    default:
        return false;
    }
    return true;
}

static void on_signal(int sig)
{
    (void)sig;
    unlink(socket_path);
    _exit(0);
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct epoll_event ev = { .events = EPOLLIN };
    struct sigaction sa = { 0 };
    struct rlimit rl;
    int lfd;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: xensimd SOCKET_PATH\n"
                "Runs the shared state of a userspace Xen (xensim) in the "
                "foreground.\n"
                "XENSIM_GNTALLOC_LIMIT: pages each domain may share at once "
                "(default %u, Linux gntalloc's; 0: no limit).\n",
                XENSIM_GNTALLOC_LIMIT);
        return 2;
    }
    socket_path = argv[1];
    if (getenv("XENSIM_GNTALLOC_LIMIT")) {
        char *end;

        gntalloc_limit = strtoul(getenv("XENSIM_GNTALLOC_LIMIT"), &end, 0);
        if (*end || !*getenv("XENSIM_GNTALLOC_LIMIT")) {
            die("XENSIM_GNTALLOC_LIMIT must be a number (0: no limit), "
                "not '%s'", getenv("XENSIM_GNTALLOC_LIMIT"));
        }
    }
    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        die("socket path too long: %s", socket_path);
    }
    strcpy(addr.sun_path, socket_path);

    /* One connection per library handle: allow as many as we may. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        die("socket: %s", strerror(errno));
    }
    unlink(socket_path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 64) < 0) {
        die("cannot listen on %s: %s", socket_path, strerror(errno));
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        die("epoll_create1: %s", strerror(errno));
    }
    ev.data.ptr = NULL;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);

    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(epfd, evs, 64, -1);

        if (n < 0 && errno != EINTR) {
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (!c) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                    continue;
                }
                c = xzalloc(sizeof(*c));
                c->id = next_conn_id++;
                c->fd = fd;
                c->evfd = -1;
                c->shfd = -1;
                ev.data.ptr = c;
                epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
                continue;
            }
            if (!conn_handle(c)) {
                conn_close(c);
            }
        }
    }
}
