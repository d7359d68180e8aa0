/* Conversions between the stat-like structures (field by field, whatever the ABI). */
#pragma once
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

static inline void hfs_stat_to64(const struct stat *s, struct stat64 *d)
{
    memset(d, 0, sizeof *d);
    d->st_dev = s->st_dev;
    d->st_ino = s->st_ino;
    d->st_mode = s->st_mode;
    d->st_nlink = s->st_nlink;
    d->st_uid = s->st_uid;
    d->st_gid = s->st_gid;
    d->st_rdev = s->st_rdev;
    d->st_size = s->st_size;
    d->st_blksize = s->st_blksize;
    d->st_blocks = s->st_blocks;
    d->st_atim = s->st_atim;
    d->st_mtim = s->st_mtim;
    d->st_ctim = s->st_ctim;
}

static inline void hfs_stat_to_statx(const struct stat *s, unsigned mask, struct statx *x)
{
    (void)mask; /* everything basic is always there */
    memset(x, 0, sizeof *x);
    x->stx_mask = STATX_BASIC_STATS;
    x->stx_blksize = (unsigned)s->st_blksize;
    x->stx_nlink = (unsigned)s->st_nlink;
    x->stx_uid = s->st_uid;
    x->stx_gid = s->st_gid;
    x->stx_mode = (unsigned short)s->st_mode;
    x->stx_ino = s->st_ino;
    x->stx_size = (unsigned long long)s->st_size;
    x->stx_blocks = (unsigned long long)s->st_blocks;
    x->stx_atime.tv_sec = s->st_atim.tv_sec;
    x->stx_atime.tv_nsec = (unsigned)s->st_atim.tv_nsec;
    x->stx_mtime.tv_sec = s->st_mtim.tv_sec;
    x->stx_mtime.tv_nsec = (unsigned)s->st_mtim.tv_nsec;
    x->stx_ctime.tv_sec = s->st_ctim.tv_sec;
    x->stx_ctime.tv_nsec = (unsigned)s->st_ctim.tv_nsec;
    x->stx_rdev_major = major(s->st_rdev);
    x->stx_rdev_minor = minor(s->st_rdev);
    x->stx_dev_major = major(s->st_dev);
    x->stx_dev_minor = minor(s->st_dev);
}

static inline void hfs_statfs_to64(const struct statfs *s, struct statfs64 *d)
{
    memset(d, 0, sizeof *d);
    d->f_type = s->f_type;
    d->f_bsize = s->f_bsize;
    d->f_blocks = s->f_blocks;
    d->f_bfree = s->f_bfree;
    d->f_bavail = s->f_bavail;
    d->f_files = s->f_files;
    d->f_ffree = s->f_ffree;
    d->f_fsid = s->f_fsid;
    d->f_namelen = s->f_namelen;
    d->f_frsize = s->f_frsize;
    d->f_flags = s->f_flags;
}

static inline void hfs_statvfs_to64(const struct statvfs *s, struct statvfs64 *d)
{
    memset(d, 0, sizeof *d);
    d->f_bsize = s->f_bsize;
    d->f_frsize = s->f_frsize;
    d->f_blocks = s->f_blocks;
    d->f_bfree = s->f_bfree;
    d->f_bavail = s->f_bavail;
    d->f_files = s->f_files;
    d->f_ffree = s->f_ffree;
    d->f_favail = s->f_favail;
    d->f_fsid = s->f_fsid;
    d->f_flag = s->f_flag;
    d->f_namemax = s->f_namemax;
}
