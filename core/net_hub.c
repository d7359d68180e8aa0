/* The Hub operations of the network module: revision, bucket info, tree listing, paths-info and
 * ranged fetches, on top of net_http's transfer loop. This is where the HTTP policy lives:
 * which replies are retried, how redirects are followed (by hand, so the token never leaves
 * HF_ENDPOINT's origin), how a Hub error becomes an errno and one "hfshim:" line. */
#include "net_http.h"
#include "net_json.h"
#include "net_pages.h"
#include "net_urlenc.h"
#include "config.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE_MAX (256u << 20) /* one listing page or reply; the Hub sends ~1000 entries */
#define MAX_PAGES 100000      /* a server whose pagination never ends */
#define MAX_REDIRECTS 10
#define PATHS_PER_CALL 1000 /* the Hub's limit for paths-info */
#define WBUF (256u << 10)   /* bytes gathered before a pwrite */
#define RCACHE_SLOTS 64
#define RCACHE_TTL_MS (10 * 60 * 1000) /* signed CDN URLs live longer; re-resolve on 403 anyway */

static int64_t mono_ms(void)
{
    return hfs_now_ms();
}

/* One line per repo (the log prints each distinct error once), whatever was asked. */
static int offline(const char *name, const char *op)
{
    (void)op;
    if (!hfs_cfg()->offline) return 0;
    hfs_err("%s: offline mode (HF_HUB_OFFLINE=1): not contacting the Hub", name);
    return -ENETUNREACH;
}

static int is_2xx(long st)
{
    return st >= 200 && st < 300;
}

/* Why the last attempt failed, and the errno it maps to. */
static int describe(const hfs_xfer *x, char *msg, size_t n)
{
    if (x->local_err) {
        snprintf(msg, n, "%s", x->local_msg[0] ? x->local_msg : strerror(-x->local_err));
        return x->local_err;
    }
    if (x->curl_rc) {
        if (x->curl_rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(msg, n, "timed out (%s)", x->curl_err);
        else
            snprintf(msg, n, "connection failed (%s)", x->curl_err);
        return -EIO;
    }
    const hfs_config *cfg = hfs_cfg();
    int to_hub = x->url && hfs_url_same_origin(x->url, cfg->endpoint);
    int rc = hfs_http_map_error(x->status, x->err_code, x->err_msg, x->body.p, x->body.len,
                                hfs_cfg_token()[0] != 0, msg, n);
    /* A refusal from a redirect target (CDN) is not about our token: it never saw it. */
    if (!to_hub && x->status >= 400 && x->status < 500 && x->status != 429)
        snprintf(msg, n, "download server (redirect target) answered HTTP %ld", x->status);
    return rc;
}

/* Shared end of a failed attempt: schedule a retry (HFS_XFER_AGAIN), or give up with one
 * error line and *rc set (HFS_XFER_DONE). */
static int retry_or_fail(hfs_xfer *x, const char *name, const char *op, int *rc)
{
    char why[400], end[200];
    int64_t d = hfs_http_next_attempt(x, mono_ms(), end, sizeof end);
    if (d >= 0) {
        x->failures++;
        describe(x, why, sizeof why);
        hfs_info("%s: %s: %s; retry %d of %d in %.2f s", name, op, why, x->failures,
                 HFS_HTTP_ATTEMPTS - 1, (double)d / 1000);
        x->delay_ms = d;
        return HFS_XFER_AGAIN;
    }
    *rc = describe(x, why, sizeof why);
    hfs_err("%s: %s: %s%s%s", name, op, why, end[0] ? ": " : "", end);
    return HFS_XFER_DONE;
}

/* ---- API calls (JSON replies, buffered) ---- */

typedef struct {
    const char *name, *op;
    int rc;
} api_call;

static int api_step(hfs_xfer *x, void *arg)
{
    api_call *a = arg;
    if (!x->curl_rc && x->status >= 300 && x->status < 400) {
        if (++x->redirects <= MAX_REDIRECTS && hfs_http_follow(x)) return HFS_XFER_AGAIN;
        char why[400];
        hfs_http_unfollowed(x, MAX_REDIRECTS, why, sizeof why);
        a->rc = -EIO;
        hfs_err("%s: %s: %s", a->name, a->op, why);
        return HFS_XFER_DONE;
    }
    if (!x->curl_rc && !x->local_err && is_2xx(x->status)) {
        a->rc = 0;
        return HFS_XFER_DONE;
    }
    return retry_or_fail(x, a->name, a->op, &a->rc);
}

/* Runs x (url/method set by the caller) to a final answer; the 2xx body is left in x->body. */
static int api_run(const char *name, const char *op, hfs_xfer *x)
{
    if (!x->url) {
        hfs_err("%s: %s: out of memory", name, op);
        return -ENOMEM;
    }
    x->body_max = PAGE_MAX;
    api_call a = {name, op, -EIO};
    int r = hfs_http_run(&x, 1, 1, api_step, NULL, &a);
    if (r) {
        hfs_err("%s: %s: cannot set up HTTP (%s)", name, op, strerror(-r));
        return r;
    }
    return a.rc;
}

/* endpoint + "/api/" + {type}s + "/" + quoted id */
static char *api_base(const hfs_repo_id *r)
{
    char *qid = hfs_quote(r->id, "/");
    char *u =
        qid ? hfs_strjoin(hfs_cfg()->endpoint, "/api/", hfs_type_plural(r->type), "/", qid, NULL)
            : NULL;
    free(qid);
    return u;
}

int hfs_hub_revision(const hfs_repo_id *r, const char *rev, char sha_out[41], int64_t *mtime)
{
    if (!rev || !*rev) rev = "main";
    char name[HFS_ID_MAX + 16], op[HFS_REV_MAX + 32];
    hfs_repo_name(r, name, sizeof name);
    snprintf(op, sizeof op, "GET revision/%.*s", HFS_REV_MAX, rev);
    if (r->type == HFS_BUCKET) return -EINVAL;
    int rc = offline(name, op);
    if (rc) return rc;
    char *base = api_base(r), *qrev = hfs_quote(rev, "");
    hfs_xfer x = {0};
    x.url = base && qrev ? hfs_strjoin(base, "/revision/", qrev, NULL) : NULL;
    free(base);
    free(qrev);
    rc = api_run(name, op, &x);
    if (!rc) {
        char err[128];
        int64_t t = 0;
        rc = hfs_json_revision(x.body.p, x.body.len, sha_out, &t, err, sizeof err);
        if (rc)
            hfs_err("%s: %s: %s", name, op, err);
        else if (mtime)
            *mtime = t;
    }
    hfs_xfer_clear(&x);
    return rc;
}

int hfs_hub_bucket_info(const hfs_repo_id *r, int64_t *mtime)
{
    char name[HFS_ID_MAX + 16];
    const char *op = "GET bucket info";
    hfs_repo_name(r, name, sizeof name);
    int rc = offline(name, op);
    if (rc) return rc;
    hfs_xfer x = {0};
    x.url = api_base(r);
    rc = api_run(name, op, &x);
    if (!rc) {
        char err[128];
        int64_t t = 0;
        rc = hfs_json_bucket_info(x.body.p, x.body.len, &t, err, sizeof err);
        if (rc)
            hfs_err("%s: %s: %s", name, op, err);
        else if (mtime)
            *mtime = t;
    }
    hfs_xfer_clear(&x);
    return rc;
}

/* One line per reply for the entries it had that cannot be used (the rest of it is). */
static void warn_skips(const char *name, const char *op, const hfs_json_skips *sk)
{
    if (!sk->n) return;
    char more[48] = "";
    if (sk->n > 1) snprintf(more, sizeof more, " (and %d more)", sk->n - 1);
    hfs_warn("%s: %s: skipped an entry that cannot be used%s: \"%s\": %s", name, op, more,
             sk->path[0] ? sk->path : "(no usable path)", sk->why);
}

int hfs_hub_tree(const hfs_repo_id *r, const char *sha, hfs_entry_cb cb, void *arg)
{
    int bucket = r->type == HFS_BUCKET;
    char name[HFS_ID_MAX + 16], op[64];
    hfs_repo_name(r, name, sizeof name);
    if (!bucket && (!sha || !*sha)) return -EINVAL;
    if (bucket)
        snprintf(op, sizeof op, "GET tree");
    else
        snprintf(op, sizeof op, "GET tree/%.8s%s", sha, strlen(sha) > 8 ? ".." : "");
    int rc = offline(name, op);
    if (rc) return rc;
    char *base = api_base(r), *qsha = bucket ? NULL : hfs_quote(sha, ""), *url = NULL;
    if (base && bucket)
        url = hfs_strjoin(base, "/tree?recursive=true&limit=1000", NULL);
    else if (base && qsha)
        url = hfs_strjoin(base, "/tree/", qsha, "?recursive=true&expand=false&limit=1000", NULL);
    free(base);
    free(qsha);
    char *next = malloc(16384);
    if (!next) {
        free(url);
        url = NULL;
    }
    hfs_pages seen = {0};
    for (int page = 1;; page++) {
        hfs_xfer x = {0};
        x.url = url;
        rc = api_run(name, op, &x); /* each page is an operation of its own (HF_SHIM_TIMEOUT) */
        if (rc) {
            hfs_xfer_clear(&x);
            break;
        }
        char err[128];
        int more = x.link && hfs_http_link_next(x.link, next, 16384);
        /* A page seen before means the listing would go round forever: stop before its
         * entries are used again. */
        int again = more ? hfs_pages_add(&seen, x.body.p, x.body.len, page) : 0;
        if (again) {
            if (again > 0)
                hfs_err("%s: %s: pagination does not end: page %d repeats page %d (a Link "
                        "rel=\"next\" to a new cursor, but the same entries)",
                        name, op, page, again);
            else
                hfs_err("%s: %s: out of memory", name, op);
            hfs_xfer_clear(&x);
            rc = again > 0 ? -EIO : -ENOMEM;
            break;
        }
        hfs_json_skips sk;
        rc = hfs_json_entries(x.body.p, x.body.len, cb, arg, err, sizeof err, &sk);
        if (rc < 0) hfs_err("%s: %s: page %d: %s", name, op, page, err);
        warn_skips(name, op, &sk);
        if (rc == 1) rc = 0; /* the callback asked to stop */
        if (rc || !more) {
            hfs_xfer_clear(&x);
            break;
        }
        /* Relative Link targets resolve against the URL that answered. */
        url = hfs_url_resolve(x.url, next);
        const char *bad = !url                  ? "unusable Link rel=\"next\" target"
                          : !strcmp(url, x.url) ? "pagination points back to the same page"
                          : page >= MAX_PAGES   ? "pagination does not end (page limit)"
                                                : NULL;
        hfs_xfer_clear(&x);
        if (bad) {
            hfs_err("%s: %s: %s", name, op, bad);
            free(url);
            rc = -EIO;
            break;
        }
        hfs_debug("%s: %s: page %d done, following Link rel=next", name, op, page);
    }
    hfs_pages_free(&seen);
    free(next);
    return rc;
}

int hfs_hub_paths_info(const hfs_repo_id *r, const char *sha, const char *const *paths, int n,
                       hfs_entry_cb cb, void *arg)
{
    int bucket = r->type == HFS_BUCKET;
    char name[HFS_ID_MAX + 16], op[64];
    hfs_repo_name(r, name, sizeof name);
    if (!bucket && (!sha || !*sha)) return -EINVAL;
    if (bucket)
        snprintf(op, sizeof op, "POST paths-info");
    else
        snprintf(op, sizeof op, "POST paths-info/%.8s%s", sha, strlen(sha) > 8 ? ".." : "");
    if (n <= 0) return 0;
    int rc = offline(name, op);
    if (rc) return rc;
    char *base = api_base(r), *qsha = bucket ? NULL : hfs_quote(sha, ""), *url = NULL;
    if (base && bucket)
        url = hfs_strjoin(base, "/paths-info", NULL);
    else if (base && qsha)
        url = hfs_strjoin(base, "/paths-info/", qsha, NULL);
    free(base);
    free(qsha);
    for (int i = 0; i < n && !rc; i += PATHS_PER_CALL) {
        hfs_buf body = {0};
        int bad = hfs_buf_str(&body, "{\"paths\":[");
        for (int k = i; k < n && k < i + PATHS_PER_CALL; k++) {
            char *q = hfs_json_quote(paths[k]);
            bad |= !q || (k > i && hfs_buf_str(&body, ",")) || hfs_buf_str(&body, q);
            free(q);
        }
        bad |= hfs_buf_str(&body, bucket ? "]}" : "],\"expand\":false}");
        hfs_xfer x = {0};
        x.url = !bad && url ? strdup(url) : NULL;
        x.method = "POST";
        x.post = body.p;
        x.post_len = body.len;
        x.post_type = "application/json";
        rc = api_run(name, op, &x);
        if (!rc) {
            char err[128];
            hfs_json_skips sk;
            rc = hfs_json_entries(x.body.p, x.body.len, cb, arg, err, sizeof err, &sk);
            if (rc < 0) hfs_err("%s: %s: %s", name, op, err);
            warn_skips(name, op, &sk);
            if (rc == 1) i = n; /* the callback asked to stop */
            if (rc == 1) rc = 0;
        }
        hfs_xfer_clear(&x);
        hfs_buf_free(&body);
    }
    free(url);
    return rc;
}

/* ---- redirect-target cache: (repo, sha, path) -> signed URL, for ~10 minutes ---- */

typedef struct {
    char *key;
    size_t klen;
    char *url;
    int64_t expires;
} rc_ent;

static rc_ent g_rc[RCACHE_SLOTS];
static pthread_mutex_t g_rc_mu = PTHREAD_MUTEX_INITIALIZER;

static char *rc_get(const char *key, size_t klen)
{
    char *u = NULL;
    int64_t now = mono_ms();
    pthread_mutex_lock(&g_rc_mu);
    for (int i = 0; i < RCACHE_SLOTS; i++) {
        rc_ent *e = &g_rc[i];
        if (!e->key || e->klen != klen || memcmp(e->key, key, klen)) continue;
        if (e->expires > now) u = strdup(e->url);
        break;
    }
    pthread_mutex_unlock(&g_rc_mu);
    return u;
}

static void rc_put(const char *key, size_t klen, const char *url)
{
    char *k = malloc(klen), *u = strdup(url);
    if (!k || !u) {
        free(k);
        free(u);
        return;
    }
    memcpy(k, key, klen);
    pthread_mutex_lock(&g_rc_mu);
    /* Same key, else an empty slot, else the one closest to expiry. */
    rc_ent *slot = NULL;
    for (int i = 0; i < RCACHE_SLOTS && !slot; i++)
        if (g_rc[i].key && g_rc[i].klen == klen && !memcmp(g_rc[i].key, key, klen)) slot = &g_rc[i];
    for (int i = 0; i < RCACHE_SLOTS && !slot; i++)
        if (!g_rc[i].key) slot = &g_rc[i];
    if (!slot) {
        slot = &g_rc[0];
        for (int i = 1; i < RCACHE_SLOTS; i++)
            if (g_rc[i].expires < slot->expires) slot = &g_rc[i];
    }
    free(slot->key);
    free(slot->url);
    slot->key = k;
    slot->klen = klen;
    slot->url = u;
    slot->expires = mono_ms() + RCACHE_TTL_MS;
    pthread_mutex_unlock(&g_rc_mu);
}

/* Forgets the entry if it still holds `url` (another thread may have stored a fresh one). */
static void rc_drop(const char *key, size_t klen, const char *url)
{
    pthread_mutex_lock(&g_rc_mu);
    for (int i = 0; i < RCACHE_SLOTS; i++) {
        rc_ent *e = &g_rc[i];
        if (e->key && e->klen == klen && !memcmp(e->key, key, klen) && !strcmp(e->url, url)) {
            free(e->key);
            free(e->url);
            memset(e, 0, sizeof *e);
        }
    }
    pthread_mutex_unlock(&g_rc_mu);
}

/* ---- fetch: ranges of one file, concurrently, streamed into dest ---- */

typedef struct fetch_job fetch_job;

typedef struct {
    hfs_xfer x;
    fetch_job *job;
    uint64_t off, len;
    int at_resolve; /* x.url is the resolve URL (not a redirect target) */
    int from_cache; /* x.url came from the redirect cache */
    int reresolved; /* already dropped an expired cached target once */
    int whole;      /* this attempt got a 200 with the whole file */
    void *hash;     /* ...whose content hash is computed as it arrives */
    int done;
    char *wbuf;
    size_t wlen;
    uint64_t wpos; /* file offset of wbuf[0] */
    char op[300];
} range_x;

struct fetch_job {
    const hfs_fetch_req *req;
    int fd;
    char *resolve_url;
    char *key;
    size_t klen;
    range_x *resolver; /* the transfer now asking the resolve URL; others wait for its answer */
    range_x *rx;
    int n;
    int rc;
    hfs_range_done_cb done;
    void *arg;
    char name[HFS_ID_MAX + 16];
};

static int flush(range_x *r)
{
    hfs_xfer *x = &r->x;
    size_t o = 0;
    while (o < r->wlen) {
        ssize_t w = pwrite(r->job->fd, r->wbuf + o, r->wlen - o, (off_t)r->wpos);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            x->local_err = -e;
            snprintf(x->local_msg, sizeof x->local_msg, "writing %.150s: %s", r->job->req->dest,
                     strerror(e));
            r->wlen = 0;
            return -1;
        }
        o += (size_t)w;
        r->wpos += (uint64_t)w;
    }
    r->wlen = 0;
    return 0;
}

static int local_fail(hfs_xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int local_fail(hfs_xfer *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->local_msg, sizeof x->local_msg, fmt, ap);
    va_end(ap);
    x->local_err = -EIO;
    return -1;
}

/* A 2xx reply starts: accept it only if it is exactly what we asked for. */
static int fetch_body_start(hfs_xfer *x)
{
    range_x *r = x->owner;
    fetch_job *j = r->job;
    /* The resolve URL answers with data itself: the other ranges need not wait for it. */
    if (j->resolver == r) j->resolver = NULL;
    unsigned long long size = j->req->size;
    if (!r->wbuf && !(r->wbuf = malloc(WBUF))) {
        x->local_err = -ENOMEM;
        snprintf(x->local_msg, sizeof x->local_msg, "out of memory");
        return -1;
    }
    if (x->status == 206) {
        if (!x->has_crange) return local_fail(x, "206 reply without a valid Content-Range");
        if (x->cr_total != size)
            return local_fail(x, "file changed on the server (size %llu, expected %llu)",
                              (unsigned long long)x->cr_total, size);
        if (x->cr_first != r->off || x->cr_last != r->off + r->len - 1)
            return local_fail(x, "server sent bytes %llu-%llu instead of %llu-%llu",
                              (unsigned long long)x->cr_first, (unsigned long long)x->cr_last,
                              (unsigned long long)r->off,
                              (unsigned long long)(r->off + r->len - 1));
        r->wpos = r->off;
        return 0;
    }
    if (x->status == 200) {
        /* Range ignored: fine if this is the whole file, which we then take entire, checked
         * as it arrives (fetch_step) before any of it counts as fetched. */
        if (x->content_length >= 0 && (uint64_t)x->content_length != size)
            return local_fail(x, "file changed on the server (size %lld, expected %llu)",
                              (long long)x->content_length, size);
        const hfs_fetch_req *q = j->req;
        int git = !(q->sha256 && q->sha256[0]);
        if ((!git || (q->git_oid && q->git_oid[0])) && !(r->hash = hfs_hub_hash_new(git, size))) {
            x->local_err = -ENOMEM;
            snprintf(x->local_msg, sizeof x->local_msg, "out of memory");
            return -1;
        }
        r->whole = 1;
        r->wpos = 0;
        return 0;
    }
    return local_fail(x, "unexpected reply %ld to a range request", x->status);
}

static int fetch_sink(hfs_xfer *x, const char *p, size_t n)
{
    range_x *r = x->owner;
    uint64_t limit = r->whole ? r->job->req->size : r->len;
    if (x->sunk + n > limit)
        return local_fail(x, r->whole ? "file changed on the server (longer than expected)"
                                      : "server sent more bytes than asked for");
    if (r->hash && hfs_hub_hash_update(r->hash, p, n))
        return local_fail(x, "cannot hash the download");
    while (n) {
        size_t k = WBUF - r->wlen < n ? WBUF - r->wlen : n;
        memcpy(r->wbuf + r->wlen, p, k);
        r->wlen += k;
        p += k;
        n -= k;
        if (r->wlen == WBUF && flush(r)) return -1;
    }
    return 0;
}

static int fetch_ready(hfs_xfer *x, void *arg)
{
    fetch_job *j = arg;
    range_x *r = x->owner;
    r->whole = 0;
    r->wlen = 0;
    hfs_hub_hash_free(r->hash);
    r->hash = NULL;
    if (!x->url || r->at_resolve) {
        char *t = rc_get(j->key, j->klen);
        if (t) {
            free(x->url);
            x->url = t;
            r->at_resolve = 0;
            r->from_cache = 1;
            if (j->resolver == r) j->resolver = NULL;
        }
    }
    if (!x->url) {
        x->url = strdup(j->resolve_url);
        r->at_resolve = 1;
        r->from_cache = 0;
    }
    if (r->at_resolve) {
        /* One transfer asks the Hub where the file lives; the rest then go straight there. */
        if (j->resolver && j->resolver != r) return 0;
        j->resolver = r;
    }
    return 1;
}

/* A whole-file answer whose content is not the file's: one line, and nothing of it counts. */
static int whole_mismatch(fetch_job *j, range_x *r)
{
    const hfs_fetch_req *q = j->req;
    if (!r->hash) return 0;
    int git = !(q->sha256 && q->sha256[0]);
    const char *want = git ? q->git_oid : q->sha256;
    char got[72];
    int rc = hfs_hub_hash_final(r->hash, got, sizeof got);
    hfs_hub_hash_free(r->hash);
    r->hash = NULL;
    if (!rc && !strcmp(got, want)) return 0;
    hfs_err("%s: %s: the server sent the whole file for a range request, and its content does "
            "not match its %s (expected %s, got %s); discarded, not served",
            j->name, q->path, git ? "git oid" : "sha256", want, rc ? "no hash" : got);
    return 1;
}

static int fetch_step(hfs_xfer *x, void *arg)
{
    fetch_job *j = arg;
    range_x *r = x->owner;
    if (j->resolver == r) j->resolver = NULL;
    if (x->sinking && r->wlen) flush(r); /* bytes already here are right: keep them */
    r->wlen = 0;

    if (!x->curl_rc && x->status >= 300 && x->status < 400) {
        if (++x->redirects <= MAX_REDIRECTS && hfs_http_follow(x)) {
            r->at_resolve = 0;
            r->from_cache = 0;
            rc_put(j->key, j->klen, x->url);
            return HFS_XFER_AGAIN;
        }
        char why[400];
        hfs_http_unfollowed(x, MAX_REDIRECTS, why, sizeof why);
        j->rc = -EIO;
        hfs_err("%s: %s: %s", j->name, r->op, why);
        return HFS_XFER_STOP_ALL;
    }
    if (!x->curl_rc && is_2xx(x->status) && x->sinking) {
        uint64_t want = r->whole ? j->req->size : r->len;
        if (x->sunk == want) {
            free(r->wbuf);
            r->wbuf = NULL;
            if (!r->whole) {
                r->done = 1;
                j->done(j->arg, r->off, r->len);
                return HFS_XFER_DONE;
            }
            /* The whole file is in dest: once it checks, every range is satisfied, and so is
             * the rest of the file (no range of it is fetched again). */
            if (whole_mismatch(j, r)) {
                j->rc = -EIO;
                return HFS_XFER_STOP_ALL;
            }
            for (int i = 0; i < j->n; i++) j->rx[i].done = 1;
            j->done(j->arg, 0, j->req->size);
            return HFS_XFER_STOP_ALL;
        }
        /* Short body: the connection ended early. Retried like any truncated transfer. */
        x->curl_rc = CURLE_PARTIAL_FILE;
        snprintf(x->curl_err, sizeof x->curl_err, "short body: %llu of %llu bytes",
                 (unsigned long long)x->sunk, (unsigned long long)want);
    }
    if (!x->curl_rc && r->from_cache && !r->reresolved &&
        (x->status == 401 || x->status == 403 || x->status == 404 || x->status == 410)) {
        /* Most likely an expired signed URL: ask the Hub again, once. */
        hfs_debug("%s: %s: cached redirect target answered %ld, resolving again", j->name, r->op,
                  x->status);
        rc_drop(j->key, j->klen, x->url);
        free(x->url);
        x->url = NULL;
        r->from_cache = 0;
        r->reresolved = 1;
        x->redirects = 0;
        return HFS_XFER_AGAIN;
    }
    int rc = -EIO;
    if (retry_or_fail(x, j->name, r->op, &rc) == HFS_XFER_AGAIN) return HFS_XFER_AGAIN;
    j->rc = rc;
    return HFS_XFER_STOP_ALL;
}

int hfs_hub_fetch(const hfs_fetch_req *req, const hfs_range *ranges, int n, hfs_range_done_cb done,
                  void *arg)
{
    fetch_job j;
    memset(&j, 0, sizeof j);
    j.req = req;
    j.done = done;
    j.arg = arg;
    j.fd = -1;
    hfs_repo_name(&req->repo, j.name, sizeof j.name);
    int bucket = req->repo.type == HFS_BUCKET;
    const char *rev = req->rev && *req->rev ? req->rev : "main";
    char op0[300];
    snprintf(op0, sizeof op0, "GET %.200s", req->path);

    /* Empty ranges need no bytes; ranges past the end are the caller's bug. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (ranges[i].off > req->size || ranges[i].len > req->size - ranges[i].off) {
            hfs_err("%s: %s: range %llu+%llu is past the end (size %llu)", j.name, op0,
                    (unsigned long long)ranges[i].off, (unsigned long long)ranges[i].len,
                    (unsigned long long)req->size);
            return -EINVAL;
        }
        if (ranges[i].len) m++;
    }
    for (int i = 0; i < n; i++)
        if (!ranges[i].len) done(arg, ranges[i].off, 0);
    if (m == 0) return 0;
    int rc = offline(j.name, op0);
    if (rc) return rc;

    j.fd = open(req->dest, O_WRONLY | O_CLOEXEC);
    if (j.fd < 0) {
        rc = -errno;
        hfs_err("%s: %s: cannot open %s: %s", j.name, op0, req->dest, strerror(errno));
        return rc;
    }
    char *qid = hfs_quote(req->repo.id, "/"), *qpath = hfs_quote(req->path, "/");
    char *qrev = bucket ? NULL : hfs_quote(rev, "");
    const char *ep = hfs_cfg()->endpoint;
    if (qid && qpath && bucket)
        j.resolve_url = hfs_strjoin(ep, "/buckets/", qid, "/resolve/", qpath, NULL);
    else if (qid && qpath && qrev)
        j.resolve_url = hfs_strjoin(ep, "/", hfs_type_url_prefix(req->repo.type), qid, "/resolve/",
                                    qrev, "/", qpath, NULL);
    free(qid);
    free(qpath);
    free(qrev);
    size_t il = strlen(req->repo.id), rl = bucket ? 0 : strlen(rev), pl = strlen(req->path);
    j.klen = 1 + il + 1 + rl + 1 + pl;
    j.key = malloc(j.klen);
    j.rx = calloc((size_t)m, sizeof *j.rx);
    hfs_xfer **xs = calloc((size_t)m, sizeof *xs);
    if (!j.resolve_url || !j.key || !j.rx || !xs) {
        hfs_err("%s: %s: out of memory", j.name, op0);
        rc = -ENOMEM;
        goto out;
    }
    char *k = j.key;
    *k++ = (char)('0' + req->repo.type);
    memcpy(k, req->repo.id, il + 1), k += il + 1;
    memcpy(k, bucket ? "" : rev, rl + 1), k += rl + 1;
    memcpy(k, req->path, pl);

    long stall = hfs_cfg()->timeout > 0 ? hfs_cfg()->timeout : 30;
    for (int i = 0; i < n; i++) {
        if (!ranges[i].len) continue;
        range_x *r = &j.rx[j.n];
        r->job = &j;
        r->off = ranges[i].off;
        r->len = ranges[i].len;
        snprintf(r->op, sizeof r->op, "%s bytes=%llu-%llu", op0, (unsigned long long)r->off,
                 (unsigned long long)(r->off + r->len - 1));
        hfs_xfer *x = &r->x;
        x->owner = r;
        x->has_range = 1;
        x->range_first = r->off;
        x->range_last = r->off + r->len - 1;
        /* Never hang: stalls are cut by the low-speed limit; this caps slow-but-moving ones. */
        x->max_time_s = 300 + stall + (long)(r->len >> 16);
        x->body_max = 1 << 20;
        x->body_start = fetch_body_start;
        x->sink = fetch_sink;
        xs[j.n++] = x;
    }
    j.rc = 0;
    rc = hfs_http_run(xs, j.n, HFS_HTTP_MAX_PAR, fetch_step, fetch_ready, &j);
    if (rc)
        hfs_err("%s: %s: cannot set up HTTP (%s)", j.name, op0, strerror(-rc));
    else
        rc = j.rc;
    for (int i = 0; i < j.n && !rc; i++)
        if (!j.rx[i].done) rc = -EIO; /* cannot happen: every path above sets rc */
    /* The file is in the listing: a 404 for its bytes (a CDN that lost them, a stale redirect)
     * is the server failing, never a missing file. */
    if (rc == -ENOENT) rc = -EIO;
out:
    for (int i = 0; j.rx && i < j.n; i++) {
        free(j.rx[i].wbuf);
        hfs_hub_hash_free(j.rx[i].hash);
        hfs_xfer_clear(&j.rx[i].x);
    }
    free(xs);
    free(j.rx);
    free(j.key);
    free(j.resolve_url);
    close(j.fd);
    return rc;
}

void hfs_hub_atfork_child(void)
{
    hfs_http_atfork_child();
    /* The cached URLs stay valid in the child; only the lock may be held by a parent thread. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_rc_mu = fresh;
}
