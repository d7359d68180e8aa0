/* Reads bytes of a file through a route that bypasses libc's read calls, for
 * tests/integration/test_bypass.py:
 *   asyncread MODE PATH OFFSET LENGTH  -> the bytes on stdout, or a message and exit 1
 * MODE: uring         liburing (linked as a shared library) io_uring_prep_read
 *       uring-syscall the ring created through libc's syscall(SYS_io_uring_setup) and mapped
 *                     by io_uring_queue_mmap (liburing linked statically: not "loaded")
 *       aio           Linux AIO through syscall() (io_setup, io_submit, io_getevents), as
 *                     libaio does
 *       posix-aio     aio_read + aio_suspend */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int die(const char *what, int err)
{
    fprintf(stderr, "asyncread: %s: %s\n", what, strerror(err));
    return 1;
}

static int by_ring(struct io_uring *ring, int fd, char *buf, size_t len, off_t off)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_read(sqe, fd, buf, (unsigned)len, (uint64_t)off);
    int rc = io_uring_submit(ring);
    if (rc < 0) return die("io_uring_submit", -rc);
    struct io_uring_cqe *cqe;
    rc = io_uring_wait_cqe(ring, &cqe);
    if (rc < 0) return die("io_uring_wait_cqe", -rc);
    if (cqe->res < 0) return die("io_uring read", -cqe->res);
    fwrite(buf, 1, (size_t)cqe->res, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) return die("usage: asyncread MODE PATH OFFSET LENGTH", EINVAL);
    const char *mode = argv[1];
    off_t off = atoll(argv[3]);
    size_t len = (size_t)atoll(argv[4]);
    char *buf = calloc(1, len);
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) return die(argv[2], errno);
    if (!strcmp(mode, "uring")) {
        struct io_uring ring;
        int rc = io_uring_queue_init(4, &ring, 0);
        if (rc < 0) return die("io_uring_queue_init", -rc);
        return by_ring(&ring, fd, buf, len, off);
    }
    if (!strcmp(mode, "uring-syscall")) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        int rfd = (int)syscall(SYS_io_uring_setup, 4, &p);
        if (rfd < 0) return die("io_uring_setup", errno);
        struct io_uring ring;
        int rc = io_uring_queue_mmap(rfd, &p, &ring);
        if (rc < 0) return die("io_uring_queue_mmap", -rc);
        return by_ring(&ring, fd, buf, len, off);
    }
    if (!strcmp(mode, "aio")) {
        aio_context_t ctx = 0;
        if (syscall(SYS_io_setup, 4, &ctx) < 0) return die("io_setup", errno);
        struct iocb cb;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = (uint32_t)fd;
        cb.aio_lio_opcode = IOCB_CMD_PREAD;
        cb.aio_buf = (uint64_t)(uintptr_t)buf;
        cb.aio_nbytes = len;
        cb.aio_offset = off;
        struct iocb *list[1] = {&cb};
        if (syscall(SYS_io_submit, ctx, 1, list) != 1) return die("io_submit", errno);
        struct io_event ev;
        if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) return die("io_getevents", errno);
        if ((int64_t)ev.res < 0) return die("aio read", (int)-(int64_t)ev.res);
        fwrite(buf, 1, (size_t)ev.res, stdout);
        return 0;
    }
    if (!strcmp(mode, "posix-aio")) {
        struct aiocb cb;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd;
        cb.aio_buf = buf;
        cb.aio_nbytes = len;
        cb.aio_offset = off;
        if (aio_read(&cb)) return die("aio_read", errno);
        const struct aiocb *l[1] = {&cb};
        while (aio_error(&cb) == EINPROGRESS) aio_suspend(l, 1, NULL);
        ssize_t n = aio_return(&cb);
        if (n < 0) return die("aio_read", aio_error(&cb));
        fwrite(buf, 1, (size_t)n, stdout);
        return 0;
    }
    return die(mode, EINVAL);
}
