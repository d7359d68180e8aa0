/* Which fds are virtual: a table indexed by fd (untouched BSS pages cost nothing). NULL means
 * "not ours, pass through": the fast path is one bounds check and one relaxed load.
 *
 * Records are reference counted; lookups on the slow path take a read lock for the instant
 * of the load, so a close on another thread cannot free a record in use. Dup'ed fds get their
 * own record sharing the object (hfs_vobj_ref). */
#pragma once
#include "guard.h"
#include "vfs.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#define HFS_FD_MAX (1 << 20)

/* A DIR* opened on a virtual directory (opendir/fdopendir): the listing comes from the core. */
typedef struct hfs_dirrec {
    DIR *dirp;
    pthread_mutex_t mu;
    uint64_t pos;
    struct dirent64 ent;
} hfs_dirrec;

typedef struct hfs_fdrec {
    atomic_int refs;
    int is_dir;
    atomic_int complete; /* the backing file is known to be complete: no more ensure calls */
    int is_local;        /* a local overlay file: a plain writable fd, every call passes through */
    hfs_vobj *obj;       /* one reference held by this record */
    dev_t bdev;          /* identity of the real fd's file, to detect a stale entry */
    ino_t bino;
    _Atomic uint64_t dpos; /* getdents64 position on a directory fd */
    _Atomic(hfs_dirrec *) dir;
} hfs_fdrec;

extern _Atomic(hfs_fdrec *) hfs_fdtab[HFS_FD_MAX] __attribute__((visibility("hidden")));

extern atomic_int hfs_fd_hwm_val __attribute__((visibility("hidden")));

/* The hottest wrappers' test, with no thread-local access: 1 when fd surely is no virtual fd
 * (pass straight to libc). A process that never had a virtual fd reads one variable. The slow
 * path then checks the core's guard itself. */
static inline int hfs_fd_surely_real(int fd)
{
    return (unsigned)fd >= (unsigned)atomic_load_explicit(&hfs_fd_hwm_val, memory_order_relaxed) ||
           atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed) == NULL;
}

/* Fast path: might fd be virtual? (false inside the core) */
static inline int hfs_fd_maybe(int fd)
{
    return !HFS_IN_CORE() && (unsigned)fd < HFS_FD_MAX &&
           atomic_load_explicit(&hfs_fdtab[fd], memory_order_relaxed) != NULL;
}

#pragma GCC visibility push(hidden)
/* Take a reference on fd's record (NULL if not virtual). */
hfs_fdrec *hfs_fd_get(int fd);
/* Same, but first checks the real fd still refers to the file it was registered with (an fd
 * closed behind our back, e.g. by fclose's internal close, and reused); drops stale entries.
 * Costs one fstat; used where a stale entry would give a wrong answer (stat, dirfd bases). */
hfs_fdrec *hfs_fd_get_checked(int fd);
void hfs_fd_put(hfs_fdrec *r);
/* Register fd for object o, taking over the caller's reference on o (released on failure).
 * Returns 0 or -errno (-EMFILE if fd does not fit the table). In a vfork child the parent's
 * table must not change: the file is materialized instead (the fd is about to be inherited). */
int hfs_fd_add(int fd, hfs_vobj *o);
/* Forget fd (before it is closed). */
void hfs_fd_del(int fd);
/* Forget fd and hand back its record (NULL if none): the caller closes the real fd, then puts
 * the record, so the object's last reference goes after the kernel close (and stdio's flush). */
hfs_fdrec *hfs_fd_take(int fd);
/* Is fd a virtual fd on a local overlay file (or not virtual at all)? Then fd mutators and
 * writes pass straight through. 0 only for a (checked) virtual remote file or directory. */
int hfs_fd_passthrough(int fd);
/* Forget fds lo..hi (inclusive). */
void hfs_fd_del_range(unsigned lo, unsigned hi);
/* newfd now refers to what src refers to (src NULL: to something not virtual). */
void hfs_fd_copy(const hfs_fdrec *src, int newfd);
/* One above the highest fd ever registered (bound for scans; 0: no virtual fd ever). */
static inline int hfs_fd_hwm(void)
{
    return atomic_load_explicit(&hfs_fd_hwm_val, memory_order_acquire);
}
/* 0 in a vfork child (memory shared with the parent, whose table must stay as is). */
int hfs_fd_mutable(void);
/* Make sure the backing file of r is complete (before mmap, exec, stdio, ...). 0 or -errno. */
int hfs_fd_materialize(hfs_fdrec *r);
/* Materialize every virtual fd a child started by exec would inherit (no FD_CLOEXEC). */
int hfs_fd_materialize_inheritable(void);
/* hfs_fd_materialize for bytes that leave the shim's sight by `what` (sendmsg, io_uring): a
 * failure prints one line naming the file and the route. */
int hfs_fd_handover(hfs_fdrec *r, const char *what);
/* The same for every virtual fd of the process (io_uring came into use); the first error. */
int hfs_fd_handover_all(const char *what);
void hfs_fd_set_pid(void);
void hfs_fd_atfork_child(void);

/* Directory streams on virtual directories. hfs_dir_get returns the record of d with a
 * reference on its fd record in *rp (hfs_fd_put it), or NULL when d is not virtual. */
hfs_dirrec *hfs_dir_get(DIR *d, hfs_fdrec **rp);
int hfs_dir_attach(int fd, DIR *d);
#pragma GCC visibility pop
