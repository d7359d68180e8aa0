#include "repo.h"
#include "libc.h"
#include "config.h"
#include "hubcache.h"
#include "log.h"
#include "net.h"
#include "overlay.h"
#include "revcache.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hash.h"

/* The registry: g_lock guards the list and each repo's state, never a request. A repo is
 * resolved and indexed by one thread with no lock held (r->loading), so another repo's stat
 * never waits for it; threads that want the same repo wait on g_loaded. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_loaded = PTHREAD_COND_INITIALIZER;
static hfs_repo *g_repos;
static const char *g_pins_env = "";

/* How long a missing or forbidden repo is remembered before the next attempt: a program probing
 * it in a loop makes one request, not one per probe. */
#define ERR_RETRY_SECS 10

void hfs_repo_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cv = PTHREAD_COND_INITIALIZER;
    memcpy(&g_lock, &fresh, sizeof fresh);
    memcpy(&g_loaded, &fresh_cv, sizeof fresh_cv);
    /* A load in progress belongs to a parent thread the child does not have. */
    for (hfs_repo *r = g_repos; r; r = r->next) r->loading = 0;
}

const char *hfs_repo_pins_env(void)
{
    return __atomic_load_n(&g_pins_env, __ATOMIC_ACQUIRE);
}

/* Pins inherited from the parent: "key=snap;key=snap". */
static int env_pin(const char *key, char *snap, size_t n)
{
    const char *e = getenv("HF_SHIM_PINS");
    size_t kl = strlen(key);
    while (e && *e) {
        const char *end = strchr(e, ';');
        size_t l = end ? (size_t)(end - e) : strlen(e);
        if (l > kl && !strncmp(e, key, kl) && e[kl] == '=') {
            size_t vl = l - kl - 1;
            if (vl >= n) return 0;
            memcpy(snap, e + kl + 1, vl);
            snap[vl] = 0;
            return 1;
        }
        e = end ? end + 1 : NULL;
    }
    return 0;
}

/* Called with g_lock held: add key=snap to the pins string children inherit. */
static void add_pin(const char *key, const char *snap)
{
    char probe[64];
    if (env_pin(key, probe, sizeof probe)) return; /* inherited already */
    const char *old = g_pins_env;
    size_t len = strlen(old) + strlen(key) + strlen(snap) + 3;
    char *s = malloc(len);
    if (!s) return;
    snprintf(s, len, "%s%s%s=%s", old, *old ? ";" : "", key, snap);
    __atomic_store_n(&g_pins_env, s,
                     __ATOMIC_RELEASE); /* old one leaks: a vfork child may read it */
}

/* File-name-safe form of a key for the session dir. */
static void key_file(const char *key, char *out, size_t n)
{
    size_t o = 0;
    for (const char *s = key; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '/' || c == '%' || c == ':' || c == '@') {
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
        } else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

static int session_pin_path(const hfs_config *c, const char *key, char *out, size_t n)
{
    char kf[HFS_ID_MAX * 3 + HFS_REV_MAX * 3];
    key_file(key, kf, sizeof kf);
    return hfs_fmt(out, n, "%s/pins/%s", c->session, kf);
}

static int valid_snap(const char *s)
{
    size_t l = strlen(s);
    if (l == 0 || l >= 48) return 0;
    for (size_t i = 0; i < l; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z'))) return 0;
    return 1;
}

static int refs_path(const hfs_config *c, const hfs_repo *r, char *out, size_t n)
{
    if (r->spec.repo.type == HFS_BUCKET)
        return hfs_fmt(out, n, "%s/trees/%s/latest", c->shim_cache, r->folder);
    return hfs_fmt(out, n, "%s/%s/refs/%s", c->hub_cache, r->folder,
                   r->spec.rev[0] ? r->spec.rev : "main");
}

static int index_path(const hfs_config *c, const hfs_repo *r, char *out, size_t n)
{
    return hfs_fmt(out, n, "%s/trees/%s/%s.idx", c->shim_cache, r->folder, r->snap);
}

struct build_ctx {
    hfs_index_builder *b;
    int bucket;
    int rc;
    size_t n;
};

static int add_entry(const hfs_tree_entry *e, void *arg)
{
    struct build_ctx *bc = arg;
    bc->rc = hfs_ib_add(bc->b, e, bc->bucket);
    bc->n++;
    return bc->rc;
}

/* What loading a repo learns on the way, from resolve to load_index. */
typedef struct {
    const char *hint;    /* the file whose open loads the repo (NULL: none, or not for reading) */
    int64_t mtime;       /* the repo's lastModified, when the Hub was asked */
    struct build_ctx bc; /* bc.b: the listing of commit listed_at, from a revision's siblings */
    char listed_at[41];
} load_ctx;

/* The builder could not grow (hfs_ib_add fails only so). */
static int no_memory(const hfs_repo *r)
{
    hfs_err("%s: out of memory for its listing", r->key);
    return -ENOMEM;
}

/* Asks the Hub for rev, and takes the listing when the reply carries it whole (repos of up to
 * 1,000 files), so no tree request follows; the hint's HEAD goes out beside it. */
static int ask_revision(const hfs_repo *r, const char *rev, load_ctx *lc, char sha[41])
{
    const struct hfs_net_ops *net = hfs_net();
    if (!net) return -EIO;
    hfs_ib_free(lc->bc.b);
    lc->bc = (struct build_ctx){.b = hfs_ib_new()};
    lc->listed_at[0] = 0;
    if (!lc->bc.b) return no_memory(r);
    int listed = 0;
    int rc = net->revision_listing(&r->spec.repo, rev, lc->hint, sha, &lc->mtime, add_entry,
                                   &lc->bc, &listed);
    lc->hint = NULL; /* asked once: a second revision request (by sha) needs no second HEAD */
    if (!rc && lc->bc.rc) rc = no_memory(r);
    if (rc || !listed) {
        hfs_ib_free(lc->bc.b);
        lc->bc.b = NULL;
    } else {
        memcpy(lc->listed_at, sha, 41);
    }
    return rc;
}

/* Revision -> snapshot id, without the network when any pin or fresh answer exists. Sets
 * lc->mtime when the Hub was asked. */
static int resolve(hfs_repo *r, load_ctx *lc)
{
    const hfs_config *c = hfs_cfg();
    char path[PATH_MAX], buf[64];
    int64_t *mtime = &lc->mtime;
    *mtime = 0;
    if (env_pin(r->key, r->snap, sizeof r->snap) && valid_snap(r->snap)) return 0;
    if (c->session[0] && !session_pin_path(c, r->key, path, sizeof path) &&
        hfs_read_small(path, buf, sizeof buf) > 0 && valid_snap(buf)) {
        snprintf(r->snap, sizeof r->snap, "%s", buf);
        return 0;
    }
    int bucket = r->spec.repo.type == HFS_BUCKET;
    if (!bucket && hfs_is_sha(r->spec.rev)) {
        snprintf(r->snap, sizeof r->snap, "%s", r->spec.rev);
        return 0;
    }
    const char *rev = r->spec.rev[0] ? r->spec.rev : "main";
    /* refs/<rev> as any tool left it (huggingface_hub writes it with no word on who may read
     * the repo): used offline, as huggingface_hub does, and when the Hub does not answer. */
    int have_cached = 0;
    char cached[64] = "";
    if (!refs_path(c, r, path, sizeof path) && hfs_read_small(path, cached, sizeof cached) > 0 &&
        valid_snap(cached))
        have_cached = 1;
    if (c->offline) {
        if (!have_cached) {
            hfs_err("%s: offline (HF_HUB_OFFLINE=1) and revision %s is not in the cache", r->key,
                    rev);
            return -ENOENT;
        }
        snprintf(r->snap, sizeof r->snap, "%s", cached);
        goto pin;
    }
    /* A recent answer, only if it was got with this process's token (or with none). */
    if (hfs_revcache_get(r->folder, rev, buf, sizeof buf) && valid_snap(buf)) {
        snprintf(r->snap, sizeof r->snap, "%s", buf);
        goto pin;
    }
    const struct hfs_net_ops *net = hfs_net();
    int rc;
    if (!net)
        rc = -EIO;
    else if (bucket) {
        rc = net->bucket_info(&r->spec.repo, mtime);
        if (!rc) snprintf(r->snap, sizeof r->snap, "b%lld", (long long)time(NULL));
    } else {
        char sha[41];
        rc = ask_revision(r, r->spec.rev, lc, sha);
        if (!rc) memcpy(r->snap, sha, sizeof sha);
    }
    if (rc == -EIO && have_cached) {
        hfs_warn("%s: the Hub did not answer; using the revision cached earlier (%s)", r->key,
                 cached);
        snprintf(r->snap, sizeof r->snap, "%s", cached);
        goto pin;
    }
    if (rc == -ENETUNREACH) rc = -ENOENT; /* offline and not cached: as if absent */
    if (rc) return rc;
    /* Buckets record their answer only once their listing is indexed (see load_index). */
    if (!bucket) {
        hfs_hub_write_ref(r->folder, rev, r->snap);
        hfs_revcache_put(r->folder, rev, r->snap);
    }
pin:
    if (c->session[0] && !session_pin_path(c, r->key, path, sizeof path)) {
        /* A failed mkdir shows as write_once's failure: then this process's own answer. */
        if (hfs_mkdirs_parent(path, 0755)) {
        }
        if (hfs_write_once(path, r->snap, strlen(r->snap)) == 1 &&
            hfs_read_small(path, buf, sizeof buf) > 0 && valid_snap(buf)) {
            /* Another process of this session pinned first: use its snapshot. */
            if (strcmp(buf, r->snap)) *mtime = 0;
            snprintf(r->snap, sizeof r->snap, "%s", buf);
        }
    }
    return 0;
}

/* Out of line: a warm open never gets here, and its buffer would deepen load_index's frame. */
__attribute__((noinline)) static void note_bucket_snapshot(const hfs_config *c, const hfs_repo *r)
{
    char latest[PATH_MAX];
    /* A cache hint for offline use: without it the listing is asked again. */
    if (!refs_path(c, r, latest, sizeof latest) &&
        hfs_write_atomic(latest, r->snap, strlen(r->snap)))
        hfs_debug("%s: cannot record bucket snapshot in %s", r->key, latest);
    hfs_revcache_put(r->folder, "main", r->snap);
}

/* Offline with no listing of this commit: what huggingface_hub (or this shim) cached of it,
 * read from its snapshot folder into an index of this process's own (unlinked once mapped:
 * the folder may gain files later, and a full listing must never be taken for this one). */
__attribute__((noinline)) static int load_snapshot_folder(const hfs_config *c, hfs_repo *r)
{
    char path[PATH_MAX];
    if (hfs_fmt(path, sizeof path, "%s/trees/%s/.%s.%d.%lx.cached.idx", c->shim_cache, r->folder,
                r->snap, (int)getpid(), hfs_random()))
        return -ENAMETOOLONG;
    int rc = hfs_hub_snapshot_index(r->folder, r->snap, path);
    if (rc == -ENOENT) {
        hfs_err("%s: offline (HF_HUB_OFFLINE=1) and snapshot %s is not cached", r->key, r->snap);
        return rc;
    }
    if (rc) {
        hfs_err("%s: cannot index cached snapshot %s: %s", r->key, r->snap, strerror(-rc));
        return rc;
    }
    r->ix = hfs_index_open(path);
    hfs_libc()->unlink(path);
    if (!r->ix) return -EIO;
    r->cached_only = 1;
    return 0;
}

/* The entries of r's snapshot into a builder: the siblings a revision reply brought, else the
 * tree listing (asking the revision first, by sha, for the repo's lastModified when resolve
 * did not). */
static int list_snapshot(hfs_repo *r, load_ctx *lc, struct build_ctx *out)
{
    const struct hfs_net_ops *net = hfs_net();
    if (!net) return -EIO;
    int bucket = r->spec.repo.type == HFS_BUCKET;
    if (!bucket && !lc->mtime && strcmp(lc->listed_at, r->snap)) {
        char sha[41];
        int rc = ask_revision(r, r->snap, lc, sha);
        if (rc) return rc;
    }
    if (!bucket && lc->bc.b && !strcmp(lc->listed_at, r->snap)) {
        *out = lc->bc;
        lc->bc.b = NULL;
        hfs_debug("%s@%s: listed by the revision's siblings", r->key, r->snap);
        return 0;
    }
    *out = (struct build_ctx){.b = hfs_ib_new(), .bucket = bucket};
    if (!out->b) return no_memory(r);
    int rc = net->tree(&r->spec.repo, bucket ? NULL : r->snap, add_entry, out);
    if (!rc && out->rc) rc = no_memory(r);
    if (rc) {
        hfs_ib_free(out->b);
        out->b = NULL;
    }
    return rc;
}

static int load_index(hfs_repo *r, load_ctx *lc)
{
    const hfs_config *c = hfs_cfg();
    char path[PATH_MAX];
    if (index_path(c, r, path, sizeof path)) return -ENAMETOOLONG;
    r->ix = hfs_index_open(path);
    if (r->ix) return 0;
    if (c->offline) {
        if (r->spec.repo.type != HFS_BUCKET) return load_snapshot_folder(c, r);
        hfs_err("%s: offline (HF_HUB_OFFLINE=1) and snapshot %s is not cached", r->key, r->snap);
        return -ENOENT;
    }
    struct build_ctx bc;
    int rc = list_snapshot(r, lc, &bc);
    if (rc) return rc == -ENETUNREACH ? -ENOENT : rc;
    hfs_debug("%s@%s: indexed %zu entries", r->key, r->snap, bc.n);
    rc = hfs_ib_write(bc.b, path, lc->mtime ? lc->mtime : (int64_t)time(NULL));
    if (rc) {
        hfs_err("%s: cannot write tree index %s: %s", r->key, path, strerror(-rc));
        return rc;
    }
    if (bc.bucket) note_bucket_snapshot(c, r);
    r->ix = hfs_index_open(path);
    return r->ix ? 0 : -EIO;
}

static int64_t now(void)
{
    return hfs_mono_ms() / 1000;
}

uint64_t hfs_repo_dev(const hfs_spec *s)
{
    char key[sizeof((hfs_repo *)0)->key];
    hfs_spec_key(s, key, sizeof key);
    return HFS_DEV_PREFIX | (XXH3_64bits(key, strlen(key)) & 0xffffffffull);
}

void hfs_repo_each(void (*cb)(const hfs_repo *r, void *arg), void *arg)
{
    pthread_mutex_lock(&g_lock);
    for (const hfs_repo *r = g_repos; r; r = r->next)
        if (r->ix) cb(r, arg);
    pthread_mutex_unlock(&g_lock);
}

hfs_repo *hfs_repo_get(const hfs_spec *s, int *err)
{
    return hfs_repo_get_for(s, NULL, err);
}

hfs_repo *hfs_repo_get_for(const hfs_spec *s, const char *hint, int *err)
{
    char key[sizeof((hfs_repo *)0)->key];
    hfs_spec_key(s, key, sizeof key);
    pthread_mutex_lock(&g_lock);
    hfs_repo *r;
    for (r = g_repos; r; r = r->next)
        if (!strcmp(r->key, key)) break;
    /* Another thread loading this repo: its answer is ours too (each of its requests has a
     * deadline, so the wait ends). */
    while (r && r->loading && !r->ix) pthread_cond_wait(&g_loaded, &g_lock);
    if (r && r->ix) {
        pthread_mutex_unlock(&g_lock);
        return r;
    }
    if (r && r->err && now() - r->err_time < ERR_RETRY_SECS) {
        *err = r->err;
        pthread_mutex_unlock(&g_lock);
        return NULL;
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&g_lock);
            *err = -ENOMEM;
            return NULL;
        }
        r->spec = *s;
        memcpy(r->key, key, sizeof key);
        char fid[HFS_ID_MAX];
        hfs_folder_id(s->repo.id, fid, sizeof fid);
        snprintf(r->folder, sizeof r->folder, "%s--%s", hfs_type_plural(s->repo.type), fid);
        r->dev = hfs_repo_dev(s);
        char up[PATH_MAX];
        int urc = hfs_overlay_upper(&s->repo, up, sizeof up);
        if (urc || !(r->uroot = strdup(up))) {
            free(r);
            pthread_mutex_unlock(&g_lock);
            *err = urc ? urc : -ENOMEM;
            hfs_err("%s: cannot set up its overlay path: %s", key, strerror(-*err));
            return NULL;
        }
        r->next = g_repos;
        g_repos = r;
    }
    /* Buckets are listed as before: their resolve has no revision to learn a redirect at. */
    load_ctx lc = {.hint = s->repo.type == HFS_BUCKET || (hint && !*hint) ? NULL : hint};
    /* Loaded on a copy, outside the lock: the registry's fields change under it only. */
    r->loading = 1;
    hfs_repo tmp = *r;
    tmp.snap[0] = 0;
    tmp.ix = NULL;
    tmp.cached_only = 0;
    pthread_mutex_unlock(&g_lock);
    int rc = resolve(&tmp, &lc);
    if (!rc) rc = load_index(&tmp, &lc);
    hfs_ib_free(lc.bc.b);
    pthread_mutex_lock(&g_lock);
    r->loading = 0;
    pthread_cond_broadcast(&g_loaded);
    if (rc) {
        /* Only the Hub's answers are remembered (missing, forbidden): a network failure or a
         * timeout is tried again by the next call, never taken for an answer. */
        r->err = rc == -ENOENT || rc == -EACCES ? rc : 0;
        r->err_time = now();
        *err = rc;
        pthread_mutex_unlock(&g_lock);
        return NULL;
    }
    memcpy(r->snap, tmp.snap, sizeof r->snap);
    r->cached_only = tmp.cached_only;
    r->err = 0;
    __atomic_store_n(&r->ix, tmp.ix, __ATOMIC_RELEASE);
    add_pin(r->key, r->snap);
    pthread_mutex_unlock(&g_lock);
    return r;
}
