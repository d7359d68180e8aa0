/* core/cache/index.h: building a tree index, mapping it, lookups, listings, etags, bad input. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "index.h"

static char g_dir[PATH_MAX];

static void setup(void)
{
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "index");
}

static void teardown(void)
{
    hfs_ut_rmtree(g_dir);
}

static void ipath(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static hfs_tree_entry file_e(const char *path, uint64_t size, const char *oid, const char *lfs,
                             const char *xet, int64_t mtime)
{
    hfs_tree_entry e;
    memset(&e, 0, sizeof e);
    e.path = path;
    e.size = size;
    e.mtime = mtime;
    snprintf(e.oid, sizeof e.oid, "%s", oid ? oid : "");
    snprintf(e.lfs_sha256, sizeof e.lfs_sha256, "%s", lfs ? lfs : "");
    snprintf(e.xet_hash, sizeof e.xet_hash, "%s", xet ? xet : "");
    return e;
}

static hfs_tree_entry dir_e(const char *path)
{
    hfs_tree_entry e;
    memset(&e, 0, sizeof e);
    e.path = path;
    e.is_dir = 1;
    snprintf(e.oid, sizeof e.oid, "%s", "dddddddddddddddddddddddddddddddddddddddd");
    return e;
}

static void add(hfs_index_builder *b, hfs_tree_entry e, int is_bucket)
{
    ck_assert_int_eq(hfs_ib_add(b, &e, is_bucket), 0);
}

static const hfs_ientry *look(const hfs_index *ix, const char *p)
{
    return hfs_index_lookup(ix, p, strlen(p));
}

static const char *path_of(const hfs_index *ix, const hfs_ientry *e)
{
    return hfs_index_str(ix, e->path_off);
}

static const char *name_of(const hfs_index *ix, const hfs_ientry *e, char *buf, size_t n)
{
    snprintf(buf, n, "%.*s", (int)e->name_len, hfs_index_str(ix, e->name_off));
    return buf;
}

/* Structural invariants every index must satisfy: each non-root entry is the child of exactly
 * one directory, children are contiguous and strictly sorted by name, parents are consistent,
 * and every entry is found by its own path. */
static void check_structure(const hfs_index *ix)
{
    uint32_t n = hfs_index_count(ix);
    ck_assert_uint_ge(n, 1);
    ck_assert_ptr_null(hfs_index_at(ix, n));
    uint32_t *seen = calloc(n, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    uint64_t total_children = 0;
    for (uint32_t i = 0; i < n; i++) {
        const hfs_ientry *d = hfs_index_at(ix, i);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(hfs_index_id(ix, d), i);
        ck_assert_ptr_eq(hfs_index_lookup(ix, path_of(ix, d), d->path_len), d);
        ck_assert_uint_eq(strlen(path_of(ix, d)), d->path_len);
        if (!d->is_dir) {
            ck_assert_uint_eq(d->nchildren, 0);
            continue;
        }
        total_children += d->nchildren;
        for (uint32_t k = 0; k < d->nchildren; k++) {
            uint32_t c = d->first_child + k;
            ck_assert_uint_lt(c, n);
            ck_assert_uint_ne(c, 0);
            const hfs_ientry *e = hfs_index_at(ix, c);
            ck_assert_uint_eq(e->parent, i);
            seen[c]++;
            /* path = parent path + "/" + name (no "/" under the root) */
            const char *pp = path_of(ix, d), *ep = path_of(ix, e);
            size_t pl = d->path_len;
            ck_assert_int_eq(memcmp(ep, pp, pl), 0);
            size_t sep = pl ? 1 : 0;
            if (pl) ck_assert_int_eq(ep[pl], '/');
            ck_assert_uint_eq(e->name_off, e->path_off + pl + sep);
            ck_assert_uint_eq(e->name_len, e->path_len - pl - sep);
            ck_assert_uint_gt(e->name_len, 0);
            ck_assert_ptr_null(memchr(hfs_index_str(ix, e->name_off), '/', e->name_len));
            if (k) {
                const hfs_ientry *prev = hfs_index_at(ix, c - 1);
                char a[512], b[512];
                ck_assert_msg(strcmp(name_of(ix, prev, a, sizeof a), name_of(ix, e, b, sizeof b)) <
                                  0,
                              "children of \"%s\" out of order: \"%s\" before \"%s\"", pp, a, b);
            }
        }
    }
    ck_assert_uint_eq(total_children, n - 1);
    ck_assert_uint_eq(seen[0], 0);
    for (uint32_t i = 1; i < n; i++) ck_assert_uint_eq(seen[i], 1);
    free(seen);
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define XET_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define OID_1 "1111111111111111111111111111111111111111"
#define OID_2 "2222222222222222222222222222222222222222"

/* A small repo: explicit and implied directories, nested files. */
static hfs_index *small_repo(void)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "trees/models--acme--tiny/abc.idx"); /* parents are created */
    hfs_index_builder *b = hfs_ib_new();
    ck_assert_ptr_nonnull(b);
    add(b, file_e("config.json", 123, OID_1, NULL, NULL, 1700000001), 0);
    add(b, file_e("README.md", 7, OID_2, NULL, NULL, 0), 0);
    add(b, dir_e("onnx"), 0);
    add(b, file_e("onnx/model.onnx", 5000000000ull, OID_1, SHA_A, NULL, 1700000002), 0);
    add(b, file_e("a/b/c/deep.txt", 1, OID_2, NULL, NULL, 0), 0); /* a, a/b, a/b/c implied */
    add(b, file_e("a/top.txt", 2, OID_2, NULL, NULL, 0), 0);
    add(b, dir_e("empty"), 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 1600000000), 0);
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    return ix;
}

START_TEST(root_and_lookup)
{
    hfs_index *ix = small_repo();
    /* root + 7 listed (2 dirs explicit) + 3 implied dirs (a, a/b, a/b/c) */
    ck_assert_uint_eq(hfs_index_count(ix), 11);
    ck_assert_int_eq(hfs_index_at(ix, 0)->mtime, 1600000000); /* the root has the default */

    const hfs_ientry *root = hfs_index_lookup(ix, "", 0);
    ck_assert_ptr_nonnull(root);
    ck_assert_ptr_eq(root, hfs_index_at(ix, 0));
    ck_assert_uint_eq(root->is_dir, 1);
    ck_assert_uint_eq(root->path_len, 0);
    ck_assert_str_eq(path_of(ix, root), "");
    ck_assert_uint_eq(root->parent, 0);
    ck_assert_uint_eq(root->nchildren, 5); /* README.md a config.json empty onnx */

    const hfs_ientry *e = look(ix, "config.json");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->is_dir, 0);
    ck_assert_uint_eq(e->size, 123);
    ck_assert_int_eq(e->mtime, 1700000001);
    ck_assert_uint_eq(e->parent, 0);
    ck_assert_str_eq(path_of(ix, e), "config.json");

    e = look(ix, "README.md");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->size, 7);
    ck_assert_int_eq(e->mtime, 1600000000); /* default mtime fills in */

    e = look(ix, "onnx/model.onnx");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->is_dir, 0);
    ck_assert_uint_eq(e->size, 5000000000ull); /* > 4 GiB survives */
    ck_assert_ptr_eq(hfs_index_at(ix, e->parent), look(ix, "onnx"));

    e = look(ix, "a/b/c/deep.txt");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->size, 1);
    const hfs_ientry *c = hfs_index_at(ix, e->parent);
    ck_assert_str_eq(path_of(ix, c), "a/b/c");

    /* Directories, explicit and implied. */
    static const char *dirs[] = {"onnx", "empty", "a", "a/b", "a/b/c"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        e = look(ix, dirs[i]);
        ck_assert_msg(e != NULL, "directory \"%s\" missing", dirs[i]);
        ck_assert_uint_eq(e->is_dir, 1);
        ck_assert_uint_eq(e->size, 0);
        ck_assert_int_eq(e->etag_kind, HFS_ETAG_NONE);
        ck_assert_int_eq(e->mtime, 1600000000);
    }
    ck_assert_uint_eq(look(ix, "empty")->nchildren, 0);
    ck_assert_uint_eq(look(ix, "a")->nchildren, 2);     /* b, top.txt */
    ck_assert_uint_eq(look(ix, "a/b")->nchildren, 1);   /* c */
    ck_assert_uint_eq(look(ix, "a/b/c")->nchildren, 1); /* deep.txt */
    ck_assert_uint_eq(look(ix, "onnx")->nchildren, 1);

    /* Missing paths and near misses. */
    static const char *missing[] = {"nope",
                                    "onnx/x",
                                    "READ",
                                    "readme.md",
                                    "README.md/x",
                                    "a/b/c/deep",
                                    "a/b/c/deep.txt/",
                                    "onnx/",
                                    "/onnx",
                                    "a//b",
                                    "b",
                                    "c"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        ck_assert_msg(look(ix, missing[i]) == NULL, "\"%s\" should be missing", missing[i]);
    /* Only `len` bytes count. */
    ck_assert_ptr_eq(hfs_index_lookup(ix, "a/b/c/deep.txt", 3), look(ix, "a/b"));
    ck_assert_ptr_null(hfs_index_lookup(ix, "README.md", 4));

    check_structure(ix);
    hfs_index_close(ix);
}
END_TEST

START_TEST(children_sorted)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "sorted.idx");
    hfs_index_builder *b = hfs_ib_new();
    /* Names whose order depends on bytes around '/', '-', '.', case, and UTF-8. Added in an
     * order that is neither sorted nor reverse sorted. */
    static const char *files[] = {
        "x/a0",
        "x/a/f",
        "x/a-b/f",
        "x/a.b",
        "x/B",
        "x/a/z/f",
        "x/a-b/e",
        "x/\xc3\xa9",
        "x/Z",
        "x/a/e",
        "y",
        "x/a/z/e",
        "xa",
        "x-",
        "x.",
        "w/x/y/z",
        "x/a/z/d/1",
        "x/ab",
        "x/\xe6\x97\xa5",
        "x/a b",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        add(b, file_e(files[i], i + 1, OID_1, NULL, NULL, 0), 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    check_structure(ix);

    /* The exact listing of x, by strcmp order. */
    static const char *want[] = {"B",   "Z",  "a",  "a b",      "a-b",
                                 "a.b", "a0", "ab", "\xc3\xa9", "\xe6\x97\xa5"};
    const hfs_ientry *x = look(ix, "x");
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->nchildren, sizeof want / sizeof want[0]);
    for (uint32_t k = 0; k < x->nchildren; k++) {
        char nb[64];
        ck_assert_str_eq(name_of(ix, hfs_index_at(ix, x->first_child + k), nb, sizeof nb), want[k]);
    }
    static const char *want_root[] = {"w", "x", "x-", "x.", "xa", "y"};
    const hfs_ientry *root = hfs_index_at(ix, 0);
    ck_assert_uint_eq(root->nchildren, 6);
    for (uint32_t k = 0; k < root->nchildren; k++) {
        char nb[64];
        ck_assert_str_eq(name_of(ix, hfs_index_at(ix, root->first_child + k), nb, sizeof nb),
                         want_root[k]);
    }
    static const char *want_az[] = {"d", "e", "f"};
    const hfs_ientry *az = look(ix, "x/a/z");
    ck_assert_uint_eq(az->nchildren, 3);
    for (uint32_t k = 0; k < az->nchildren; k++) {
        char nb[64];
        ck_assert_str_eq(name_of(ix, hfs_index_at(ix, az->first_child + k), nb, sizeof nb),
                         want_az[k]);
    }
    /* Every file kept its own size. */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const hfs_ientry *e = look(ix, files[i]);
        ck_assert_msg(e != NULL, "\"%s\" missing", files[i]);
        ck_assert_uint_eq(e->size, i + 1);
    }
    hfs_index_close(ix);
}
END_TEST

START_TEST(empty_index)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "empty.idx");
    ck_assert_int_eq(hfs_ib_write(hfs_ib_new(), p, 42), 0);
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    ck_assert_uint_eq(hfs_index_count(ix), 1);
    const hfs_ientry *root = look(ix, "");
    ck_assert_ptr_eq(root, hfs_index_at(ix, 0));
    ck_assert_uint_eq(root->is_dir, 1);
    ck_assert_uint_eq(root->nchildren, 0);
    ck_assert_int_eq(root->mtime, 42);
    ck_assert_ptr_null(look(ix, "x"));
    check_structure(ix);
    hfs_index_close(ix);
}
END_TEST

START_TEST(etags)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "etag.idx");
    hfs_index_builder *b = hfs_ib_new();
    add(b, file_e("git", 1, OID_1, NULL, NULL, 0), 0);
    add(b, file_e("lfs", 1, OID_1, SHA_A, NULL, 0), 0);
    add(b, file_e("lfs_xet", 1, OID_1, SHA_A, XET_C, 0), 0); /* repos name blobs by sha256 */
    add(b, file_e("none", 1, NULL, NULL, NULL, 0), 0);
    add(b, dir_e("dir"), 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    const hfs_ientry *e = look(ix, "git");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_GITSHA1);
    ck_assert_str_eq(e->etag, OID_1);
    e = look(ix, "lfs");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_SHA256);
    ck_assert_str_eq(e->etag, SHA_A);
    e = look(ix, "lfs_xet");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_SHA256);
    ck_assert_str_eq(e->etag, SHA_A);
    e = look(ix, "none");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_NONE);
    ck_assert_str_eq(e->etag, "");
    e = look(ix, "dir");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_NONE); /* a tree oid is no blob name */
    ck_assert_str_eq(e->etag, "");
    hfs_index_close(ix);

    /* Buckets: the xet hash names the content. */
    ipath(p, sizeof p, "bucket.idx");
    b = hfs_ib_new();
    add(b, file_e("neuronxcc/MODULE_1/model.neff", 9, NULL, NULL, XET_C, 1700000000), 1);
    add(b, file_e("both", 1, NULL, SHA_B, XET_C, 0), 1);
    add(b, file_e("noxet", 1, NULL, SHA_B, NULL, 0), 1);
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    e = look(ix, "neuronxcc/MODULE_1/model.neff");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_XET);
    ck_assert_str_eq(e->etag, XET_C);
    ck_assert_uint_eq(e->size, 9);
    ck_assert_int_eq(e->mtime, 1700000000);
    e = look(ix, "both");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_XET);
    ck_assert_str_eq(e->etag, XET_C);
    e = look(ix, "noxet");
    ck_assert_int_eq(e->etag_kind, HFS_ETAG_SHA256);
    ck_assert_str_eq(e->etag, SHA_B);
    ck_assert_uint_eq(look(ix, "neuronxcc")->is_dir, 1);
    ck_assert_uint_eq(look(ix, "neuronxcc/MODULE_1")->is_dir, 1);
    check_structure(ix);
    hfs_index_close(ix);
}
END_TEST

START_TEST(dedupe)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "dup.idx");
    hfs_index_builder *b = hfs_ib_new();
    add(b, file_e("a/f", 5, OID_1, NULL, NULL, 0), 0);
    add(b, file_e("a/f", 5, OID_1, NULL, NULL, 0), 0); /* listed twice (pagination overlap) */
    add(b, file_e("a/g", 6, OID_1, NULL, NULL, 0), 0);
    add(b, dir_e("a"), 0);                               /* explicit and implied */
    add(b, dir_e("a/"), 0);                              /* same, with a trailing '/' */
    add(b, file_e("/a/g", 6, OID_1, NULL, NULL, 0), 0);  /* same, with a leading '/' */
    add(b, file_e("x/y/z", 1, OID_1, NULL, NULL, 0), 0); /* implies x, x/y */
    add(b, file_e("x/y/w", 1, OID_1, NULL, NULL, 0), 0); /* implies x, x/y again */
    add(b, file_e("x/v/u", 1, OID_1, NULL, NULL, 0), 0); /* implies x again, x/v */
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    /* root, a, a/f, a/g, x, x/y, x/y/z, x/y/w, x/v, x/v/u */
    ck_assert_uint_eq(hfs_index_count(ix), 10);
    ck_assert_uint_eq(look(ix, "a")->nchildren, 2);
    ck_assert_uint_eq(look(ix, "x")->nchildren, 2);
    ck_assert_uint_eq(look(ix, "x/y")->nchildren, 2);
    ck_assert_uint_eq(look(ix, "a/f")->size, 5);
    ck_assert_uint_eq(hfs_index_at(ix, 0)->nchildren, 2);
    check_structure(ix);
    hfs_index_close(ix);
}
END_TEST

START_TEST(bad_server_paths)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "bad.idx");
    hfs_index_builder *b = hfs_ib_new();
    static const char *refused[] = {"..",
                                    ".",
                                    "../etc/passwd",
                                    "a/../../x",
                                    "a/..",
                                    "./x",
                                    "a/./b",
                                    "a/.",
                                    "a//b",
                                    "/",
                                    "",
                                    "//",
                                    "/../x",
                                    "x/../../../root/.ssh/k"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        hfs_tree_entry e = file_e(refused[i], 1, OID_1, NULL, NULL, 0);
        ck_assert_int_le(hfs_ib_add(b, &e, 0), 0);
    }
    add(b, file_e("/abs/file", 3, OID_1, NULL, NULL, 0), 0); /* leading '/' is cleaned */
    add(b, file_e("//abs2", 4, OID_1, NULL, NULL, 0), 0);
    add(b, file_e("ok/..x/x..", 5, OID_1, NULL, NULL, 0), 0); /* not dot components */
    add(b, file_e("ok/.hidden", 6, OID_1, NULL, NULL, 0), 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    /* root, abs, abs/file, abs2, ok, ok/..x, ok/..x/x.., ok/.hidden */
    ck_assert_uint_eq(hfs_index_count(ix), 8);
    ck_assert_uint_eq(look(ix, "abs/file")->size, 3);
    ck_assert_uint_eq(look(ix, "abs")->is_dir, 1);
    ck_assert_uint_eq(look(ix, "abs2")->size, 4);
    ck_assert_uint_eq(look(ix, "ok/..x/x..")->size, 5);
    ck_assert_uint_eq(look(ix, "ok/.hidden")->size, 6);
    for (uint32_t i = 0; i < hfs_index_count(ix); i++) {
        const char *s = path_of(ix, hfs_index_at(ix, i));
        ck_assert_msg(s[0] != '/', "entry \"%s\" starts with '/'", s);
        ck_assert_msg(!strstr(s, "//"), "entry \"%s\" has an empty component", s);
        char buf[512];
        snprintf(buf, sizeof buf, "/%s/", s);
        ck_assert_msg(!strstr(buf, "/../") && !strstr(buf, "/./"), "entry \"%s\" escapes", s);
    }
    ck_assert_ptr_null(look(ix, "etc/passwd"));
    ck_assert_ptr_null(look(ix, "etc"));
    ck_assert_ptr_null(look(ix, "x"));
    ck_assert_ptr_null(look(ix, "root"));
    ck_assert_ptr_null(look(ix, "a"));
    check_structure(ix);
    hfs_index_close(ix);
}
END_TEST

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

START_TEST(ten_thousand)
{
    char p[PATH_MAX];
    ipath(p, sizeof p, "big.idx");
    enum { NDIR = 100, NFILE = 100 };
    double t0 = now_ms();
    hfs_index_builder *b = hfs_ib_new();
    char path[64];
    /* Added in reverse order to make the builder sort. */
    for (int d = NDIR - 1; d >= 0; d--)
        for (int f = NFILE - 1; f >= 0; f--) {
            snprintf(path, sizeof path, "d%03d/f%05d.bin", d, d * NFILE + f);
            add(b, file_e(path, (uint64_t)(d * NFILE + f), OID_1, NULL, NULL, 0), 0);
        }
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    double t1 = now_ms();
    hfs_index *ix = hfs_index_open(p);
    ck_assert_ptr_nonnull(ix);
    double t2 = now_ms();
    int found = 0;
    for (int d = 0; d < NDIR; d++)
        for (int f = 0; f < NFILE; f++) {
            snprintf(path, sizeof path, "d%03d/f%05d.bin", d, d * NFILE + f);
            const hfs_ientry *e = look(ix, path);
            if (e && !e->is_dir && e->size == (uint64_t)(d * NFILE + f)) found++;
        }
    double t3 = now_ms();
    ck_assert_int_eq(found, NDIR * NFILE);
    ck_assert_uint_eq(hfs_index_count(ix), 1 + NDIR + NDIR * NFILE);
    for (int i = 0; i < 1000; i++) {
        snprintf(path, sizeof path, "d%03d/g%05d.bin", i % NDIR, i);
        ck_assert_ptr_null(look(ix, path));
    }
    fprintf(stderr, "index: %d entries: build+write %.1f ms, open %.3f ms, %d lookups %.2f ms\n",
            NDIR * NFILE, t1 - t0, t2 - t1, found, t3 - t2);
    const hfs_ientry *root = hfs_index_at(ix, 0);
    ck_assert_uint_eq(root->nchildren, NDIR);
    for (int d = 0; d < NDIR; d++) {
        snprintf(path, sizeof path, "d%03d", d);
        const hfs_ientry *e = look(ix, path);
        ck_assert_uint_eq(hfs_index_id(ix, e), root->first_child + (uint32_t)d);
        ck_assert_uint_eq(e->nchildren, NFILE);
    }
    check_structure(ix);
    hfs_index_close(ix);
}
END_TEST

/* The on-disk header as index.c writes it (version HFSIDX02); used to craft bad files. */
typedef struct {
    char magic[8];
    uint32_t count, slots;
    uint64_t entries_off, hash_off, str_off, str_len, total;
    int64_t mtime;
} disk_header;

static size_t read_file(const char *p, char **buf)
{
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    *buf = malloc((size_t)st.st_size + 1);
    ck_assert_int_eq(read(fd, *buf, (size_t)st.st_size), st.st_size);
    close(fd);
    return (size_t)st.st_size;
}

static void write_file(const char *p, const void *buf, size_t len)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static void expect_invalid(const char *p, const char *what)
{
    errno = 0;
    hfs_index *ix = hfs_index_open(p);
    ck_assert_msg(ix == NULL, "%s: hfs_index_open accepted a bad file", what);
    ck_assert_int_ne(errno, 0);
}

START_TEST(corrupt)
{
    hfs_index *ix = small_repo();
    hfs_index_close(ix);
    char good[PATH_MAX], bad[PATH_MAX];
    ipath(good, sizeof good, "trees/models--acme--tiny/abc.idx");
    ipath(bad, sizeof bad, "bad.idx");
    char *buf;
    size_t len = read_file(good, &buf);
    disk_header h;
    memcpy(&h, buf, sizeof h);
    ck_assert_int_eq(memcmp(h.magic, "HFSIDX02", 8), 0); /* layout this test knows */
    ck_assert_uint_eq(h.total, len);

    errno = 0;
    ck_assert_ptr_null(hfs_index_open(bad)); /* missing */
    ck_assert_int_eq(errno, ENOENT);

    /* Truncated anywhere, or with bytes appended. */
    size_t cuts[] = {0, 1, 7, sizeof h - 1, sizeof h, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(bad, buf, cuts[i]);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", cuts[i]);
        expect_invalid(bad, what);
    }
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    write_file(bad, longer, len + 1);
    expect_invalid(bad, "one byte appended");
    free(longer);

    /* Any single bit flipped in the header fields before mtime. */
    for (size_t off = 0; off < offsetof(disk_header, mtime); off++)
        for (int bit = 0; bit < 8; bit++) {
            buf[off] ^= (char)(1 << bit);
            write_file(bad, buf, len);
            char what[64];
            snprintf(what, sizeof what, "header byte %zu bit %d flipped", off, bit);
            expect_invalid(bad, what);
            buf[off] ^= (char)(1 << bit);
        }

    /* Headers that are self-consistent but point outside the file. */
    disk_header c;
    c = h; /* no entries at all (not even the root) */
    c.count = 0;
    c.hash_off = c.entries_off;
    c.slots = 16;
    c.str_off = c.hash_off + 16 * 4;
    c.str_len = c.total - c.str_off;
    memcpy(buf, &c, sizeof c);
    write_file(bad, buf, len);
    expect_invalid(bad, "count 0");

    c = h; /* a hash table far larger than the file */
    c.slots = 1u << 30;
    memcpy(buf, &c, sizeof c);
    write_file(bad, buf, len);
    expect_invalid(bad, "hash table beyond the end");

    c = h; /* entries "before" the map: entries_off + count * size wraps around */
    c.entries_off = (uint64_t)0 - 8;
    c.hash_off = c.entries_off + (uint64_t)c.count * sizeof(hfs_ientry);
    memcpy(buf, &c, sizeof c);
    write_file(bad, buf, len);
    expect_invalid(bad, "entries offset wraps around");

    c = h; /* string table offset wrapping around */
    c.str_off = c.total + 4096;
    c.str_len = c.total - c.str_off; /* str_off + str_len == total modulo 2^64 */
    memcpy(buf, &c, sizeof c);
    write_file(bad, buf, len);
    expect_invalid(bad, "string offset wraps around");

    /* The good file still opens after all that (nothing was cached). */
    ix = hfs_index_open(good);
    ck_assert_ptr_nonnull(ix);
    ck_assert_ptr_nonnull(look(ix, "onnx/model.onnx"));
    hfs_index_close(ix);
    free(buf);
}
END_TEST

START_TEST(rewrite_atomic)
{
    /* A second write replaces the file; a reader that mapped the first keeps its view. */
    char p[PATH_MAX];
    ipath(p, sizeof p, "re.idx");
    hfs_index_builder *b = hfs_ib_new();
    add(b, file_e("one", 1, OID_1, NULL, NULL, 0), 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    hfs_index *a = hfs_index_open(p);
    ck_assert_ptr_nonnull(a);
    b = hfs_ib_new();
    add(b, file_e("two", 2, OID_1, NULL, NULL, 0), 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 0), 0);
    hfs_index *z = hfs_index_open(p);
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_nonnull(look(a, "one"));
    ck_assert_ptr_null(look(a, "two"));
    ck_assert_ptr_nonnull(look(z, "two"));
    ck_assert_ptr_null(look(z, "one"));
    hfs_index_close(a);
    hfs_index_close(z);
    /* No temp files left behind. */
    DIR *dir = opendir(g_dir);
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    for (struct dirent *de; (de = readdir(dir));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(dir);
    ck_assert_int_eq(n, 1);
}
END_TEST

Suite *suite_index(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, root_and_lookup);
    tcase_add_test(tc, children_sorted);
    tcase_add_test(tc, empty_index);
    tcase_add_test(tc, etags);
    tcase_add_test(tc, dedupe);
    tcase_add_test(tc, bad_server_paths);
    tcase_add_test(tc, ten_thousand);
    tcase_add_test(tc, corrupt);
    tcase_add_test(tc, rewrite_atomic);
    suite_add_tcase(s, tc);
    return s;
}
