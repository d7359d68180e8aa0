/* realpath and readlink. Symlinks in a virtual tree exist only in the local overlay: readlink
 * asks the core (EINVAL for anything else), realpath follows them component by component (a
 * target outside the virtual tree is finished by libc's realpath). readlink of /proc/self/cwd
 * with a virtual cwd and of /proc/self/fd/N for a virtual fd give the virtual paths. */
#include "real.h"
#include "vpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 answered (*ret), 0 pass through with rp->real. */
static int vrealpath(const char *path, char *resolved, hfs_rpath *rp, char **ret)
{
    int saved = errno;
    if (!path) return 0;
    int v = hfs_resolve_at(AT_FDCWD, path, rp);
    struct stat st;
    char out[HFS_PATH_MAX];
    if (v == 0 && hfs_near_missing(rp)) { /* a virtual ancestor: its normalized path */
        snprintf(out, sizeof out, "%s", rp->path);
        v = 1;
    } else if (v == 0) {
        return 0;
    } else {
        v = hfs_vstat(rp, &st);
        if (v == 0) v = hfs_vresolve(rp->path, out, sizeof out);
    }
    if (v == 0) { /* a link led out of the virtual tree: libc resolves the rest */
        snprintf(rp->path, sizeof rp->path, "%s", out);
        rp->real = rp->path;
        return 0;
    }
    if (v < 0) {
        errno = -v;
        *ret = NULL;
        return 1;
    }
    if (resolved && strlen(out) >= PATH_MAX) { /* the caller's buffer holds PATH_MAX bytes */
        errno = ENAMETOOLONG;
        *ret = NULL;
        return 1;
    }
    if (resolved) {
        snprintf(resolved, PATH_MAX, "%s", out);
    } else if (!(resolved = strdup(out))) {
        errno = ENOMEM;
        *ret = NULL;
        return 1;
    }
    errno = saved;
    *ret = resolved;
    return 1;
}

HFS_EXPORT char *realpath(const char *path, char *resolved)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(realpath)(path, resolved);
    hfs_rpath rp;
    char *ret;
    if (vrealpath(path, resolved, &rp, &ret)) return ret;
    return HFS_REAL(realpath)(rp.real, resolved);
}

HFS_EXPORT char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
    if (HFS_LIKELY(!hfs_path_maybe(path)) || (resolved && resolvedlen < PATH_MAX))
        return HFS_REAL(__realpath_chk)(path, resolved, resolvedlen);
    hfs_rpath rp;
    char *ret;
    if (vrealpath(path, resolved, &rp, &ret)) return ret;
    return HFS_REAL(__realpath_chk)(rp.real, resolved, resolvedlen);
}

HFS_EXPORT char *canonicalize_file_name(const char *path)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(canonicalize_file_name)(path);
    hfs_rpath rp;
    char *ret;
    if (vrealpath(path, NULL, &rp, &ret)) return ret;
    return HFS_REAL(canonicalize_file_name)(rp.real);
}

/* readlink's answer for a virtual target: copied without NUL, truncated to n. */
static ssize_t copy_link(const char *s, char *buf, size_t n)
{
    size_t l = strlen(s);
    if (l > n) l = n;
    memcpy(buf, s, l);
    return (ssize_t)l;
}

/* /proc/self/cwd and /proc/self/fd/N: 1 answered (*ret), 0 not ours. */
static int proc_link(const char *path, char *buf, size_t n, ssize_t *ret)
{
    if (strncmp(path, "/proc/self/", 11)) return 0;
    const char *rest = path + 11;
    char v[HFS_PATH_MAX];
    if (!strcmp(rest, "cwd")) {
        if (!hfs_cwd_get(v, sizeof v)) return 0;
        *ret = copy_link(v, buf, n);
        return 1;
    }
    if (strncmp(rest, "fd/", 3) || !rest[3]) return 0;
    char *end;
    long fd = strtol(rest + 3, &end, 10);
    if (*end || fd < 0 || fd >= HFS_FD_MAX || !hfs_fd_maybe((int)fd)) return 0;
    hfs_fdrec *r = hfs_fd_get_checked((int)fd);
    if (!r) return 0;
    *ret = copy_link(HFS_CORE(hfs_vobj_path(r->obj)), buf, n);
    hfs_fd_put(r);
    return 1;
}

static inline int proc_maybe(const char *p)
{
    return !hfs_bad_ptr(p) && p[0] == '/' && p[1] == 'p' && !HFS_IN_CORE() &&
           (atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed) || hfs_fd_hwm() > 0);
}

/* 1 answered (*ret), 0 pass through with rp->real. */
static int vreadlink(int dirfd, const char *path, char *buf, size_t n, hfs_rpath *rp, ssize_t *ret)
{
    rp->real = path;
    if (proc_maybe(path) && proc_link(path, buf, n, ret)) return 1;
    if (!hfs_path_maybe_at(dirfd, path)) return 0;
    int v = hfs_resolve_at(dirfd, path, rp);
    if (v == 0) return 0;
    struct stat st;
    if (v > 0 && rp->trailing_slash) { /* "link/" names what the link points to */
        v = hfs_vstat(rp, &st);
        *ret = hfs_fail(v < 0 ? v : -EINVAL);
        return 1;
    }
    int saved = errno;
    if (v > 0) v = HFS_CORE(hfs_vfs_readlink(rp->path, buf, n));
    if (v < 0) {
        *ret = hfs_fail(v);
    } else {
        errno = saved;
        *ret = v;
    }
    return 1;
}

HFS_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
    if (HFS_LIKELY(!hfs_path_maybe(path) && !proc_maybe(path)))
        return HFS_REAL(readlink)(path, buf, n);
    hfs_rpath rp;
    ssize_t ret;
    if (vreadlink(AT_FDCWD, path, buf, n, &rp, &ret)) return ret;
    return HFS_REAL(readlink)(rp.real, buf, n);
}

HFS_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, path) && !proc_maybe(path)))
        return HFS_REAL(readlinkat)(dirfd, path, buf, n);
    hfs_rpath rp;
    ssize_t ret;
    if (vreadlink(dirfd, path, buf, n, &rp, &ret)) return ret;
    return HFS_REAL(readlinkat)(dirfd, rp.real, buf, n);
}

HFS_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen)
{
    if (HFS_LIKELY(!hfs_path_maybe(path) && !proc_maybe(path)) || n > buflen)
        return HFS_REAL(__readlink_chk)(path, buf, n, buflen);
    hfs_rpath rp;
    ssize_t ret;
    if (vreadlink(AT_FDCWD, path, buf, n, &rp, &ret)) return ret;
    return HFS_REAL(__readlink_chk)(rp.real, buf, n, buflen);
}

HFS_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n, size_t buflen)
{
    if (HFS_LIKELY(!hfs_path_maybe_at(dirfd, path) && !proc_maybe(path)) || n > buflen)
        return HFS_REAL(__readlinkat_chk)(dirfd, path, buf, n, buflen);
    hfs_rpath rp;
    ssize_t ret;
    if (vreadlink(dirfd, path, buf, n, &rp, &ret)) return ret;
    return HFS_REAL(__readlinkat_chk)(dirfd, rp.real, buf, n, buflen);
}
