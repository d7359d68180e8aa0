/* Path classification and the virtual cwd (see vpath.h). */
#include "vpath.h"
#include "real.h"

#include <pthread.h>
#include <string.h>

atomic_int hfs_cwd_virtual;
static pthread_mutex_t cwd_mu = PTHREAD_MUTEX_INITIALIZER;
static char cwd_buf[PATH_MAX];

size_t hfs_cwd_get(char *buf, size_t n)
{
    if (!atomic_load(&hfs_cwd_virtual)) return 0;
    pthread_mutex_lock(&cwd_mu);
    size_t l = strlen(cwd_buf);
    if (l && l < n)
        memcpy(buf, cwd_buf, l + 1);
    else
        l = 0;
    pthread_mutex_unlock(&cwd_mu);
    return l;
}

/* The cwd state is process memory shared with a vfork child (Python's subprocess chdir()s in
 * one): only the process that owns it changes it. */
void hfs_cwd_set(const char *vpath)
{
    if (!hfs_fd_mutable()) return;
    pthread_mutex_lock(&cwd_mu);
    snprintf(cwd_buf, sizeof cwd_buf, "%s", vpath);
    atomic_store(&hfs_cwd_virtual, 1);
    pthread_mutex_unlock(&cwd_mu);
}

void hfs_cwd_clear(void)
{
    if (!atomic_load(&hfs_cwd_virtual) || !hfs_fd_mutable()) return;
    pthread_mutex_lock(&cwd_mu);
    atomic_store(&hfs_cwd_virtual, 0);
    cwd_buf[0] = 0;
    pthread_mutex_unlock(&cwd_mu);
}

void hfs_cwd_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&cwd_mu, &fresh, sizeof cwd_mu);
}

void hfs_cwd_recover(void)
{
    char real[PATH_MAX], v[PATH_MAX];
    int saved = errno;
    if (HFS_REAL(getcwd)(real, sizeof real) && HFS_CORE(hfs_vfs_unmirror(real, v, sizeof v)) == 1)
        hfs_cwd_set(v);
    else
        hfs_cwd_clear();
    errno = saved;
}

/* Normalize p against base and decide. */
static int finish(const char *base, const char *p, hfs_rpath *rp)
{
    int n = HFS_CORE(hfs_path_normalize(base, p, rp->path, sizeof rp->path));
    if (n < 0) return n;
    size_t l = strlen(p);
    rp->trailing_slash = l > 0 && p[l - 1] == '/';
    if (HFS_CORE(hfs_vfs_covers(rp->path))) return 1;
    rp->real = rp->path;
    /* Keep a trailing '/' on the real path: the kernel then checks for a directory itself. */
    if (rp->trailing_slash && n > 1 && (size_t)n + 1 < sizeof rp->path) {
        rp->path[n] = '/';
        rp->path[n + 1] = 0;
    }
    return 0;
}

int hfs_resolve_at(int dirfd, const char *p, hfs_rpath *rp)
{
    rp->real = p;
    rp->trailing_slash = 0;
    rp->path[0] = 0;
    if (!p || !hfs_ready()) return 0;
    if (p[0] == '/') {
        if (!HFS_CORE(hfs_vfs_covers(p))) return 0;
        return finish("/", p, rp);
    }
    if (!p[0]) return 0; /* "" : the kernel says ENOENT (AT_EMPTY_PATH is the callers' job) */
    if (dirfd == AT_FDCWD) {
        char base[PATH_MAX];
        if (!hfs_cwd_get(base, sizeof base)) return 0;
        return finish(base, p, rp);
    }
    hfs_fdrec *r = hfs_fd_maybe(dirfd) ? hfs_fd_get_checked(dirfd) : NULL;
    if (!r) return 0;
    int rc;
    if (!r->is_dir)
        rc = -ENOTDIR;
    else
        rc = finish(HFS_CORE(hfs_vobj_path(r->obj)), p, rp);
    hfs_fd_put(r);
    return rc;
}

int hfs_vstat(const hfs_rpath *rp, struct stat *st)
{
    int rc = HFS_CORE(hfs_vfs_stat(rp->path, st));
    if (rc == 0 && rp->trailing_slash && !S_ISDIR(st->st_mode)) rc = -ENOTDIR;
    return rc;
}
