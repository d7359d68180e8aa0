/* Starting a command under the supervisor. hfrun forks the server, which forks the command; the
 * command installs the filter and hands the listener to the server over a socket before it
 * execs. The server tells hfrun when the command has ended (hfrun then pushes and exits, as
 * without the supervisor) but goes on serving what the command left running, until no
 * supervised process is left. It is their subreaper: orphans stay its descendants (Yama's
 * ptrace scope 1 lets process_vm_readv reach descendants only) and are reaped. */
#include "super.h"
#include "sv.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* LD_PRELOAD without the shim: under the supervisor every process is served by it, dynamic
 * ones too; the shim as well would answer some calls twice (getcwd of a mirror directory). */
static void drop_shim(const char *lib)
{
    const char *pre = getenv("LD_PRELOAD");
    if (!pre) return;
    char out[8192] = "";
    size_t ol = 0;
    for (const char *s = pre; *s;) {
        size_t n = strcspn(s, ": ");
        if (n && !(strlen(lib) == n && !strncmp(s, lib, n)) && ol + n + 2 < sizeof out) {
            if (ol) out[ol++] = ':';
            memcpy(out + ol, s, n);
            out[ol += n] = 0;
        }
        s += n;
        while (*s == ':' || *s == ' ') s++;
    }
    if (ol)
        setenv("LD_PRELOAD", out, 1);
    else
        unsetenv("LD_PRELOAD");
}

/* The listener (or -errno) and whether no_new_privs was needed, passed to hfrun. */
static int send_fd(int sock, int fd, int err, int nnp)
{
    int msg[2] = {err, nnp};
    struct iovec iov = {msg, sizeof msg};
    char ctl[CMSG_SPACE(sizeof(int))];
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(ctl, 0, sizeof ctl);
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int recv_fd(int sock, int *err, int *nnp)
{
    int msg[2] = {-EIO, 0};
    struct iovec iov = {msg, sizeof msg};
    char ctl[CMSG_SPACE(sizeof(int))];
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n;
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    *err = n == (ssize_t)sizeof msg ? msg[0] : -EIO;
    *nnp = msg[1];
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    int fd = -1;
    if (cm && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

/* Linux >= 5.9 (SECCOMP_IOCTL_NOTIF_ADDFD). */
static int kernel_ok(void)
{
    struct utsname u;
    int maj = 0, min = 0;
    if (uname(&u) || sscanf(u.release, "%d.%d", &maj, &min) != 2) return 1;
    return maj > 5 || (maj == 5 && min >= 9);
}

static int g_wake[2] = {-1, -1};

static void on_chld(int sig)
{
    (void)sig;
    int e = errno;
    if (write(g_wake[1], "c", 1) < 0) {
    }
    errno = e;
}

/* What the server tells hfrun: the command started (its pid), ended (its wait status), or
 * could not be supervised. */
enum { MSG_STARTED, MSG_ENDED, MSG_FAILED };
typedef struct {
    int type, val;
} msg;

static void tell(int fd, int type, int val)
{
    msg m = {type, val};
    if (write(fd, &m, sizeof m) < 0) {
    }
}

typedef struct {
    pid_t main;
    int report; /* the pipe to hfrun, -1 once the command's end is told */
} reap_ctx;

/* Reaps every child; the command's end is told to hfrun at once. Serving goes on while other
 * supervised processes live (the loop ends when the filter has no user left). */
static int reap(void *arg)
{
    reap_ctx *r = arg;
    int ws;
    pid_t p;
    while ((p = waitpid(-1, &ws, WNOHANG)) > 0)
        if (p == r->main && r->report >= 0) {
            tell(r->report, MSG_ENDED, ws);
            close(r->report);
            r->report = -1;
        }
    return 0;
}

static void unsupported(const char *cmd, const char *why)
{
    fprintf(stderr,
            "hfshim: cannot supervise %s: %s; a static, Go or set-id program cannot see /hf or "
            "the mounts without it (hfrun --no-supervise runs it anyway)\n",
            cmd, why);
}

/* The command: filter, listener to the server, exec. */
static void command(char **argv, const char *lib, int sock)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    drop_shim(lib);
    int nnp = 0, lfd = sv_filter_load(&nnp);
    if (send_fd(sock, lfd, lfd < 0 ? lfd : 0, nnp) || lfd < 0) _exit(126);
    close(lfd);
    close(sock);
    /* From here on every trapped call waits for the server's answer. */
    execvp(argv[0], argv);
    fprintf(stderr, "hfrun: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

/* The server: never returns. */
static void server(char **argv, const char *lib, int setid, int report)
{
    hfs_vfs_atfork_child();
    signal(SIGTERM, SIG_DFL); /* hfrun's forwarding handler has no child to forward to here */
    signal(SIGHUP, SIG_DFL);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) ||
        pipe2(g_wake, O_CLOEXEC | O_NONBLOCK)) {
        perror("hfrun: socketpair");
        tell(report, MSG_FAILED, 0);
        _exit(1);
    }
    struct sigaction sa = {.sa_handler = on_chld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("hfrun: fork");
        tell(report, MSG_FAILED, 0);
        _exit(1);
    }
    if (pid == 0) {
        close(sp[0]);
        close(report);
        command(argv, lib, sp[1]);
    }
    close(sp[1]);
    int err, nnp, nfd = recv_fd(sp[0], &err, &nnp);
    close(sp[0]);
    if (nfd < 0) {
        char why[160];
        snprintf(why, sizeof why, "seccomp user notification is not available here (%s)",
                 strerror(err < 0 ? -err : EIO));
        unsupported(argv[0], why);
        tell(report, MSG_FAILED, 0);
        _exit(1);
    }
    if (setid && nnp)
        fprintf(stderr,
                "hfshim: %s is setuid/setgid: under the supervisor it runs with your own "
                "privileges (no_new_privs)\n",
                argv[0]);
    tell(report, MSG_STARTED, pid);
    reap_ctx r = {pid, report};
    sv_serve(nfd, g_wake[0], reap, &r);
    close(nfd); /* a process still running gets ENOSYS from trapped calls from now on */
    if (r.report >= 0) {
        /* No supervised process left (the listener hung up before SIGCHLD was seen), or the
         * supervisor cannot work here. */
        if (sv_fatal) {
            unsupported(argv[0], "the supervisor cannot read the program's memory here");
            kill(pid, SIGKILL);
        }
        int ws = 0;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
        }
        tell(r.report, sv_fatal ? MSG_FAILED : MSG_ENDED, ws);
    }
    _exit(0);
}

int hfs_sv_run(char **argv, const char *lib, int setid, pid_t *child)
{
    if (!kernel_ok()) {
        unsupported(argv[0], "seccomp user notification with ADDFD needs Linux >= 5.9");
        return -1;
    }
    int rep[2];
    if (pipe2(rep, O_CLOEXEC)) {
        perror("hfrun: pipe");
        return -1;
    }
    fflush(NULL);
    pid_t srv = fork();
    if (srv < 0) {
        perror("hfrun: fork");
        return -1;
    }
    if (srv == 0) {
        close(rep[0]);
        server(argv, lib, setid, rep[1]);
    }
    close(rep[1]);
    int status = -1;
    for (;;) {
        msg m;
        ssize_t n = read(rep[0], &m, sizeof m);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof m || m.type == MSG_FAILED) break;
        if (m.type == MSG_STARTED) *child = (pid_t)m.val;
        if (m.type == MSG_ENDED) {
            status = m.val;
            break;
        }
    }
    close(rep[0]);
    *child = 0;
    /* The server lives on while the command's leftovers run; reaped by init after hfrun. */
    waitpid(srv, NULL, WNOHANG);
    return status;
}
