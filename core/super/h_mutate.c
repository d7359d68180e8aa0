/* Path mutators on virtual paths, handed to the core's write API as the interposer does
 * (preload/wrap_mutate.c): mkdir, rmdir, unlink, rename, link, symlink, chmod, chown,
 * truncate, the utime family, mknod. Changes land in the overlay; remote entries are only
 * hidden. Two-path calls with one side virtual fail with EXDEV (mv then copies). */
#include "sv.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

/* What a call does to the entry its path names, for "." / ".." and for ancestors of mounts. */
enum { K_CREATE, K_RMDIR, K_UNLINK, K_CHANGE, K_TRUNC };

/* A last component "." or ".." names a directory, never an entry to create or remove: the
 * kernel's answers. 1 = go on. */
static int final_answer(int k, const sv_path *p)
{
    struct stat st;
    int rc = hfs_vfs_stat(p->path, &st);
    if (rc < 0) return rc;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    if (k == K_CREATE) return -EEXIST;
    if (k == K_RMDIR) return p->final == 1 ? -EINVAL : -ENOTEMPTY;
    if (k == K_UNLINK || k == K_TRUNC) return -EISDIR;
    return 1;
}

/* An ancestor of a mount: a real one takes the real call, except removal (a mount is below
 * it); a missing one exists only virtually and cannot be changed. 1 = the real call. */
static int near_answer(int k, const sv_path *p)
{
    if (k == K_RMDIR) return -ENOTEMPTY;
    if (access(p->path, F_OK) == 0 || errno != ENOENT) return 1;
    if (k == K_CREATE) return -EEXIST;
    if (k == K_UNLINK || k == K_TRUNC) return -EISDIR;
    return -EROFS;
}

/* Times of the utime family as utimensat takes them (NULL: now). 0, or -EFAULT. */
static int times_of(sv_call *c, int nr, uint64_t a, struct timespec ts[2], int *null)
{
    *null = !a;
    if (!a) return 0;
    if (nr == SYS_utimensat) return sv_read(c, a, ts, 2 * sizeof *ts);
#ifdef SYS_utime
    if (nr == SYS_utime) {
        struct utimbuf u;
        if (sv_read(c, a, &u, sizeof u)) return -EFAULT;
        ts[0] = (struct timespec){u.actime, 0};
        ts[1] = (struct timespec){u.modtime, 0};
        return 0;
    }
#endif
    struct timeval tv[2];
    if (sv_read(c, a, tv, sizeof tv)) return -EFAULT;
    for (int i = 0; i < 2; i++) ts[i] = (struct timespec){tv[i].tv_sec, tv[i].tv_usec * 1000};
    return 0;
}

/* mknod/mkfifo: made in the overlay where the core says the entry would go. */
static int v_mknod(const char *vpath, mode_t mode, dev_t dev)
{
    struct stat st;
    char local[HFS_PATH_MAX];
    int rc = hfs_vfs_lstat(vpath, &st) == 0 ? -EEXIST : 0;
    if (rc == 0) rc = hfs_vfs_local_path(vpath, 1, local, sizeof local);
    if (rc < 0) return rc;
    char buf[PATH_MAX];
    int fd;
    const char *s = hfs_path_short(local, buf, sizeof buf, &fd);
    rc = !s || mknod(s, mode, dev) < 0 ? -errno : 0;
    if (fd >= 0) close(fd);
    return rc;
}

/* One call, its arguments decoded. */
typedef struct {
    int nr, kind, dirfd, nofollow;
    uint64_t pa;
    uint64_t a, b; /* mode / uid,gid / length / times / dev */
} one;

static int decode(sv_call *c, one *o)
{
    int nr = o->nr = (int)c->req->data.nr, i = 0;
    o->dirfd = AT_FDCWD;
    o->nofollow = 0;
    switch (nr) {
    case SYS_mkdirat:
    case SYS_unlinkat:
    case SYS_fchmodat:
    case SYS_fchownat:
    case SYS_utimensat:
    case SYS_mknodat:
#ifdef SYS_futimesat
    case SYS_futimesat:
#endif
#ifdef SYS_fchmodat2
    case SYS_fchmodat2:
#endif
        o->dirfd = sv_iarg(c, i++);
        break;
    }
    o->pa = sv_arg(c, i);
    o->a = sv_arg(c, i + 1);
    o->b = sv_arg(c, i + 2);
    int fl = 0;
    switch (nr) {
    case SYS_mkdirat:
    case SYS_mknodat:
#ifdef SYS_mkdir
    case SYS_mkdir:
    case SYS_mknod:
#endif
        o->kind = K_CREATE;
        break;
    case SYS_unlinkat:
        o->kind = (sv_arg(c, 2) & AT_REMOVEDIR) ? K_RMDIR : K_UNLINK;
        break;
#ifdef SYS_rmdir
    case SYS_rmdir:
        o->kind = K_RMDIR;
        break;
    case SYS_unlink:
        o->kind = K_UNLINK;
        break;
#endif
    case SYS_truncate:
        o->kind = K_TRUNC;
        break;
    case SYS_fchownat:
        fl = sv_iarg(c, 4);
        o->kind = K_CHANGE;
        break;
    case SYS_utimensat:
        fl = sv_iarg(c, 3);
        o->kind = K_CHANGE;
        break;
#ifdef SYS_fchmodat2
    case SYS_fchmodat2:
        fl = sv_iarg(c, 3);
        o->kind = K_CHANGE;
        break;
#endif
#ifdef SYS_lchown
    case SYS_lchown:
        fl = AT_SYMLINK_NOFOLLOW;
        o->kind = K_CHANGE;
        break;
#endif
    default:
        o->kind = K_CHANGE;
    }
    o->nofollow = (fl & AT_SYMLINK_NOFOLLOW) != 0;
    return fl & AT_EMPTY_PATH;
}

static int is_chown(int nr)
{
#ifdef SYS_chown
    if (nr == SYS_chown || nr == SYS_lchown) return 1;
#endif
    return nr == SYS_fchownat;
}
static int is_chmod(int nr)
{
#ifdef SYS_chmod
    if (nr == SYS_chmod) return 1;
#endif
#ifdef SYS_fchmodat2
    if (nr == SYS_fchmodat2) return 1;
#endif
    return nr == SYS_fchmodat;
}
static int is_times(int nr)
{
#ifdef SYS_utime
    if (nr == SYS_utime || nr == SYS_utimes || nr == SYS_futimesat) return 1;
#endif
    return nr == SYS_utimensat;
}

/* The call on a virtual path. */
static int on_virtual(sv_call *c, const one *o, const char *vp)
{
    int nr = o->nr;
    if (o->kind == K_CREATE) {
        mode_t m = (mode_t)o->a & 07777 & ~sv_umask(c);
        if (nr == SYS_mkdirat
#ifdef SYS_mkdir
            || nr == SYS_mkdir
#endif
        )
            return hfs_vfs_mkdir(vp, m);
        return v_mknod(vp, ((mode_t)o->a & S_IFMT) | m, (dev_t)o->b);
    }
    if (o->kind == K_RMDIR) return hfs_vfs_rmdir(vp);
    if (o->kind == K_UNLINK) return hfs_vfs_unlink(vp);
    if (o->kind == K_TRUNC) return hfs_vfs_truncate(vp, (off_t)o->a);
    if (is_chmod(nr)) return hfs_vfs_chmod(vp, (mode_t)o->a & 07777, o->nofollow);
    if (is_chown(nr)) return hfs_vfs_chown(vp, (uid_t)o->a, (gid_t)o->b, o->nofollow);
    struct timespec ts[2];
    int null, rc = times_of(c, nr, o->a, ts, &null);
    return rc ? rc : hfs_vfs_utimens(vp, null ? NULL : ts, o->nofollow);
}

/* The call on a real path the program's spelling does not reach (or a real ancestor). */
static int on_real(sv_call *c, const one *o, const char *rp)
{
    int nr = o->nr, fl = o->nofollow ? AT_SYMLINK_NOFOLLOW : 0, rc;
    if (o->kind == K_CREATE) {
        if (nr == SYS_mkdirat
#ifdef SYS_mkdir
            || nr == SYS_mkdir
#endif
        )
            rc = mkdir(rp, (mode_t)o->a);
        else
            rc = mknod(rp, (mode_t)o->a, (dev_t)o->b);
    } else if (o->kind == K_RMDIR) {
        rc = rmdir(rp);
    } else if (o->kind == K_UNLINK) {
        rc = unlink(rp);
    } else if (o->kind == K_TRUNC) {
        rc = truncate(rp, (off_t)o->a);
    } else if (is_chmod(nr)) {
        rc = fchmodat(AT_FDCWD, rp, (mode_t)o->a, 0);
    } else if (is_chown(nr)) {
        rc = fchownat(AT_FDCWD, rp, (uid_t)o->a, (gid_t)o->b, fl);
    } else {
        struct timespec ts[2];
        int null;
        if ((rc = times_of(c, nr, o->a, ts, &null))) return rc;
        rc = utimensat(AT_FDCWD, rp, null ? NULL : ts, fl);
    }
    return rc ? -errno : 0;
}

int sv_h_mutate(sv_call *c)
{
    one o;
    int empty_ok = decode(c, &o);
    /* futimens (utimensat with a NULL path) and AT_EMPTY_PATH: the dirfd itself. */
    if ((is_times(o.nr) && !o.pa) || empty_ok) {
        char v[HFS_PATH_MAX];
        char s[2] = "";
        if (o.pa && sv_read_str(c, o.pa, s, sizeof s) != 0) goto by_path;
        if (o.dirfd == AT_FDCWD) return sv_continue(c);
        int k = sv_fd_virtual(c, o.dirfd, v, sizeof v);
        if (k == 1) return sv_return(c, on_virtual(c, &o, v));
        /* A remote file's fd is on the shared download cache: never change that file. */
        if (!k && sv_fd_in_cache(c, o.dirfd)) return sv_return(c, -EROFS);
        return sv_continue(c);
    }
by_path:;
    sv_path p;
    int rc = sv_resolve(c, o.dirfd, o.pa, &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    if (p.ns == HFS_NS_NEAR) {
        rc = near_answer(o.kind, &p);
        return sv_return(c, rc > 0 ? on_real(c, &o, p.path) : rc);
    }
    if (p.ns == HFS_NS_REAL) return sv_return(c, on_real(c, &o, p.path));
    if (p.final && (rc = final_answer(o.kind, &p)) <= 0) return sv_return(c, rc);
    if (p.trailing_slash && o.kind != K_CREATE) {
        struct stat st;
        if ((rc = sv_vstat(&p, 0, &st))) return sv_return(c, rc);
    }
    return sv_return(c, on_virtual(c, &o, p.path));
}

/* fchmod, fchown on an fd: a virtual directory's by its virtual path; a remote file's fd is on
 * the download cache, which no program may change. */
int sv_h_fdmut(sv_call *c)
{
    char v[HFS_PATH_MAX];
    int fd = sv_iarg(c, 0), k = sv_fd_virtual(c, fd, v, sizeof v);
    if (k == 1 && hfs_vfs_classify(v) == HFS_NS_VIRTUAL) {
        if ((int)c->req->data.nr == SYS_fchmod)
            return sv_return(c, hfs_vfs_chmod(v, (mode_t)sv_arg(c, 1) & 07777, 0));
        return sv_return(c, hfs_vfs_chown(v, (uid_t)sv_arg(c, 1), (gid_t)sv_arg(c, 2), 0));
    }
    if (k == 1) return sv_return(c, -EROFS); /* a missing ancestor */
    if (!k && sv_fd_in_cache(c, fd)) return sv_return(c, -EROFS);
    return sv_continue(c);
}

/* ---- two paths: rename, link; symlink ---- */

/* A path the kernel reaches as spelled, as this process can name it: through the program's
 * cwd or dirfd in /proc when it is relative. */
static int spelled_path(sv_call *c, int dirfd, uint64_t addr, char *out, size_t n)
{
    char arg[PATH_MAX];
    int l = sv_read_str(c, addr, arg, sizeof arg);
    if (l < 0) return l;
    if (arg[0] == '/') return hfs_fmt(out, n, "%s", arg);
    if (dirfd == AT_FDCWD) return hfs_fmt(out, n, "/proc/%d/cwd/%s", (int)c->tid, arg);
    return hfs_fmt(out, n, "/proc/%d/fd/%d/%s", (int)c->tid, dirfd, arg);
}

/* Resolve both sides: 0 = both for the kernel as spelled; else *err, or both paths filled. */
static int two(sv_call *c, int d1, uint64_t a1, int d2, uint64_t a2, sv_path *p, sv_path *q,
               int *err)
{
    int r1 = sv_resolve(c, d1, a1, p), r2 = r1 < 0 ? 0 : sv_resolve(c, d2, a2, q);
    *err = r1 < 0 ? r1 : r2 < 0 ? r2 : 0;
    if (*err) return 1;
    if (!r1 && !r2) return 0;
    if (!r1) *err = spelled_path(c, d1, a1, p->path, sizeof p->path);
    if (!r2 && !*err) *err = spelled_path(c, d2, a2, q->path, sizeof q->path);
    return 1;
}

static int exists(const sv_path *p)
{
    struct stat st;
    return sv_vstat(p, 1, &st);
}

/* The two paths of rename/link: (a1, a2) for the legacy call, else (d1, a1, d2, a2). */
static void two_args(sv_call *c, int legacy, int *d1, uint64_t *a1, int *d2, uint64_t *a2)
{
    *d1 = *d2 = AT_FDCWD;
    if (legacy) {
        *a1 = sv_arg(c, 0);
        *a2 = sv_arg(c, 1);
        return;
    }
    *d1 = sv_iarg(c, 0);
    *a1 = sv_arg(c, 1);
    *d2 = sv_iarg(c, 2);
    *a2 = sv_arg(c, 3);
}

int sv_h_rename(sv_call *c)
{
    int nr = (int)c->req->data.nr, d1, d2;
    uint64_t a1, a2;
#ifdef SYS_rename
    int legacy = nr == SYS_rename;
#else
    int legacy = 0;
#endif
    two_args(c, legacy, &d1, &a1, &d2, &a2);
    unsigned flags = nr == SYS_renameat2 ? (unsigned)sv_arg(c, 4) : 0;
    sv_path p, q;
    int err;
    if (!two(c, d1, a1, d2, a2, &p, &q, &err)) return sv_continue(c);
    if (err) return sv_return(c, err);
    if (p.ns == HFS_NS_NEAR || q.ns == HFS_NS_NEAR || p.final || q.final)
        return sv_return(c, -EBUSY);
    if (p.ns == HFS_NS_VIRTUAL && q.ns == HFS_NS_VIRTUAL)
        return sv_return(c, hfs_vfs_rename(p.path, q.path, flags));
    if (p.ns == HFS_NS_VIRTUAL || q.ns == HFS_NS_VIRTUAL) {
        int rc = p.ns == HFS_NS_VIRTUAL ? exists(&p) : 0;
        return sv_return(c, rc ? rc : -EXDEV);
    }
    /* Both real, one spelled from a virtual directory: by the normalized paths. */
    return sv_return(c, renameat2(AT_FDCWD, p.path, AT_FDCWD, q.path, flags) ? -errno : 0);
}

int sv_h_link(sv_call *c)
{
    int nr = (int)c->req->data.nr, d1, d2;
    uint64_t a1, a2;
#ifdef SYS_link
    int legacy = nr == SYS_link;
#else
    int legacy = 0;
#endif
    two_args(c, legacy, &d1, &a1, &d2, &a2);
    int flags = legacy ? 0 : sv_iarg(c, 4);
    sv_path p, q;
    int err;
    if (flags & AT_EMPTY_PATH) return sv_continue(c);
    if (!two(c, d1, a1, d2, a2, &p, &q, &err)) return sv_continue(c);
    if (err) return sv_return(c, err);
    if (q.ns == HFS_NS_NEAR || q.final) return sv_return(c, -EEXIST);
    if (p.ns == HFS_NS_VIRTUAL && q.ns == HFS_NS_VIRTUAL)
        return sv_return(c, hfs_vfs_link(p.path, q.path));
    if (p.ns == HFS_NS_VIRTUAL || q.ns == HFS_NS_VIRTUAL || p.ns == HFS_NS_NEAR) {
        int rc = p.ns == HFS_NS_VIRTUAL ? exists(&p) : 0;
        return sv_return(c, rc ? rc : -EXDEV);
    }
    return sv_return(c, linkat(AT_FDCWD, p.path, AT_FDCWD, q.path, flags) ? -errno : 0);
}

int sv_h_symlink(sv_call *c)
{
    int nr = (int)c->req->data.nr, d = AT_FDCWD;
    uint64_t target = sv_arg(c, 0), lp = sv_arg(c, 1);
    if (nr == SYS_symlinkat) {
        d = sv_iarg(c, 1);
        lp = sv_arg(c, 2);
    }
    sv_path p;
    int rc = sv_resolve(c, d, lp, &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    char t[PATH_MAX];
    if ((rc = sv_read_str(c, target, t, sizeof t)) < 0) return sv_return(c, rc);
    if (p.ns == HFS_NS_NEAR || p.final) return sv_return(c, -EEXIST);
    if (p.ns == HFS_NS_REAL) return sv_return(c, symlink(t, p.path) ? -errno : 0);
    return sv_return(c, hfs_vfs_symlink(t, p.path));
}
