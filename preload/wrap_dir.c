/* Directories. A virtual directory opened with opendir/fdopendir is a real DIR* on an fd on its
 * (empty) mirror directory; the entries come from the core, kept in a side record found
 * through the fd table by dirfd(DIR*). getdents64 on a virtual directory fd is served the same
 * way, with the position kept per fd. glob() on virtual patterns runs with GLOB_ALTDIRFUNC
 * pointed at these wrappers (glibc's glob calls its internal opendir otherwise). */
#include "open.h"
#include "real.h"
#include "vpath.h"

#include <glob.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64) &&
                   offsetof(struct dirent, d_name) == offsetof(struct dirent64, d_name) &&
                   offsetof(struct dirent, d_type) == offsetof(struct dirent64, d_type),
               "struct dirent and dirent64 must share a layout (64-bit ABI)");

#define RECLEN(namelen) ((offsetof(struct dirent64, d_name) + (namelen) + 1 + 7) & ~(size_t)7)

/* Next entry of a virtual directory stream (dr->mu held). 1, 0 at the end, or -errno. */
static int dir_next(hfs_fdrec *r, hfs_dirrec *dr, struct dirent64 *out)
{
    for (;;) {
        hfs_dirent e;
        int rc = HFS_CORE(hfs_vobj_readdir(r->obj, dr->pos, &e));
        if (rc <= 0) return rc;
        dr->pos++;
        size_t nl = strlen(e.name);
        if (nl >= sizeof out->d_name) continue; /* cannot be represented; never seen in practice */
        out->d_ino = e.ino;
        out->d_off = (off64_t)dr->pos;
        out->d_reclen = (unsigned short)RECLEN(nl);
        out->d_type = e.d_type;
        memcpy(out->d_name, e.name, nl + 1);
        return 1;
    }
}

/* readdir on a virtual stream: the record's buffer, NULL with errno unchanged at the end. */
static struct dirent64 *vreaddir(hfs_fdrec *r, hfs_dirrec *dr)
{
    int saved = errno;
    pthread_mutex_lock(&dr->mu);
    int rc = dir_next(r, dr, &dr->ent);
    pthread_mutex_unlock(&dr->mu);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    errno = saved;
    return rc ? &dr->ent : NULL;
}

/* The DIR* for a virtual directory (or, with rp, an ancestor of a mount), or NULL with errno. */
static DIR *opendir_vpath(const char *vpath, int dirfd, const hfs_rpath *rp)
{
    int saved = errno, fl = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    int fd = rp ? hfs_open_near(dirfd, rp, fl, 0, saved) : hfs_open_vpath(vpath, fl, 0, saved);
    if (fd < 0) return NULL;
    if (rp && !hfs_fd_maybe(fd)) { /* the ancestor could not be listed: a plain stream */
        DIR *d = HFS_REAL(fdopendir)(fd);
        if (!d) HFS_REAL(close)(fd);
        return d;
    }
    DIR *d = HFS_REAL(fdopendir)(fd);
    int rc = d ? hfs_dir_attach(fd, d) : -errno;
    if (rc < 0) {
        if (d) HFS_REAL(closedir)(d);
        hfs_fd_del(fd);
        if (!d) HFS_REAL(close)(fd);
        errno = -rc;
        return NULL;
    }
    errno = saved;
    return d;
}

/* NULL with *virt = 0: not virtual, use rp->real. */
static DIR *opendir_at(int dirfd, const char *name, hfs_rpath *rp, int *virt)
{
    int v = hfs_resolve_at(dirfd, name, rp);
    *virt = v != 0 || rp->near;
    if (v < 0) {
        errno = -v;
        return NULL;
    }
    if (rp->near) return opendir_vpath(rp->path, dirfd, rp);
    return v ? opendir_vpath(rp->path, dirfd, NULL) : NULL;
}

HFS_EXPORT DIR *opendir(const char *name)
{
    if (HFS_LIKELY(!hfs_path_maybe(name))) return HFS_REAL(opendir)(name);
    hfs_rpath rp;
    int virt;
    DIR *d = opendir_at(AT_FDCWD, name, &rp, &virt);
    return virt ? d : HFS_REAL(opendir)(rp.real);
}

HFS_EXPORT DIR *fdopendir(int fd)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(fdopendir)(fd);
    hfs_fdrec *r = hfs_fd_get_checked(fd);
    if (!r) return HFS_REAL(fdopendir)(fd);
    int is_dir = r->is_dir;
    hfs_fd_put(r);
    if (!is_dir) {
        errno = ENOTDIR;
        return NULL;
    }
    int saved = errno;
    DIR *d = HFS_REAL(fdopendir)(fd);
    if (!d) return NULL;
    int rc = hfs_dir_attach(fd, d);
    if (rc < 0) {
        /* fdopendir must not close fd on failure: take the fd back from the stream. */
        int nfd = HFS_REAL(dup)(fd);
        HFS_REAL(closedir)(d);
        if (nfd >= 0 && nfd != fd) {
            HFS_REAL(dup2)(nfd, fd);
            HFS_REAL(close)(nfd);
        }
        errno = -rc;
        return NULL;
    }
    errno = saved;
    return d;
}

HFS_EXPORT struct dirent64 *readdir64(DIR *d)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (HFS_LIKELY(!dr)) return HFS_REAL(readdir64)(d);
    struct dirent64 *e = vreaddir(r, dr);
    hfs_fd_put(r);
    return e;
}

HFS_EXPORT struct dirent *readdir(DIR *d)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (HFS_LIKELY(!dr)) return HFS_REAL(readdir)(d);
    struct dirent64 *e = vreaddir(r, dr);
    hfs_fd_put(r);
    return (struct dirent *)(void *)e;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int vreaddir_r(hfs_fdrec *r, hfs_dirrec *dr, struct dirent64 *entry,
                      struct dirent64 **result)
{
    pthread_mutex_lock(&dr->mu);
    int rc = dir_next(r, dr, entry);
    pthread_mutex_unlock(&dr->mu);
    *result = rc > 0 ? entry : NULL;
    return rc < 0 ? -rc : 0;
}

HFS_EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (HFS_LIKELY(!dr)) return HFS_REAL(readdir64_r)(d, entry, result);
    int rc = vreaddir_r(r, dr, entry, result);
    hfs_fd_put(r);
    return rc;
}

HFS_EXPORT int readdir_r(DIR *d, struct dirent *entry, struct dirent **result)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (HFS_LIKELY(!dr)) return HFS_REAL(readdir_r)(d, entry, result);
    int rc =
        vreaddir_r(r, dr, (struct dirent64 *)(void *)entry, (struct dirent64 **)(void *)result);
    hfs_fd_put(r);
    return rc;
}
#pragma GCC diagnostic pop

HFS_EXPORT void rewinddir(DIR *d)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (dr) {
        pthread_mutex_lock(&dr->mu);
        dr->pos = 0;
        pthread_mutex_unlock(&dr->mu);
        hfs_fd_put(r);
    }
    HFS_REAL(rewinddir)(d);
}

HFS_EXPORT long telldir(DIR *d)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (HFS_LIKELY(!dr)) return HFS_REAL(telldir)(d);
    pthread_mutex_lock(&dr->mu);
    long pos = (long)dr->pos;
    pthread_mutex_unlock(&dr->mu);
    hfs_fd_put(r);
    return pos;
}

HFS_EXPORT void seekdir(DIR *d, long pos)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (HFS_LIKELY(!dr)) {
        HFS_REAL(seekdir)(d, pos);
        return;
    }
    pthread_mutex_lock(&dr->mu);
    if (pos >= 0) dr->pos = (uint64_t)pos;
    pthread_mutex_unlock(&dr->mu);
    hfs_fd_put(r);
}

HFS_EXPORT int closedir(DIR *d)
{
    hfs_fdrec *r;
    hfs_dirrec *dr = HFS_IN_CORE() ? NULL : hfs_dir_get(d, &r);
    if (dr) {
        int fd = dirfd(d);
        hfs_fd_put(r);
        hfs_fd_del(fd);
    }
    return HFS_REAL(closedir)(d);
}

/* scandir on a virtual directory, for both entry types. */
#define DEFINE_SCAN(NAME, DT, READDIR)                                                             \
    typedef int (*NAME##_cmp)(const DT **, const DT **);                                           \
    static int NAME##_tramp(const void *a, const void *b, void *arg)                               \
    {                                                                                              \
        return (*(NAME##_cmp *)arg)((const DT **)a, (const DT **)b);                               \
    }                                                                                              \
    static int NAME(DIR *d, DT ***out, int (*filter)(const DT *), NAME##_cmp compar)               \
    {                                                                                              \
        DT **v = NULL, *e;                                                                         \
        size_t n = 0, cap = 0;                                                                     \
        int saved = errno, err = 0;                                                                \
        errno = 0;                                                                                 \
        while ((e = READDIR(d))) {                                                                 \
            if (filter && !filter(e)) continue;                                                    \
            if (n == cap) {                                                                        \
                cap = cap ? cap * 2 : 16;                                                          \
                DT **nv = realloc(v, cap * sizeof *v);                                             \
                if (!nv) {                                                                         \
                    err = ENOMEM;                                                                  \
                    break;                                                                         \
                }                                                                                  \
                v = nv;                                                                            \
            }                                                                                      \
            /* d_reclen bytes, as glibc allocates (callers and sanitizers rely on it) */           \
            size_t sz = offsetof(DT, d_name) + strlen(e->d_name) + 1;                              \
            size_t al = e->d_reclen > sz ? e->d_reclen : sz;                                       \
            if (!(v[n] = calloc(1, al))) {                                                         \
                err = ENOMEM;                                                                      \
                break;                                                                             \
            }                                                                                      \
            memcpy(v[n++], e, sz);                                                                 \
            errno = 0;                                                                             \
        }                                                                                          \
        if (!err && errno) err = errno;                                                            \
        closedir(d);                                                                               \
        if (err) {                                                                                 \
            while (n) free(v[--n]);                                                                \
            free(v);                                                                               \
            errno = err;                                                                           \
            return -1;                                                                             \
        }                                                                                          \
        if (compar && n > 1) qsort_r(v, n, sizeof *v, NAME##_tramp, &compar);                      \
        *out = v;                                                                                  \
        errno = saved;                                                                             \
        return (int)n;                                                                             \
    }

DEFINE_SCAN(scan32, struct dirent, readdir)
DEFINE_SCAN(scan64, struct dirent64, readdir64)

/* Resolve, then scan virtually; 0 with *virt=0 to pass through with rp->real. */
#define SCAN(dirfd, dir, list, filter, compar, scanfn, call_real)                                  \
    do {                                                                                           \
        if (HFS_LIKELY(!hfs_path_maybe_at((dirfd), (dir)))) return call_real;                      \
        hfs_rpath rp;                                                                              \
        int virt;                                                                                  \
        DIR *d_ = opendir_at((dirfd), (dir), &rp, &virt);                                          \
        if (virt) return d_ ? scanfn(d_, (list), (filter), (compar)) : -1;                         \
        dir = rp.real;                                                                             \
        return call_real;                                                                          \
    } while (0)

HFS_EXPORT int scandir(const char *dir, struct dirent ***list, int (*filter)(const struct dirent *),
                       int (*compar)(const struct dirent **, const struct dirent **))
{
    SCAN(AT_FDCWD, dir, list, filter, compar, scan32, HFS_REAL(scandir)(dir, list, filter, compar));
}

HFS_EXPORT int scandir64(const char *dir, struct dirent64 ***list,
                         int (*filter)(const struct dirent64 *),
                         int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
    SCAN(AT_FDCWD, dir, list, filter, compar, scan64,
         HFS_REAL(scandir64)(dir, list, filter, compar));
}

HFS_EXPORT int scandirat(int dirfd, const char *dir, struct dirent ***list,
                         int (*filter)(const struct dirent *),
                         int (*compar)(const struct dirent **, const struct dirent **))
{
    SCAN(dirfd, dir, list, filter, compar, scan32,
         HFS_REAL(scandirat)(dirfd, dir, list, filter, compar));
}

HFS_EXPORT int scandirat64(int dirfd, const char *dir, struct dirent64 ***list,
                           int (*filter)(const struct dirent64 *),
                           int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
    SCAN(dirfd, dir, list, filter, compar, scan64,
         HFS_REAL(scandirat64)(dirfd, dir, list, filter, compar));
}

/* getdents64 on a virtual directory fd: linux_dirent64 records (the same layout as struct
 * dirent64) from the position kept in the fd's record. */
ssize_t hfs_getdents64(int fd, void *buf, size_t n)
{
    hfs_fdrec *r = hfs_fd_get(fd);
    if (!r) return HFS_REAL(getdents64)(fd, buf, n);
    int saved = errno, rc = 0;
    size_t used = 0;
    if (!r->is_dir) {
        rc = -ENOTDIR;
    } else {
        uint64_t pos = atomic_load(&r->dpos);
        for (;;) {
            hfs_dirent e;
            rc = HFS_CORE(hfs_vobj_readdir(r->obj, pos, &e));
            if (rc <= 0) break;
            size_t nl = strlen(e.name);
            if (nl > 255) {
                pos++;
                continue;
            }
            size_t rl = RECLEN(nl);
            if (used + rl > n) {
                rc = used ? 0 : -EINVAL;
                break;
            }
            struct dirent64 *de = (struct dirent64 *)(void *)((char *)buf + used);
            memset(de, 0, rl);
            de->d_ino = e.ino;
            de->d_off = (off64_t)(pos + 1);
            de->d_reclen = (unsigned short)rl;
            de->d_type = e.d_type;
            memcpy(de->d_name, e.name, nl);
            used += rl;
            pos++;
        }
        if (used) rc = 0;
        atomic_store(&r->dpos, pos);
    }
    hfs_fd_put(r);
    if (rc < 0) return hfs_fail(rc);
    errno = saved;
    return (ssize_t)used;
}

HFS_EXPORT ssize_t getdents64(int fd, void *buf, size_t n)
{
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(getdents64)(fd, buf, n);
    return hfs_getdents64(fd, buf, n);
}

/* glob: point GLOB_ALTDIRFUNC at our wrappers for patterns that may be virtual. */
static void *g_opendir(const char *p)
{
    return opendir(p);
}
static struct dirent *g_readdir(void *d)
{
    return readdir(d);
}
static struct dirent64 *g_readdir64(void *d)
{
    return readdir64(d);
}
static void g_closedir(void *d)
{
    closedir(d);
}
static int g_stat(const char *restrict p, struct stat *restrict st)
{
    return stat(p, st);
}
static int g_lstat(const char *restrict p, struct stat *restrict st)
{
    return lstat(p, st);
}
static int g_stat64(const char *restrict p, struct stat64 *restrict st)
{
    return stat64(p, st);
}
static int g_lstat64(const char *restrict p, struct stat64 *restrict st)
{
    return lstat64(p, st);
}

/* A pattern may reach a mount through a directory above it (a pattern for the entries of
 * /tmp/p lists the mount point /tmp/p/mnt), which no single path test tells: every absolute
 * pattern that may touch the prefix, a mount or an ancestor of one goes through the wrappers. */
static int glob_maybe(const char *pat)
{
    if (hfs_bad_ptr(pat)) return 0;
    if (pat[0] != '/') return hfs_path_maybe(pat);
    return hfs_ready() && hfs_vfs_first[(unsigned char)pat[1]];
}

HFS_EXPORT int glob(const char *pat, int flags, int (*errfn)(const char *, int), glob_t *g)
{
    if (HFS_IN_CORE() || !glob_maybe(pat) || (flags & GLOB_ALTDIRFUNC))
        return HFS_REAL(glob)(pat, flags, errfn, g);
    g->gl_opendir = g_opendir;
    g->gl_readdir = g_readdir;
    g->gl_closedir = g_closedir;
    g->gl_stat = g_stat;
    g->gl_lstat = g_lstat;
    return HFS_REAL(glob)(pat, flags | GLOB_ALTDIRFUNC, errfn, g);
}

HFS_EXPORT int glob64(const char *pat, int flags, int (*errfn)(const char *, int), glob64_t *g)
{
    if (HFS_IN_CORE() || !glob_maybe(pat) || (flags & GLOB_ALTDIRFUNC))
        return HFS_REAL(glob64)(pat, flags, errfn, g);
    g->gl_opendir = g_opendir;
    g->gl_readdir = g_readdir64;
    g->gl_closedir = g_closedir;
    g->gl_stat = g_stat64;
    g->gl_lstat = g_lstat64;
    return HFS_REAL(glob64)(pat, flags | GLOB_ALTDIRFUNC, errfn, g);
}
