/* System calls on paths of any length. A virtual path is a cwd deep in a mount plus a relative
 * argument of up to PATH_MAX bytes, so its overlay and mirror paths can be longer than the
 * kernel takes in one argument (ENAMETOOLONG). These take such a path: a short one goes to the
 * call as it is; a long one is reached through O_PATH descriptors of its leading directories,
 * each opened with less than PATH_MAX bytes, and the *at form of the call. Same conventions as
 * the libc calls they stand for (-1 and errno). */
#pragma once
#include <dirent.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* (dirfd, rel) naming `path`: dirfd is AT_FDCWD and rel path itself when it is short. */
typedef struct {
    int dirfd;
    const char *rel;
} hfs_at;
int hfs_at_open(const char *path, hfs_at *a);
void hfs_at_close(hfs_at *a); /* keeps errno */
/* A path string for calls with no *at form (xattrs): rel, or /proc/self/fd/<dirfd>/<rel>. */
const char *hfs_at_spell(const hfs_at *a, char *buf, size_t n);

int hfs_sys_lstat(const char *path, struct stat *st);
int hfs_sys_stat(const char *path, struct stat *st);
int hfs_sys_open(const char *path, int flags, mode_t mode);
DIR *hfs_sys_opendir(const char *path);
int hfs_sys_mkdir(const char *path, mode_t mode);
int hfs_sys_mknod(const char *path, mode_t mode, dev_t dev);
int hfs_sys_rmdir(const char *path);
int hfs_sys_unlink(const char *path);
int hfs_sys_rename2(const char *from, const char *to, unsigned flags);
int hfs_sys_link(const char *from, const char *to);
int hfs_sys_symlink(const char *target, const char *path);
ssize_t hfs_sys_readlink(const char *path, char *buf, size_t n);
int hfs_sys_chmod(const char *path, mode_t mode);
int hfs_sys_chown(const char *path, uid_t uid, gid_t gid, int nofollow);
int hfs_sys_utimens(const char *path, const struct timespec ts[2], int nofollow);
int hfs_sys_truncate(const char *path, off_t len);
int hfs_sys_access(const char *path, int mode);
ssize_t hfs_sys_lgetxattr(const char *path, const char *name, void *v, size_t n);
int hfs_sys_lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags);
