/* libcurl plumbing: the shared state (CURLSH for DNS and TLS sessions, a pool of multi
 * contexts), the per-attempt request setup, header parsing, and the transfer loop. Decisions
 * about retries and redirects belong to the caller's step callback (net_hub.c). */
#include "net_http.h"
#include "grow.h"
#include "libc.h"
#include "net_json.h"
#include "net_urlenc.h"
#include "config.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ERR_BODY_MAX (64u << 10) /* enough of an error reply for its message */
#define POOL_MAX 8
#define CONNECT_TIMEOUT_MS 10000L
#define API_MAX_TIME_S 300L
#define RANGE_BUFSIZE (512L << 10) /* recv buffer of a ranged download (libcurl < 7.88: max) */

/* ---- buffers ---- */

int hfs_buf_add(hfs_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len - 1 || hfs_grow((void **)&b->p, &b->cap, b->len + n + 1, 1, 4096))
        return -ENOMEM;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int hfs_buf_str(hfs_buf *b, const char *s)
{
    return hfs_buf_add(b, s, strlen(s));
}

void hfs_buf_free(hfs_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- shared state, replaced wholesale in a forked child ---- */

typedef struct {
    CURL *e;
    struct curl_slist *hdrs;
    hfs_xfer *x;
} slot;

typedef struct ctx {
    CURLM *m;
    slot s[HFS_HTTP_MAX_PAR];
    struct state *owner;
} ctx;

typedef struct state {
    char *ca_bundle; /* from the environment, read once; NULL = libcurl's default */
    pthread_mutex_t lock[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_mu;
    CURLSH *share;
    ctx *pool[POOL_MAX];
    int npool;
} state;

static state *g_st;
static pthread_mutex_t g_st_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_curl_ready;

static void sh_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
    (void)h, (void)a;
    if ((unsigned)d < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&((state *)u)->lock[d]);
}

static void sh_unlock(CURL *h, curl_lock_data d, void *u)
{
    (void)h;
    if ((unsigned)d < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&((state *)u)->lock[d]);
}

static state *st_get(void)
{
    state *s = __atomic_load_n(&g_st, __ATOMIC_ACQUIRE);
    if (s) return s;
    pthread_mutex_lock(&g_st_mu);
    if (!g_st) {
        if (!g_curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) g_curl_ready = 1;
        s = g_curl_ready ? calloc(1, sizeof *s) : NULL;
        if (s) {
            for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&s->lock[i], NULL);
            pthread_mutex_init(&s->pool_mu, NULL);
            /* The CA bundle variables Python clients honour (corporate proxies, test hubs
             * with their own CA); libcurl itself only reads them in the curl tool. */
            static const char *const ca_env[] = {"CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                                                 "SSL_CERT_FILE"};
            for (size_t i = 0; i < sizeof ca_env / sizeof *ca_env && !s->ca_bundle; i++) {
                const char *v = getenv(ca_env[i]);
                if (v && *v) s->ca_bundle = strdup(v);
            }
            s->share = curl_share_init();
            if (s->share) {
                curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, sh_lock);
                curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, sh_unlock);
                curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
                curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
                curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
            }
            __atomic_store_n(&g_st, s, __ATOMIC_RELEASE);
        }
    }
    s = g_st;
    pthread_mutex_unlock(&g_st_mu);
    return s;
}

void hfs_http_atfork_child(void)
{
    /* The parent's sockets, TLS state and possibly held locks are not ours: leak them and
     * start fresh on next use. Cleaning up would send TLS close-notify on the parent's
     * connections. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_st_mu = fresh;
    g_st = NULL;
}

static ctx *ctx_get(void)
{
    state *s = st_get();
    if (!s) return NULL;
    ctx *c = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool) c = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    if (c) return c;
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->owner = s;
    c->m = curl_multi_init();
    if (!c->m) {
        free(c);
        return NULL;
    }
    /* The default cache size follows the handles added at the moment (4 each), so a lone API
     * call after a many-range fetch would evict the Hub connection. Keep room for the Hub, the
     * CDN connections of a full fetch, and a second CDN host. */
    curl_multi_setopt(c->m, CURLMOPT_MAXCONNECTS, (long)(4 * HFS_HTTP_MAX_PAR));
    /* Parallel ranges are for throughput: one TCP connection each rather than streams
     * multiplexed over one HTTP/2 connection, whose window a single loss stalls for all. */
    curl_multi_setopt(c->m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    return c;
}

static void ctx_put(ctx *c)
{
    state *s = __atomic_load_n(&g_st, __ATOMIC_ACQUIRE);
    if (s != c->owner) return; /* from before a fork: leak */
    pthread_mutex_lock(&s->pool_mu);
    /* LIFO: the most recently used context has the warmest connections. */
    if (s->npool < POOL_MAX) {
        s->pool[s->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (!c) return;
    for (int i = 0; i < HFS_HTTP_MAX_PAR; i++)
        if (c->s[i].e) curl_easy_cleanup(c->s[i].e);
    curl_multi_cleanup(c->m);
    free(c);
}

/* ---- pure helpers ---- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

int hfs_http_link_next(const char *v, char *out, size_t outsz)
{
    const char *p = v;
    while (*p) {
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '<') return 0;
        const char *u0 = p + 1, *u1 = strchr(u0, '>');
        if (!u1) return 0;
        p = u1 + 1;
        int next = 0;
        /* Parameters up to the next ',' outside quotes: ; rel="next" (rel may list several). */
        while (*p && *p != ',') {
            p = skip_ws(p);
            if (*p != ';') {
                if (*p && *p != ',') p++;
                continue;
            }
            p = skip_ws(p + 1);
            const char *n0 = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ') p++;
            size_t nlen = (size_t)(p - n0);
            p = skip_ws(p);
            if (*p != '=') continue;
            p = skip_ws(p + 1);
            const char *v0, *v1;
            if (*p == '"') {
                v0 = ++p;
                while (*p && *p != '"') p++;
                v1 = p;
                if (*p) p++;
            } else {
                v0 = p;
                while (*p && *p != ';' && *p != ',' && *p != ' ') p++;
                v1 = p;
            }
            if (nlen == 3 && !strncasecmp(n0, "rel", 3)) {
                for (const char *w = v0; w < v1;) {
                    while (w < v1 && *w == ' ') w++;
                    const char *we = w;
                    while (we < v1 && *we != ' ') we++;
                    if (we - w == 4 && !strncasecmp(w, "next", 4)) next = 1;
                    w = we;
                }
            }
        }
        if (next) {
            size_t n = (size_t)(u1 - u0);
            if (n == 0 || n >= outsz) return 0;
            memcpy(out, u0, n);
            out[n] = 0;
            return 1;
        }
    }
    return 0;
}

/* Decimal digits at *p into *v (no sign, no overflow). */
static int parse_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *p = s;
    *v = x;
    return 0;
}

int hfs_http_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total)
{
    const char *p = skip_ws(v);
    if (strncasecmp(p, "bytes", 5)) return -1;
    p += 5;
    if (*p != ' ' && *p != '\t') return -1;
    p = skip_ws(p);
    uint64_t a, b, t;
    if (parse_u64(&p, &a) || *p++ != '-' || parse_u64(&p, &b) || *p++ != '/' || parse_u64(&p, &t))
        return -1;
    p = skip_ws(p);
    if (*p && *p != '\r' && *p != '\n') return -1;
    if (b < a || b >= t) return -1;
    *first = a, *last = b, *total = t;
    return 0;
}

int64_t hfs_http_retry_after_ms(const char *v, time_t now)
{
    const char *p = skip_ws(v);
    uint64_t s;
    const char *q = p;
    if (!parse_u64(&q, &s)) {
        q = skip_ws(q);
        if (*q && *q != '\r' && *q != '\n') return -1;
        return s > 86400 ? 86400000 : (int64_t)s * 1000;
    }
    time_t t = curl_getdate(p, &now);
    if (t == (time_t)-1) return -1;
    return t <= now ? 0 : (int64_t)(t - now) * 1000;
}

int64_t hfs_http_ratelimit_ms(const char *v)
{
    int64_t best = -1;
    const char *p = v;
    while (*p) {
        /* One list member: "name";r=..;t=.. up to ','. */
        int64_t r = -1, t = -1;
        while (*p && *p != ',') {
            if (*p == '"') {
                p++;
                while (*p && *p != '"') p++;
                if (*p) p++;
                continue;
            }
            if (*p != ';') {
                p++;
                continue;
            }
            p = skip_ws(p + 1);
            char k = *p;
            const char *q = skip_ws(p + 1);
            uint64_t x;
            if ((k == 'r' || k == 't') && *q == '=') {
                q = skip_ws(q + 1);
                if (!parse_u64(&q, &x) && x < 86400 * 365) {
                    if (k == 'r')
                        r = (int64_t)x;
                    else
                        t = (int64_t)x;
                }
                p = q;
            }
        }
        if (r == 0 && t >= 0 && t * 1000 > best) best = t * 1000;
        if (*p) p++;
    }
    return best;
}

int hfs_http_status_retryable(long st)
{
    return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

int hfs_http_curl_retryable(int cc)
{
    switch ((CURLcode)cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_HTTP2:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

int64_t hfs_http_backoff_ms(int failures, long status, int64_t retry_after_ms, int64_t ratelimit_ms)
{
    static const int64_t table[] = {250, 500, 1000, 2000};
    int i = failures < 1 ? 0 : failures > 4 ? 3 : failures - 1;
    int64_t d = table[i];
    if (status == 429 && ratelimit_ms >= 0) {
        int64_t w = ratelimit_ms < HFS_HTTP_MAX_WAIT_MS ? ratelimit_ms : HFS_HTTP_MAX_WAIT_MS;
        return w + 250;
    }
    if (retry_after_ms >= 0) {
        int64_t w = retry_after_ms < HFS_HTTP_MAX_WAIT_MS ? retry_after_ms : HFS_HTTP_MAX_WAIT_MS;
        if (w > d) d = w;
    }
    return d;
}

static void sanitize(const char *in, char *out, size_t outsz)
{
    size_t n = 0;
    for (; in && *in && n + 1 < outsz; in++)
        out[n++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
    if (outsz) out[n] = 0;
}

int hfs_http_map_error(long status, const char *xcode, const char *xmsg, const char *body,
                       size_t blen, int have_token, char *msg, size_t msgsz)
{
    char smsg[200] = "";
    if (xmsg && *xmsg)
        sanitize(xmsg, smsg, sizeof smsg);
    else if (body && blen)
        hfs_json_error_message(body, blen, smsg, sizeof smsg);
    const char *code = xcode ? xcode : "";
    const char *why;
    char generic[64];
    int rc;
    if (!strcmp(code, "GatedRepo")) {
        rc = -EACCES;
        why = have_token ? "gated repository: this token has not been granted access"
                         : "gated repository: request access on the Hub and set HF_TOKEN";
    } else if (strstr(smsg, "Access to this resource is disabled")) {
        rc = -EACCES;
        why = "repository disabled";
    } else if (status == 401) {
        rc = -EACCES;
        if (!have_token)
            why = "repository not found or private (no token)";
        else if (!strcmp(code, "RepoNotFound"))
            why = "repository not found or private (the token has no access)";
        else
            why = "invalid token";
    } else if (status == 403) {
        rc = -EACCES;
        why =
            have_token ? "access denied (the token lacks permission)" : "access denied (no token)";
    } else if (status == 404 || !strcmp(code, "RevisionNotFound") ||
               !strcmp(code, "EntryNotFound") || !strcmp(code, "RepoNotFound")) {
        rc = -ENOENT;
        if (!strcmp(code, "RevisionNotFound"))
            why = "revision not found";
        else if (!strcmp(code, "EntryNotFound"))
            why = "file not found";
        else if (!strcmp(code, "RepoNotFound"))
            why =
                have_token ? "repository not found" : "repository not found or private (no token)";
        else
            why = "not found (404)";
    } else if (status == 416) {
        rc = -EIO;
        why = "range not satisfiable (file changed on the server?)";
    } else if (status == 429) {
        rc = -EIO;
        why = "rate limited (429)";
    } else {
        rc = -EIO;
        snprintf(generic, sizeof generic, "%s %ld", status >= 500 ? "server error" : "HTTP error",
                 status);
        why = generic;
    }
    snprintf(msg, msgsz, "%s%s%s%s", why, smsg[0] ? " (" : "", smsg, smsg[0] ? ")" : "");
    return rc;
}

/* ---- one attempt ---- */

/* What the headers of a response said. */
static void forget_headers(hfs_xfer *x)
{
    free(x->location);
    free(x->link);
    x->location = x->link = NULL;
    x->has_crange = 0;
    x->content_length = -1;
    x->retry_after_ms = x->ratelimit_ms = -1;
    x->err_code[0] = x->err_msg[0] = 0;
    x->repo_commit[0] = 0;
}

static void reset_response(hfs_xfer *x)
{
    x->status = 0;
    x->curl_rc = 0;
    x->curl_err[0] = 0;
    x->body.len = 0;
    if (x->body.p) x->body.p[0] = 0;
    x->sunk = 0;
    x->sinking = x->started = 0;
    x->local_err = 0;
    x->local_msg[0] = 0;
    forget_headers(x);
    x->seen = 0;
}

static int is_2xx(long st)
{
    return st >= 200 && st < 300;
}

static size_t header_cb(char *p, size_t sz, size_t nm, void *ud)
{
    hfs_xfer *x = ud;
    size_t n = sz * nm;
    if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
        /* A new response (e.g. after 100 Continue): forget headers of the previous one. */
        long keep = 0;
        const char *sp = memchr(p, ' ', n);
        if (sp) keep = strtol(sp + 1, NULL, 10);
        forget_headers(x);
        x->status = keep;
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon) return n;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t vlen = (size_t)(end - v);
    char *val = strndup(v, vlen);
    if (!val) return n;
#define IS(h) (nlen == sizeof(h) - 1 && !strncasecmp(p, h, nlen))
    if (IS("location")) {
        free(x->location);
        x->location = val;
        val = NULL;
    } else if (IS("link")) {
        /* Several Link headers are one comma-separated list. */
        if (x->link) {
            char *j = malloc(strlen(x->link) + vlen + 3);
            if (j) {
                sprintf(j, "%s, %s", x->link, val);
                free(x->link);
                x->link = j;
            }
        } else {
            x->link = val;
            val = NULL;
        }
    } else if (IS("content-range")) {
        x->has_crange = !hfs_http_content_range(val, &x->cr_first, &x->cr_last, &x->cr_total);
    } else if (IS("content-length")) {
        uint64_t cl;
        const char *q = val;
        if (!parse_u64(&q, &cl) && cl < INT64_MAX) x->content_length = (int64_t)cl;
    } else if (IS("retry-after")) {
        x->retry_after_ms = hfs_http_retry_after_ms(val, time(NULL));
    } else if (IS("ratelimit")) {
        x->ratelimit_ms = hfs_http_ratelimit_ms(val);
    } else if (IS("x-error-code")) {
        sanitize(val, x->err_code, sizeof x->err_code);
    } else if (IS("x-error-message")) {
        sanitize(val, x->err_msg, sizeof x->err_msg);
    } else if (IS("x-repo-commit")) {
        sanitize(val, x->repo_commit, sizeof x->repo_commit);
    }
#undef IS
    free(val);
    return n;
}

static size_t write_cb(char *p, size_t sz, size_t nm, void *ud)
{
    hfs_xfer *x = ud;
    size_t n = sz * nm;
    int ok2xx = is_2xx(x->status);
    if (!x->started) {
        x->started = 1;
        if (ok2xx && x->body_start) {
            if (x->body_start(x)) return 0; /* aborts: CURLE_WRITE_ERROR */
            x->sinking = x->sink != NULL;
        }
    }
    if (x->sinking) {
        if (x->sink(x, p, n)) return 0;
        x->sunk += n;
        return n;
    }
    if (ok2xx) {
        if (x->body.len + n > x->body_max) {
            x->local_err = -EIO;
            snprintf(x->local_msg, sizeof x->local_msg, "reply larger than %zu MiB",
                     x->body_max >> 20);
            return 0;
        }
        if (hfs_buf_add(&x->body, p, n)) {
            x->local_err = -ENOMEM;
            snprintf(x->local_msg, sizeof x->local_msg, "out of memory for the reply");
            return 0;
        }
        return n;
    }
    /* Error and redirect bodies: keep the start for the message, drop the rest quietly. */
    if (x->body.len < ERR_BODY_MAX) {
        size_t k = n < ERR_BODY_MAX - x->body.len ? n : ERR_BODY_MAX - x->body.len;
        hfs_buf_add(&x->body, p, k);
    }
    return n;
}

/* The operation's budget ran out while x was running or waiting: a final failure. */
static void expire(hfs_xfer *x)
{
    const hfs_budget *b = x->budget;
    int t = (int)(b->timeout_ms / 1000);
    x->local_err = -EIO;
    if (!x->status && !b->moved)
        snprintf(x->local_msg, sizeof x->local_msg,
                 "timed out: no answer within %d s (HF_SHIM_TIMEOUT)", t);
    else
        snprintf(x->local_msg, sizeof x->local_msg,
                 "timed out: %llu bytes in %d s, slower than %u KiB/s (HF_SHIM_TIMEOUT)",
                 (unsigned long long)(b->moved - b->mark), t, HFS_MIN_RATE >> 10);
}

/* libcurl's progress callback (about once a second when idle): counts the attempt's bytes into
 * its operation's budget and aborts the attempt when the budget is gone. */
static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)ultotal;
    hfs_xfer *x = ud;
    int64_t now = hfs_mono_ms();
    uint64_t moved = (uint64_t)(dlnow > 0 ? dlnow : 0) + (uint64_t)(ulnow > 0 ? ulnow : 0);
    if (moved > x->seen) {
        hfs_budget_moved(x->budget, moved - x->seen, now);
        x->seen = moved;
    }
    if (hfs_budget_left_ms(x->budget, now) > 0) return 0;
    expire(x);
    return 1; /* CURLE_ABORTED_BY_CALLBACK */
}

static int setup(hfs_xfer *x, slot *s, state *st)
{
    const hfs_config *cfg = hfs_cfg();
    CURL *e = s->e;
    reset_response(x);
    if (!x->url) return -ENOMEM; /* a failed strdup upstream */
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    /* No signals: we run inside arbitrary host programs, on any thread. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (st->share) curl_easy_setopt(e, CURLOPT_SHARE, st->share);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Over TLS (where HTTP/2 is offered, by ALPN) a stream of small files waits for the
     * connection being set up rather than opening one more of its own. */
    if (x->pipewait && !strncmp(x->url, "https://", 8)) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hfshim/" HFS_VERSION);
    /* Redirects are followed by hand: the token must not follow them to another host. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* The step callbacks refuse other schemes with a clear message before they get here; this
     * is libcurl's own guard, for redirects too should they ever be followed by libcurl. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    long stall = cfg->timeout > 0 ? cfg->timeout : 30;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, HFS_HTTP_STALL_RATE);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall);
    /* The operation's deadline across attempts and connections (net_budget.h). */
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT,
                     x->max_time_s > 0 ? x->max_time_s : API_MAX_TIME_S + stall);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (st->ca_bundle) curl_easy_setopt(e, CURLOPT_CAINFO, st->ca_bundle);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    if (x->has_range) {
        char r[48];
        snprintf(r, sizeof r, "%llu-%llu", (unsigned long long)x->range_first,
                 (unsigned long long)x->range_last);
        curl_easy_setopt(e, CURLOPT_RANGE, r); /* copied by libcurl */
        /* File data: receive in big reads (libcurl's default is 16 KiB per recv and callback;
         * 512 KiB cut the CPU time of a cold 500 MiB read by a fifth, bench/ANALYSIS.md). */
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RANGE_BUFSIZE);
    }
    struct curl_slist *h = NULL, *t;
#define ADD(str)                                                                                   \
    do {                                                                                           \
        t = curl_slist_append(h, str);                                                             \
        if (!t) goto nomem;                                                                        \
        h = t;                                                                                     \
    } while (0)
    ADD("Accept-Encoding: identity");
    /* A HEAD has no body to read: libcurl must not wait for one. */
    if (x->method && !strcmp(x->method, "HEAD")) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    int put = x->method && !strcmp(x->method, "PUT");
    if (put || (x->method && !strcmp(x->method, "POST"))) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->post_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->post ? x->post : "");
        /* An upload to a signed URL is a PUT of raw bytes: no form Content-Type, which a
         * signature over the headers might not cover. */
        if (put) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        char ct[128];
        if (put && !x->post_type)
            snprintf(ct, sizeof ct, "Content-Type:");
        else
            snprintf(ct, sizeof ct, "Content-Type: %s",
                     x->post_type ? x->post_type : "application/json");
        ADD(ct);
        ADD("Expect:");
    }
    if (x->accept) {
        char acc[128];
        snprintf(acc, sizeof acc, "Accept: %s", x->accept);
        ADD(acc);
    }
    /* The token goes to HF_ENDPOINT's origin only (scheme, host and port), never elsewhere. */
    x->sent_auth = hfs_cfg_token()[0] && hfs_url_same_origin(x->url, cfg->endpoint);
    if (x->sent_auth) {
        char auth[HFS_TOKEN_MAX + 32];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", hfs_cfg_token());
        t = curl_slist_append(h, auth);
        memset(auth, 0, sizeof auth);
        if (!t) goto nomem;
        h = t;
    }
#undef ADD
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    s->hdrs = h;
    s->x = x;
    return 0;
nomem:
    curl_slist_free_all(h);
    return -ENOMEM;
}

static void log_attempt(const hfs_xfer *x, CURL *e)
{
    if (hfs_log_level() < HFS_LOG_DEBUG) return;
    char u[1024];
    hfs_url_for_log(x->url, hfs_cfg()->endpoint, u, sizeof u);
    double secs = 0;
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &secs);
    char range[64] = "";
    if (x->has_range)
        snprintf(range, sizeof range, " bytes=%llu-%llu", (unsigned long long)x->range_first,
                 (unsigned long long)x->range_last);
    unsigned long long bytes = x->sinking ? x->sunk : x->body.len;
    long conns = 0; /* shows whether connections are being reused */
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
    if (x->curl_rc)
        hfs_debug("%s %s%s -> %s, %llu bytes, %.3f s%s", x->method ? x->method : "GET", u, range,
                  x->curl_err, bytes, secs, conns ? ", new connection" : "");
    else
        hfs_debug("%s %s%s -> %ld, %llu bytes, %.3f s%s", x->method ? x->method : "GET", u, range,
                  x->status, bytes, secs, conns ? ", new connection" : "");
}

/* Records the outcome of an attempt that libcurl reports finished. */
static void finish(hfs_xfer *x, CURL *e, CURLcode cc)
{
    long st = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
    x->status = st;
    x->curl_rc = (int)cc;
    if (cc != CURLE_OK && !x->curl_err[0])
        snprintf(x->curl_err, sizeof x->curl_err, "%s", curl_easy_strerror(cc));
    /* An empty 2xx body never reached write_cb: let the owner validate it now. */
    if (cc == CURLE_OK && is_2xx(st) && !x->started && x->body_start) {
        x->started = 1;
        if (x->body_start(x)) {
            if (!x->local_err) x->local_err = -EIO;
        } else {
            x->sinking = x->sink != NULL;
        }
    }
    if (cc == CURLE_OK && x->local_err) x->curl_rc = CURLE_WRITE_ERROR;
    log_attempt(x, e);
}

/* ---- the transfer loop ---- */

static void slot_release(ctx *c, slot *s)
{
    curl_multi_remove_handle(c->m, s->e);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    s->x = NULL;
}

enum { Q_WAIT = 0, Q_RUN = 1, Q_DONE = 2 };

/* One transfer of a run: where it is, when it may start again, and whether a feed gave it. */
typedef struct {
    hfs_xfer *x; /* NULL: a free entry (a fed transfer handed back) */
    char q;
    char fed;
    int64_t at;
} entry;

/* Room for one more entry: a free one, else the array grows. Its index, or -1. */
static int entry_slot(entry **v, int *cnt, int *cap)
{
    for (int i = 0; i < *cnt; i++)
        if (!(*v)[i].x) return i;
    size_t c = (size_t)*cap;
    if (*cnt >= INT_MAX / 2 || hfs_grow((void **)v, &c, (size_t)*cnt + 1, sizeof **v, 16))
        return -1;
    *cap = (int)c;
    return (*cnt)++;
}

/* A transfer is finished: a fed one goes back to its feed, and its entry is free. */
static void entry_done(entry *e, const hfs_http_feed *feed)
{
    e->q = Q_DONE;
    if (e->fed) {
        hfs_xfer *x = e->x;
        e->x = NULL;
        feed->ended(x, feed->arg);
    }
}

int hfs_http_run(hfs_xfer **xs, int n, int max_par, hfs_xfer_step_fn step, hfs_xfer_ready_fn ready,
                 void *arg)
{
    return hfs_http_run_feed(xs, n, max_par, NULL, step, ready, arg);
}

int hfs_http_run_feed(hfs_xfer **xs, int n, int max_par, const hfs_http_feed *feed,
                      hfs_xfer_step_fn step, hfs_xfer_ready_fn ready, void *arg)
{
    if (n <= 0 && !feed) return 0;
    ctx *c = ctx_get();
    if (!c) return -ENOMEM;
    state *st = c->owner;
    if (max_par < 1) max_par = 1;
    if (max_par > HFS_HTTP_MAX_PAR) max_par = HFS_HTTP_MAX_PAR;
    int cnt = 0, cap = 0;
    entry *v = NULL;
    if (n > 0 && !(v = calloc((size_t)n, sizeof *v))) {
        ctx_put(c);
        return -ENOMEM;
    }
    cap = n > 0 ? n : 0;
    hfs_budget budget;
    hfs_budget_start(&budget, hfs_cfg()->timeout, hfs_mono_ms());
    for (int i = 0; i < n; i++) {
        v[i].x = xs[i];
        xs[i]->budget = &budget;
    }
    cnt = n > 0 ? n : 0;
    /* Small files to one host: streams of one HTTP/2 connection where it offers that; ranges
     * of one file keep a connection each (see ctx_get). */
    if (feed && feed->multiplex)
        curl_multi_setopt(c->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);

    /* A peer that closes a TLS connection under us must not kill the host program with
     * SIGPIPE: block it on this thread while we run, and swallow one raised meanwhile. */
    sigset_t pipe, old, pend;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    sigpending(&pend);
    int pipe_pending = sigismember(&pend, SIGPIPE);

    int left = cnt, active = 0, rc = 0, force = 0, fed_dry = 0;
    for (;;) {
        if (feed && feed->stop && __atomic_load_n(feed->stop, __ATOMIC_ACQUIRE)) goto out;
        /* Fed transfers while slots are free; a dry feed is asked again after a wake-up or
         * when a transfer ends. */
        while (feed && !fed_dry && left < max_par) {
            hfs_xfer *x = feed->more(feed->arg);
            if (!x) {
                fed_dry = 1;
                break;
            }
            int i = entry_slot(&v, &cnt, &cap);
            if (i < 0) {
                x->local_err = -ENOMEM;
                feed->ended(x, feed->arg);
                break;
            }
            v[i] = (entry){.x = x, .q = Q_WAIT, .fed = 1};
            if (!x->budget) x->budget = &budget;
            left++;
        }
        if (left <= 0) break;
        int64_t now = hfs_mono_ms(), wake = -1;
        int held = 0, started = 0;
        for (int i = 0; i < cnt && active < max_par; i++) {
            hfs_xfer *x = v[i].x;
            if (!x || v[i].q != Q_WAIT) continue;
            if (v[i].at > now) {
                if (wake < 0 || v[i].at < wake) wake = v[i].at;
                continue;
            }
            if (hfs_budget_left_ms(x->budget, now) <= 0) {
                /* Held or waiting when time ran out: it ends as a running one would. */
                reset_response(x);
                expire(x);
                x->delay_ms = 0;
                left--;
                int r = step(x, arg);
                entry_done(&v[i], feed);
                if (r == HFS_XFER_STOP_ALL) goto out;
                continue;
            }
            if (ready && !ready(x, arg)) {
                /* A hold waits for another transfer; with none running it would last
                 * forever, so the loop below then starts one anyway. */
                if (!force) {
                    held++;
                    continue;
                }
                force = 0;
            }
            slot *s = NULL;
            for (int k = 0; k < HFS_HTTP_MAX_PAR && !s; k++)
                if (!c->s[k].x) s = &c->s[k];
            if (!s->e && !(s->e = curl_easy_init())) {
                rc = -ENOMEM;
                goto out;
            }
            if (setup(x, s, st) || curl_multi_add_handle(c->m, s->e) != CURLM_OK) {
                curl_slist_free_all(s->hdrs);
                s->hdrs = NULL;
                s->x = NULL;
                rc = -ENOMEM;
                goto out;
            }
            v[i].q = Q_RUN;
            active++;
            started++;
        }
        if (active == 0) {
            if (wake >= 0) {
                int64_t d = wake - hfs_mono_ms();
                if (d > 0) {
                    struct timespec ts = {(time_t)(d / 1000), (long)(d % 1000) * 1000000L};
                    nanosleep(&ts, NULL);
                }
                continue;
            }
            if (held && !started) {
                force = 1;
                continue;
            }
        }
        int running = 0, freed = 0;
        curl_multi_perform(c->m, &running);
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(c->m, &queued))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *e = msg->easy_handle;
            CURLcode cc = msg->data.result;
            slot *s = NULL;
            for (int k = 0; k < HFS_HTTP_MAX_PAR; k++)
                if (c->s[k].e == e && c->s[k].x) s = &c->s[k];
            if (!s) continue;
            hfs_xfer *x = s->x;
            int i = 0;
            while (i < cnt && v[i].x != x) i++;
            finish(x, e, cc);
            slot_release(c, s);
            active--;
            freed = 1;
            x->delay_ms = 0;
            int r = step(x, arg);
            if (r == HFS_XFER_AGAIN) {
                v[i].q = Q_WAIT;
                v[i].at = hfs_mono_ms() + (x->delay_ms > 0 ? x->delay_ms : 0);
            } else {
                left--;
                fed_dry = 0; /* a slot is free: ask the feed again */
                entry_done(&v[i], feed);
                if (r == HFS_XFER_STOP_ALL) goto out;
            }
        }
        /* A slot just freed is filled at once, not after the next socket event (with many
         * short transfers in flight, that wait was ~15% of each slot's time). */
        if (left > 0 && active > 0 && !freed) {
            int64_t t = held ? 50 : 1000;
            if (wake >= 0 && wake - hfs_mono_ms() < t) t = wake - hfs_mono_ms();
            if (t < 0) t = 0;
            struct curl_waitfd wf = {.fd = feed ? feed->wake_fd : -1, .events = CURL_WAIT_POLLIN};
            /* Polled whenever there is one: a stop comes through it too. */
            int nw = wf.fd >= 0;
            curl_multi_poll(c->m, nw ? &wf : NULL, nw ? 1 : 0, (int)t, NULL);
            if (nw && (wf.revents & CURL_WAIT_POLLIN)) {
                uint64_t drain;
                ssize_t got =
                    hfs_libc()->read(wf.fd, &drain, sizeof drain); /* an eventfd: resets it */
                (void)got;
                fed_dry = 0;
            }
        }
    }
out:
    for (int k = 0; k < HFS_HTTP_MAX_PAR; k++)
        if (c->s[k].x) slot_release(c, &c->s[k]);
    /* Stopped early: fed transfers still here go back to their feed, abandoned. */
    for (int i = 0; i < cnt; i++)
        if (v[i].x && v[i].fed && v[i].q != Q_DONE) {
            v[i].x->local_err = -ECANCELED;
            entry_done(&v[i], feed);
        }
    if (feed && feed->multiplex)
        curl_multi_setopt(c->m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (!pipe_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < n; i++) xs[i]->budget = NULL; /* it lived on this stack */
    free(v);
    ctx_put(c);
    return rc;
}

/* ---- helpers for step callbacks ---- */

int hfs_http_follow(hfs_xfer *x)
{
    if (x->status < 300 || x->status >= 400 || !x->location || !x->location[0]) return 0;
    char *u = hfs_url_resolve(x->url, x->location);
    if (!u) return 0;
    free(x->url);
    x->url = u;
    if (x->method && !strcmp(x->method, "POST") && x->status != 307 && x->status != 308) {
        x->method = NULL;
        x->post = NULL;
        x->post_len = 0;
    }
    return 1;
}

void hfs_http_unfollowed(const hfs_xfer *x, int max, char *msg, size_t n)
{
    const char *loc = x->location;
    if (x->redirects > max) {
        snprintf(msg, n, "too many redirects (more than %d)", max);
        return;
    }
    if (!loc || !loc[0]) {
        snprintf(msg, n, "redirect (HTTP %ld) without a Location", x->status);
        return;
    }
    /* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'. Without one the
     * target is relative, and inherits http(s) from the URL that answered. */
    size_t k = 0;
    if ((loc[0] | 0x20) >= 'a' && (loc[0] | 0x20) <= 'z')
        while (loc[k] &&
               strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", loc[k]))
            k++;
    /* The query of a signed URL carries credentials: never in a log line. */
    int shown = (int)strcspn(loc, "?");
    if (shown > 200) shown = 200;
    if (k && loc[k] == ':' &&
        !((k == 4 && !strncasecmp(loc, "http", 4)) || (k == 5 && !strncasecmp(loc, "https", 5))))
        snprintf(msg, n,
                 "refused a redirect to a %.*s: URL (%.*s): only http and https are followed",
                 (int)k, loc, shown, loc);
    else
        snprintf(msg, n, "redirect to an unusable Location (%.*s)", shown, loc);
}

int64_t hfs_http_retry_delay(const hfs_xfer *x)
{
    if (x->local_err) return -1;
    if (x->curl_rc)
        return hfs_http_curl_retryable(x->curl_rc) ? hfs_http_backoff_ms(x->failures + 1, 0, -1, -1)
                                                   : -1;
    if (!hfs_http_status_retryable(x->status)) return -1;
    return hfs_http_backoff_ms(x->failures + 1, x->status, x->retry_after_ms, x->ratelimit_ms);
}

int64_t hfs_http_server_wait_ms(const hfs_xfer *x)
{
    int64_t w = x->retry_after_ms;
    if (x->status == 429 && x->ratelimit_ms > w) w = x->ratelimit_ms;
    return w;
}

int64_t hfs_http_next_attempt(const hfs_xfer *x, int64_t now, char *end, size_t n)
{
    end[0] = 0;
    int64_t d = hfs_http_retry_delay(x);
    if (d < 0) return -1;
    if (x->failures + 1 >= HFS_HTTP_ATTEMPTS) {
        snprintf(end, n, "after %d attempts", x->failures + 1); /* HFS_HTTP_ATTEMPTS > 1 */
        return -1;
    }
    if (!x->budget) return d;
    int64_t left = hfs_budget_left_ms(x->budget, now), asked = hfs_http_server_wait_ms(x);
    int t = (int)(x->budget->timeout_ms / 1000);
    if (asked > left) {
        snprintf(end, n,
                 "the server asks to wait %.0f s, more than the %.0f s left of "
                 "HF_SHIM_TIMEOUT (%d s)",
                 (double)asked / 1000, left > 0 ? (double)left / 1000 : 0.0, t);
        return -1;
    }
    if (asked > d) d = asked; /* honoured in full: it fits */
    if (d >= left) {
        snprintf(end, n, "after %d attempt%s (HF_SHIM_TIMEOUT, %d s, reached)", x->failures + 1,
                 x->failures ? "s" : "", t);
        return -1;
    }
    return d;
}

void hfs_xfer_clear(hfs_xfer *x)
{
    free(x->url);
    hfs_buf_free(&x->body);
    free(x->location);
    free(x->link);
    memset(x, 0, sizeof *x);
}

char *hfs_strjoin(const char *first, ...)
{
    hfs_buf b = {0};
    va_list ap;
    va_start(ap, first);
    int bad = 0;
    for (const char *s = first; s; s = va_arg(ap, const char *)) bad |= hfs_buf_str(&b, s);
    va_end(ap);
    if (bad) hfs_buf_free(&b);
    return b.p;
}

void hfs_repo_name(const hfs_repo_id *r, char *out, size_t n)
{
    snprintf(out, n, "%s%s", hfs_type_url_prefix(r->type), r->id);
}
