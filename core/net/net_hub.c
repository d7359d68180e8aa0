/* The Hub API calls of the network module: revision, bucket info, tree listing, on
 * top of net_http's transfer loop (file bytes: net_fetch.c). This is where the HTTP policy lives:
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

/* One line per repo (the log prints each distinct error once), whatever was asked. */
int hfs_hub_offline(const char *name, const char *op)
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
int hfs_hub_describe(const hfs_xfer *x, char *msg, size_t n)
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

int hfs_hub_retry_or_fail(hfs_xfer *x, const char *name, const char *op, int *rc, int quiet)
{
    char why[400], end[200];
    int64_t d = hfs_http_next_attempt(x, hfs_mono_ms(), end, sizeof end);
    if (d >= 0) {
        x->failures++;
        hfs_hub_describe(x, why, sizeof why);
        if (!quiet)
            hfs_info("%s: %s: %s; retry %d of %d in %.2f s", name, op, why, x->failures,
                     HFS_HTTP_ATTEMPTS - 1, (double)d / 1000);
        x->delay_ms = d;
        return HFS_XFER_AGAIN;
    }
    *rc = hfs_hub_describe(x, why, sizeof why);
    if (quiet)
        hfs_debug("%s: %s: %s%s%s", name, op, why, end[0] ? ": " : "", end);
    else
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
    return hfs_hub_retry_or_fail(x, a->name, a->op, &a->rc, 0);
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

/* The revision request's name, op and URL (with `query`); *rc set when it cannot be made
 * (a bucket, offline). A NULL URL with *rc 0 is out of memory, which the run reports. */
static char *revision_url(const hfs_repo_id *r, const char **rev, const char *query, char *name,
                          size_t nn, char *op, size_t on, int *rc)
{
    if (!*rev || !**rev) *rev = "main";
    hfs_repo_name(r, name, nn);
    snprintf(op, on, "GET revision/%.*s", HFS_REV_MAX, *rev);
    *rc = r->type == HFS_BUCKET ? -EINVAL : hfs_hub_offline(name, op);
    if (*rc) return NULL;
    char *base = api_base(r), *qrev = hfs_quote(*rev, "");
    char *u = base && qrev ? hfs_strjoin(base, "/revision/", qrev, query, NULL) : NULL;
    free(base);
    free(qrev);
    return u;
}

int hfs_hub_revision(const hfs_repo_id *r, const char *rev, char sha_out[41], int64_t *mtime)
{
    char name[HFS_ID_MAX + 16], op[HFS_REV_MAX + 32];
    int rc;
    hfs_xfer x = {0};
    x.url = revision_url(r, &rev, "", name, sizeof name, op, sizeof op, &rc);
    if (rc) return rc;
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
    int rc = hfs_hub_offline(name, op);
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

/* A revision request and, beside it, the hint's HEAD: one step callback for both. */
typedef struct {
    api_call a;
    hfs_hint *hint;
} revision_run;

static int revision_step(hfs_xfer *x, void *arg)
{
    revision_run *rr = arg;
    if (x == &rr->hint->x) return HFS_XFER_DONE; /* one attempt; judged after the run */
    int r = api_step(x, &rr->a);
    if (r != HFS_XFER_DONE) return r;
    if (rr->a.rc) return HFS_XFER_STOP_ALL; /* no commit: the hint is of no use */
    hfs_hint_cut(rr->hint);
    return r;
}

/* Runs x (the revision request), with the hint's HEAD in parallel when there is one. */
static int revision_run_xfers(const char *name, const char *op, hfs_xfer *x, hfs_hint *hint)
{
    if (!hint) return api_run(name, op, x);
    if (!x->url) {
        hfs_err("%s: %s: out of memory", name, op);
        return -ENOMEM;
    }
    x->body_max = PAGE_MAX;
    revision_run rr = {{name, op, -EIO}, hint};
    hfs_http_feed feed;
    hfs_hint_feed(hint, &feed);
    int r = hfs_http_run_feed(&x, 1, 2, &feed, revision_step, NULL, &rr);
    if (r) {
        hfs_err("%s: %s: cannot set up HTTP (%s)", name, op, strerror(-r));
        return r;
    }
    return rr.a.rc;
}

int hfs_hub_revision_listing(const hfs_repo_id *r, const char *rev, const char *hint,
                             char sha_out[41], int64_t *mtime, hfs_entry_cb cb, void *arg,
                             int *listed)
{
    *listed = 0;
    char name[HFS_ID_MAX + 16], op[HFS_REV_MAX + 32];
    int rc;
    hfs_xfer x = {0};
    x.url = revision_url(r, &rev, "?blobs=true", name, sizeof name, op, sizeof op, &rc);
    if (rc) return rc;
    hfs_hint h;
    int have_hint = hint && *hint && !hfs_hint_init(&h, r, rev, hint);
    rc = revision_run_xfers(name, op, &x, have_hint ? &h : NULL);
    if (!rc) {
        char err[128];
        int64_t t = 0;
        hfs_json_skips sk;
        rc = hfs_json_revision_listing(x.body.p, x.body.len, sha_out, &t, cb, arg, listed, err,
                                       sizeof err, &sk);
        if (rc < 0) hfs_err("%s: %s: %s", name, op, err);
        warn_skips(name, op, &sk);
        if (rc == 1) rc = 0; /* the callback asked to stop: its own error, not the reply's */
        if (!rc && mtime) *mtime = t;
        if (!rc && have_hint) hfs_hint_use(&h, name, sha_out);
    }
    if (have_hint) hfs_hint_clear(&h);
    hfs_xfer_clear(&x);
    return rc;
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
    int rc = hfs_hub_offline(name, op);
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

void hfs_hub_atfork_child(void)
{
    hfs_http_atfork_child();
    hfs_fetch_atfork_child();
}
