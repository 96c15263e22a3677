/*
 * xensim-bench: how fast xensim is, next to the raw mechanisms it uses.
 *
 *   xensim run build/tools/xensim/xensim-bench [ROUNDS]
 *
 * - notify -> wakeup round trip between two processes (dom0 and dom1)
 *   over an interdomain event channel, against a raw SOCK_SEQPACKET
 *   ping-pong between two processes;
 * - mapping a 1920x1080x32 buffer (2025 pages granted by one
 *   xengntshr_share_pages call), against a raw mmap of a 2025-page memfd.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
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

#define BUF_PAGES 2025
#define MAP_ROUNDS 50

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void die(const char *what)
{
    fprintf(stderr, "xensim-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void xwrite(int fd, const void *buf, size_t len)
{
    if (write(fd, buf, len) != (ssize_t)len) {
        die("write");
    }
}

static void xread(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);

        if (n < 0) {
            die("read");
        }
        if (n == 0) {
            fprintf(stderr, "xensim-bench: the other process went away\n");
            exit(1);
        }
        got += n;
    }
}

static double raw_pingpong(int rounds)
{
    double *t = calloc(rounds, sizeof(*t)), m;
    int sv[2];
    uint32_t v = 0;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
        die("socketpair");
    }
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < rounds; i++) {
            xread(sv[1], &v, sizeof(v));
            xwrite(sv[1], &v, sizeof(v));
        }
        exit(0);
    }
    close(sv[1]);
    for (int i = 0; i < rounds; i++) {
        double t0 = now_us();

        xwrite(sv[0], &v, sizeof(v));
        xread(sv[0], &v, sizeof(v));
        t[i] = now_us() - t0;
    }
    waitpid(pid, NULL, 0);
    close(sv[0]);
    m = median(t, rounds);
    free(t);
    return m;
}

static int wait_port(xenevtchn_handle *xce)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };
    int port;

    if (poll(&pfd, 1, 5000) != 1) {
        fprintf(stderr, "xensim-bench: no event within 5 s\n");
        exit(1);
    }
    port = xenevtchn_pending(xce);
    xenevtchn_unmask(xce, port);
    return port;
}

static double evtchn_pingpong(int rounds)
{
    double *t = calloc(rounds, sizeof(*t)), m;
    xenevtchn_handle *xce;
    int sv[2], port;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        die("socketpair");
    }
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        setenv("XENSIM_DOMID", "1", 1);
        xce = xenevtchn_open(NULL, 0);
        port = xce ? xenevtchn_bind_unbound_port(xce, 0) : -1;
        if (port < 0) {
            die("domU event channel");
        }
        xwrite(sv[1], &port, sizeof(port));
        for (int i = 0; i < rounds; i++) {
            wait_port(xce);
            xenevtchn_notify(xce, port);
        }
        xenevtchn_close(xce);
        exit(0);
    }
    close(sv[1]);
    xce = xenevtchn_open(NULL, 0);
    xread(sv[0], &port, sizeof(port));
    port = xce ? xenevtchn_bind_interdomain(xce, 1, port) : -1;
    if (port < 0) {
        die("dom0 event channel");
    }
    for (int i = 0; i < rounds; i++) {
        double t0 = now_us();

        xenevtchn_notify(xce, port);
        wait_port(xce);
        t[i] = now_us() - t0;
    }
    waitpid(pid, NULL, 0);
    xenevtchn_close(xce);
    close(sv[0]);
    m = median(t, rounds);
    free(t);
    return m;
}

static double raw_mmap(void)
{
    double t[MAP_ROUNDS];
    int fd = memfd_create("bench", MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, (off_t)BUF_PAGES * 4096) < 0) {
        die("memfd");
    }
    for (int i = 0; i < MAP_ROUNDS; i++) {
        double t0 = now_us();
        void *p = mmap(NULL, (size_t)BUF_PAGES * 4096, PROT_READ,
                       MAP_SHARED, fd, 0);

        t[i] = now_us() - t0;
        if (p == MAP_FAILED) {
            die("mmap");
        }
        munmap(p, (size_t)BUF_PAGES * 4096);
    }
    close(fd);
    return median(t, MAP_ROUNDS) / 1e3;
}

static double grant_map(void)
{
    double t[MAP_ROUNDS];
    uint32_t refs[BUF_PAGES];
    xengnttab_handle *xgt;
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        die("socketpair");
    }
    pid = fork();
    if (pid == 0) {
        xengntshr_handle *xgs;

        close(sv[0]);
        setenv("XENSIM_DOMID", "1", 1);
        xgs = xengntshr_open(NULL, 0);
        if (!xgs || !xengntshr_share_pages(xgs, 0, BUF_PAGES, refs, 1)) {
            if (errno == ENOSPC) {
                fprintf(stderr, "xensim-bench: sharing %d pages is beyond "
                        "the gntalloc limit; run with "
                        "XENSIM_GNTALLOC_LIMIT=4096\n", BUF_PAGES);
                exit(1);
            }
            die("share 2025 pages");
        }
        xwrite(sv[1], refs, sizeof(refs));
        xread(sv[1], refs, 1);
        xengntshr_close(xgs);
        exit(0);
    }
    close(sv[1]);
    xread(sv[0], refs, sizeof(refs));
    xgt = xengnttab_open(NULL, 0);
    if (!xgt) {
        die("xengnttab_open");
    }
    for (int i = 0; i < MAP_ROUNDS; i++) {
        double t0 = now_us();
        void *p = xengnttab_map_domain_grant_refs(xgt, BUF_PAGES, 1, refs,
                                                  PROT_READ | PROT_WRITE);

        t[i] = now_us() - t0;
        if (!p) {
            die("map 2025 pages");
        }
        xengnttab_unmap(xgt, p, BUF_PAGES);
    }
    xwrite(sv[0], refs, 1);
    waitpid(pid, NULL, 0);
    xengnttab_close(xgt);
    close(sv[0]);
    return median(t, MAP_ROUNDS) / 1e3;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    double raw_rt, evt_rt, raw_map, gnt_map;

    if (rounds < 1 || argc > 2) {
        fprintf(stderr, "usage: xensim-bench [ROUNDS]\n");
        return 2;
    }
    if (!getenv("XENSIM_SOCKET")) {
        fprintf(stderr, "xensim-bench: XENSIM_SOCKET is not set; run it "
                "under 'xensim run'\n");
        return 1;
    }
    raw_rt = raw_pingpong(rounds);
    evt_rt = evtchn_pingpong(rounds);
    raw_map = raw_mmap();
    gnt_map = grant_map();

    printf("notify->wakeup round trip, median of %d:\n", rounds);
    printf("  raw unix socket ping-pong  %8.1f us\n", raw_rt);
    printf("  xensim event channel       %8.1f us  (%.1fx raw)\n",
           evt_rt, evt_rt / raw_rt);
    printf("map a 1080p buffer (%d pages), median of %d:\n",
           BUF_PAGES, MAP_ROUNDS);
    printf("  raw memfd mmap             %8.3f ms\n", raw_map);
    printf("  xensim grant map           %8.3f ms  (%.1fx raw)\n",
           gnt_map, gnt_map / raw_map);
    return 0;
}
