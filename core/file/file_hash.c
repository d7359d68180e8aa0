#include "file_hash.h"
#include "libc.h"
#include "log.h"
#include "net.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read back through a small buffer that stays in the CPU cache; mapping the pages instead
 * cost more here (page faults on this VM; bench/ANALYSIS.md). */
#define HASH_PIECE (256u << 10)

struct hfs_hasher {
    const struct hfs_net_ops *net;
    const hfs_chunkmap *cm;
    uint64_t size;
    int fd;
    unsigned gen; /* the fork generation whose thread this is; a forked child has none */
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *ctx;
    uint64_t hashed; /* bytes [0, hashed) are in ctx; only the thread moves it */
    int err;         /* negative errno once a read failed: the thread has stopped */
    int kicks;       /* bumped by kick: new chunks to look at */
    int stop;        /* atomic: read between pieces, so free() waits for one piece at most */
    int done;        /* the thread has returned */
    int finished;    /* hfs_hasher_finish ran: the digest state is spent */
    unsigned char *buf;
};

/* At exit, libcrypto's own atexit handler tears its state down, maybe while a hasher thread is
 * in the middle of an update (a program that read part of a big file and returned from main).
 * A handler registered after libcrypto's runs before it: it waits for the update in progress
 * and stops every hasher. Writers first, so a steady stream of updates cannot hold it off. */
static pthread_rwlock_t g_exit_lock;
static int g_exiting;
static pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;

static void stop_hashing_at_exit(void)
{
    pthread_rwlock_wrlock(&g_exit_lock);
    g_exiting = 1;
    pthread_rwlock_unlock(&g_exit_lock);
}

static void exit_lock_init(void)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&g_exit_lock, &a);
    pthread_rwlockattr_destroy(&a);
}

static int g_exit_ready; /* atomic: the lock exists */

static void exit_guard_init(void)
{
    exit_lock_init();
    __atomic_store_n(&g_exit_ready, 1, __ATOMIC_RELEASE);
    atexit(stop_hashing_at_exit);
}

void hfs_hasher_atfork_child(void)
{
    /* A fork taken during an update copies the lock held by a thread the child does not
     * have: the child starts with a fresh one. */
    if (__atomic_load_n(&g_exit_ready, __ATOMIC_ACQUIRE)) exit_lock_init();
}

/* This process's own hasher (not a forked child's copy, nor seen from a vfork child). */
static int ours(const hfs_hasher *h)
{
    return h->gen == hfs_proc_fork_gen() && hfs_proc_is_owner();
}

static int update(hfs_hasher *h, const void *p, size_t n)
{
    pthread_rwlock_rdlock(&g_exit_lock);
    int rc = g_exiting ? -ECANCELED : h->net->hash_update(h->ctx, p, n);
    pthread_rwlock_unlock(&g_exit_lock);
    return rc;
}

/* End of the run of present chunks that starts at `from`. */
static uint64_t present_end(const hfs_hasher *h, uint64_t from)
{
    size_t c = (size_t)(from >> HFS_CHUNK_SHIFT);
    while (c < h->cm->nchunks && hfs_chunkmap_has(h->cm, c)) c++;
    uint64_t end = (uint64_t)c << HFS_CHUNK_SHIFT;
    return end > h->size ? h->size : end;
}

static int hash_range(hfs_hasher *h, uint64_t from, uint64_t to)
{
    while (from < to) {
        if (__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) return -ECANCELED;
        size_t k = to - from > HASH_PIECE ? HASH_PIECE : (size_t)(to - from);
        ssize_t n = hfs_libc()->pread(h->fd, h->buf, k, (off_t)from);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? -errno : -EIO;
        int rc = update(h, h->buf, (size_t)n);
        if (rc) return rc;
        from += (uint64_t)n;
        __atomic_store_n(&h->hashed, from, __ATOMIC_RELEASE);
    }
    return 0;
}

static void *run(void *arg)
{
    hfs_hasher *h = arg;
    if (hfs_proc_thread_start) hfs_proc_thread_start();
    pthread_mutex_lock(&h->mu);
    for (;;) {
        uint64_t at = __atomic_load_n(&h->hashed, __ATOMIC_RELAXED), end = present_end(h, at);
        if (end > at) {
            pthread_mutex_unlock(&h->mu);
            int rc = hash_range(h, at, end);
            pthread_mutex_lock(&h->mu);
            if (rc) h->err = rc;
            pthread_cond_broadcast(&h->cv);
            if (rc) break;
            continue;
        }
        if (h->stop || at == h->size) break;
        int seen = h->kicks;
        while (h->kicks == seen && !h->stop) pthread_cond_wait(&h->cv, &h->mu);
    }
    h->done = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

hfs_hasher *hfs_hasher_start(const char *path, uint64_t size, int git, const hfs_chunkmap *cm)
{
    /* Never from a vfork child: the thread would die with its exec, holding what the parent
     * then waits for, and its fd would be the child's. */
    if (!hfs_proc_is_owner()) return NULL;
    const struct hfs_net_ops *net = hfs_net();
    if (!net || !net->hash_new) return NULL;
    hfs_hasher *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->net = net;
    h->cm = cm;
    h->size = size;
    h->gen = hfs_proc_fork_gen();
    h->fd = hfs_libc()->open(path, O_RDONLY | O_CLOEXEC, 0);
    h->buf = malloc(HASH_PIECE);
    h->ctx = net->hash_new(git, size);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (h->fd < 0 || !h->buf || !h->ctx) goto fail;
    /* After hash_new, which has initialized libcrypto and registered its exit handler. */
    pthread_once(&g_exit_once, exit_guard_init);
    /* The thread must never take a signal meant for the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&h->tid, NULL, run, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        errno = rc;
        goto fail;
    }
    pthread_setname_np(h->tid, "hfshim-hash");
    hfs_debug("%s: hashing while it downloads", path);
    return h;
fail:
    hfs_debug("%s: no background hash (%s); hashing at the end", path, strerror(errno));
    if (h->fd >= 0) hfs_libc()->close(h->fd);
    if (h->ctx) net->hash_free(h->ctx);
    free(h->buf);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
}

void hfs_hasher_kick(hfs_hasher *h)
{
    if (!h || !ours(h)) return;
    pthread_mutex_lock(&h->mu);
    h->kicks++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

int hfs_hasher_finish(hfs_hasher *h, char *hex, size_t n)
{
    if (!h || !ours(h)) return -ECHILD;
    if (h->finished) return -EALREADY;
    h->finished = 1;
    pthread_mutex_lock(&h->mu);
    h->kicks++;
    pthread_cond_broadcast(&h->cv);
    uint64_t got;
    while (!h->done && !h->err && (got = __atomic_load_n(&h->hashed, __ATOMIC_ACQUIRE)) < h->size)
        pthread_cond_wait(&h->cv, &h->mu);
    got = __atomic_load_n(&h->hashed, __ATOMIC_ACQUIRE);
    int rc = h->err ? h->err : got == h->size ? 0 : -EIO;
    pthread_mutex_unlock(&h->mu);
    if (!rc) rc = h->net->hash_final(h->ctx, hex, n);
    return rc;
}

void hfs_hasher_free(hfs_hasher *h)
{
    if (!h) return;
    if (ours(h)) {
        pthread_mutex_lock(&h->mu);
        __atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->tid, NULL);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
    } /* else: a forked child's copy; the thread and its locks belong to the parent */
    hfs_libc()->close(h->fd);
    h->net->hash_free(h->ctx);
    free(h->buf);
    free(h);
}
