/* Classifying path arguments and building virtual paths; the virtual cwd. */
#pragma once
#include "fdtab.h"
#include "guard.h"
#include "mapped.h"
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

extern atomic_int hfs_state; /* 2 once the library is initialized */
/* What the kernel cwd is (HFS_CWD_*): anything but REAL sends relative paths to the slow path. */
enum {
    HFS_CWD_REAL,        /* a real directory, not above any mount */
    HFS_CWD_VIRTUAL,     /* the mirror directory of a virtual directory */
    HFS_CWD_NEAR,        /* a real directory above a mount (an ancestor) */
    HFS_CWD_NEAR_MIRROR, /* the mirror directory of an ancestor that does not exist really */
};
extern atomic_int hfs_cwd_kind;
int hfs_init_slow(void);

static inline int hfs_ready(void)
{
    return HFS_LIKELY(atomic_load_explicit(&hfs_state, memory_order_acquire) == 2) ||
           hfs_init_slow();
}

/* A pointer the kernel would refuse with EFAULT (NULL, the first page, the kernel half, an
 * unmapped page): such a path is never read here, it goes to libc as it is. */
static inline int hfs_bad_ptr(const char *p)
{
    return (uintptr_t)p < 4096 || (intptr_t)p < 0 || !hfs_mapped(p);
}

/* A ".." component: the path may climb from any real directory into a mount (the slow path). */
#define hfs_has_dotdot hfs_path_has_dotdot

/* Fast path: might (dirfd, path) name a virtual object? A compare for absolute paths; a flag
 * load for relative ones. dirfd is AT_FDCWD for calls without one. */
/* Any "/proc/" path (the mount table there shows our mounts, wrap_mountinfo.c; /proc/self/cwd
 * and /proc/self/fd/N lead to virtual objects), or "/dev/fd/N" while this process has (had)
 * virtual fds: reopening a virtual fd that way must reach the core (the kernel would open the
 * backing cache file itself). */
static inline int hfs_procfd_maybe(const char *p)
{
    if (p[1] == 'p' && p[2] == 'r' && p[3] == 'o' && p[4] == 'c' && p[5] == '/') return 1;
    return (p[1] == 'p' || p[1] == 'd') && hfs_fd_hwm() > 0;
}

static inline int hfs_path_maybe_at(int dirfd, const char *p)
{
    p = hfs_launder(p);
    if (HFS_IN_CORE() || hfs_bad_ptr(p)) return 0;
    if (p[0] == '/')
        return hfs_ready() &&
               ((hfs_vfs_first[(unsigned char)p[1]] && hfs_vfs_touches(p)) || hfs_procfd_maybe(p));
    if (dirfd == AT_FDCWD)
        return atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed) || hfs_has_dotdot(p);
    return hfs_fd_maybe(dirfd) || hfs_has_dotdot(p);
}
static inline int hfs_path_maybe(const char *p)
{
    return hfs_path_maybe_at(AT_FDCWD, p);
}

/* The same test for the hottest wrappers, without any call or thread-local access: 1 when p
 * surely names no virtual object (pass straight to libc), 0 when hfs_path_maybe must decide
 * (it also checks the core's guard). No call: the wrapper's fast path needs no stack frame;
 * few pages: after each system call this VM's TLB is cold (bench/ANALYSIS.md). */
static inline int hfs_path_surely_real(const char *p)
{
    p = hfs_launder(p);
    if ((uintptr_t)p < 4096 || (intptr_t)p < 0) return 1;
    if (!hfs_mapped_known(p)) return 0; /* the slow path probes it */
    if (p[0] != '/')
        return !atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed) && !hfs_has_dotdot(p);
    return atomic_load_explicit(&hfs_state, memory_order_acquire) == 2 &&
           !hfs_vfs_first[(unsigned char)p[1]] && !hfs_procfd_maybe(p);
}

/* A resolved path argument. */
typedef struct {
    char path[HFS_PATH_MAX]; /* the virtual (or ancestor's) normalized path, or a rewritten real one
                              */
    const char *real;        /* what to pass to libc when not virtual */
    int trailing_slash;      /* the argument ended in '/': the object must be a directory */
    int near;                /* not virtual: an ancestor of a mount, normalized in `path` */
    int final; /* the last component was "." (1) or ".." (2): never a name to change */
} hfs_rpath;

/* The process's own /proc entries: "/proc/self/", "/proc/thread-self/", "/proc/<pid>/" (and
 * "/dev/fd/", then *devfd = 1); returns what follows, or NULL. */
const char *hfs_proc_self(const char *p, int *devfd);

/* An ancestor of a mount (rp->near) that does not exist really: it exists only virtually. */
int hfs_near_missing(const hfs_rpath *rp);

/* Resolve (dirfd, p) on the slow path: 1 = virtual (rp->path), 0 = real (pass rp->real: p itself
 * when it is relative to a real directory, else its normalized absolute form), or -errno. */
int hfs_resolve_at(int dirfd, const char *p, hfs_rpath *rp);

/* The cwd when it is a mirror directory (HFS_CWD_VIRTUAL, HFS_CWD_NEAR_MIRROR): hfs_cwd_get
 * copies its virtual path (returns its length, 0 for any other kind of cwd). */
size_t hfs_cwd_get(char *buf, size_t n);
/* After a successful chdir: the new kind, and its path (virtual for the mirror kinds). */
void hfs_cwd_set(int kind, const char *vpath);
void hfs_cwd_clear(void);
/* After a chdir the shim did not see through (fchdir of an fd it does not know): read the
 * kernel cwd and classify it. */
void hfs_cwd_recover(void);
void hfs_cwd_atfork_child(void);

/* The errno convention of libc wrappers. */
static inline int hfs_fail(int neg)
{
    errno = -neg;
    return -1;
}

/* stat a virtual path, with the trailing-slash rule. 0 or -errno. */
int hfs_vstat(const hfs_rpath *rp, struct stat *st);
/* Same without following a final overlay symlink (a trailing '/' still follows it). */
int hfs_vlstat(const hfs_rpath *rp, struct stat *st);

/* Follow the overlay's symlinks in a virtual path, component by component (realpath, the
 * following xattr calls). Writes the result to out: 1 = still virtual, 0 = it left the virtual
 * tree (out is a real path, not yet resolved further), or -errno (ENOENT, ENOTDIR, ELOOP). */
int hfs_vresolve(const char *vpath, char *out, size_t n);

#pragma GCC visibility pop
