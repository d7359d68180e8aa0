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
