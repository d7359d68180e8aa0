/* Everything that would change a virtual object fails with EROFS and has no side effect.
 * Like a read-only mount: creating an entry that exists gives EEXIST (mkdir -p relies on it),
 * changing one that does not exist gives ENOENT (rm -f relies on it). Extended attributes:
 * virtual objects have none. */
#include "real.h"
#include "vpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <utime.h>

enum { M_CREATE, M_CHANGE };

/* Is the object named by (dirfd, "", AT_EMPTY_PATH) or (dirfd, NULL) virtual? */
static int fd_itself_virtual(int dirfd)
{
    if (dirfd == AT_FDCWD) return atomic_load(&hfs_cwd_virtual);
    hfs_fdrec *r = hfs_fd_maybe(dirfd) ? hfs_fd_get_checked(dirfd) : NULL;
    hfs_fd_put(r);
    return r != NULL;
}

/* 1: answered (errno set, the caller returns -1); 0: pass through with rp->real. */
static int mut_at(int dirfd, const char *path, int kind, int empty_means_fd, hfs_rpath *rp)
{
    rp->real = path;
    if (empty_means_fd && (!path || !path[0])) {
        if (!fd_itself_virtual(dirfd)) return 0;
        errno = EROFS;
        return 1;
    }
    int v = hfs_resolve_at(dirfd, path, rp);
    if (v == 0) return 0;
    if (v > 0) {
        struct stat st;
        int e = hfs_vstat(rp, &st);
        if (kind == M_CREATE)
            v = e == 0 ? -EEXIST : -EROFS;
        else
            v = e < 0 ? e : -EROFS;
    }
    errno = -v;
    return 1;
}

#define MUT(dirfd, path, kind, empty_fd, call_real)                                                \
    do {                                                                                           \
        const char *lp_ = hfs_launder(path);                                                       \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), lp_ ? lp_ : ""))) return call_real;             \
        hfs_rpath rp;                                                                              \
        if (mut_at((dirfd), lp_, (kind), (empty_fd), &rp)) return -1;                              \
        path = rp.real;                                                                            \
        return call_real;                                                                          \
    } while (0)

/* Two-path calls (rename, link): EROFS when either side is virtual; ENOENT for a missing
 * virtual source. */
static int two_at(int od, const char *old, int nd, const char *new, hfs_rpath *ro, hfs_rpath *rn)
{
    int vo = hfs_resolve_at(od, old, ro);
    int vn = hfs_resolve_at(nd, new, rn);
    if (vo < 0 || vn < 0) {
        errno = -(vo < 0 ? vo : vn);
        return 1;
    }
    if (!vo && !vn) return 0;
    struct stat st;
    int e = vo ? hfs_vstat(ro, &st) : 0;
    errno = e < 0 ? -e : EROFS;
    return 1;
}

#define TWO(od, old, nd, new, call_real)                                                           \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe_at((od), (old)) && !hfs_path_maybe_at((nd), (new))))        \
            return call_real;                                                                      \
        hfs_rpath ro, rn;                                                                          \
        if (two_at((od), (old), (nd), (new), &ro, &rn)) return -1;                                 \
        old = ro.real;                                                                             \
        new = rn.real;                                                                             \
        return call_real;                                                                          \
    } while (0)

/* ---- creating ---- */
HFS_EXPORT int mkdir(const char *path, mode_t mode)
{
    MUT(AT_FDCWD, path, M_CREATE, 0, HFS_REAL(mkdir)(path, mode));
}
HFS_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
    MUT(dirfd, path, M_CREATE, 0, HFS_REAL(mkdirat)(dirfd, path, mode));
}
HFS_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
    MUT(AT_FDCWD, path, M_CREATE, 0, HFS_REAL(mknod)(path, mode, dev));
}
HFS_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    MUT(dirfd, path, M_CREATE, 0, HFS_REAL(mknodat)(dirfd, path, mode, dev));
}
HFS_EXPORT int mkfifo(const char *path, mode_t mode)
{
    MUT(AT_FDCWD, path, M_CREATE, 0, HFS_REAL(mkfifo)(path, mode));
}
HFS_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
    MUT(dirfd, path, M_CREATE, 0, HFS_REAL(mkfifoat)(dirfd, path, mode));
}
HFS_EXPORT int symlink(const char *target, const char *path)
{
    MUT(AT_FDCWD, path, M_CREATE, 0, HFS_REAL(symlink)(target, path));
}
HFS_EXPORT int symlinkat(const char *target, int dirfd, const char *path)
{
    MUT(dirfd, path, M_CREATE, 0, HFS_REAL(symlinkat)(target, dirfd, path));
}

/* ---- removing, renaming, linking ---- */
HFS_EXPORT int unlink(const char *path)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(unlink)(path));
}
HFS_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
    MUT(dirfd, path, M_CHANGE, 0, HFS_REAL(unlinkat)(dirfd, path, flags));
}
HFS_EXPORT int rmdir(const char *path)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(rmdir)(path));
}
HFS_EXPORT int remove(const char *path)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(remove)(path));
}
HFS_EXPORT int rename(const char *old, const char *new)
{
    TWO(AT_FDCWD, old, AT_FDCWD, new, HFS_REAL(rename)(old, new));
}
HFS_EXPORT int renameat(int od, const char *old, int nd, const char *new)
{
    TWO(od, old, nd, new, HFS_REAL(renameat)(od, old, nd, new));
}
HFS_EXPORT int renameat2(int od, const char *old, int nd, const char *new, unsigned flags)
{
    TWO(od, old, nd, new, HFS_REAL(renameat2)(od, old, nd, new, flags));
}
HFS_EXPORT int link(const char *old, const char *new)
{
    TWO(AT_FDCWD, old, AT_FDCWD, new, HFS_REAL(link)(old, new));
}
HFS_EXPORT int linkat(int od, const char *old, int nd, const char *new, int flags)
{
    TWO(od, old, nd, new, HFS_REAL(linkat)(od, old, nd, new, flags));
}

/* ---- attributes, size, times ---- */
HFS_EXPORT int chmod(const char *path, mode_t mode)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(chmod)(path, mode));
}
HFS_EXPORT int lchmod(const char *path, mode_t mode)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(lchmod)(path, mode));
}
HFS_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
    MUT(dirfd, path, M_CHANGE, flags & AT_EMPTY_PATH, HFS_REAL(fchmodat)(dirfd, path, mode, flags));
}
HFS_EXPORT int chown(const char *path, uid_t u, gid_t g)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(chown)(path, u, g));
}
HFS_EXPORT int lchown(const char *path, uid_t u, gid_t g)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(lchown)(path, u, g));
}
HFS_EXPORT int fchownat(int dirfd, const char *path, uid_t u, gid_t g, int flags)
{
    MUT(dirfd, path, M_CHANGE, flags & AT_EMPTY_PATH, HFS_REAL(fchownat)(dirfd, path, u, g, flags));
}
HFS_EXPORT int truncate(const char *path, off_t len)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(truncate)(path, len));
}
HFS_EXPORT int truncate64(const char *path, off64_t len)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(truncate64)(path, len));
}
HFS_EXPORT int utime(const char *path, const struct utimbuf *t)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(utime)(path, t));
}
HFS_EXPORT int utimes(const char *path, const struct timeval t[2])
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(utimes)(path, t));
}
HFS_EXPORT int lutimes(const char *path, const struct timeval t[2])
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(lutimes)(path, t));
}
/* A NULL path means the dirfd itself (futimens). */
HFS_EXPORT int utimensat(int dirfd, const char *path, const struct timespec t[2], int flags)
{
    MUT(dirfd, path, M_CHANGE, 1, HFS_REAL(utimensat)(dirfd, path, t, flags));
}
HFS_EXPORT int futimesat(int dirfd, const char *path, const struct timeval t[2])
{
    MUT(dirfd, path, M_CHANGE, 1, HFS_REAL(futimesat)(dirfd, path, t));
}
HFS_EXPORT int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(setxattr)(path, name, v, n, flags));
}
HFS_EXPORT int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(lsetxattr)(path, name, v, n, flags));
}
HFS_EXPORT int removexattr(const char *path, const char *name)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(removexattr)(path, name));
}
HFS_EXPORT int lremovexattr(const char *path, const char *name)
{
    MUT(AT_FDCWD, path, M_CHANGE, 0, HFS_REAL(lremovexattr)(path, name));
}

/* ---- reading extended attributes: there are none ---- */

/* 1: answered with errno (missing: ENOENT, else `none`, or success 0 when none == 0). */
static int xattr_path(const char *path, int none, hfs_rpath *rp, ssize_t *ret)
{
    int saved = errno;
    int v = hfs_resolve_at(AT_FDCWD, path, rp);
    if (v == 0) return 0;
    struct stat st;
    if (v > 0) v = hfs_vstat(rp, &st);
    if (v == 0 && none == 0) {
        errno = saved;
        *ret = 0;
        return 1;
    }
    *ret = hfs_fail(v < 0 ? v : -none);
    return 1;
}

#define XATTR_GET(path, none, call_real)                                                           \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe(path))) return call_real;                                   \
        hfs_rpath rp;                                                                              \
        ssize_t ret;                                                                               \
        if (xattr_path((path), (none), &rp, &ret)) return ret;                                     \
        path = rp.real;                                                                            \
        return call_real;                                                                          \
    } while (0)

HFS_EXPORT ssize_t getxattr(const char *path, const char *name, void *v, size_t n)
{
    XATTR_GET(path, ENODATA, HFS_REAL(getxattr)(path, name, v, n));
}
HFS_EXPORT ssize_t lgetxattr(const char *path, const char *name, void *v, size_t n)
{
    XATTR_GET(path, ENODATA, HFS_REAL(lgetxattr)(path, name, v, n));
}
HFS_EXPORT ssize_t listxattr(const char *path, char *list, size_t n)
{
    XATTR_GET(path, 0, HFS_REAL(listxattr)(path, list, n));
}
HFS_EXPORT ssize_t llistxattr(const char *path, char *list, size_t n)
{
    XATTR_GET(path, 0, HFS_REAL(llistxattr)(path, list, n));
}
HFS_EXPORT ssize_t fgetxattr(int fd, const char *name, void *v, size_t n)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || !fd_itself_virtual(fd))
        return HFS_REAL(fgetxattr)(fd, name, v, n);
    return hfs_fail(-ENODATA);
}
HFS_EXPORT ssize_t flistxattr(int fd, char *list, size_t n)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || !fd_itself_virtual(fd))
        return HFS_REAL(flistxattr)(fd, list, n);
    (void)list;
    (void)n;
    return 0;
}

/* ---- calls on a virtual fd: the fd is read-only, say so explicitly ---- */
#define FD_ROFS(fd, call_real)                                                                     \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_fd_maybe(fd)) || !fd_itself_virtual(fd)) return call_real;             \
        return hfs_fail(-EROFS);                                                                   \
    } while (0)

HFS_EXPORT int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
    FD_ROFS(fd, HFS_REAL(fsetxattr)(fd, name, v, n, flags));
}
HFS_EXPORT int fremovexattr(int fd, const char *name)
{
    FD_ROFS(fd, HFS_REAL(fremovexattr)(fd, name));
}
HFS_EXPORT int ftruncate(int fd, off_t len)
{
    FD_ROFS(fd, HFS_REAL(ftruncate)(fd, len));
}
HFS_EXPORT int ftruncate64(int fd, off64_t len)
{
    FD_ROFS(fd, HFS_REAL(ftruncate64)(fd, len));
}
HFS_EXPORT int fchmod(int fd, mode_t mode)
{
    FD_ROFS(fd, HFS_REAL(fchmod)(fd, mode));
}
HFS_EXPORT int fchown(int fd, uid_t u, gid_t g)
{
    FD_ROFS(fd, HFS_REAL(fchown)(fd, u, g));
}
HFS_EXPORT int futimens(int fd, const struct timespec t[2])
{
    FD_ROFS(fd, HFS_REAL(futimens)(fd, t));
}
HFS_EXPORT int futimes(int fd, const struct timeval t[2])
{
    FD_ROFS(fd, HFS_REAL(futimes)(fd, t));
}
HFS_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
    FD_ROFS(fd, HFS_REAL(fallocate)(fd, mode, off, len));
}
HFS_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    FD_ROFS(fd, HFS_REAL(fallocate64)(fd, mode, off, len));
}
/* posix_fallocate returns the error number instead of setting errno. */
HFS_EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || !fd_itself_virtual(fd))
        return HFS_REAL(posix_fallocate)(fd, off, len);
    return EROFS;
}
HFS_EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || !fd_itself_virtual(fd))
        return HFS_REAL(posix_fallocate64)(fd, off, len);
    return EROFS;
}

/* ---- temporary files: libc opens them internally, so a virtual template is caught here ---- */

/* 1: answered (EROFS / EEXIST... via errno); 0: pass through; the real call then works on
 * `use` (the template itself, or a normalized copy in rp->path whose tail is copied back). */
static int tmp_slow(char *tmpl, hfs_rpath *rp, char **use)
{
    *use = tmpl;
    int v = hfs_resolve_at(AT_FDCWD, tmpl, rp);
    if (v == 0) {
        if (rp->real != tmpl) *use = rp->path;
        return 0;
    }
    errno = v < 0 ? -v : EROFS;
    return 1;
}

/* After the real call on a normalized copy: the random part (the tail) goes back. */
static void tmp_copy_back(char *tmpl, const char *used)
{
    if (used == tmpl) return;
    size_t tl = strlen(tmpl), ul = strlen(used), n = tl < ul ? tl : ul;
    memcpy(tmpl + tl - n, used + ul - n, n < 64 ? n : 64);
}

#define TMP_FD(tmpl, call_real)                                                                    \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe(tmpl))) {                                                   \
            char *use = tmpl;                                                                      \
            return call_real;                                                                      \
        }                                                                                          \
        hfs_rpath rp;                                                                              \
        char *use;                                                                                 \
        if (tmp_slow((tmpl), &rp, &use)) return -1;                                                \
        int fd_ = call_real;                                                                       \
        if (fd_ >= 0) tmp_copy_back((tmpl), use);                                                  \
        return fd_;                                                                                \
    } while (0)

HFS_EXPORT int mkstemp(char *tmpl)
{
    TMP_FD(tmpl, HFS_REAL(mkstemp)(use));
}
HFS_EXPORT int mkstemp64(char *tmpl)
{
    TMP_FD(tmpl, HFS_REAL(mkstemp64)(use));
}
HFS_EXPORT int mkostemp(char *tmpl, int flags)
{
    TMP_FD(tmpl, HFS_REAL(mkostemp)(use, flags));
}
HFS_EXPORT int mkostemp64(char *tmpl, int flags)
{
    TMP_FD(tmpl, HFS_REAL(mkostemp64)(use, flags));
}
HFS_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
    TMP_FD(tmpl, HFS_REAL(mkstemps)(use, suffixlen));
}
HFS_EXPORT int mkstemps64(char *tmpl, int suffixlen)
{
    TMP_FD(tmpl, HFS_REAL(mkstemps64)(use, suffixlen));
}
HFS_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
    TMP_FD(tmpl, HFS_REAL(mkostemps)(use, suffixlen, flags));
}
HFS_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags)
{
    TMP_FD(tmpl, HFS_REAL(mkostemps64)(use, suffixlen, flags));
}
/* 0 or -1 (errno); the template is filled in place. */
static int mkdtemp_slow(char *tmpl)
{
    hfs_rpath rp;
    char *use;
    if (tmp_slow(tmpl, &rp, &use)) return -1;
    if (!HFS_REAL(mkdtemp)(use)) return -1;
    tmp_copy_back(tmpl, use);
    return 0;
}

HFS_EXPORT char *mkdtemp(char *tmpl)
{
    if (HFS_LIKELY(!hfs_path_maybe(tmpl))) return HFS_REAL(mkdtemp)(tmpl);
    return mkdtemp_slow(tmpl) < 0 ? NULL : tmpl;
}
