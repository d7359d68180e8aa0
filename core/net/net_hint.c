/* The first file's redirect, learned beside the revision. A repo loaded because a file is being
 * opened for reading sends, with its revision request, a HEAD of that file's resolve URL at the
 * same revision. When it answers for the commit the revision names, with a redirect to another
 * host (the CDN of an LFS file), that target is what the read's fetch would have been sent to,
 * so the fetch goes there at once: a cold read then costs the CDN's round trip only.
 *
 * It is a guess, never an answer: one attempt, no retry; a failure is a debug line; nothing
 * negative is remembered; and the revision's result never depends on it. */
#include "net_http.h"
#include "net_urlenc.h"
#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Once the revision has answered, the open waits this long (or as long again as the revision
 * took, if longer) for the hint, not its whole HF_SHIM_TIMEOUT: a stalled HEAD must not hold
 * an open whose answer is already there. */
#define HINT_GRACE_MS 1000

int hfs_hint_init(hfs_hint *h, const hfs_repo_id *r, const char *rev, const char *path)
{
    memset(h, 0, sizeof *h);
    h->repo = r;
    h->path = path;
    h->x.url = hfs_fetch_resolve_url(r, rev, path);
    if (!h->x.url) return -1; /* out of memory: go without */
    h->x.method = "HEAD";
    h->x.owner = h;
    h->x.body_max = 1 << 16;
    hfs_budget_start(&h->budget, hfs_cfg()->timeout, hfs_mono_ms());
    h->x.budget = &h->budget;
    h->started = hfs_mono_ms();
    return 0;
}

static hfs_xfer *hint_more(void *arg)
{
    hfs_hint *h = arg;
    if (h->given) return NULL;
    h->given = 1;
    return &h->x;
}

static void hint_ended(hfs_xfer *x, void *arg)
{
    (void)x;
    ((hfs_hint *)arg)->ended = 1;
}

void hfs_hint_feed(hfs_hint *h, hfs_http_feed *f)
{
    memset(f, 0, sizeof *f);
    f->more = hint_more;
    f->ended = hint_ended;
    f->wake_fd = -1;
    f->arg = h;
}

void hfs_hint_cut(hfs_hint *h)
{
    if (h->ended) return;
    int64_t now = hfs_mono_ms(), took = now - h->started;
    int64_t end = now + (took > HINT_GRACE_MS ? took : HINT_GRACE_MS);
    if (h->budget.end_ms > end) h->budget.end_ms = end;
}

/* Why the hint's answer cannot be used, or NULL; *target gets the redirect target. */
static const char *unusable(const hfs_hint *h, const char *sha, char **target)
{
    const hfs_xfer *x = &h->x;
    *target = NULL;
    if (!h->ended) return "not sent";
    if (x->local_err || x->curl_rc) return x->local_msg[0] ? x->local_msg : x->curl_err;
    if (x->status < 300 || x->status >= 400 || !x->location || !x->location[0])
        return "no redirect";
    /* The branch may have moved between the two answers: a target for another commit could
     * be another file's bytes. */
    if (strcasecmp(x->repo_commit, sha)) return "answered for another commit";
    *target = hfs_url_resolve(x->url, x->location);
    if (!*target) return "redirect target is not an http(s) URL";
    /* Only a redirect off the Hub (the CDN of an LFS file) names bytes by content; one on the
     * Hub is left to the fetch, which follows it itself. */
    if (hfs_url_same_origin(*target, hfs_cfg()->endpoint)) return "redirect stays on the Hub";
    return NULL;
}

void hfs_hint_use(hfs_hint *h, const char *name, const char *sha)
{
    char *target;
    const char *why = unusable(h, sha, &target);
    if (why) {
        hfs_debug("%s: HEAD %s: not used as the redirect of its first read (%s, HTTP %ld)", name,
                  h->path, why, h->x.status);
    } else {
        hfs_fetch_remember(h->repo, sha, h->path, target);
        hfs_debug("%s: HEAD %s: its redirect is kept for the first read", name, h->path);
    }
    free(target);
}

void hfs_hint_clear(hfs_hint *h)
{
    hfs_xfer_clear(&h->x);
}
