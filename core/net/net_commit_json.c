/* Bodies and replies of preupload, LFS batch and commit, on net_jdoc.h like net_json.c.
 * Strings we send go through hfs_json_quote; strings we keep through hfs_json_unescape. */
#include "net_commit_json.h"
#include "net_json.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *hfs_base64(const void *p, size_t n)
{
    /* EVP_EncodeBlock takes an int length: encode in steps of a multiple of 3 bytes. */
    size_t outlen = 4 * ((n + 2) / 3) + 1;
    char *out = malloc(outlen);
    if (!out) return NULL;
    const unsigned char *in = p;
    size_t o = 0;
    const size_t step = (size_t)3 << 20;
    do {
        size_t k = n < step ? n : step;
        o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, in, (int)k);
        in += k;
        n -= k;
    } while (n);
    out[o] = 0;
    return out;
}

/* ---- a parsed reply ---- */

typedef hfs_jdoc doc;

/* A reply that must be one JSON object: 0, or -1. */
static int parse(doc *d, const char *js, size_t len)
{
    if (!js || hfs_jdoc_parse(d, js, len)) return -1;
    return d->t[0].type == JSMN_OBJECT ? 0 : -1;
}

/* String value of token i, unescaped, into out (cut to fit). 0, or -1 if not a string. */
static int str(const doc *d, int i, char *out, size_t n)
{
    char *v = n ? hfs_jdoc_strdup(d, i) : NULL;
    if (!v) return -1;
    snprintf(out, n, "%s", v);
    free(v);
    return 0;
}

static int hex_ok(const char *s, size_t want)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return i == want;
}

static void lower(char *s)
{
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

/* ---- preupload ---- */

char *hfs_json_preupload_body(const hfs_upload_file *f, int n)
{
    hfs_buf b = {0};
    int bad = hfs_buf_str(&b, "{\"files\":[");
    for (int i = 0; i < n && !bad; i++) {
        char *q = hfs_json_quote(f[i].path), *s = hfs_base64(f[i].sample, f[i].sample_len);
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)f[i].size);
        bad |= !q || !s;
        if (!bad)
            bad |= hfs_buf_str(&b, i ? ",{\"path\":" : "{\"path\":") || hfs_buf_str(&b, q) ||
                   hfs_buf_str(&b, ",\"sample\":\"") || hfs_buf_str(&b, s) ||
                   hfs_buf_str(&b, "\",\"size\":") || hfs_buf_str(&b, num) || hfs_buf_str(&b, "}");
        free(q);
        free(s);
    }
    bad |= hfs_buf_str(&b, "]}");
    if (bad) hfs_buf_free(&b);
    return b.p;
}

int hfs_json_preupload_reply(const char *js, size_t len, hfs_upload_file *f, int n, char head[41],
                             char *err, size_t errsz)
{
    doc d;
    head[0] = 0;
    if (parse(&d, js, len)) {
        hfs_jdoc_free(&d);
        return hfs_jdoc_fail(err, errsz, "preupload reply was not valid JSON");
    }
    int rc = 0, files = hfs_jdoc_member(&d, 0, "files");
    char *seen = calloc((size_t)n + 1, 1);
    if (!seen || files < 0 || d.t[files].type != JSMN_ARRAY) {
        rc = hfs_jdoc_fail(err, errsz,
                           seen ? "preupload reply has no \"files\" list" : "out of memory");
        goto out;
    }
    char h[64];
    if (!str(&d, hfs_jdoc_member(&d, 0, "commitOid"), h, sizeof h) && hex_ok(h, 40)) {
        lower(h);
        memcpy(head, h, 41);
    }
    for (int k = files + 1; k < d.n && d.t[k].start < d.t[files].end; k = hfs_jdoc_skip(&d, k)) {
        char path[4096], mode[16] = "", oid[80] = "";
        if (d.t[k].type != JSMN_OBJECT ||
            str(&d, hfs_jdoc_member(&d, k, "path"), path, sizeof path)) {
            rc = hfs_jdoc_fail(err, errsz, "preupload reply has a file without a path");
            goto out;
        }
        str(&d, hfs_jdoc_member(&d, k, "uploadMode"), mode, sizeof mode);
        str(&d, hfs_jdoc_member(&d, k, "oid"), oid, sizeof oid);
        for (int i = 0; i < n; i++) {
            if (seen[i] || strcmp(f[i].path, path)) continue;
            seen[i] = 1;
            f[i].lfs = !strcmp(mode, "lfs") && f[i].size > 0;
            f[i].ignore = hfs_jdoc_is_true(&d, hfs_jdoc_member(&d, k, "shouldIgnore"));
            f[i].remote_oid[0] = 0;
            if (hex_ok(oid, 40) || hex_ok(oid, 64)) {
                lower(oid);
                snprintf(f[i].remote_oid, sizeof f[i].remote_oid, "%s", oid);
            }
            break;
        }
    }
    for (int i = 0; i < n; i++)
        if (!seen[i]) {
            rc = hfs_jdoc_fail(err, errsz, "preupload reply does not mention every file");
            break;
        }
out:
    free(seen);
    hfs_jdoc_free(&d);
    return rc;
}

/* ---- LFS batch ---- */

char *hfs_json_lfs_batch_body(hfs_upload_file *const *objs, int n, const char *rev)
{
    hfs_buf b = {0};
    /* Only "basic": this client does not do multipart uploads (parts need their ETags). */
    int bad = hfs_buf_str(&b, "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[");
    for (int i = 0; i < n && !bad; i++) {
        char o[160];
        snprintf(o, sizeof o, "%s{\"oid\":\"%s\",\"size\":%llu}", i ? "," : "", objs[i]->sha256,
                 (unsigned long long)objs[i]->size);
        bad |= hfs_buf_str(&b, o);
    }
    bad |= hfs_buf_str(&b, "],\"hash_algo\":\"sha256\"");
    if (rev && *rev) {
        char *q = hfs_json_quote(rev);
        bad |= !q || hfs_buf_str(&b, ",\"ref\":{\"name\":") || hfs_buf_str(&b, q) ||
               hfs_buf_str(&b, "}");
        free(q);
    }
    bad |= hfs_buf_str(&b, "}");
    if (bad) hfs_buf_free(&b);
    return b.p;
}

void hfs_lfs_actions_free(hfs_lfs_action *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].upload);
        free(a[i].verify);
        a[i].upload = a[i].verify = NULL;
    }
}

int hfs_json_lfs_batch_reply(const char *js, size_t len, hfs_lfs_action *out, int max, int *nout,
                             char *err, size_t errsz)
{
    doc d;
    *nout = 0;
    if (parse(&d, js, len)) {
        hfs_jdoc_free(&d);
        return hfs_jdoc_fail(err, errsz, "LFS batch reply was not valid JSON");
    }
    int rc = 0, objs = hfs_jdoc_member(&d, 0, "objects");
    char transfer[32] = "";
    str(&d, hfs_jdoc_member(&d, 0, "transfer"), transfer, sizeof transfer);
    if (transfer[0] && strcmp(transfer, "basic")) {
        rc = hfs_jdoc_fail(err, errsz, "the Hub chose a transfer other than basic");
        goto out;
    }
    if (objs < 0 || d.t[objs].type != JSMN_ARRAY) {
        rc = hfs_jdoc_fail(err, errsz, "LFS batch reply has no \"objects\" list");
        goto out;
    }
    for (int k = objs + 1; k < d.n && d.t[k].start < d.t[objs].end; k = hfs_jdoc_skip(&d, k)) {
        if (*nout == max) {
            rc = hfs_jdoc_fail(err, errsz, "LFS batch reply has more objects than asked for");
            goto out;
        }
        hfs_lfs_action *a = &out[*nout];
        memset(a, 0, sizeof *a);
        char oid[80] = "";
        if (d.t[k].type != JSMN_OBJECT || str(&d, hfs_jdoc_member(&d, k, "oid"), oid, sizeof oid) ||
            !hex_ok(oid, 64)) {
            rc = hfs_jdoc_fail(err, errsz, "LFS batch reply has an object without a valid oid");
            goto out;
        }
        lower(oid);
        memcpy(a->oid, oid, 65);
        (*nout)++;
        int e = hfs_jdoc_member(&d, k, "error");
        if (e >= 0 && str(&d, hfs_jdoc_member(&d, e, "message"), a->error, sizeof a->error))
            snprintf(a->error, sizeof a->error, "error without a message");
        int act = hfs_jdoc_member(&d, k, "actions");
        int up = hfs_jdoc_member(&d, act, "upload"), ver = hfs_jdoc_member(&d, act, "verify");
        if (up >= 0) {
            a->upload = hfs_jdoc_strdup(&d, hfs_jdoc_member(&d, up, "href"));
            if (!a->upload) {
                rc = hfs_jdoc_fail(err, errsz, "LFS batch reply has an upload action without href");
                goto out;
            }
            a->multipart =
                hfs_jdoc_member(&d, hfs_jdoc_member(&d, up, "header"), "chunk_size") >= 0;
        }
        if (ver >= 0) a->verify = hfs_jdoc_strdup(&d, hfs_jdoc_member(&d, ver, "href"));
    }
out:
    if (rc) hfs_lfs_actions_free(out, *nout);
    hfs_jdoc_free(&d);
    return rc;
}

/* ---- commit ---- */

static int kv_line(hfs_buf *b, const char *key, const char *value_json)
{
    return hfs_buf_str(b, "{\"key\":\"") || hfs_buf_str(b, key) ||
           hfs_buf_str(b, "\",\"value\":") || hfs_buf_str(b, value_json) || hfs_buf_str(b, "}\n");
}

int hfs_ndjson_header(hfs_buf *b, const char *summary, const char *description, const char *parent)
{
    char *s = hfs_json_quote(summary ? summary : ""),
         *d = hfs_json_quote(description ? description : "");
    hfs_buf v = {0};
    int bad = !s || !d || hfs_buf_str(&v, "{\"summary\":") || hfs_buf_str(&v, s) ||
              hfs_buf_str(&v, ",\"description\":") || hfs_buf_str(&v, d);
    if (!bad && parent && *parent) {
        char *p = hfs_json_quote(parent);
        bad = !p || hfs_buf_str(&v, ",\"parentCommit\":") || hfs_buf_str(&v, p);
        free(p);
    }
    bad = bad || hfs_buf_str(&v, "}") || kv_line(b, "header", v.p);
    free(s);
    free(d);
    hfs_buf_free(&v);
    return bad ? -ENOMEM : 0;
}

int hfs_ndjson_file(hfs_buf *b, const char *path, const void *data, size_t len)
{
    char *q = hfs_json_quote(path), *c = hfs_base64(data, len);
    int bad = !q || !c || hfs_buf_str(b, "{\"key\":\"file\",\"value\":{\"content\":\"") ||
              hfs_buf_str(b, c) || hfs_buf_str(b, "\",\"path\":") || hfs_buf_str(b, q) ||
              hfs_buf_str(b, ",\"encoding\":\"base64\"}}\n");
    free(q);
    free(c);
    return bad ? -ENOMEM : 0;
}

int hfs_ndjson_lfs(hfs_buf *b, const char *path, const char *sha256, uint64_t size)
{
    char *q = hfs_json_quote(path);
    char tail[160];
    snprintf(tail, sizeof tail, ",\"algo\":\"sha256\",\"oid\":\"%s\",\"size\":%llu}", sha256,
             (unsigned long long)size);
    int bad = !q || hfs_buf_str(b, "{\"key\":\"lfsFile\",\"value\":{\"path\":") ||
              hfs_buf_str(b, q) || hfs_buf_str(b, tail) || hfs_buf_str(b, "}\n");
    free(q);
    return bad ? -ENOMEM : 0;
}

int hfs_ndjson_delete(hfs_buf *b, const char *path, int folder)
{
    char *q = hfs_json_quote(path);
    int bad = !q ||
              hfs_buf_str(b, folder ? "{\"key\":\"deletedFolder\",\"value\":{\"path\":"
                                    : "{\"key\":\"deletedFile\",\"value\":{\"path\":") ||
              hfs_buf_str(b, q) || hfs_buf_str(b, "}}\n");
    free(q);
    return bad ? -ENOMEM : 0;
}

int hfs_json_commit_reply(const char *js, size_t len, char sha[41], char *err, size_t errsz)
{
    doc d;
    int rc = 0;
    char s[64];
    if (parse(&d, js, len))
        rc = hfs_jdoc_fail(err, errsz, "commit reply was not valid JSON");
    else if (str(&d, hfs_jdoc_member(&d, 0, "commitOid"), s, sizeof s) || !hex_ok(s, 40))
        rc = hfs_jdoc_fail(err, errsz, "commit reply has no valid commitOid");
    else {
        lower(s);
        memcpy(sha, s, 41);
    }
    hfs_jdoc_free(&d);
    return rc;
}
