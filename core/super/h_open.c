/* open, openat, openat2, creat on virtual paths: the core opens (a remote file is fetched whole
 * first: behind the fd there is no wrapper to fill holes), and the fd is installed in the
 * program with SECCOMP_IOCTL_NOTIF_ADDFD. Writes land in the overlay as under the shim. */
#include "sv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WRITE_INTENT(fl)                                                                           \
    (((fl)&O_ACCMODE) != O_RDONLY || ((fl) & (O_CREAT | O_TRUNC | O_APPEND | O_EXCL)))
#define NEEDS_MODE(fl) (((fl)&O_CREAT) || ((fl)&__O_TMPFILE) == __O_TMPFILE)

static int open_virtual(sv_call *c, const sv_path *p, int flags, mode_t mode)
{
    if ((flags & __O_TMPFILE) == __O_TMPFILE) return sv_return(c, -EOPNOTSUPP);
    if (flags & O_PATH) /* as under the shim: a plain read-only open */
        flags = O_RDONLY | (flags & (O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW));
    if (p->trailing_slash) flags |= O_DIRECTORY;
    hfs_vobj *o = NULL;
    int fd;
    if (WRITE_INTENT(flags))
        fd = hfs_vfs_open2(p->path, flags | O_CLOEXEC,
                           (flags & O_CREAT) ? (mode & 07777 & ~sv_umask(c)) : 0, &o);
    else
        fd = hfs_vfs_open(p->path, flags | O_CLOEXEC, &o);
    if (fd < 0) return sv_return(c, fd);
    int rc = hfs_vobj_complete(o) ? 0 : hfs_vobj_materialize(o);
    struct stat b;
    if (rc == 0 && !hfs_vobj_is_dir(o) && fstat(fd, &b) == 0) sv_fdmap_put(&b, p->path);
    hfs_vobj_unref(o);
    if (rc < 0) {
        close(fd);
        return sv_return(c, rc);
    }
    return sv_inject(c, fd, (flags & O_CLOEXEC) != 0);
}

/* An ancestor of a mount: a real one is opened as it is, a missing one as its mirror directory.
 * Both by their normalized path, which the program's spelling may not reach (from a virtual
 * cwd). Listings of either are served by getdents (h_dir.c). */
static int open_near(sv_call *c, const sv_path *p, int flags, mode_t mode)
{
    int fd = open(p->path, flags | O_CLOEXEC, mode & ~sv_umask(c));
    if (fd >= 0) return sv_inject(c, fd, (flags & O_CLOEXEC) != 0);
    if (errno != ENOENT) return sv_return(c, -errno);
    if (WRITE_INTENT(flags)) return sv_return(c, -EISDIR);
    hfs_vobj *o = NULL;
    fd = hfs_vfs_open_near(p->path, -1, flags | O_CLOEXEC, &o);
    if (fd < 0) return sv_return(c, fd);
    hfs_vobj_unref(o);
    return sv_inject(c, fd, (flags & O_CLOEXEC) != 0);
}

int sv_h_open(sv_call *c)
{
    int nr = (int)c->req->data.nr, dirfd = AT_FDCWD, flags;
    uint64_t pa;
    mode_t mode;
    if (nr == SYS_openat2) {
        struct open_how how;
        if (sv_arg(c, 3) < sizeof how) return sv_continue(c); /* the kernel's EINVAL */
        if (sv_read(c, sv_arg(c, 2), &how, sizeof how)) return sv_return(c, -EFAULT);
        dirfd = sv_iarg(c, 0);
        pa = sv_arg(c, 1);
        flags = (int)how.flags;
        mode = (mode_t)how.mode;
    } else if (nr == SYS_openat) {
        dirfd = sv_iarg(c, 0);
        pa = sv_arg(c, 1);
        flags = sv_iarg(c, 2);
        mode = (mode_t)sv_arg(c, 3);
#ifdef SYS_open
    } else if (nr == SYS_open) {
        pa = sv_arg(c, 0);
        flags = sv_iarg(c, 1);
        mode = (mode_t)sv_arg(c, 2);
#endif
    } else {
        pa = sv_arg(c, 0); /* creat */
        flags = O_CREAT | O_WRONLY | O_TRUNC;
        mode = (mode_t)sv_arg(c, 1);
    }
    if (!NEEDS_MODE(flags)) mode = 0;
    sv_path p;
    int rc = sv_resolve(c, dirfd, pa, &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    /* As Linux >= 6.4: O_CREAT never makes a directory, whatever is there. */
    if (p.ns != HFS_NS_REAL && (flags & O_CREAT) && (p.trailing_slash || p.final))
        return sv_return(c, -EISDIR);
    if (p.ns == HFS_NS_VIRTUAL) return open_virtual(c, &p, flags, mode);
    if (p.ns == HFS_NS_NEAR) return open_near(c, &p, flags, mode);
    int fd = open(p.path, flags | O_CLOEXEC, mode & ~sv_umask(c));
    return fd < 0 ? sv_return(c, -errno) : sv_inject(c, fd, (flags & O_CLOEXEC) != 0);
}
