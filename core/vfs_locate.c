/* Where a virtual path points: the local overlay first (whiteouts and opaque directories hide
 * remote entries), then the remote snapshot's tree index. An untouched repo costs one lstat. */
#include "config.h"
#include "log.h"
#include "overlay.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
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

#define DIR_INO_XATTR HFS_OWN_XATTR_PREFIX "ino"

uint64_t hfs_dir_ino(const char *upper, const char *key, const char *rpath)
{
    char v[24];
    ssize_t n = upper ? lgetxattr(upper, DIR_INO_XATTR, v, sizeof v - 1) : -1;
    if (n > 0) {
        v[n] = 0;
        char *end;
        unsigned long long ino = strtoull(v, &end, 16);
        if (!*end && ino) return ino;
    }
    return hfs_ino_of(key, rpath);
}

/* Keep the inode number of the directory at upper (repo path rpath) and of every directory
 * below it: their paths all change with the rename. */
static void keep_tree(const char *upper, const char *key, const char *rpath, int depth, int tree)
{
    char v[24];
    if (lgetxattr(upper, DIR_INO_XATTR, v, sizeof v) < 0) {
        if (errno != ENODATA) return; /* no xattrs here: numbers follow the new paths */
        snprintf(v, sizeof v, "%llx", (unsigned long long)hfs_ino_of(key, rpath));
        if (lsetxattr(upper, DIR_INO_XATTR, v, strlen(v), XATTR_CREATE) && errno != EEXIST) return;
    }
    DIR *d = tree && depth < 64 ? opendir(upper) : NULL;
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char cu[PATH_MAX], cr[PATH_MAX];
        if (hfs_fmt(cu, sizeof cu, "%s/%s", upper, de->d_name) ||
            hfs_fmt(cr, sizeof cr, "%s%s%s", rpath, *rpath ? "/" : "", de->d_name))
            continue;
        keep_tree(cu, key, cr, depth + 1, 1);
    }
    closedir(d);
}

void hfs_dir_ino_keep(const char *upper, const char *key, const char *rpath, int tree)
{
    int saved = errno;
    keep_tree(upper, key, rpath, 0, tree);
    errno = saved;
}

int hfs_reserved_name(const char *name)
{
    return !strncmp(name, HFS_WH_PREFIX, sizeof HFS_WH_PREFIX - 1);
}

static int exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    return !hfs_fmt(p, sizeof p, "%s/%s", dir, name) && lstat(p, &st) == 0;
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
    char target[PATH_MAX], base[PATH_MAX], joined[PATH_MAX], next[PATH_MAX];
    ssize_t n = readlink(link, target, sizeof target - 1);
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
    if ((follow ? stat(next, &L->ust) : lstat(next, &L->ust))) return -errno;
    L->local = 1;
    return 0;
}

/* The symlink at `cur` stands for the virtual path without `rest`. */
__attribute__((noinline)) static int follow_link_at(const char *cur, const char *vpath,
                                                    const char *rest, int follow, hfs_loc *L,
                                                    int depth)
{
    char vlink[PATH_MAX];
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
    if (hfs_fmt(L->upper, sizeof L->upper, "%s%s%s", L->uroot, *L->rpath ? "/" : "", L->rpath))
        return -ENAMETOOLONG;
    /* A repo without an overlay (the common, read-only case) costs no system call while no
     * process has changed any overlay since we last looked. */
    uint64_t gen = hfs_overlay_generation();
    if (gen != UINT64_MAX && __atomic_load_n(&L->repo->no_overlay_gen, __ATOMIC_ACQUIRE) == gen + 1)
        return 0;
    if (lstat(L->uroot, &st) || !S_ISDIR(st.st_mode)) {
        if (gen != UINT64_MAX)
            __atomic_store_n(&L->repo->no_overlay_gen, gen + 1, __ATOMIC_RELEASE);
        return 0; /* no overlay for this repo */
    }
    if (!*L->rpath) {
        L->local = 1;
        L->ust = st;
        return 0;
    }
    char cur[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", L->uroot);
    int hidden = exists(cur, HFS_WH_OPAQUE);
    const char *p = L->rpath;
    while (*p) {
        size_t len = strcspn(p, "/");
        const char *rest = p + len + (p[len] == '/');
        int last = !*rest;
        char name[NAME_MAX + 1];
        if (len > NAME_MAX) return -ENAMETOOLONG;
        memcpy(name, p, len);
        name[len] = 0;
        if (hfs_reserved_name(name)) return -ENOENT;
        char wh[NAME_MAX + 8];
        snprintf(wh, sizeof wh, HFS_WH_PREFIX "%s", name);
        if (exists(cur, wh)) hidden = 1;
        size_t cl = strlen(cur);
        if (cl + 1 + len >= sizeof cur) return -ENAMETOOLONG;
        cur[cl] = '/';
        memcpy(cur + cl + 1, name, len + 1);
        if (lstat(cur, &st)) {
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

static int locate_depth(const char *vpath, int follow, hfs_loc *L, int depth)
{
    memset(L, 0, sizeof *L);
    hfs_spec spec;
    snprintf(L->vpath, sizeof L->vpath, "%s", vpath);
    int rc = hfs_route(vpath, L, &spec);
    if (rc || L->kind != HFS_VL_REPO) return rc;
    int err = 0;
    L->repo = hfs_repo_get(&spec, &err);
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

int hfs_locate(const char *vpath, int follow, hfs_loc *L)
{
    /* Read the configuration before going deeper (see hfs_vfs_open2). */
    (void)hfs_cfg();
    hfs_vfs_init();
    pthread_once(&g_ids_once, read_ids);
    return locate_depth(vpath, follow, L, 0);
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
         * real one, so it survives renames and shows hard links. */
        *st = *L->ust;
        st->st_dev = L->repo->dev;
        if (S_ISDIR(st->st_mode)) st->st_ino = hfs_dir_ino(L->upper, L->repo->key, L->rpath);
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
