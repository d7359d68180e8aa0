/* Hub JSON replies -> entries, revisions, dates, error messages; and string escapes. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "net_json.h"

#define MAXE 16
typedef struct {
    int n, stop_after;
    hfs_tree_entry e[MAXE];
    char path[MAXE][256];
} coll;

static int collect(const hfs_tree_entry *e, void *arg)
{
    coll *c = arg;
    ck_assert_int_lt(c->n, MAXE);
    c->e[c->n] = *e;
    strncpy(c->path[c->n], e->path, 255);
    c->e[c->n].path = c->path[c->n];
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static hfs_json_skips g_skips;

static int parse(const char *js, coll *c, char *err)
{
    memset(c, 0, sizeof *c);
    return hfs_json_entries(js, strlen(js), collect, c, err, 128, &g_skips);
}

START_TEST(tree_page_shapes)
{
    /* Real values from huggingface.js list-files.spec.ts, plus a directory. */
    const char *js =
        "[{\"type\":\"file\",\"oid\":\"dc08351d4dc0732d9c8af04070ced089b201ce2f\",\"size\":345,"
        "\"path\":\".gitattributes\"},\n"
        " {\"type\":\"file\",\"oid\":\"ba5d19791be1dd7992e33bd61f20207b0f7f50a5\",\"size\":"
        "440473133,"
        "\"path\":\"pytorch_model.bin\",\"lfs\":{\"oid\":"
        "\"097417381d6c7230bd9e3557456d726de6e83245ec8b24f529f60198a67b203a\",\"size\":440473133,"
        "\"pointerSize\":134},\"xetHash\":"
        "\"2d8408d3a894d02517d04956e2f7546ff08362594072f3527ce144b5212a3296\"},"
        " {\"type\":\"directory\",\"oid\":\"0123456789abcdef0123456789abcdef01234567\",\"size\":0,"
        "\"path\":\"onnx\"}]";
    coll c;
    char err[128];
    ck_assert_int_eq(parse(js, &c, err), 0);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.e[0].path, ".gitattributes");
    ck_assert_int_eq(c.e[0].is_dir, 0);
    ck_assert_uint_eq(c.e[0].size, 345);
    ck_assert_str_eq(c.e[0].oid, "dc08351d4dc0732d9c8af04070ced089b201ce2f");
    ck_assert_str_eq(c.e[0].lfs_sha256, "");
    ck_assert_str_eq(c.e[0].xet_hash, "");
    ck_assert_uint_eq(c.e[1].size, 440473133);
    ck_assert_str_eq(c.e[1].lfs_sha256,
                     "097417381d6c7230bd9e3557456d726de6e83245ec8b24f529f60198a67b203a");
    ck_assert_str_eq(c.e[1].xet_hash,
                     "2d8408d3a894d02517d04956e2f7546ff08362594072f3527ce144b5212a3296");
    ck_assert_int_eq(c.e[2].is_dir, 1);
    ck_assert_str_eq(c.e[2].path, "onnx");
}
END_TEST

START_TEST(tree_page_expand_and_unknown_keys)
{
    const char *js = "[{\"type\":\"file\",\"oid\":\"DC08351D4DC0732D9C8AF04070CED089B201CE2F\","
                     "\"size\":1,\"path\":\"a\",\"lastCommit\":{\"id\":\"x\",\"title\":\"t\","
                     "\"date\":\"2024-01-02T03:04:05.000Z\"},\"securityFileStatus\":{\"status\":"
                     "\"safe\",\"nested\":[1,2,{\"k\":null}]},\"extra\":true},"
                     "{\"type\":\"unknown\",\"path\":\"weird\"}]";
    coll c;
    char err[128];
    ck_assert_int_eq(parse(js, &c, err), 0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(c.e[0].oid, "dc08351d4dc0732d9c8af04070ced089b201ce2f");
    ck_assert_int_eq(c.e[0].mtime, 1704164645);
}
END_TEST

START_TEST(bucket_shapes)
{
    const char *js =
        "[{\"type\":\"file\",\"path\":\"a/b.bin\",\"size\":123,\"xetHash\":"
        "\"aa08d3a894d02517d04956e2f7546ff08362594072f3527ce144b5212a3296aa\",\"mtime\":"
        "\"2025-03-04T05:06:07Z\",\"uploadedAt\":\"2025-03-05T00:00:00Z\"},"
        "{\"type\":\"directory\",\"path\":\"a\",\"uploadedAt\":\"2025-03-05T00:00:00+01:00\"},"
        "{\"type\":\"file\",\"path\":\"c\",\"size\":0,\"mtime\":1741064767000}]";
    coll c;
    char err[128];
    ck_assert_int_eq(parse(js, &c, err), 0);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.e[0].oid, "");
    ck_assert_int_eq(c.e[0].mtime, 1741064767);
    ck_assert_int_eq(c.e[1].is_dir, 1);
    ck_assert_int_eq(c.e[1].mtime, 1741132800 - 3600); /* 00:00+01:00 */
    ck_assert_int_eq(c.e[2].mtime, 1741064767);
}
END_TEST

START_TEST(escapes_in_paths)
{
    const char *js = "[{\"type\":\"file\",\"size\":1,\"path\":\"q\\\"b\\\\s\\/x\\u00fc\\u20ac"
                     "\\ud83d\\ude00 \\t.txt\"},"
                     "{\"type\":\"file\",\"size\":2,\"path\":\"raw-ü.txt\"}]";
    coll c;
    char err[128];
    ck_assert_int_eq(parse(js, &c, err), 0);
    ck_assert_int_eq(c.n, 2);
    ck_assert_str_eq(c.e[0].path, "q\"b\\s/x\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80 \t.txt");
    ck_assert_str_eq(c.e[1].path, "raw-ü.txt");
}
END_TEST

START_TEST(unsafe_paths_skipped)
{
    const char *js = "[{\"type\":\"file\",\"size\":1,\"path\":\"../etc/passwd\"},"
                     "{\"type\":\"file\",\"size\":1,\"path\":\"/abs\"},"
                     "{\"type\":\"file\",\"size\":1,\"path\":\"a//b\"},"
                     "{\"type\":\"file\",\"size\":1,\"path\":\"a/./b\"},"
                     "{\"type\":\"file\",\"size\":1,\"path\":\"\"},"
                     "{\"type\":\"file\",\"size\":1,\"path\":\"ok/..x\"}]";
    coll c;
    char err[128];
    ck_assert_int_eq(parse(js, &c, err), 0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(c.e[0].path, "ok/..x");
    ck_assert_int_eq(g_skips.n, 5);
    ck_assert_str_eq(g_skips.path, "../etc/passwd");
    ck_assert_ptr_nonnull(strstr(g_skips.why, "not relative"));
}
END_TEST

START_TEST(bad_entries_skipped)
{
    /* One unusable entry costs that entry, not the listing. */
    static const struct {
        const char *entry, *path, *why;
    } bad[] = {
        {"{\"type\":\"file\",\"path\":\"a\",\"size\":-1}", "a", "size"},
        {"{\"type\":\"file\",\"path\":\"a\",\"size\":\"1\"}", "a", "size"},
        {"{\"type\":\"file\",\"path\":\"a\",\"size\":9223372036854775808}", "a", "2^63"},
        {"{\"type\":\"file\",\"path\":\"a\",\"size\":18446744073709551615}", "a", "size"},
        {"{\"type\":\"file\",\"path\":\"a\",\"size\":184467440737095516150}", "a", "size"},
        {"{\"type\":\"file\",\"path\":\"a\\u0000b\",\"size\":1}", "", "path"},
        {"{\"type\":\"file\",\"path\":\"\\ud800x\",\"size\":1}", "", "path"},
        {"{\"type\":\"file\",\"path\":5,\"size\":1}", "", "path"},
        {"{\"type\":\"file\",\"size\":1}", "", "no path"},
        {"{\"path\":\"a\",\"size\":1}", "a", "no type"},
        {"\"a\"", "", "object"},
        {"7", "", "object"},
        {"[1,2]", "", "object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char js[512];
        snprintf(js, sizeof js,
                 "[{\"type\":\"file\",\"path\":\"x\",\"size\":2},%s,"
                 "{\"type\":\"file\",\"path\":\"y\",\"size\":9223372036854775807}]",
                 bad[i].entry);
        coll c;
        char err[128] = "";
        ck_assert_msg(parse(js, &c, err) == 0, "case %zu: %s", i, err);
        ck_assert_msg(c.n == 2, "case %zu: %d entries", i, c.n);
        ck_assert_str_eq(c.e[1].path, "y");
        ck_assert_uint_eq(c.e[1].size, 9223372036854775807ULL);
        ck_assert_int_eq(g_skips.n, 1);
        ck_assert_msg(!strcmp(g_skips.path, bad[i].path), "case %zu: path %s", i, g_skips.path);
        ck_assert_msg(strstr(g_skips.why, bad[i].why), "case %zu: %s", i, g_skips.why);
    }
}
END_TEST

START_TEST(garbage_is_an_error)
{
    static const char *bad[] = {
        "",
        "<html>502 Bad Gateway</html>",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":1}",    /* cut short */
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":1}] x", /* trailing junk */
        "[{\"type\":\"file\",\"path\":\"\\q\",\"size\":1}]", /* bad escape: not JSON */
        "{\"error\":\"x\"}", /* an object where an array is expected */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        coll c;
        char err[128] = "";
        int rc = parse(bad[i], &c, err);
        ck_assert_msg(rc == -EIO, "case %zu: rc %d", i, rc);
        ck_assert_msg(err[0], "case %zu: no message", i);
        ck_assert_int_eq(c.n, 0);
    }
    coll c;
    char err[128];
    parse("nope", &c, err);
    ck_assert_str_eq(err, "reply was not valid JSON");
}
END_TEST

START_TEST(callback_stops)
{
    const char *js = "[{\"type\":\"file\",\"size\":1,\"path\":\"a\"},"
                     "{\"type\":\"file\",\"size\":1,\"path\":\"b\"}]";
    coll c;
    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    char err[128];
    ck_assert_int_eq(hfs_json_entries(js, strlen(js), collect, &c, err, sizeof err, NULL), 1);
    ck_assert_int_eq(c.n, 1);
}
END_TEST

static int count(const hfs_tree_entry *e, void *arg)
{
    ((int *)arg)[e->is_dir]++;
    return 0;
}

START_TEST(big_page)
{
    /* Many entries: the token array must grow; a directory for every 10th entry. */
    size_t cap = 30000 * 120, len = 0;
    char *js = malloc(cap);
    js[len++] = '[';
    for (int i = 0; i < 30000; i++)
        len += (size_t)snprintf(js + len, cap - len,
                                "%s{\"type\":\"%s\",\"size\":%d,\"path\":\"d/f%05d\"}",
                                i ? "," : "", i % 10 ? "file" : "directory", i, i);
    js[len++] = ']';
    int counts[2] = {0, 0};
    char err[128];
    ck_assert_int_eq(hfs_json_entries(js, len, count, counts, err, sizeof err, NULL), 0);
    ck_assert_int_eq(counts[0] + counts[1], 30000);
    ck_assert_int_eq(counts[1], 3000);
    free(js);
}
END_TEST

START_TEST(revision_reply)
{
    const char *js =
        "{\"_id\":\"638f\",\"id\":\"stabilityai/stable-diffusion-2-1\",\"private\":"
        "false,\"sha\":\"5cae40e6a2745ae2b01ad92ae5043f95f23644d6\",\"lastModified\":"
        "\"2023-07-05T16:19:17.000Z\",\"siblings\":[{\"rfilename\":\".gitattributes\"}]}";
    char sha[41], err[128];
    int64_t t = -1;
    ck_assert_int_eq(hfs_json_revision(js, strlen(js), sha, &t, err, sizeof err), 0);
    ck_assert_str_eq(sha, "5cae40e6a2745ae2b01ad92ae5043f95f23644d6");
    ck_assert_int_eq(t, 1688573957);

    const char *nolm = "{\"sha\":\"5CAE40E6A2745AE2B01AD92AE5043F95F23644D6\"}";
    ck_assert_int_eq(hfs_json_revision(nolm, strlen(nolm), sha, &t, err, sizeof err), 0);
    ck_assert_str_eq(sha, "5cae40e6a2745ae2b01ad92ae5043f95f23644d6");
    ck_assert_int_eq(t, 0);

    static const char *bad[] = {"{\"sha\":\"abc\"}",
                                "{\"sha\":null}",
                                "{}",
                                "{\"sha\":\"5cae40e6a2745ae2b01ad92ae5043f95f23644dz\"}",
                                "[\"5cae40e6a2745ae2b01ad92ae5043f95f23644d6\"]",
                                "garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(hfs_json_revision(bad[i], strlen(bad[i]), sha, &t, err, sizeof err), -EIO);
}
END_TEST

/* A revision reply with blobs=true, and the tree page of the same commit. */
#define SIB_SHA "5cae40e6a2745ae2b01ad92ae5043f95f23644d6"
#define GITATTR_OID "dc08351d4dc0732d9c8af04070ced089b201ce2f"
#define PTR_OID "ba5d19791be1dd7992e33bd61f20207b0f7f50a5"
#define LFS_SHA "097417381d6c7230bd9e3557456d726de6e83245ec8b24f529f60198a67b203a"

static int listing(const char *js, coll *c, int *listed, char *err)
{
    memset(c, 0, sizeof *c);
    char sha[41];
    int64_t t;
    return hfs_json_revision_listing(js, strlen(js), sha, &t, collect, c, listed, err, 128,
                                     &g_skips);
}

START_TEST(siblings_are_the_tree_listing)
{
    const char *rev =
        "{\"_id\":\"638f\",\"id\":\"acme/x\",\"sha\":\"" SIB_SHA "\",\"lastModified\":"
        "\"2023-07-05T16:19:17.000Z\",\"private\":false,\"siblings\":["
        "{\"rfilename\":\".gitattributes\",\"blobId\":\"" GITATTR_OID "\",\"size\":345},"
        "{\"rfilename\":\"onnx/model.bin\",\"blobId\":\"" PTR_OID "\",\"size\":440473133,"
        "\"lfs\":{\"sha256\":\"" LFS_SHA "\",\"size\":440473133,\"pointerSize\":134}},"
        "{\"rfilename\":\"d\\u00e9j\\u00e0.txt\",\"blobId\":\"" GITATTR_OID "\",\"size\":0}]}";
    const char *tree =
        "[{\"type\":\"file\",\"oid\":\"" GITATTR_OID "\",\"size\":345,\"path\":\".gitattributes\"},"
        "{\"type\":\"file\",\"oid\":\"" PTR_OID "\",\"size\":440473133,\"path\":\"onnx/model.bin\","
        "\"lfs\":{\"oid\":\"" LFS_SHA "\",\"size\":440473133,\"pointerSize\":134}},"
        "{\"type\":\"file\",\"oid\":\"" GITATTR_OID
        "\",\"size\":0,\"path\":\"d\\u00e9j\\u00e0.txt\"}]";
    coll a, b;
    char err[128], sha[41];
    int listed = -1;
    int64_t t = 0;
    memset(&a, 0, sizeof a);
    ck_assert_int_eq(hfs_json_revision_listing(rev, strlen(rev), sha, &t, collect, &a, &listed, err,
                                               sizeof err, &g_skips),
                     0);
    ck_assert_int_eq(listed, 1);
    ck_assert_str_eq(sha, SIB_SHA);
    ck_assert_int_eq(t, 1688573957);
    ck_assert_int_eq(g_skips.n, 0);
    ck_assert_int_eq(parse(tree, &b, err), 0);
    ck_assert_int_eq(a.n, 3);
    ck_assert_int_eq(b.n, 3);
    for (int i = 0; i < 3; i++) {
        /* what the index keeps of an entry: the same from both */
        ck_assert_str_eq(a.e[i].path, b.e[i].path);
        ck_assert_int_eq(a.e[i].is_dir, b.e[i].is_dir);
        ck_assert_uint_eq(a.e[i].size, b.e[i].size);
        ck_assert_str_eq(a.e[i].oid, b.e[i].oid);
        ck_assert_str_eq(a.e[i].lfs_sha256, b.e[i].lfs_sha256);
        ck_assert_int_eq(a.e[i].mtime, b.e[i].mtime);
        ck_assert_str_eq(a.e[i].xet_hash, "");
    }
    ck_assert_str_eq(a.e[1].lfs_sha256, LFS_SHA);
    ck_assert_str_eq(a.e[2].path, "d\xc3\xa9j\xc3\xa0.txt");
}
END_TEST

START_TEST(siblings_that_cannot_stand_for_the_listing)
{
    static const char *cases[] = {
        /* none, an empty list, not a list */
        "{\"sha\":\"" SIB_SHA "\"}",
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":[]}",
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":{\"rfilename\":\"a\"}}",
        /* asked without blobs=true: no size, no blobId */
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":[{\"rfilename\":\"a\"}]}",
        /* one of them without its size, a null size, or without its blob id */
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":[{\"rfilename\":\"a\",\"blobId\":\"" PTR_OID
        "\",\"size\":1},{\"rfilename\":\"b\",\"blobId\":\"" PTR_OID "\"}]}",
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":[{\"rfilename\":\"a\",\"blobId\":\"" PTR_OID
        "\",\"size\":null}]}",
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":[{\"rfilename\":\"a\",\"size\":1}]}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        coll c;
        char err[128];
        int listed = -1;
        ck_assert_int_eq(listing(cases[i], &c, &listed, err), 0);
        ck_assert_int_eq(listed, 0);
        ck_assert_int_eq(c.n, 0);
    }
}
END_TEST

static int count_files(const hfs_tree_entry *e, void *arg)
{
    (void)e;
    (*(int *)arg)++;
    return 0;
}

/* n siblings: listed only up to HFS_SIBLINGS_MAX (beyond, the Hub may have cut the list). */
static int listed_with(int n, int *got)
{
    size_t cap = (size_t)n * 100 + 100, len = 0;
    char *js = malloc(cap);
    len += (size_t)snprintf(js, cap, "{\"sha\":\"" SIB_SHA "\",\"siblings\":[");
    for (int i = 0; i < n; i++)
        len +=
            (size_t)snprintf(js + len, cap - len,
                             "%s{\"rfilename\":\"f%05d\",\"blobId\":\"" PTR_OID "\",\"size\":%d}",
                             i ? "," : "", i, i);
    len += (size_t)snprintf(js + len, cap - len, "]}");
    char sha[41], err[128];
    int listed = -1;
    *got = 0;
    ck_assert_int_eq(hfs_json_revision_listing(js, len, sha, NULL, count_files, got, &listed, err,
                                               sizeof err, NULL),
                     0);
    free(js);
    return listed;
}

START_TEST(siblings_up_to_a_thousand)
{
    int got;
    ck_assert_int_eq(listed_with(1, &got), 1);
    ck_assert_int_eq(got, 1);
    ck_assert_int_eq(listed_with(HFS_SIBLINGS_MAX, &got), 1);
    ck_assert_int_eq(got, HFS_SIBLINGS_MAX);
    ck_assert_int_eq(listed_with(HFS_SIBLINGS_MAX + 1, &got), 0);
    ck_assert_int_eq(got, 0);
}
END_TEST

START_TEST(bad_siblings_skipped)
{
    /* As in a tree page: each unusable one is skipped and counted, the first one named. */
    const char *js =
        "{\"sha\":\"" SIB_SHA "\",\"siblings\":["
        "{\"rfilename\":\"../etc/passwd\",\"blobId\":\"" PTR_OID "\",\"size\":1},"
        "7,"
        "{\"rfilename\":\"/abs\",\"blobId\":\"" PTR_OID "\",\"size\":1},"
        "{\"rfilename\":\"neg\",\"blobId\":\"" PTR_OID "\",\"size\":-1},"
        "{\"rfilename\":\"huge\",\"blobId\":\"" PTR_OID "\",\"size\":9223372036854775808},"
        "{\"rfilename\":5,\"blobId\":\"" PTR_OID "\",\"size\":1},"
        "{\"blobId\":\"" PTR_OID "\",\"size\":1},"
        "{\"rfilename\":\"a//b\",\"blobId\":\"" PTR_OID "\",\"size\":1},"
        "{\"rfilename\":\"ok.txt\",\"blobId\":\"" PTR_OID "\",\"size\":9223372036854775807}]}";
    coll c;
    char err[128];
    int listed = -1;
    ck_assert_int_eq(listing(js, &c, &listed, err), 0);
    ck_assert_int_eq(listed, 1);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(c.e[0].path, "ok.txt");
    ck_assert_uint_eq(c.e[0].size, 9223372036854775807ull);
    ck_assert_int_eq(g_skips.n, 8);
    ck_assert_str_eq(g_skips.path, "../etc/passwd");
    ck_assert_ptr_nonnull(strstr(g_skips.why, "not relative"));
}
END_TEST

START_TEST(siblings_errors_and_stop)
{
    coll c;
    char err[128];
    int listed = -1;
    /* not a revision: -EIO, whatever its siblings */
    ck_assert_int_eq(listing("garbage", &c, &listed, err), -EIO);
    ck_assert_int_eq(listing("[{\"rfilename\":\"a\"}]", &c, &listed, err), -EIO);
    ck_assert_int_eq(listing("{\"siblings\":[{\"rfilename\":\"a\",\"blobId\":\"" PTR_OID
                             "\",\"size\":1}]}",
                             &c, &listed, err),
                     -EIO);
    ck_assert_int_eq(listed, 0);
    ck_assert_int_eq(c.n, 0);
    /* the callback stops: 1, and the listing is not complete */
    const char *js = "{\"sha\":\"" SIB_SHA "\",\"siblings\":["
                     "{\"rfilename\":\"a\",\"blobId\":\"" PTR_OID "\",\"size\":1},"
                     "{\"rfilename\":\"b\",\"blobId\":\"" PTR_OID "\",\"size\":1}]}";
    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    char sha[41];
    ck_assert_int_eq(hfs_json_revision_listing(js, strlen(js), sha, NULL, collect, &c, &listed, err,
                                               sizeof err, NULL),
                     1);
    ck_assert_int_eq(listed, 0);
    ck_assert_int_eq(c.n, 1);
}
END_TEST

START_TEST(bucket_info_reply)
{
    const char *js = "{\"id\":\"acme/cache\",\"private\":false,\"createdAt\":"
                     "\"2025-01-01T00:00:00Z\",\"size\":10,\"totalFiles\":2,\"updatedAt\":"
                     "\"2025-03-04T05:06:07.123+00:00\"}";
    int64_t t = 0;
    char err[128];
    ck_assert_int_eq(hfs_json_bucket_info(js, strlen(js), &t, err, sizeof err), 0);
    ck_assert_int_eq(t, 1741064767);
    ck_assert_int_eq(hfs_json_bucket_info("oops", 4, &t, err, sizeof err), -EIO);
}
END_TEST

START_TEST(iso_dates)
{
    int64_t t;
    ck_assert_int_eq(hfs_iso8601("1970-01-01T00:00:00Z", 20, &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(hfs_iso8601("2023-07-05T16:19:17.000Z", 24, &t), 0);
    ck_assert_int_eq(t, 1688573957);
    ck_assert_int_eq(hfs_iso8601("2023-07-05T18:19:17+02:00", 25, &t), 0);
    ck_assert_int_eq(t, 1688573957);
    ck_assert_int_eq(hfs_iso8601("2023-07-05T11:19:17-0500", 24, &t), 0);
    ck_assert_int_eq(t, 1688573957);
    ck_assert_int_eq(hfs_iso8601("2023-07-05", 10, &t), 0);
    ck_assert_int_eq(t, 1688515200);
    ck_assert_int_eq(hfs_iso8601("2023-07-05T16:19:17.123456", 26, &t), 0);
    ck_assert_int_eq(t, 1688573957);
    ck_assert_int_eq(hfs_iso8601("2023-13-05T16:19:17Z", 20, &t), -1);
    ck_assert_int_eq(hfs_iso8601("yesterday", 9, &t), -1);
    ck_assert_int_eq(hfs_iso8601("2023-07-05T16:19:17Zjunk", 24, &t), -1);
}
END_TEST

START_TEST(error_messages)
{
    char m[128];
    const char *a = "{\"error\":\"Repository not found\"}";
    hfs_json_error_message(a, strlen(a), m, sizeof m);
    ck_assert_str_eq(m, "Repository not found");
    const char *b = "{\"error\":[\"first\",\"second\"]}";
    hfs_json_error_message(b, strlen(b), m, sizeof m);
    ck_assert_str_eq(m, "first");
    const char *c = "{\"errors\":[{\"message\":\"bad\\nthing\"}]}";
    hfs_json_error_message(c, strlen(c), m, sizeof m);
    ck_assert_str_eq(m, "bad?thing");
    hfs_json_error_message("<html>", 6, m, sizeof m);
    ck_assert_str_eq(m, "");
}
END_TEST

START_TEST(unescape_and_quote)
{
    char out[64];
    ck_assert_int_eq(hfs_json_unescape("a\\u00e9", 7, out), 3);
    ck_assert_str_eq(out, "a\xc3\xa9");
    ck_assert_int_eq(hfs_json_unescape("\\ude00", 6, out), -1);
    ck_assert_int_eq(hfs_json_unescape("\\u12", 4, out), -1);
    ck_assert_int_eq(hfs_json_unescape("x\\", 2, out), -1);
    char *q = hfs_json_quote("a\"b\\c\nü");
    ck_assert_str_eq(q, "\"a\\\"b\\\\c\\u000aü\"");
    free(q);
}
END_TEST

Suite *suite_json(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, tree_page_shapes);
    tcase_add_test(tc, tree_page_expand_and_unknown_keys);
    tcase_add_test(tc, bucket_shapes);
    tcase_add_test(tc, escapes_in_paths);
    tcase_add_test(tc, unsafe_paths_skipped);
    tcase_add_test(tc, bad_entries_skipped);
    tcase_add_test(tc, garbage_is_an_error);
    tcase_add_test(tc, callback_stops);
    tcase_add_test(tc, big_page);
    tcase_add_test(tc, revision_reply);
    tcase_add_test(tc, siblings_are_the_tree_listing);
    tcase_add_test(tc, siblings_that_cannot_stand_for_the_listing);
    tcase_add_test(tc, siblings_up_to_a_thousand);
    tcase_add_test(tc, bad_siblings_skipped);
    tcase_add_test(tc, siblings_errors_and_stop);
    tcase_add_test(tc, bucket_info_reply);
    tcase_add_test(tc, iso_dates);
    tcase_add_test(tc, error_messages);
    tcase_add_test(tc, unescape_and_quote);
    suite_add_tcase(s, tc);
    return s;
}
