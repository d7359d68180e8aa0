/* The real directories above a mount point or the prefix ("ancestors"). They belong to the real
 * file system, but a mount must show through them: a listing of one includes the next component
 * of every mount below it, and an ancestor that does not exist really exists virtually (an empty
 * directory on the device of its nearest real ancestor). Nothing here ever writes to the real
 * file system. */
#include "libc.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *dir; /* normalized ancestor */
    size_t len;
    int (*cb)(const char *name, size_t n, void *arg);
    void *arg;
    int found;
} below_walk;

/* If the mount or prefix `m` lies strictly below w->dir, report the component that follows. */
static int visit(const char *m, below_walk *w)
{
    size_t l = w->len;
    if (strlen(m) <= l || strncmp(m, w->dir, l)) return 0;
    const char *rest = m + l;
    if (l > 1) {
        if (*rest != '/') return 0;
        rest++;
    }
    w->found = 1;
    if (!w->cb) return 1; /* only asked whether there is one */
    return w->cb(rest, strcspn(rest, "/"), w->arg);
}

static int visit_mount(const char *path, const hfs_spec *s, const char *sub, void *arg)
{
    (void)s;
    (void)sub;
    return visit(path, arg);
}

static int walk_below(const char *dir, int (*cb)(const char *, size_t, void *), void *arg)
{
    hfs_vfs_init();
    below_walk w = {dir, strlen(dir), cb, arg, 0};
    int rc = visit(hfs_prefix(), &w);
    if (!rc) rc = hfs_vfs_each_mount(visit_mount, &w);
    return rc < 0 ? rc : w.found;
}

/* No "//", "/.", "/.." or trailing '/': the spelling is already the normalized one. */
static int looks_normal(const char *p)
{
    for (const char *s = p; *s; s++)
        if (s[0] == '/' && (s[1] == '/' || s[1] == '.' || (!s[1] && s != p))) return 0;
    return 1;
}

static int classify_normal(const char *p)
{
    if (hfs_vfs_covers(p)) return HFS_NS_VIRTUAL;
    if (p[0] != '/' || !hfs_vfs_first[(unsigned char)p[1]]) return HFS_NS_REAL;
    return walk_below(p, NULL, NULL) > 0 ? HFS_NS_NEAR : HFS_NS_REAL;
}

int hfs_vfs_classify(const char *p)
{
    if (looks_normal(p)) return classify_normal(p);
    /* "/tmp/p/x/../mnt" is in the mount, "/tmp/p/mnt/../x" is not */
    char n[HFS_PATH_MAX];
    if (hfs_path_normalize("/", p, n, sizeof n) < 0)
        return hfs_vfs_covers(p) ? HFS_NS_VIRTUAL : HFS_NS_REAL;
    return classify_normal(n);
}

int hfs_vfs_touches(const char *p)
{
    if (hfs_vfs_covers(p)) return 1;
    if (!looks_normal(p)) return hfs_vfs_classify(p) != HFS_NS_REAL;
    return p[0] == '/' && hfs_vfs_first[(unsigned char)p[1]] && walk_below(p, NULL, NULL) > 0;
}

int hfs_vfs_near_children(const char *dir, int (*cb)(const char *name, size_t n, void *arg),
                          void *arg)
{
    int rc = walk_below(dir, cb, arg);
    return rc < 0 ? rc : 0;
}

uint64_t hfs_near_ino(const char *path)
{
    return hfs_ino_of("hfshim-ancestor", path);
}

/* The nearest path at or above `path` (strictly above unless self) that exists really. */
static int nearest_real(const char *path, int self, char *out, size_t n, struct stat *st)
{
    if (hfs_fmt(out, n, "%s", path)) return -ENAMETOOLONG;
    for (int first = 1;; first = 0) {
        if (!first || !self) {
            char *slash = strrchr(out, '/');
            if (!slash || !strcmp(out, "/")) return -ENOENT;
            *(slash == out ? slash + 1 : slash) = 0;
        }
        if (hfs_libc()->lstat(out, st) == 0) return 0;
        if (errno != ENOENT && errno != ENOTDIR) return -errno;
    }
}

int hfs_vfs_near_stat(const char *path, struct stat *st)
{
    /* Borrow device, owner and times from the nearest ancestor that exists really. */
    char up[PATH_MAX];
    int rc = nearest_real(path, 0, up, sizeof up, st);
    if (rc) return rc;
    if (!S_ISDIR(st->st_mode)) return -ENOTDIR; /* a real file stands where a directory should */
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    st->st_ino = hfs_near_ino(path);
    st->st_size = 0;
    st->st_blocks = 0;
    return 0;
}

int hfs_near_stat_path(const char *path, int follow, struct stat *st)
{
    if (hfs_vfs_classify(path) != HFS_NS_NEAR) return -ENOENT;
    if ((follow ? hfs_libc()->stat(path, st) : hfs_libc()->lstat(path, st)) == 0) return 0;
    return errno == ENOENT ? hfs_vfs_near_stat(path, st) : -errno;
}

int hfs_near_real_dir(const char *path, char *out, size_t n)
{
    struct stat st;
    if (hfs_vfs_classify(path) != HFS_NS_NEAR) return -ENOENT;
    return nearest_real(path, 1, out, n, &st);
}
