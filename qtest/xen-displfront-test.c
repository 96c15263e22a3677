/*
 * QTest for xen-displfront
 *
 * Configuration checks run QEMU as a user would, from its command line,
 * and check its exit status and message.
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"

#include "displif-proto.h"

typedef struct QemuRun {
    int status;
    char *out;
    char *err;
} QemuRun;

static void qemu_run_free(QemuRun *r)
{
    g_free(r->out);
    g_free(r->err);
}

/*
 * Run QEMU with @args (split as a shell would) and no XenStore within reach
 * unless @xenstore names one; wait for it to exit.
 */
static QemuRun qemu_run(const char *xenstore, const char *args)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) envp = g_get_environ();
    g_autoptr(GError) err = NULL;
    QemuRun r = { 0 };

    g_assert_nonnull(qemu);
    cmd = g_strdup_printf("%s -M pc -nodefaults -display none -S %s",
                          qemu, args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &err));
    envp = g_environ_setenv(envp, "XENSTORED_PATH",
                            xenstore ? xenstore : "/nonexistent/xenstore",
                            TRUE);
    envp = g_environ_unsetenv(envp, "XENSTORE_DOMAIN_INTERFACE");
    g_assert_true(g_spawn_sync(NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &r.status, &err));
    return r;
}

/* QEMU refused to start with exactly one message that contains @msg. */
static void assert_refused(const char *args, const char *msg)
{
    QemuRun r = qemu_run(NULL, args);

    if (g_test_verbose()) {
        g_printerr("%s\n  -> %s", args, r.err);
    }
    /* an orderly exit(1), not a crash */
    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    g_assert_nonnull(strstr(r.err, msg));
    g_assert_nonnull(strstr(r.err, "xen-displfront"));
    qemu_run_free(&r);
}

static void test_listed(void)
{
    QemuRun r = qemu_run(NULL, "-device help");

    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 0);
    g_assert_nonnull(strstr(r.out, "name \"xen-displfront\""));
    qemu_run_free(&r);
}

static void test_properties(void)
{
    static const char *const props[] = {
        "display=", "head=", "backend-domid=", "frontend-domid=", "dev-id=",
        "resolution=", "be-alloc=",
    };
    QemuRun r = qemu_run(NULL, "-device xen-displfront,help");
    size_t i;

    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 0);
    for (i = 0; i < G_N_ELEMENTS(props); i++) {
        g_assert_nonnull(strstr(r.out, props[i]));
    }
    qemu_run_free(&r);
}

static void test_bad_display(void)
{
    assert_refused("-device VGA,id=vga0 -device xen-displfront,display=nosuch",
                   "display 'nosuch': no device with that id");
    /* card named after the device: wrong order on the command line */
    assert_refused("-device xen-displfront,display=vga0 -device VGA,id=vga0",
                   "display 'vga0': no device with that id");
    assert_refused("-device VGA,id=vga0 "
                   "-device xen-displfront,display=vga0,head=1",
                   "display 'vga0' (VGA) has no graphic console at head 1");
    assert_refused("-device VGA -device xen-displfront,head=2",
                   "head=2 needs display=<card id>");
    assert_refused("-device xen-displfront",
                   "there is no graphic console to follow");
}

static void test_bad_resolution(void)
{
    static const char *const malformed[] = {
        "", "x", "1024", "1024x", "x768", "1024*768", "-1x768", "+1x768",
        "1024x768x", " 1024x768", "1024x 768", "0x1024x768", "1024X768",
    };
    static const char *const out_of_range[] = {
        "0x0", "0x768", "1024x0", "99999x99999", "8193x600",
        "800x8193", "4294967297x600", "99999999999999999999x1",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(malformed); i++) {
        g_autofree char *dev = g_strdup_printf(
            "xen-displfront,display=v,resolution=%s", malformed[i]);
        g_autofree char *quoted = g_shell_quote(dev);
        g_autofree char *args = g_strdup_printf("-device VGA,id=v -device %s",
                                                quoted);
        g_autofree char *msg = g_strdup_printf(
            "resolution '%s' is not of the form WIDTHxHEIGHT", malformed[i]);

        /* an empty value is not even passed on by the option parser */
        if (!*malformed[i]) {
            continue;
        }
        assert_refused(args, msg);
    }
    for (i = 0; i < G_N_ELEMENTS(out_of_range); i++) {
        g_autofree char *args = g_strdup_printf(
            "-device VGA,id=v "
            "-device xen-displfront,display=v,resolution=%s",
            out_of_range[i]);
        g_autofree char *msg = g_strdup_printf(
            "resolution '%s' is out of range: width and height must be "
            "1 to %d", out_of_range[i], DISPLIF_MAX_SIDE);

        assert_refused(args, msg);
    }
}

static void test_bad_domid(void)
{
    assert_refused("-device VGA -device xen-displfront,backend-domid=32752",
                   "backend-domid 32752 is not a domain id (0 to 32751)");
    assert_refused("-device VGA -device xen-displfront,frontend-domid=65535",
                   "frontend-domid 65535 is not a domain id (0 to 32751)");
    assert_refused("-device VGA -device xen-displfront,dev-id=-1",
                   "dev-id");
}

/* Valid configuration, but no Xen to talk to. */
static void test_no_xen(void)
{
    assert_refused("-device VGA,id=v -device xen-displfront,display=v",
                   "cannot reach XenStore");
    assert_refused("-device bochs-display,id=b "
                   "-device xen-displfront,display=b,resolution=1920x1080",
                   "cannot reach XenStore");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_device("xen-displfront")) {
        g_test_skip("xen-displfront is not built in");
        return g_test_run();
    }
    qtest_add_func("/xen-displfront/listed", test_listed);
    qtest_add_func("/xen-displfront/properties", test_properties);
    qtest_add_func("/xen-displfront/config/display", test_bad_display);
    qtest_add_func("/xen-displfront/config/resolution", test_bad_resolution);
    qtest_add_func("/xen-displfront/config/domid", test_bad_domid);
    qtest_add_func("/xen-displfront/no-xen", test_no_xen);

    return g_test_run();
}
