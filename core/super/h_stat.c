/* Calls that describe a path: the stat family (stat, lstat, newfstatat, statx), access,
 * readlink and statfs. Virtual answers are the core's, written into the program's buffers;
 * real paths the kernel would not reach as spelled are asked here by their normalized path. */
#include "sv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#if defined(__x86_64__)
/* The kernel's struct stat of stat/lstat/newfstatat is libc's on this ABI. */
_Static_assert(sizeof(struct stat) == 144, "struct stat is the kernel's");
#endif

/* The object an empty path with AT_EMPTY_PATH names: the dirfd (sv_fd_stat), or the cwd when
 * it is virtual. 1 answered (*rc), 0 for the kernel. */
static int empty_path_stat(sv_call *c, int dirfd, struct stat *st, int *rc)
{
    if (dirfd != AT_FDCWD) {
        int r = sv_fd_stat(c, dirfd, st);
        *rc = r < 0 ? r : 0;
        return r != 0;
    }
    char v[HFS_PATH_MAX], real[HFS_PATH_MAX];
    if (!sv_cwd_get(c, v, sizeof v) && (sv_proc_link(c->tid, "cwd", real, sizeof real) <= 0 ||
                                        hfs_vfs_unmirror(real, v, sizeof v) != 1))
        return 0;
    *rc = sv_valid(c) ? (hfs_vfs_classify(v) == HFS_NS_VIRTUAL ? hfs_vfs_stat(v, st)
                                                               : hfs_vfs_near_stat(v, st))
                      : -ESRCH;
    return 1;
}

/* stat of (dirfd, path) with AT_* flags: 1 answered (*rc), 0 for the kernel. */
static int stat_of(sv_call *c, int dirfd, uint64_t pa, int flags, struct stat *st, int *rc)
{
    sv_path p;
    int r = pa ? sv_resolve(c, dirfd, pa, &p) : 0;
    if (r < 0) {
        *rc = r;
        return 1;
    }
    int nofollow = (flags & AT_SYMLINK_NOFOLLOW) != 0;
    if (r == 0 && (!pa || p.empty) && (flags & AT_EMPTY_PATH))
        return empty_path_stat(c, dirfd, st, rc);
    if (r == 0) return 0;
    if (p.ns == HFS_NS_REAL)
        *rc = (nofollow ? lstat(p.path, st) : stat(p.path, st)) ? -errno : 0;
    else
        *rc = sv_vstat(&p, nofollow, st);
    return 1;
}

int sv_h_stat(sv_call *c)
{
    int nr = (int)c->req->data.nr, dirfd = AT_FDCWD, flags = 0;
    uint64_t pa, buf;
    switch (nr) {
#ifdef SYS_stat
    case SYS_stat:
    case SYS_lstat:
        pa = sv_arg(c, 0);
        buf = sv_arg(c, 1);
        flags = nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0;
        break;
#endif
    case SYS_newfstatat:
        dirfd = sv_iarg(c, 0);
        pa = sv_arg(c, 1);
        buf = sv_arg(c, 2);
        flags = sv_iarg(c, 3);
        break;
    default: /* statx */
        dirfd = sv_iarg(c, 0);
        pa = sv_arg(c, 1);
        flags = sv_iarg(c, 2);
        buf = sv_arg(c, 4);
        break;
    }
    struct stat st;
    int rc;
    if (!stat_of(c, dirfd, pa, flags, &st, &rc)) return sv_continue(c);
    if (rc == 0 && nr == SYS_statx) {
        struct statx x;
        hfs_stat_to_statx(&st, &x);
        rc = sv_write(c, buf, &x, sizeof x);
    } else if (rc == 0) {
        rc = sv_write(c, buf, &st, sizeof st);
    }
    return sv_return(c, rc);
}

/* fstat (what Go calls; glibc's fstat is newfstatat with AT_EMPTY_PATH). */
int sv_h_fstat(sv_call *c)
{
    struct stat st;
    int rc = sv_fd_stat(c, sv_iarg(c, 0), &st);
    if (rc == 0) return sv_continue(c);
    if (rc > 0) rc = sv_write(c, sv_arg(c, 1), &st, sizeof st);
    return sv_return(c, rc);
}

/* access, faccessat, faccessat2: everything virtual that exists is readable and writable (a
 * write goes to the overlay); X_OK needs an execute bit; a missing ancestor cannot be written. */
int sv_h_access(sv_call *c)
{
    int nr = (int)c->req->data.nr, dirfd = AT_FDCWD, mode, flags = 0;
    uint64_t pa;
#ifdef SYS_access
    if (nr == SYS_access) {
        pa = sv_arg(c, 0);
        mode = sv_iarg(c, 1);
    } else
#endif
    {
        dirfd = sv_iarg(c, 0);
        pa = sv_arg(c, 1);
        mode = sv_iarg(c, 2);
        if (nr == SYS_faccessat2) flags = sv_iarg(c, 3);
    }
    sv_path p;
    int rc = sv_resolve(c, dirfd, pa, &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    if (p.ns == HFS_NS_REAL)
        return sv_return(c, faccessat(AT_FDCWD, p.path, mode, flags) ? -errno : 0);
    struct stat st;
    rc = sv_vstat(&p, (flags & AT_SYMLINK_NOFOLLOW) != 0, &st);
    if (rc) return sv_return(c, rc);
    if (p.ns == HFS_NS_NEAR && faccessat(AT_FDCWD, p.path, F_OK, 0) == 0) /* a real one */
        return sv_return(c, faccessat(AT_FDCWD, p.path, mode, flags) ? -errno : 0);
    if (mode & ~(R_OK | W_OK | X_OK)) return sv_return(c, -EINVAL);
    if ((mode & X_OK) && !(st.st_mode & 0111)) return sv_return(c, -EACCES);
    if ((mode & W_OK) && p.ns == HFS_NS_NEAR) return sv_return(c, -EROFS);
    return sv_return(c, 0);
}

/* "/proc/self/cwd", "/proc/self/fd/N" (also thread-self and the program's own pid): where the
 * kernel's link leads into the mirror tree, or the cwd is virtual, the virtual path. 1 and
 * out filled, else 0. */
static int proc_link(sv_call *c, const char *arg, char *out, size_t n)
{
    const char *s;
    if (!strncmp(arg, "/proc/self/", 11))
        s = arg + 11;
    else if (!strncmp(arg, "/proc/thread-self/", 18))
        s = arg + 18;
    else if (!strncmp(arg, "/proc/", 6)) {
        char *end;
        long pid = strtol(arg + 6, &end, 10);
        pid_t tgid = c->tid;
        sv_proc_status(c->tid, &tgid, NULL, NULL);
        if (end == arg + 6 || *end != '/' || (pid != tgid && pid != c->tid)) return 0;
        s = end + 1;
    } else
        return 0;
    if (!strcmp(s, "cwd") && sv_cwd_get(c, out, n)) return 1;
    if (strcmp(s, "cwd") && strncmp(s, "fd/", 3)) return 0;
    char real[HFS_PATH_MAX];
    return sv_proc_link(c->tid, s, real, sizeof real) > 0 && hfs_vfs_unmirror(real, out, n) == 1;
}

int sv_h_readlink(sv_call *c)
{
    int dirfd = AT_FDCWD, i = 0;
    if ((int)c->req->data.nr == SYS_readlinkat) dirfd = sv_iarg(c, i++);
    uint64_t pa = sv_arg(c, i), buf = sv_arg(c, i + 1);
    int64_t size = (int64_t)sv_arg(c, i + 2);
    char arg[64], link[HFS_PATH_MAX];
    int l = -1;
    if (sv_read_str(c, pa, arg, sizeof arg) > 0 && !strncmp(arg, "/proc/", 6) &&
        proc_link(c, arg, link, sizeof link))
        l = (int)strlen(link);
    if (l < 0) {
        sv_path p;
        int rc = sv_resolve(c, dirfd, pa, &p);
        if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
        if (size <= 0) return sv_return(c, -EINVAL);
        if (p.ns == HFS_NS_VIRTUAL) {
            l = hfs_vfs_readlink(p.path, link, sizeof link);
        } else {
            ssize_t k = readlink(p.path, link, sizeof link);
            l = k < 0 ? -errno : (int)k;
            if (l == -ENOENT && p.ns == HFS_NS_NEAR) l = -EINVAL; /* a virtual directory */
        }
        if (l < 0) return sv_return(c, l);
    }
    if (size <= 0) return sv_return(c, -EINVAL);
    if (l > size) l = (int)size;
    int rc = sv_write(c, buf, link, (size_t)l);
    return sv_return(c, rc ? rc : l);
}

int sv_h_statfs(sv_call *c)
{
    sv_path p;
    int rc = sv_resolve(c, AT_FDCWD, sv_arg(c, 0), &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    struct statfs sf;
    if (p.ns == HFS_NS_REAL)
        rc = statfs(p.path, &sf) ? -errno : 0;
    else
        rc = hfs_vfs_statfs(p.path, &sf);
    if (rc == 0) rc = sv_write(c, sv_arg(c, 1), &sf, sizeof sf);
    return sv_return(c, rc);
}
