/* Classifying path arguments and building virtual paths; the virtual cwd. */
#pragma once
#include "fdtab.h"
#include "guard.h"
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>

#pragma GCC visibility push(hidden)

extern atomic_int hfs_state;       /* 2 once the library is initialized */
extern atomic_int hfs_cwd_virtual; /* the (kernel) cwd is a mirror of a virtual directory */
int hfs_init_slow(void);

static inline int hfs_ready(void)
{
    return HFS_LIKELY(atomic_load_explicit(&hfs_state, memory_order_acquire) == 2) ||
           hfs_init_slow();
}

/* Fast path: might (dirfd, path) name a virtual object? A compare for absolute paths; a flag
 * load for relative ones. dirfd is AT_FDCWD for calls without one. */
/* "/proc/self/fd/N" or "/dev/fd/N" while this process has (had) virtual fds: reopening a virtual
 * fd that way must reach the core (the kernel would open the backing cache file itself). Any
 * "/proc/" path: the mount table there shows our mounts (wrap_mountinfo.c). */
static inline int hfs_procfd_maybe(const char *p)
{
    if (p[1] == 'p' && p[2] == 'r' && p[3] == 'o' && p[4] == 'c' && p[5] == '/') return 1;
    return (p[1] == 'p' || p[1] == 'd') && hfs_fd_hwm() > 0;
}

static inline int hfs_path_maybe_at(int dirfd, const char *p)
{
    p = hfs_launder(p);
    if (HFS_IN_CORE() || !p) return 0;
    if (p[0] == '/')
        return hfs_ready() &&
               ((hfs_vfs_first[(unsigned char)p[1]] && hfs_vfs_covers(p)) || hfs_procfd_maybe(p));
    if (dirfd == AT_FDCWD) return atomic_load_explicit(&hfs_cwd_virtual, memory_order_relaxed);
    return hfs_fd_maybe(dirfd);
}
static inline int hfs_path_maybe(const char *p)
{
    return hfs_path_maybe_at(AT_FDCWD, p);
}

/* The same test for the hottest wrappers, without any call or thread-local access: 1 when p
 * surely names no virtual object (pass straight to libc), 0 when hfs_path_maybe must decide
 * (it also checks the core's guard). No call: the wrapper's fast path needs no stack frame;
 * few pages: after each system call this VM's TLB is cold (bench/ANALYSIS.md, row 7). */
static inline int hfs_path_surely_real(const char *p)
{
    p = hfs_launder(p);
    if (!p) return 1;
    if (p[0] != '/') return !atomic_load_explicit(&hfs_cwd_virtual, memory_order_relaxed);
    return atomic_load_explicit(&hfs_state, memory_order_acquire) == 2 &&
           !hfs_vfs_first[(unsigned char)p[1]] && !hfs_procfd_maybe(p);
}

/* A resolved path argument. */
typedef struct {
    char path[PATH_MAX]; /* the virtual path (virtual) or a rewritten real path */
    const char *real;    /* what to pass to libc when not virtual */
    int trailing_slash;  /* the argument ended in '/': the object must be a directory */
} hfs_rpath;

/* Resolve (dirfd, p) on the slow path: 1 = virtual (rp->path), 0 = real (pass rp->real, which
 * is p itself or its normalized absolute form), or -errno. */
int hfs_resolve_at(int dirfd, const char *p, hfs_rpath *rp);

/* The virtual cwd. hfs_cwd_get copies it (returns its length, 0 if the cwd is not virtual). */
size_t hfs_cwd_get(char *buf, size_t n);
void hfs_cwd_set(const char *vpath);
void hfs_cwd_clear(void);
/* After exec or at start: is the kernel cwd a mirror directory? */
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
