/* The supervisor's loop: receive a notification, let its handler decide, answer. One call at a
 * time: handlers share no locks, and a directory's position is read and written in one go. */
#include "sv.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

int sv_fatal;

/* Installs c->fd in the program and answers with its number, atomically where the kernel can
 * (SECCOMP_ADDFD_FLAG_SEND, Linux >= 5.14: a program interrupted meanwhile gets no stray fd). */
static void inject(sv_call *c, struct seccomp_notif_resp *resp)
{
    static int no_send;
    struct seccomp_notif_addfd a = {
        .id = c->req->id,
        .flags = no_send ? 0 : SECCOMP_ADDFD_FLAG_SEND,
        .srcfd = (unsigned)c->fd,
        .newfd = 0,
        .newfd_flags = c->cloexec ? O_CLOEXEC : 0,
    };
    int r = ioctl(c->nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    if (r < 0 && errno == EINVAL && !no_send) {
        no_send = 1;
        a.flags = 0;
        r = ioctl(c->nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    } else if (r >= 0 && !no_send) {
        close(c->fd);
        return; /* answered */
    }
    if (r < 0)
        resp->error = -errno; /* EMFILE... (ENOENT: the call is gone, the answer fails too) */
    else
        resp->val = r;
    close(c->fd);
    seccomp_notify_respond(c->nfd, resp);
}

static void answer(int nfd, const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                   size_t resp_size)
{
    sv_call c = {.nfd = nfd, .req = req, .tid = (pid_t)req->pid, .kind = SV_CONTINUE, .fd = -1};
    sv_handler h = req->data.arch == seccomp_arch_native() ? sv_handler_for(req->data.nr) : NULL;
    if (h) h(&c);
    memset(resp, 0, resp_size);
    resp->id = req->id;
    if (c.kind == SV_INJECT) {
        inject(&c, resp);
        return;
    }
    if (c.kind == SV_CONTINUE) {
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (c.val < 0) {
        if (c.val == -ESRCH) return; /* the call is no longer pending */
        resp->error = (int)c.val;
    } else {
        resp->val = c.val;
    }
    seccomp_notify_respond(nfd, resp); /* fails only when the caller is gone */
}

void sv_serve(int nfd, int wake_fd, int (*wake)(void *), void *arg)
{
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    struct seccomp_notif_sizes sz;
    if (seccomp_notify_alloc(&req, &resp) ||
        syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz)) {
        hfs_err("supervisor: cannot allocate notification buffers");
        sv_fatal = 1;
        return;
    }
    /* Linux >= 6.6: the caller and hfrun hand the CPU to each other instead of waking each
     * other on another CPU, which is most of a trapped call's cost (README, "Static and Go
     * programs"). Older kernels refuse the flag; nothing else changes. */
    ioctl(nfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    struct pollfd pf[2] = {{nfd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    while (!sv_fatal) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[1].revents & POLLIN) {
            char b[64];
            while (read(wake_fd, b, sizeof b) > 0) {
            }
            if (wake(arg)) break;
        }
        if (pf[0].revents & POLLIN) {
            memset(req, 0, sz.seccomp_notif);
            if (seccomp_notify_receive(nfd, req) == 0)
                answer(nfd, req, resp, sz.seccomp_notif_resp);
        } else if (pf[0].revents & (POLLHUP | POLLERR)) {
            break; /* no supervised process left */
        }
    }
    seccomp_notify_free(req, resp);
}
