/* The network module's HTTP layer on libcurl, and its module-internal declarations.
 *
 * Transfers run on the multi interface from a small pool of contexts (one CURLM plus its easy
 * handles each). A context is taken by one thread for one call and returned afterwards, so its
 * connections (kept in the CURLM) are reused by later calls from any thread, while no
 * connection is ever used by two threads at once: libcurl does not support sharing the
 * connection cache between concurrent threads (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT). DNS
 * and TLS sessions are shared by all contexts through one CURLSH with locks.
 *
 * Policy (what to retry, redirects, error wording) is decided by the caller in the step
 * callback, helped by the pure functions below, which are unit-tested without a network. */
#pragma once
#include "checked.h"
#include <stddef.h>
#include "types.h"
#include <stdint.h>
#include <time.h>
#include "net.h"
#include "net_budget.h"

#ifndef HFS_VERSION
#define HFS_VERSION "dev"
#endif

/* Attempts per request (first try included), and at most this many transfers in flight. */
#define HFS_HTTP_ATTEMPTS 5
#define HFS_HTTP_MAX_PAR 8
/* Longest backoff hfs_http_backoff_ms gives for a server's hint; a longer Retry-After is honoured
 * by hfs_http_next_attempt when it fits the operation's deadline, else the call fails at once. */
#define HFS_HTTP_MAX_WAIT_MS 30000
/* Per attempt: a connection that carries less than this (bytes/s) for HF_SHIM_TIMEOUT seconds is
 * cut and retried (while its operation's budget lasts), even when others of the same
 * operation keep it alive. */
#define HFS_HTTP_STALL_RATE 1024L

/* ---- growing byte buffer ---- */
typedef struct {
    char *p;
    size_t len, cap;
} hfs_buf;
int hfs_buf_add(hfs_buf *b, const void *p, size_t n); /* 0 or -ENOMEM; keeps p NUL-ended */
int hfs_buf_str(hfs_buf *b, const char *s);
/* Concatenates the NULL-terminated list of strings; malloc'd, or NULL when out of memory. */
char *hfs_strjoin(const char *first, ...);
/* "acme/tiny", "datasets/acme/tiny", "buckets/acme/cache": the name used in messages. */
void hfs_repo_name(const hfs_repo_id *r, char *out, size_t n);
void hfs_buf_free(hfs_buf *b);

/* ---- pure helpers (no network) ---- */

/* `Link` header value -> the target of rel="next" (as written: absolute or relative), into
 * out. 1 if found, 0 if none (or it does not fit). */
int hfs_http_link_next(const char *value, char *out, size_t outsz);

/* `Content-Range: bytes a-b/total` -> 0; -1 if malformed, "*" total, or b < a. */
int hfs_http_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total);

/* `Retry-After` (delta seconds or HTTP-date, relative to now) -> ms, or -1. */
int64_t hfs_http_retry_after_ms(const char *v, time_t now);

/* `RateLimit: "api";r=0;t=55` -> ms until the window resets when nothing remains (r=0), or -1
 * (absent, malformed, or requests remain). */
int64_t hfs_http_ratelimit_ms(const char *v);

/* Worth another attempt: 408, 429, 500, 502, 503, 504; and transient libcurl errors
 * (connect, resolve, reset, timeout, truncated body). */
int hfs_http_status_retryable(long status);
int hfs_http_curl_retryable(int curl_code);

/* Wait before the next attempt after `failures` failed ones (1 = first): 0.25, 0.5, 1, 2 s.
 * A 429 that says the window is exhausted waits min(t, 30 s) + 0.25 s; a Retry-After is
 * honoured up to 30 s. Hints are -1 when absent. */
int64_t hfs_http_backoff_ms(int failures, long status, int64_t retry_after_ms,
                            int64_t ratelimit_ms);

/* A final HTTP error -> negative errno and a short reason in msg:
 *   GatedRepo -> -EACCES; 401/403 -> -EACCES (reason tells no token / invalid token /
 *   forbidden); 404 or RevisionNotFound/EntryNotFound/RepoNotFound -> -ENOENT; 416 and other
 *   4xx/5xx -> -EIO. xcode/xmsg are X-Error-Code / X-Error-Message (may be NULL or ""); the
 *   body's JSON "error" is used when there is no header message. */
int hfs_http_map_error(long status, const char *xcode, const char *xmsg, const char *body,
                       size_t blen, int have_token, char *msg, size_t msgsz);

/* ---- transfers ---- */
typedef struct hfs_xfer hfs_xfer;

struct hfs_xfer {
    /* Request: set by the owner; may be changed by the step callback between attempts. */
    const char *method; /* NULL = GET; "POST" sends post/post_len as post_type; "PUT" sends
                           them too (no Content-Type unless post_type is set); "HEAD" */
    char *url;          /* malloc'd, owned; freed by hfs_xfer_clear */
    const char *post;
    size_t post_len;
    const char *post_type;
    const char *accept; /* Accept header value; NULL = libcurl's default */
    int has_range;
    uint64_t range_first, range_last;
    long max_time_s; /* overall cap on one attempt; 0 = default for API calls */
    size_t body_max; /* cap on a buffered 2xx body (bigger -> local_err -EFBIG) */
    /* Streaming: when body_start is set it is called once per attempt, at the first byte of a
     * 2xx body (or at the end when the body is empty). If it returns 0, the body goes to sink
     * instead of the buffer. A non-zero return, or a non-zero return from sink, aborts the
     * attempt; set local_err/local_msg there to make the failure final. */
    int (*body_start)(hfs_xfer *x);
    int (*sink)(hfs_xfer *x, const char *p, size_t n);
    void *owner;
    int64_t delay_ms; /* set by the step callback with HFS_XFER_AGAIN */
    int failures;     /* for the step callback's retry count */
    int redirects;    /* for the step callback's redirect count */

    /* Response of the last attempt (reset when an attempt starts). */
    long status; /* 0 if no HTTP response */
    int curl_rc; /* CURLcode */
    char curl_err[256];
    hfs_buf body;  /* buffered body: 2xx without sink, or the first 64 KiB of an error */
    uint64_t sunk; /* bytes given to sink */
    int sinking, started;
    int local_err; /* negative errno set by a hook: final, not retried */
    char local_msg[200];
    char *location, *link; /* raw header values, malloc'd */
    int has_crange;
    uint64_t cr_first, cr_last, cr_total;
    int64_t content_length; /* -1 if unknown */
    int64_t retry_after_ms, ratelimit_ms;
    char err_code[64], err_msg[256];
    char repo_commit[64]; /* X-Repo-Commit (the commit a resolve answered for), "" if none */
    int sent_auth;        /* whether this attempt carried the token */
    /* The operation's deadline: hfs_http_run points every transfer of a run at one budget
     * (started when the run starts) for the run's duration; step callbacks may read it. */
    hfs_budget *budget;
    uint64_t seen; /* bytes of this attempt already counted in budget */
    int pipewait;  /* an https transfer waits to share an HTTP/2 connection (runs with a feed) */
};

enum { HFS_XFER_DONE = 0, HFS_XFER_AGAIN = 1, HFS_XFER_STOP_ALL = 2 };

/* Called from the calling thread when an attempt ends. Returns HFS_XFER_DONE (finished),
 * HFS_XFER_AGAIN (run again after x->delay_ms; url etc. may have been changed), or
 * HFS_XFER_STOP_ALL (finished, and abandon every other transfer of this run). */
typedef int (*hfs_xfer_step_fn)(hfs_xfer *x, void *arg);
/* Optional: called before an attempt starts; return 0 to hold the transfer back for now (it
 * is asked again as other transfers progress). Also the place to (re)pick x->url. */
typedef int (*hfs_xfer_ready_fn)(hfs_xfer *x, void *arg);

/* Runs the transfers, at most max_par at once, until each is finished: one operation, whose
 * budget (HF_SHIM_TIMEOUT, net_budget.h) all of them share; a transfer still running or
 * waiting when it runs out ends with local_err -EIO ("timed out ..."), which is final. 0, or
 * -ENOMEM if no context could be set up (nothing was run). */
HFS_MUST_CHECK int hfs_http_run(hfs_xfer **xs, int n, int max_par, hfs_xfer_step_fn step,
                                hfs_xfer_ready_fn ready, void *arg);

/* Transfers handed to a run as it goes (hfs_http_run_feed): more() is asked for one whenever a
 * slot is free, and each one it gave is handed back to ended() once finished (or abandoned when
 * the run stops early, with local_err -ECANCELED), after which the run no longer refers to it.
 * A fed transfer brings its own budget (x->budget); multiplex lets transfers to one host share
 * an HTTP/2 connection. */
typedef struct {
    hfs_xfer *(*more)(void *arg);
    void (*ended)(hfs_xfer *x, void *arg);
    int wake_fd; /* readable when more() may have something new: polled and drained; -1 */
    int multiplex;
    const int *stop; /* non-zero: the run ends at once, abandoning what it has (NULL: never);
                      * set it, then make wake_fd readable */
    void *arg;
} hfs_http_feed;

/* hfs_http_run, with xs (n may be 0) and then what feed hands out: it ends when every
 * transfer is finished and more() has nothing. */
HFS_MUST_CHECK int hfs_http_run_feed(hfs_xfer **xs, int n, int max_par, const hfs_http_feed *feed,
                                     hfs_xfer_step_fn step, hfs_xfer_ready_fn ready, void *arg);

/* If x got a 3xx with a Location: x->url becomes the resolved target (relative Locations
 * resolve against the current URL) and 1 is returned; 0 if there is nothing to follow. A
 * POST becomes a GET unless the status was 307/308. */
int hfs_http_follow(hfs_xfer *x);

/* Why x's redirect was not followed (hfs_http_follow returned 0, or it was redirect number
 * max + 1): too many redirects, no Location, a target that does not parse, or one that is not
 * http(s) (file:, ftp:...: refused, and named). */
void hfs_http_unfollowed(const hfs_xfer *x, int max, char *msg, size_t n);

/* Delay before retrying x's last attempt, or -1 if it is not worth retrying. Does not look
 * at x->failures. */
int64_t hfs_http_retry_delay(const hfs_xfer *x);

/* The wait x's last answer asked for (Retry-After; a 429's RateLimit reset), in ms; -1 if none. */
int64_t hfs_http_server_wait_ms(const hfs_xfer *x);

/* Whether and when to retry x's failed attempt, within HFS_HTTP_ATTEMPTS and its operation's
 * budget: the delay in ms (x->failures not yet counted), or -1 with what ended the retries in
 * `end` ("" when the failure is not worth retrying, else e.g. "after 5 attempts" or "the server
 * asks to wait 120 s, more than the 28 s left of HF_SHIM_TIMEOUT (30 s)"). */
int64_t hfs_http_next_attempt(const hfs_xfer *x, int64_t now_ms, char *end, size_t n);

/* Frees what the xfer owns (url, body, headers) and zeroes it. */
void hfs_xfer_clear(hfs_xfer *x);

/* After fork, in the child: forget (leak) the pool and the share inherited from the parent,
 * whose sockets and locks are not ours. */
void hfs_http_atfork_child(void);

/* ---- the module's entry points, assembled into hfs_net_ops_v2 by net_module.c ---- */
HFS_MUST_CHECK int hfs_hub_revision(const hfs_repo_id *r, const char *rev, char sha_out[41],
                                    int64_t *mtime);
HFS_MUST_CHECK int hfs_hub_bucket_info(const hfs_repo_id *r, int64_t *mtime);
HFS_MUST_CHECK int hfs_hub_tree(const hfs_repo_id *r, const char *sha, hfs_entry_cb cb, void *arg);
HFS_MUST_CHECK int hfs_hub_fetch(const hfs_fetch_req *req, const hfs_range *ranges, int n,
                                 hfs_range_done_cb done, void *arg);
HFS_MUST_CHECK int hfs_hub_fetch_feed(const hfs_fetch_feed *feed);
void hfs_fetch_atfork_child(void);
/* A file's resolve URL at rev (buckets: none); malloc'd, NULL if out of memory. */
char *hfs_fetch_resolve_url(const hfs_repo_id *r, const char *rev, const char *path);
/* Where the file's bytes at commit sha live (a redirect target learned beside the revision):
 * fetch() of it goes there first, as if it had followed the redirect itself. */
void hfs_fetch_remember(const hfs_repo_id *r, const char *sha, const char *path, const char *url);
/* Shared by net_hub.c and net_fetch.c: offline -> -ENETUNREACH with one line; why an attempt
 * failed (and its errno); a failed attempt's retry (HFS_XFER_AGAIN) or its final error line
 * (quiet: a debug line) with *rc set. */
int hfs_hub_offline(const char *name, const char *op);
int hfs_hub_describe(const hfs_xfer *x, char *msg, size_t n);
int hfs_hub_retry_or_fail(hfs_xfer *x, const char *name, const char *op, int *rc, int quiet);
HFS_MUST_CHECK int hfs_hub_sha256_file(const char *path, char hex_out[65]);
HFS_MUST_CHECK int hfs_hub_git_sha1_file(const char *path, char hex_out[41]);
void *hfs_hub_hash_new(int git, uint64_t size);
HFS_MUST_CHECK int hfs_hub_hash_update(void *h, const void *p, size_t n);
HFS_MUST_CHECK int hfs_hub_hash_final(void *h, char *hex_out, size_t n);
void hfs_hub_hash_free(void *h);
void hfs_hub_atfork_child(void);
/* The core's services: defined by net_services.c, which only the loaded module has (linked
 * with the core, the module uses the core's log, configuration and libc table directly): weak.
 * 0, or -EINVAL for a filler older than the module (then the module cannot run). */
__attribute__((weak)) int hfs_net_services_set(const hfs_net_services *svc);

/* ---- the first file's redirect, learned beside the revision (net_hint.c) ---- */
/* A HEAD of a file's resolve URL, run as a fed transfer beside a revision request (so with a
 * budget of its own), one attempt: the run's step callback answers HFS_XFER_DONE for it. */
typedef struct {
    hfs_xfer x;
    hfs_budget budget; /* its own HF_SHIM_TIMEOUT */
    const hfs_repo_id *repo;
    const char *path;
    int64_t started;
    int given, ended;
} hfs_hint;
/* 0, or -1 if out of memory (then there is no hint, and nothing to clear). */
int hfs_hint_init(hfs_hint *h, const hfs_repo_id *r, const char *rev, const char *path);
/* A feed for hfs_http_run_feed that hands out h's transfer once. */
void hfs_hint_feed(hfs_hint *h, hfs_http_feed *f);
/* The revision has answered: the hint gets a short grace, no longer its whole budget. */
void hfs_hint_cut(hfs_hint *h);
/* After the run, with the commit the revision named: keep the hint's redirect target for the
 * file's fetch if it answered for that commit with a redirect off the Hub; else a debug line. */
void hfs_hint_use(hfs_hint *h, const char *name, const char *sha);
void hfs_hint_clear(hfs_hint *h);
HFS_MUST_CHECK int hfs_hub_revision_listing(const hfs_repo_id *r, const char *rev, const char *hint,
                                            char sha_out[41], int64_t *mtime, hfs_entry_cb cb,
                                            void *arg, int *listed);
