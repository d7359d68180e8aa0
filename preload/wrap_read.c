/* Reads: before a read on a virtual fd, the core makes the range present in the backing file
 * (lazy filling). A failed fill is an error, never zeros. Also lseek (SEEK_DATA/SEEK_HOLE must
 * not expose the holes of a partial file; directory positions for getdents64). */
#include "async.h"
#include "real.h"
#include "vpath.h"

#include <limits.h>
#include <stdint.h>

/* Make [off, off+len) present; off < 0: from the current file offset. 0 or -errno. Out of
 * line, so the wrappers' fast paths need no stack frame (bench/ANALYSIS.md). */
__attribute__((noinline)) static int ensure(int fd, int64_t off, uint64_t len)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return 0;
    int rc = 0;
    if (!r->is_dir && !atomic_load_explicit(&r->complete, memory_order_relaxed)) {
        int saved = errno;
        if (off < 0) off = HFS_REAL(lseek64)(fd, 0, SEEK_CUR);
        if (off < 0) {
            /* A backing file always has an offset: the entry is stale (the fd was closed
             * behind our back and its number reused for a pipe or socket). */
            hfs_fd_put(r);
            hfs_fdrec *c = hfs_fd_get_checked(fd);
            rc = c ? hfs_fd_materialize(c) : 0;
            hfs_fd_put(c);
            if (rc >= 0) errno = saved;
            return rc;
        } else if (hfs_async_active()) { /* io_uring may read this fd too: all of it */
            rc = hfs_fd_handover(r, HFS_ASYNC_WHY);
        } else {
            rc = HFS_CORE(hfs_vobj_ensure(r->obj, (uint64_t)off, len));
            if (rc == 0 && HFS_CORE(hfs_vobj_complete(r->obj))) atomic_store(&r->complete, 1);
        }
        if (rc >= 0) errno = saved;
    }
    hfs_fd_put(r);
    return rc < 0 ? rc : 0;
}

static uint64_t iov_len(const struct iovec *iov, int cnt)
{
    uint64_t n = 0;
    if (!iov || cnt <= 0 || cnt > IOV_MAX) return 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    return n;
}

#define ENSURE_OR_FAIL(fd, off, len)                                                               \
    do {                                                                                           \
        int rc_ = ensure((fd), (off), (len));                                                      \
        if (rc_ < 0) return hfs_fail(rc_);                                                         \
    } while (0)

__attribute__((noinline)) static ssize_t read_slow(int fd, void *buf, size_t n)
{
    if (!hfs_fd_maybe(fd)) return HFS_REAL(read)(fd, buf, n); /* inside the core */
    ENSURE_OR_FAIL(fd, -1, n);
    return HFS_REAL(read)(fd, buf, n);
}

HFS_DEF_REAL_TAIL(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))
__attribute__((hot)) HFS_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (HFS_LIKELY(hfs_fd_surely_real(fd))) return real_read(fd, buf, n);
    return read_slow(fd, buf, n);
}

HFS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(__read_chk)(fd, buf, n, buflen);
    ENSURE_OR_FAIL(fd, -1, n);
    return HFS_REAL(__read_chk)(fd, buf, n, buflen);
}

HFS_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < 0) return HFS_REAL(pread)(fd, buf, n, off);
    ENSURE_OR_FAIL(fd, off, n);
    return HFS_REAL(pread)(fd, buf, n, off);
}

HFS_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < 0) return HFS_REAL(pread64)(fd, buf, n, off);
    ENSURE_OR_FAIL(fd, off, n);
    return HFS_REAL(pread64)(fd, buf, n, off);
}

HFS_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < 0)
        return HFS_REAL(__pread_chk)(fd, buf, n, off, buflen);
    ENSURE_OR_FAIL(fd, off, n);
    return HFS_REAL(__pread_chk)(fd, buf, n, off, buflen);
}

HFS_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < 0)
        return HFS_REAL(__pread64_chk)(fd, buf, n, off, buflen);
    ENSURE_OR_FAIL(fd, off, n);
    return HFS_REAL(__pread64_chk)(fd, buf, n, off, buflen);
}

HFS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(readv)(fd, iov, cnt);
    ENSURE_OR_FAIL(fd, -1, iov_len(iov, cnt));
    return HFS_REAL(readv)(fd, iov, cnt);
}

HFS_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < 0) return HFS_REAL(preadv)(fd, iov, cnt, off);
    ENSURE_OR_FAIL(fd, off, iov_len(iov, cnt));
    return HFS_REAL(preadv)(fd, iov, cnt, off);
}

HFS_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < 0) return HFS_REAL(preadv64)(fd, iov, cnt, off);
    ENSURE_OR_FAIL(fd, off, iov_len(iov, cnt));
    return HFS_REAL(preadv64)(fd, iov, cnt, off);
}

/* preadv2: an offset of -1 means the current file offset. */
HFS_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < -1)
        return HFS_REAL(preadv2)(fd, iov, cnt, off, flags);
    ENSURE_OR_FAIL(fd, off, iov_len(iov, cnt));
    return HFS_REAL(preadv2)(fd, iov, cnt, off, flags);
}

HFS_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || off < -1)
        return HFS_REAL(preadv64v2)(fd, iov, cnt, off, flags);
    ENSURE_OR_FAIL(fd, off, iov_len(iov, cnt));
    return HFS_REAL(preadv64v2)(fd, iov, cnt, off, flags);
}

/* lseek on a virtual fd: SEEK_DATA/SEEK_HOLE see a complete file; on a directory fd,
 * SEEK_SET also sets the listing position served by getdents64. */
static int lseek_prep(int fd, int64_t off, int whence)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return 0;
    int rc = 0;
    if (r->is_dir) {
        if (whence == SEEK_SET && off >= 0) atomic_store(&r->dpos, (uint64_t)off);
    } else if (whence == SEEK_DATA || whence == SEEK_HOLE) {
        int saved = errno;
        rc = hfs_fd_materialize(r);
        if (rc == 0) errno = saved;
    }
    hfs_fd_put(r);
    return rc;
}

HFS_EXPORT off_t lseek(int fd, off_t off, int whence)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(lseek)(fd, off, whence);
    int rc = lseek_prep(fd, off, whence);
    if (rc < 0) return hfs_fail(rc);
    return HFS_REAL(lseek)(fd, off, whence);
}

HFS_EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(lseek64)(fd, off, whence);
    int rc = lseek_prep(fd, off, whence);
    if (rc < 0) return hfs_fail(rc);
    return HFS_REAL(lseek64)(fd, off, whence);
}
