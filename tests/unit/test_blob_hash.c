/* core/file/file_hash.h: the background hash follows the chunk map's contiguous prefix, whatever
 * order the chunks arrive in, and gives the digest of the whole file. */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
#include "vfs.h"
#include "tmpdir.h"
#include "file_hash.h"
#include "chunkmap.h"
#include "net.h"

static char g_dir[PATH_MAX], g_file[PATH_MAX], g_map[PATH_MAX];
static unsigned char *g_data;
static const uint64_t SIZE = 5 * HFS_CHUNK + 12345; /* a short last chunk */

static void setup(void)
{
    hfs_net_set_static(hfs_net_ops_v2(NULL));
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "blobhash");
    snprintf(g_file, sizeof g_file, "%s/f", g_dir);
    snprintf(g_map, sizeof g_map, "%s/f.map", g_dir);
    g_data = malloc(SIZE);
    for (uint64_t i = 0; i < SIZE; i++) g_data[i] = (unsigned char)(i * 2654435761u >> 13);
    FILE *f = fopen(g_file, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(g_data, 1, SIZE, f), SIZE);
    fclose(f);
}

static void teardown(void)
{
    free(g_data);
    hfs_ut_rmtree(g_dir);
}

static void expected(int git, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, git ? EVP_sha1() : EVP_sha256(), NULL);
    if (git) {
        char hdr[40];
        int k = snprintf(hdr, sizeof hdr, "blob %llu", (unsigned long long)SIZE);
        EVP_DigestUpdate(c, hdr, (size_t)k + 1);
    }
    EVP_DigestUpdate(c, g_data, SIZE);
    EVP_DigestFinal_ex(c, md, &n);
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Chunks arrive out of order (4, 1, 0, 3, 5, 2), with kicks in between. */
static void fill_out_of_order(hfs_hasher *h, hfs_chunkmap *cm)
{
    static const int order[] = {4, 1, 0, 3, 5, 2};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        hfs_chunkmap_set(cm, (size_t)order[i]);
        hfs_hasher_kick(h);
        usleep(2000);
    }
}

static void run(int git)
{
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, SIZE, &cm), 0);
    hfs_hasher *h = hfs_hasher_start(g_file, SIZE, git, &cm);
    ck_assert_ptr_nonnull(h);
    fill_out_of_order(h, &cm);
    char got[68] = "", want[68] = "";
    ck_assert_int_eq(hfs_hasher_finish(h, got, sizeof got), 0);
    expected(git, want);
    ck_assert_str_eq(got, want);
    hfs_hasher_free(h);
    hfs_chunkmap_close(&cm);
}

START_TEST(sha256_out_of_order)
{
    run(0);
}
END_TEST

START_TEST(git_sha1_out_of_order)
{
    run(1);
}
END_TEST

START_TEST(free_while_waiting)
{
    /* Closed before the download completes: the thread stops, nothing is left running. */
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, SIZE, &cm), 0);
    hfs_hasher *h = hfs_hasher_start(g_file, SIZE, 0, &cm);
    ck_assert_ptr_nonnull(h);
    hfs_chunkmap_set(&cm, 0);
    hfs_hasher_kick(h);
    hfs_hasher_free(h);
    hfs_hasher_free(NULL);
    hfs_chunkmap_close(&cm);
}
END_TEST

START_TEST(forked_child_falls_back)
{
    /* The thread is the parent's: in a child, finish says so instead of waiting forever. */
    hfs_chunkmap cm;
    ck_assert_int_eq(hfs_chunkmap_open(g_map, SIZE, &cm), 0);
    hfs_hasher *h = hfs_hasher_start(g_file, SIZE, 0, &cm);
    ck_assert_ptr_nonnull(h);
    pid_t pid = fork();
    if (pid == 0) {
        hfs_vfs_atfork_child(); /* the core's fork rule, as the shim's handler runs it */
        for (size_t c = 0; c < cm.nchunks; c++) hfs_chunkmap_set(&cm, c);
        hfs_hasher_kick(h);
        char got[68];
        int rc = hfs_hasher_finish(h, got, sizeof got);
        hfs_hasher_free(h);
        _exit(rc == -ECHILD ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The parent's thread saw the child's chunks through the shared map. */
    char got[68] = "", want[68] = "";
    ck_assert_int_eq(hfs_hasher_finish(h, got, sizeof got), 0);
    expected(0, want);
    ck_assert_str_eq(got, want);
    hfs_hasher_free(h);
    hfs_chunkmap_close(&cm);
}
END_TEST

Suite *suite_blob_hash(void)
{
    Suite *s = suite_create("blob_hash");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sha256_out_of_order);
    tcase_add_test(tc, git_sha1_out_of_order);
    tcase_add_test(tc, free_while_waiting);
    tcase_add_test(tc, forked_child_falls_back);
    suite_add_tcase(s, tc);
    return s;
}
