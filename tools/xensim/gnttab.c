/*
 * xensim: drop-in libxengnttab.so.1 (xengnttab_* and xengntshr_*)
 * talking to xensimd.
 *
 * Shared pages live in memfds owned by xensimd; a sharer and every
 * mapper map the same memfd pages MAP_SHARED, so both see the same
 * physical memory, as with Xen's grant mappings.  Read-only mappings
 * get a read-only descriptor, so they cannot be made writable later.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xengnttab.h>
#include <xen/grant_table.h>

#include "xensim-client.h"

#define PAGE XENSIM_PAGE_SIZE

struct mapping {
    struct mapping *next;
    uint8_t *addr;
    uint32_t count;
    uint32_t nids;
    uint32_t ids[];             /* xensimd map ids, one per batch */
};

struct share {
    struct share *next;
    uint8_t *addr;
    uint32_t count;
    uint32_t live;              /* pages not yet unshared */
    uint32_t refs[];            /* 0 once unshared */
};

/* xengnttab_handle and xengntshr_handle are both this (see xengnttab.h). */
struct xengntdev_handle {
    int fd;
    pthread_mutex_t lock;
    struct mapping *maps;       /* xengnttab */
    struct share *shares;       /* xengntshr */
};

/* --- xengnttab ---------------------------------------------------------- */

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                 unsigned int open_flags)
{
    xengnttab_handle *xgt;

    (void)logger;
    (void)open_flags;
    xgt = calloc(1, sizeof(*xgt));
    if (!xgt) {
        return NULL;
    }
    xgt->fd = xensim_connect(XENSIM_KIND_GNTTAB, true, NULL, 0, NULL);
    if (xgt->fd < 0) {
        int e = errno;
        free(xgt);
        errno = e;
        return NULL;
    }
    pthread_mutex_init(&xgt->lock, NULL);
    return xgt;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    if (!xgt) {
        return 0;
    }
    /*
     * As with gntdev, mappings stay valid in this process; xensimd drops
     * its record of them with the connection.
     */
    while (xgt->maps) {
        struct mapping *m = xgt->maps;

        xgt->maps = m->next;
        free(m);
    }
    close(xgt->fd);
    pthread_mutex_destroy(&xgt->lock);
    free(xgt);
    return 0;
}

int xengnttab_fd(xengnttab_handle *xgt)
{
    return xgt->fd;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    (void)xgt;
    (void)nr_grants;
    return 0;
}

static void unmap_ids(xengnttab_handle *xgt, const uint32_t *ids,
                      uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct xensim_req req = { .op = XENSIM_OP_GNT_UNMAP, .a = { ids[i] } };
        struct xensim_rep rep;

        xensim_call(xgt->fd, &req, NULL, 0, &rep, NULL, 0, NULL,
                    NULL, 0, NULL);
    }
}

/*
 * One batch: ask xensimd for the pages of @n refs.  On success
 * @pages, @fds and @nfds describe where each page lives.
 */
static int map_batch(xengnttab_handle *xgt, const struct xensim_map_req *r,
                     uint32_t n, uint32_t noff, uint32_t nport,
                     bool all_or_nothing, uint32_t *id,
                     struct xensim_map_page *pages, int *fds, unsigned *nfds)
{
    struct xensim_req req = {
        .op = XENSIM_OP_GNT_MAP,
        .a = { n, noff, nport, all_or_nothing },
    };
    struct xensim_rep rep;
    size_t rlen;

    if (xensim_call(xgt->fd, &req, r, n * sizeof(*r), &rep,
                    pages, n * sizeof(*pages), &rlen,
                    fds, n, nfds) < 0) {
        return -1;
    }
    *id = rep.val;
    if (rlen != n * sizeof(*pages)) {
        for (unsigned i = 0; i < *nfds; i++) {
            close(fds[i]);
        }
        unmap_ids(xgt, id, 1);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/*
 * Map consecutive runs of pages that are also consecutive in one memfd
 * with one mmap() each, into a reserved region when there are several.
 */
static int map_runs(uint8_t *base, uint32_t count, int prot,
                    const struct xensim_map_page *pages, const int *fds)
{
    uint32_t i = 0;

    while (i < count) {
        uint32_t j = i + 1;

        while (j < count && pages[j].fd_index == pages[i].fd_index &&
               pages[j].pgoff == pages[i].pgoff + (j - i)) {
            j++;
        }
        if (mmap(base + (size_t)i * PAGE, (size_t)(j - i) * PAGE, prot,
                 MAP_SHARED | MAP_FIXED, fds[pages[i].fd_index],
                 pages[i].pgoff * PAGE) == MAP_FAILED) {
            return -1;
        }
        i = j;
    }
    return 0;
}

static void *map_refs(xengnttab_handle *xgt, uint32_t count,
                      const uint32_t *domids, uint32_t domids_stride,
                      const uint32_t *refs, int prot,
                      uint32_t notify_offset, evtchn_port_t notify_port)
{
    uint32_t nbatch = (count + XENSIM_MAX_BATCH - 1) / XENSIM_MAX_BATCH;
    struct xensim_map_req *r = NULL;
    struct xensim_map_page *pages = NULL;
    int *fds = NULL;
    unsigned nfds = 0;
    struct mapping *m = NULL;
    uint8_t *base = MAP_FAILED;
    uint32_t noff_batch = UINT32_MAX;
    int err = ENOMEM;

    if (count == 0 || (prot & ~(PROT_READ | PROT_WRITE))) {
        errno = EINVAL;
        return NULL;
    }
    if (notify_offset != XENSIM_NONE &&
        notify_offset >= (uint64_t)count * PAGE) {
        errno = EINVAL;
        return NULL;
    }
    if (notify_offset != XENSIM_NONE) {
        noff_batch = notify_offset / (XENSIM_MAX_BATCH * PAGE);
    } else if (notify_port != XENSIM_NONE) {
        noff_batch = 0;
    }

    r = malloc(count * sizeof(*r));
    pages = malloc(count * sizeof(*pages));
    fds = malloc(count * sizeof(*fds));
    m = calloc(1, sizeof(*m) + nbatch * sizeof(uint32_t));
    if (!r || !pages || !fds || !m) {
        goto fail;
    }
    for (uint32_t i = 0; i < count; i++) {
        r[i].domid = domids[(size_t)i * domids_stride];
        r[i].ref = refs[i];
        r[i].writable = !!(prot & PROT_WRITE);
    }

    pthread_mutex_lock(&xgt->lock);
    for (uint32_t b = 0; b < nbatch; b++) {
        uint32_t first = b * XENSIM_MAX_BATCH;
        uint32_t n = count - first < XENSIM_MAX_BATCH ? count - first
                                                      : XENSIM_MAX_BATCH;
        uint32_t noff = XENSIM_NONE, nport = XENSIM_NONE;
        unsigned got = 0;

        if (b == noff_batch) {
            if (notify_offset != XENSIM_NONE) {
                noff = notify_offset - first * PAGE;
            }
            nport = notify_port;
        }
        if (map_batch(xgt, r + first, n, noff, nport, true, &m->ids[b],
                      pages + first, fds + nfds, &got) < 0) {
            err = errno;
            pthread_mutex_unlock(&xgt->lock);
            goto fail_unmap;
        }
        for (uint32_t i = first; i < first + n; i++) {
            pages[i].fd_index += nfds;
        }
        nfds += got;
        m->nids++;
    }
    pthread_mutex_unlock(&xgt->lock);

    if (count == 1 || nfds == 1) {
        base = NULL;    /* maybe a single run: let mmap place it */
    }
    if (nfds == 1 && pages[count - 1].pgoff == pages[0].pgoff + count - 1) {
        bool contiguous = true;

        for (uint32_t i = 1; i < count && contiguous; i++) {
            contiguous = pages[i].pgoff == pages[0].pgoff + i;
        }
        if (contiguous) {
            base = mmap(NULL, (size_t)count * PAGE, prot, MAP_SHARED,
                        fds[0], pages[0].pgoff * PAGE);
            if (base == MAP_FAILED) {
                err = errno;
                goto fail_unmap;
            }
            goto mapped;
        }
    }
    base = mmap(NULL, (size_t)count * PAGE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED || map_runs(base, count, prot, pages, fds) < 0) {
        err = errno;
        goto fail_unmap;
    }

mapped:
    for (unsigned i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    m->addr = base;
    m->count = count;
    pthread_mutex_lock(&xgt->lock);
    m->next = xgt->maps;
    xgt->maps = m;
    pthread_mutex_unlock(&xgt->lock);
    free(r);
    free(pages);
    free(fds);
    return base;

fail_unmap:
    if (base != MAP_FAILED && base) {
        munmap(base, (size_t)count * PAGE);
    }
    for (unsigned i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    pthread_mutex_lock(&xgt->lock);
    unmap_ids(xgt, m->ids, m->nids);
    pthread_mutex_unlock(&xgt->lock);
fail:
    free(r);
    free(pages);
    free(fds);
    free(m);
    errno = err;
    return NULL;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                              uint32_t ref, int prot)
{
    return map_refs(xgt, 1, &domid, 0, &ref, prot, XENSIM_NONE, XENSIM_NONE);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
                               uint32_t *domids, uint32_t *refs, int prot)
{
    return map_refs(xgt, count, domids, 1, refs, prot,
                    XENSIM_NONE, XENSIM_NONE);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt,
                                      uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    return map_refs(xgt, count, &domid, 0, refs, prot,
                    XENSIM_NONE, XENSIM_NONE);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid,
                                     uint32_t ref, int prot,
                                     uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    return map_refs(xgt, 1, &domid, 0, &ref, prot, notify_offset,
                    notify_port);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
                    uint32_t count)
{
    struct mapping **pm, *m = NULL;

    pthread_mutex_lock(&xgt->lock);
    for (pm = &xgt->maps; *pm; pm = &(*pm)->next) {
        if ((*pm)->addr == start_address) {
            m = *pm;
            break;
        }
    }
    if (!m || m->count != count) {
        pthread_mutex_unlock(&xgt->lock);
        errno = EINVAL;
        return -1;
    }
    *pm = m->next;
    munmap(m->addr, (size_t)m->count * PAGE);
    unmap_ids(xgt, m->ids, m->nids);
    pthread_mutex_unlock(&xgt->lock);
    free(m);
    return 0;
}

/*
 * GNTTABOP_copy: the library maps the grant side(s) of every segment
 * for the duration of the copy; xensimd applies Xen's checks per ref.
 */
static int copy_batch(xengnttab_handle *xgt, uint32_t count,
                      xengnttab_grant_copy_segment_t *segs)
{
    struct copy_scratch {
        struct xensim_map_req r[XENSIM_MAX_BATCH];
        struct xensim_map_page pages[XENSIM_MAX_BATCH];
        int src_idx[XENSIM_MAX_BATCH / 2], dst_idx[XENSIM_MAX_BATCH / 2];
        int fds[XENSIM_MAX_BATCH];
    } *sc = malloc(sizeof(*sc));
    struct xensim_map_req *r;
    struct xensim_map_page *pages;
    int *src_idx, *dst_idx, *fds;
    unsigned nfds = 0;
    uint32_t n = 0, id = 0;
    int rc;

    if (!sc) {
        return -1;
    }
    r = sc->r;
    pages = sc->pages;
    src_idx = sc->src_idx;
    dst_idx = sc->dst_idx;
    fds = sc->fds;

    for (uint32_t i = 0; i < count; i++) {
        xengnttab_grant_copy_segment_t *s = &segs[i];

        src_idx[i] = dst_idx[i] = -1;
        if (s->flags & GNTCOPY_source_gref) {
            r[n] = (struct xensim_map_req){ s->source.foreign.domid,
                                            s->source.foreign.ref, 0 };
            src_idx[i] = n++;
        }
        if (s->flags & GNTCOPY_dest_gref) {
            r[n] = (struct xensim_map_req){ s->dest.foreign.domid,
                                            s->dest.foreign.ref, 1 };
            dst_idx[i] = n++;
        }
    }

    if (n) {
        pthread_mutex_lock(&xgt->lock);
        rc = map_batch(xgt, r, n, XENSIM_NONE, XENSIM_NONE, false, &id,
                       pages, fds, &nfds);
        pthread_mutex_unlock(&xgt->lock);
        if (rc < 0) {
            free(sc);
            return -1;
        }
    }

    for (uint32_t i = 0; i < count; i++) {
        xengnttab_grant_copy_segment_t *s = &segs[i];
        uint8_t *src = s->source.virt, *dst = s->dest.virt;
        void *smap = NULL, *dmap = NULL;
        int16_t st = GNTST_okay;

        if (src_idx[i] >= 0 && pages[src_idx[i]].status) {
            st = pages[src_idx[i]].status;
        } else if (dst_idx[i] >= 0 && pages[dst_idx[i]].status) {
            st = pages[dst_idx[i]].status;
        } else if ((src_idx[i] >= 0 &&
                    s->source.foreign.offset + s->len > PAGE) ||
                   (dst_idx[i] >= 0 &&
                    s->dest.foreign.offset + s->len > PAGE)) {
            st = GNTST_bad_copy_arg;
        }
        if (st == GNTST_okay && src_idx[i] >= 0) {
            const struct xensim_map_page *p = &pages[src_idx[i]];

            smap = mmap(NULL, PAGE, PROT_READ, MAP_SHARED,
                        fds[p->fd_index], p->pgoff * PAGE);
            if (smap == MAP_FAILED) {
                smap = NULL;
                st = GNTST_general_error;
            } else {
                src = (uint8_t *)smap + s->source.foreign.offset;
            }
        }
        if (st == GNTST_okay && dst_idx[i] >= 0) {
            const struct xensim_map_page *p = &pages[dst_idx[i]];

            dmap = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                        fds[p->fd_index], p->pgoff * PAGE);
            if (dmap == MAP_FAILED) {
                dmap = NULL;
                st = GNTST_general_error;
            } else {
                dst = (uint8_t *)dmap + s->dest.foreign.offset;
            }
        }
        if (st == GNTST_okay) {
            memmove(dst, src, s->len);
        }
        s->status = st;
        if (smap) {
            munmap(smap, PAGE);
        }
        if (dmap) {
            munmap(dmap, PAGE);
        }
    }

    for (unsigned i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    if (n) {
        pthread_mutex_lock(&xgt->lock);
        unmap_ids(xgt, &id, 1);
        pthread_mutex_unlock(&xgt->lock);
    }
    free(sc);
    return 0;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    for (uint32_t i = 0; i < count; i += XENSIM_MAX_BATCH / 2) {
        uint32_t n = count - i < XENSIM_MAX_BATCH / 2 ? count - i
                                                     : XENSIM_MAX_BATCH / 2;

        if (copy_batch(xgt, n, segs + i) < 0) {
            return -1;
        }
    }
    return 0;
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid,
                                   uint32_t flags, uint32_t count,
                                   const uint32_t *refs, uint32_t *fd)
{
    (void)xgt; (void)domid; (void)flags; (void)count; (void)refs; (void)fd;
    errno = EOPNOTSUPP;
    return -1;
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
                                       uint32_t wait_to_ms)
{
    (void)xgt; (void)fd; (void)wait_to_ms;
    errno = EOPNOTSUPP;
    return -1;
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid,
                                 uint32_t fd, uint32_t count, uint32_t *refs)
{
    (void)xgt; (void)domid; (void)fd; (void)count; (void)refs;
    errno = EOPNOTSUPP;
    return -1;
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
    (void)xgt; (void)fd;
    errno = EOPNOTSUPP;
    return -1;
}

/* --- xengntshr ---------------------------------------------------------- */

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
                                 unsigned int open_flags)
{
    xengntshr_handle *xgs;

    (void)logger;
    (void)open_flags;
    xgs = calloc(1, sizeof(*xgs));
    if (!xgs) {
        return NULL;
    }
    xgs->fd = xensim_connect(XENSIM_KIND_GNTSHR, true, NULL, 0, NULL);
    if (xgs->fd < 0) {
        int e = errno;
        free(xgs);
        errno = e;
        return NULL;
    }
    pthread_mutex_init(&xgs->lock, NULL);
    return xgs;
}

int xengntshr_close(xengntshr_handle *xgs)
{
    if (!xgs) {
        return 0;
    }
    /* xensimd ends the remaining grants (with their notifications). */
    while (xgs->shares) {
        struct share *s = xgs->shares;

        xgs->shares = s->next;
        free(s);
    }
    close(xgs->fd);
    pthread_mutex_destroy(&xgs->lock);
    free(xgs);
    return 0;
}

int xengntshr_fd(xengntshr_handle *xgs)
{
    return xgs->fd;
}

static void *share(xengntshr_handle *xgs, uint32_t domid, int count,
                   uint32_t *refs, int writable, uint32_t notify_offset,
                   uint32_t notify_port)
{
    struct xensim_req req = {
        .op = XENSIM_OP_SHR_SHARE,
        .a = { domid, count, !!writable, notify_offset, notify_port },
    };
    struct xensim_rep rep;
    struct share *s;
    size_t rlen;
    unsigned nfds = 0;
    int fd, err;
    void *addr;

    if (count <= 0 || count > XENSIM_MAX_SHARE) {
        errno = EINVAL;
        return NULL;
    }
    s = calloc(1, sizeof(*s) + count * sizeof(uint32_t));
    if (!s) {
        return NULL;
    }
    pthread_mutex_lock(&xgs->lock);
    if (xensim_call(xgs->fd, &req, NULL, 0, &rep, s->refs,
                    count * sizeof(uint32_t), &rlen, &fd, 1, &nfds) < 0) {
        err = errno;
        goto fail;
    }
    if (nfds != 1 || rlen != count * sizeof(uint32_t)) {
        if (nfds) {
            close(fd);
        }
        err = EPROTO;
        goto fail_unshare;
    }
    addr = mmap(NULL, (size_t)count * PAGE, PROT_READ | PROT_WRITE,
                MAP_SHARED, fd, (off_t)rep.val * PAGE);
    err = errno;
    close(fd);
    if (addr == MAP_FAILED) {
        goto fail_unshare;
    }
    s->addr = addr;
    s->count = s->live = count;
    s->next = xgs->shares;
    xgs->shares = s;
    pthread_mutex_unlock(&xgs->lock);
    memcpy(refs, s->refs, count * sizeof(uint32_t));
    return addr;

fail_unshare:
    req = (struct xensim_req){ .op = XENSIM_OP_SHR_UNSHARE };
    xensim_call(xgs->fd, &req, s->refs, count * sizeof(uint32_t), &rep,
                NULL, 0, NULL, NULL, 0, NULL);
fail:
    pthread_mutex_unlock(&xgs->lock);
    free(s);
    errno = err;
    return NULL;
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid,
                            int count, uint32_t *refs, int writable)
{
    return share(xgs, domid, count, refs, writable, XENSIM_NONE, XENSIM_NONE);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
                                  uint32_t *ref, int writable,
                                  uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    if (notify_offset != XENSIM_NONE && notify_offset >= PAGE) {
        errno = EINVAL;
        return NULL;
    }
    return share(xgs, domid, 1, ref, writable, notify_offset, notify_port);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address,
                      uint32_t count)
{
    uint8_t *start = start_address;
    struct share **ps;
    int rc;

    pthread_mutex_lock(&xgs->lock);
    for (ps = &xgs->shares; *ps; ps = &(*ps)->next) {
        struct share *s = *ps;
        struct xensim_req req = { .op = XENSIM_OP_SHR_UNSHARE };
        struct xensim_rep rep;
        uint32_t first, last, *refs, n = 0;

        if (start < s->addr || start >= s->addr + (size_t)s->count * PAGE) {
            continue;
        }
        refs = malloc(s->count * sizeof(*refs));
        if (!refs) {
            pthread_mutex_unlock(&xgs->lock);
            errno = ENOMEM;
            return -1;
        }
        /* Like munmap() of a gntalloc mapping: pages in range end. */
        first = (start - s->addr) / PAGE;
        last = first + count < s->count ? first + count : s->count;
        for (uint32_t i = first; i < last; i++) {
            if (s->refs[i]) {
                refs[n++] = s->refs[i];
                s->refs[i] = 0;
            }
        }
        rc = munmap(start, (size_t)count * PAGE);
        if (n) {
            xensim_call(xgs->fd, &req, refs, n * sizeof(uint32_t), &rep,
                        NULL, 0, NULL, NULL, 0, NULL);
        }
        free(refs);
        s->live -= n;
        if (!s->live) {
            *ps = s->next;
            free(s);
        }
        pthread_mutex_unlock(&xgs->lock);
        return rc;
    }
    pthread_mutex_unlock(&xgs->lock);
    return munmap(start_address, (size_t)count * PAGE);
}
