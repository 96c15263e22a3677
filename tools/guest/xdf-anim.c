/*
 * xdf-anim: the demo guest's animation, drawn with page flipping.
 *
 * It runs as a static binary in the demo guest's initramfs (see
 * build-guest.sh and README.md) and shows frames 1..N of a test pattern
 * on the first connected DRM connector, through two dumb buffers:
 * frame k is drawn into the buffer that is not on screen, then shown with
 * DRM_IOCTL_MODE_PAGE_FLIP (waiting for its flip-complete event), or with
 * DRM_IOCTL_MODE_SETCRTC where the driver cannot flip.  Without DRM it
 * falls back to fbdev, double-buffered with FBIOPAN_DISPLAY.
 *
 * The pattern (tools/xdf/pattern.py computes the same): frame k, pixel (x, y),
 * format XRGB8888 (0x00RRGGBB):
 *
 *     R = (x + 3k) mod 256
 *     G = (y + 5k) mod 256
 *     B = 255          if (x div 32 + y div 32 + k) is odd
 *         (7k) mod 256 otherwise
 *
 * Frame N, the last one, stays on screen for --hold seconds (-1: until
 * the machine is stopped) after "xdf-anim: done" is printed.
 *
 * It talks to the kernel through the DRM UAPI (drm.h, drm_mode.h) only:
 * no libdrm.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/fb.h>
#include <linux/kd.h>

#include <drm.h>
#include <drm_mode.h>

#define MAX_OBJS 32

struct opts {
    unsigned frames;
    unsigned width, height;     /* 0: the connector's preferred mode */
    unsigned fps;               /* 0: as fast as possible */
    int hold;                   /* seconds; -1: forever */
    const char *card;
    const char *fbdev;
    bool force_setcrtc;
};

struct buf {
    uint32_t handle, fb_id, pitch;
    uint64_t size;
    uint8_t *map;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                      noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("xdf-anim: error: ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    exit(1);
}

static uint32_t pattern(uint32_t x, uint32_t y, uint32_t k)
{
    uint32_t r = (x + 3 * k) & 0xff;
    uint32_t g = (y + 5 * k) & 0xff;
    uint32_t b = ((x / 32 + y / 32 + k) & 1) ? 0xff : (7 * k) & 0xff;

    return r << 16 | g << 8 | b;
}

static void draw(uint8_t *map, uint32_t pitch, uint32_t w, uint32_t h,
                 uint32_t k)
{
    for (uint32_t y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(map + (size_t)y * pitch);

        for (uint32_t x = 0; x < w; x++) {
            row[x] = pattern(x, y, k);
        }
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep until frame k's time slot (fps pacing). */
static void pace(const struct opts *o, uint64_t start, unsigned k)
{
    if (o->fps == 0) {
        return;
    }
    uint64_t due = start + (uint64_t)(k - 1) * 1000 / o->fps;
    uint64_t t = now_ms();
    if (due > t) {
        struct timespec ts = {
            .tv_sec = (time_t)((due - t) / 1000),
            .tv_nsec = (long)((due - t) % 1000) * 1000000,
        };
        nanosleep(&ts, NULL);
    }
}

static void hold(const struct opts *o)
{
    if (o->hold < 0) {
        for (;;) {
            pause();
        }
    }
    sleep((unsigned)o->hold);
}

static void progress(unsigned k, const struct opts *o, uint32_t w,
                     uint32_t h, const char *how)
{
    printf("xdf-anim: frame %u/%u %" PRIu32 "x%" PRIu32 " XR24 %s\n",
           k, o->frames, w, h, how);
}

/* ---- DRM ---------------------------------------------------------------- */

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;

    do {
        r = ioctl(fd, req, arg);
    } while (r < 0 && (errno == EINTR || errno == EAGAIN));
    return r;
}

static int open_card(const char *path)
{
    /* The device node may appear a moment after modprobe returns. */
    for (int i = 0; i < 100; i++) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            return fd;
        }
        if (errno != ENOENT) {
            die("open %s: %s", path, strerror(errno));
        }
        usleep(50000);
    }
    return -1;
}

static bool find_output(int fd, const struct opts *o, uint32_t *conn_id,
                        uint32_t *crtc_id, struct drm_mode_modeinfo *mode)
{
    uint32_t crtcs[MAX_OBJS], conns[MAX_OBJS], encs[MAX_OBJS];
    struct drm_mode_card_res res = { 0 };

    if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) {
        die("DRM_IOCTL_MODE_GETRESOURCES: %s", strerror(errno));
    }
    if (res.count_crtcs > MAX_OBJS || res.count_connectors > MAX_OBJS ||
        res.count_encoders > MAX_OBJS) {
        die("too many DRM objects");
    }
    res.count_fbs = 0;
    res.crtc_id_ptr = (uintptr_t)crtcs;
    res.connector_id_ptr = (uintptr_t)conns;
    res.encoder_id_ptr = (uintptr_t)encs;
    if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) {
        die("DRM_IOCTL_MODE_GETRESOURCES: %s", strerror(errno));
    }

    for (uint32_t i = 0; i < res.count_connectors; i++) {
        struct drm_mode_get_connector c = { .connector_id = conns[i] };
        static struct drm_mode_modeinfo modes[256];
        uint32_t cenc[MAX_OBJS];

        /* The first call (count_modes == 0) probes the connector. */
        if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0) {
            die("DRM_IOCTL_MODE_GETCONNECTOR: %s", strerror(errno));
        }
        if (c.connection != 1 || c.count_modes == 0) {
            continue;
        }
        if (c.count_modes > 256) {
            c.count_modes = 256;
        }
        if (c.count_encoders > MAX_OBJS) {
            c.count_encoders = MAX_OBJS;
        }
        c.count_props = 0;
        c.modes_ptr = (uintptr_t)modes;
        c.encoders_ptr = (uintptr_t)cenc;
        if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0) {
            die("DRM_IOCTL_MODE_GETCONNECTOR: %s", strerror(errno));
        }

        int pick = -1;
        for (uint32_t m = 0; m < c.count_modes && m < 256; m++) {
            if (o->width == 0 && (modes[m].type & DRM_MODE_TYPE_PREFERRED)) {
                pick = (int)m;
                break;
            }
            if (modes[m].hdisplay == o->width &&
                modes[m].vdisplay == o->height) {
                pick = (int)m;
                break;
            }
        }
        if (pick < 0 && o->width == 0) {
            pick = 0;
        }
        if (pick < 0) {
            printf("xdf-anim: connector %" PRIu32 " has no mode %ux%u; it has:",
                   c.connector_id, o->width, o->height);
            for (uint32_t m = 0; m < c.count_modes && m < 256; m++) {
                printf(" %ux%u", modes[m].hdisplay, modes[m].vdisplay);
            }
            printf("\n");
            die("mode %ux%u is not available", o->width, o->height);
        }
        *mode = modes[pick];
        *conn_id = c.connector_id;

        /* A CRTC: the current encoder's, else the first one allowed. */
        for (uint32_t e = 0; e < c.count_encoders; e++) {
            struct drm_mode_get_encoder enc = { .encoder_id = cenc[e] };

            if (xioctl(fd, DRM_IOCTL_MODE_GETENCODER, &enc) < 0) {
                continue;
            }
            if (enc.crtc_id) {
                *crtc_id = enc.crtc_id;
                return true;
            }
            for (uint32_t j = 0; j < res.count_crtcs; j++) {
                if (enc.possible_crtcs & (1u << j)) {
                    *crtc_id = crtcs[j];
                    return true;
                }
            }
        }
    }
    return false;
}

static void create_buf(int fd, uint32_t w, uint32_t h, struct buf *b)
{
    struct drm_mode_create_dumb create = { .width = w, .height = h, .bpp = 32 };
    struct drm_mode_fb_cmd fb = { 0 };
    struct drm_mode_map_dumb map = { 0 };

    if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0) {
        die("DRM_IOCTL_MODE_CREATE_DUMB %" PRIu32 "x%" PRIu32 ": %s",
            w, h, strerror(errno));
    }
    b->handle = create.handle;
    b->pitch = create.pitch;
    b->size = create.size;

    fb.width = w;
    fb.height = h;
    fb.pitch = create.pitch;
    fb.bpp = 32;
    fb.depth = 24;
    fb.handle = create.handle;
    if (xioctl(fd, DRM_IOCTL_MODE_ADDFB, &fb) < 0) {
        die("DRM_IOCTL_MODE_ADDFB: %s", strerror(errno));
    }
    b->fb_id = fb.fb_id;

    map.handle = create.handle;
    if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0) {
        die("DRM_IOCTL_MODE_MAP_DUMB: %s", strerror(errno));
    }
    b->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                  (off_t)map.offset);
    if (b->map == MAP_FAILED) {
        die("mmap of a dumb buffer: %s", strerror(errno));
    }
}

static void set_crtc(int fd, uint32_t crtc, uint32_t conn,
                     struct drm_mode_modeinfo *mode, uint32_t fb_id)
{
    struct drm_mode_crtc c = {
        .crtc_id = crtc,
        .fb_id = fb_id,
        .set_connectors_ptr = (uintptr_t)&conn,
        .count_connectors = 1,
        .mode = *mode,
        .mode_valid = 1,
    };

    if (xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &c) < 0) {
        die("DRM_IOCTL_MODE_SETCRTC: %s", strerror(errno));
    }
}

/* Wait for the flip-complete event of the flip just queued. */
static void wait_flip(int fd)
{
    char ev[1024];

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 5000);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            die("poll on the DRM device: %s", strerror(errno));
        }
        if (r == 0) {
            die("no flip-complete event within 5 s");
        }
        ssize_t n = read(fd, ev, sizeof(ev));
        if (n < 0) {
            die("reading DRM events: %s", strerror(errno));
        }
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct drm_event) <= n;) {
            struct drm_event *e = (struct drm_event *)(ev + off);

            if (e->type == DRM_EVENT_FLIP_COMPLETE) {
                return;
            }
            if (e->length == 0) {
                break;
            }
            off += e->length;
        }
    }
}

static int run_drm(int fd, const struct opts *o)
{
    struct drm_mode_modeinfo mode;
    uint32_t conn, crtc;
    struct drm_get_cap cap = { .capability = DRM_CAP_DUMB_BUFFER };
    struct buf b[2];

    /* First opener is master already; this makes it explicit. */
    xioctl(fd, DRM_IOCTL_SET_MASTER, NULL);

    if (xioctl(fd, DRM_IOCTL_GET_CAP, &cap) < 0 || !cap.value) {
        die("%s has no dumb buffers", o->card);
    }
    if (!find_output(fd, o, &conn, &crtc, &mode)) {
        die("%s: no connected connector with a usable CRTC", o->card);
    }
    uint32_t w = mode.hdisplay, h = mode.vdisplay;
    create_buf(fd, w, h, &b[0]);
    create_buf(fd, w, h, &b[1]);

    printf("xdf-anim: %s connector %" PRIu32 " crtc %" PRIu32
           " mode %s (%" PRIu32 "x%" PRIu32 "@%" PRIu32 ") pitch %" PRIu32
           ", %u frames\n",
           o->card, conn, crtc, mode.name, w, h, mode.vrefresh, b[0].pitch,
           o->frames);

    uint64_t start = now_ms();
    bool flip = !o->force_setcrtc;
    const char *how = "setcrtc";

    draw(b[0].map, b[0].pitch, w, h, 1);
    set_crtc(fd, crtc, conn, &mode, b[0].fb_id);
    progress(1, o, w, h, how);

    for (unsigned k = 2; k <= o->frames; k++) {
        struct buf *back = &b[(k - 1) & 1];

        pace(o, start, k);
        draw(back->map, back->pitch, w, h, k);
        if (flip) {
            struct drm_mode_crtc_page_flip pf = {
                .crtc_id = crtc,
                .fb_id = back->fb_id,
                .flags = DRM_MODE_PAGE_FLIP_EVENT,
            };
            if (xioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, &pf) == 0) {
                wait_flip(fd);
                how = "page-flip";
            } else {
                printf("xdf-anim: page flip failed (%s); using SETCRTC\n",
                       strerror(errno));
                flip = false;
            }
        }
        if (!flip) {
            set_crtc(fd, crtc, conn, &mode, back->fb_id);
            how = "setcrtc";
        }
        progress(k, o, w, h, how);
    }
    printf("xdf-anim: done: %u frames %" PRIu32 "x%" PRIu32 " in %" PRIu64
           " ms (%s)\n", o->frames, w, h, now_ms() - start, how);
    fflush(stdout);
    hold(o);
    return 0;
}

/* ---- fbdev fallback ------------------------------------------------------ */

static int run_fbdev(const struct opts *o)
{
    struct fb_var_screeninfo var;
    struct fb_fix_screeninfo fix;
    int fd = open(o->fbdev, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        die("open %s: %s", o->fbdev, strerror(errno));
    }
    if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0) {
        die("FBIOGET_VSCREENINFO: %s", strerror(errno));
    }
    /* fbdev keeps its current mode: --mode is for DRM only. */
    var.yres_virtual = var.yres * 2;
    var.bits_per_pixel = 32;
    var.xoffset = var.yoffset = 0;
    if (ioctl(fd, FBIOPUT_VSCREENINFO, &var) < 0) {
        printf("xdf-anim: %s: FBIOPUT_VSCREENINFO with virtual height %u:"
               " %s\n", o->fbdev, var.yres_virtual, strerror(errno));
    }
    if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0 ||
        ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0) {
        die("FBIOGET_*SCREENINFO: %s", strerror(errno));
    }
    if (var.bits_per_pixel != 32 || var.red.offset != 16 ||
        var.green.offset != 8 || var.blue.offset != 0) {
        die("%s: %u bpp, red/green/blue at %u/%u/%u; need XRGB8888",
            o->fbdev, var.bits_per_pixel, var.red.offset, var.green.offset,
            var.blue.offset);
    }
    /* Without room for two screens, draw in place: no double buffering. */
    unsigned halves = var.yres_virtual >= 2 * var.yres &&
                      fix.smem_len >= 2 * var.yres * fix.line_length ? 2 : 1;
    const char *how = halves == 2 ? "fb-pan" : "fb-single";
    uint8_t *map = mmap(NULL, fix.smem_len, PROT_READ | PROT_WRITE,
                        MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        die("mmap %s: %s", o->fbdev, strerror(errno));
    }

    /* Keep fbcon (cursor, messages) out of the picture. */
    int tty = open("/dev/tty0", O_RDWR | O_CLOEXEC);
    if (tty >= 0) {
        ioctl(tty, KDSETMODE, KD_GRAPHICS);
    }

    printf("xdf-anim: %s %s %ux%u pitch %u, %u frames, %s\n", o->fbdev,
           fix.id, var.xres, var.yres, fix.line_length, o->frames,
           halves == 2 ? "panning between two screens"
                       : "one screen only: drawing in place");
    uint64_t start = now_ms();
    for (unsigned k = 1; k <= o->frames; k++) {
        unsigned half = (k - 1) % halves;

        pace(o, start, k);
        draw(map + (size_t)half * var.yres * fix.line_length,
             fix.line_length, var.xres, var.yres, k);
        var.yoffset = half * var.yres;
        if (ioctl(fd, FBIOPAN_DISPLAY, &var) < 0) {
            die("FBIOPAN_DISPLAY to y %u: %s", var.yoffset, strerror(errno));
        }
        progress(k, o, var.xres, var.yres, how);
    }
    printf("xdf-anim: done: %u frames %ux%u in %" PRIu64 " ms (%s)\n",
           o->frames, var.xres, var.yres, now_ms() - start, how);
    fflush(stdout);
    hold(o);
    if (tty >= 0) {
        ioctl(tty, KDSETMODE, KD_TEXT);
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: xdf-anim [--frames N] [--mode WxH] [--fps F] [--hold S]\n"
          "                [--card /dev/dri/cardN] [--fbdev /dev/fbN]"
          " [--setcrtc]\n"
          "  --frames N  frames 1..N of the test pattern (default 60)\n"
          "  --mode WxH  mode to set (default 640x480; 'preferred': the"
          " connector's)\n"
          "  --fps F     frames per second, 0 = unpaced (default 25)\n"
          "  --hold S    keep the last frame S seconds, -1 = forever"
          " (default 0)\n"
          "  --card P    DRM device (default /dev/dri/card0)\n"
          "  --fbdev P   use fbdev with FBIOPAN_DISPLAY instead of DRM, in\n"
          "              its current mode (also the fallback when the DRM\n"
          "              device is absent)\n"
          "  --setcrtc   show frames with SETCRTC instead of page flips\n",
          f);
}

static unsigned parse_uint(const char *what, const char *s, unsigned max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max) {
        die("%s '%s' is not a number from 0 to %u", what, s, max);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "frames", required_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "fps", required_argument, NULL, 'f' },
        { "hold", required_argument, NULL, 'H' },
        { "card", required_argument, NULL, 'c' },
        { "fbdev", required_argument, NULL, 'b' },
        { "setcrtc", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts o = {
        .frames = 60, .width = 640, .height = 480, .fps = 25, .hold = 0,
        .card = "/dev/dri/card0",
    };
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.frames = parse_uint("--frames", optarg, 100000);
            if (o.frames == 0) {
                die("--frames must be at least 1");
            }
            break;
        case 'm': {
            unsigned w, h;
            char tail;
            if (strcmp(optarg, "preferred") == 0) {
                o.width = o.height = 0;
            } else if (sscanf(optarg, "%ux%u%c", &w, &h, &tail) == 2 &&
                       w >= 1 && w <= 8192 && h >= 1 && h <= 8192) {
                o.width = w;
                o.height = h;
            } else {
                die("--mode '%s' is not WIDTHxHEIGHT (1 to 8192 each) or"
                    " 'preferred'", optarg);
            }
            break;
        }
        case 'f':
            o.fps = parse_uint("--fps", optarg, 1000);
            break;
        case 'H':
            o.hold = strcmp(optarg, "-1") == 0
                     ? -1 : (int)parse_uint("--hold", optarg, 86400);
            break;
        case 'c':
            o.card = optarg;
            break;
        case 'b':
            o.fbdev = optarg;
            break;
        case 's':
            o.force_setcrtc = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    if (o.fbdev) {
        return run_fbdev(&o);
    }
    int fd = open_card(o.card);
    if (fd < 0) {
        printf("xdf-anim: %s did not appear within 5 s; trying /dev/fb0\n",
               o.card);
        o.fbdev = "/dev/fb0";
        return run_fbdev(&o);
    }
    return run_drm(fd, &o);
}
