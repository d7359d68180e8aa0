/* The working directory. chdir into a virtual directory (or an ancestor of a mount that does
 * not exist really) moves the kernel cwd to its mirror directory (so children inherit
 * something the core maps back) and remembers the virtual path, which getcwd and every
 * relative path then use. chdir into a real ancestor of a mount is a real chdir, remembered
 * as such: relative paths from there are resolved by the shim. */
#include "real.h"
#include "vpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int chdir_vpath(const hfs_rpath *rp, int kind, int saved)
{
    char real[HFS_PATH_MAX];
    int rc = HFS_CORE(hfs_vfs_mirror_dir(rp->path, real, sizeof real));
    if (rc < 0) return hfs_fail(rc);
    char buf[PATH_MAX];
    int fd;
    const char *p = HFS_CORE(hfs_path_short(real, buf, sizeof buf, &fd));
    rc = p ? HFS_REAL(chdir)(p) : -1;
    if (fd >= 0) {
        int e = errno;
        HFS_REAL(close)(fd);
        errno = e;
    }
    if (rc < 0) return -1;
    hfs_cwd_set(kind, rp->path);
    errno = saved;
    return 0;
}

/* An ancestor of a mount: the real directory, or its mirror when it does not exist really. */
static int chdir_near(const hfs_rpath *rp, int saved)
{
    if (HFS_REAL(chdir)(rp->real) == 0) {
        hfs_cwd_set(HFS_CWD_NEAR, rp->path);
        return 0;
    }
    if (errno != ENOENT) return -1;
    return chdir_vpath(rp, HFS_CWD_NEAR_MIRROR, saved);
}

HFS_EXPORT int chdir(const char *path)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) {
        int rc = HFS_REAL(chdir)(path);
        if (rc == 0 && !HFS_IN_CORE()) hfs_cwd_clear();
        return rc;
    }
    int saved = errno;
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, path, &rp);
    if (v < 0) return hfs_fail(v);
    if (v) return chdir_vpath(&rp, HFS_CWD_VIRTUAL, saved);
    if (rp.near) return chdir_near(&rp, saved);
    int rc = HFS_REAL(chdir)(rp.real);
    if (rc == 0) hfs_cwd_clear();
    return rc;
}

HFS_EXPORT int fchdir(int fd)
{
    hfs_fdrec *r = hfs_fd_maybe(fd) ? hfs_fd_get_checked(fd) : NULL;
    if (HFS_LIKELY(!r)) {
        int rc = HFS_REAL(fchdir)(fd);
        /* An fd the shim did not open may still be on an ancestor of a mount: ask the kernel
         * (fchdir is rare; the common case costs one getcwd). */
        if (rc == 0 && !HFS_IN_CORE()) hfs_cwd_recover();
        return rc;
    }
    int rc;
    if (!r->is_dir) {
        rc = hfs_fail(-ENOTDIR);
    } else {
        /* The fd is already on the mirror directory, or on the real ancestor. */
        rc = HFS_REAL(fchdir)(fd);
        int near = HFS_CORE(hfs_vobj_near(r->obj));
        int kind = near == 1 ? HFS_CWD_NEAR : near ? HFS_CWD_NEAR_MIRROR : HFS_CWD_VIRTUAL;
        if (rc == 0) hfs_cwd_set(kind, HFS_CORE(hfs_vobj_path(r->obj)));
    }
    hfs_fd_put(r);
    return rc;
}

/* getcwd with a virtual cwd: glibc's conventions (buf NULL: allocate, size 0 = as needed). */
static char *vgetcwd(char *buf, size_t size, const char *cwd, size_t len)
{
    if (!buf) {
        size_t n = size ? size : len + 1;
        if (n < len + 1) {
            errno = ERANGE;
            return NULL;
        }
        if (!(buf = malloc(n))) {
            errno = ENOMEM;
            return NULL;
        }
    } else if (size == 0) {
        errno = EINVAL;
        return NULL;
    } else if (size < len + 1) {
        errno = ERANGE;
        return NULL;
    }
    memcpy(buf, cwd, len + 1);
    return buf;
}

HFS_EXPORT char *getcwd(char *buf, size_t size)
{
    char cwd[HFS_PATH_MAX];
    size_t len;
    if (HFS_LIKELY(HFS_IN_CORE() || !atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed)) ||
        !(len = hfs_cwd_get(cwd, sizeof cwd)))
        return HFS_REAL(getcwd)(buf, size);
    return vgetcwd(buf, size, cwd, len);
}

HFS_EXPORT char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
    if (size > buflen) return HFS_REAL(__getcwd_chk)(buf, size, buflen); /* aborts */
    return getcwd(buf, size);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
HFS_EXPORT char *getwd(char *buf)
{
    char cwd[HFS_PATH_MAX];
    size_t len;
    if (HFS_LIKELY(HFS_IN_CORE() || !atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed)) ||
        !(len = hfs_cwd_get(cwd, sizeof cwd)))
        return HFS_REAL(getwd)(buf);
    if (len >= PATH_MAX) { /* getwd's buffer is PATH_MAX bytes by contract */
        snprintf(buf, PATH_MAX, "%s", strerror(ENAMETOOLONG));
        errno = ENAMETOOLONG;
        return NULL;
    }
    memcpy(buf, cwd, len + 1);
    return buf;
}
#pragma GCC diagnostic pop

HFS_EXPORT char *get_current_dir_name(void)
{
    char cwd[HFS_PATH_MAX];
    size_t len;
    if (HFS_LIKELY(HFS_IN_CORE() || !atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed)) ||
        !(len = hfs_cwd_get(cwd, sizeof cwd)))
        return HFS_REAL(get_current_dir_name)();
    return strdup(cwd);
}
