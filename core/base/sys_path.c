/* System calls on paths of any length (sys_path.h). */
#include "sys_path.h"
#include "libc.h"
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Room for "/proc/self/fd/<n>/" in front of a relative rest (hfs_at_spell). */
#define SPELL_ROOM 32

__attribute__((noinline)) static int at_open_long(const char *path, hfs_at *a)
{
    char chunk[PATH_MAX];
    int dirfd = AT_FDCWD;
    const char *p = path;
    while (strnlen(p, PATH_MAX - SPELL_ROOM) >= PATH_MAX - SPELL_ROOM) {
        size_t cut = PATH_MAX - SPELL_ROOM - 1;
        while (cut > 0 && p[cut] != '/') cut--;
        if (cut == 0) { /* no '/' in reach: a component longer than any name */
            if (dirfd != AT_FDCWD) hfs_at_close(&(hfs_at){dirfd, NULL});
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(chunk, p, cut);
        chunk[cut] = 0;
        int fd = hfs_libc()->openat(dirfd, chunk, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (dirfd != AT_FDCWD) hfs_at_close(&(hfs_at){dirfd, NULL});
        if (fd < 0) return -1;
        dirfd = fd;
        for (p += cut; *p == '/';) p++;
    }
    a->dirfd = dirfd;
    a->rel = *p ? p : ".";
    return 0;
}

int hfs_at_open(const char *path, hfs_at *a)
{
    a->dirfd = AT_FDCWD;
    a->rel = path;
    if (strnlen(path, PATH_MAX) < PATH_MAX) return 0;
    return at_open_long(path, a);
}

void hfs_at_close(hfs_at *a)
{
    if (a->dirfd == AT_FDCWD) return;
    int saved = errno;
    hfs_libc()->close(a->dirfd);
    errno = saved;
    a->dirfd = AT_FDCWD;
}

const char *hfs_at_spell(const hfs_at *a, char *buf, size_t n)
{
    if (a->dirfd == AT_FDCWD) return a->rel;
    int r = snprintf(buf, n, "/proc/self/fd/%d/%s", a->dirfd, a->rel);
    if (r < 0 || (size_t)r >= n) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return buf;
}

const char *hfs_path_short(const char *path, char *buf, size_t n, int *fd)
{
    hfs_at a;
    *fd = -1;
    if (hfs_at_open(path, &a)) return NULL;
    const char *s = hfs_at_spell(&a, buf, n);
    if (!s)
        hfs_at_close(&a);
    else if (a.dirfd != AT_FDCWD)
        *fd = a.dirfd;
    return s;
}

/* Run `call` with (dirfd, rel) of path `p` in scope as D and R; the result in `res`. */
#define AT_CALL(p, res, fail, call)                                                                \
    do {                                                                                           \
        hfs_at a_;                                                                                 \
        if (hfs_at_open((p), &a_)) return (fail);                                                  \
        int D = a_.dirfd;                                                                          \
        const char *R = a_.rel;                                                                    \
        (res) = (call);                                                                            \
        hfs_at_close(&a_);                                                                         \
    } while (0)

int hfs_sys_lstat(const char *path, struct stat *st)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->fstatat(D, R, st, AT_SYMLINK_NOFOLLOW));
    return r;
}

int hfs_sys_stat(const char *path, struct stat *st)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->fstatat(D, R, st, 0));
    return r;
}

int hfs_sys_open(const char *path, int flags, mode_t mode)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->openat(D, R, flags, mode));
    return r;
}

DIR *hfs_sys_opendir(const char *path)
{
    int fd = hfs_sys_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return NULL;
    DIR *d = hfs_libc()->fdopendir(fd);
    if (!d) {
        int saved = errno;
        hfs_libc()->close(fd);
        errno = saved;
    }
    return d;
}

int hfs_sys_mkdir(const char *path, mode_t mode)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->mkdirat(D, R, mode));
    return r;
}

int hfs_sys_mknod(const char *path, mode_t mode, dev_t dev)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->mknodat(D, R, mode, dev));
    return r;
}

int hfs_sys_rmdir(const char *path)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->unlinkat(D, R, AT_REMOVEDIR));
    return r;
}

int hfs_sys_unlink(const char *path)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->unlinkat(D, R, 0));
    return r;
}

int hfs_sys_rename2(const char *from, const char *to, unsigned flags)
{
    hfs_at f;
    if (hfs_at_open(from, &f)) return -1;
    int r;
    AT_CALL(to, r, (hfs_at_close(&f), -1), hfs_libc()->renameat2(f.dirfd, f.rel, D, R, flags));
    hfs_at_close(&f);
    return r;
}

int hfs_sys_link(const char *from, const char *to)
{
    hfs_at f;
    if (hfs_at_open(from, &f)) return -1;
    int r;
    AT_CALL(to, r, (hfs_at_close(&f), -1), hfs_libc()->linkat(f.dirfd, f.rel, D, R, 0));
    hfs_at_close(&f);
    return r;
}

int hfs_sys_symlink(const char *target, const char *path)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->symlinkat(target, D, R));
    return r;
}

ssize_t hfs_sys_readlink(const char *path, char *buf, size_t n)
{
    ssize_t r;
    AT_CALL(path, r, -1, hfs_libc()->readlinkat(D, R, buf, n));
    return r;
}

int hfs_sys_chmod(const char *path, mode_t mode)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->fchmodat(D, R, mode, 0));
    return r;
}

int hfs_sys_chown(const char *path, uid_t uid, gid_t gid, int nofollow)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->fchownat(D, R, uid, gid, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return r;
}

int hfs_sys_utimens(const char *path, const struct timespec ts[2], int nofollow)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->utimensat(D, R, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return r;
}

int hfs_sys_truncate(const char *path, off_t len)
{
    if (strnlen(path, PATH_MAX) < PATH_MAX) return hfs_libc()->truncate(path, len);
    /* No truncateat: the same permission check through an open for writing. */
    int fd = hfs_sys_open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd < 0) return -1;
    int r = hfs_libc()->ftruncate(fd, len), saved = errno;
    hfs_libc()->close(fd);
    errno = saved;
    return r;
}

int hfs_sys_access(const char *path, int mode)
{
    int r;
    AT_CALL(path, r, -1, hfs_libc()->faccessat(D, R, mode, 0));
    return r;
}

/* No *at forms: the path spelled through /proc/self/fd when it is long. */
ssize_t hfs_sys_lgetxattr(const char *path, const char *name, void *v, size_t n)
{
    char buf[PATH_MAX];
    hfs_at a;
    if (hfs_at_open(path, &a)) return -1;
    const char *s = hfs_at_spell(&a, buf, sizeof buf);
    ssize_t r = s ? hfs_libc()->lgetxattr(s, name, v, n) : -1;
    hfs_at_close(&a);
    return r;
}

int hfs_sys_lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    char buf[PATH_MAX];
    hfs_at a;
    if (hfs_at_open(path, &a)) return -1;
    const char *s = hfs_at_spell(&a, buf, sizeof buf);
    int r = s ? hfs_libc()->lsetxattr(s, name, v, n, flags) : -1;
    hfs_at_close(&a);
    return r;
}
