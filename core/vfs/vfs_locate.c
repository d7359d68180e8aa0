/* Where a virtual path points: the local overlay first (whiteouts and opaque directories hide
 * remote entries), then the remote snapshot's tree index. An untouched repo costs one lstat. */
#include "libc.h"
#include "config.h"
#include "log.h"
#include "overlay.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"
#include "sys_path.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "hash.h"

#define MAX_LINKS 40

/* Owner of virtual entries: the process's ids, read once (setuid programs drop LD_PRELOAD). */
static uid_t g_uid;
static gid_t g_gid;
static pthread_once_t g_ids_once = PTHREAD_ONCE_INIT;
static void read_ids(void)
{
    g_uid = getuid();
    g_gid = getgid();
}

uint64_t hfs_ino_of(const char *a, const char *b)
{
    uint64_t h =
        XXH3_64bits_withSeed(b, strlen(b), XXH3_64bits(a, strlen(a))) & 0x7fffffffffffffffull;
    return h ? h : 1;
}

#define INO_XATTR HFS_OWN_XATTR_PREFIX "ino"

/* The number kept on the overlay entry at upper, or 0. */
static uint64_t kept_ino(const char *upper)
{
    char v[24];
    int saved = errno;
    ssize_t n = upper ? hfs_sys_lgetxattr(upper, INO_XATTR, v, sizeof v - 1) : -1;
    errno = saved;
    if (n <= 0) return 0;
    v[n] = 0;
    char *end;
    unsigned long long ino = strtoull(v, &end, 16);
    return !*end ? ino : 0;
}

uint64_t hfs_dir_ino(const char *upper, const char *key, const char *rpath)
{
    uint64_t ino = kept_ino(upper);
    return ino ? ino : hfs_ino_of(key, rpath);
}

uint64_t hfs_file_ino(const char *upper, uint64_t real)
{
    uint64_t ino = kept_ino(upper);
    return ino ? ino : real;
}

void hfs_file_ino_keep(int fd, const char *key, const char *rpath)
{
    char v[24];
    int saved = errno;
    snprintf(v, sizeof v, "%llx", (unsigned long long)hfs_ino_of(key, rpath));
    (void)hfs_libc()->fsetxattr(fd, INO_XATTR, v, strlen(v),
                                0); /* without xattrs: the number changes once */
    errno = saved;
}

/* Keep the inode number of the directory at upper (repo path rpath) and of every directory
 * below it: their paths all change with the rename. */
static void keep_tree(const char *upper, const char *key, const char *rpath, int depth, int tree)
{
    char v[24];
    if (hfs_sys_lgetxattr(upper, INO_XATTR, v, sizeof v) < 0) {
        if (errno != ENODATA) return; /* no xattrs here: numbers follow the new paths */
        snprintf(v, sizeof v, "%llx", (unsigned long long)hfs_ino_of(key, rpath));
        if (hfs_sys_lsetxattr(upper, INO_XATTR, v, strlen(v), XATTR_CREATE) && errno != EEXIST)
            return;
    }
    DIR *d = tree && depth < 64 ? hfs_sys_opendir(upper) : NULL;
    if (!d) return;
    struct dirent *de;
    while ((de = hfs_libc()->readdir(d))) {
        const char *vn;
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            hfs_ov_name_kind(de->d_name, &vn) != HFS_OVN_ENTRY)
            continue;
        char cu[HFS_PATH_MAX], cr[HFS_PATH_MAX];
        if (hfs_fmt(cu, sizeof cu, "%s/%s", upper, de->d_name) ||
            hfs_fmt(cr, sizeof cr, "%s%s%s", rpath, *rpath ? "/" : "", vn))
            continue;
        keep_tree(cu, key, cr, depth + 1, 1);
    }
    hfs_libc()->closedir(d);
}

void hfs_dir_ino_keep(const char *upper, const char *key, const char *rpath, int tree)
{
    int saved = errno;
    keep_tree(upper, key, rpath, 0, tree);
    errno = saved;
}

static int exists(const char *dir, const char *name)
{
    char p[HFS_PATH_MAX];
    struct stat st;
    return !hfs_fmt(p, sizeof p, "%s/%s", dir, name) && hfs_sys_lstat(p, &st) == 0;
}

static int locate_depth(const char *vpath, int follow, hfs_loc *L, int depth);

/* A symlink at `link` (an overlay path) stands for virtual path `vlink`; continue with its
 * target followed by `rest`. Out of line: its 16 KiB of buffers would otherwise sit in
 * walk_overlay's frame and push every later call deeper into fresh stack pages. */
__attribute__((noinline)) static int follow_link(const char *link, const char *vlink,
                                                 const char *rest, int follow, hfs_loc *L,
                                                 int depth)
{
    if (depth >= MAX_LINKS) return -ELOOP;
    char target[HFS_PATH_MAX], base[HFS_PATH_MAX], joined[HFS_PATH_MAX], next[HFS_PATH_MAX];
    ssize_t n = hfs_sys_readlink(link, target, sizeof target - 1);
    if (n < 0) return -errno;
    target[n] = 0;
    snprintf(base, sizeof base, "%s", vlink);
    char *slash = strrchr(base, '/');
    if (slash) *(slash == base ? slash + 1 : slash) = 0;
    if (hfs_fmt(joined, sizeof joined, "%s%s%s", target, *rest ? "/" : "", rest))
        return -ENAMETOOLONG;
    if (hfs_path_normalize(base, joined, next, sizeof next) < 0) return -ENAMETOOLONG;
    if (hfs_vfs_covers(next)) return locate_depth(next, follow, L, depth + 1);
    /* Outside the virtual tree: the kernel resolves the rest. */
    memset(L, 0, sizeof *L);
    L->kind = HFS_VL_EXTERNAL;
    snprintf(L->vpath, sizeof L->vpath, "%s", next);
    snprintf(L->upper, sizeof L->upper, "%s", next);
    if ((follow ? hfs_sys_stat(next, &L->ust) : hfs_sys_lstat(next, &L->ust))) return -errno;
    L->local = 1;
    return 0;
}

/* The symlink at `cur` stands for the virtual path without `rest`. */
__attribute__((noinline)) static int follow_link_at(const char *cur, const char *vpath,
                                                    const char *rest, int follow, hfs_loc *L,
                                                    int depth)
{
    char vlink[HFS_PATH_MAX];
    size_t vl = strlen(vpath) - strlen(rest) - (*rest ? 1 : 0);
    if (strlen(vpath) < strlen(rest) + 1 || strcmp(vpath + vl + (*rest ? 1 : 0), rest))
        return -ELOOP; /* link inside a mount's subfolder prefix: not supported */
    snprintf(vlink, sizeof vlink, "%.*s", (int)vl, vpath);
    return follow_link(cur, vlink, rest, follow, L, depth);
}

/* Walk rpath through upper/. Returns 0, a negative errno, or 1 when a symlink was followed
 * (L already holds the final answer). */
static int walk_overlay(const char *vpath, int follow, hfs_loc *L, int depth)
{
    struct stat st;
    L->local = 0;
    L->hidden = 0;
    if (hfs_ov_path(L->uroot, L->rpath, L->upper, sizeof L->upper)) return -ENAMETOOLONG;
    /* A repo without an overlay (the common, read-only case) costs no system call while no
     * process has changed any overlay since we last looked. */
    uint64_t gen = hfs_overlay_generation();
    if (gen != UINT64_MAX && __atomic_load_n(&L->repo->no_overlay_gen, __ATOMIC_ACQUIRE) == gen + 1)
        return 0;
    if (hfs_sys_lstat(L->uroot, &st) || !S_ISDIR(st.st_mode)) {
        if (gen != UINT64_MAX)
            __atomic_store_n(&L->repo->no_overlay_gen, gen + 1, __ATOMIC_RELEASE);
        return 0; /* no overlay for this repo */
    }
    if (!*L->rpath) {
        L->local = 1;
        L->ust = st;
        return 0;
    }
    char cur[HFS_PATH_MAX];
    snprintf(cur, sizeof cur, "%s", L->uroot);
    int hidden = exists(cur, HFS_WH_OPAQUE);
    const char *p = L->rpath;
    while (*p) {
        size_t len = strcspn(p, "/");
        const char *rest = p + len + (p[len] == '/');
        int last = !*rest;
        char name[sizeof HFS_WH_ESCAPE + NAME_MAX], wh[sizeof HFS_WH_PREFIX + sizeof name];
        if (len > NAME_MAX) return -ENAMETOOLONG;
        hfs_ov_escape(p, len, name, sizeof name);
        size_t sl = strlen(name);
        if (sl > NAME_MAX) break; /* escaped, too long to be stored: nothing local */
        snprintf(wh, sizeof wh, HFS_WH_PREFIX "%s", name);
        if (exists(cur, wh)) hidden = 1;
        size_t cl = strlen(cur);
        if (cl + 1 + sl >= sizeof cur) return -ENAMETOOLONG;
        cur[cl] = '/';
        memcpy(cur + cl + 1, name, sl + 1);
        if (hfs_sys_lstat(cur, &st)) {
            /* nothing local at or below this level; a directory on the way the caller may not
             * search is the kernel's EACCES, never "missing" */
            if (errno == ENOENT) break;
            return -errno;
        }
        if (S_ISLNK(st.st_mode) && (!last || follow)) {
            int rc = follow_link_at(cur, vpath, rest, follow, L, depth);
            return rc ? rc : 1;
        }
        if (last) {
            L->local = 1;
            L->ust = st;
            break;
        }
        if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
        if (exists(cur, HFS_WH_OPAQUE)) hidden = 1;
        p = rest;
    }
    L->hidden = hidden;
    return 0;
}

/* reading: the caller opens the file to read it, so a repo loaded now may learn where its bytes
 * live at the same time (hfs_repo_get_for). */
static int locate_at(const char *vpath, int follow, hfs_loc *L, int depth, int reading)
{
    memset(L, 0, sizeof *L);
    hfs_spec spec;
    snprintf(L->vpath, sizeof L->vpath, "%s", vpath);
    int rc = hfs_route(vpath, L, &spec);
    if (rc || L->kind != HFS_VL_REPO) return rc;
    int err = 0;
    L->repo = hfs_repo_get_for(&spec, reading ? L->rpath : NULL, &err);
    if (!L->repo) return err;
    L->uroot = L->repo->uroot;
    rc = walk_overlay(vpath, follow, L, depth);
    if (rc == 1) return 0;
    if (rc) return rc;
    if (!L->hidden) L->e = hfs_index_lookup(L->repo->ix, L->rpath, strlen(L->rpath));
    if (L->local || L->e) return 0;
    hfs_debug("%s: %s: no such file in snapshot %s", L->repo->key, L->rpath, L->repo->snap);
    return -ENOENT;
}

static int locate_depth(const char *vpath, int follow, hfs_loc *L, int depth)
{
    return locate_at(vpath, follow, L, depth, 0);
}

static int locate_top(const char *vpath, int follow, hfs_loc *L, int reading)
{
    /* Read the configuration before going deeper (see hfs_vfs_open2). */
    (void)hfs_cfg();
    hfs_vfs_init();
    pthread_once(&g_ids_once, read_ids);
    return locate_at(vpath, follow, L, 0, reading);
}

int hfs_locate(const char *vpath, int follow, hfs_loc *L)
{
    return locate_top(vpath, follow, L, 0);
}

int hfs_locate_read(const char *vpath, int follow, hfs_loc *L)
{
    return locate_top(vpath, follow, L, 1);
}

void hfs_fill_stat_from(const hfs_stat_src *L, struct stat *st)
{
    if (L->kind == HFS_VL_EXTERNAL) {
        *st = *L->ust;
        return;
    }
    memset(st, 0, sizeof *st);
    st->st_uid = g_uid;
    st->st_gid = g_gid;
    st->st_blksize = 128 * 1024;
    if (L->kind != HFS_VL_REPO) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        st->st_dev = HFS_DEV_PREFIX;
        st->st_ino = hfs_ino_of(hfs_prefix(), L->vpath);
        return;
    }
    if (L->local) {
        /* The overlay's own metadata, on the repo's device. Directories keep a path-derived
         * inode so stat(path) agrees with fstat of the (mirror) directory fd; files keep the
         * real one (it survives renames and shows hard links), or, copied up from a remote
         * file, the remote one's, kept on the copy. */
        *st = *L->ust;
        st->st_dev = L->repo->dev;
        if (S_ISDIR(st->st_mode))
            st->st_ino = hfs_dir_ino(L->upper, L->repo->key, L->rpath);
        else if (S_ISREG(st->st_mode))
            st->st_ino = hfs_file_ino(L->upper, st->st_ino);
        return;
    }
    const hfs_ientry *e = L->e;
    st->st_dev = L->repo->dev;
    st->st_ino = hfs_ino_of(L->repo->key, L->rpath);
    st->st_mode = e->is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
    st->st_nlink = e->is_dir ? 2 : 1;
    st->st_size = (off_t)e->size;
    st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
    st->st_mtim.tv_sec = st->st_atim.tv_sec = st->st_ctim.tv_sec = e->mtime;
}

int hfs_vfs_stat(const char *vpath, struct stat *st)
{
    if (!hfs_vfs_covers(vpath)) return hfs_near_stat_path(vpath, 1, st);
    hfs_loc L;
    int rc = hfs_locate(vpath, 1, &L);
    if (rc) return rc;
    hfs_fill_stat(&L, st);
    return 0;
}

int hfs_vfs_lstat(const char *vpath, struct stat *st)
{
    if (!hfs_vfs_covers(vpath)) return hfs_near_stat_path(vpath, 0, st);
    hfs_loc L;
    int rc = hfs_locate(vpath, 0, &L);
    if (rc) return rc;
    hfs_fill_stat(&L, st);
    return 0;
}

void hfs_stat_to_statx(const struct stat *s, struct statx *x)
{
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
