/* What /proc tells about the program: its cwd and fds (where they lead), its ids and umask. */
#include "sv.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int sv_proc_link(pid_t tid, const char *what, char *out, size_t n)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/%s", (int)tid, what);
    ssize_t l = readlink(p, out, n - 1);
    if (l < 0) return -errno;
    if ((size_t)l >= n - 1) return -ENAMETOOLONG;
    out[l] = 0;
    return (int)l;
}

int sv_proc_status(pid_t tid, pid_t *tgid, pid_t *ppid, mode_t *umask)
{
    char p[64], buf[4096];
    snprintf(p, sizeof p, "/proc/%d/status", (int)tid);
    ssize_t l = hfs_read_small(p, buf, sizeof buf);
    if (l < 0) return (int)l;
    const char *s;
    if (tgid && (s = strstr(buf, "\nTgid:"))) *tgid = (pid_t)strtol(s + 6, NULL, 10);
    if (ppid && (s = strstr(buf, "\nPPid:"))) *ppid = (pid_t)strtol(s + 6, NULL, 10);
    if (umask) {
        s = strstr(buf, "\nUmask:");
        *umask = s ? (mode_t)strtol(s + 7, NULL, 8) : 022;
    }
    return 0;
}

/* pidfd_getfd shares the open file description: an lseek on the copy moves the program's
 * offset too (directory positions live there). A pidfd names a process, so the thread group
 * leader's pid is used. */
int sv_proc_getfd(pid_t tid, int fd)
{
    pid_t tgid = tid;
    sv_proc_status(tid, &tgid, NULL, NULL);
    int pfd = (int)syscall(SYS_pidfd_open, tgid, 0);
    if (pfd < 0) return -errno;
    int r = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
    int err = errno;
    close(pfd);
    return r < 0 ? -err : r;
}

unsigned long long sv_proc_start(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    if (hfs_read_small(p, buf, sizeof buf) < 0) return 0;
    /* Field 22; the command name (field 2) may hold spaces and parentheses: skip past its ')'. */
    char *s = strrchr(buf, ')');
    if (!s) return 0;
    s++;
    for (int field = 3; field < 22 && s; field++) s = strchr(s + 1, ' ');
    return s ? strtoull(s + 1, NULL, 10) : 0;
}

mode_t sv_umask(const sv_call *c)
{
    mode_t m = 022;
    sv_proc_status(c->tid, NULL, NULL, &m);
    return m;
}
