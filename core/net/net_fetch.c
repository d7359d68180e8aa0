/* File bytes for the network module: byte ranges of one file fetched concurrently and streamed
 * into the partial file (hfs_hub_fetch), and streams of whole small files handed out one by one
 * as transfer slots free up (hfs_hub_fetch_feed, for the prefetch). Redirects are followed by
 * hand, without the token off the Hub's origin; the redirect target of each file is cached. */
#include "libc.h"
#include "net_http.h"
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
#include <unistd.h>

#define MAX_REDIRECTS 10
#define WBUF (256u << 10) /* bytes gathered before a pwrite */
#define RCACHE_SLOTS 64
#define RCACHE_TTL_MS (10 * 60 * 1000) /* signed CDN URLs live longer; re-resolve on 403 anyway */

static int is_2xx(long st)
{
    return st >= 200 && st < 300;
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
    int64_t now = hfs_mono_ms();
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
    slot->expires = hfs_mono_ms() + RCACHE_TTL_MS;
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

/* The key of a file's entry: type, id, revision (the commit; "" for buckets) and path, each
 * but the last NUL-ended; malloc'd, NULL if out of memory. */
static char *rc_key(const hfs_repo_id *r, const char *rev, const char *path, size_t *klen)
{
    int bucket = r->type == HFS_BUCKET;
    size_t il = strlen(r->id), rl = bucket ? 0 : strlen(rev), pl = strlen(path);
    *klen = 1 + il + 1 + rl + 1 + pl;
    char *key = malloc(*klen), *k = key;
    if (!key) return NULL;
    *k++ = (char)('0' + r->type);
    memcpy(k, r->id, il + 1), k += il + 1;
    memcpy(k, bucket ? "" : rev, rl + 1), k += rl + 1;
    memcpy(k, path, pl);
    return key;
}

void hfs_fetch_remember(const hfs_repo_id *r, const char *sha, const char *path, const char *url)
{
    size_t klen;
    char *key = rc_key(r, sha, path, &klen);
    if (key) rc_put(key, klen, url);
    free(key);
}

char *hfs_fetch_resolve_url(const hfs_repo_id *r, const char *rev, const char *path)
{
    int bucket = r->type == HFS_BUCKET;
    char *qid = hfs_quote(r->id, "/"), *qpath = hfs_quote(path, "/");
    char *qrev = bucket ? NULL : hfs_quote(rev, ""), *url = NULL;
    const char *ep = hfs_cfg()->endpoint;
    if (qid && qpath && bucket)
        url = hfs_strjoin(ep, "/buckets/", qid, "/resolve/", qpath, NULL);
    else if (qid && qpath && qrev)
        url = hfs_strjoin(ep, "/", hfs_type_url_prefix(r->type), qid, "/resolve/", qrev, "/", qpath,
                          NULL);
    free(qid);
    free(qpath);
    free(qrev);
    return url;
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
    int solo;          /* the only job of its run: its end may stop the run (else it ends alone) */
    int quiet;         /* a prefetch: failures are debug lines */
    hfs_budget budget; /* a fed job's own deadline */
    hfs_fetch_item *item; /* a fed job's item */
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
        ssize_t w = hfs_libc()->pwrite(r->job->fd, r->wbuf + o, r->wlen - o, (off_t)r->wpos);
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

/* Error lines of a job: a prefetch's are debug lines (its reader, if any, reports). */
#define JERR(j, ...)                                                                               \
    do {                                                                                           \
        if ((j)->quiet)                                                                            \
            hfs_debug(__VA_ARGS__);                                                                \
        else                                                                                       \
            hfs_err(__VA_ARGS__);                                                                  \
    } while (0)

/* The end of a job: the whole run when it is the run's only job, else this transfer. */
static int job_end(const fetch_job *j)
{
    return j->solo ? HFS_XFER_STOP_ALL : HFS_XFER_DONE;
}

static int cancelled(hfs_xfer *x, const fetch_job *j)
{
    if (!j->req->cancel || !__atomic_load_n(j->req->cancel, __ATOMIC_ACQUIRE)) return 0;
    x->local_err = -ECANCELED;
    snprintf(x->local_msg, sizeof x->local_msg, "prefetch cancelled");
    return 1;
}

/* A 2xx reply starts: accept it only if it is exactly what we asked for. */
static int fetch_body_start(hfs_xfer *x)
{
    range_x *r = x->owner;
    fetch_job *j = r->job;
    if (cancelled(x, j)) return -1;
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
    if (cancelled(x, r->job)) return -1;
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
    (void)arg;
    range_x *r = x->owner;
    fetch_job *j = r->job;
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
    JERR(j,
         "%s: %s: the server sent the whole file for a range request, and its content does "
         "not match its %s (expected %s, got %s); discarded, not served",
         j->name, q->path, git ? "git oid" : "sha256", want, rc ? "no hash" : got);
    return 1;
}

static int fetch_step(hfs_xfer *x, void *arg)
{
    (void)arg;
    range_x *r = x->owner;
    fetch_job *j = r->job;
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
        JERR(j, "%s: %s: %s", j->name, r->op, why);
        return job_end(j);
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
                return job_end(j);
            }
            for (int i = 0; i < j->n; i++) j->rx[i].done = 1;
            j->done(j->arg, 0, j->req->size);
            return job_end(j);
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
    if (x->local_err == -ECANCELED) {
        j->rc = rc = -ECANCELED; /* final, and no line: nobody asked for it any more */
        return job_end(j);
    }
    if (hfs_hub_retry_or_fail(x, j->name, r->op, &rc, j->quiet) == HFS_XFER_AGAIN)
        return HFS_XFER_AGAIN;
    j->rc = rc;
    return job_end(j);
}

/* Sets up a job for ranges of req->dest (empty ranges are reported done at once): 0, or
 * -errno with one line (none for a quiet job). j->n may be 0: nothing to fetch. */
static int job_init(fetch_job *j, const hfs_fetch_req *req, const hfs_range *ranges, int n,
                    hfs_range_done_cb done, void *arg)
{
    memset(j, 0, sizeof *j);
    j->req = req;
    j->quiet = req->quiet;
    j->done = done;
    j->arg = arg;
    j->fd = -1;
    hfs_repo_name(&req->repo, j->name, sizeof j->name);
    const char *rev = req->rev && *req->rev ? req->rev : "main";
    char op0[300];
    snprintf(op0, sizeof op0, "GET %.200s", req->path);

    /* Empty ranges need no bytes; ranges past the end are the caller's bug. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (ranges[i].off > req->size || ranges[i].len > req->size - ranges[i].off) {
            JERR(j, "%s: %s: range %llu+%llu is past the end (size %llu)", j->name, op0,
                 (unsigned long long)ranges[i].off, (unsigned long long)ranges[i].len,
                 (unsigned long long)req->size);
            return -EINVAL;
        }
        if (ranges[i].len) m++;
    }
    for (int i = 0; i < n; i++)
        if (!ranges[i].len) done(arg, ranges[i].off, 0);
    if (m == 0) return 0;
    if (j->quiet && hfs_cfg()->offline) return -ENETUNREACH;
    int rc = hfs_hub_offline(j->name, op0);
    if (rc) return rc;

    j->fd = hfs_libc()->open(req->dest, O_WRONLY | O_CLOEXEC, 0);
    if (j->fd < 0) {
        rc = -errno;
        JERR(j, "%s: %s: cannot open %s: %s", j->name, op0, req->dest, strerror(errno));
        return rc;
    }
    j->resolve_url = hfs_fetch_resolve_url(&req->repo, rev, req->path);
    j->key = rc_key(&req->repo, rev, req->path, &j->klen);
    j->rx = calloc((size_t)m, sizeof *j->rx);
    if (!j->resolve_url || !j->key || !j->rx) {
        JERR(j, "%s: %s: out of memory", j->name, op0);
        return -ENOMEM;
    }

    long stall = hfs_cfg()->timeout > 0 ? hfs_cfg()->timeout : 30;
    for (int i = 0; i < n; i++) {
        if (!ranges[i].len) continue;
        range_x *r = &j->rx[j->n++];
        r->job = j;
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
    }
    return 0;
}

static void job_free(fetch_job *j)
{
    for (int i = 0; j->rx && i < j->n; i++) {
        free(j->rx[i].wbuf);
        hfs_hub_hash_free(j->rx[i].hash);
        hfs_xfer_clear(&j->rx[i].x);
    }
    free(j->rx);
    free(j->key);
    free(j->resolve_url);
    if (j->fd >= 0) hfs_libc()->close(j->fd);
}

int hfs_hub_fetch(const hfs_fetch_req *req, const hfs_range *ranges, int n, hfs_range_done_cb done,
                  void *arg)
{
    fetch_job j;
    int rc = job_init(&j, req, ranges, n, done, arg);
    hfs_xfer **xs = rc || !j.n ? NULL : calloc((size_t)j.n, sizeof *xs);
    if (!rc && j.n && !xs) {
        JERR(&j, "%s: GET %.200s: out of memory", j.name, req->path);
        rc = -ENOMEM;
    }
    if (rc || !j.n) {
        job_free(&j);
        return rc;
    }
    for (int i = 0; i < j.n; i++) xs[i] = &j.rx[i].x;
    j.solo = 1;
    rc = hfs_http_run(xs, j.n, HFS_HTTP_MAX_PAR, fetch_step, fetch_ready, NULL);
    if (rc)
        JERR(&j, "%s: GET %.200s: cannot set up HTTP (%s)", j.name, req->path, strerror(-rc));
    else
        rc = j.rc;
    for (int i = 0; i < j.n && !rc; i++)
        if (!j.rx[i].done) rc = -EIO; /* cannot happen: every path above sets rc */
    /* The file is in the listing: a 404 for its bytes (a CDN that lost them, a stale redirect)
     * is the server failing, never a missing file. */
    if (rc == -ENOENT) rc = -EIO;
    free(xs);
    job_free(&j);
    return rc;
}

/* ---- streams of whole files (the prefetch) ---- */

static hfs_xfer *feed_more(void *arg)
{
    const hfs_fetch_feed *fd = arg;
    for (;;) {
        hfs_fetch_item *it = fd->next(fd->arg);
        if (!it) return NULL;
        it->req.quiet = 1;
        fetch_job *j = malloc(sizeof *j);
        int rc = j ? job_init(j, &it->req, &it->range, 1, fd->range_done, it->arg) : -ENOMEM;
        if (!rc && j->n) {
            j->item = it;
            hfs_budget_start(&j->budget, hfs_cfg()->timeout, hfs_mono_ms());
            j->rx[0].x.budget = &j->budget;
            j->rx[0].x.pipewait = 1;
            return &j->rx[0].x;
        }
        if (j) job_free(j);
        free(j);
        it->rc = rc;
        fd->ended(it, fd->arg);
    }
}

static void feed_ended(hfs_xfer *x, void *arg)
{
    const hfs_fetch_feed *fd = arg;
    range_x *r = x->owner;
    fetch_job *j = r->job;
    hfs_fetch_item *it = j->item;
    it->rc = r->done ? 0 : j->rc ? j->rc : x->local_err ? x->local_err : -EIO;
    if (it->rc == -ENOENT) it->rc = -EIO;
    job_free(j);
    free(j);
    fd->ended(it, fd->arg);
}

int hfs_hub_fetch_feed(const hfs_fetch_feed *fd)
{
    hfs_http_feed hf = {feed_more, feed_ended, fd->wake_fd, 1, fd->stop, (void *)fd};
    return hfs_http_run_feed(NULL, 0, fd->max_par, &hf, fetch_step, fetch_ready, NULL);
}

void hfs_fetch_atfork_child(void)
{
    /* The cached URLs stay valid in the child; only the lock may be held by a parent thread. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_rc_mu = fresh;
}
