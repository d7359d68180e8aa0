/* Push, without a network: the request bodies and reply parsers of the write calls, and the
 * overlay scan (adds, modifications, whiteouts, opaque dirs, folder/file swaps) against a tree
 * index built here. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "suites.h"
#include "index.h"
#include "net.h"
#include "net_commit_json.h"
#include "push_scan.h"

START_TEST(base64)
{
    char *s = hfs_base64("hello\n", 6);
    ck_assert_str_eq(s, "aGVsbG8K");
    free(s);
    s = hfs_base64("", 0);
    ck_assert_str_eq(s, "");
    free(s);
    s = hfs_base64("\xff\xfe", 2);
    ck_assert_str_eq(s, "//4=");
    free(s);
}
END_TEST

START_TEST(preupload)
{
    hfs_upload_file f[3];
    memset(f, 0, sizeof f);
    f[0].path = "a.txt", f[0].size = 3, memcpy(f[0].sample, "abc", 3), f[0].sample_len = 3;
    f[1].path = "dir/\"q\".bin", f[1].size = 1000, f[1].sample_len = 0;
    f[2].path = "empty", f[2].size = 0;
    char *b = hfs_json_preupload_body(f, 3);
    ck_assert_str_eq(b, "{\"files\":[{\"path\":\"a.txt\",\"sample\":\"YWJj\",\"size\":3},"
                        "{\"path\":\"dir/\\\"q\\\".bin\",\"sample\":\"\",\"size\":1000},"
                        "{\"path\":\"empty\",\"sample\":\"\",\"size\":0}]}");
    free(b);
    const char *js = "{\"files\":[{\"path\":\"dir/\\\"q\\\".bin\",\"uploadMode\":\"lfs\","
                     "\"shouldIgnore\":false},{\"path\":\"a.txt\",\"uploadMode\":\"regular\","
                     "\"shouldIgnore\":true,\"oid\":\"1A42034850E2F5213E1A89A887747B667DC9D125\"},"
                     "{\"path\":\"empty\",\"uploadMode\":\"lfs\"}],"
                     "\"commitOid\":\"d052d85daa4e615c3554cecaa7dbdc2e4d179929\"}";
    char head[41], err[128];
    ck_assert_int_eq(hfs_json_preupload_reply(js, strlen(js), f, 3, head, err, sizeof err), 0);
    ck_assert_str_eq(head, "d052d85daa4e615c3554cecaa7dbdc2e4d179929");
    ck_assert_int_eq(f[0].lfs, 0);
    ck_assert_int_eq(f[0].ignore, 1);
    ck_assert_str_eq(f[0].remote_oid, "1a42034850e2f5213e1a89a887747b667dc9d125");
    ck_assert_int_eq(f[1].lfs, 1);
    ck_assert_str_eq(f[1].remote_oid, "");
    ck_assert_int_eq(f[2].lfs, 0); /* empty files are regular whatever the Hub says */
    const char *missing = "{\"files\":[{\"path\":\"a.txt\",\"uploadMode\":\"regular\"}]}";
    ck_assert_int_eq(
        hfs_json_preupload_reply(missing, strlen(missing), f, 3, head, err, sizeof err), -EIO);
    ck_assert_int_eq(hfs_json_preupload_reply("nope", 4, f, 3, head, err, sizeof err), -EIO);
}
END_TEST

START_TEST(lfs_batch)
{
    hfs_upload_file a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(a.sha256, 'a', 64), a.size = 10;
    memset(b.sha256, 'b', 64), b.size = 20;
    hfs_upload_file *objs[] = {&a, &b};
    char *body = hfs_json_lfs_batch_body(objs, 2, "main");
    ck_assert_ptr_nonnull(strstr(body, "\"operation\":\"upload\""));
    ck_assert_ptr_nonnull(strstr(body, "\"transfers\":[\"basic\"]"));
    ck_assert_ptr_nonnull(strstr(body, "{\"oid\":\"aaaa"));
    ck_assert_ptr_nonnull(strstr(body, "\"size\":20}"));
    ck_assert_ptr_nonnull(strstr(body, "\"ref\":{\"name\":\"main\"}"));
    free(body);
    char js[2048];
    snprintf(
        js, sizeof js,
        "{\"transfer\":\"basic\",\"objects\":["
        "{\"oid\":\"%.64s\",\"size\":10,\"actions\":{\"upload\":{\"href\":\"https://s3/x?sig=1\""
        "},\"verify\":{\"href\":\"https://hub/acme/x.git/info/lfs/objects/verify\"}}},"
        "{\"oid\":\"%.64s\",\"size\":20},"
        "{\"oid\":\"%064d\",\"size\":1,\"error\":{\"code\":422,\"message\":\"too big\"}},"
        "{\"oid\":\"%064d\",\"size\":1,\"actions\":{\"upload\":{\"href\":\"h\",\"header\":"
        "{\"chunk_size\":\"5\",\"1\":\"u1\"}}}}]}",
        a.sha256, b.sha256, 1, 2);
    hfs_lfs_action act[4];
    int n = 0;
    char err[128];
    ck_assert_int_eq(hfs_json_lfs_batch_reply(js, strlen(js), act, 4, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(act[0].upload, "https://s3/x?sig=1");
    ck_assert_str_eq(act[0].verify, "https://hub/acme/x.git/info/lfs/objects/verify");
    ck_assert_ptr_null(act[1].upload);
    ck_assert_str_eq(act[2].error, "too big");
    ck_assert_int_eq(act[3].multipart, 1);
    hfs_lfs_actions_free(act, n);
    ck_assert_int_eq(hfs_json_lfs_batch_reply(js, strlen(js), act, 2, &n, err, sizeof err), -EIO);
    const char *xet = "{\"transfer\":\"xet\",\"objects\":[]}";
    ck_assert_int_eq(hfs_json_lfs_batch_reply(xet, strlen(xet), act, 2, &n, err, sizeof err), -EIO);
}
END_TEST

START_TEST(ndjson_commit)
{
    hfs_buf b = {0};
    ck_assert_int_eq(
        hfs_ndjson_header(&b, "Upload \"x\"", "", "0123456789abcdef0123456789abcdef01234567"), 0);
    ck_assert_int_eq(hfs_ndjson_file(&b, "dir/a b.txt", "hi\n", 3), 0);
    char sha[65];
    memset(sha, 'c', 64), sha[64] = 0;
    ck_assert_int_eq(hfs_ndjson_lfs(&b, "w.bin", sha, 12345), 0);
    ck_assert_int_eq(hfs_ndjson_delete(&b, "old.txt", 0), 0);
    ck_assert_int_eq(hfs_ndjson_delete(&b, "olddir", 1), 0);
    char want[2048];
    snprintf(
        want, sizeof want,
        "{\"key\":\"header\",\"value\":{\"summary\":\"Upload \\\"x\\\"\",\"description\":\"\","
        "\"parentCommit\":\"0123456789abcdef0123456789abcdef01234567\"}}\n"
        "{\"key\":\"file\",\"value\":{\"content\":\"aGkK\",\"path\":\"dir/a b.txt\","
        "\"encoding\":\"base64\"}}\n"
        "{\"key\":\"lfsFile\",\"value\":{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":\"%s\","
        "\"size\":12345}}\n"
        "{\"key\":\"deletedFile\",\"value\":{\"path\":\"old.txt\"}}\n"
        "{\"key\":\"deletedFolder\",\"value\":{\"path\":\"olddir\"}}\n",
        sha);
    ck_assert_str_eq(b.p, want);
    hfs_buf_free(&b);
    char out[41], err[128];
    const char *js = "{\"success\":true,\"commitOid\":\"C52CE5E45984B9378EF6247FE7A45ED72B096B24\","
                     "\"commitUrl\":\"https://huggingface.co/x/commit/c52\",\"hookOutput\":\"\"}";
    ck_assert_int_eq(hfs_json_commit_reply(js, strlen(js), out, err, sizeof err), 0);
    ck_assert_str_eq(out, "c52ce5e45984b9378ef6247fe7a45ed72b096b24");
    ck_assert_int_eq(hfs_json_commit_reply("{\"success\":true}", 16, out, err, sizeof err), -EIO);
}
END_TEST

/* ---- the scan ---- */

static char g_dir[256];

static void put(const char *rel, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/upper/%s", g_dir, rel);
    for (char *s = strchr(p + strlen(g_dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static void entry(hfs_index_builder *b, const char *path, int dir, const char *content)
{
    hfs_tree_entry e;
    memset(&e, 0, sizeof e);
    e.path = path;
    e.is_dir = dir;
    if (!dir) {
        /* git blob sha1 of the content, as the Hub lists regular files */
        char tmp[300];
        snprintf(tmp, sizeof tmp, "%s/blob", g_dir);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
        ck_assert_int_eq(hfs_net_ops_v2(NULL)->git_sha1_file(tmp, e.oid), 0);
        e.size = strlen(content);
    }
    ck_assert_int_eq(hfs_ib_add(b, &e, 0), 0);
}

static int rm(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st, (void)f, (void)w;
    return remove(p);
}

START_TEST(scan)
{
    hfs_net_set_static(hfs_net_ops_v2(NULL));
    snprintf(g_dir, sizeof g_dir, "/tmp/hfshim-unit-push.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    hfs_index_builder *b = hfs_ib_new();
    entry(b, "README.md", 0, "readme\n");
    entry(b, "same.txt", 0, "same\n");
    entry(b, "mod.txt", 0, "old\n");
    entry(b, "gone.txt", 0, "x\n");
    entry(b, "a/x.txt", 0, "x\n");
    entry(b, "a/y.txt", 0, "y\n");
    entry(b, "opq/keep.txt", 0, "k\n");
    entry(b, "opq/drop.txt", 0, "d\n");
    entry(b, "opq/sub/deep.txt", 0, "d\n");
    entry(b, "f", 0, "file\n");
    char ixp[300];
    snprintf(ixp, sizeof ixp, "%s/ix", g_dir);
    ck_assert_int_eq(hfs_ib_write(b, ixp, 1), 0);
    hfs_index *ix = hfs_index_open(ixp);
    ck_assert_ptr_nonnull(ix);

    put("same.txt", "same\n");
    put("mod.txt", "new\n");
    put("new/n.txt", "n\n");
    put(".wh.gone.txt", "");
    put(".wh.never-existed", "");
    put(".wh.a", "");
    put("opq/.wh..wh..opq", "");
    put("opq/keep.txt", "k2\n");
    put("README.md", "readme\n");
    put("f/inside.txt", "i\n"); /* a folder where a file was */
    char up[300];
    snprintf(up, sizeof up, "%s/upper", g_dir);
    hfs_changes c;
    ck_assert_int_eq(hfs_scan_overlay("unit", up, ix, 0, NULL, &c), 0);
    char got[1024] = "";
    size_t o = 0;
    for (size_t i = 0; i < c.n; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%c %s;", c.v[i].kind, c.v[i].path);
    ck_assert_str_eq(got, "= README.md;d a;D f;A f/inside.txt;D gone.txt;M mod.txt;A new/n.txt;"
                          "D opq/drop.txt;M opq/keep.txt;d opq/sub;= same.txt;");
    ck_assert_uint_eq(hfs_changes_count(&c), 9);
    ck_assert_uint_eq(c.nm, 4); /* three whiteouts and the opaque marker */
    hfs_changes_free(&c);
    /* no overlay: no changes */
    snprintf(up, sizeof up, "%s/none", g_dir);
    ck_assert_int_eq(hfs_scan_overlay("unit", up, ix, 0, NULL, &c), 0);
    ck_assert_uint_eq(c.n, 0);
    hfs_index_close(ix);
    nftw(g_dir, rm, 8, FTW_DEPTH | FTW_PHYS);
}
END_TEST

Suite *suite_push(void)
{
    Suite *s = suite_create("push");
    TCase *t = tcase_create("push");
    tcase_add_test(t, base64);
    tcase_add_test(t, preupload);
    tcase_add_test(t, lfs_batch);
    tcase_add_test(t, ndjson_commit);
    tcase_add_test(t, scan);
    suite_add_tcase(s, t);
    return s;
}
