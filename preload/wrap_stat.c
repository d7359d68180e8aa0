/* The stat family: stat/lstat/fstat/fstatat (+64), the old __xstat ABI, statx. Virtual paths
 * and fds are answered by the core, so stat(path) and fstat(fd) agree on st_dev/st_ino (also for
 * local overlay files). lstat and AT_SYMLINK_NOFOLLOW do not follow an overlay symlink. */
#include "real.h"
#include "statconv.h"
#include "vpath.h"
#include "wrap.h"

/* Virtual stat of (dirfd, path, flags). Returns 1 when answered (*ret is the result, errno set
 * on failure), 0 when the caller passes through with rp->real. */
int hfs_stat_at(int dirfd, const char *path, int flags, struct stat *st, hfs_rpath *rp, int *ret)
{
    int saved = errno, rc;
    rp->real = path;
    if ((!path || !path[0]) && (flags & AT_EMPTY_PATH)) {
        if (dirfd == AT_FDCWD) {
            char cwd[HFS_PATH_MAX];
            if (!hfs_cwd_get(cwd, sizeof cwd)) return 0;
            rc = HFS_CORE(hfs_vfs_stat(cwd, st));
        } else {
            hfs_fdrec *r = hfs_fd_get_checked(dirfd);
            if (!r) return 0;
            rc = HFS_CORE(hfs_vobj_stat_fd(r->obj, dirfd, st));
            hfs_fd_put(r);
        }
    } else {
        rc = hfs_resolve_at(dirfd, path, rp);
        if (rc == 0 && !rp->near) return 0;
        /* An ancestor of a mount: the core stats it really, or virtually when it is missing. */
        if (rc >= 0) rc = (flags & AT_SYMLINK_NOFOLLOW) ? hfs_vlstat(rp, st) : hfs_vstat(rp, st);
    }
    if (rc < 0) {
        *ret = hfs_fail(rc);
    } else {
        errno = saved;
        *ret = 0;
    }
    return 1;
}

int hfs_fstat_fd(int fd, struct stat *st, int *ret)
{
    int saved = errno;
    hfs_fdrec *r = hfs_fd_get_checked(fd);
    if (!r) return 0;
    int rc = HFS_CORE(hfs_vobj_stat_fd(r->obj, fd, st));
    hfs_fd_put(r);
    if (rc < 0) {
        *ret = hfs_fail(rc);
    } else {
        errno = saved;
        *ret = 0;
    }
    return 1;
}

/* Each wrapper: fast test, then the slow path into a struct stat, converted when needed. */
#define STAT_PATH(dirfd, path, flags, st, call_real)                                               \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), (path)))) return call_real;                     \
        hfs_rpath rp;                                                                              \
        int ret;                                                                                   \
        if (hfs_stat_at((dirfd), (path), (flags), (st), &rp, &ret)) return ret;                    \
        path = rp.real;                                                                            \
        return call_real;                                                                          \
    } while (0)

#define STAT_PATH64(dirfd, path, flags, st64, call_real)                                           \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), (path)))) return call_real;                     \
        hfs_rpath rp;                                                                              \
        struct stat s_;                                                                            \
        int ret;                                                                                   \
        if (hfs_stat_at((dirfd), (path), (flags), &s_, &rp, &ret)) {                               \
            if (ret == 0) hfs_stat_to64(&s_, (st64));                                              \
            return ret;                                                                            \
        }                                                                                          \
        path = rp.real;                                                                            \
        return call_real;                                                                          \
    } while (0)

#define STAT_FD(fd, st, call_real)                                                                 \
    do {                                                                                           \
        int ret;                                                                                   \
        if (HFS_UNLIKELY(hfs_fd_maybe(fd)) && hfs_fstat_fd((fd), (st), &ret)) return ret;          \
        return call_real;                                                                          \
    } while (0)

#define STAT_FD64(fd, st64, call_real)                                                             \
    do {                                                                                           \
        int ret;                                                                                   \
        struct stat s_;                                                                            \
        if (HFS_UNLIKELY(hfs_fd_maybe(fd)) && hfs_fstat_fd((fd), &s_, &ret)) {                     \
            if (ret == 0) hfs_stat_to64(&s_, (st64));                                              \
            return ret;                                                                            \
        }                                                                                          \
        return call_real;                                                                          \
    } while (0)

/* stat and lstat, the hottest path calls: their slow paths out of line, so the fast path
 * needs no stack frame (bench/ANALYSIS.md). */
__attribute__((noinline)) static int stat_slow(const char *path, struct stat *st)
{
    STAT_PATH(AT_FDCWD, path, 0, st, HFS_REAL(stat)(path, st));
}
__attribute__((noinline)) static int lstat_slow(const char *path, struct stat *st)
{
    STAT_PATH(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, st, HFS_REAL(lstat)(path, st));
}
HFS_DEF_REAL_TAIL(int, stat, (const char *path, struct stat *st), (path, st))
HFS_DEF_REAL_TAIL(int, lstat, (const char *path, struct stat *st), (path, st))
__attribute__((hot)) HFS_EXPORT int stat(const char *path, struct stat *st)
{
    if (HFS_LIKELY(hfs_path_surely_real(path))) return real_stat(path, st);
    return stat_slow(path, st);
}
__attribute__((hot)) HFS_EXPORT int lstat(const char *path, struct stat *st)
{
    if (HFS_LIKELY(hfs_path_surely_real(path))) return real_lstat(path, st);
    return lstat_slow(path, st);
}
HFS_EXPORT int stat64(const char *path, struct stat64 *st)
{
    STAT_PATH64(AT_FDCWD, path, 0, st, HFS_REAL(stat64)(path, st));
}
HFS_EXPORT int lstat64(const char *path, struct stat64 *st)
{
    STAT_PATH64(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, st, HFS_REAL(lstat64)(path, st));
}
HFS_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    STAT_PATH(dirfd, path, flags, st, HFS_REAL(fstatat)(dirfd, path, st, flags));
}
HFS_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    STAT_PATH64(dirfd, path, flags, st, HFS_REAL(fstatat64)(dirfd, path, st, flags));
}
__attribute__((noinline)) static int fstat_slow(int fd, struct stat *st)
{
    STAT_FD(fd, st, HFS_REAL(fstat)(fd, st));
}
HFS_DEF_REAL_TAIL(int, fstat, (int fd, struct stat *st), (fd, st))
__attribute__((hot)) HFS_EXPORT int fstat(int fd, struct stat *st)
{
    if (HFS_LIKELY(hfs_fd_surely_real(fd))) return real_fstat(fd, st);
    return fstat_slow(fd, st);
}
HFS_EXPORT int fstat64(int fd, struct stat64 *st)
{
    STAT_FD64(fd, st, HFS_REAL(fstat64)(fd, st));
}

/* The pre-2.33 ABI, still what many binaries (manylinux wheels...) call. */
HFS_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
    STAT_PATH(AT_FDCWD, path, 0, st, HFS_REAL(__xstat)(ver, path, st));
}
HFS_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
    STAT_PATH(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, st, HFS_REAL(__lxstat)(ver, path, st));
}
HFS_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
    STAT_PATH64(AT_FDCWD, path, 0, st, HFS_REAL(__xstat64)(ver, path, st));
}
HFS_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
    STAT_PATH64(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, st, HFS_REAL(__lxstat64)(ver, path, st));
}
HFS_EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
    STAT_FD(fd, st, HFS_REAL(__fxstat)(ver, fd, st));
}
HFS_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
    STAT_FD64(fd, st, HFS_REAL(__fxstat64)(ver, fd, st));
}
HFS_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    STAT_PATH(dirfd, path, flags, st, HFS_REAL(__fxstatat)(ver, dirfd, path, st, flags));
}
HFS_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    STAT_PATH64(dirfd, path, flags, st, HFS_REAL(__fxstatat64)(ver, dirfd, path, st, flags));
}

HFS_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
    const char *lp = hfs_launder(path), *p = lp ? lp : ""; /* NULL: Linux 6.11 AT_EMPTY_PATH */
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, p)))
        return HFS_REAL(statx)(dirfd, path, flags, mask, stx);
    hfs_rpath rp;
    struct stat s;
    int ret;
    if (hfs_stat_at(dirfd, p, flags, &s, &rp, &ret)) {
        if (ret == 0) hfs_stat_to_statx(&s, stx); /* all basic fields, whatever mask asks */
        return ret;
    }
    return HFS_REAL(statx)(dirfd, rp.real == p ? lp : rp.real, flags, mask, stx);
}
