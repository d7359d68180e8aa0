/* Reading the mount table: a read-only open of /proc/self/mountinfo, /proc/self/mounts or one of
 * their other names gets a real fd on the core's copy, which has our mounts in it (df, findmnt
 * and mount then name them, type hfshim). setmntent opens through libc's internal fopen, which
 * the fopen wrapper never sees, so it is wrapped too. */
#include "open.h"
#include "real.h"
#include "vpath.h"

#include <mntent.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>

/* "/proc/mounts", or "/proc/<who>/mountinfo|mounts" with who "self", "thread-self" or our own
 * pid (another process's table is its own mount namespace): 1 mountinfo, 0 mounts, -1 neither.
 * The name is checked first, so other /proc files cost no getpid. */
static int proc_table(const char *p)
{
    if (!strcmp(p, "/proc/mounts")) return 0;
    const char *name = strrchr(p, '/');
    int t = !name ? -1 : !strcmp(name, "/mountinfo") ? 1 : !strcmp(name, "/mounts") ? 0 : -1;
    int devfd;
    const char *rest = t < 0 ? NULL : hfs_proc_self(p, &devfd);
    return rest && !devfd && rest == name + 1 ? t : -1;
}

/* Which table `path` is (1 mountinfo, 0 mounts, -1 neither); /etc/mtab counts when it is a
 * symlink to one of them, as on every systemd system. */
static int table_of(const char *path)
{
    if (strcmp(path, "/etc/mtab")) return proc_table(path);
    char link[HFS_PATH_MAX], norm[HFS_PATH_MAX];
    ssize_t n = HFS_REAL(readlink)(path, link, sizeof link - 1);
    if (n <= 0) return -1;
    link[n] = 0;
    if (HFS_CORE(hfs_path_normalize("/etc", link, norm, sizeof norm)) < 0) return -1;
    return proc_table(norm);
}

int hfs_mounttab_open(const char *path, int flags)
{
    if (!path || path[0] != '/' || flags < 0 || (flags & O_ACCMODE) != O_RDONLY ||
        (flags & (O_CREAT | O_TRUNC | O_DIRECTORY | O_PATH)))
        return -2;
    int saved = errno, t = table_of(path);
    if (t < 0) {
        errno = saved;
        return -2;
    }
    int fd = HFS_CORE(hfs_vfs_mounttab_fd(t, (flags & O_CLOEXEC) != 0));
    if (fd < 0) return hfs_fail(fd);
    errno = saved;
    return fd;
}

HFS_EXPORT FILE *setmntent(const char *file, const char *mode)
{
    if (HFS_IN_CORE() || !file || !mode || strchr(mode, '+') || mode[0] != 'r' || !hfs_ready())
        return HFS_REAL(setmntent)(file, mode);
    int fd = hfs_mounttab_open(file, O_RDONLY | O_CLOEXEC);
    if (fd == -2) return HFS_REAL(setmntent)(file, mode);
    if (fd < 0) return NULL;
    FILE *f = HFS_REAL(fdopen)(fd, "r");
    if (!f) {
        int e = errno;
        HFS_REAL(close)(fd);
        errno = e;
        return NULL;
    }
    __fsetlocking(f, FSETLOCKING_BYCALLER); /* as glibc's setmntent */
    return f;
}
