/* syscall(2): programs (libuv, Go-like runtimes, Rust std) issue some file calls through it.
 * The ones with a virtual meaning are sent to the matching wrapper; everything else, and any
 * call while inside the core, goes to libc's syscall(). The wrappers' libc calls return -1 and
 * set errno exactly like syscall() does. */
#include "async.h"
#include "real.h"
#include "vpath.h"
#include "wrap.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>

HFS_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (HFS_LIKELY(!HFS_IN_CORE())) {
        switch (nr) {
        case SYS_statx:
            return statx((int)a, (const char *)b, (int)c, (unsigned)d, (struct statx *)e);
        case SYS_newfstatat:
            return fstatat((int)a, (const char *)b, (struct stat *)c, (int)d);
        case SYS_fstat:
            return fstat((int)a, (struct stat *)b);
#ifdef SYS_stat
        case SYS_stat:
            return stat((const char *)a, (struct stat *)b);
        case SYS_lstat:
            return lstat((const char *)a, (struct stat *)b);
#endif
        case SYS_getdents64:
            return getdents64((int)a, (void *)b, (size_t)c);
        case SYS_openat:
            return openat((int)a, (const char *)b, (int)c, (mode_t)d);
#ifdef SYS_open
        case SYS_open:
            return open((const char *)a, (int)b, (mode_t)c);
#endif
        case SYS_close:
            return close((int)a);
        case SYS_close_range:
            return close_range((unsigned)a, (unsigned)b, (int)c);
        case SYS_read:
            return read((int)a, (void *)b, (size_t)c);
        case SYS_pread64:
            return pread64((int)a, (void *)b, (size_t)c, (off64_t)d);
        case SYS_dup:
            return dup((int)a);
#ifdef SYS_dup2
        case SYS_dup2:
            return dup2((int)a, (int)b);
#endif
        case SYS_dup3:
            return dup3((int)a, (int)b, (int)c);
        case SYS_faccessat:
            return faccessat((int)a, (const char *)b, (int)c, 0);
#ifdef SYS_faccessat2
        case SYS_faccessat2:
            return faccessat((int)a, (const char *)b, (int)c, (int)d);
#endif
        case SYS_readlinkat:
            return readlinkat((int)a, (const char *)b, (char *)c, (size_t)d);
        case SYS_chdir:
            return chdir((const char *)a);
        case SYS_fchdir:
            return fchdir((int)a);
        case SYS_mmap:
            if (!(d & MAP_ANONYMOUS) && hfs_fd_maybe((int)e))
                return (long)mmap((void *)a, (size_t)b, (int)c, (int)d, (int)e, (off_t)f);
            break;
        case SYS_execve:
            return execve((const char *)a, (char *const *)b, (char *const *)c);
        case SYS_mkdirat:
            return mkdirat((int)a, (const char *)b, (mode_t)c);
        case SYS_unlinkat:
            return unlinkat((int)a, (const char *)b, (int)c);
        case SYS_renameat2:
            return renameat2((int)a, (const char *)b, (int)c, (const char *)d, (unsigned)e);
#ifdef SYS_renameat
        case SYS_renameat:
            return renameat((int)a, (const char *)b, (int)c, (const char *)d);
#endif
        case SYS_symlinkat:
            return symlinkat((const char *)a, (int)b, (const char *)c);
        case SYS_linkat:
            return linkat((int)a, (const char *)b, (int)c, (const char *)d, (int)e);
        case SYS_fchmodat:
            return fchmodat((int)a, (const char *)b, (mode_t)c, 0);
        case SYS_fchownat:
            return fchownat((int)a, (const char *)b, (uid_t)c, (gid_t)d, (int)e);
        case SYS_utimensat:
            return utimensat((int)a, (const char *)b, (const struct timespec *)c, (int)d);
        case SYS_truncate:
            return truncate((const char *)a, (off_t)b);
        case SYS_ftruncate:
            return ftruncate((int)a, (off_t)b);
        case SYS_fallocate:
            return fallocate((int)a, (int)b, (off_t)c, (off_t)d);
        case SYS_fchmod:
            return fchmod((int)a, (mode_t)b);
        case SYS_sendmsg:
            return sendmsg((int)a, (const struct msghdr *)b, (int)c);
        case SYS_sendmmsg:
            return sendmmsg((int)a, (struct mmsghdr *)b, (unsigned)c, (int)d);
        case SYS_pidfd_getfd:
            return pidfd_getfd((int)a, (int)b, (unsigned)c);
        case SYS_io_submit: {
            int rc = hfs_aio_submit_ensure(b, (const void *)c);
            if (rc < 0) return hfs_fail(rc);
            break;
        }
        case SYS_io_uring_setup: {
            /* the ring reads without any wrapper: complete every virtual file first */
            int rc = hfs_async_start(HFS_ASYNC_WHY " (io_uring_setup)");
            if (rc < 0) return hfs_fail(rc);
            break;
        }
        default:
            break;
        }
    }
    return HFS_REAL(syscall)(nr, a, b, c, d, e, f);
}
