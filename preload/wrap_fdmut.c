/* Calls that change a file through its fd, and extended attributes.
 *
 * An fd on a local overlay file is a plain writable fd: every call passes straight through
 * (write and the rest of the write family are not even wrapped). An fd on a remote file (a
 * read-only cache file) or on a directory (its mirror) is different: ftruncate and fallocate
 * fail with EROFS; fchmod, fchown, futimens and futimes change the object by its virtual path
 * through the core (the kernel allows them on a read-only fd too).
 *
 * Extended attributes have no virtual meaning of their own: they are applied to the entry's
 * overlay copy (hfs_vfs_local_path; ENOTSUP when there cannot be one). Reading them never copies
 * anything up (ls -l reads two per file): an entry that is only remote has none. */
#include "real.h"
#include "vpath.h"

#include <string.h>
#include "write.h"

#include <stdio.h>
#include <sys/time.h>
#include <sys/xattr.h>

/* A checked reference to fd's record when fd is virtual but not a local overlay file; NULL when
 * the call should pass through. */
static hfs_fdrec *fd_remote(int fd)
{
    if (hfs_fd_passthrough(fd)) return NULL;
    return hfs_fd_get_checked(fd);
}

/* Body of an fd mutator: the real call unless fd is a remote or directory fd, for which `vexpr`
 * (0 or -errno, using vp, the object's virtual path) answers. */
#define FD_CALL(fd, vexpr, call_real)                                                              \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_fd_maybe(fd))) return call_real;                                       \
        hfs_fdrec *rec_ = fd_remote(fd);                                                           \
        if (!rec_) return call_real;                                                               \
        int saved_ = errno;                                                                        \
        const char *vp = HFS_CORE(hfs_vobj_path(rec_->obj));                                       \
        int rc_ = (vexpr);                                                                         \
        (void)vp;                                                                                  \
        hfs_fd_put(rec_);                                                                          \
        if (rc_ < 0) return hfs_fail(rc_);                                                         \
        errno = saved_;                                                                            \
        return rc_;                                                                                \
    } while (0)

HFS_EXPORT int ftruncate(int fd, off_t len)
{
    FD_CALL(fd, -EROFS, HFS_REAL(ftruncate)(fd, len));
}
HFS_EXPORT int ftruncate64(int fd, off64_t len)
{
    FD_CALL(fd, -EROFS, HFS_REAL(ftruncate64)(fd, len));
}
HFS_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
    FD_CALL(fd, -EROFS, HFS_REAL(fallocate)(fd, mode, off, len));
}
HFS_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    FD_CALL(fd, -EROFS, HFS_REAL(fallocate64)(fd, mode, off, len));
}
/* posix_fallocate returns the error number instead of setting errno. */
HFS_EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || hfs_fd_passthrough(fd))
        return HFS_REAL(posix_fallocate)(fd, off, len);
    return EROFS;
}
HFS_EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd)) || hfs_fd_passthrough(fd))
        return HFS_REAL(posix_fallocate64)(fd, off, len);
    return EROFS;
}
HFS_EXPORT int fchmod(int fd, mode_t mode)
{
    FD_CALL(fd, HFS_CORE(hfs_vfs_chmod(vp, mode, 0)), HFS_REAL(fchmod)(fd, mode));
}
HFS_EXPORT int fchown(int fd, uid_t u, gid_t g)
{
    FD_CALL(fd, HFS_CORE(hfs_vfs_chown(vp, u, g, 0)), HFS_REAL(fchown)(fd, u, g));
}
HFS_EXPORT int futimens(int fd, const struct timespec t[2])
{
    FD_CALL(fd, HFS_CORE(hfs_vfs_utimens(vp, t, 0)), HFS_REAL(futimens)(fd, t));
}
static int v_futimes(const char *vp, const struct timeval *tv)
{
    struct timespec ts[2];
    if (tv) {
        for (int i = 0; i < 2; i++) {
            ts[i].tv_sec = tv[i].tv_sec;
            ts[i].tv_nsec = tv[i].tv_usec * 1000;
        }
    }
    return HFS_CORE(hfs_vfs_utimens(vp, tv ? ts : NULL, 0));
}
HFS_EXPORT int futimes(int fd, const struct timeval t[2])
{
    FD_CALL(fd, v_futimes(vp, t), HFS_REAL(futimes)(fd, t));
}

/* ---- extended attributes ---- */

/* Names under HFS_OWN_XATTR_PREFIX are the core's own (vfs.h): never shown, read or changed. */
static int own_name(const char *name)
{
    return !hfs_bad_ptr(name) &&
           !strncmp(name, HFS_OWN_XATTR_PREFIX, sizeof HFS_OWN_XATTR_PREFIX - 1);
}

/* A list result without the shim's own names. */
static ssize_t hide_own(ssize_t r, char *list, size_t n)
{
    if (r <= 0 || !list || !n || hfs_bad_ptr(list) || HFS_IN_CORE()) return r;
    size_t out = 0;
    for (size_t i = 0; i < (size_t)r;) {
        size_t l = strnlen(list + i, (size_t)r - i) + 1;
        if (!own_name(list + i)) {
            memmove(list + out, list + i, l);
            out += l;
        }
        i += l;
    }
    return (ssize_t)out;
}

/* An entry as the core describes a remote one (vfs.h: files 0444, directories 0555). Anything
 * else is local for sure; a local entry with exactly these bits is taken for remote, so reading
 * its attributes by path says "none" (its fd still shows them). */
static int remote_look(const struct stat *st)
{
    return (st->st_mode & 07777) == (S_ISDIR(st->st_mode) ? 0555 : 0444) &&
           (S_ISDIR(st->st_mode) || (S_ISREG(st->st_mode) && st->st_nlink == 1));
}

/* The overlay path of a virtual entry for an xattr call, following overlay symlinks when
 * `follow`. Writing: copy the entry up (hfs_vfs_local_path); -errno for a missing entry and
 * the like, ENOTSUP for any other failure. Reading: never copies anything up; 0 when the entry
 * is only remote (it has no attributes). 1: `out` is the overlay path; 2: a symlink led out of
 * the virtual tree and `out` is a real path. */
static int xattr_target(const char *vpath, int follow, int write, char *out, size_t n)
{
    char v[HFS_PATH_MAX];
    int rc = 1;
    if (follow)
        rc = hfs_vresolve(vpath, v, sizeof v);
    else
        snprintf(v, sizeof v, "%s", vpath);
    if (rc == 0) {
        snprintf(out, n, "%s", v);
        return 2;
    }
    if (rc < 0) return rc;
    struct stat st;
    rc = HFS_CORE(hfs_vfs_lstat(v, &st));
    if (rc < 0) return rc;
    if (S_ISLNK(st.st_mode)) return write ? -ENOTSUP : 0; /* user.* never sits on a symlink */
    if (!write && remote_look(&st)) return 0;
    rc = HFS_CORE(hfs_vfs_local_path(v, 0, out, n));
    if (rc < 0) return rc == -ENOENT || rc == -ENOTDIR || rc == -EACCES ? rc : -ENOTSUP;
    return 1;
}

/* Body of the path xattr calls. `kind` 1 = write, 0 = read; `none` = the answer for an entry
 * without attributes (a negative errno, or 0 for list calls). lpath is the path given to the
 * real call. */
#define XATTR_PATH(path, follow, kind, none, call_real)                                            \
    do {                                                                                           \
        const char *lpath = hfs_launder(path);                                                     \
        if (HFS_LIKELY(!hfs_path_maybe(lpath ? lpath : ""))) return call_real;                     \
        int saved_ = errno;                                                                        \
        hfs_rpath rp;                                                                              \
        char local_[HFS_PATH_MAX];                                                                 \
        int v_ = hfs_resolve_at(AT_FDCWD, lpath, &rp);                                             \
        if (v_ == 0 && hfs_near_missing(&rp)) { /* a virtual ancestor: no attributes */            \
            v_ = (kind) ? -EROFS : (none);                                                         \
            if (v_ < 0) return hfs_fail(v_);                                                       \
            errno = saved_;                                                                        \
            return 0;                                                                              \
        }                                                                                          \
        if (v_ == 0) {                                                                             \
            lpath = rp.real;                                                                       \
            return call_real;                                                                      \
        }                                                                                          \
        if (v_ > 0) v_ = xattr_target(rp.path, (follow), (kind), local_, sizeof local_);           \
        if (v_ > 0) { /* an overlay path may be longer than one kernel argument */                 \
            char short_[PATH_MAX];                                                                 \
            int sfd_;                                                                              \
            if (!(lpath = HFS_CORE(hfs_path_short(local_, short_, sizeof short_, &sfd_))))         \
                return -1;                                                                         \
            __typeof__(call_real) r_ = call_real;                                                  \
            if (sfd_ >= 0) {                                                                       \
                int e_ = errno;                                                                    \
                HFS_REAL(close)(sfd_);                                                             \
                errno = e_;                                                                        \
            }                                                                                      \
            return r_;                                                                             \
        }                                                                                          \
        if (v_ == 0) v_ = (none);                                                                  \
        if (v_ < 0) return hfs_fail(v_);                                                           \
        errno = saved_;                                                                            \
        return 0;                                                                                  \
    } while (0)

HFS_EXPORT int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-EPERM);
    XATTR_PATH(path, 1, 1, 0, HFS_REAL(setxattr)(lpath, name, v, n, flags));
}
HFS_EXPORT int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-EPERM);
    XATTR_PATH(path, 0, 1, 0, HFS_REAL(lsetxattr)(lpath, name, v, n, flags));
}
HFS_EXPORT int removexattr(const char *path, const char *name)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-ENODATA);
    XATTR_PATH(path, 1, 0, -ENODATA, HFS_REAL(removexattr)(lpath, name));
}
HFS_EXPORT int lremovexattr(const char *path, const char *name)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-ENODATA);
    XATTR_PATH(path, 0, 0, -ENODATA, HFS_REAL(lremovexattr)(lpath, name));
}
HFS_EXPORT ssize_t getxattr(const char *path, const char *name, void *v, size_t n)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-ENODATA);
    XATTR_PATH(path, 1, 0, -ENODATA, HFS_REAL(getxattr)(lpath, name, v, n));
}
HFS_EXPORT ssize_t lgetxattr(const char *path, const char *name, void *v, size_t n)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-ENODATA);
    XATTR_PATH(path, 0, 0, -ENODATA, HFS_REAL(lgetxattr)(lpath, name, v, n));
}
HFS_EXPORT ssize_t listxattr(const char *path, char *list, size_t n)
{
    XATTR_PATH(path, 1, 0, 0, hide_own(HFS_REAL(listxattr)(lpath, list, n), list, n));
}
HFS_EXPORT ssize_t llistxattr(const char *path, char *list, size_t n)
{
    XATTR_PATH(path, 0, 0, 0, hide_own(HFS_REAL(llistxattr)(lpath, list, n), list, n));
}

/* On fds: a local overlay file's fd is used as is; a remote file or a directory goes by its
 * virtual path (copied up to set, never to read). */
#define XATTR_FD(fd, kind, none, call_real, call_path)                                             \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_fd_maybe(fd))) return call_real;                                       \
        hfs_fdrec *rec_ = fd_remote(fd);                                                           \
        if (!rec_) return call_real;                                                               \
        int saved_ = errno;                                                                        \
        char local_[HFS_PATH_MAX];                                                                 \
        const char *lpath = local_;                                                                \
        int v_ =                                                                                   \
            xattr_target(HFS_CORE(hfs_vobj_path(rec_->obj)), 0, (kind), local_, sizeof local_);    \
        hfs_fd_put(rec_);                                                                          \
        if (v_ > 0) return call_path;                                                              \
        if (v_ == 0) v_ = (none);                                                                  \
        if (v_ < 0) return hfs_fail(v_);                                                           \
        errno = saved_;                                                                            \
        return 0;                                                                                  \
    } while (0)

HFS_EXPORT int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-EPERM);
    XATTR_FD(fd, 1, 0, HFS_REAL(fsetxattr)(fd, name, v, n, flags),
             HFS_REAL(lsetxattr)(lpath, name, v, n, flags));
}
HFS_EXPORT int fremovexattr(int fd, const char *name)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-ENODATA);
    XATTR_FD(fd, 0, -ENODATA, HFS_REAL(fremovexattr)(fd, name),
             HFS_REAL(lremovexattr)(lpath, name));
}
HFS_EXPORT ssize_t fgetxattr(int fd, const char *name, void *v, size_t n)
{
    if (HFS_UNLIKELY(!HFS_IN_CORE() && own_name(name))) return hfs_fail(-ENODATA);
    XATTR_FD(fd, 0, -ENODATA, HFS_REAL(fgetxattr)(fd, name, v, n),
             HFS_REAL(lgetxattr)(lpath, name, v, n));
}
HFS_EXPORT ssize_t flistxattr(int fd, char *list, size_t n)
{
    XATTR_FD(fd, 0, 0, HFS_REAL(flistxattr)(fd, list, n),
             hide_own(HFS_REAL(llistxattr)(lpath, list, n), list, n));
}
