/* fd lifetime: close forgets a virtual fd before closing it; dup/dup2/dup3/fcntl(F_DUPFD*)
 * give the new fd its own record on the same object. */
#include "real.h"
#include "vpath.h"

#include <linux/close_range.h>
#include <stdarg.h>

__attribute__((noinline)) static int close_slow(int fd)
{
    if (!hfs_fd_maybe(fd)) return HFS_REAL(close)(fd); /* inside the core */
    hfs_fdrec *r = hfs_fd_take(fd);
    int rc = HFS_REAL(close)(fd), e = errno;
    hfs_fd_put(r);
    errno = e;
    return rc;
}

HFS_DEF_REAL_TAIL(int, close, (int fd), (fd))
__attribute__((hot)) HFS_EXPORT int close(int fd)
{
    if (HFS_LIKELY(hfs_fd_surely_real(fd))) return real_close(fd);
    return close_slow(fd);
}

HFS_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (!HFS_IN_CORE() && first <= last && (unsigned)hfs_fd_hwm() > first &&
        !(flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) && !(flags & CLOSE_RANGE_CLOEXEC))
        hfs_fd_del_range(first, last);
    return HFS_REAL(close_range)(first, last, flags);
}

HFS_EXPORT void closefrom(int lowfd)
{
    if (!HFS_IN_CORE() && lowfd >= 0 && hfs_fd_hwm() > lowfd)
        hfs_fd_del_range((unsigned)lowfd, ~0u);
    HFS_REAL(closefrom)(lowfd);
}

HFS_EXPORT int dup(int fd)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(dup)(fd);
    hfs_fdrec *r = hfs_fd_get(fd);
    int nfd = HFS_REAL(dup)(fd);
    if (nfd >= 0) hfs_fd_copy(r, nfd);
    hfs_fd_put(r);
    return nfd;
}

HFS_EXPORT int dup2(int oldfd, int newfd)
{
    if (HFS_LIKELY(!hfs_fd_maybe(oldfd) && !hfs_fd_maybe(newfd)))
        return HFS_REAL(dup2)(oldfd, newfd);
    hfs_fdrec *r = hfs_fd_maybe(oldfd) ? hfs_fd_get(oldfd) : NULL;
    int rc = HFS_REAL(dup2)(oldfd, newfd);
    if (rc >= 0 && oldfd != newfd) hfs_fd_copy(r, newfd);
    hfs_fd_put(r);
    return rc;
}

HFS_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    if (HFS_LIKELY(!hfs_fd_maybe(oldfd) && !hfs_fd_maybe(newfd)))
        return HFS_REAL(dup3)(oldfd, newfd, flags);
    hfs_fdrec *r = hfs_fd_maybe(oldfd) ? hfs_fd_get(oldfd) : NULL;
    int rc = HFS_REAL(dup3)(oldfd, newfd, flags);
    if (rc >= 0) hfs_fd_copy(r, newfd);
    hfs_fd_put(r);
    return rc;
}

/* fcntl is variadic; every command takes at most one argument, an int or a pointer, which
 * travels as a pointer-sized value (as glibc's own fcntl reads it). */
static int fcntl_slow(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    int nfd = real(fd, cmd, arg);
    if (nfd >= 0) hfs_fd_copy(r, nfd);
    hfs_fd_put(r);
    return nfd;
}

HFS_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (HFS_UNLIKELY(cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && hfs_fd_maybe(fd))
        return fcntl_slow(HFS_REAL(fcntl), fd, cmd, arg);
    return HFS_REAL(fcntl)(fd, cmd, arg);
}

HFS_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (HFS_UNLIKELY(cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && hfs_fd_maybe(fd))
        return fcntl_slow(HFS_REAL(fcntl64), fd, cmd, arg);
    return HFS_REAL(fcntl64)(fd, cmd, arg);
}
