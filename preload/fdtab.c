/* The fd table (see fdtab.h). */
#include "fdtab.h"
#include "proc.h"
#include "real.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Atomic(hfs_fdrec *) hfs_fdtab[HFS_FD_MAX];
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
HFS_HOT_DATA atomic_int hfs_fd_hwm_val;
HFS_HOT_DATA static pid_t owner_pid; /* written at start: on the hot page */

void hfs_fd_set_pid(void)
{
    owner_pid = getpid();
    hfs_proc_set_owner(owner_pid); /* the core must know a vfork child when it sees one */
}

int hfs_fd_mutable(void)
{
    return getpid() == owner_pid;
}

/* In the child of fork only the forking thread exists: locks another thread held are reset. */
void hfs_fd_atfork_child(void)
{
    pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;
    memcpy(&lock, &fresh, sizeof lock);
    hfs_fd_set_pid();
    int h = hfs_fd_hwm();
    for (int fd = 0; fd < h; fd++) {
        hfs_fdrec *r = atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed);
        hfs_dirrec *d = r ? atomic_load(&r->dir) : NULL;
        if (d) pthread_mutex_init(&d->mu, NULL);
    }
}

hfs_fdrec *hfs_fd_get(int fd)
{
    if ((unsigned)fd >= HFS_FD_MAX) return NULL;
    pthread_rwlock_rdlock(&lock);
    hfs_fdrec *r = atomic_load_explicit(&hfs_fdtab[fd], memory_order_acquire);
    if (r) atomic_fetch_add(&r->refs, 1);
    pthread_rwlock_unlock(&lock);
    return r;
}

static void rec_free(hfs_fdrec *r)
{
    hfs_dirrec *d = atomic_load(&r->dir);
    if (d) {
        pthread_mutex_destroy(&d->mu);
        free(d);
    }
    HFS_CORE_VOID(hfs_vobj_unref(r->obj));
    free(r);
}

void hfs_fd_put(hfs_fdrec *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) rec_free(r);
}

/* Replace the slot's record; returns the old one (the caller puts it). */
static hfs_fdrec *swap_slot(int fd, hfs_fdrec *r)
{
    if (r) { /* before the slot: a reader that sees the slot must also see fd below the mark */
        int h = atomic_load(&hfs_fd_hwm_val);
        while (fd >= h && !atomic_compare_exchange_weak(&hfs_fd_hwm_val, &h, fd + 1)) {
        }
    }
    pthread_rwlock_wrlock(&lock);
    hfs_fdrec *old = atomic_exchange_explicit(&hfs_fdtab[fd], r, memory_order_acq_rel);
    pthread_rwlock_unlock(&lock);
    return old;
}

hfs_fdrec *hfs_fd_get_checked(int fd)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return NULL;
    struct stat st;
    int saved = errno;
    int rc = HFS_REAL(fstat)(fd, &st);
    errno = saved;
    if (rc == 0 && st.st_dev == r->bdev && st.st_ino == r->bino) return r;
    /* Stale: the fd was closed without us and its number reused (or is closed now). */
    if (hfs_fd_mutable()) {
        pthread_rwlock_wrlock(&lock);
        hfs_fdrec *cur = atomic_load(&hfs_fdtab[fd]);
        int same = cur == r;
        if (same) atomic_store(&hfs_fdtab[fd], NULL);
        pthread_rwlock_unlock(&lock);
        if (same) hfs_fd_put(r);
    }
    hfs_fd_put(r);
    return NULL;
}

static hfs_fdrec *rec_new(int fd, hfs_vobj *o)
{
    hfs_fdrec *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    atomic_init(&r->refs, 1);
    r->obj = o;
    r->is_dir = HFS_CORE(hfs_vobj_is_dir(o));
    /* A real ancestor directory's fd is the real thing: fd calls pass through as for local files.
     */
    r->is_local = r->is_dir ? HFS_CORE(hfs_vobj_near(o)) == 1 : HFS_CORE(hfs_vobj_is_local(o));
    atomic_init(&r->complete, r->is_dir || r->is_local);
    struct stat st;
    if (HFS_REAL(fstat)(fd, &st) == 0) {
        r->bdev = st.st_dev;
        r->bino = st.st_ino;
    }
    return r;
}

int hfs_fd_add(int fd, hfs_vobj *o)
{
    int saved = errno;
    if ((unsigned)fd >= HFS_FD_MAX) {
        HFS_CORE_VOID(hfs_vobj_unref(o));
        return -EMFILE;
    }
    if (!hfs_fd_mutable()) {
        int rc = HFS_CORE(hfs_vobj_materialize(o));
        HFS_CORE_VOID(hfs_vobj_unref(o));
        errno = saved;
        return rc;
    }
    hfs_fdrec *r = rec_new(fd, o);
    if (!r) {
        HFS_CORE_VOID(hfs_vobj_unref(o));
        return -ENOMEM;
    }
    hfs_fd_put(swap_slot(fd, r));
    errno = saved;
    return 0;
}

static void del_one(int fd)
{
    if (!atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed)) return;
    int saved = errno;
    hfs_fd_put(swap_slot(fd, NULL));
    errno = saved;
}

void hfs_fd_del(int fd)
{
    if ((unsigned)fd >= HFS_FD_MAX || !atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed))
        return;
    if (hfs_fd_mutable()) del_one(fd);
}

hfs_fdrec *hfs_fd_take(int fd)
{
    if ((unsigned)fd >= HFS_FD_MAX || !atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed))
        return NULL;
    hfs_fdrec *r = hfs_fd_get(fd);
    hfs_fd_del(fd);
    return r;
}

int hfs_fd_passthrough(int fd)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return 1;
    int local = r->is_local;
    hfs_fd_put(r);
    if (local) return 1;
    /* A remote or directory record: make sure it is not stale before refusing anything. */
    r = hfs_fd_get_checked(fd);
    hfs_fd_put(r);
    return r == NULL;
}

void hfs_fd_del_range(unsigned lo, unsigned hi)
{
    unsigned h = (unsigned)hfs_fd_hwm();
    if (lo >= h || !hfs_fd_mutable()) return;
    if (hi >= h) hi = h - 1;
    for (unsigned fd = lo; fd <= hi; fd++) del_one((int)fd);
}

void hfs_fd_copy(const hfs_fdrec *src, int newfd)
{
    if ((unsigned)newfd >= HFS_FD_MAX) return;
    if (!hfs_fd_mutable()) {
        /* vfork child: the new fd is probably set up to be inherited; make it complete. */
        /* A failure printed its line; the child sees the file's holes as read errors. */
        if (src) HFS_CORE_VOID(if (hfs_vobj_materialize(src->obj)){});
        return;
    }
    if (!src) {
        hfs_fd_del(newfd);
        return;
    }
    int saved = errno;
    HFS_CORE_VOID(hfs_vobj_ref(src->obj));
    hfs_fdrec *r = rec_new(newfd, src->obj);
    if (!r) {
        HFS_CORE_VOID(hfs_vobj_unref(src->obj));
    } else {
        atomic_store(&r->complete, atomic_load(&src->complete));
        hfs_fd_put(swap_slot(newfd, r));
    }
    errno = saved;
}

int hfs_fd_materialize(hfs_fdrec *r)
{
    if (atomic_load_explicit(&r->complete, memory_order_relaxed)) return 0;
    int rc = HFS_CORE(hfs_vobj_materialize(r->obj));
    if (rc == 0) atomic_store(&r->complete, 1);
    return rc;
}

int hfs_fd_materialize_inheritable(void)
{
    int h = hfs_fd_hwm();
    int saved = errno;
    for (int fd = 0; fd < h; fd++) {
        if (!atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed)) continue;
        hfs_fdrec *r = hfs_fd_get(fd);
        if (!r) continue;
        int rc = 0, fl = HFS_REAL(fcntl)(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC)) rc = hfs_fd_materialize(r);
        hfs_fd_put(r);
        if (rc < 0) return rc;
    }
    errno = saved;
    return 0;
}

int hfs_fd_handover(hfs_fdrec *r, const char *what)
{
    if (r->is_dir || atomic_load_explicit(&r->complete, memory_order_relaxed)) return 0;
    int rc = HFS_CORE(hfs_vobj_handover(r->obj, what));
    if (rc == 0) atomic_store(&r->complete, 1);
    return rc;
}

int hfs_fd_handover_all(const char *what)
{
    int h = hfs_fd_hwm(), first = 0;
    int saved = errno;
    for (int fd = 0; fd < h; fd++) {
        if (!atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed)) continue;
        hfs_fdrec *r = hfs_fd_get(fd);
        int rc = r ? hfs_fd_handover(r, what) : 0;
        hfs_fd_put(r);
        if (rc < 0 && !first) first = rc;
    }
    errno = saved;
    return first;
}

hfs_dirrec *hfs_dir_get(DIR *d, hfs_fdrec **rp)
{
    if (!d) return NULL;
    int fd = dirfd(d);
    if (!hfs_fd_maybe(fd)) return NULL;
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return NULL;
    hfs_dirrec *dr = atomic_load(&r->dir);
    if (!dr || dr->dirp != d) {
        hfs_fd_put(r);
        return NULL;
    }
    *rp = r;
    return dr;
}

int hfs_dir_attach(int fd, DIR *d)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return -EBADF;
    hfs_dirrec *dr = calloc(1, sizeof *dr);
    if (!dr) {
        hfs_fd_put(r);
        return -ENOMEM;
    }
    dr->dirp = d;
    pthread_mutex_init(&dr->mu, NULL);
    dr->pos = atomic_load(&r->dpos);
    hfs_dirrec *old = atomic_exchange(&r->dir, dr);
    if (old) {
        pthread_mutex_destroy(&old->mu);
        free(old);
    }
    hfs_fd_put(r);
    return 0;
}
