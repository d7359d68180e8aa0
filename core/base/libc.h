/* The core's seam to libc: every libc entry point the core (and the network module) calls that
 * the shim also wraps, plus the few write-path calls a fault-injection test needs, is called
 * through this one table and never by name. Under LD_PRELOAD a call by name would bind to the
 * shim's own exported wrapper and re-enter it; through the table it goes straight to libc.
 *
 * Which table: a link-time default, hfs_libc_default, set before anything runs. libhfshim.so's
 * comes from preload/core_libc.c (the real entry points, through preload/real.c's slots);
 * hfrun's and the unit tests', where nothing is interposed, from core/base/libc_plain.c (plain
 * libc). The network module is lent the core's table at load (net.h's hfs_net_services).
 * tests/check_seam.sh fails `make test` if a core object calls a wrapped name directly.
 *
 * Variadic calls get fixed-arity members: open/openat take the mode, fcntl a long, syscall six
 * longs. Same conventions as the libc calls (-1 or NULL and errno). */
#pragma once
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

typedef struct hfs_libc_ops {
    /* descriptors */
    int (*open)(const char *path, int flags, mode_t mode);
    int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    off_t (*lseek)(int fd, off_t off, int whence);
    int (*dup)(int fd);
    int (*fcntl)(int fd, int cmd, long arg);
    int (*fstat)(int fd, struct stat *st);
    int (*ftruncate)(int fd, off_t len);
    int (*futimens)(int fd, const struct timespec ts[2]);
    int (*fsetxattr)(int fd, const char *name, const void *v, size_t n, int flags);
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    ssize_t (*copy_file_range)(int in, off_t *in_off, int out, off_t *out_off, size_t n,
                               unsigned flags);
    int (*mkostemp)(char *tmpl, int flags);
    long (*syscall)(long nr, long a, long b, long c, long d, long e, long f);
    /* paths */
    int (*stat)(const char *path, struct stat *st);
    int (*lstat)(const char *path, struct stat *st);
    int (*fstatat)(int dirfd, const char *path, struct stat *st, int flags);
    int (*access)(const char *path, int mode);
    int (*faccessat)(int dirfd, const char *path, int mode, int flags);
    int (*truncate)(const char *path, off_t len);
    int (*mkdir)(const char *path, mode_t mode);
    int (*mkdirat)(int dirfd, const char *path, mode_t mode);
    int (*mknodat)(int dirfd, const char *path, mode_t mode, dev_t dev);
    int (*rmdir)(const char *path);
    int (*unlink)(const char *path);
    int (*unlinkat)(int dirfd, const char *path, int flags);
    int (*rename)(const char *from, const char *to);
    int (*renameat2)(int fromfd, const char *from, int tofd, const char *to, unsigned flags);
    int (*link)(const char *from, const char *to);
    int (*linkat)(int fromfd, const char *from, int tofd, const char *to, int flags);
    int (*symlink)(const char *target, const char *path);
    int (*symlinkat)(const char *target, int dirfd, const char *path);
    ssize_t (*readlink)(const char *path, char *buf, size_t n);
    ssize_t (*readlinkat)(int dirfd, const char *path, char *buf, size_t n);
    int (*fchmodat)(int dirfd, const char *path, mode_t mode, int flags);
    int (*fchownat)(int dirfd, const char *path, uid_t uid, gid_t gid, int flags);
    int (*utimensat)(int dirfd, const char *path, const struct timespec ts[2], int flags);
    ssize_t (*lgetxattr)(const char *path, const char *name, void *v, size_t n);
    int (*lsetxattr)(const char *path, const char *name, const void *v, size_t n, int flags);
    int (*statfs)(const char *path, struct statfs *st);
    int (*statvfs)(const char *path, struct statvfs *st);
    /* directories and streams */
    DIR *(*opendir)(const char *path);
    DIR *(*fdopendir)(int fd);
    struct dirent *(*readdir)(DIR *d);
    int (*closedir)(DIR *d);
    FILE *(*fopen)(const char *path, const char *mode);
    FILE *(*fdopen)(int fd, const char *mode);
    int (*fclose)(FILE *f);
    /* the network module's loading */
    void *(*dlopen)(const char *path, int flags);
} hfs_libc_ops;

/* The link's default table (see above). */
extern const hfs_libc_ops hfs_libc_default __attribute__((visibility("hidden")));

/* The table in use: one load, no lock (read on every core call into libc, never on the shim's
 * fast path, which does not enter the core). */
extern const hfs_libc_ops *hfs_libc_cur __attribute__((visibility("hidden")));
static inline const hfs_libc_ops *hfs_libc(void)
{
    return __atomic_load_n(&hfs_libc_cur, __ATOMIC_ACQUIRE);
}

/* For tests only (fault injection): installs t (NULL: the default) and returns the table it
 * replaces. The shim never calls it: its table is the link-time default, in place before any
 * code runs. Core only; the network module keeps the table it was lent at load. */
const hfs_libc_ops *hfs_libc_set(const hfs_libc_ops *t);
