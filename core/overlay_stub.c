/* Temporary: the write API answers EROFS until the overlay lands. */
#include "vfs.h"

#include <errno.h>

int hfs_vfs_open2(const char *vpath, int flags, mode_t mode, hfs_vobj **out)
{
    (void)mode;
    return hfs_vfs_open(vpath, flags, out);
}
int hfs_vobj_is_local(const hfs_vobj *o)
{
    (void)o;
    return 0;
}
int hfs_vfs_lstat(const char *vpath, struct stat *st)
{
    return hfs_vfs_stat(vpath, st);
}
int hfs_vfs_mkdir(const char *v, mode_t m)
{
    (void)v;
    (void)m;
    return -EROFS;
}
int hfs_vfs_unlink(const char *v)
{
    (void)v;
    return -EROFS;
}
int hfs_vfs_rmdir(const char *v)
{
    (void)v;
    return -EROFS;
}
int hfs_vfs_rename(const char *a, const char *b, unsigned f)
{
    (void)a;
    (void)b;
    (void)f;
    return -EROFS;
}
int hfs_vfs_symlink(const char *t, const char *l)
{
    (void)t;
    (void)l;
    return -EROFS;
}
int hfs_vfs_readlink(const char *v, char *b, size_t n)
{
    (void)v;
    (void)b;
    (void)n;
    return -EINVAL;
}
int hfs_vfs_link(const char *a, const char *b)
{
    (void)a;
    (void)b;
    return -EROFS;
}
int hfs_vfs_chmod(const char *v, mode_t m, int nf)
{
    (void)v;
    (void)m;
    (void)nf;
    return -EROFS;
}
int hfs_vfs_chown(const char *v, uid_t u, gid_t g, int nf)
{
    (void)v;
    (void)u;
    (void)g;
    (void)nf;
    return -EROFS;
}
int hfs_vfs_utimens(const char *v, const struct timespec ts[2], int nf)
{
    (void)v;
    (void)ts;
    (void)nf;
    return -EROFS;
}
int hfs_vfs_truncate(const char *v, off_t l)
{
    (void)v;
    (void)l;
    return -EROFS;
}
int hfs_vfs_local_path(const char *v, int c, char *o, size_t n)
{
    (void)v;
    (void)c;
    (void)o;
    (void)n;
    return -EROFS;
}
