/* core/file/chunkmap.h: one byte per 1 MiB chunk, in a small file mapped shared. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "chunkmap.h"

static char g_dir[PATH_MAX];

static void setup(void)
{
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "chunkmap");
}

static void teardown(void)
{
    hfs_ut_rmtree(g_dir);
}

static void mpath(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static off_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) ? -1 : st.st_size;
}

START_TEST(chunks_for)
{
    ck_assert_uint_eq(HFS_CHUNK, 1048576);
    ck_assert_uint_eq(hfs_chunks_for(0), 0);
    ck_assert_uint_eq(hfs_chunks_for(1), 1);
    ck_assert_uint_eq(hfs_chunks_for(HFS_CHUNK - 1), 1);
    ck_assert_uint_eq(hfs_chunks_for(HFS_CHUNK), 1);
    ck_assert_uint_eq(hfs_chunks_for(HFS_CHUNK + 1), 2);
    ck_assert_uint_eq(hfs_chunks_for(200 * HFS_CHUNK), 200);
    ck_assert_uint_eq(hfs_chunks_for(200 * HFS_CHUNK + 1), 201);
    ck_assert_uint_eq(hfs_chunks_for(5000000000ull), 4769); /* > 4 GiB */
}
END_TEST

START_TEST(size_zero)
{
    char p[PATH_MAX];
    mpath(p, sizeof p, "zero.map");
    hfs_chunkmap cm;
    memset(&cm, 0xaa, sizeof cm);
    ck_assert_int_eq(hfs_chunkmap_open(p, 0, &cm), 0);
    ck_assert_uint_eq(cm.nchunks, 0);
    ck_assert_ptr_null(cm.map);
    ck_assert_uint_eq(hfs_chunkmap_missing(&cm), 0); /* an empty file is complete */
    hfs_chunkmap_close(&cm);
    hfs_chunkmap_close(&cm); /* twice is harmless */
}
END_TEST

/* Opens a fresh map for `size`, checks nchunks and the file, sets a few chunks. */
static void fresh(uint64_t size, size_t want)
{
    char p[PATH_MAX];
    mpath(p, sizeof p, "f.map");
    unlink(p);
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(p, size, &cm), 0);
    ck_assert_uint_eq(cm.nchunks, want);
    ck_assert_ptr_nonnull(cm.map);
    ck_assert_int_eq(file_size(p), (off_t)want);
    ck_assert_uint_eq(hfs_chunkmap_missing(&cm), want);
    for (size_t i = 0; i < want; i++) ck_assert_int_eq(hfs_chunkmap_has(&cm, i), 0);

    hfs_chunkmap_set(&cm, want - 1);
    ck_assert_int_eq(hfs_chunkmap_has(&cm, want - 1), 1);
    ck_assert_uint_eq(hfs_chunkmap_missing(&cm), want - 1);
    hfs_chunkmap_set(&cm, want - 1); /* idempotent */
    ck_assert_uint_eq(hfs_chunkmap_missing(&cm), want - 1);
    hfs_chunkmap_set(&cm, 0);
    ck_assert_int_eq(hfs_chunkmap_has(&cm, 0), 1);
    ck_assert_uint_eq(hfs_chunkmap_missing(&cm), want > 1 ? want - 2 : 0);
    for (size_t i = 1; i + 1 < want; i++) ck_assert_int_eq(hfs_chunkmap_has(&cm, i), 0);
    for (size_t i = 0; i < want; i++) hfs_chunkmap_set(&cm, i);
    ck_assert_uint_eq(hfs_chunkmap_missing(&cm), 0);
    hfs_chunkmap_close(&cm);
    ck_assert_ptr_null(cm.map);
    ck_assert_uint_eq(cm.nchunks, 0);
}

START_TEST(sizes)
{
    fresh(1, 1);
    fresh(HFS_CHUNK, 1);
    fresh(HFS_CHUNK + 1, 2);
    fresh(3 * HFS_CHUNK - 1, 3);
    fresh(200 * HFS_CHUNK, 200);
}
END_TEST

START_TEST(persists)
{
    char p[PATH_MAX];
    mpath(p, sizeof p, "p.map");
    hfs_chunkmap a;
    ck_assert_int_eq(hfs_chunkmap_open(p, 200 * HFS_CHUNK, &a), 0);
    hfs_chunkmap_set(&a, 3);
    hfs_chunkmap_set(&a, 199);
    hfs_chunkmap_close(&a);

    /* A later open (another process, another session) sees the bits. */
    hfs_chunkmap b;
    ck_assert_int_eq(hfs_chunkmap_open(p, 200 * HFS_CHUNK, &b), 0);
    ck_assert_uint_eq(b.nchunks, 200);
    ck_assert_int_eq(hfs_chunkmap_has(&b, 3), 1);
    ck_assert_int_eq(hfs_chunkmap_has(&b, 199), 1);
    ck_assert_int_eq(hfs_chunkmap_has(&b, 4), 0);
    ck_assert_uint_eq(hfs_chunkmap_missing(&b), 198);
    hfs_chunkmap_close(&b);
    ck_assert_int_eq(file_size(p), 200);
}
END_TEST

START_TEST(shared_between_opens)
{
    char p[PATH_MAX];
    mpath(p, sizeof p, "s.map");
    hfs_chunkmap a, b;
    ck_assert_int_eq(hfs_chunkmap_open(p, 10 * HFS_CHUNK, &a), 0);
    ck_assert_int_eq(hfs_chunkmap_open(p, 10 * HFS_CHUNK, &b), 0);
    ck_assert_ptr_ne(a.map, b.map);
    hfs_chunkmap_set(&a, 2);
    ck_assert_int_eq(hfs_chunkmap_has(&b, 2), 1); /* seen at once, both mapped */
    hfs_chunkmap_set(&b, 7);
    ck_assert_int_eq(hfs_chunkmap_has(&a, 7), 1);
    ck_assert_uint_eq(hfs_chunkmap_missing(&a), 8);
    ck_assert_uint_eq(hfs_chunkmap_missing(&b), 8);
    hfs_chunkmap_close(&a);
    ck_assert_int_eq(hfs_chunkmap_has(&b, 2), 1); /* closing one leaves the other */
    hfs_chunkmap_close(&b);
}
END_TEST

START_TEST(shared_across_fork)
{
    char p[PATH_MAX];
    mpath(p, sizeof p, "fork.map");
    hfs_chunkmap a;
    ck_assert_int_eq(hfs_chunkmap_open(p, 64 * HFS_CHUNK, &a), 0);
    hfs_chunkmap_set(&a, 5);

    int to_child[2], to_parent[2];
    ck_assert_int_eq(pipe(to_child), 0);
    ck_assert_int_eq(pipe(to_parent), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child opens the map on its own (as another process would), checks the parent's
         * bit, sets its own, then waits for the parent's second bit set after its open. */
        int rc = 0;
        hfs_chunkmap c;
        char x = 0;
        if (hfs_chunkmap_open(p, 64 * HFS_CHUNK, &c)) _exit(10);
        if (c.nchunks != 64) rc = 11;
        if (!hfs_chunkmap_has(&c, 5)) rc = 12;
        if (hfs_chunkmap_has(&c, 6)) rc = 13;
        hfs_chunkmap_set(&c, 40);
        /* The inherited mapping is shared too. */
        hfs_chunkmap_set(&a, 41);
        if (write(to_parent[1], "s", 1) != 1) rc = 14;
        if (read(to_child[0], &x, 1) != 1) rc = 15;
        if (!hfs_chunkmap_has(&c, 63)) rc = 16;
        if (hfs_chunkmap_missing(&c) != 64 - 4) rc = 17;
        hfs_chunkmap_close(&c);
        _exit(rc);
    }
    char x = 0;
    ck_assert_int_eq(read(to_parent[0], &x, 1), 1);
    ck_assert_int_eq(hfs_chunkmap_has(&a, 40), 1);
    ck_assert_int_eq(hfs_chunkmap_has(&a, 41), 1);
    hfs_chunkmap_set(&a, 63);
    ck_assert_int_eq(write(to_child[1], "g", 1), 1);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_uint_eq(hfs_chunkmap_missing(&a), 64 - 4);
    hfs_chunkmap_close(&a);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
}
END_TEST

START_TEST(resized)
{
    /* A map left with another size (a file that changed) is resized to match. */
    char p[PATH_MAX];
    mpath(p, sizeof p, "r.map");
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(p, 4 * HFS_CHUNK, &cm), 0);
    hfs_chunkmap_set(&cm, 1);
    hfs_chunkmap_close(&cm);
    ck_assert_int_eq(hfs_chunkmap_open(p, 10 * HFS_CHUNK, &cm), 0);
    ck_assert_uint_eq(cm.nchunks, 10);
    ck_assert_int_eq(file_size(p), 10);
    for (size_t i = 4; i < 10; i++) ck_assert_int_eq(hfs_chunkmap_has(&cm, i), 0);
    hfs_chunkmap_close(&cm);
}
END_TEST

START_TEST(errors)
{
    char p[PATH_MAX];
    mpath(p, sizeof p, "no/such/dir/x.map");
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(p, HFS_CHUNK, &cm), -ENOENT);
    ck_assert_ptr_null(cm.map);
    ck_assert_uint_eq(cm.nchunks, 0);
    /* A directory in the way. */
    mpath(p, sizeof p, "");
    ck_assert_int_lt(hfs_chunkmap_open(p, HFS_CHUNK, &cm), 0);
    ck_assert_ptr_null(cm.map);
}
END_TEST

Suite *suite_chunkmap(void)
{
    Suite *s = suite_create("chunkmap");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, chunks_for);
    tcase_add_test(tc, size_zero);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, persists);
    tcase_add_test(tc, shared_between_opens);
    tcase_add_test(tc, shared_across_fork);
    tcase_add_test(tc, resized);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}
