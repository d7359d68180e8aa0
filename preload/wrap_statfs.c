/* statfs/statvfs of virtual paths and fds: answered by the core (writable, the overlay's space). */
#include "real.h"
#include "statconv.h"
#include "vpath.h"

/* The virtual path named by fd, copied; 0 if fd is not virtual. */
static int fd_vpath(int fd, char *out, size_t n)
{
    hfs_fdrec *r = hfs_fd_get_checked(fd);
    if (!r) return 0;
    snprintf(out, n, "%s", HFS_CORE(hfs_vobj_path(r->obj)));
    hfs_fd_put(r);
    return 1;
}

#define VFS_PATH(path, type, corefn, buf, call_real)                                               \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe(path))) return call_real;                                   \
        int saved = errno;                                                                         \
        hfs_rpath rp;                                                                              \
        int v = hfs_resolve_at(AT_FDCWD, (path), &rp);                                             \
        if (v == 0 && rp.near) v = 1; /* an ancestor of a mount: the core finds its fs */          \
        if (v == 0) {                                                                              \
            path = rp.real;                                                                        \
            return call_real;                                                                      \
        }                                                                                          \
        type s_;                                                                                   \
        if (v > 0) v = HFS_CORE(corefn(rp.path, &s_));                                             \
        if (v < 0) return hfs_fail(v);                                                             \
        buf;                                                                                       \
        errno = saved;                                                                             \
        return 0;                                                                                  \
    } while (0)

#define VFS_FD(fd, type, corefn, buf, call_real)                                                   \
    do {                                                                                           \
        char vp_[HFS_PATH_MAX];                                                                    \
        if (HFS_LIKELY(!hfs_fd_maybe(fd)) || !fd_vpath((fd), vp_, sizeof vp_)) return call_real;   \
        int saved = errno;                                                                         \
        type s_;                                                                                   \
        int v = HFS_CORE(corefn(vp_, &s_));                                                        \
        if (v < 0) return hfs_fail(v);                                                             \
        buf;                                                                                       \
        errno = saved;                                                                             \
        return 0;                                                                                  \
    } while (0)

HFS_EXPORT int statfs(const char *path, struct statfs *b)
{
    VFS_PATH(path, struct statfs, hfs_vfs_statfs, *b = s_, HFS_REAL(statfs)(path, b));
}
HFS_EXPORT int statfs64(const char *path, struct statfs64 *b)
{
    VFS_PATH(path, struct statfs, hfs_vfs_statfs, hfs_statfs_to64(&s_, b),
             HFS_REAL(statfs64)(path, b));
}
HFS_EXPORT int fstatfs(int fd, struct statfs *b)
{
    VFS_FD(fd, struct statfs, hfs_vfs_statfs, *b = s_, HFS_REAL(fstatfs)(fd, b));
}
HFS_EXPORT int fstatfs64(int fd, struct statfs64 *b)
{
    VFS_FD(fd, struct statfs, hfs_vfs_statfs, hfs_statfs_to64(&s_, b), HFS_REAL(fstatfs64)(fd, b));
}
HFS_EXPORT int statvfs(const char *path, struct statvfs *b)
{
    VFS_PATH(path, struct statvfs, hfs_vfs_statvfs, *b = s_, HFS_REAL(statvfs)(path, b));
}
HFS_EXPORT int statvfs64(const char *path, struct statvfs64 *b)
{
    VFS_PATH(path, struct statvfs, hfs_vfs_statvfs, hfs_statvfs_to64(&s_, b),
             HFS_REAL(statvfs64)(path, b));
}
HFS_EXPORT int fstatvfs(int fd, struct statvfs *b)
{
    VFS_FD(fd, struct statvfs, hfs_vfs_statvfs, *b = s_, HFS_REAL(fstatvfs)(fd, b));
}
HFS_EXPORT int fstatvfs64(int fd, struct statvfs64 *b)
{
    VFS_FD(fd, struct statvfs, hfs_vfs_statvfs, hfs_statvfs_to64(&s_, b),
           HFS_REAL(fstatvfs64)(fd, b));
}
