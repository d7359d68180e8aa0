/* access family: from the virtual stat. Everything that exists is readable and writable (a
 * write goes to the local overlay); X_OK needs an execute bit in the mode (remote files have
 * none, remote directories all). */
#include "real.h"
#include "vpath.h"
#include "wrap.h"

/* 1: answered (*ret); 0: pass through with rp->real. */
static int access_slow(int dirfd, const char *path, int mode, int flags, hfs_rpath *rp, int *ret)
{
    struct stat st;
    int saved = errno;
    if (!hfs_stat_at(dirfd, path, flags & (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), &st, rp, ret))
        return 0;
    if (*ret < 0) return 1;
    /* A real ancestor of a mount: the kernel knows its permissions. A missing one is virtual. */
    if (rp->near && !hfs_near_missing(rp)) return 0;
    int rc = 0;
    if (mode & ~(R_OK | W_OK | X_OK))
        rc = -EINVAL;
    else if ((mode & X_OK) && !(st.st_mode & 0111))
        rc = -EACCES;
    else if ((mode & W_OK) && rp->near)
        rc = -EROFS;
    if (rc) {
        *ret = hfs_fail(rc);
    } else {
        errno = saved;
        *ret = 0;
    }
    return 1;
}

#define ACCESS(dirfd, path, mode, flags, call_real)                                                \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), (path)))) return call_real;                     \
        hfs_rpath rp;                                                                              \
        int ret;                                                                                   \
        if (access_slow((dirfd), (path), (mode), (flags), &rp, &ret)) return ret;                  \
        path = rp.real;                                                                            \
        return call_real;                                                                          \
    } while (0)

HFS_EXPORT int access(const char *path, int mode)
{
    ACCESS(AT_FDCWD, path, mode, 0, HFS_REAL(access)(path, mode));
}
HFS_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    ACCESS(dirfd, path, mode, flags, HFS_REAL(faccessat)(dirfd, path, mode, flags));
}
HFS_EXPORT int euidaccess(const char *path, int mode)
{
    ACCESS(AT_FDCWD, path, mode, 0, HFS_REAL(euidaccess)(path, mode));
}
HFS_EXPORT int eaccess(const char *path, int mode)
{
    ACCESS(AT_FDCWD, path, mode, 0, HFS_REAL(eaccess)(path, mode));
}
