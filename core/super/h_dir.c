/* getdents64 (and the old getdents) on the directories the supervisor handed out or that lie
 * above a mount. A virtual directory's fd is on its mirror directory, which is empty for the
 * kernel: its listing is the core's, written here. The position lives in the program's own
 * open file description (reached through pidfd_getfd), so dup, fork, lseek(0) and rewinddir
 * behave as on any directory, and nothing is remembered here between calls. */
#include "sv.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct dirent64_k { /* linux_dirent64 */
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};
struct dirent_k { /* linux_dirent: d_type is the record's last byte */
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* One record at out (room bytes free): its length, 0 if it does not fit. */
static size_t put(int old, char *out, size_t room, const hfs_dirent *e, uint64_t next)
{
    size_t nl = strlen(e->name);
    if (old) {
        size_t rl = ALIGN8(offsetof(struct dirent_k, d_name) + nl + 2);
        if (rl > room) return 0;
        struct dirent_k *d = (struct dirent_k *)(void *)out;
        memset(d, 0, rl);
        d->d_ino = (unsigned long)e->ino;
        d->d_off = (unsigned long)next;
        d->d_reclen = (unsigned short)rl;
        memcpy(d->d_name, e->name, nl);
        out[rl - 1] = (char)e->d_type;
        return rl;
    }
    size_t rl = ALIGN8(offsetof(struct dirent64_k, d_name) + nl + 1);
    if (rl > room) return 0;
    struct dirent64_k *d = (struct dirent64_k *)(void *)out;
    memset(d, 0, rl);
    d->d_ino = e->ino;
    d->d_off = (int64_t)next;
    d->d_reclen = (unsigned short)rl;
    d->d_type = e->d_type;
    memcpy(d->d_name, e->name, nl);
    return rl;
}

/* The listing object of a directory fd of ours (kind from sv_fd_virtual); dup is the program's
 * description. Returns 0 or -errno. */
static int listing(int kind, const char *path, int dup, hfs_vobj **o)
{
    int fd;
    if (kind == 2) { /* a real ancestor: its entries plus the mount components below it */
        fd = hfs_vfs_open_near(path, dup, O_CLOEXEC, o);
        return fd < 0 ? fd : 0;
    }
    if (hfs_vfs_classify(path) == HFS_NS_VIRTUAL)
        fd = hfs_vfs_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, o);
    else
        fd = hfs_vfs_open_near(path, -1, O_CLOEXEC, o);
    if (fd < 0) return fd;
    close(fd);
    return 0;
}

int sv_h_getdents(sv_call *c)
{
    int fd = sv_iarg(c, 0);
    uint64_t ubuf = sv_arg(c, 1);
    size_t count = (unsigned)sv_arg(c, 2);
    char path[HFS_PATH_MAX];
    int kind = sv_fd_virtual(c, fd, path, sizeof path);
    if (!kind) return sv_continue(c);
    int dup = sv_proc_getfd(c->tid, fd);
    if (dup < 0) return sv_return(c, dup);
    if (!sv_valid(c)) {
        close(dup);
        return sv_return(c, -ESRCH);
    }
    hfs_vobj *o = NULL;
    int rc = listing(kind, path, dup, &o);
    off_t pos = rc ? 0 : lseek(dup, 0, SEEK_CUR);
    if (pos < 0) rc = -errno;
    if (count > (1u << 20)) count = 1u << 20;
    char *buf = rc ? NULL : malloc(count ? count : 1);
    if (!rc && !buf) rc = -ENOMEM;
    size_t used = 0;
    int old = 0;
#ifdef SYS_getdents
    old = (int)c->req->data.nr == SYS_getdents;
#endif
    while (!rc) {
        hfs_dirent e;
        int r = hfs_vobj_readdir(o, (uint64_t)pos, &e);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (strlen(e.name) > 255) { /* cannot be represented; never seen in practice */
            pos++;
            continue;
        }
        size_t rl = put(old, buf + used, count - used, &e, (uint64_t)pos + 1);
        if (!rl) {
            if (!used) rc = -EINVAL; /* the kernel's answer when not even one entry fits */
            break;
        }
        used += rl;
        pos++;
    }
    if (used) rc = sv_write(c, ubuf, buf, used);
    if (!rc && lseek(dup, pos, SEEK_SET) < 0) rc = -errno;
    free(buf);
    if (o) hfs_vobj_unref(o);
    close(dup);
    return sv_return(c, rc ? rc : (int64_t)used);
}
