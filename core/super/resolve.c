/* Path arguments of a supervised call: read from the program, resolved against its cwd or
 * dirfd as the interposer resolves them (preload/vpath.c), with /proc/<tid> in place of the
 * shim's own records: an fd or cwd on a mirror directory leads back to its virtual path. */
#include "sv.h"
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int sv_fd_virtual(const sv_call *c, int fd, char *out, size_t n)
{
    char what[32], real[HFS_PATH_MAX];
    snprintf(what, sizeof what, "fd/%d", fd);
    if (sv_proc_link(c->tid, what, real, sizeof real) <= 0 || real[0] != '/') return 0;
    if (hfs_vfs_unmirror(real, out, n) == 1) return 1;
    if (hfs_vfs_classify(real) != HFS_NS_NEAR) return 0;
    snprintf(out, n, "%s", real);
    return 2;
}

static int under(const char *p, const char *dir)
{
    size_t l = strlen(dir);
    return l && !strncmp(p, dir, l) && p[l] == '/';
}

int sv_fd_in_cache(const sv_call *c, int fd)
{
    char what[32], real[HFS_PATH_MAX];
    snprintf(what, sizeof what, "fd/%d", fd);
    if (sv_proc_link(c->tid, what, real, sizeof real) <= 0) return 0;
    const hfs_config *cfg = hfs_cfg();
    return under(real, cfg->hub_cache) || under(real, cfg->shim_cache);
}

/* The directory relative paths start from. 1: base filled (*base_real: a real directory the
 * kernel reaches as the program spells it), 0: the kernel decides (a bad dirfd, not a
 * directory), or -errno. */
static int base_of(sv_call *c, int dirfd, char *base, size_t n, int *base_real)
{
    char real[HFS_PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (sv_cwd_get(c, base, n)) {
            *base_real = 0;
            return 1;
        }
        if (sv_proc_link(c->tid, "cwd", real, sizeof real) <= 0 || real[0] != '/') return 0;
    } else {
        char what[32];
        snprintf(what, sizeof what, "fd/%d", dirfd);
        if (sv_proc_link(c->tid, what, real, sizeof real) <= 0 || real[0] != '/') return 0;
    }
    if (hfs_vfs_unmirror(real, base, n) == 1) {
        *base_real = 0;
        return 1;
    }
    *base_real = 1;
    return hfs_fmt(base, n, "%s", real) ? 0 : 1;
}

int sv_resolve(sv_call *c, int dirfd, uint64_t addr, sv_path *p)
{
    char arg[PATH_MAX];
    int l = sv_read_str(c, addr, arg, sizeof arg);
    if (l < 0) return l;
    p->ns = HFS_NS_REAL;
    p->empty = l == 0;
    p->spelled = 1;
    p->path[0] = 0;
    p->trailing_slash = l > 0 && arg[l - 1] == '/';
    p->final = hfs_path_final(arg, NULL);
    if (!l) return 0; /* "": the kernel's ENOENT (AT_EMPTY_PATH is the handlers' business) */
    char base[HFS_PATH_MAX];
    int base_real = 1;
    if (arg[0] == '/') {
        if (!hfs_vfs_touches(arg)) return 0;
        strcpy(base, "/");
    } else {
        int rc = base_of(c, dirfd, base, sizeof base, &base_real);
        if (rc <= 0) return rc;
        /* From a real directory that is no ancestor of a mount, only ".." can reach one. */
        if (base_real && !hfs_path_has_dotdot(arg) && hfs_vfs_classify(base) == HFS_NS_REAL)
            return 0;
    }
    int n = hfs_path_normalize(base, arg, p->path, sizeof p->path);
    if (n < 0) return base_real ? 0 : n;
    p->ns = hfs_vfs_classify(p->path);
    p->spelled = base_real && !(hfs_path_has_dotdot(arg) && hfs_path_through_virtual(base, arg));
    if (p->ns == HFS_NS_REAL && p->spelled) return 0;
    /* What was read (the path, the cwd, the dirfd's target) belongs to this call only while it
     * is pending: the thread may have died and its pid been reused. */
    if (!sv_valid(c)) return -ESRCH;
    if (p->ns != HFS_NS_REAL) return 1;
    /* A real result the kernel cannot reach as spelled: the handler acts on the normalized
     * path, keeping a trailing '/' so that the kernel still checks for a directory. */
    if (p->trailing_slash && n > 1 && (size_t)n + 1 < sizeof p->path) {
        p->path[n] = '/';
        p->path[n + 1] = 0;
    }
    return 1;
}

int sv_vstat(const sv_path *p, int nofollow, struct stat *st)
{
    int rc;
    if (p->ns == HFS_NS_NEAR) {
        /* A real ancestor is itself; a missing one exists only virtually. */
        rc = nofollow ? lstat(p->path, st) : stat(p->path, st);
        if (rc && errno == ENOENT)
            rc = hfs_vfs_near_stat(p->path, st);
        else if (rc)
            rc = -errno;
    } else if (nofollow && !p->trailing_slash) {
        rc = hfs_vfs_lstat(p->path, st);
    } else {
        rc = hfs_vfs_stat(p->path, st);
    }
    if (rc == 0 && p->trailing_slash && !S_ISDIR(st->st_mode)) rc = -ENOTDIR;
    return rc;
}

int sv_fd_stat(sv_call *c, int fd, struct stat *st)
{
    char what[64], v[HFS_PATH_MAX];
    struct stat b;
    snprintf(what, sizeof what, "/proc/%d/fd/%d", (int)c->tid, fd);
    if (stat(what, &b)) return 0; /* EBADF and the like: the kernel says it */
    const char *vp = NULL;
    if (S_ISDIR(b.st_mode)) {
        if (sv_fd_virtual(c, fd, v, sizeof v) == 1) vp = v;
    } else {
        vp = sv_fdmap_get(b.st_dev, b.st_ino);
    }
    if (!vp) return 0;
    int rc =
        hfs_vfs_classify(vp) == HFS_NS_VIRTUAL ? hfs_vfs_stat(vp, st) : hfs_vfs_near_stat(vp, st);
    if (rc) return 0; /* renamed or removed since: the backing file's own answer */
    return sv_valid(c) ? 1 : -ESRCH;
}
