/* The core's libc table in the shim (core/base/libc.h): each entry calls the real function through
 * its slot in real.c (resolved on first use, as for the wrappers), so the core's own calls
 * never come back through the wrappers. A const initializer: in place before any code runs. */
#include "libc.h"
#include "real.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

#define FWD(ret, name, params, args)                                                               \
    static ret c_##name params                                                                     \
    {                                                                                              \
        return HFS_REAL(name) args;                                                                \
    }

FWD(int, open, (const char *p, int fl, mode_t m), (p, fl, m))
FWD(int, openat, (int d, const char *p, int fl, mode_t m), (d, p, fl, m))
FWD(int, close, (int fd), (fd))
FWD(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))
FWD(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
FWD(off_t, lseek, (int fd, off_t o, int w), (fd, o, w))
FWD(int, dup, (int fd), (fd))
FWD(int, fcntl, (int fd, int cmd, long arg), (fd, cmd, arg))
FWD(int, fstat, (int fd, struct stat *st), (fd, st))
FWD(int, ftruncate, (int fd, off_t n), (fd, n))
FWD(int, futimens, (int fd, const struct timespec ts[2]), (fd, ts))
FWD(int, fsetxattr, (int fd, const char *k, const void *v, size_t n, int fl), (fd, k, v, n, fl))
FWD(void *, mmap, (void *a, size_t n, int pr, int fl, int fd, off_t o), (a, n, pr, fl, fd, o))
FWD(ssize_t, copy_file_range, (int i, off_t *io, int o, off_t *oo, size_t n, unsigned fl),
    (i, io, o, oo, n, fl))
FWD(int, mkostemp, (char *t, int fl), (t, fl))
FWD(long, syscall, (long nr, long a, long b, long c, long d, long e, long f),
    (nr, a, b, c, d, e, f))
FWD(int, stat, (const char *p, struct stat *st), (p, st))
FWD(int, lstat, (const char *p, struct stat *st), (p, st))
FWD(int, fstatat, (int d, const char *p, struct stat *st, int fl), (d, p, st, fl))
FWD(int, access, (const char *p, int m), (p, m))
FWD(int, faccessat, (int d, const char *p, int m, int fl), (d, p, m, fl))
FWD(int, truncate, (const char *p, off_t n), (p, n))
FWD(int, mkdir, (const char *p, mode_t m), (p, m))
FWD(int, mkdirat, (int d, const char *p, mode_t m), (d, p, m))
FWD(int, mknodat, (int d, const char *p, mode_t m, dev_t dev), (d, p, m, dev))
FWD(int, rmdir, (const char *p), (p))
FWD(int, unlink, (const char *p), (p))
FWD(int, unlinkat, (int d, const char *p, int fl), (d, p, fl))
FWD(int, rename, (const char *a, const char *b), (a, b))
FWD(int, renameat2, (int da, const char *a, int db, const char *b, unsigned fl), (da, a, db, b, fl))
FWD(int, link, (const char *a, const char *b), (a, b))
FWD(int, linkat, (int da, const char *a, int db, const char *b, int fl), (da, a, db, b, fl))
FWD(int, symlink, (const char *t, const char *p), (t, p))
FWD(int, symlinkat, (const char *t, int d, const char *p), (t, d, p))
FWD(ssize_t, readlink, (const char *p, char *b, size_t n), (p, b, n))
FWD(ssize_t, readlinkat, (int d, const char *p, char *b, size_t n), (d, p, b, n))
FWD(int, fchmodat, (int d, const char *p, mode_t m, int fl), (d, p, m, fl))
FWD(int, fchownat, (int d, const char *p, uid_t u, gid_t g, int fl), (d, p, u, g, fl))
FWD(int, utimensat, (int d, const char *p, const struct timespec ts[2], int fl), (d, p, ts, fl))
FWD(ssize_t, lgetxattr, (const char *p, const char *k, void *v, size_t n), (p, k, v, n))
FWD(int, lsetxattr, (const char *p, const char *k, const void *v, size_t n, int fl),
    (p, k, v, n, fl))
FWD(int, statfs, (const char *p, struct statfs *st), (p, st))
FWD(int, statvfs, (const char *p, struct statvfs *st), (p, st))
FWD(DIR *, opendir, (const char *p), (p))
FWD(DIR *, fdopendir, (int fd), (fd))
FWD(struct dirent *, readdir, (DIR * d), (d))
FWD(int, closedir, (DIR * d), (d))
FWD(FILE *, fopen, (const char *p, const char *m), (p, m))
FWD(FILE *, fdopen, (int fd, const char *m), (fd, m))
FWD(int, fclose, (FILE * f), (f))
FWD(void *, dlopen, (const char *p, int fl), (p, fl))

#define C(name) .name = c_##name
const hfs_libc_ops hfs_libc_default = {
    C(open),
    C(openat),
    C(close),
    C(read),
    C(pread),
    C(lseek),
    C(dup),
    C(fcntl),
    C(fstat),
    C(ftruncate),
    C(futimens),
    C(fsetxattr),
    C(mmap),
    C(copy_file_range),
    C(mkostemp),
    C(syscall),
    C(stat),
    C(lstat),
    C(fstatat),
    C(access),
    C(faccessat),
    C(truncate),
    C(mkdir),
    C(mkdirat),
    C(mknodat),
    C(rmdir),
    C(unlink),
    C(unlinkat),
    C(rename),
    C(renameat2),
    C(link),
    C(linkat),
    C(symlink),
    C(symlinkat),
    C(readlink),
    C(readlinkat),
    C(fchmodat),
    C(fchownat),
    C(utimensat),
    C(lgetxattr),
    C(lsetxattr),
    C(statfs),
    C(statvfs),
    C(opendir),
    C(fdopendir),
    C(readdir),
    C(closedir),
    C(fopen),
    C(fdopen),
    C(fclose),
    C(dlopen),
    /* not wrapped by the shim: libc's own */
    .write = write,
    .pwrite = pwrite,
};
