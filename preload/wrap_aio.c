/* Asynchronous reads that bypass the read wrappers:
 *  - POSIX AIO (aio_read, lio_listio): glibc's helper threads call its internal pread, which no
 *    wrapper sees; the range is made present before the request is queued;
 *  - Linux AIO (io_submit): libaio (Debian's 0.3.113) issues it through syscall(), which
 *    wrap_syscall.c sends here; each read's range is made present before it is submitted. */
#include "async.h"
#include "real.h"
#include "vpath.h"
#include "wrap.h"

#include <limits.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <sys/uio.h>

static int ensure(int fd, uint64_t off, uint64_t len)
{
    if (!hfs_fd_maybe(fd)) return 0;
    hfs_fdrec *r = hfs_fd_get(fd);
    int rc = 0;
    if (r && !r->is_dir && !atomic_load(&r->complete)) {
        int saved = errno;
        rc = HFS_CORE(hfs_vobj_ensure(r->obj, off, len));
        if (rc == 0 && HFS_CORE(hfs_vobj_complete(r->obj))) atomic_store(&r->complete, 1);
        if (rc == 0) errno = saved;
    }
    hfs_fd_put(r);
    return rc;
}

static int ensure_cb(const struct aiocb *cb)
{
    if (!cb || hfs_bad_ptr((const char *)cb) || cb->aio_offset < 0) return 0;
    return ensure(cb->aio_fildes, (uint64_t)cb->aio_offset, cb->aio_nbytes);
}

static int ensure_cb64(const struct aiocb64 *cb)
{
    if (!cb || hfs_bad_ptr((const char *)cb) || cb->aio_offset < 0) return 0;
    return ensure(cb->aio_fildes, (uint64_t)cb->aio_offset, cb->aio_nbytes);
}

#define NOTHING_VIRTUAL() (HFS_LIKELY(hfs_fd_hwm() == 0) || HFS_IN_CORE())

HFS_EXPORT int aio_read(struct aiocb *cb)
{
    if (!NOTHING_VIRTUAL()) {
        int rc = ensure_cb(cb);
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(aio_read)(cb);
}

HFS_EXPORT int aio_read64(struct aiocb64 *cb)
{
    if (!NOTHING_VIRTUAL()) {
        int rc = ensure_cb64(cb);
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(aio_read64)(cb);
}

HFS_EXPORT int lio_listio(int mode, struct aiocb *const list[], int n, struct sigevent *sev)
{
    if (!NOTHING_VIRTUAL() && n > 0 && !hfs_bad_ptr(hfs_launder((const char *)list))) {
        for (int i = 0; i < n; i++) {
            if (!list[i] || hfs_bad_ptr((const char *)list[i]) ||
                list[i]->aio_lio_opcode != LIO_READ)
                continue;
            int rc = ensure_cb(list[i]);
            if (rc < 0) return hfs_fail(rc);
        }
    }
    return HFS_REAL(lio_listio)(mode, list, n, sev);
}

HFS_EXPORT int lio_listio64(int mode, struct aiocb64 *const list[], int n, struct sigevent *sev)
{
    if (!NOTHING_VIRTUAL() && n > 0 && !hfs_bad_ptr(hfs_launder((const char *)list))) {
        for (int i = 0; i < n; i++) {
            if (!list[i] || hfs_bad_ptr((const char *)list[i]) ||
                list[i]->aio_lio_opcode != LIO_READ)
                continue;
            int rc = ensure_cb64(list[i]);
            if (rc < 0) return hfs_fail(rc);
        }
    }
    return HFS_REAL(lio_listio64)(mode, list, n, sev);
}

int hfs_aio_submit_ensure(long nr, const void *iocbpp)
{
    if (hfs_fd_hwm() == 0 || nr <= 0 || !iocbpp || hfs_bad_ptr(iocbpp)) return 0;
    struct iocb *const *v = iocbpp;
    for (long i = 0; i < nr; i++) {
        const struct iocb *cb = v[i];
        if (!cb || hfs_bad_ptr((const char *)cb) || cb->aio_offset < 0) continue;
        uint64_t len = 0;
        if (cb->aio_lio_opcode == IOCB_CMD_PREAD) {
            len = cb->aio_nbytes;
        } else if (cb->aio_lio_opcode == IOCB_CMD_PREADV) {
            const struct iovec *iov = (const struct iovec *)(uintptr_t)cb->aio_buf;
            if (!iov || cb->aio_nbytes > IOV_MAX || hfs_bad_ptr((const char *)iov)) continue;
            for (uint64_t k = 0; k < cb->aio_nbytes; k++) len += iov[k].iov_len;
        } else {
            continue;
        }
        int rc = ensure((int)cb->aio_fildes, (uint64_t)cb->aio_offset, len);
        if (rc < 0) return rc;
    }
    return 0;
}
