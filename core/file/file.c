#include "file.h"
#include "libc.h"
#include "file_hash.h"
#include "chunkclaim.h"
#include "chunkmap.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read-ahead for sequential readers doubles from 2 chunks up to this; ranges are cut into
 * pieces so a large window is fetched over several connections at once. */
#define MAX_READAHEAD ((uint64_t)128 << 20)
#define PIECE_CHUNKS 16 /* 128 MiB in 16 MiB pieces: +7..17% over 64/8 (bench/ANALYSIS.md) */
/* Pieces fetched at once: a full read-ahead window. A larger range (a whole file made present
 * for mmap, exec or sendfile) is fetched in several such batches. */
#define BATCH_PIECES (int)(MAX_READAHEAD / ((uint64_t)PIECE_CHUNKS * HFS_CHUNK))
/* Files at least this big that are read sequentially are hashed while they download. */
#define BG_HASH_MIN ((uint64_t)16 << 20)

struct hfs_file {
    hfs_repo *repo;
    char *rpath;
    uint64_t size;
    uint32_t etag_kind;
    char etag[68];
    char *blob; /* allocated to size: every open allocates these (bench/ANALYSIS.md) */
    char *partial;
    char *mapfile;
    int complete; /* atomic */
    int broken;   /* negative errno once the content failed its check */
    hfs_chunkmap cm;
    pthread_mutex_t lock; /* through lock_file() */
    unsigned lock_gen;    /* atomic: the fork generation the lock was made in */
    uint64_t next_off;    /* where a sequential reader continues */
    uint64_t window;
    hfs_hasher *hasher; /* background hash of the download, once a sequential read started */
    int hash_tried;
    hfs_claims pf; /* a prefetch's claims on all its chunks, between _begin and _end */
    int pf_landed; /* atomic: the prefetch wrote the whole file */
    ino_t pino;    /* the partial file this one reads (0: none) */
    dev_t pdev;
};

/* A forked child may inherit a file whose lock a parent thread held (finalize hashes with it
 * held): the first use in a new process makes it afresh, under a lock the fork rule resets. */
static pthread_mutex_t g_relock = PTHREAD_MUTEX_INITIALIZER;

void hfs_file_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_relock = fresh;
}

static void lock_file(hfs_file *f)
{
    unsigned gen = hfs_proc_fork_gen();
    if (__atomic_load_n(&f->lock_gen, __ATOMIC_ACQUIRE) != gen) {
        pthread_mutex_lock(&g_relock);
        if (f->lock_gen != gen) {
            pthread_mutex_init(&f->lock, NULL);
            __atomic_store_n(&f->lock_gen, gen, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&g_relock);
    }
    pthread_mutex_lock(&f->lock);
}

static int set_path(char **dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_path(char **dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0) return -ENOMEM;
    if (n >= PATH_MAX) {
        free(p);
        return -ENAMETOOLONG;
    }
    *dst = p;
    return 0;
}

static int paths(hfs_file *f, const hfs_repo *r)
{
    const hfs_config *c = hfs_cfg();
    int rc;
    if (r->spec.repo.type == HFS_BUCKET)
        rc = set_path(&f->blob, "%s/blobs/%s/%s", c->shim_cache, r->folder, f->etag);
    else
        rc = set_path(&f->blob, "%s/%s/blobs/%s", c->hub_cache, r->folder, f->etag);
    if (!rc) rc = set_path(&f->partial, "%s/partial/%s/%s", c->shim_cache, r->folder, f->etag);
    if (!rc) rc = set_path(&f->mapfile, "%s.map", f->partial);
    return rc;
}

static int keep_flags(int oflags)
{
    return oflags & (O_CLOEXEC | O_NONBLOCK | O_NOATIME | O_NOCTTY);
}

/* snapshots/<commit>/<path> -> ../../blobs/<etag>, one more ../ per directory level, as
 * huggingface_hub lays it out, so its cache sees what we fetched. */
static void link_snapshot(hfs_file *f)
{
    const hfs_repo *r = f->repo;
    if (r->spec.repo.type == HFS_BUCKET) return;
    const hfs_config *c = hfs_cfg();
    char link[PATH_MAX], target[PATH_MAX];
    if (hfs_fmt(link, sizeof link, "%s/%s/snapshots/%s/%s", c->hub_cache, r->folder, r->snap,
                f->rpath))
        return;
    size_t o = 0;
    target[0] = 0;
    for (const char *s = f->rpath; (s = strchr(s, '/')); s++)
        if (o + 4 < sizeof target) o += (size_t)snprintf(target + o, sizeof target - o, "../");
    if (hfs_fmt(target + o, sizeof target - o, "../../blobs/%s", f->etag)) return;
    /* A failed mkdir shows as the symlink's error. */
    if (hfs_mkdirs_parent(link, 0755)) {
    }
    if (hfs_libc()->symlink(target, link) && errno != EEXIST)
        hfs_debug("%s: cannot link snapshot %s: %s", r->key, link, strerror(errno));
}

static int empty_blob(hfs_file *f)
{
    int rc = hfs_mkdirs_parent(f->blob, 0755);
    if (!rc) {
        int fd = hfs_libc()->open(f->blob, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return -errno;
        hfs_libc()->close(fd);
    }
    return rc;
}

/* A partial file in use holds a read lock on this byte (an open file description lock, far
 * past any content: the program's own locks on its read-only fd never meet it), so that a
 * partial file made useless by a blob another tool finished is removed only when no process
 * still fills or reads it. */
#define IN_USE_BYTE ((off_t)INT64_MAX - 1)

static int in_use_lock(int fd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = IN_USE_BYTE, .l_len = 1};
    return hfs_libc()->fcntl(fd, F_OFD_SETLK, (long)&fl) ? -errno : 0;
}

/* Lock the partial file open at fd, and check that its path still names it: one removed (as
 * stale, or published by its last filler) under us means "look for the blob again". The file
 * it is goes into f->pino/pdev. */
static int hold_partial(hfs_file *f, int fd)
{
    struct stat a, b;
    int rc = in_use_lock(fd, F_RDLCK);
    if (rc == -EAGAIN || rc == -EACCES) return -ENOENT; /* being removed right now */
    if (rc) return rc;
    if (hfs_libc()->fstat(fd, &a)) return -errno;
    if (hfs_libc()->stat(f->partial, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        return -ENOENT;
    f->pino = a.st_ino;
    f->pdev = a.st_dev;
    return 0;
}

/* The blob is there, finished by another tool (huggingface_hub, say) while a partial file of
 * ours was left: remove the partial file and its map, unless a process still uses them. */
static void drop_stale_partial(const hfs_file *f)
{
    int fd = hfs_libc()->open(f->partial, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0) return;
    struct stat a, b;
    if (!in_use_lock(fd, F_WRLCK) && !hfs_libc()->fstat(fd, &a) &&
        !hfs_libc()->stat(f->partial, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        hfs_libc()->unlink(f->mapfile);
        hfs_libc()->unlink(f->partial);
        hfs_debug("%s: %s: removed partial file %s: its blob is complete", f->repo->key, f->rpath,
                  f->partial);
    }
    hfs_libc()->close(fd); /* drops the lock */
}

/* huggingface_hub's own copy in the snapshot folder, for a file it stored without a symlink
 * (HF_HUB_DISABLE_SYMLINKS, a file system without them) or under a blob name we do not know. */
static int open_snapshot_copy(const hfs_file *f, int oflags)
{
    const hfs_repo *r = f->repo;
    char p[PATH_MAX];
    if (r->spec.repo.type == HFS_BUCKET ||
        hfs_fmt(p, sizeof p, "%s/%s/snapshots/%s/%s", hfs_cfg()->hub_cache, r->folder, r->snap,
                f->rpath))
        return -1;
    return hfs_libc()->open(p, O_RDONLY | keep_flags(oflags), 0);
}

/* Create (or join) the sparse partial file and its chunk map; the read-only fd in *fd. */
static int open_partial(hfs_file *f, int oflags, int *fd)
{
    int rc = hfs_mkdirs_parent(f->partial, 0755);
    if (rc) return rc;
    int wfd = hfs_libc()->open(f->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (wfd < 0) return -errno;
    struct stat st;
    if (hfs_libc()->fstat(wfd, &st) ||
        ((uint64_t)st.st_size != f->size && hfs_libc()->ftruncate(wfd, (off_t)f->size))) {
        rc = -errno;
        hfs_libc()->close(wfd);
        return rc;
    }
    hfs_libc()->close(wfd);
    if ((rc = hfs_chunkmap_open(f->mapfile, f->size, &f->cm))) return rc;
    *fd = hfs_libc()->open(f->partial, O_RDONLY | keep_flags(oflags), 0);
    if (*fd < 0) {
        rc = -errno;
    } else if ((rc = hold_partial(f, *fd))) {
        hfs_libc()->close(*fd);
        *fd = -1;
    }
    if (rc) hfs_chunkmap_close(&f->cm);
    return rc;
}

int hfs_file_open(hfs_repo *r, const hfs_ientry *e, const char *rpath, int oflags, hfs_file **out)
{
    hfs_file *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    f->repo = r;
    f->rpath = strdup(rpath);
    f->size = e->size;
    f->etag_kind = e->etag_kind;
    f->pf.fd = -1;
    pthread_mutex_init(&f->lock, NULL);
    f->lock_gen = hfs_proc_fork_gen();
    int rc = -ENOMEM;
    if (!f->rpath) goto fail;
    if (e->etag[0])
        memcpy(f->etag, e->etag, sizeof f->etag);
    else /* no content id from the server: name it by snapshot and path */
        snprintf(f->etag, sizeof f->etag, "nohash-%016llx",
                 (unsigned long long)(hfs_index_id(r->ix, e) ^ r->dev));
    if ((rc = paths(f, r))) goto fail;

    int fd = hfs_libc()->open(f->blob, O_RDONLY | keep_flags(oflags), 0);
    if (fd < 0 && f->size == 0 && !empty_blob(f)) {
        link_snapshot(f);
        fd = hfs_libc()->open(f->blob, O_RDONLY | keep_flags(oflags), 0);
    }
    if (fd < 0) fd = open_snapshot_copy(f, oflags);
    if (fd >= 0) {
        drop_stale_partial(f);
        f->complete = 1;
        *out = f;
        return fd;
    }
    if (hfs_cfg()->offline && hfs_libc()->access(f->partial, F_OK)) {
        /* Nothing of it is here: a missing file, as huggingface_hub's LocalEntryNotFoundError
         * (a partial file is opened: the chunks it holds can be read). */
        hfs_err("%s: %s: not in the local cache, and offline (HF_HUB_OFFLINE=1)", r->key, rpath);
        hfs_file_free(f);
        return -ENOENT;
    }
    /* Partial file of the full size (sparse), filled on demand. Another process may finish the
     * download and publish the blob (removing the partial file and its map) while this one
     * prepares: ENOENT on the way means "look for the blob again". */
    for (int tries = 0;; tries++) {
        rc = open_partial(f, oflags, &fd);
        if (rc != -ENOENT || tries == 3) break;
        if ((fd = hfs_libc()->open(f->blob, O_RDONLY | keep_flags(oflags), 0)) >= 0) {
            f->complete = 1;
            break;
        }
    }
    if (rc && !f->complete) goto fail;
    *out = f;
    return fd;
fail:
    hfs_err("%s: %s: cannot prepare local file: %s", r->key, rpath, strerror(-rc));
    hfs_file_free(f);
    return rc;
}

void hfs_file_free(hfs_file *f)
{
    if (!f) return;
    hfs_claims_close(&f->pf);
    hfs_hasher_free(f->hasher); /* before the chunk map it reads */
    hfs_chunkmap_close(&f->cm);
    pthread_mutex_destroy(&f->lock);
    free(f->rpath);
    free(f->blob);
    free(f->partial);
    free(f->mapfile);
    free(f);
}

int hfs_file_complete(hfs_file *f)
{
    return __atomic_load_n(&f->complete, __ATOMIC_ACQUIRE);
}

/* The content's hash from the file itself: 0, -ENOENT (the partial file is gone: another
 * process published it first) or -errno. */
static int hash_file(hfs_file *f, char got[68])
{
    const struct hfs_net_ops *net = hfs_net();
    if (f->etag_kind == HFS_ETAG_SHA256) return net ? net->sha256_file(f->partial, got) : -EIO;
    if (f->etag_kind == HFS_ETAG_GITSHA1) return net ? net->git_sha1_file(f->partial, got) : -EIO;
    return 0;
}

static int published_elsewhere(hfs_file *f)
{
    if (hfs_libc()->access(f->blob, F_OK)) return 0;
    __atomic_store_n(&f->complete, 1, __ATOMIC_RELEASE);
    return 1;
}

/* Every chunk is present: check the content against its id, then publish it as a blob. */
static int publish(hfs_file *f);

static int finalize(hfs_file *f)
{
    char got[68] = "";
    int rc = -1;
    /* Another fetcher (often the prefetch this reader waited for) already checked and published
     * this very file: nothing to hash again. */
    struct stat b;
    if (f->pino && !hfs_libc()->stat(f->blob, &b) && b.st_ino == f->pino && b.st_dev == f->pdev) {
        __atomic_store_n(&f->complete, 1, __ATOMIC_RELEASE);
        return 0;
    }
    if (f->hasher) {
        /* Hashed while it downloaded; the thread is done with either answer. */
        /* Kept until the file is freed: a fetch still ending in another thread may kick it. */
        rc = hfs_hasher_finish(f->hasher, got, sizeof got);
        /* The thread read through an fd of its own, which the program could have closed and
         * reused (closefrom): a mismatch is confirmed from the file before it condemns it. */
        if (!rc && strcmp(got, f->etag)) rc = -1;
    }
    if (rc) rc = hash_file(f, got);
    if (rc == -ENOENT) {
        /* The partial file is gone: another fetcher published it first, or found its content
         * wrong and discarded it (then what this fd shows must not be served). */
        if (published_elsewhere(f)) return 0;
        hfs_err("%s: %s: the download was discarded by another fetcher (its content did not "
                "match its id); not served",
                f->repo->key, f->rpath);
        f->broken = -EIO;
        return -EIO;
    }
    if (rc) return rc;
    if (got[0] && strcmp(got, f->etag)) {
        hfs_err("%s: %s: downloaded content does not match its %s (expected %s, got %s); "
                "discarded, not served",
                f->repo->key, f->rpath, f->etag_kind == HFS_ETAG_SHA256 ? "sha256" : "git oid",
                f->etag, got);
        hfs_libc()->unlink(f->partial);
        hfs_libc()->unlink(f->mapfile);
        f->broken = -EIO;
        return -EIO;
    }
    return publish(f);
}

/* The checked partial file becomes the blob (same inode: open fds stay valid). */
static int publish(hfs_file *f)
{
    int rc;
    if ((rc = hfs_mkdirs_parent(f->blob, 0755))) return rc;
    if (hfs_libc()->link(f->partial, f->blob) && errno != EEXIST) {
        rc = -errno;
        if (rc == -ENOENT && published_elsewhere(f)) return 0; /* between our hash and link */
        hfs_err("%s: %s: cannot publish %s: %s", f->repo->key, f->rpath, f->blob, strerror(errno));
        return rc;
    }
    link_snapshot(f);
    hfs_libc()->unlink(f->mapfile);
    hfs_libc()->unlink(f->partial);
    __atomic_store_n(&f->complete, 1, __ATOMIC_RELEASE);
    hfs_debug("%s: %s: complete, published %s", f->repo->key, f->rpath, f->blob);
    return 0;
}

static void range_done(void *arg, uint64_t off, uint64_t len)
{
    hfs_file *f = arg;
    if (!len) return;
    size_t c0 = (size_t)(off >> HFS_CHUNK_SHIFT);
    size_t c1 = (size_t)((off + len - 1) >> HFS_CHUNK_SHIFT);
    for (size_t c = c0; c <= c1 && c < f->cm.nchunks; c++) {
        /* A range covers whole chunks, except the file's last one. */
        uint64_t cend = ((uint64_t)c + 1) << HFS_CHUNK_SHIFT;
        if (cend > f->size) cend = f->size;
        if (((uint64_t)c << HFS_CHUNK_SHIFT) >= off && cend <= off + len)
            hfs_chunkmap_set(&f->cm, c);
    }
    hfs_chunks_wake(&f->cm, c0, c1); /* readers of these chunks, in any process */
    hfs_hasher_kick(__atomic_load_n(&f->hasher, __ATOMIC_ACQUIRE));
}

static int add_run(hfs_range *v, int *n, int max, hfs_file *f, size_t a, size_t b)
{
    /* Chunks [a, b) as pieces of at most PIECE_CHUNKS. */
    while (a < b && *n < max) {
        size_t e = b - a > PIECE_CHUNKS ? a + PIECE_CHUNKS : b;
        uint64_t off = (uint64_t)a << HFS_CHUNK_SHIFT;
        uint64_t end = (uint64_t)e << HFS_CHUNK_SHIFT;
        if (end > f->size) end = f->size;
        v[*n].off = off;
        v[*n].len = end - off;
        (*n)++;
        a = e;
    }
    return a < b;
}

/* First chunk of [c, last] that is not present, or last + 1. */
static size_t first_missing(const hfs_file *f, size_t c, size_t last)
{
    while (c <= last && hfs_chunkmap_has(&f->cm, c)) c++;
    return c;
}

/* Claims the missing chunks of [from, c2] that no other fetcher has, up to one batch, and
 * turns them into ranges in v. Chunks up to c1 are needed: one held elsewhere is skipped (the
 * caller waits for it); past c1 (read-ahead) the claiming stops at the first one held elsewhere:
 * another reader is ahead of us there. force: claims are not looked at (see fill). Returns the
 * number of ranges; *lo, *hi: the chunks they span. */
static int claim_batch(hfs_file *f, hfs_claims *cl, size_t from, size_t c1, size_t c2, int force,
                       hfs_range *v, size_t *lo, size_t *hi)
{
    int n = 0, full = 0;
    size_t run = SIZE_MAX;
    *lo = SIZE_MAX;
    *hi = 0;
    for (size_t c = from; c <= c2 + 1 && !full; c++) {
        int mine = 0, stop = 0;
        if (c <= c2 && !hfs_chunkmap_has(&f->cm, c)) {
            int t = force ? 1 : hfs_claims_take(cl, c);
            /* Landed between the look and the claim: nothing to fetch. */
            if (t == 1 && hfs_chunkmap_has(&f->cm, c)) {
                hfs_claims_drop(cl, c);
                t = 0;
            } else if (t != 1 && c > c1) {
                stop = 1;
            }
            mine = t == 1;
        }
        if (mine && run == SIZE_MAX) run = c;
        if (!mine && run != SIZE_MAX) {
            if (run < *lo) *lo = run;
            *hi = c - 1;
            full = add_run(v, &n, BATCH_PIECES, f, run, c);
            run = SIZE_MAX;
        }
        if (stop) break;
    }
    /* Chunks claimed past a full batch are given back with the claims and claimed again by
     * the next round. */
    return n;
}

/* A needed chunk (up to c1) of the ranges just fetched did not land. */
static int lost_needed(const hfs_file *f, const hfs_range *v, int n, size_t c1)
{
    for (int i = 0; i < n; i++)
        for (uint64_t o = v[i].off; o < v[i].off + v[i].len; o += HFS_CHUNK) {
            size_t c = (size_t)(o >> HFS_CHUNK_SHIFT);
            if (c <= c1 && !hfs_chunkmap_has(&f->cm, c)) return 1;
        }
    return 0;
}

static void fetch_req(const hfs_file *f, hfs_fetch_req *req)
{
    *req = (hfs_fetch_req){.repo = f->repo->spec.repo,
                           .rev = f->repo->snap,
                           .path = f->rpath,
                           .size = f->size,
                           .dest = f->partial,
                           .sha256 = f->etag_kind == HFS_ETAG_SHA256 ? f->etag : NULL,
                           .git_oid = f->etag_kind == HFS_ETAG_GITSHA1 ? f->etag : NULL};
}

/* Makes chunks [c0, c1] present, fetching with them the read-ahead up to c2, with no lock held:
 * each chunk is claimed machine-wide (chunkclaim.h) before it is fetched, chunks another thread
 * or process is fetching are waited for, and one whose fetcher died or gave up is taken over. A
 * wait with no chunk landing for HF_SHIM_TIMEOUT (a fetcher stopped, not dead) ends in fetching
 * the chunks ourselves: the same bytes written twice, never a hang. */
static int fill(hfs_file *f, size_t c0, size_t c1, size_t c2)
{
    const struct hfs_net_ops *net = hfs_net();
    if (!net) return -EIO;
    hfs_fetch_req req;
    fetch_req(f, &req);
    int timeout = hfs_cfg()->timeout > 0 ? hfs_cfg()->timeout : 30;
    int64_t since = hfs_mono_ms();
    size_t seen = first_missing(f, c0, c1);
    int force = 0;
    for (;;) {
        size_t from = first_missing(f, c0, c1);
        if (from > c1) return 0;
        if (from != seen) { /* progress: the wait starts again */
            seen = from;
            since = hfs_mono_ms();
        }
        hfs_claims cl = {-1};
        if (!force && hfs_claims_open(&cl, f->mapfile, &f->cm)) {
            /* The map was replaced or cannot be opened: fetch without claims. */
            force = 1;
        }
        hfs_range v[BATCH_PIECES];
        size_t lo, hi;
        int n = claim_batch(f, &cl, from, c1, c2, force, v, &lo, &hi);
        int frc = n ? net->fetch(&req, v, n, range_done, f) : 0;
        hfs_claims_close(&cl);
        /* Ours ended, landed or not: whoever waits for them looks again (and takes over a
         * chunk that did not land). */
        if (n) hfs_chunks_wake(&f->cm, lo, hi);
        if (n && frc && lost_needed(f, v, n, c1)) return frc == -ENETUNREACH ? -EIO : frc;
        if (n && !frc && lost_needed(f, v, n, c1)) return -EIO; /* cannot happen */
        if (n) continue;
        /* What we need is being fetched by someone else. */
        if (hfs_mono_ms() - since > (int64_t)timeout * 1000) {
            hfs_warn("%s: %s: chunk %zu has been in flight elsewhere for %d s with no progress "
                     "(HF_SHIM_TIMEOUT); fetching it here",
                     f->repo->key, f->rpath, from, timeout);
            force = 1;
            continue;
        }
        hfs_chunk_wait(&f->cm, from, HFS_CLAIM_TICK_MS);
    }
}

int hfs_file_ensure(hfs_file *f, uint64_t off, uint64_t len)
{
    if (hfs_file_complete(f)) return 0;
    if (off >= f->size || len == 0) return 0;
    if (len > f->size - off) len = f->size - off;
    size_t c0 = (size_t)(off >> HFS_CHUNK_SHIFT);
    size_t c1 = (size_t)((off + len - 1) >> HFS_CHUNK_SHIFT);

    /* The lock covers this file's own state only (read-ahead, the hasher, publishing), never a
     * network request: threads reading other parts of the file fetch at the same time. */
    lock_file(f);
    int rc = f->broken;
    if (off == f->next_off)
        f->window = f->window ? (f->window * 2 > MAX_READAHEAD ? MAX_READAHEAD : f->window * 2)
                              : 2 * HFS_CHUNK;
    else
        f->window = 0;
    f->next_off = off + len;
    /* Read-ahead ends on a whole piece counted from c0: a full window is then exactly
     * MAX_READAHEAD / PIECE_CHUNKS pieces fetched at once, where the one lone chunk more
     * waited for a free connection and cost a round trip of its own per window. */
    uint64_t ra_end = off + len + f->window;
    uint64_t base = (uint64_t)c0 << HFS_CHUNK_SHIFT, piece = (uint64_t)PIECE_CHUNKS * HFS_CHUNK;
    if (base + (ra_end - base) / piece * piece >= off + len)
        ra_end = base + (ra_end - base) / piece * piece;
    if (ra_end > f->size) ra_end = f->size;
    size_t c2 = (size_t)((ra_end - 1) >> HFS_CHUNK_SHIFT);
    int need = !rc && !hfs_file_complete(f) && first_missing(f, c0, c1) <= c1;
    /* A sequential reader past its first read, or one large read: worth a thread. */
    if (need && !hfs_cfg()->offline && (f->window >= 4 * HFS_CHUNK || len >= BG_HASH_MIN) &&
        !f->hash_tried && f->size >= BG_HASH_MIN &&
        (f->etag_kind == HFS_ETAG_SHA256 || f->etag_kind == HFS_ETAG_GITSHA1)) {
        f->hash_tried = 1;
        __atomic_store_n(
            &f->hasher,
            hfs_hasher_start(f->partial, f->size, f->etag_kind == HFS_ETAG_GITSHA1, &f->cm),
            __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&f->lock);
    if (rc) return rc;
    if (need) {
        if (hfs_cfg()->offline) {
            hfs_err("%s: %s: only partly in the local cache, and offline (HF_HUB_OFFLINE=1)",
                    f->repo->key, f->rpath);
            return -EIO;
        }
        if ((rc = fill(f, c0, c1, c2))) return rc;
    }
    if (hfs_file_complete(f) || hfs_chunkmap_missing(&f->cm)) return 0;
    lock_file(f);
    rc = f->broken;
    if (!rc && !hfs_file_complete(f)) rc = finalize(f);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int hfs_file_prefetch_begin(hfs_file *f, hfs_fetch_req *req, hfs_range *range)
{
    if (hfs_file_complete(f) || f->size == 0 || hfs_cfg()->offline) return 0;
    /* All of it, or nothing: a file partly here is someone's read in progress. */
    if (hfs_chunkmap_missing(&f->cm) != f->cm.nchunks) return 0;
    int rc = hfs_claims_open(&f->pf, f->mapfile, &f->cm);
    if (rc) return rc == -ESTALE ? 0 : rc; /* published or discarded meanwhile */
    for (size_t c = 0; c < f->cm.nchunks; c++) {
        rc = hfs_claims_take(&f->pf, c);
        if (rc != 1 || hfs_chunkmap_has(&f->cm, c)) {
            hfs_claims_close(&f->pf); /* another fetcher has it, or it landed */
            return rc < 0 ? rc : 0;
        }
    }
    /* A fetcher that published the blob just before this partial file was made leaves it
     * stale: nothing to fetch (a reader has its own fd, and must fill its file; this has none). */
    if (!hfs_libc()->access(f->blob, F_OK)) {
        hfs_claims_close(&f->pf);
        drop_stale_partial(f);
        return 0;
    }
    fetch_req(f, req);
    range->off = 0;
    range->len = f->size;
    return 1;
}

void hfs_file_prefetch_landed(void *arg, uint64_t off, uint64_t len)
{
    hfs_file *f = arg;
    if (off == 0 && len == f->size) __atomic_store_n(&f->pf_landed, 1, __ATOMIC_RELEASE);
}

void hfs_file_prefetch_end(hfs_file *f, int rc)
{
    /* The bytes count only once they check: a reader waiting on the claims then finds the
     * file present, or missing and fetches it itself (never a wrong byte, never an error of
     * the prefetch's on its stderr). */
    char got[68] = "";
    int ok = !rc && __atomic_load_n(&f->pf_landed, __ATOMIC_ACQUIRE);
    if (ok && !(ok = !hash_file(f, got) && (!got[0] || !strcmp(got, f->etag))))
        hfs_debug("%s: %s: prefetched content does not match its id (got %s); dropped",
                  f->repo->key, f->rpath, got[0] ? got : "no hash");
    if (ok) {
        for (size_t c = 0; c < f->cm.nchunks; c++) hfs_chunkmap_set(&f->cm, c);
        lock_file(f);
        if (!hfs_file_complete(f)) (void)publish(f);
        pthread_mutex_unlock(&f->lock);
    }
    hfs_claims_close(&f->pf);
    if (f->cm.nchunks) hfs_chunks_wake(&f->cm, 0, f->cm.nchunks - 1);
}
