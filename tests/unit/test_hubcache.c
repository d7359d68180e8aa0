/* core/cache/hubcache.h and core/cache/revcache.h: refs with their snapshot folders, a snapshot
 * folder read back as an index, and revision answers kept per token. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "config.h"
#include "hubcache.h"
#include "index.h"
#include "revcache.h"
#include "util.h"

static const char *const vars[] = {"HF_HOME",  "HF_HUB_CACHE",  "HF_SHIM_CACHE",
                                   "HF_TOKEN", "HF_TOKEN_PATH", "HF_SHIM_REVISION_TTL"};
#define NVARS (sizeof vars / sizeof vars[0])
static char *saved[NVARS];
static char g_dir[PATH_MAX];

#define SHA1 "05766fe1ab3937555bd2e03dee05d56db9d656cf"
#define SHA256 "51f88516d8c9526b75cff5afdc79e72aa1eb7a74c99717a109f3a257659de068"
#define COMMIT "d69b62f9afc8562b6425676ddcf718dc4554e440"
#define FOLDER "models--acme--tiny"

static void setup(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "hubcache");
    setenv("HF_HOME", g_dir, 1);
    setenv("HF_TOKEN_PATH", "/nonexistent", 1);
    hfs_cfg_reload();
}

static void teardown(void)
{
    hfs_ut_rmtree(g_dir);
    for (size_t i = 0; i < NVARS; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
        saved[i] = NULL;
    }
    hfs_cfg_reload();
}

static void in_repo(char *out, size_t n, const char *rel)
{
    ck_assert_int_eq(hfs_fmt(out, n, "%s/hub/" FOLDER "/%s", g_dir, rel), 0);
}

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    in_repo(p, sizeof p, rel);
    ck_assert_int_eq(hfs_mkdirs_parent(p, 0755), 0);
    ck_assert_int_eq(hfs_write_atomic(p, text, strlen(text)), 0);
}

static void link_to(const char *rel, const char *target)
{
    char p[PATH_MAX];
    in_repo(p, sizeof p, rel);
    ck_assert_int_eq(hfs_mkdirs_parent(p, 0755), 0);
    ck_assert_int_eq(symlink(target, p), 0);
}

START_TEST(write_ref_makes_snapshot_first)
{
    char p[PATH_MAX], buf[64];
    ck_assert_int_eq(hfs_hub_write_ref(FOLDER, "refs/pr/1", COMMIT), 0);
    in_repo(p, sizeof p, "refs/refs/pr/1");
    ck_assert_int_eq(hfs_read_small(p, buf, sizeof buf), 40); /* no newline */
    ck_assert_str_eq(buf, COMMIT);
    struct stat st;
    in_repo(p, sizeof p, "snapshots/" COMMIT);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

START_TEST(snapshot_index)
{
    put("blobs/" SHA1, "{\"a\": 1}\n");
    put("blobs/" SHA256, "0123456789");
    put("blobs/" SHA256 ".incomplete", "01");
    link_to("snapshots/" COMMIT "/config.json", "../../blobs/" SHA1);
    link_to("snapshots/" COMMIT "/w/x/model.bin", "../../../../blobs/" SHA256);
    link_to("snapshots/" COMMIT "/gone.txt", "../../blobs/" SHA1 "0"); /* blob deleted */
    put("snapshots/" COMMIT "/copied.txt", "copy");                    /* no symlinks */
    char idx[PATH_MAX];
    snprintf(idx, sizeof idx, "%s/t.idx", g_dir);
    ck_assert_int_eq(hfs_hub_snapshot_index(FOLDER, COMMIT, idx), 0);
    hfs_index *ix = hfs_index_open(idx);
    ck_assert_ptr_nonnull(ix);
    const hfs_ientry *e = hfs_index_lookup(ix, "config.json", 11);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->size, 9);
    ck_assert_uint_eq(e->etag_kind, HFS_ETAG_GITSHA1);
    ck_assert_str_eq(e->etag, SHA1);
    e = hfs_index_lookup(ix, "w/x/model.bin", 13);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->size, 10);
    ck_assert_uint_eq(e->etag_kind, HFS_ETAG_SHA256);
    ck_assert_str_eq(e->etag, SHA256);
    e = hfs_index_lookup(ix, "w/x", 3);
    ck_assert(e && e->is_dir);
    e = hfs_index_lookup(ix, "copied.txt", 10);
    ck_assert(e && !e->is_dir && e->size == 4 && e->etag_kind == HFS_ETAG_NONE);
    ck_assert_ptr_null(hfs_index_lookup(ix, "gone.txt", 8));
    const hfs_ientry *root = hfs_index_at(ix, 0);
    ck_assert_uint_eq(root->nchildren, 3); /* config.json, copied.txt, w */
    hfs_index_close(ix);
    /* A commit nothing was cached of. */
    ck_assert_int_eq(
        hfs_hub_snapshot_index(FOLDER, "0000000000000000000000000000000000000000", idx), -ENOENT);
}
END_TEST

static void token(const char *t)
{
    if (t)
        setenv("HF_TOKEN", t, 1);
    else
        unsetenv("HF_TOKEN");
    hfs_cfg_reload();
}

START_TEST(revcache_per_token)
{
    char snap[64];
    token("hf_a");
    hfs_revcache_put(FOLDER, "main", COMMIT);
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 1);
    ck_assert_str_eq(snap, COMMIT);
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "v1.0", snap, sizeof snap), 0);
    token("hf_b");
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 0);
    token(NULL);
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 0);
    /* an answer got without a token is public: every token reuses it */
    hfs_revcache_put(FOLDER, "refs/pr/1", COMMIT);
    token("hf_b");
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "refs/pr/1", snap, sizeof snap), 1);
    /* expired */
    setenv("HF_SHIM_REVISION_TTL", "0", 1);
    token("hf_a");
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 0);
}
END_TEST

START_TEST(revcache_moved_branch)
{
    char snap[64];
    token("hf_a");
    hfs_revcache_put(FOLDER, "main", SHA1);
    token(NULL);
    hfs_revcache_put(FOLDER, "main", SHA1);
    hfs_revcache_put(FOLDER, "main2", SHA1); /* another branch, same prefix: untouched */
    token("hf_b");
    hfs_revcache_put(FOLDER, "main", COMMIT); /* main moved: the older answers go */
    token("hf_a");
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 0);
    token(NULL);
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 0);
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main2", snap, sizeof snap), 1);
    token("hf_b");
    ck_assert_int_eq(hfs_revcache_get(FOLDER, "main", snap, sizeof snap), 1);
    ck_assert_str_eq(snap, COMMIT);
}
END_TEST

Suite *suite_hubcache(void)
{
    Suite *s = suite_create("hubcache");
    TCase *tc = tcase_create("hubcache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, write_ref_makes_snapshot_first);
    tcase_add_test(tc, snapshot_index);
    tcase_add_test(tc, revcache_per_token);
    tcase_add_test(tc, revcache_moved_branch);
    suite_add_tcase(s, tc);
    return s;
}
