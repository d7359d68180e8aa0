/* The program's memory, read and written with process_vm_readv/writev (no ptrace attach: the
 * same access check, and the program does not stop). */
#include "sv.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u

/* process_vm_readv never splits an iovec element: a read that crosses into an unmapped page
 * would fail whole, so strings are read one page piece at a time. */
int sv_read_str(const sv_call *c, uint64_t addr, char *buf, size_t n)
{
    if (!addr) return -EFAULT;
    size_t got = 0;
    while (got < n) {
        uint64_t a = addr + got;
        size_t chunk = PAGE - (size_t)(a % PAGE);
        if (chunk > n - got) chunk = n - got;
        struct iovec l = {buf + got, chunk}, r = {(void *)(uintptr_t)a, chunk};
        ssize_t k = process_vm_readv(c->tid, &l, 1, &r, 1, 0);
        if (k < 0 && (errno == EPERM || errno == ENOSYS)) {
            /* Not allowed here (a container's seccomp policy, Yama, a non-dumpable program):
             * nothing the program asks can be answered, so stop rather than miss silently. */
            hfs_err("supervisor: cannot read the memory of process %d: %s", (int)c->tid,
                    strerror(errno));
            sv_fatal = 1;
            return -ESRCH;
        }
        if (k <= 0) return errno == ESRCH ? -ESRCH : -EFAULT;
        char *nul = memchr(buf + got, 0, (size_t)k);
        if (nul) return (int)(nul - buf);
        got += (size_t)k;
    }
    return -ENAMETOOLONG;
}

int sv_read(const sv_call *c, uint64_t addr, void *buf, size_t n)
{
    struct iovec l = {buf, n}, r = {(void *)(uintptr_t)addr, n};
    ssize_t k = process_vm_readv(c->tid, &l, 1, &r, 1, 0);
    return k == (ssize_t)n ? 0 : -EFAULT;
}

int sv_write(const sv_call *c, uint64_t addr, const void *buf, size_t n)
{
    if (!n) return 0;
    struct iovec l = {(void *)buf, n}, r = {(void *)(uintptr_t)addr, n};
    ssize_t k = process_vm_writev(c->tid, &l, 1, &r, 1, 0);
    return k == (ssize_t)n ? 0 : -EFAULT;
}

int sv_valid(const sv_call *c)
{
    uint64_t id = c->req->id;
    return ioctl(c->nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}
