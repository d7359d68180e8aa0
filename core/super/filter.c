/* The seccomp filter: libseccomp builds it (every trapped call -> SECCOMP_RET_USER_NOTIF,
 * everything else allowed); it is loaded with seccomp(2) directly only to add a flag libseccomp
 * 2.5 does not know, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux >= 5.19): once hfrun has
 * received a call, a signal no longer interrupts it. Without it a Go program, whose threads
 * get preemption signals every 10 ms, would see a slow call (a download) restarted after the
 * supervisor had already done it: a second mkdir would be EEXIST. */
#include "sv.h"

#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The filter as BPF, built by libseccomp: 0 and *prog filled (free prog->filter), or -errno. */
static int build(struct sock_fprog *prog)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return -ENOMEM;
    /* Other ABIs (i386, x32) pass unseen: their structures differ, and refusing them would break
     * 32-bit programs that never touch a virtual path. */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    for (size_t i = 0; !rc && sv_trapped_name(i); i++) {
        int nr = seccomp_syscall_resolve_name(sv_trapped_name(i));
        if (nr != __NR_SCMP_ERROR) rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
    }
    int fd = rc ? -1 : memfd_create("hfshim-filter", MFD_CLOEXEC);
    if (!rc && fd < 0) rc = -errno;
    if (!rc) rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    struct stat st;
    if (!rc && fstat(fd, &st)) rc = -errno;
    if (!rc) {
        prog->len = (unsigned short)((size_t)st.st_size / sizeof(struct sock_filter));
        prog->filter = malloc((size_t)st.st_size);
        if (!prog->filter)
            rc = -ENOMEM;
        else if (pread(fd, prog->filter, (size_t)st.st_size, 0) != st.st_size)
            rc = -EIO;
    }
    if (fd >= 0) close(fd);
    return rc;
}

int sv_filter_load(int *nnp)
{
    struct sock_fprog prog = {0, NULL};
    int rc = build(&prog);
    if (rc) return rc;
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    *nnp = 0;
    int fd;
    for (;;) {
        fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        if (fd >= 0) break;
        if (errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
            flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV; /* Linux < 5.19 */
        } else if (errno == EACCES && !*nnp) {
            /* Without CAP_SYS_ADMIN a filter needs no_new_privs (set-id bits then do nothing). */
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) break;
            *nnp = 1;
        } else
            break;
    }
    rc = fd < 0 ? -errno : fd;
    free(prog.filter);
    return rc;
}
