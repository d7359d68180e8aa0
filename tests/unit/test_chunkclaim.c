/* core/file/chunkclaim.h: chunks in flight, claimed with open file description locks on the map. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "chunkclaim.h"

static char g_dir[PATH_MAX], g_map[PATH_MAX];

static void setup(void)
{
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "chunkclaim");
    snprintf(g_map, sizeof g_map, "%s/f.map", g_dir);
}

static void teardown(void)
{
    hfs_ut_rmtree(g_dir);
}

START_TEST(two_descriptions_conflict_in_one_process)
{
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, 10 * HFS_CHUNK, &cm), 0);
    hfs_claims a, b;
    ck_assert_int_eq(hfs_claims_open(&a, g_map, &cm), 0);
    ck_assert_int_eq(hfs_claims_open(&b, g_map, &cm), 0);
    ck_assert_int_eq(hfs_claims_take(&a, 3), 1);
    ck_assert_int_eq(hfs_claims_take(&a, 3), 1); /* its own claim again: still ours */
    ck_assert_int_eq(hfs_claims_take(&b, 3), 0);
    ck_assert_int_eq(hfs_claims_take(&b, 4), 1);
    hfs_claims_drop(&a, 3);
    ck_assert_int_eq(hfs_claims_take(&b, 3), 1);
    hfs_claims_close(&b); /* gives back 3 and 4 */
    ck_assert_int_eq(hfs_claims_take(&a, 3), 1);
    ck_assert_int_eq(hfs_claims_take(&a, 4), 1);
    hfs_claims_close(&a);
    hfs_chunkmap_close(&cm);
}
END_TEST

START_TEST(a_replaced_map_is_stale)
{
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, 10 * HFS_CHUNK, &cm), 0);
    hfs_claims a;
    ck_assert_int_eq(unlink(g_map), 0);
    ck_assert_int_eq(hfs_claims_open(&a, g_map, &cm), -ESTALE);
    hfs_chunkmap other;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, 10 * HFS_CHUNK, &other), 0);
    ck_assert_int_eq(hfs_claims_open(&a, g_map, &cm), -ESTALE);
    ck_assert_int_eq(hfs_claims_open(&a, g_map, &other), 0);
    hfs_claims_close(&a);
    hfs_chunkmap_close(&other);
    hfs_chunkmap_close(&cm);
}
END_TEST

/* A child claims chunk 7 and is killed: the claim goes with it. Another child sets chunk 9's
 * byte while the parent waits on it: the wait ends with the byte there. */
START_TEST(claims_die_with_their_process_and_waiters_wake)
{
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, 10 * HFS_CHUNK, &cm), 0);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        hfs_claims c;
        if (hfs_claims_open(&c, g_map, &cm) || hfs_claims_take(&c, 7) != 1) _exit(1);
        if (write(p[1], "c", 1) != 1) _exit(2);
        pause();
        _exit(0);
    }
    char x;
    ck_assert_int_eq(read(p[0], &x, 1), 1);
    hfs_claims a;
    ck_assert_int_eq(hfs_claims_open(&a, g_map, &cm), 0);
    ck_assert_int_eq(hfs_claims_take(&a, 7), 0);
    kill(pid, SIGKILL);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_int_eq(hfs_claims_take(&a, 7), 1);
    hfs_claims_close(&a);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        hfs_chunkmap c;
        if (hfs_chunkmap_open(g_map, 10 * HFS_CHUNK, &c)) _exit(1);
        if (read(p[0], &x, 1) != 1) _exit(2);
        usleep(20000);
        hfs_chunkmap_set(&c, 9);
        hfs_chunks_wake(&c, 9, 9);
        _exit(0);
    }
    ck_assert_int_eq(write(p[1], "g", 1), 1);
    for (int i = 0; i < 400 && !hfs_chunkmap_has(&cm, 9); i++) hfs_chunk_wait(&cm, 9, 5000);
    ck_assert_int_eq(hfs_chunkmap_has(&cm, 9), 1);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[0]);
    close(p[1]);
    hfs_chunkmap_close(&cm);
}
END_TEST

Suite *suite_chunkclaim(void)
{
    Suite *s = suite_create("chunkclaim");
    TCase *t = tcase_create("claims");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, two_descriptions_conflict_in_one_process);
    tcase_add_test(t, a_replaced_map_is_stale);
    tcase_add_test(t, claims_die_with_their_process_and_waiters_wake);
    suite_add_tcase(s, t);
    return s;
}
