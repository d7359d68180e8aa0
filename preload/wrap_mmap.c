/* Where the kernel hands file bytes over without a read: mmap, sendfile, copy_file_range,
 * splice. The needed bytes are made present first (the whole file for mmap). */
#include "real.h"
#include "vpath.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/sendfile.h>

static int materialize_fd(int fd)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return 0;
    int saved = errno;
    int rc = r->is_dir ? 0 : hfs_fd_materialize(r);
    hfs_fd_put(r);
    if (rc == 0) errno = saved;
    return rc;
}

/* A transfer from a partial file is cut to this many bytes per call (a short transfer is
 * normal for these calls; callers loop), so a big copy streams instead of first fetching the
 * whole file. */
#define XFER_STEP ((size_t)64 << 20)

/* Make [off, off+*len) of fd present, first cutting *len to XFER_STEP when the file is not
 * complete; off < 0: from the current file offset. 0 or -errno. */
static int ensure_range(int fd, int64_t off, size_t *len)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return 0;
    int saved = errno, rc = 0;
    if (!r->is_dir && !atomic_load(&r->complete)) {
        if (*len > XFER_STEP) *len = XFER_STEP;
        if (off < 0) off = HFS_REAL(lseek64)(fd, 0, SEEK_CUR);
        if (off < 0)
            rc = hfs_fd_materialize(r);
        else
            rc = HFS_CORE(hfs_vobj_ensure(r->obj, (uint64_t)off, *len));
    }
    hfs_fd_put(r);
    if (rc == 0) errno = saved;
    return rc;
}

HFS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (HFS_UNLIKELY(!(flags & MAP_ANONYMOUS) && hfs_fd_maybe(fd))) {
        int rc = materialize_fd(fd);
        if (rc < 0) {
            errno = -rc;
            return MAP_FAILED;
        }
    }
    return HFS_REAL(mmap)(addr, len, prot, flags, fd, off);
}

HFS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    if (HFS_UNLIKELY(!(flags & MAP_ANONYMOUS) && hfs_fd_maybe(fd))) {
        int rc = materialize_fd(fd);
        if (rc < 0) {
            errno = -rc;
            return MAP_FAILED;
        }
    }
    return HFS_REAL(mmap64)(addr, len, prot, flags, fd, off);
}

HFS_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
    if (HFS_UNLIKELY(hfs_fd_maybe(in))) {
        int rc = ensure_range(in, off ? *off : -1, &count);
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(sendfile)(out, in, off, count);
}

HFS_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t count)
{
    if (HFS_UNLIKELY(hfs_fd_maybe(in))) {
        int rc = ensure_range(in, off ? *off : -1, &count);
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(sendfile64)(out, in, off, count);
}

HFS_EXPORT ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out, size_t len,
                                   unsigned flags)
{
    if (HFS_UNLIKELY(hfs_fd_maybe(in))) {
        int rc = ensure_range(in, off_in ? *off_in : -1, &len);
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(copy_file_range)(in, off_in, out, off_out, len, flags);
}

HFS_EXPORT ssize_t splice(int in, off64_t *off_in, int out, off64_t *off_out, size_t len,
                          unsigned flags)
{
    if (HFS_UNLIKELY(hfs_fd_maybe(in))) {
        int rc = ensure_range(in, off_in ? *off_in : -1, &len);
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(splice)(in, off_in, out, off_out, len, flags);
}
