/* The write calls of the network module: preupload, LFS batch + upload + verify, commit. Same
 * transfer loop and error style as net_hub.c (one "hfshim:" line per failure, retries with
 * backoff on 408/429/5xx and connection errors), with the wording of a write: a 403 means the
 * token cannot write. The token goes only to HF_ENDPOINT's origin (net_http.c's setup), so an
 * upload href on the storage host gets no Authorization header. */
#include "net_commit.h"
#include "libc.h"
#include "net_commit_json.h"
#include "net_http.h"
#include "net_urlenc.h"
#include "config.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREUPLOAD_CHUNK 256 /* files per preupload call, as huggingface_hub sends them */
#define LFS_CHUNK 100       /* objects per LFS batch call */
#define REPLY_MAX (64u << 20)
#define LFS_CT "application/vnd.git-lfs+json"

/* Why the last attempt failed, worded for a write; returns the errno. */
static int describe(const hfs_xfer *x, char *msg, size_t n)
{
    if (x->local_err) {
        snprintf(msg, n, "%s", x->local_msg[0] ? x->local_msg : strerror(-x->local_err));
        return x->local_err;
    }
    if (x->curl_rc) {
        snprintf(msg, n, "%s (%s)",
                 x->curl_rc == CURLE_OPERATION_TIMEDOUT ? "timed out" : "connection failed",
                 x->curl_err);
        return -EIO;
    }
    const char *tok = hfs_cfg_token();
    int to_hub = x->url && hfs_url_same_origin(x->url, hfs_cfg()->endpoint);
    char hub[300];
    int rc = hfs_http_map_error(x->status, x->err_code, x->err_msg, x->body.p, x->body.len,
                                tok[0] != 0, hub, sizeof hub);
    if (!to_hub && x->status >= 400)
        snprintf(msg, n, "upload server (signed URL from the Hub) answered HTTP %ld", x->status);
    else if (x->status == 401 && !tok[0])
        snprintf(msg, n, "no token: set HF_TOKEN to a token with write access (%s)", hub);
    else if (x->status == 401 || x->status == 403)
        snprintf(msg, n, "no write access: the token cannot write to this repo (%s)", hub);
    else
        snprintf(msg, n, "%s", hub);
    return rc;
}

typedef struct {
    const char *name, *op;
    int rc;
    int stale_ok; /* a 412 is an answer (-ESTALE), not an error */
} wcall;

static int w_step(hfs_xfer *x, void *arg)
{
    wcall *a = arg;
    if (!x->curl_rc && !x->local_err && x->status >= 200 && x->status < 300) {
        a->rc = 0;
        return HFS_XFER_DONE;
    }
    if (!x->curl_rc && !x->local_err && x->status == 412 && a->stale_ok) {
        a->rc = -ESTALE;
        return HFS_XFER_DONE;
    }
    char why[600], end[200];
    int64_t d = hfs_http_next_attempt(x, hfs_mono_ms(), end, sizeof end);
    if (d >= 0) {
        x->failures++;
        describe(x, why, sizeof why);
        hfs_info("%s: %s: %s; retry %d of %d in %.2f s", a->name, a->op, why, x->failures,
                 HFS_HTTP_ATTEMPTS - 1, (double)d / 1000);
        x->delay_ms = d;
        return HFS_XFER_AGAIN;
    }
    a->rc = describe(x, why, sizeof why);
    if (x->status >= 300 && x->status < 400 && !x->curl_rc)
        snprintf(why, sizeof why, "unexpected redirect (HTTP %ld)", x->status);
    hfs_err("%s: %s: %s%s%s", a->name, a->op, why, end[0] ? ": " : "", end);
    return HFS_XFER_DONE;
}

/* Runs one request to its final answer; a 2xx body stays in x->body. */
static int run(const char *name, const char *op, hfs_xfer *x, int stale_ok)
{
    if (!x->url) {
        hfs_err("%s: %s: out of memory", name, op);
        return -ENOMEM;
    }
    if (hfs_cfg()->offline) {
        hfs_err("%s: offline mode (HF_HUB_OFFLINE=1): not pushing", name);
        return -ENETUNREACH;
    }
    if (!x->body_max) x->body_max = REPLY_MAX;
    wcall a = {name, op, -EIO, stale_ok};
    int r = hfs_http_run(&x, 1, 1, w_step, NULL, &a);
    if (r) {
        hfs_err("%s: %s: cannot set up HTTP (%s)", name, op, strerror(-r));
        return r;
    }
    return a.rc;
}

/* endpoint + "/api/" + {type}s + "/" + id + "/" + action + "/" + quoted rev */
static char *api_url(const hfs_repo_id *r, const char *action, const char *rev)
{
    char *qid = hfs_quote(r->id, "/"), *qrev = hfs_quote(rev, "");
    char *u = qid && qrev ? hfs_strjoin(hfs_cfg()->endpoint, "/api/", hfs_type_plural(r->type), "/",
                                        qid, "/", action, "/", qrev, NULL)
                          : NULL;
    free(qid);
    free(qrev);
    return u;
}

int hfs_hub_preupload(const hfs_repo_id *r, const char *rev, hfs_upload_file *f, int n,
                      char head_out[41])
{
    char name[HFS_ID_MAX + 16];
    hfs_repo_name(r, name, sizeof name);
    head_out[0] = 0;
    if (r->type == HFS_BUCKET) return -ENOTSUP;
    int rc = 0;
    for (int i = 0; i < n && !rc; i += PREUPLOAD_CHUNK) {
        int k = n - i < PREUPLOAD_CHUNK ? n - i : PREUPLOAD_CHUNK;
        char *body = hfs_json_preupload_body(f + i, k);
        hfs_xfer x = {0};
        x.url = body ? api_url(r, "preupload", rev) : NULL;
        x.method = "POST";
        x.post = body;
        x.post_len = body ? strlen(body) : 0;
        x.post_type = "application/json";
        rc = run(name, "POST preupload", &x, 0);
        if (!rc) {
            char err[128], head[41];
            rc = hfs_json_preupload_reply(x.body.p, x.body.len, f + i, k, head, err, sizeof err);
            if (rc)
                hfs_err("%s: POST preupload: %s", name, err);
            else if (head[0])
                memcpy(head_out, head, 41);
        }
        hfs_xfer_clear(&x);
        free(body);
    }
    return rc;
}

/* PUT the file's bytes to the storage URL the Hub gave (never with the token unless that URL
 * is on the Hub itself), then the verify call if there is one. */
static int upload_one(const char *name, hfs_upload_file *f, const hfs_lfs_action *a)
{
    char op[400];
    snprintf(op, sizeof op, "upload %.300s", f->path);
    if (a->multipart) {
        hfs_err("%s: %s: the Hub asked for a multipart upload, which hfshim does not do yet", name,
                op);
        return -EIO;
    }
    int fd = hfs_libc()->open(f->local, O_RDONLY | O_CLOEXEC, 0);
    struct stat st;
    if (fd < 0 || hfs_libc()->fstat(fd, &st)) {
        int e = errno;
        if (fd >= 0) hfs_libc()->close(fd);
        hfs_err("%s: %s: cannot open %s: %s", name, op, f->local, strerror(e));
        return -e;
    }
    if ((uint64_t)st.st_size != f->size) {
        hfs_libc()->close(fd);
        hfs_err("%s: %s: %s changed while pushing (size %lld, expected %llu); push again", name, op,
                f->local, (long long)st.st_size, (unsigned long long)f->size);
        return -EAGAIN;
    }
    void *map = hfs_libc()->mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    hfs_libc()->close(fd);
    if (map == MAP_FAILED) {
        int e = errno;
        hfs_err("%s: %s: cannot map %s: %s", name, op, f->local, strerror(e));
        return -e;
    }
    hfs_xfer x = {0};
    x.url = strdup(a->upload);
    x.method = "PUT";
    x.post = map;
    x.post_len = (size_t)f->size;
    long stall = hfs_cfg()->timeout > 0 ? hfs_cfg()->timeout : 30;
    x.max_time_s = 300 + stall + (long)(f->size >> 16); /* slow but moving uploads finish */
    int rc = run(name, op, &x, 0);
    hfs_xfer_clear(&x);
    munmap(map, (size_t)f->size);
    if (rc || !a->verify) return rc;
    char body[160];
    snprintf(body, sizeof body, "{\"oid\":\"%s\",\"size\":%llu}", f->sha256,
             (unsigned long long)f->size);
    snprintf(op, sizeof op, "verify %.300s", f->path);
    x.url = strdup(a->verify);
    x.method = "POST";
    x.post = body;
    x.post_len = strlen(body);
    x.post_type = LFS_CT;
    x.accept = LFS_CT;
    rc = run(name, op, &x, 0);
    hfs_xfer_clear(&x);
    return rc;
}

int hfs_hub_lfs_upload(const hfs_repo_id *r, const char *rev, hfs_upload_file *f, int n)
{
    char name[HFS_ID_MAX + 16];
    hfs_repo_name(r, name, sizeof name);
    if (r->type == HFS_BUCKET) return -ENOTSUP;
    hfs_upload_file **objs = calloc((size_t)n + 1, sizeof *objs);
    hfs_lfs_action *acts = calloc(LFS_CHUNK, sizeof *acts);
    char *qid = hfs_quote(r->id, "/");
    char *url = qid ? hfs_strjoin(hfs_cfg()->endpoint, "/", hfs_type_url_prefix(r->type), qid,
                                  ".git/info/lfs/objects/batch", NULL)
                    : NULL;
    free(qid);
    int rc = objs && acts && url ? 0 : -ENOMEM;
    int m = 0;
    for (int i = 0; i < n && !rc; i++)
        if (f[i].lfs) objs[m++] = &f[i];
    for (int i = 0; i < m && !rc; i += LFS_CHUNK) {
        int k = m - i < LFS_CHUNK ? m - i : LFS_CHUNK, na = 0;
        char *body = hfs_json_lfs_batch_body(objs + i, k, rev);
        hfs_xfer x = {0};
        x.url = body ? strdup(url) : NULL;
        x.method = "POST";
        x.post = body;
        x.post_len = body ? strlen(body) : 0;
        x.post_type = LFS_CT;
        x.accept = LFS_CT;
        rc = run(name, "POST lfs batch", &x, 0);
        if (!rc) {
            char err[128];
            rc = hfs_json_lfs_batch_reply(x.body.p, x.body.len, acts, LFS_CHUNK, &na, err,
                                          sizeof err);
            if (rc) hfs_err("%s: POST lfs batch: %s", name, err);
        }
        hfs_xfer_clear(&x);
        free(body);
        for (int j = 0; j < k && !rc; j++) {
            hfs_upload_file *o = objs[i + j];
            const hfs_lfs_action *a = NULL;
            for (int q = 0; q < na && !a; q++)
                if (!strcmp(acts[q].oid, o->sha256)) a = &acts[q];
            if (!a) {
                hfs_err("%s: POST lfs batch: the reply does not mention %s", name, o->path);
                rc = -EIO;
            } else if (a->error[0]) {
                hfs_err("%s: LFS upload of %s refused: %s", name, o->path, a->error);
                rc = -EIO;
            } else if (a->upload) {
                hfs_info("%s: uploading %s (%llu bytes)", name, o->path,
                         (unsigned long long)o->size);
                rc = upload_one(name, o, a);
                o->uploaded = !rc;
            } else {
                o->uploaded = 0; /* the Hub has these bytes already */
            }
        }
        hfs_lfs_actions_free(acts, na);
    }
    if (rc == -ENOMEM) hfs_err("%s: LFS upload: out of memory", name);
    free(url);
    free(acts);
    free(objs);
    return rc;
}

/* Reads a whole file that must still have the size it had when the push was planned. */
static int slurp(const char *path, uint64_t size, char **out)
{
    *out = NULL;
    int fd = hfs_libc()->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct stat st;
    if (hfs_libc()->fstat(fd, &st) || (uint64_t)st.st_size != size) {
        hfs_libc()->close(fd);
        return -EAGAIN;
    }
    char *p = malloc(size ? size : 1);
    size_t got = 0;
    while (p && got < size) {
        ssize_t r = hfs_libc()->read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    hfs_libc()->close(fd);
    if (!p) return -ENOMEM;
    if (got != size) {
        free(p);
        return -EAGAIN;
    }
    *out = p;
    return 0;
}

int hfs_hub_commit(const hfs_repo_id *r, const char *branch, const char *summary,
                   const char *description, const char *parent, const hfs_commit_op *ops, int n,
                   char sha_out[41])
{
    char name[HFS_ID_MAX + 16];
    hfs_repo_name(r, name, sizeof name);
    if (r->type == HFS_BUCKET) return -ENOTSUP;
    /* The body is built line by line; inline files are small (the Hub takes regular files up
     * to 10 MiB; anything larger went through LFS). */
    hfs_buf b = {0};
    int rc = hfs_ndjson_header(&b, summary, description, parent);
    for (int i = 0; i < n && !rc; i++) {
        const hfs_commit_op *o = &ops[i];
        if (o->kind == HFS_OP_FILE) {
            char *data;
            rc = slurp(o->local, o->size, &data);
            if (rc == -EAGAIN)
                hfs_err("%s: %s changed while pushing; push again", name, o->path);
            else if (rc)
                hfs_err("%s: cannot read %s (%s): %s", name, o->path, o->local, strerror(-rc));
            else
                rc = hfs_ndjson_file(&b, o->path, data, (size_t)o->size);
            free(data);
        } else if (o->kind == HFS_OP_LFS) {
            rc = hfs_ndjson_lfs(&b, o->path, o->sha256, o->size);
        } else {
            rc = hfs_ndjson_delete(&b, o->path, o->kind == HFS_OP_DEL_FOLDER);
        }
    }
    if (rc) {
        if (rc == -ENOMEM) hfs_err("%s: commit: out of memory", name);
        hfs_buf_free(&b);
        return rc;
    }
    char op[HFS_REV_MAX + 16];
    snprintf(op, sizeof op, "POST commit/%s", branch);
    hfs_xfer x = {0};
    x.url = api_url(r, "commit", branch);
    x.method = "POST";
    x.post = b.p;
    x.post_len = b.len;
    x.post_type = "application/x-ndjson";
    rc = run(name, op, &x, 1);
    if (!rc) {
        char err[128];
        rc = hfs_json_commit_reply(x.body.p, x.body.len, sha_out, err, sizeof err);
        if (rc) hfs_err("%s: %s: %s", name, op, err);
    }
    hfs_xfer_clear(&x);
    hfs_buf_free(&b);
    return rc;
}
