/* Path mutators. On a virtual path each one is handed to the core's write API, which keeps the
 * change in the local overlay (remote entries are only ever hidden, by whiteouts). Two-path
 * calls (rename, link) with one side virtual and the other not fail with EXDEV, like a rename
 * across mounts: mv and shutil.move then copy and delete. Modes given to the core have the
 * umask applied (the kernel would). */
#include "real.h"
#include "vpath.h"
#include "write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <utime.h>

/* The virtual path of the object named by (dirfd, NULL or "") for the AT_EMPTY_PATH forms:
 * 1 = virtual, in *rec (a checked reference: the caller puts it) or, for a virtual cwd, in
 * rp->path; 0 = not virtual. */
static int self_at(int dirfd, hfs_rpath *rp, hfs_fdrec **rec)
{
    *rec = NULL;
    rp->trailing_slash = rp->near = rp->final = 0;
    if (dirfd == AT_FDCWD) return hfs_cwd_get(rp->path, sizeof rp->path) > 0;
    if (!hfs_fd_maybe(dirfd)) return 0;
    *rec = hfs_fd_get_checked(dirfd);
    if (!*rec) return 0;
    snprintf(rp->path, sizeof rp->path, "%s", HFS_CORE(hfs_vobj_path((*rec)->obj)));
    return 1;
}

/* A trailing '/' on an existing object's name: it must be a directory. 0 or -errno. */
static int slash_check(const hfs_rpath *rp)
{
    struct stat st;
    return rp->trailing_slash ? hfs_vstat(rp, &st) : 0;
}

/* What a call does to the entry its path names, for the answers below. */
enum { K_CREATE, K_RMDIR, K_UNLINK, K_CHANGE, K_TRUNC };

/* A last component "." or ".." names a directory, never an entry to create or remove: the
 * kernel's answers (lexical normalization must not turn the call into one on another
 * directory). 1 = go on with the virtual call. */
static int final_answer(int k, const hfs_rpath *rp)
{
    struct stat st;
    int rc = HFS_CORE(hfs_vfs_stat(rp->path, &st));
    if (rc < 0) return rc;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    switch (k) {
    case K_CREATE:
        return -EEXIST;
    case K_RMDIR:
        return rp->final == 1 ? -EINVAL : -ENOTEMPTY;
    case K_UNLINK:
    case K_TRUNC:
        return -EISDIR;
    default:
        return 1;
    }
}

/* An ancestor of a mount: a real one takes the real call, except removal (a mount is below it);
 * a missing one exists only virtually and cannot be changed. 1 = make the real call. */
static int near_answer(int k, const hfs_rpath *rp)
{
    if (k == K_RMDIR) return -ENOTEMPTY;
    if (!hfs_near_missing(rp)) return 1;
    switch (k) {
    case K_CREATE:
        return -EEXIST;
    case K_UNLINK:
    case K_TRUNC:
        return -EISDIR;
    default:
        return -EROFS;
    }
}

/* Body of a one-path wrapper: fast test, resolution, then `vexpr` (an int, 0 or -errno, using
 * rp.path) for a virtual path, or the real call on rp.real; `kind` (K_*) says what the call
 * does, for a final "." or ".." and for ancestors of mounts. */
#define PATH_CALL(kind, dirfd, path, vexpr, call_real)                                             \
    do {                                                                                           \
        const char *lp_ = hfs_launder(path);                                                       \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), lp_))) return call_real;                        \
        int saved_ = errno;                                                                        \
        hfs_rpath rp;                                                                              \
        int v_ = hfs_resolve_at((dirfd), lp_, &rp);                                                \
        if (v_ == 0 && rp.near && (v_ = near_answer((kind), &rp)) > 0) v_ = 0;                     \
        if (v_ == 0) {                                                                             \
            path = rp.real;                                                                        \
            return call_real;                                                                      \
        }                                                                                          \
        if (v_ > 0 && rp.final) v_ = final_answer((kind), &rp);                                    \
        if (v_ > 0) v_ = (vexpr);                                                                  \
        if (v_ < 0) return hfs_fail(v_);                                                           \
        errno = saved_;                                                                            \
        return 0;                                                                                  \
    } while (0)

/* Same for the *at calls whose NULL or "" path (with AT_EMPTY_PATH, or always for futimesat and
 * utimensat) means the dirfd itself: a local overlay fd gets the real call, any other virtual
 * object (a remote file, a directory, the virtual cwd) `vexpr` on its virtual path. */
#define SELF_CALL(kind, dirfd, path, is_self, vexpr, call_real)                                    \
    do {                                                                                           \
        if (!(is_self)) PATH_CALL(kind, dirfd, path, vexpr, call_real);                            \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), ""))) return call_real;                         \
        int saved_ = errno;                                                                        \
        hfs_rpath rp;                                                                              \
        hfs_fdrec *rec_;                                                                           \
        if (!self_at((dirfd), &rp, &rec_)) return call_real;                                       \
        int local_ = rec_ && rec_->is_local;                                                       \
        hfs_fd_put(rec_);                                                                          \
        if (local_) return call_real;                                                              \
        int v_ = (vexpr);                                                                          \
        if (v_ < 0) return hfs_fail(v_);                                                           \
        errno = saved_;                                                                            \
        return 0;                                                                                  \
    } while (0)

#define EMPTY(p) (!hfs_launder(p) || (!hfs_bad_ptr(p) && !hfs_launder(p)[0]))

/* ---- creating ---- */

static int v_mkdir(const hfs_rpath *rp, mode_t mode)
{
    return HFS_CORE(hfs_vfs_mkdir(rp->path, mode & 07777 & ~hfs_umask_get()));
}

HFS_EXPORT int mkdir(const char *path, mode_t mode)
{
    PATH_CALL(K_CREATE, AT_FDCWD, path, v_mkdir(&rp, mode), HFS_REAL(mkdir)(path, mode));
}
HFS_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
    PATH_CALL(K_CREATE, dirfd, path, v_mkdir(&rp, mode), HFS_REAL(mkdirat)(dirfd, path, mode));
}

/* Special files have no virtual meaning: they are made in the overlay, where the core says the
 * entry would go (the kernel applies the umask itself). */
static int v_mknod(const hfs_rpath *rp, mode_t mode, dev_t dev)
{
    struct stat st;
    char local[HFS_PATH_MAX];
    int rc = HFS_CORE(hfs_vfs_lstat(rp->path, &st)) == 0 ? -EEXIST : 0;
    if (rc == 0) rc = HFS_CORE(hfs_vfs_local_path(rp->path, 1, local, sizeof local));
    if (rc < 0) return rc;
    char buf[PATH_MAX];
    int fd;
    const char *p = HFS_CORE(hfs_path_short(local, buf, sizeof buf, &fd));
    rc = !p || HFS_REAL(mknod)(p, mode, dev) < 0 ? -errno : 0;
    if (fd >= 0) HFS_REAL(close)(fd);
    return rc;
}

HFS_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
    PATH_CALL(K_CREATE, AT_FDCWD, path, v_mknod(&rp, mode, dev), HFS_REAL(mknod)(path, mode, dev));
}
HFS_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    PATH_CALL(K_CREATE, dirfd, path, v_mknod(&rp, mode, dev),
              HFS_REAL(mknodat)(dirfd, path, mode, dev));
}
HFS_EXPORT int mkfifo(const char *path, mode_t mode)
{
    PATH_CALL(K_CREATE, AT_FDCWD, path, v_mknod(&rp, S_IFIFO | (mode & 07777), 0),
              HFS_REAL(mkfifo)(path, mode));
}
HFS_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
    PATH_CALL(K_CREATE, dirfd, path, v_mknod(&rp, S_IFIFO | (mode & 07777), 0),
              HFS_REAL(mkfifoat)(dirfd, path, mode));
}

/* The target string is stored as given (it is not a path argument of the call). */
static int v_symlink(const char *target, const hfs_rpath *rp)
{
    if (hfs_bad_ptr(hfs_launder(target))) return -EFAULT;
    if (strnlen(target, PATH_MAX) >= PATH_MAX) return -ENAMETOOLONG; /* as the kernel says */
    return HFS_CORE(hfs_vfs_symlink(target, rp->path));
}

HFS_EXPORT int symlink(const char *target, const char *path)
{
    PATH_CALL(K_CREATE, AT_FDCWD, path, v_symlink(target, &rp), HFS_REAL(symlink)(target, path));
}
HFS_EXPORT int symlinkat(const char *target, int dirfd, const char *path)
{
    PATH_CALL(K_CREATE, dirfd, path, v_symlink(target, &rp),
              HFS_REAL(symlinkat)(target, dirfd, path));
}

/* ---- removing ---- */

static int v_unlink(const hfs_rpath *rp)
{
    if (rp->trailing_slash) { /* like the kernel: a directory is EISDIR, anything else ENOTDIR */
        struct stat st;
        int rc = hfs_vstat(rp, &st);
        return rc < 0 ? rc : -EISDIR;
    }
    return HFS_CORE(hfs_vfs_unlink(rp->path));
}

static int v_rmdir(const hfs_rpath *rp)
{
    return HFS_CORE(hfs_vfs_rmdir(rp->path));
}

/* remove(3): unlink, or rmdir for a directory. */
static int v_remove(const hfs_rpath *rp)
{
    int rc = v_unlink(rp);
    return rc == -EISDIR || rc == -EPERM ? v_rmdir(rp) : rc;
}

HFS_EXPORT int unlink(const char *path)
{
    PATH_CALL(K_UNLINK, AT_FDCWD, path, v_unlink(&rp), HFS_REAL(unlink)(path));
}
HFS_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
    PATH_CALL((flags & AT_REMOVEDIR) ? K_RMDIR : K_UNLINK, dirfd, path,
              (flags & ~AT_REMOVEDIR)  ? -EINVAL
              : (flags & AT_REMOVEDIR) ? v_rmdir(&rp)
                                       : v_unlink(&rp),
              HFS_REAL(unlinkat)(dirfd, path, flags));
}
HFS_EXPORT int rmdir(const char *path)
{
    PATH_CALL(K_RMDIR, AT_FDCWD, path, v_rmdir(&rp), HFS_REAL(rmdir)(path));
}
HFS_EXPORT int remove(const char *path)
{
    PATH_CALL(K_RMDIR, AT_FDCWD, path, v_remove(&rp), HFS_REAL(remove)(path));
}

/* ---- renaming and linking: both sides virtual, or EXDEV ---- */

enum { OP_RENAME, OP_LINK };

/* Is the virtual path a mount point (its parent is not virtual)? */
static int mount_root(const char *vpath)
{
    char parent[HFS_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", vpath);
    char *slash = strrchr(parent, '/');
    if (!slash) return 0;
    *(slash == parent ? slash + 1 : slash) = 0;
    return !HFS_CORE(hfs_vfs_covers(parent));
}

/* 1: answered (*ret); 0: pass through with ro->real and rn->real. `self_old`: the source is the
 * dirfd itself (linkat with AT_EMPTY_PATH). */
static int two_slow(int op, int od, const char *old, int self_old, int nd, const char *new,
                    unsigned flags, hfs_rpath *ro, hfs_rpath *rn, int *ret)
{
    int saved = errno, vo, vn;
    hfs_fdrec *r = NULL;
    ro->real = old;
    if (self_old) {
        vo = self_at(od, ro, &r);
        hfs_fd_put(r);
    } else {
        vo = hfs_resolve_at(od, old, ro);
    }
    vn = hfs_resolve_at(nd, new, rn);
    if (vo < 0 || vn < 0) {
        *ret = hfs_fail(vo < 0 ? vo : vn);
        return 1;
    }
    int rc;
    struct stat st;
    /* An ancestor of a mount is never moved or replaced (the mount would be left behind), and
     * a final "." or ".." names no entry: the kernel's EBUSY, and for link EEXIST / EPERM. */
    int o_odd = ro->near || (vo && ro->final), n_odd = rn->near || (vn && rn->final);
    if (op == OP_RENAME && (o_odd || n_odd))
        rc = -EBUSY;
    else if (op == OP_LINK && n_odd)
        rc = -EEXIST;
    else if (op == OP_LINK && o_odd)
        rc = -EPERM;
    else if (!vo && !vn)
        return 0;
    else if (vo && vn) {
        rc = slash_check(ro);
        if (rc == 0)
            rc = op == OP_RENAME ? HFS_CORE(hfs_vfs_rename(ro->path, rn->path, flags))
                                 : HFS_CORE(hfs_vfs_link(ro->path, rn->path));
    } else if (vo) {
        /* Only the source is virtual: report a missing source as such, a mount root as busy
         * (as the kernel does for a mount point), else EXDEV. */
        rc = hfs_vlstat(ro, &st);
        if (rc == 0) rc = op == OP_RENAME && mount_root(ro->path) ? -EBUSY : -EXDEV;
    } else {
        if (!self_old && HFS_REAL(fstatat)(od, ro->real, &st, AT_SYMLINK_NOFOLLOW) < 0)
            rc = -errno;
        else
            rc = -EXDEV;
    }
    if (rc < 0) {
        *ret = hfs_fail(rc);
    } else {
        errno = saved;
        *ret = 0;
    }
    return 1;
}

#define TWO(op, od, old, self_old, nd, new, flags, call_real)                                      \
    do {                                                                                           \
        const char *lo_ = hfs_launder(old), *ln_ = hfs_launder(new);                               \
        if (HFS_LIKELY(!hfs_path_maybe_at((od), (self_old) ? ""                                    \
                                                : lo_      ? lo_                                   \
                                                           : "") &&                                     \
                       !hfs_path_maybe_at((nd), ln_ ? ln_ : "")))                                  \
            return call_real;                                                                      \
        /* the kernel copies both names before any lookup: a bad one is EFAULT first */            \
        if ((!(self_old) && hfs_bad_ptr(lo_)) || hfs_bad_ptr(ln_)) return hfs_fail(-EFAULT);       \
        /* ... and refuses one that is too long before either lookup */                            \
        if ((!(self_old) && strnlen(lo_, PATH_MAX) >= PATH_MAX) ||                                 \
            strnlen(ln_, PATH_MAX) >= PATH_MAX)                                                    \
            return hfs_fail(-ENAMETOOLONG);                                                        \
        hfs_rpath ro, rn;                                                                          \
        int ret;                                                                                   \
        if (two_slow((op), (od), lo_, (self_old), (nd), ln_, (flags), &ro, &rn, &ret)) return ret; \
        old = ro.real;                                                                             \
        new = rn.real;                                                                             \
        return call_real;                                                                          \
    } while (0)

HFS_EXPORT int rename(const char *old, const char *new)
{
    TWO(OP_RENAME, AT_FDCWD, old, 0, AT_FDCWD, new, 0, HFS_REAL(rename)(old, new));
}
HFS_EXPORT int renameat(int od, const char *old, int nd, const char *new)
{
    TWO(OP_RENAME, od, old, 0, nd, new, 0, HFS_REAL(renameat)(od, old, nd, new));
}
HFS_EXPORT int renameat2(int od, const char *old, int nd, const char *new, unsigned flags)
{
    TWO(OP_RENAME, od, old, 0, nd, new, flags, HFS_REAL(renameat2)(od, old, nd, new, flags));
}
HFS_EXPORT int link(const char *old, const char *new)
{
    TWO(OP_LINK, AT_FDCWD, old, 0, AT_FDCWD, new, 0, HFS_REAL(link)(old, new));
}
HFS_EXPORT int linkat(int od, const char *old, int nd, const char *new, int flags)
{
    int self = (flags & AT_EMPTY_PATH) && !hfs_bad_ptr(hfs_launder(old)) && !hfs_launder(old)[0];
    TWO(OP_LINK, od, old, self, nd, new, 0, HFS_REAL(linkat)(od, old, nd, new, flags));
}

/* ---- attributes, size, times ---- */

static int v_chmod(const hfs_rpath *rp, mode_t mode, int nofollow)
{
    int rc = slash_check(rp);
    return rc ? rc : HFS_CORE(hfs_vfs_chmod(rp->path, mode, nofollow && !rp->trailing_slash));
}
static int v_chown(const hfs_rpath *rp, uid_t u, gid_t g, int nofollow)
{
    int rc = slash_check(rp);
    return rc ? rc : HFS_CORE(hfs_vfs_chown(rp->path, u, g, nofollow && !rp->trailing_slash));
}
static int v_utimens(const hfs_rpath *rp, const struct timespec *ts, int nofollow)
{
    int rc = slash_check(rp);
    return rc ? rc : HFS_CORE(hfs_vfs_utimens(rp->path, ts, nofollow && !rp->trailing_slash));
}
static int v_truncate(const hfs_rpath *rp, off_t len)
{
    int rc = slash_check(rp);
    if (rc == 0 && len < 0) rc = -EINVAL;
    return rc ? rc : HFS_CORE(hfs_vfs_truncate(rp->path, len));
}

/* struct timeval[2] / utimbuf -> timespec[2]; NULL stays NULL (now). */
static const struct timespec *tv_ts(const struct timeval *tv, struct timespec ts[2])
{
    if (!tv) return NULL;
    for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = tv[i].tv_sec;
        ts[i].tv_nsec = tv[i].tv_usec * 1000;
    }
    return ts;
}
static const struct timespec *ub_ts(const struct utimbuf *ub, struct timespec ts[2])
{
    if (!ub) return NULL;
    ts[0].tv_sec = ub->actime;
    ts[1].tv_sec = ub->modtime;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    return ts;
}

HFS_EXPORT int chmod(const char *path, mode_t mode)
{
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_chmod(&rp, mode, 0), HFS_REAL(chmod)(path, mode));
}
HFS_EXPORT int lchmod(const char *path, mode_t mode)
{
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_chmod(&rp, mode, 1), HFS_REAL(lchmod)(path, mode));
}
HFS_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
    SELF_CALL(K_CHANGE, dirfd, path, (flags & AT_EMPTY_PATH) && EMPTY(path),
              v_chmod(&rp, mode, flags & AT_SYMLINK_NOFOLLOW),
              HFS_REAL(fchmodat)(dirfd, path, mode, flags));
}
HFS_EXPORT int chown(const char *path, uid_t u, gid_t g)
{
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_chown(&rp, u, g, 0), HFS_REAL(chown)(path, u, g));
}
HFS_EXPORT int lchown(const char *path, uid_t u, gid_t g)
{
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_chown(&rp, u, g, 1), HFS_REAL(lchown)(path, u, g));
}
HFS_EXPORT int fchownat(int dirfd, const char *path, uid_t u, gid_t g, int flags)
{
    SELF_CALL(K_CHANGE, dirfd, path, (flags & AT_EMPTY_PATH) && EMPTY(path),
              v_chown(&rp, u, g, flags & AT_SYMLINK_NOFOLLOW),
              HFS_REAL(fchownat)(dirfd, path, u, g, flags));
}
HFS_EXPORT int truncate(const char *path, off_t len)
{
    PATH_CALL(K_TRUNC, AT_FDCWD, path, v_truncate(&rp, len), HFS_REAL(truncate)(path, len));
}
HFS_EXPORT int truncate64(const char *path, off64_t len)
{
    PATH_CALL(K_TRUNC, AT_FDCWD, path, v_truncate(&rp, (off_t)len),
              HFS_REAL(truncate64)(path, len));
}
HFS_EXPORT int utime(const char *path, const struct utimbuf *t)
{
    struct timespec ts[2];
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_utimens(&rp, ub_ts(t, ts), 0), HFS_REAL(utime)(path, t));
}
HFS_EXPORT int utimes(const char *path, const struct timeval t[2])
{
    struct timespec ts[2];
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_utimens(&rp, tv_ts(t, ts), 0), HFS_REAL(utimes)(path, t));
}
HFS_EXPORT int lutimes(const char *path, const struct timeval t[2])
{
    struct timespec ts[2];
    PATH_CALL(K_CHANGE, AT_FDCWD, path, v_utimens(&rp, tv_ts(t, ts), 1),
              HFS_REAL(lutimes)(path, t));
}
/* A NULL path means the dirfd itself (that is how futimens is built on the system call). */
HFS_EXPORT int utimensat(int dirfd, const char *path, const struct timespec t[2], int flags)
{
    SELF_CALL(K_CHANGE, dirfd, path, !hfs_launder(path) || ((flags & AT_EMPTY_PATH) && EMPTY(path)),
              v_utimens(&rp, t, flags & AT_SYMLINK_NOFOLLOW),
              HFS_REAL(utimensat)(dirfd, path, t, flags));
}
HFS_EXPORT int futimesat(int dirfd, const char *path, const struct timeval t[2])
{
    struct timespec ts[2];
    SELF_CALL(K_CHANGE, dirfd, path, !hfs_launder(path), v_utimens(&rp, tv_ts(t, ts), 0),
              HFS_REAL(futimesat)(dirfd, path, t));
}
