/* Fault injection through the core's libc table (core/base/libc.h): a full disk or an I/O error in
 * the middle of a publish is reported as that -errno, and nothing is lost — the previous file
 * is intact and no temporary file is left behind. */
#include "suites.h"
#include "libc.h"
#include "tmpdir.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char g_dir[PATH_MAX];
static char g_file[PATH_MAX + 16];
static hfs_libc_ops g_faulty;

static ssize_t write_enospc(int fd, const void *b, size_t n)
{
    (void)fd, (void)b, (void)n;
    errno = ENOSPC;
    return -1;
}
static int renameat2_eio(int a, const char *f, int b, const char *t, unsigned fl)
{
    (void)a, (void)f, (void)b, (void)t, (void)fl;
    errno = EIO;
    return -1;
}
/* A file system without RENAME_NOREPLACE, so the publish falls back to link. */
static int renameat2_einval(int a, const char *f, int b, const char *t, unsigned fl)
{
    (void)a, (void)f, (void)b, (void)t, (void)fl;
    errno = EINVAL;
    return -1;
}
static int linkat_enospc(int a, const char *f, int b, const char *t, int fl)
{
    (void)a, (void)f, (void)b, (void)t, (void)fl;
    errno = ENOSPC;
    return -1;
}

static void setup(void)
{
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "faults");
    snprintf(g_file, sizeof g_file, "%s/f", g_dir);
    g_faulty = *hfs_libc();
}

static void teardown(void)
{
    hfs_libc_set(NULL);
    hfs_ut_rmtree(g_dir);
}

static int entries(void)
{
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void assert_content(const char *want)
{
    char buf[64];
    ck_assert_int_eq(hfs_read_small(g_file, buf, sizeof buf), (ssize_t)strlen(want));
    ck_assert_str_eq(buf, want);
}

START_TEST(write_atomic_full_disk_keeps_old)
{
    ck_assert_int_eq(hfs_write_atomic(g_file, "old", 3), 0);
    g_faulty.write = write_enospc;
    hfs_libc_set(&g_faulty);
    ck_assert_int_eq(hfs_write_atomic(g_file, "new content", 11), -ENOSPC);
    hfs_libc_set(NULL);
    assert_content("old");
    ck_assert_int_eq(entries(), 1); /* no temporary file left */
}
END_TEST

START_TEST(write_atomic_rename_eio_keeps_old)
{
    ck_assert_int_eq(hfs_write_atomic(g_file, "old", 3), 0);
    g_faulty.renameat2 = renameat2_eio;
    hfs_libc_set(&g_faulty);
    ck_assert_int_eq(hfs_write_atomic(g_file, "new", 3), -EIO);
    hfs_libc_set(NULL);
    assert_content("old");
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(write_once_link_full_disk_leaves_nothing)
{
    g_faulty.renameat2 = renameat2_einval;
    g_faulty.linkat = linkat_enospc;
    hfs_libc_set(&g_faulty);
    ck_assert_int_eq(hfs_write_once(g_file, "data", 4), -ENOSPC);
    hfs_libc_set(NULL);
    ck_assert_int_eq(access(g_file, F_OK), -1);
    ck_assert_int_eq(entries(), 0);
    /* the same fallback, working: published by link, the temporary file removed */
    g_faulty.linkat = hfs_libc()->linkat;
    hfs_libc_set(&g_faulty);
    ck_assert_int_eq(hfs_write_once(g_file, "data", 4), 0);
    ck_assert_int_eq(hfs_write_once(g_file, "other", 5), 1); /* never replaces */
    hfs_libc_set(NULL);
    assert_content("data");
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(set_returns_previous)
{
    const hfs_libc_ops *def = hfs_libc();
    ck_assert_ptr_eq(hfs_libc_set(&g_faulty), def);
    ck_assert_ptr_eq(hfs_libc(), &g_faulty);
    ck_assert_ptr_eq(hfs_libc_set(NULL), &g_faulty);
    ck_assert_ptr_eq(hfs_libc(), &hfs_libc_default);
}
END_TEST

Suite *suite_libc_faults(void)
{
    Suite *s = suite_create("libc_faults");
    TCase *t = tcase_create("faults");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, write_atomic_full_disk_keeps_old);
    tcase_add_test(t, write_atomic_rename_eio_keeps_old);
    tcase_add_test(t, write_once_link_full_disk_leaves_nothing);
    tcase_add_test(t, set_returns_previous);
    suite_add_tcase(s, t);
    return s;
}
