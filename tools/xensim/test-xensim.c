/*
 * xensim tests: two processes (dom0 = this one, domU = a forked child
 * with XENSIM_DOMID=1) talk through the drop-in libraries, unmodified
 * Xen API calls only.  TAP output.  Run under xensim (needs
 * XENSIM_SOCKET): tools/tests/xensim/run-test.sh does that.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

#include "xensim-client.h"

static int ntests, nfailed;
static int peer = -1;           /* socket to the other process */

static void ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    ntests++;
    if (!cond) {
        nfailed++;
    }
    printf("%sok %d - ", cond ? "" : "not ", ntests);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void put(uint32_t v)
{
    if (write(peer, &v, sizeof(v)) != sizeof(v)) {
        perror("test: write to peer");
        exit(99);
    }
}

static uint32_t get(void)
{
    uint32_t v;

    if (read(peer, &v, sizeof(v)) != sizeof(v)) {
        fprintf(stderr, "test: peer went away\n");
        exit(99);
    }
    return v;
}

static void die(const char *what)
{
    fprintf(stderr, "test: %s: %s\n", what, strerror(errno));
    exit(99);
}

/* Run @fn as domain @domid in a child; returns its pid. */
static pid_t spawn(uint32_t domid, void (*fn)(void))
{
    int sv[2];
    pid_t pid;
    char s[16];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        die("socketpair");
    }
    pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        close(sv[0]);
        peer = sv[1];
        snprintf(s, sizeof(s), "%u", domid);
        setenv("XENSIM_DOMID", s, 1);
        fn();
        exit(0);
    }
    close(sv[1]);
    if (peer >= 0) {
        close(peer);
    }
    peer = sv[0];
    return pid;
}

static void reap(pid_t pid)
{
    int st;

    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exited cleanly");
}

static void on_alarm(int sig)
{
    (void)sig;      /* only interrupts pending() */
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to @ms for an event; returns the port or -1. */
static int wait_event(xenevtchn_handle *xce, int ms)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };

    if (poll(&pfd, 1, ms) != 1) {
        return -1;
    }
    return xenevtchn_pending(xce);
}

static struct xensim_stat stat_now(void)
{
    struct xensim_req req = { .op = XENSIM_OP_STAT };
    struct xensim_rep rep;
    struct xensim_stat st = { 0 };
    int fd = xensim_connect(XENSIM_KIND_STAT, true, NULL, 0, NULL);

    if (fd < 0 || xensim_call(fd, &req, NULL, 0, &rep, &st, sizeof(st),
                              NULL, NULL, 0, NULL) < 0) {
        die("stat query");
    }
    close(fd);
    return st;
}

/* --- event channels ----------------------------------------------------- */

static void evtchn_child(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    int port, p;

    port = xenevtchn_bind_unbound_port(xce, 0);
    put(port);
    p = wait_event(xce, 2000);
    put(p == port);
    xenevtchn_unmask(xce, port);
    xenevtchn_notify(xce, port);            /* answer */

    /* Masked: two notifies while masked give one more event on unmask. */
    get();
    p = wait_event(xce, 2000);
    put(p == port);
    get();                                  /* parent notified twice more */
    put(wait_event(xce, 100) == -1);        /* still masked */
    xenevtchn_unmask(xce, port);
    p = wait_event(xce, 2000);
    put(p == port);
    xenevtchn_unmask(xce, port);
    put(wait_event(xce, 100) == -1);        /* exactly one */

    /* Close our end: the parent's port becomes unbound for dom1 again. */
    get();
    xenevtchn_unbind(xce, port);
    put(0);
    p = get();                              /* rebind to the parent's port */
    port = xenevtchn_bind_interdomain(xce, 0, p);
    put(port);
    put(wait_event(xce, 2000) == port);
    xenevtchn_close(xce);
}

static void test_evtchn(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    pid_t pid = spawn(1, evtchn_child);
    int rport, lport, p;

    ok(xce != NULL, "xenevtchn_open");
    rport = get();
    ok(rport > 0, "domU allocates an unbound port for dom0 (%d)", rport);
    lport = xenevtchn_bind_interdomain(xce, 1, rport);
    ok(lport > 0, "dom0 binds to it (%d)", lport);
    {
        /* as on Xen: pending() blocks, unless the fd is O_NONBLOCK */
        struct sigaction sa = { .sa_handler = on_alarm }, old_sa;
        int fl = fcntl(xenevtchn_fd(xce), F_GETFL);
        int64_t t0 = now_ms();

        sigaction(SIGALRM, &sa, &old_sa);      /* no SA_RESTART */
        ualarm(200000, 0);
        errno = 0;
        ok(xenevtchn_pending(xce) == -1 && errno == EINTR &&
           now_ms() - t0 >= 150,
           "pending() with nothing pending blocks (until a signal: EINTR)");
        sigaction(SIGALRM, &old_sa, NULL);
        fcntl(xenevtchn_fd(xce), F_SETFL, fl | O_NONBLOCK);
        errno = 0;
        ok(xenevtchn_pending(xce) == -1 && errno == EAGAIN,
           "pending() on an O_NONBLOCK fd with nothing pending: -1/EAGAIN");
        fcntl(xenevtchn_fd(xce), F_SETFL, fl);
    }
    ok(xenevtchn_notify(xce, lport) == 0, "notify dom0 -> domU");
    ok(get(), "domU's fd polls readable, pending() gives its port");
    p = wait_event(xce, 2000);
    ok(p == lport, "domU -> dom0 event arrives on dom0's port");
    xenevtchn_unmask(xce, lport);

    put(0);
    xenevtchn_notify(xce, lport);
    ok(get(), "second event delivered");
    xenevtchn_notify(xce, lport);
    xenevtchn_notify(xce, lport);
    put(0);
    ok(get(), "no delivery while masked");
    ok(get(), "unmask re-delivers an event raised while masked");
    ok(get(), "...exactly once");

    put(0);
    get();                                  /* domU unbound its end */
    ok(xenevtchn_notify(xce, lport) == 0,
       "notify on a port whose peer closed succeeds (dropped, as Xen)");
    put(lport);
    p = get();
    ok(p > 0, "peer's port went back to unbound-for-dom1: domU rebinds");
    xenevtchn_notify(xce, lport);
    ok(get(), "rebound channel delivers");
    reap(pid);
    xenevtchn_close(xce);
}

static void checks_child(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);

    put(xenevtchn_bind_unbound_port(xce, 5));   /* not for dom0 */
    put(xenevtchn_bind_unbound_port(xce, 0));
    get();
    xenevtchn_close(xce);
}

static void test_evtchn_checks(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    pid_t pid = spawn(1, checks_child);
    int for5 = get(), for0 = get(), lport;

    errno = 0;
    ok(xenevtchn_bind_interdomain(xce, 1, for5) == -1 && errno == EINVAL,
       "bind to a port unbound for another domain: EINVAL");
    errno = 0;
    ok(xenevtchn_bind_interdomain(xce, 1, 999) == -1 && errno == EINVAL,
       "bind to a nonexistent port: EINVAL");
    errno = 0;
    ok(xenevtchn_bind_interdomain(xce, 77, 1) == -1 && errno == ESRCH,
       "bind to a nonexistent domain: ESRCH");
    lport = xenevtchn_bind_interdomain(xce, 1, for0);
    ok(lport > 0, "bind to a port unbound for us");
    errno = 0;
    ok(xenevtchn_bind_interdomain(xce, 1, for0) == -1 && errno == EINVAL,
       "bind to an already connected port: EINVAL");
    errno = 0;
    ok(xenevtchn_notify(xce, lport + 100) == -1 && errno == ENOTCONN,
       "notify on a port not bound by this handle: ENOTCONN");
    errno = 0;
    ok(xenevtchn_unbind(xce, lport + 100) == -1 && errno == ENOTCONN,
       "unbind of a port not bound by this handle: ENOTCONN");
    ok(xenevtchn_bind_virq(xce, VIRQ_DOM_EXC) > 0, "bind_virq(VIRQ_DOM_EXC)");
    {
        int a = xenevtchn_bind_unbound_port(xce, DOMID_SELF);
        int b = a > 0 ? xenevtchn_bind_interdomain(xce, 0, a) : -1;

        ok(b > 0 && xenevtchn_notify(xce, a) == 0 &&
           wait_event(xce, 2000) == b, "loopback channel within dom0");
        xenevtchn_unmask(xce, b);
    }
    put(0);
    reap(pid);
    xenevtchn_close(xce);
}

/* --- grants ------------------------------------------------------------- */

#define NPAGES 4

static void share_child(void)
{
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    uint32_t refs[NPAGES], ro_ref, other_ref;
    uint8_t *p, *ro, *other;
    bool zero = true, seen = true;

    p = xengntshr_share_pages(xgs, 0, NPAGES, refs, 1);
    for (int i = 0; i < NPAGES * XENSIM_PAGE_SIZE; i++) {
        zero &= p[i] == 0;
    }
    put(zero);
    for (int i = 0; i < NPAGES; i++) {
        memset(p + i * XENSIM_PAGE_SIZE, 0xA0 + i, XENSIM_PAGE_SIZE);
        put(refs[i]);
    }
    ro = xengntshr_share_pages(xgs, 0, 1, &ro_ref, 0);
    ro[0] = 0x5A;
    put(ro_ref);
    other = xengntshr_share_pages(xgs, 3, 1, &other_ref, 1);
    put(other_ref);

    get();                                  /* parent wrote */
    for (int i = 0; i < NPAGES; i++) {
        seen &= p[i * XENSIM_PAGE_SIZE + 7] == 0x10 + i;
    }
    put(seen);

    get();                                  /* unshare page 0 while mapped */
    xengntshr_unshare(xgs, p, 1);
    put(0);
    get();
    xengntshr_unshare(xgs, p + XENSIM_PAGE_SIZE, NPAGES - 1);
    xengntshr_unshare(xgs, ro, 1);
    xengntshr_unshare(xgs, other, 1);
    xengntshr_close(xgs);
    put(0);
}

static void test_grants(void)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    pid_t pid = spawn(1, share_child);
    uint32_t refs[NPAGES], ro_ref, other_ref, bad;
    uint8_t *m, *ro;
    bool seen = true;

    ok(get(), "shared pages start zeroed");
    for (int i = 0; i < NPAGES; i++) {
        refs[i] = get();
    }
    ro_ref = get();
    other_ref = get();
    ok(refs[0] >= 8, "grant refs start above Linux's reserved ones (%u)",
       refs[0]);

    m = xengnttab_map_domain_grant_refs(xgt, NPAGES, 1, refs,
                                        PROT_READ | PROT_WRITE);
    ok(m != NULL, "dom0 maps domU's %d pages writable", NPAGES);
    for (int i = 0; m && i < NPAGES; i++) {
        seen &= m[i * XENSIM_PAGE_SIZE + 100] == 0xA0 + i;
        m[i * XENSIM_PAGE_SIZE + 7] = 0x10 + i;
    }
    ok(seen, "dom0 sees domU's writes");
    put(0);
    ok(get(), "domU sees dom0's writes (same memory)");

    errno = 0;
    ok(!xengnttab_map_grant_ref(xgt, 1, ro_ref, PROT_READ | PROT_WRITE) &&
       errno == EINVAL, "writable map of a read-only grant: EINVAL");
    ro = xengnttab_map_grant_ref(xgt, 1, ro_ref, PROT_READ);
    ok(ro && ro[0] == 0x5A, "read-only map of a read-only grant");
    ok(ro && mprotect(ro, XENSIM_PAGE_SIZE, PROT_READ | PROT_WRITE) < 0,
       "a read-only mapping cannot be made writable");
    errno = 0;
    ok(!xengnttab_map_grant_ref(xgt, 1, other_ref, PROT_READ) &&
       errno == EINVAL, "map of a grant for another domain: EINVAL");
    errno = 0;
    ok(!xengnttab_map_grant_ref(xgt, 2, refs[0], PROT_READ) &&
       errno == EINVAL, "map from a domain that does not exist: EINVAL");
    errno = 0;
    ok(!xengnttab_map_grant_ref(xgt, 1, 4000, PROT_READ) && errno == EINVAL,
       "map of a ref never granted: EINVAL");
    bad = refs[1];
    refs[1] = 40000;
    errno = 0;
    ok(!xengnttab_map_grant_refs(xgt, NPAGES,
                                 (uint32_t[]){ 1, 1, 1, 1 }, refs,
                                 PROT_READ) && errno == EINVAL,
       "one bad ref fails the whole map: EINVAL");
    refs[1] = bad;
    errno = 0;
    ok(xengnttab_unmap(xgt, m + 1, NPAGES) == -1 && errno == EINVAL,
       "unmap of an address that is no mapping: EINVAL");

    /* Unshare while mapped: the grant stays until we unmap. */
    put(0);
    get();
    ok(m[7] == 0x10, "unshared page is still mapped here");
    {
        uint8_t *again = xengnttab_map_grant_ref(xgt, 1, refs[0], PROT_READ);

        ok(again != NULL, "the grant lives on while still mapped");
        if (again) {
            xengnttab_unmap(xgt, again, 1);
        }
    }
    ok(xengnttab_unmap(xgt, m, NPAGES) == 0, "unmap");
    errno = 0;
    ok(!xengnttab_map_grant_ref(xgt, 1, refs[0], PROT_READ) &&
       errno == EINVAL, "after the last unmap the unshared grant is gone");
    if (ro) {
        xengnttab_unmap(xgt, ro, 1);
    }
    put(0);
    get();
    reap(pid);
    xengnttab_close(xgt);
}

/* --- grant copy ----------------------------------------------------------- */

static void copy_child(void)
{
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    uint32_t rw, ro;
    uint8_t *p = xengntshr_share_pages(xgs, 0, 1, &rw, 1);
    uint8_t *q = xengntshr_share_pages(xgs, 0, 1, &ro, 0);

    memcpy(p + 100, "hello", 5);
    memcpy(q, "ro-page", 7);
    put(rw);
    put(ro);
    get();
    put(!memcmp(p + 200, "world", 5));
    get();
    xengntshr_close(xgs);
}

static void test_copy(void)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    pid_t pid = spawn(1, copy_child);
    uint32_t rw = get(), ro = get();
    char buf[8] = { 0 }, ro_buf[8] = { 0 };
    xengnttab_grant_copy_segment_t seg[7] = {
        { .source.foreign = { rw, 100, 1 }, .dest.virt = buf,
          .len = 5, .flags = GNTCOPY_source_gref },
        { .source.virt = "world", .dest.foreign = { rw, 200, 1 },
          .len = 5, .flags = GNTCOPY_dest_gref },
        { .source.foreign = { ro, 0, 1 }, .dest.virt = ro_buf,
          .len = 7, .flags = GNTCOPY_source_gref },
        { .source.virt = "x", .dest.foreign = { ro, 0, 1 },
          .len = 1, .flags = GNTCOPY_dest_gref },
        { .source.foreign = { 40000, 0, 1 }, .dest.virt = buf,
          .len = 1, .flags = GNTCOPY_source_gref },
        { .source.foreign = { rw, 4000, 1 }, .dest.virt = buf,
          .len = 200, .flags = GNTCOPY_source_gref },
        { .source.foreign = { rw, 0, 9 }, .dest.virt = buf,
          .len = 1, .flags = GNTCOPY_source_gref },
    };

    ok(xengnttab_grant_copy(xgt, 7, seg) == 0, "grant_copy returns 0");
    ok(seg[0].status == GNTST_okay && !memcmp(buf, "hello", 5),
       "copy from a grant");
    put(0);
    ok(get() && seg[1].status == GNTST_okay, "copy to a grant");
    ok(seg[2].status == GNTST_okay && !memcmp(ro_buf, "ro-page", 7),
       "copy from a read-only grant");
    ok(seg[3].status == GNTST_general_error,
       "copy to a read-only grant: GNTST_general_error (%d)", seg[3].status);
    ok(seg[4].status == GNTST_bad_gntref,
       "ref beyond the table: GNTST_bad_gntref (%d)", seg[4].status);
    ok(seg[5].status == GNTST_bad_copy_arg,
       "offset + len beyond the page: GNTST_bad_copy_arg (%d)",
       seg[5].status);
    ok(seg[6].status == GNTST_bad_domain,
       "nonexistent domain: GNTST_bad_domain (%d)", seg[6].status);
    put(0);
    reap(pid);
    xengnttab_close(xgt);
}

/* --- unmap notifications --------------------------------------------------- */

static void notify_child(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    int port = xenevtchn_bind_unbound_port(xce, 0);
    uint32_t ref, ref2;
    uint8_t *p = xengntshr_share_pages(xgs, 0, 1, &ref, 1);
    uint8_t *q;

    memset(p, 0xFF, XENSIM_PAGE_SIZE);
    put(port);
    put(ref);
    get();                                  /* parent mapped with notify */
    get();                                  /* parent unmapped */
    put(p[33] == 0 && p[32] == 0xFF);
    put(wait_event(xce, 2000) == port);
    xenevtchn_unmask(xce, port);

    q = xengntshr_share_page_notify(xgs, 0, &ref2, 1, 9, port);
    put(q != NULL);
    put(ref2);
    get();                                  /* parent mapped it */
    xengntshr_unshare(xgs, q, 1);
    put(0);
    get();
    xengntshr_close(xgs);
    xenevtchn_close(xce);
}

static void test_notify(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    pid_t pid = spawn(1, notify_child);
    int rport = get(), lport;
    uint32_t ref = get(), ref2;
    uint8_t *m;

    lport = xenevtchn_bind_interdomain(xce, 1, rport);
    m = xengnttab_map_grant_ref_notify(xgt, 1, ref, PROT_READ | PROT_WRITE,
                                       33, lport);
    ok(m != NULL, "map_grant_ref_notify");
    errno = 0;
    ok(!xengnttab_map_grant_ref_notify(xgt, 1, ref, PROT_READ, -1, 4000) &&
       errno == EINVAL, "notify on a port that is not ours: EINVAL");
    put(0);
    xengnttab_unmap(xgt, m, 1);
    put(0);
    ok(get(), "unmap cleared the notify byte in the page");
    ok(get(), "unmap sent the notify event");

    ok(get(), "share_page_notify");
    ref2 = get();
    m = xengnttab_map_grant_ref(xgt, 1, ref2, PROT_READ);
    put(0);
    get();                                  /* child unshared */
    ok(m && m[9] == 0, "unshare cleared the notify byte");
    ok(wait_event(xce, 2000) == lport, "unshare sent the notify event");
    xengnttab_unmap(xgt, m, 1);
    put(0);
    reap(pid);
    xengnttab_close(xgt);
    xenevtchn_close(xce);
}

/* --- a killed process leaves nothing behind -------------------------------- */

static void victim_child(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    uint32_t refs[16], pref;
    uint8_t *p;

    xenevtchn_bind_unbound_port(xce, 0);
    xenevtchn_bind_virq(xce, VIRQ_DOM_EXC);
    put(xenevtchn_bind_unbound_port(xce, 0));
    p = xengntshr_share_pages(xgs, 0, 16, refs, 1);
    p[0] = 1;
    pref = get();
    put(xengnttab_map_grant_ref(xgt, 0, pref, PROT_READ) != NULL);
    pause();
}

static void test_kill(void)
{
    struct xensim_stat before = stat_now(), during, after;
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    struct xensim_stat base = stat_now();
    uint32_t ref;
    void *p = xengntshr_share_pages(xgs, 1, 1, &ref, 1);
    pid_t pid = spawn(1, victim_child);
    int rport = get(), lport;

    put(ref);
    ok(get(), "victim maps our grant");
    lport = xenevtchn_bind_interdomain(xce, 1, rport);
    during = stat_now();
    ok(during.grants > base.grants && during.mapped_pages > 0 &&
       during.ports > base.ports, "victim holds ports, grants, mappings "
       "(ports=%u grants=%u mapped=%u)", during.ports, during.grants,
       during.mapped_pages);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < 100; i++) {
        after = stat_now();
        if (after.connections == base.connections) {
            break;
        }
        usleep(10000);
    }
    ok(after.connections == base.connections &&
       after.ports == base.ports + 1 && after.grants == base.grants + 1 &&
       after.mappings == base.mappings && after.mapped_pages == 0 &&
       after.memobjs == base.memobjs + 1,
       "after SIGKILL only what we hold is left (conns=%u ports=%u "
       "grants=%u mappings=%u memobjs=%u)", after.connections, after.ports,
       after.grants, after.mappings, after.memobjs);
    ok(xenevtchn_notify(xce, lport) == 0,
       "our end of the dead peer's channel is unbound, notify still works");
    xenevtchn_unbind(xce, lport);
    xengntshr_unshare(xgs, p, 1);
    xengntshr_close(xgs);
    xenevtchn_close(xce);
    after = stat_now();
    ok(after.connections == before.connections &&
       after.ports == before.ports && after.grants == before.grants &&
       after.memobjs == before.memobjs,
       "closing our handles returns every table to where it was");
}

/* --- a 1080p buffer -------------------------------------------------------- */

static void big_child(void)
{
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    uint32_t *refs = calloc(2025, sizeof(*refs));
    uint8_t *p = xengntshr_share_pages(xgs, 0, 2025, refs, 1);

    for (int i = 0; i < 2025; i++) {
        p[(size_t)i * XENSIM_PAGE_SIZE] = i & 0xFF;
    }
    if (write(peer, refs, 2025 * sizeof(*refs)) < 0) {
        exit(99);
    }
    get();
    xengntshr_close(xgs);
}

#define NSINGLE 600

static void single_child(void)
{
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    uint8_t *pages[NSINGLE], *again;
    uint32_t ref;
    bool zero = true;

    for (int i = 0; i < NSINGLE; i++) {
        pages[i] = xengntshr_share_pages(xgs, 0, 1, &ref, 1);
        if (!pages[i]) {
            exit(98);
        }
        pages[i][1] = i & 0xFF;
        put(ref);
    }
    get();                                  /* parent unmapped all */
    for (int i = 0; i < NSINGLE; i++) {
        pages[i][0] = 0xEE;
        xengntshr_unshare(xgs, pages[i], 1);
    }
    again = xengntshr_share_pages(xgs, 0, NSINGLE, (uint32_t[NSINGLE]){ 0 },
                                  1);
    for (int i = 0; again && i < NSINGLE * XENSIM_PAGE_SIZE; i++) {
        zero &= again[i] == 0;
    }
    put(again && zero);
    get();
    xengntshr_close(xgs);
}

static void test_single_shares(void)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    struct xensim_stat before = stat_now(), during;
    pid_t pid = spawn(1, single_child);
    uint32_t refs[NSINGLE];
    uint8_t *m;
    bool good = true;

    for (int i = 0; i < NSINGLE; i++) {
        refs[i] = get();
    }
    during = stat_now();
    ok(during.memobjs == before.memobjs + 1,
       "%d single-page shares live in one memfd of the sharer", NSINGLE);
    m = xengnttab_map_domain_grant_refs(xgt, NSINGLE, 1, refs, PROT_READ);
    ok(m != NULL, "map %d refs from %d share calls at once", NSINGLE,
       NSINGLE);
    for (int i = 0; m && i < NSINGLE; i++) {
        good &= m[(size_t)i * XENSIM_PAGE_SIZE + 1] == (i & 0xFF);
    }
    ok(m && good, "each page is the right one");
    if (m) {
        xengnttab_unmap(xgt, m, NSINGLE);
    }
    put(0);
    ok(get(), "pages freed and shared again come back zeroed");
    put(0);
    reap(pid);
    xengnttab_close(xgt);
}

static void test_gntalloc_limit(void)
{
    const char *s = getenv("XENSIM_GNTALLOC_LIMIT");
    int limit = s ? atoi(s) : XENSIM_GNTALLOC_LIMIT;
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    uint32_t *refs = calloc(limit + 1, sizeof(*refs));

    errno = 0;
    ok(limit > 0 && limit < XENSIM_MAX_SHARE &&
       !xengntshr_share_pages(xgs, 0, limit + 1, refs, 1) && errno == ENOSPC,
       "sharing more than the gntalloc limit (%d pages): ENOSPC", limit);
    xengntshr_close(xgs);
    free(refs);
}

static void test_big(void)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    pid_t pid = spawn(1, big_child);
    uint32_t *refs = calloc(2025, sizeof(*refs));
    size_t got = 0;
    struct timespec t0, t1;
    uint8_t *m;
    bool good = true;

    while (got < 2025 * sizeof(*refs)) {
        ssize_t n = read(peer, (char *)refs + got,
                         2025 * sizeof(*refs) - got);
        if (n <= 0) {
            die("read refs");
        }
        got += n;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    m = xengnttab_map_domain_grant_refs(xgt, 2025, 1, refs, PROT_READ);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ok(m != NULL, "map a 1920x1080x32 buffer (2025 pages) in %.2f ms",
       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    for (int i = 0; m && i < 2025; i++) {
        good &= m[(size_t)i * XENSIM_PAGE_SIZE] == (i & 0xFF);
    }
    ok(m && good, "every page is the right one");
    if (m) {
        xengnttab_unmap(xgt, m, 2025);
    }
    put(0);
    reap(pid);
    xengnttab_close(xgt);
    free(refs);
}

int main(void)
{
    if (!getenv("XENSIM_SOCKET")) {
        printf("1..0 # SKIP not running under xensim (XENSIM_SOCKET unset)\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    test_evtchn();
    test_evtchn_checks();
    test_grants();
    test_copy();
    test_notify();
    test_kill();
    test_single_shares();
    test_gntalloc_limit();
    test_big();
    printf("1..%d\n", ntests);
    return nfailed ? 1 : 0;
}
