/*
 * xdf-vnc-client: a VNC viewer (libvncclient) for the tests of
 * xdf-backend's live view
 *
 * Connects to 127.0.0.1:PORT, giving PASSWORD (none: an empty one) when
 * the server asks for VNC authentication, reads the whole screen once
 * and prints its size and the pixel at X,Y (default 5,5):
 *
 *   xdf-vnc-client PORT [PASSWORD [X Y]]
 *
 * "screen WxH, pixel at X,Y: R G B" and exit status 0; "refused" and
 * exit status 1 when the server closes the connection (a wrong password)
 * or cannot be reached, libvncclient's own lines on stderr saying why.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <rfb/rfbclient.h>

static const char *password = "";
static uint64_t area;           /* pixels received */
static bool updated;            /* the whole screen, at least */

/* libvncclient frees what this returns */
static char *get_password(rfbClient *cl)
{
    return strdup(password);
}

static void got_rect(rfbClient *cl, int x, int y, int w, int h)
{
    area += (uint64_t)w * h;
}

/* an update may be of pseudo-encodings only (server identity...) */
static void update_done(rfbClient *cl)
{
    updated = area >= (uint64_t)cl->width * cl->height;
}

int main(int argc, char **argv)
{
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    int x = 5, y = 5;
    const uint8_t *px;
    rfbClient *cl;

    if (argc < 2 || argc == 4 || argc > 5) {
        fprintf(stderr, "usage: xdf-vnc-client PORT [PASSWORD [X Y]]\n");
        return 2;
    }
    if (argc > 2) {
        password = argv[2];
    }
    if (argc > 4) {
        x = atoi(argv[3]);
        y = atoi(argv[4]);
    }
    /* 32 bpp, R, G, B, pad in memory */
    cl = rfbGetClient(8, 3, 4);
    cl->serverHost = strdup("127.0.0.1");
    cl->serverPort = atoi(argv[1]);
    cl->appData.encodingsString = "raw";     /* exact pixels */
    cl->GetPassword = get_password;
    cl->GotFrameBufferUpdate = got_rect;
    cl->FinishedFrameBufferUpdate = update_done;
    if (!rfbInitClient(cl, NULL, NULL)) {
        /* it has freed cl */
        printf("refused\n");
        return 1;
    }
    while (!updated && g_get_monotonic_time() < end) {
        int n = WaitForMessage(cl, 100000);

        if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
            break;
        }
    }
    if (!updated || x < 0 || y < 0 || x >= cl->width || y >= cl->height) {
        printf("%s (screen %dx%d)\n", updated ? "pixel outside the screen" :
               "no screen within 10 s", cl->width, cl->height);
        free(cl->frameBuffer);
        rfbClientCleanup(cl);
        return 1;
    }
    px = cl->frameBuffer + ((size_t)y * cl->width + x) * 4;
    printf("screen %dx%d, pixel at %d,%d: %u %u %u\n", cl->width, cl->height,
           x, y, px[0], px[1], px[2]);
    free(cl->frameBuffer);
    rfbClientCleanup(cl);
    return 0;
}
