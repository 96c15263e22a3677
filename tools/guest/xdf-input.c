/*
 * xdf-input: print the demo guest's input events on the serial console
 *
 * Opens every /dev/input/event* (and those that appear later: the folder
 * is scanned again every 200 ms) and prints one line per event, so that
 * a test can follow what reached the guest's input layer:
 *
 *   xdf-input: event2 "Xen Virtual Pointer": key rel abs, ABS_X 0..640, ABS_Y 0..480
 *   xdf-input: ready
 *   xdf-input: event1 "Xen Virtual Keyboard" key 45 1
 *   xdf-input: event2 "Xen Virtual Pointer" abs 0 320
 *   xdf-input: event2 "Xen Virtual Pointer" key 272 0
 *   xdf-input: event2 "Xen Virtual Pointer" rel 8 -1
 *
 * "key CODE VALUE" (EV_KEY: Linux key or button code; 1 pressed, 0
 * released, 2 autorepeat), "rel CODE VALUE" (EV_REL), "abs CODE VALUE"
 * (EV_ABS); EV_SYN and EV_MSC are not printed.  "ready" comes once, when
 * the first device is open; with --ready-file it also creates that file.
 *
 *   xdf-input [--seconds S] [--ready-file PATH]
 *
 * S: run that long, -1 (the default) until killed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 32
#define RESCAN_MS 200

typedef struct Device {
    int fd;                     /* -1: free */
    char node[32];              /* "event2" */
    char name[128];
} Device;

static Device devices[MAX_DEVICES];

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

#define TEST_BIT(bits, n) \
    ((bits)[(n) / (8 * sizeof(long))] >> ((n) % (8 * sizeof(long))) & 1)

static void describe(Device *d)
{
    unsigned long ev[(EV_MAX + 8 * sizeof(long)) / (8 * sizeof(long))];
    char line[256];
    size_t len;
    int axis;

    memset(ev, 0, sizeof(ev));
    if (ioctl(d->fd, EVIOCGBIT(0, sizeof(ev)), ev) < 0) {
        printf("xdf-input: %s \"%s\": EVIOCGBIT: %s\n", d->node, d->name,
               strerror(errno));
        return;
    }
    len = snprintf(line, sizeof(line), "xdf-input: %s \"%s\":%s%s%s",
                   d->node, d->name, TEST_BIT(ev, EV_KEY) ? " key" : "",
                   TEST_BIT(ev, EV_REL) ? " rel" : "",
                   TEST_BIT(ev, EV_ABS) ? " abs" : "");
    for (axis = ABS_X; axis <= ABS_Y && TEST_BIT(ev, EV_ABS); axis++) {
        struct input_absinfo ai;

        if (ioctl(d->fd, EVIOCGABS(axis), &ai) == 0 && len < sizeof(line)) {
            len += snprintf(line + len, sizeof(line) - len,
                            ", %s %d..%d", axis == ABS_X ? "ABS_X" : "ABS_Y",
                            ai.minimum, ai.maximum);
        }
    }
    printf("%s\n", line);
}

/* Open the event devices not open yet; returns how many are open. */
static int scan(void)
{
    DIR *dir = opendir("/dev/input");
    struct dirent *de;
    int i, open_count = 0;

    while (dir && (de = readdir(dir))) {
        char path[300];
        int fd, free_slot = -1, known = 0;

        if (strncmp(de->d_name, "event", 5) != 0 ||
            strlen(de->d_name) >= sizeof(devices[0].node)) {
            continue;
        }
        for (i = 0; i < MAX_DEVICES; i++) {
            if (devices[i].fd >= 0 && !strcmp(devices[i].node, de->d_name)) {
                known = 1;
            } else if (devices[i].fd < 0 && free_slot < 0) {
                free_slot = i;
            }
        }
        if (known || free_slot < 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/dev/input/%s", de->d_name);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            printf("xdf-input: cannot open %s: %s\n", path, strerror(errno));
            continue;
        }
        memset(&devices[free_slot], 0, sizeof(devices[free_slot]));
        devices[free_slot].fd = fd;
        memcpy(devices[free_slot].node, de->d_name,
               strlen(de->d_name) + 1);
        if (ioctl(fd, EVIOCGNAME(sizeof(devices[free_slot].name) - 1),
                  devices[free_slot].name) < 0) {
            snprintf(devices[free_slot].name, sizeof(devices[free_slot].name),
                     "?");
        }
        describe(&devices[free_slot]);
    }
    if (dir) {
        closedir(dir);
    }
    for (i = 0; i < MAX_DEVICES; i++) {
        open_count += devices[i].fd >= 0;
    }
    return open_count;
}

static void drain(Device *d)
{
    struct input_event ev[64];
    ssize_t n;
    size_t i;

    for (;;) {
        n = read(d->fd, ev, sizeof(ev));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                printf("xdf-input: %s \"%s\" gone (%s)\n", d->node, d->name,
                       n ? strerror(errno) : "end of file");
                close(d->fd);
                d->fd = -1;
            }
            return;
        }
        for (i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
            const char *kind;

            switch (ev[i].type) {
            case EV_KEY:
                kind = "key";
                break;
            case EV_REL:
                kind = "rel";
                break;
            case EV_ABS:
                kind = "abs";
                break;
            case EV_SYN:
            case EV_MSC:
                continue;
            default:
                printf("xdf-input: %s \"%s\" type %u %u %d\n", d->node,
                       d->name, ev[i].type, ev[i].code, ev[i].value);
                continue;
            }
            printf("xdf-input: %s \"%s\" %s %u %d\n", d->node, d->name, kind,
                   ev[i].code, ev[i].value);
        }
    }
}

int main(int argc, char **argv)
{
    long seconds = -1, end, next_scan = 0;
    const char *ready_file = NULL;
    int ready = 0, i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            char *e;

            seconds = strtol(argv[++i], &e, 10);
            if (*e || seconds < -1) {
                fprintf(stderr, "xdf-input: --seconds '%s' is not -1 or a "
                        "number of seconds\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--ready-file") && i + 1 < argc) {
            ready_file = argv[++i];
        } else {
            fprintf(stderr, "usage: xdf-input [--seconds S] "
                    "[--ready-file PATH]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 0; i < MAX_DEVICES; i++) {
        devices[i].fd = -1;
    }
    end = seconds >= 0 ? now_ms() + seconds * 1000 : 0;

    for (;;) {
        struct pollfd pfd[MAX_DEVICES];
        int map[MAX_DEVICES], n = 0, timeout;
        long now = now_ms();

        if (end && now >= end) {
            printf("xdf-input: done after %ld s\n", seconds);
            return 0;
        }
        if (now >= next_scan) {
            if (scan() > 0 && !ready) {
                ready = 1;
                printf("xdf-input: ready\n");
                if (ready_file) {
                    int fd = open(ready_file, O_WRONLY | O_CREAT | O_CLOEXEC,
                                  0644);

                    if (fd >= 0) {
                        close(fd);
                    }
                }
            }
            next_scan = now + RESCAN_MS;
        }
        for (i = 0; i < MAX_DEVICES; i++) {
            if (devices[i].fd >= 0) {
                pfd[n].fd = devices[i].fd;
                pfd[n].events = POLLIN;
                map[n++] = i;
            }
        }
        timeout = (int)(next_scan - now);
        if (end && end - now < timeout) {
            timeout = (int)(end - now);
        }
        if (poll(pfd, n, timeout < 0 ? 0 : timeout) < 0 && errno != EINTR) {
            printf("xdf-input: poll: %s\n", strerror(errno));
            return 1;
        }
        for (i = 0; i < n; i++) {
            if (pfd[i].revents) {
                drain(&devices[map[i]]);
            }
        }
    }
}
