/* statvfs/statfs of virtual paths: writes land in the local overlay, so the virtual file system
 * is writable and has the overlay's free space (df, installers and caches check it before
 * writing). Device identity stays virtual: f_fsid follows st_dev, one per repo. */
#include "libc.h"
#include "overlay.h"
#include "vfs.h"
#include "vfs_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define ST_VALID_FLAG 0x0020 /* Linux's ST_VALID: f_flags is meaningful (glibc reads it) */

/* The real file system that holds (or will hold) the overlay: statvfs of the overlay base or of
 * its nearest existing ancestor, so measuring creates nothing. */
static int overlay_statvfs(struct statvfs *sv)
{
    char p[PATH_MAX];
    int rc = hfs_overlay_base(p, sizeof p);
    if (rc) return rc;
    for (;;) {
        if (hfs_libc()->statvfs(p, sv) == 0) return 0;
        if (errno != ENOENT && errno != ENOTDIR) return -errno;
        char *slash = strrchr(p, '/');
        if (!slash) { /* a relative base: its ancestor is the cwd */
            if (!strcmp(p, ".")) return -ENOENT;
            strcpy(p, ".");
        } else if (slash == p) {
            if (!p[1]) return -ENOENT;
            p[1] = 0;
        } else
            *slash = 0;
    }
}

/* The parts common to both calls: the virtual st_dev, and the overlay's real sizes. */
static int measure(const char *vpath, struct stat *st, struct statvfs *real)
{
    int rc = hfs_vfs_stat(vpath, st);
    if (rc) return rc;
    int saved = errno;
    rc = overlay_statvfs(real);
    errno = saved;
    return rc;
}

int hfs_vfs_statvfs(const char *vpath, struct statvfs *sv)
{
    if (!hfs_vfs_covers(vpath)) { /* an ancestor of a mount: the real file system it is on */
        char real[PATH_MAX];
        int rc = hfs_near_real_dir(vpath, real, sizeof real);
        return rc ? rc : hfs_libc()->statvfs(real, sv) ? -errno : 0;
    }
    struct stat st;
    struct statvfs r;
    int rc = measure(vpath, &st, &r);
    if (rc) return rc;
    memset(sv, 0, sizeof *sv);
    sv->f_bsize = r.f_bsize;
    sv->f_frsize = r.f_frsize;
    sv->f_blocks = r.f_blocks;
    sv->f_bfree = r.f_bfree;
    sv->f_bavail = r.f_bavail;
    sv->f_files = r.f_files;
    sv->f_ffree = r.f_ffree;
    sv->f_favail = r.f_favail;
    sv->f_namemax = 255;
    sv->f_fsid = (unsigned long)st.st_dev;
    sv->f_flag = ST_NOSUID | ST_NODEV;
    return 0;
}

int hfs_vfs_statfs(const char *vpath, struct statfs *sf)
{
    if (!hfs_vfs_covers(vpath)) {
        char real[PATH_MAX];
        int rc = hfs_near_real_dir(vpath, real, sizeof real);
        return rc ? rc : hfs_libc()->statfs(real, sf) ? -errno : 0;
    }
    struct statvfs sv; /* the same answer in statfs's shape */
    int rc = hfs_vfs_statvfs(vpath, &sv);
    if (rc) return rc;
    memset(sf, 0, sizeof *sf);
    sf->f_type = HFS_FS_MAGIC;
    sf->f_bsize = (__fsword_t)sv.f_bsize;
    sf->f_frsize = (__fsword_t)sv.f_frsize;
    sf->f_blocks = sv.f_blocks;
    sf->f_bfree = sv.f_bfree;
    sf->f_bavail = sv.f_bavail;
    sf->f_files = sv.f_files;
    sf->f_ffree = sv.f_ffree;
    sf->f_namelen = (__fsword_t)sv.f_namemax;
    sf->f_flags = ST_VALID_FLAG | (__fsword_t)sv.f_flag;
    memcpy(&sf->f_fsid, &sv.f_fsid,
           sizeof sf->f_fsid < sizeof sv.f_fsid ? sizeof sf->f_fsid : sizeof sv.f_fsid);
    return 0;
}
