/* open family: virtual paths are opened by the core, which returns a real fd (a read-only fd on
 * a local backing file, a writable fd on a local overlay file, or an fd on an empty mirror
 * directory); the fd is entered in the table. Opens with a write intent go to hfs_vfs_open2 with
 * the caller's mode minus the umask (what the kernel would do). */
#include "async.h"
#include "open.h"
#include "real.h"
#include "vpath.h"
#include "write.h"

#include <stdarg.h>

#define NEEDS_MODE(fl) (((fl)&O_CREAT) || ((fl)&__O_TMPFILE) == __O_TMPFILE)
#define GET_MODE(fl, mode)                                                                         \
    do {                                                                                           \
        if (NEEDS_MODE(fl)) {                                                                      \
            va_list ap;                                                                            \
            va_start(ap, fl);                                                                      \
            mode = (mode_t)va_arg(ap, int);                                                        \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

int hfs_open_vpath(const char *vpath, int flags, mode_t mode, int saved_errno)
{
    /* Unnamed files are not supported: EOPNOTSUPP is the answer callers fall back on (Python's
     * tempfile, glibc's tmpfile). */
    if ((flags & __O_TMPFILE) == __O_TMPFILE) return hfs_fail(-EOPNOTSUPP);
    if (flags & O_PATH) /* treated as a plain read-only open */
        flags = O_RDONLY | (flags & (O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW));
    hfs_vobj *o = NULL;
    int fd;
    if (HFS_WRITE_INTENT(flags)) {
        mode_t m = (flags & O_CREAT) ? (mode & 07777 & ~hfs_umask_get()) : 0;
        fd = HFS_CORE(hfs_vfs_open2(vpath, flags, m, &o));
    } else {
        fd = HFS_CORE(hfs_vfs_open(vpath, flags, &o));
    }
    if (fd < 0) return hfs_fail(fd);
    int rc = hfs_fd_add(fd, o);
    if (rc == 0 && hfs_async_active()) { /* io_uring would read its holes as zeros */
        hfs_fdrec *r = hfs_fd_get(fd);
        rc = r ? hfs_fd_handover(r, HFS_ASYNC_WHY) : 0;
        hfs_fd_put(r);
        if (rc < 0) hfs_fd_del(fd);
    }
    if (rc < 0) {
        HFS_REAL(close)(fd);
        return hfs_fail(rc);
    }
    errno = saved_errno;
    return fd;
}

/* An ancestor of a mount (rp->near): the real open, then a directory fd is registered so that
 * *at calls, fchdir and listings through it see the mounts below; a missing ancestor opens as
 * a virtual directory. */
int hfs_open_near(int dirfd, const hfs_rpath *rp, int flags, mode_t mode, int saved_errno)
{
    int fd = HFS_REAL(openat)(dirfd, rp->real, flags, mode);
    if (fd < 0) {
        if (errno != ENOENT) return -1;
        struct stat st;
        int rc = HFS_CORE(hfs_vfs_near_stat(rp->path, &st));
        if (rc < 0) return hfs_fail(rc);
        if (HFS_WRITE_INTENT(flags)) return hfs_fail(-EISDIR);
    } else {
        struct stat st;
        if (!(flags & O_DIRECTORY) && (HFS_REAL(fstat)(fd, &st) || !S_ISDIR(st.st_mode))) {
            errno = saved_errno;
            return fd;
        }
    }
    hfs_vobj *o = NULL;
    int vfd = HFS_CORE(hfs_vfs_open_near(rp->path, fd, flags, &o));
    if (vfd < 0) {
        if (fd >= 0) { /* the real fd still works, just without the mounts */
            errno = saved_errno;
            return fd;
        }
        return hfs_fail(vfd);
    }
    int rc = hfs_fd_add(vfd, o);
    if (rc < 0) {
        HFS_REAL(close)(vfd);
        return hfs_fail(rc);
    }
    errno = saved_errno;
    return vfd;
}

/* Slow path shared by the whole family; out of line, so the fast path of each wrapper needs no
 * stack frame of its own (bench/ANALYSIS.md). */
__attribute__((noinline)) static int open_slow(int dirfd, const char *path, int flags, mode_t mode)
{
    int saved = errno;
    hfs_rpath rp;
    int v = hfs_resolve_at(dirfd, path, &rp);
    if (v < 0) return hfs_fail(v);
    /* As Linux >= 6.4: O_CREAT never makes a directory, whatever is there. */
    if ((v || rp.near) && (flags & O_CREAT) && (rp.trailing_slash || rp.final))
        return hfs_fail(-EISDIR);
    if (v == 0) {
        errno = saved;
        int mt = hfs_mounttab_open(rp.real, flags);
        if (mt != -2) return mt;
        if (rp.near) return hfs_open_near(dirfd, &rp, flags, mode, saved);
        int fd = HFS_REAL(openat)(dirfd, rp.real, flags, mode);
        if (fd >= 0 && hfs_proc_fd_other(rp.real)) return hfs_foreign_fd(fd, rp.real);
        return fd;
    }
    return hfs_open_vpath(rp.path, flags | (rp.trailing_slash ? O_DIRECTORY : 0), mode, saved);
}

/* open's slow path: the full test, then libc or the core. */
__attribute__((noinline)) static int open_maybe(const char *path, int flags, mode_t mode)
{
    if (!hfs_path_maybe(path)) return HFS_REAL(open)(path, flags, mode);
    return open_slow(AT_FDCWD, path, flags, mode);
}

HFS_DEF_REAL_TAIL(int, open, (const char *path, int flags, mode_t mode), (path, flags, mode))
__attribute__((hot)) HFS_EXPORT int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    GET_MODE(flags, mode);
    if (HFS_LIKELY(hfs_path_surely_real(path))) return real_open(path, flags, mode);
    return open_maybe(path, flags, mode);
}

HFS_EXPORT int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    GET_MODE(flags, mode);
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(open64)(path, flags, mode);
    return open_slow(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

HFS_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    GET_MODE(flags, mode);
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, path)))
        return HFS_REAL(openat)(dirfd, path, flags, mode);
    return open_slow(dirfd, path, flags, mode);
}

HFS_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    GET_MODE(flags, mode);
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, path)))
        return HFS_REAL(openat64)(dirfd, path, flags, mode);
    return open_slow(dirfd, path, flags | O_LARGEFILE, mode);
}

HFS_EXPORT int creat(const char *path, mode_t mode)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(creat)(path, mode);
    return open_slow(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

HFS_EXPORT int creat64(const char *path, mode_t mode)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(creat64)(path, mode);
    return open_slow(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

/* Fortified entry points (_FORTIFY_SOURCE builds call these when no mode is needed). */
HFS_EXPORT int __open_2(const char *path, int flags)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(__open_2)(path, flags);
    return open_slow(AT_FDCWD, path, flags, 0);
}

HFS_EXPORT int __open64_2(const char *path, int flags)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(__open64_2)(path, flags);
    return open_slow(AT_FDCWD, path, flags | O_LARGEFILE, 0);
}

HFS_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, path)))
        return HFS_REAL(__openat_2)(dirfd, path, flags);
    return open_slow(dirfd, path, flags, 0);
}

HFS_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, path)))
        return HFS_REAL(__openat64_2)(dirfd, path, flags);
    return open_slow(dirfd, path, flags | O_LARGEFILE, 0);
}
