/* Mirror directories: the real, empty directory behind every virtual directory's fd and behind a
 * virtual cwd, at <shim cache>/mirror<vpath>, so a child started there can map its kernel cwd
 * back. A user who may not create directories in that tree (a process that dropped to another
 * uid, a cache shared by several users) gets a tree of its own, /tmp/hfshim-mirror-<euid>,
 * created 0700 and used only if it is a real directory that user owns. */
#include "libc.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_mirror[PATH_MAX]; /* <shim cache>/mirror */
static size_t g_mlen;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    /* The cache path was cut to PATH_MAX already (config.c): a mirror that does not fit is
     * left empty, and nothing is taken for a mirror path. */
    if (hfs_fmt(g_mirror, sizeof g_mirror, "%s/mirror", hfs_cfg()->shim_cache)) g_mirror[0] = 0;
    g_mlen = strlen(g_mirror);
}

static void user_root(char *out, size_t n)
{
    snprintf(out, n, "/tmp/hfshim-mirror-%u", (unsigned)geteuid());
}

/* The per-user tree, created if needed; 0, or -errno when it is not safe to use. */
static int user_tree(char *out, size_t n)
{
    user_root(out, n);
    if (hfs_libc()->mkdir(out, 0700) && errno != EEXIST) return -errno;
    struct stat st;
    if (hfs_libc()->lstat(out, &st)) return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) return -EACCES;
    return 0;
}

int hfs_mirror_path(const char *vpath, char *out, size_t n)
{
    pthread_once(&g_once, init_once);
    if (hfs_fmt(out, n, "%s%s", g_mirror, vpath)) return -ENAMETOOLONG;
    int rc = hfs_mkdirs(out, 0755);
    if (rc != -EACCES && rc != -EPERM && rc != -EROFS) return rc;
    char root[64];
    if (user_tree(root, sizeof root)) return rc;
    if (hfs_fmt(out, n, "%s%s", root, vpath)) return -ENAMETOOLONG;
    return hfs_mkdirs(out, 0755);
}

int hfs_vfs_mirror_dir(const char *vpath, char *out, size_t n)
{
    struct stat st;
    int rc = hfs_vfs_stat(vpath, &st);
    if (rc) return rc;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    rc = hfs_mirror_path(vpath, out, n);
    if (rc) hfs_err("cannot create mirror directory %s: %s", out, strerror(-rc));
    return rc;
}

/* real inside root/: its virtual path in vout (1), else 0. */
static int strip(const char *real, const char *root, size_t rl, char *vout, size_t n)
{
    if (!rl || strncmp(real, root, rl) || real[rl] != '/') return 0;
    return !hfs_fmt(vout, n, "%s", real + rl);
}

int hfs_vfs_unmirror(const char *real, char *vout, size_t n)
{
    hfs_vfs_init();
    /* Every process asks this at start: answer "no" without reading the configuration when the
     * path cannot be a mirror directory. */
    if (!strstr(real, "mirror")) return 0;
    pthread_once(&g_once, init_once);
    char root[64];
    user_root(root, sizeof root);
    if (!strip(real, g_mirror, g_mlen, vout, n) && !strip(real, root, strlen(root), vout, n))
        return 0;
    return hfs_vfs_classify(vout) != HFS_NS_REAL;
}
