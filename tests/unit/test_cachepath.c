/* core/base/util.h: cache folder names and the small file-system helpers the cache is built on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "util.h"

static char g_dir[PATH_MAX];

static void setup(void)
{
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "cache");
}

static void teardown(void)
{
    chmod(g_dir, 0700);
    hfs_ut_rmtree(g_dir);
}

static void tpath(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* Names in a directory, except "." and "..". */
static int count_entries(const char *d)
{
    DIR *dir = opendir(d);
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    for (struct dirent *de; (de = readdir(dir));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(dir);
    return n;
}

static void slurp(const char *p, char *buf, size_t n)
{
    ck_assert_int_ge(hfs_read_small(p, buf, n), 0);
}

START_TEST(folder_id)
{
    char out[256];
    hfs_folder_id("acme/tiny", out, sizeof out);
    ck_assert_str_eq(out, "acme--tiny");
    hfs_folder_id("Org-1/model.v2_x", out, sizeof out);
    ck_assert_str_eq(out, "Org-1--model.v2_x");
    hfs_folder_id("acme", out, sizeof out);
    ck_assert_str_eq(out, "acme");
    hfs_folder_id("", out, sizeof out);
    ck_assert_str_eq(out, "");
    hfs_folder_id("\xc3\xa9quipe/mod\xc3\xa8le", out, sizeof out);
    ck_assert_str_eq(out, "\xc3\xa9quipe--mod\xc3\xa8le");
    /* huggingface_hub's folder name is "<type>s--" + this. */
    char full[300];
    hfs_folder_id("acme/tiny", out, sizeof out);
    ck_assert_int_eq(hfs_fmt(full, sizeof full, "models--%s", out), 0);
    ck_assert_str_eq(full, "models--acme--tiny");

    /* A small buffer is never overrun and stays terminated. */
    char small[12];
    memset(small, 'G', sizeof small);
    hfs_folder_id("acme/tiny-and-more", small, 6);
    ck_assert_uint_lt(strlen(small), 6);
    ck_assert_int_eq(strncmp(small, "acme--", strlen(small)), 0);
    for (size_t i = 6; i < sizeof small; i++) ck_assert_int_eq(small[i], 'G');
}
END_TEST

START_TEST(fmt)
{
    char out[8];
    ck_assert_int_eq(hfs_fmt(out, sizeof out, "%s/%d", "ab", 12), 0);
    ck_assert_str_eq(out, "ab/12");
    ck_assert_int_eq(hfs_fmt(out, sizeof out, "%s", "1234567"), 0); /* exactly fits */
    ck_assert_str_eq(out, "1234567");
    memset(out, 'G', sizeof out);
    ck_assert_int_eq(hfs_fmt(out, sizeof out, "%s", "12345678"), -ENAMETOOLONG);
    ck_assert_int_eq(out[7], 0); /* still terminated */
    ck_assert_int_eq(hfs_fmt(out, sizeof out, "%s/%s", "abcd", "efgh"), -ENAMETOOLONG);
    ck_assert_int_eq(hfs_fmt(out, 1, "%s", ""), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(hfs_fmt(out, 1, "%s", "x"), -ENAMETOOLONG);
}
END_TEST

START_TEST(mkdirs)
{
    char p[PATH_MAX], q[PATH_MAX];
    tpath(p, sizeof p, "a/b/c/d");
    ck_assert_int_eq(hfs_mkdirs(p, 0755), 0);
    ck_assert(is_dir(p));
    ck_assert_int_eq(hfs_mkdirs(p, 0755), 0); /* existing */
    tpath(q, sizeof q, "a/b");
    ck_assert_int_eq(hfs_mkdirs(q, 0755), 0); /* existing parent */
    tpath(p, sizeof p, "a/b/e//f/");          /* doubled and trailing '/' */
    ck_assert_int_eq(hfs_mkdirs(p, 0755), 0);
    tpath(p, sizeof p, "a/b/e/f");
    ck_assert(is_dir(p));
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0700, 0700);

    /* Parent of a file path. */
    tpath(p, sizeof p, "x/y/z/file.bin");
    ck_assert_int_eq(hfs_mkdirs_parent(p, 0755), 0);
    tpath(q, sizeof q, "x/y/z");
    ck_assert(is_dir(q));
    ck_assert_int_eq(access(p, F_OK), -1); /* the file itself is not created */
    ck_assert_int_eq(hfs_mkdirs_parent("file-without-dir", 0755), 0);

    /* A file in the way. */
    tpath(p, sizeof p, "plain");
    ck_assert_int_eq(hfs_write_atomic(p, "x", 1), 0);
    ck_assert_int_eq(hfs_mkdirs(p, 0755), -EEXIST); /* as mkdir -p: "File exists" */
    tpath(p, sizeof p, "plain/");
    ck_assert_int_lt(hfs_mkdirs(p, 0755), 0);
    tpath(p, sizeof p, "plain/sub/dir");
    ck_assert_int_eq(hfs_mkdirs(p, 0755), -ENOTDIR);

    /* Too long. */
    static char big[PATH_MAX + 16];
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    ck_assert_int_eq(hfs_mkdirs(big, 0755), -ENAMETOOLONG);
}
END_TEST

START_TEST(write_atomic)
{
    char p[PATH_MAX], buf[64];
    tpath(p, sizeof p, "f.txt");
    ck_assert_int_eq(hfs_write_atomic(p, "hello", 5), 0);
    slurp(p, buf, sizeof buf);
    ck_assert_str_eq(buf, "hello");
    ck_assert_int_eq(hfs_write_atomic(p, "bye", 3), 0); /* replaces */
    slurp(p, buf, sizeof buf);
    ck_assert_str_eq(buf, "bye");
    ck_assert_int_eq(hfs_write_atomic(p, "", 0), 0);
    slurp(p, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(count_entries(g_dir), 1); /* no temp files left */

    /* Binary data with NULs, larger than a pipe buffer. */
    size_t n = 1 << 20;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 7 + (i >> 8));
    ck_assert_int_eq(hfs_write_atomic(p, data, n), 0);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, (off_t)n);
    FILE *f = fopen(p, "rb");
    unsigned char *back = malloc(n);
    ck_assert_uint_eq(fread(back, 1, n, f), n);
    fclose(f);
    ck_assert_int_eq(memcmp(data, back, n), 0);
    free(data);
    free(back);

    /* A missing directory is an error, and leaves nothing behind. */
    tpath(p, sizeof p, "nodir/f.txt");
    ck_assert_int_eq(hfs_write_atomic(p, "x", 1), -ENOENT);
    ck_assert_int_eq(count_entries(g_dir), 1);
}
END_TEST

START_TEST(write_once)
{
    char p[PATH_MAX], buf[64];
    tpath(p, sizeof p, "blob");
    ck_assert_int_eq(hfs_write_once(p, "first", 5), 0);
    ck_assert_int_eq(hfs_write_once(p, "second", 6), 1);
    slurp(p, buf, sizeof buf);
    ck_assert_str_eq(buf, "first");
    ck_assert_int_eq(hfs_write_once(p, "", 0), 1);
    slurp(p, buf, sizeof buf);
    ck_assert_str_eq(buf, "first");
    ck_assert_int_eq(count_entries(g_dir), 1); /* the losers' temp files are gone */

    tpath(p, sizeof p, "nodir/blob");
    ck_assert_int_eq(hfs_write_once(p, "x", 1), -ENOENT);
    ck_assert_int_eq(count_entries(g_dir), 1);
}
END_TEST

START_TEST(write_once_race)
{
    /* Several processes publish the same name at once: exactly one wins, the file holds
     * exactly the winner's bytes, and no temp files remain. */
    enum { N = 8 };
    char p[PATH_MAX];
    tpath(p, sizeof p, "raced");
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            char c, data[32];
            close(go[1]);
            if (read(go[0], &c, 1) < 0) _exit(99);
            int len = snprintf(data, sizeof data, "writer-%d", i);
            int r = hfs_write_once(p, data, (size_t)len);
            _exit(r == 0 ? 0 : r == 1 ? 1 : 2);
        }
    }
    close(go[0]);
    close(go[1]); /* EOF releases all writers together */
    int winners = 0, winner = -1;
    for (int i = 0; i < N; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert(WIFEXITED(st));
        ck_assert_int_le(WEXITSTATUS(st), 1);
        if (WEXITSTATUS(st) == 0) {
            winners++;
            winner = i;
        }
    }
    ck_assert_int_eq(winners, 1);
    char buf[64], want[32];
    snprintf(want, sizeof want, "writer-%d", winner);
    slurp(p, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(count_entries(g_dir), 1);
}
END_TEST

START_TEST(read_small)
{
    char p[PATH_MAX], buf[8];
    tpath(p, sizeof p, "s");
    ck_assert_int_eq(hfs_write_atomic(p, "abc\n", 4), 0);
    memset(buf, 'G', sizeof buf);
    ck_assert_int_eq(hfs_read_small(p, buf, sizeof buf), 4);
    ck_assert_str_eq(buf, "abc\n");
    /* At most n-1 bytes, always terminated. */
    ck_assert_int_eq(hfs_write_atomic(p, "0123456789", 10), 0);
    ck_assert_int_eq(hfs_read_small(p, buf, sizeof buf), 7);
    ck_assert_str_eq(buf, "0123456");
    ck_assert_int_eq(hfs_read_small(p, buf, 1), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(hfs_write_atomic(p, "", 0), 0);
    ck_assert_int_eq(hfs_read_small(p, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    tpath(p, sizeof p, "missing");
    ck_assert_int_eq(hfs_read_small(p, buf, sizeof buf), -ENOENT);
}
END_TEST

START_TEST(age)
{
    char p[PATH_MAX];
    tpath(p, sizeof p, "aged");
    ck_assert_int_eq(hfs_age(p), -1);
    ck_assert_int_eq(hfs_write_atomic(p, "x", 1), 0);
    long a = hfs_age(p);
    ck_assert_int_ge(a, 0);
    ck_assert_int_le(a, 2);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 100;
    tv[1] = tv[0];
    ck_assert_int_eq(utimes(p, tv), 0);
    a = hfs_age(p);
    ck_assert_int_ge(a, 99); /* time() may lag gettimeofday() by a clock tick */
    ck_assert_int_le(a, 102);
    /* A file from the future (clock skew) is 0 seconds old, never negative. */
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec += 1000;
    tv[1] = tv[0];
    ck_assert_int_eq(utimes(p, tv), 0);
    ck_assert_int_eq(hfs_age(p), 0);
    /* Rewriting refreshes it. */
    ck_assert_int_eq(hfs_write_atomic(p, "y", 1), 0);
    ck_assert_int_le(hfs_age(p), 2);
}
END_TEST

Suite *suite_cachepath(void)
{
    Suite *s = suite_create("cachepath");
    TCase *tc = tcase_create("util");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, folder_id);
    tcase_add_test(tc, fmt);
    tcase_add_test(tc, mkdirs);
    tcase_add_test(tc, write_atomic);
    tcase_add_test(tc, write_once);
    tcase_add_test(tc, write_once_race);
    tcase_add_test(tc, read_small);
    tcase_add_test(tc, age);
    suite_add_tcase(s, tc);
    return s;
}
