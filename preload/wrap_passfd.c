/* File descriptors that cross to another process. One sent with SCM_RIGHTS (sendmsg, sendmmsg)
 * is read there with no shim state behind it, as an fd inherited across exec is: the file is
 * made complete before the message goes. One taken from another process (pidfd_getfd, or an
 * open of /proc/PID/fd/N, which the kernel resolves to the backing file) cannot be filled here,
 * since this process does not know which repo file it is: if it is a partial file with chunks
 * missing it is refused with EIO rather than read with holes. */
#include "open.h"
#include "real.h"
#include "vpath.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>

/* Is [p, p+n) readable memory as far as the shim can tell (the kernel says EFAULT otherwise)? */
static int readable(const void *p, size_t n)
{
    return n && !hfs_bad_ptr((const char *)p) && !hfs_bad_ptr((const char *)p + n - 1);
}

/* Complete every virtual file passed in msg's SCM_RIGHTS messages. 0 or -errno. */
__attribute__((noinline)) static int complete_passed(const struct msghdr *msg, const char *what)
{
    if (!readable(msg, sizeof *msg) || !msg->msg_control ||
        msg->msg_controllen < sizeof(struct cmsghdr) ||
        !readable(msg->msg_control, msg->msg_controllen))
        return 0; /* the kernel refuses it, or there is no fd in it */
    int saved = errno, rc = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c && !rc;
         c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int *fds = (const int *)(const void *)CMSG_DATA(c);
        for (size_t i = 0; i < n && !rc; i++) {
            int fd;
            memcpy(&fd, fds + i, sizeof fd); /* CMSG_DATA need not be aligned for int */
            if (!hfs_fd_maybe(fd)) continue;
            hfs_fdrec *r = hfs_fd_get(fd);
            if (r) rc = hfs_fd_handover(r, what);
            hfs_fd_put(r);
        }
    }
    if (rc == 0) errno = saved;
    return rc;
}

/* No virtual fd has ever existed here: nothing to pass (one load). */
#define NOTHING_VIRTUAL() (HFS_LIKELY(hfs_fd_hwm() == 0) || HFS_IN_CORE())

HFS_EXPORT ssize_t sendmsg(int sock, const struct msghdr *msg, int flags)
{
    if (!NOTHING_VIRTUAL()) {
        int rc = complete_passed(msg, "passed to another process (sendmsg SCM_RIGHTS)");
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(sendmsg)(sock, msg, flags);
}

HFS_EXPORT int sendmmsg(int sock, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    if (!NOTHING_VIRTUAL() && readable(vec, (size_t)vlen * sizeof *vec)) {
        for (unsigned i = 0; i < vlen; i++) {
            int rc =
                complete_passed(&vec[i].msg_hdr, "passed to another process (sendmmsg SCM_RIGHTS)");
            if (rc < 0) return hfs_fail(rc);
        }
    }
    return HFS_REAL(sendmmsg)(sock, vec, vlen, flags);
}

int hfs_foreign_check(int fd, const char *what)
{
    if (fd < 0 || HFS_IN_CORE()) return 0;
    int saved = errno;
    int rc = HFS_CORE(hfs_vfs_foreign_fd(fd, what));
    errno = saved;
    return rc;
}

int hfs_foreign_fd(int fd, const char *what)
{
    int rc = hfs_foreign_check(fd, what);
    if (rc == 0) return fd;
    HFS_REAL(close)(fd);
    return hfs_fail(rc);
}

HFS_EXPORT int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
    int fd = HFS_REAL(pidfd_getfd)(pidfd, targetfd, flags);
    return fd < 0 ? fd : hfs_foreign_fd(fd, "pidfd_getfd");
}

/* "/proc/<pid>/fd/<n>" of another process (the process's own are virtual paths already). */
int hfs_proc_fd_other(const char *p)
{
    if (strncmp(p, "/proc/", 6) || !isdigit((unsigned char)p[6])) return 0;
    const char *s = p + 6;
    while (isdigit((unsigned char)*s)) s++;
    return !strncmp(s, "/fd/", 4);
}
