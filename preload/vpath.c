/* Path classification and the virtual cwd (see vpath.h). */
#include "vpath.h"
#include "real.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

HFS_HOT_DATA atomic_int hfs_cwd_virtual;
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

/* Is the kernel cwd `real` a mirror directory? Then the virtual cwd is its virtual path. */
__attribute__((noinline)) static void cwd_from(const char *real)
{
    char v[PATH_MAX];
    if (real && HFS_CORE(hfs_vfs_unmirror(real, v, sizeof v)) == 1)
        hfs_cwd_set(v);
    else
        hfs_cwd_clear();
}

__attribute__((noinline)) static void cwd_recover_long(void)
{
    char real[PATH_MAX];
    cwd_from(HFS_REAL(getcwd)(real, sizeof real));
}

/* Runs at every process start: a short buffer first, so the common case touches no fresh stack
 * page (bench/ANALYSIS.md, row 7). */
void hfs_cwd_recover(void)
{
    char real[256];
    int saved = errno;
    if (HFS_REAL(getcwd)(real, sizeof real))
        cwd_from(real);
    else if (errno == ERANGE)
        cwd_recover_long();
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

/* "/proc/self/fd/N[/rest]" or "/dev/fd/N[/rest]" with N a virtual fd: its virtual path. */
static int procfd(const char *p, hfs_rpath *rp)
{
    const char *s;
    if (!strncmp(p, "/proc/self/fd/", 14))
        s = p + 14;
    else if (!strncmp(p, "/dev/fd/", 8))
        s = p + 8;
    else
        return 0;
    int fd = 0, digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 8; s++, digits++) fd = fd * 10 + (*s - '0');
    if (!digits || (*s && *s != '/') || !hfs_fd_maybe(fd)) return 0;
    hfs_fdrec *r = hfs_fd_get_checked(fd);
    if (!r) return 0;
    int rc;
    if (*s && s[1] && !r->is_dir)
        rc = -ENOTDIR;
    else
        rc = finish(HFS_CORE(hfs_vobj_path(r->obj)), *s ? s + 1 : ".", rp);
    hfs_fd_put(r);
    return rc;
}

int hfs_resolve_at(int dirfd, const char *p, hfs_rpath *rp)
{
    rp->real = p;
    rp->trailing_slash = 0;
    rp->path[0] = 0;
    if (!p || !hfs_ready()) return 0;
    if (p[0] == '/') {
        if (HFS_CORE(hfs_vfs_covers(p))) return finish("/", p, rp);
        return hfs_procfd_maybe(p) ? procfd(p, rp) : 0;
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

int hfs_vlstat(const hfs_rpath *rp, struct stat *st)
{
    if (rp->trailing_slash) return hfs_vstat(rp, st);
    return HFS_CORE(hfs_vfs_lstat(rp->path, st));
}

int hfs_vresolve(const char *vpath, char *out, size_t n)
{
    char work[PATH_MAX], next[PATH_MAX], link[PATH_MAX];
    if (snprintf(work, sizeof work, "%s", vpath) >= (int)sizeof work) return -ENAMETOOLONG;
    for (int hops = 0;;) {
        size_t len = strlen(work), i = 1;
        int restarted = 0;
        while (i <= len && !restarted) {
            while (i < len && work[i] != '/') i++;
            char c = work[i];
            work[i] = 0; /* work is now the prefix up to this component */
            struct stat st;
            int rc = 0;
            if (HFS_CORE(hfs_vfs_covers(work)))
                rc = HFS_CORE(hfs_vfs_lstat(work, &st));
            else
                st.st_mode = S_IFDIR; /* above a mount: a real directory, left as is */
            if (rc == 0 && S_ISLNK(st.st_mode)) {
                if (++hops > 40) return -ELOOP;
                int l = HFS_CORE(hfs_vfs_readlink(work, link, sizeof link - 1));
                if (l < 0) return l;
                link[l] = 0;
                char *slash = strrchr(work, '/');
                *slash = 0; /* the directory holding the link */
                const char *rest = c ? work + i + 1 : "";
                char joined[PATH_MAX];
                if (snprintf(joined, sizeof joined, "%s%s%s", link, *rest ? "/" : "", rest) >=
                    (int)sizeof joined)
                    return -ENAMETOOLONG;
                int nl =
                    HFS_CORE(hfs_path_normalize(work[0] ? work : "/", joined, next, sizeof next));
                if (nl < 0) return nl;
                memcpy(work, next, (size_t)nl + 1);
                if (!HFS_CORE(hfs_vfs_covers(work))) {
                    if (snprintf(out, n, "%s", work) >= (int)n) return -ENAMETOOLONG;
                    return 0;
                }
                restarted = 1;
                break;
            }
            work[i] = c;
            if (rc < 0) return rc;
            if (c && !S_ISDIR(st.st_mode)) return -ENOTDIR;
            i++;
        }
        if (!restarted) break;
    }
    if (snprintf(out, n, "%s", work) >= (int)n) return -ENAMETOOLONG;
    return 1;
}
