#include "prefetch.h"
#include "libc.h"
#include "file.h"
#include "checked.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PF_START 16                       /* files queued ahead once the order is seen */
#define PF_MAX_AHEAD 64                   /* ...doubling on each file opened in order, up to this */
#define PF_SMALL ((uint64_t)8 << 20)      /* larger files: the read-ahead streams them */
#define PF_MAX_BYTES ((uint64_t)64 << 20) /* queued and in flight, at most */
#define PF_EXIT_WAIT_MS 2000              /* exit waits this long for the thread to let go */
#define PF_REACH (4 * PF_MAX_AHEAD)       /* walk steps the queue reaches past the reader */

enum { PF_FREE, PF_QUEUED, PF_RUNNING };

typedef struct {
    int state;      /* under g_mu; a RUNNING item belongs to the thread */
    int cancel;     /* atomic: the transfer gives up at its next callback */
    hfs_repo *repo; /* repos live as long as the process */
    uint32_t ent;
    uint64_t pos; /* its step in the walk (see g.last_pos) */
    uint64_t size;
    hfs_file *f; /* the thread's, while RUNNING */
    int fd;      /* the backing's fd hfs_file_open gave (its in-use lock) */
    hfs_fetch_item it;
} pf_item;

/* The lock and its condition are the only initialized data; the rest is zero at start and in
 * .bss, so a process that never prefetches never touches its pages. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static struct {
    int have_thread; /* this process's thread runs (a forked child has none) */
    int wake_fd;     /* eventfd: a transfer run asks for more when it is readable */
    int have_wake;
    ino_t wake_ino; /* what it is, to tell it from a program's fd of the same number */
    dev_t wake_dev;
    int stop;   /* atomic: at exit */
    int in_run; /* the thread is inside a transfer run */
    /* The reader: the file it opened last, and how far the walk is queued. Walk steps are
     * counted from the start of the order, so items before the reader are told by number. */
    hfs_repo *repo;
    uint32_t last;
    int have_last;
    int active; /* the order holds: items are queued */
    int window;
    uint32_t cursor; /* the last entry the walk reached */
    uint64_t last_pos, cursor_pos;
    uint64_t bytes; /* of QUEUED and RUNNING items */
    pf_item items[PF_MAX_AHEAD];
    pf_item *carry; /* prepared by the thread before a run, handed out first */
} g;

static pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;

/* ---- the walk: depth first, children by name (the index keeps them sorted) ---- */

/* The file after entry i in the walk, or 0 at its end. */
static uint32_t walk_next(const hfs_index *ix, uint32_t i)
{
    uint32_t n = hfs_index_count(ix);
    for (int guard = 0; i && i < n && guard < 1 << 20; guard++) {
        const hfs_ientry *e = hfs_index_at(ix, i);
        const hfs_ientry *p = hfs_index_at(ix, e->parent);
        if (i + 1 < p->first_child + p->nchildren) {
            i++;
            /* Down into directories, to their first entry; an empty one is passed over. */
            const hfs_ientry *d = hfs_index_at(ix, i);
            while (d->is_dir && d->nchildren) {
                i = d->first_child;
                d = hfs_index_at(ix, i);
            }
            if (!d->is_dir) return i;
            continue;
        }
        i = e->parent; /* past the last child: on after the directory */
    }
    return 0;
}

/* ---- queue (g_mu held) ---- */

static void wake_thread(void)
{
    pthread_cond_broadcast(&g_cv);
    /* Only if the number is still our eventfd: a program that closed it (closefrom) and got
     * the number again for a file of its own must not receive our 8 bytes. */
    struct stat st;
    if (g.have_wake && !hfs_libc()->fstat(g.wake_fd, &st) && st.st_ino == g.wake_ino &&
        st.st_dev == g.wake_dev) {
        uint64_t one = 1;
        ssize_t w = hfs_libc()->write(g.wake_fd, &one, sizeof one);
        (void)w;
    }
}

static void item_free(pf_item *it)
{
    HFS_ASSERT(it->state != PF_FREE && g.bytes >= it->size);
    g.bytes -= it->size;
    it->state = PF_FREE;
}

/* Queued items the reader has passed are not wanted any more; running ones end on their own. */
static void drop_passed(void)
{
    for (int i = 0; i < PF_MAX_AHEAD; i++)
        if (g.items[i].state == PF_QUEUED && g.items[i].pos <= g.last_pos) item_free(&g.items[i]);
}

static void cancel_all(void)
{
    for (int i = 0; i < PF_MAX_AHEAD; i++) {
        pf_item *it = &g.items[i];
        if (it->state == PF_QUEUED) item_free(it);
        if (it->state == PF_RUNNING) __atomic_store_n(&it->cancel, 1, __ATOMIC_RELEASE);
    }
    g.active = 0;
}

static int live_items(void)
{
    int n = 0;
    for (int i = 0; i < PF_MAX_AHEAD; i++) n += g.items[i].state != PF_FREE;
    return n;
}

/* Queues files after the cursor until the window, the byte bound or the walk's end. */
static int top_up(void)
{
    const hfs_index *ix = g.repo->ix;
    int added = 0, live = live_items();
    /* The walk reaches at most PF_REACH steps past the reader (large files are passed over
     * without being queued): what one open walks under the lock, here and in steps_to. */
    while (live < g.window && live < PF_MAX_AHEAD && g.bytes < PF_MAX_BYTES &&
           g.cursor_pos - g.last_pos < PF_REACH) {
        uint32_t c = walk_next(ix, g.cursor);
        if (!c) break;
        const hfs_ientry *e = hfs_index_at(ix, c);
        g.cursor = c;
        g.cursor_pos++;
        if (e->size == 0 || e->size > PF_SMALL) continue;
        pf_item *it = NULL;
        for (int i = 0; i < PF_MAX_AHEAD && !it; i++)
            if (g.items[i].state == PF_FREE) it = &g.items[i];
        if (!it) break;
        *it = (pf_item){.state = PF_QUEUED,
                        .repo = g.repo,
                        .ent = c,
                        .pos = g.cursor_pos,
                        .size = e->size,
                        .fd = -1};
        g.bytes += e->size;
        live++;
        added++;
    }
    return added;
}

/* Walk steps from the reader's last file to entry i, within the queued part of the walk (or
 * the next file only, with nothing queued); 0 if i is not there. */
static uint64_t steps_to(const hfs_index *ix, uint32_t i)
{
    uint64_t span = g.active && g.cursor_pos > g.last_pos ? g.cursor_pos - g.last_pos : 1;
    uint32_t c = g.last;
    for (uint64_t k = 1; k <= span; k++) {
        if (!(c = walk_next(ix, c))) return 0;
        if (c == i) return k;
    }
    return 0;
}

/* ---- the thread ---- */

static void stop_at_exit(void)
{
    pthread_mutex_lock(&g_mu);
    if (!g.have_thread || !hfs_proc_is_owner()) {
        pthread_mutex_unlock(&g_mu);
        return;
    }
    __atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
    cancel_all();
    wake_thread();
    /* libcurl's and OpenSSL's state is torn down after this handler: the thread must be out
     * of its transfers by then. A run ends at its next poll, which the eventfd wakes. */
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += PF_EXIT_WAIT_MS / 1000;
    while (g.in_run && !pthread_cond_timedwait(&g_cv, &g_mu, &end)) {
    }
    pthread_mutex_unlock(&g_mu);
}

static void exit_hook(void)
{
    atexit(stop_at_exit);
}

/* The thread is done with a RUNNING item: its backing closed, its slot free. */
static void release(pf_item *it)
{
    if (it->fd >= 0) hfs_libc()->close(it->fd);
    hfs_file_free(it->f);
    it->f = NULL;
    it->fd = -1;
    pthread_mutex_lock(&g_mu);
    item_free(it);
    pthread_mutex_unlock(&g_mu);
}

/* The item's backing prepared and claimed: 1, ready to fetch; 0: nothing to fetch (the item
 * is freed). No lock held: local file I/O only. */
static int prepare(pf_item *it)
{
    const hfs_index *ix = it->repo->ix;
    const hfs_ientry *e = hfs_index_at(ix, it->ent);
    char rpath[PATH_MAX];
    int ok = 0;
    if (e->path_len < sizeof rpath && !__atomic_load_n(&it->cancel, __ATOMIC_ACQUIRE)) {
        memcpy(rpath, hfs_index_str(ix, e->path_off), e->path_len);
        rpath[e->path_len] = 0;
        it->fd = hfs_file_open(it->repo, e, rpath, O_RDONLY | O_CLOEXEC, &it->f);
        if (it->fd >= 0) ok = hfs_file_prefetch_begin(it->f, &it->it.req, &it->it.range) == 1;
    }
    if (ok) {
        it->it.req.cancel = &it->cancel;
        it->it.arg = it->f;
        return 1;
    }
    release(it);
    return 0;
}

/* The next queued item in walk order, prepared; NULL when none is left. */
static pf_item *next_ready(void)
{
    for (;;) {
        pthread_mutex_lock(&g_mu);
        pf_item *best = NULL;
        for (int i = 0; i < PF_MAX_AHEAD; i++)
            if (g.items[i].state == PF_QUEUED && (!best || g.items[i].pos < best->pos))
                best = &g.items[i];
        if (best) best->state = PF_RUNNING;
        pthread_mutex_unlock(&g_mu);
        if (!best) return NULL;
        if (__atomic_load_n(&g.stop, __ATOMIC_ACQUIRE)) {
            pthread_mutex_lock(&g_mu);
            item_free(best);
            pthread_mutex_unlock(&g_mu);
            return NULL;
        }
        if (prepare(best)) return best;
    }
}

static hfs_fetch_item *feed_next(void *arg)
{
    (void)arg;
    /* Here libcurl and with it OpenSSL are initialized: a handler registered now runs before
     * theirs at exit. */
    pthread_once(&g_exit_once, exit_hook);
    pf_item *it = g.carry;
    g.carry = NULL;
    if (!it) it = next_ready();
    return it ? &it->it : NULL;
}

static void feed_ended(hfs_fetch_item *fi, void *arg)
{
    (void)arg;
    pf_item *it = (pf_item *)(void *)((char *)fi - offsetof(pf_item, it));
    if (fi->rc && fi->rc != -ECANCELED)
        hfs_debug("prefetch of %s failed (%s); its reader will fetch it", fi->req.path,
                  strerror(-fi->rc));
    hfs_file_prefetch_end(it->f, fi->rc);
    release(it);
}

static void *run(void *arg)
{
    (void)arg;
    if (hfs_proc_thread_start) hfs_proc_thread_start();
    for (;;) {
        pthread_mutex_lock(&g_mu);
        for (;;) {
            int queued = 0;
            for (int i = 0; i < PF_MAX_AHEAD && !queued; i++)
                queued = g.items[i].state == PF_QUEUED;
            if (queued || __atomic_load_n(&g.stop, __ATOMIC_ACQUIRE)) break;
            pthread_cond_wait(&g_cv, &g_mu);
        }
        int stop = __atomic_load_n(&g.stop, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&g_mu);
        if (stop) break;
        pf_item *first = next_ready();
        if (!first) continue;
        /* The network module is loaded only once a file needs fetching. */
        const struct hfs_net_ops *net = hfs_net();
        if (!net || !net->fetch_feed) {
            first->it.rc = -EIO;
            feed_ended(&first->it, NULL);
            continue;
        }
        pthread_mutex_lock(&g_mu);
        g.in_run = 1;
        g.carry = first;
        pthread_mutex_unlock(&g_mu);
        hfs_fetch_feed feed = {.next = feed_next,
                               .ended = feed_ended,
                               .range_done = hfs_file_prefetch_landed,
                               .wake_fd = g.have_wake ? g.wake_fd : -1,
                               .max_par = hfs_cfg()->prefetch,
                               .stop = &g.stop};
        int rc = net->fetch_feed(&feed);
        pthread_mutex_lock(&g_mu);
        if (g.carry) { /* the run could not start */
            pf_item *c = g.carry;
            g.carry = NULL;
            pthread_mutex_unlock(&g_mu);
            c->it.rc = rc ? rc : -EIO;
            feed_ended(&c->it, NULL);
            pthread_mutex_lock(&g_mu);
        }
        g.in_run = 0;
        pthread_cond_broadcast(&g_cv);
        pthread_mutex_unlock(&g_mu);
    }
    return NULL;
}

/* g_mu held. 0, or -errno: no prefetch in this process. */
static int start_thread(void)
{
    if (g.have_thread) return 0;
    if (!g.have_wake) {
        struct stat st;
        if ((g.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) return -errno;
        if (hfs_libc()->fstat(g.wake_fd, &st)) {
            hfs_libc()->close(g.wake_fd);
            return -errno;
        }
        g.wake_ino = st.st_ino;
        g.wake_dev = st.st_dev;
        g.have_wake = 1;
    }
    pthread_t tid;
    sigset_t all, old;
    sigfillset(&all);
    /* The thread must never take a signal meant for the program. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&tid, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) return -rc;
    pthread_detach(tid);
    pthread_setname_np(tid, "hfshim-prefetch");
    g.have_thread = 1;
    return 0;
}

void hfs_prefetch_opened(hfs_repo *r, const hfs_ientry *e, int cold)
{
    const hfs_config *c = hfs_cfg();
    /* A vfork child shares the parent's memory: it must not touch this state. */
    if (!c->prefetch || c->offline || !r->ix || !hfs_proc_is_owner()) return;
    uint32_t i = hfs_index_id(r->ix, e);
    int saved = errno;
    pthread_mutex_lock(&g_mu);
    if (__atomic_load_n(&g.stop, __ATOMIC_ACQUIRE) || (g.have_last && r == g.repo && i == g.last))
        goto out;
    uint64_t k = g.have_last && r == g.repo ? steps_to(r->ix, i) : 0;
    if (k) {
        g.last_pos += k;
        if (g.active) {
            if (g.window < PF_MAX_AHEAD) g.window *= 2;
            drop_passed();
        } else if (cold) {
            g.active = 1;
            g.window = PF_START;
            g.cursor = i;
            g.cursor_pos = g.last_pos;
        }
        if (g.cursor_pos < g.last_pos) { /* the reader overtook the queue */
            g.cursor = i;
            g.cursor_pos = g.last_pos;
        }
    } else if (g.active) {
        hfs_debug("prefetch: %s: %s breaks the order; cancelled", r->key,
                  hfs_index_str(r->ix, e->path_off));
        cancel_all();
    }
    g.repo = r;
    g.last = i;
    g.have_last = 1;
    if (g.active && top_up()) {
        if (start_thread()) {
            cancel_all();
        } else {
            wake_thread();
        }
    }
out:
    pthread_mutex_unlock(&g_mu);
    errno = saved;
}

void hfs_prefetch_atfork_child(void)
{
    /* The parent's thread owns its running items' files (their claims are closed by
     * chunkclaim's fork handler); the child forgets them all and starts afresh. */
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    g_mu = mu;
    g_cv = cv;
    if (g.have_wake) hfs_libc()->close(g.wake_fd);
    g.have_wake = 0;
    g.have_thread = 0;
    g.in_run = 0;
    g.active = 0;
    g.have_last = 0;
    g.bytes = 0;
    g.carry = NULL;
    /* Their fds are left open (O_CLOEXEC; a read lock that only delays the clean-up of a
     * stale partial file): one may be mid-close in the parent, its number reused. */
    for (int i = 0; i < PF_MAX_AHEAD; i++) g.items[i].state = PF_FREE;
}
