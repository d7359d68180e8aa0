/* The core's libc table where nothing is interposed (hfrun, the unit tests): plain libc.
 * Never linked into libhfshim.so or libhfshim-net.so, where these names are the shim's own
 * wrappers (libc.h; tests/check_seam.sh). */
#include "libc.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Fixed-arity fronts for the variadic calls. */
static int c_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}
static int c_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return openat(dirfd, path, flags, mode);
}
static int c_fcntl(int fd, int cmd, long arg)
{
    return fcntl(fd, cmd, arg);
}
static long c_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
    return syscall(nr, a, b, c, d, e, f);
}

const hfs_libc_ops hfs_libc_default = {
    .open = c_open,
    .openat = c_openat,
    .close = close,
    .read = read,
    .pread = pread,
    .write = write,
    .pwrite = pwrite,
    .lseek = lseek,
    .dup = dup,
    .fcntl = c_fcntl,
    .fstat = fstat,
    .ftruncate = ftruncate,
    .futimens = futimens,
    .fsetxattr = fsetxattr,
    .mmap = mmap,
    .copy_file_range = copy_file_range,
    .mkostemp = mkostemp,
    .syscall = c_syscall,
    .stat = stat,
    .lstat = lstat,
    .fstatat = fstatat,
    .access = access,
    .faccessat = faccessat,
    .truncate = truncate,
    .mkdir = mkdir,
    .mkdirat = mkdirat,
    .mknodat = mknodat,
    .rmdir = rmdir,
    .unlink = unlink,
    .unlinkat = unlinkat,
    .rename = rename,
    .renameat2 = renameat2,
    .link = link,
    .linkat = linkat,
    .symlink = symlink,
    .symlinkat = symlinkat,
    .readlink = readlink,
    .readlinkat = readlinkat,
    .fchmodat = fchmodat,
    .fchownat = fchownat,
    .utimensat = utimensat,
    .lgetxattr = lgetxattr,
    .lsetxattr = lsetxattr,
    .statfs = statfs,
    .statvfs = statvfs,
    .opendir = opendir,
    .fdopendir = fdopendir,
    .readdir = readdir,
    .closedir = closedir,
    .fopen = fopen,
    .fdopen = fdopen,
    .fclose = fclose,
    .dlopen = dlopen,
};
