/* stdio: a FILE* reads through glibc's internal read, which the shim never sees, so a virtual
 * file is made complete before a stream gets its fd (fopen, freopen, fdopen). Write modes ("w",
 * "a", "r+", "x"...) open through the core's write path (a local overlay file, complete by
 * definition). fclose closes the fd internally: the fd is forgotten first, and the object is
 * released after the stream's last flush and close. */
#include "open.h"
#include "real.h"
#include "vpath.h"
#include "write.h"

#include <stdio.h>
#include <string.h>

/* open(2) flags for an fopen mode. */
static int mode_flags(const char *mode)
{
    int fl;
    switch (mode[0]) {
    case 'r':
        fl = O_RDONLY;
        break;
    case 'w':
        fl = O_WRONLY | O_CREAT | O_TRUNC;
        break;
    case 'a':
        fl = O_WRONLY | O_CREAT | O_APPEND;
        break;
    default:
        return -1;
    }
    for (const char *m = mode + 1; *m && *m != ','; m++) {
        if (*m == '+') fl = (fl & ~O_ACCMODE) | O_RDWR;
        if (*m == 'x') fl |= O_EXCL;
        if (*m == 'e') fl |= O_CLOEXEC;
    }
    return fl;
}

/* Open vpath for a stream: a registered fd whose file is complete. -1 with errno. */
static int stream_fd(const char *vpath, const char *mode, int trailing_slash)
{
    int saved = errno;
    int fl = mode ? mode_flags(mode) : -1;
    if (fl < 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = hfs_open_vpath(vpath, fl | (trailing_slash ? O_DIRECTORY : 0), 0666, saved);
    if (fd < 0) return -1;
    hfs_fdrec *r = hfs_fd_get(fd);
    int rc = r ? hfs_fd_materialize(r) : 0;
    hfs_fd_put(r);
    if (rc < 0) {
        close(fd);
        return hfs_fail(rc);
    }
    errno = saved;
    return fd;
}

/* fileno without touching errno; -1 when nothing was ever registered (the common case). */
static int stream_fileno(FILE *f)
{
    if (!f || HFS_IN_CORE() || hfs_fd_hwm() == 0) return -1;
    int saved = errno, fd = fileno(f);
    errno = saved;
    return fd;
}

static FILE *fopen_slow(const char *path, const char *mode,
                        FILE *(*real)(const char *, const char *))
{
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, path, &rp);
    if (v < 0) {
        errno = -v;
        return NULL;
    }
    int fd = v ? stream_fd(rp.path, mode, rp.trailing_slash)
               : hfs_mounttab_open(rp.real, mode ? mode_flags(mode) : -1);
    if (v == 0 && fd == -2) {
        FILE *f = real(rp.real, mode);
        int rc = f && hfs_proc_fd_other(rp.real) ? hfs_foreign_check(fileno(f), rp.real) : 0;
        if (rc < 0) {
            fclose(f);
            errno = -rc;
            return NULL;
        }
        return f;
    }
    if (fd < 0) return NULL;
    FILE *f = HFS_REAL(fdopen)(fd, mode);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

HFS_EXPORT FILE *fopen(const char *path, const char *mode)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(fopen)(path, mode);
    return fopen_slow(path, mode, HFS_REAL(fopen));
}

HFS_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    if (HFS_LIKELY(!hfs_path_maybe(path))) return HFS_REAL(fopen64)(path, mode);
    return fopen_slow(path, mode, HFS_REAL(fopen64));
}

/* freopen onto a virtual path: the stream is reopened on the complete backing file through
 * /proc/self/fd/N of our own fd, and the stream's new fd is registered. */
static FILE *freopen_slow(const char *path, const char *mode, FILE *stream,
                          FILE *(*real)(const char *, const char *, FILE *))
{
    int oldfd = stream_fileno(stream);
    char vpath[HFS_PATH_MAX];
    if (!path) {
        /* No path: glibc reopens /proc/self/fd/N and keeps the fd number. Reading, the record
         * stays valid; a write mode must not reopen a remote file's cache file for writing:
         * the stream is reopened on the virtual path instead (copy-up, as for a path). */
        int fl = mode ? mode_flags(mode) : -1;
        hfs_fdrec *r = oldfd >= 0 ? hfs_fd_get_checked(oldfd) : NULL;
        int keep = !r || r->is_local || fl < 0 || !HFS_WRITE_INTENT(fl);
        if (!keep) snprintf(vpath, sizeof vpath, "%s", HFS_CORE(hfs_vobj_path(r->obj)));
        hfs_fd_put(r);
        if (keep) return real(path, mode, stream);
        path = vpath;
    }
    if (oldfd >= 0 && hfs_fd_maybe(oldfd)) hfs_fd_del(oldfd); /* closed by freopen */
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, path, &rp);
    if (v == 0) return real(rp.real, mode, stream);
    int fd = v < 0 ? hfs_fail(v) : stream_fd(rp.path, mode, rp.trailing_slash);
    if (fd < 0) {
        int e = errno;
        HFS_REAL(fclose)(stream); /* freopen closes the stream when it fails */
        errno = e;
        return NULL;
    }
    char proc[64], m2[16];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    /* The file exists now: reopening it with 'x' (O_EXCL) would fail. */
    size_t j = 0;
    for (const char *m = mode; *m && j < sizeof m2 - 1; m++)
        if (*m != 'x') m2[j++] = *m;
    m2[j] = 0;
    FILE *f = real(proc, m2, stream);
    int e = errno;
    if (f) {
        int nfd = fileno(f);
        hfs_fdrec *r = hfs_fd_get(fd);
        if (r && nfd >= 0) hfs_fd_copy(r, nfd);
        hfs_fd_put(r);
    }
    close(fd);
    errno = e;
    return f;
}

HFS_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
    if (HFS_LIKELY(!hfs_path_maybe(path ? path : "") && !hfs_fd_maybe(stream_fileno(stream))))
        return HFS_REAL(freopen)(path, mode, stream);
    return freopen_slow(path, mode, stream, HFS_REAL(freopen));
}

HFS_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
    if (HFS_LIKELY(!hfs_path_maybe(path ? path : "") && !hfs_fd_maybe(stream_fileno(stream))))
        return HFS_REAL(freopen64)(path, mode, stream);
    return freopen_slow(path, mode, stream, HFS_REAL(freopen64));
}

HFS_EXPORT FILE *fdopen(int fd, const char *mode)
{
    if (HFS_UNLIKELY(hfs_fd_maybe(fd))) {
        hfs_fdrec *r = hfs_fd_get_checked(fd);
        int saved = errno, rc = r ? hfs_fd_materialize(r) : 0;
        hfs_fd_put(r);
        if (rc < 0) {
            errno = -rc;
            return NULL;
        }
        errno = saved;
    }
    return HFS_REAL(fdopen)(fd, mode);
}

HFS_EXPORT int fclose(FILE *f)
{
    int fd = stream_fileno(f);
    if (HFS_LIKELY(!hfs_fd_maybe(fd))) return HFS_REAL(fclose)(f);
    hfs_fdrec *r = hfs_fd_take(fd);
    int rc = HFS_REAL(fclose)(f), e = errno;
    hfs_fd_put(r);
    errno = e;
    return rc;
}
