/* The virtual namespace: prefix and explicit mounts, path -> repo entry, stat, open, listing. */
#include "vfs.h"
#include "blob.h"
#include "config.h"
#include "grammar.h"
#include "log.h"
#include "net.h"
#include "repo.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define HFS_FS_MAGIC 0x48465348 /* "HFSH" */

typedef struct {
    char path[PATH_MAX]; /* normalized mount point */
    size_t len;
    hfs_spec spec;
    char sub[PATH_MAX]; /* subfolder inside the repo, "" for its root */
} mount;

static mount g_mounts[HFS_MAX_MOUNTS];
static int g_nmounts;
static char g_prefix[PATH_MAX];
static size_t g_plen;
static char g_mirror[PATH_MAX]; /* <shim cache>/mirror */
static size_t g_mlen;
static char g_self[PATH_MAX];
static int g_inited;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void parse_mounts(const char *s)
{
    while (s && *s && g_nmounts < HFS_MAX_MOUNTS) {
        const char *end = strchr(s, ';');
        size_t l = end ? (size_t)(end - s) : strlen(s);
        char item[PATH_MAX * 2];
        if (l < sizeof item) {
            memcpy(item, s, l);
            item[l] = 0;
            char *eq = strchr(item, '=');
            mount *m = &g_mounts[g_nmounts];
            if (!eq || item[0] != '/') {
                if (l) hfs_err("HF_MOUNTS: ignoring '%s': expected /absolute/path=SPEC", item);
            } else {
                *eq = 0;
                int n = hfs_path_normalize("/", item, m->path, sizeof m->path);
                if (n <= 1 || hfs_parse_spec(eq + 1, &m->spec, m->sub, sizeof m->sub))
                    hfs_err("HF_MOUNTS: ignoring '%s=%s': bad mount point or repo spec", item,
                            eq + 1);
                else {
                    m->len = (size_t)n;
                    g_nmounts++;
                }
            }
        }
        s = end ? end + 1 : NULL;
    }
}

static void init_once(void)
{
    const hfs_config *c = hfs_cfg();
    snprintf(g_prefix, sizeof g_prefix, "%s", c->prefix);
    g_plen = strlen(g_prefix);
    parse_mounts(c->mounts);
    hfs_fmt(g_mirror, sizeof g_mirror, "%s/mirror", c->shim_cache);
    g_mlen = strlen(g_mirror);
    Dl_info info;
    if (dladdr((void *)&hfs_vfs_init, &info) && info.dli_fname && info.dli_fname[0] == '/')
        snprintf(g_self, sizeof g_self, "%s", info.dli_fname);
    __atomic_store_n(&g_inited, 1, __ATOMIC_RELEASE);
}

void hfs_vfs_init(void)
{
    pthread_once(&g_once, init_once);
}

static inline int under(const char *p, const char *root, size_t len)
{
    return !strncmp(p, root, len) && (p[len] == '/' || p[len] == 0);
}

int hfs_vfs_covers(const char *p)
{
    if (!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) hfs_vfs_init();
    if (p[0] != '/') return 0;
    if (under(p, g_prefix, g_plen)) return 1;
    for (int i = 0; i < g_nmounts; i++)
        if (under(p, g_mounts[i].path, g_mounts[i].len)) return 1;
    /* Spellings like "//hf" or "/./hf" need normalizing before the test. */
    if (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '.'))) {
        char n[PATH_MAX];
        if (hfs_path_normalize("/", p, n, sizeof n) > 0 && strcmp(n, p)) return hfs_vfs_covers(n);
    }
    return 0;
}

/* ---- locating a virtual path ---- */

typedef struct {
    int kind;             /* HFS_VL_* */
    hfs_repo *repo;       /* HFS_VL_REPO */
    const hfs_ientry *e;  /* HFS_VL_REPO */
    char rpath[PATH_MAX]; /* path in the repo */
} loc;

static int locate(const char *vpath, loc *L)
{
    memset(L, 0, sizeof(*L));
    hfs_spec spec;
    const char *sub = NULL, *rest = NULL;
    const mount *best = NULL;
    for (int i = 0; i < g_nmounts; i++)
        if (under(vpath, g_mounts[i].path, g_mounts[i].len) &&
            (!best || g_mounts[i].len > best->len))
            best = &g_mounts[i];
    if (best) {
        spec = best->spec;
        sub = best->sub;
        rest = vpath + best->len;
        if (*rest == '/') rest++;
    } else if (under(vpath, g_prefix, g_plen)) {
        const char *rel = vpath + g_plen;
        if (*rel == '/') rel++;
        hfs_vloc vl;
        if (hfs_parse_vpath(rel, &vl)) return -ENOENT;
        L->kind = vl.kind;
        if (vl.kind != HFS_VL_REPO) return 0;
        spec = vl.spec;
        sub = "";
        rest = vl.path;
    } else
        return -ENOENT;
    L->kind = HFS_VL_REPO;
    if (hfs_fmt(L->rpath, sizeof L->rpath, "%s%s%s", sub, *sub && *rest ? "/" : "", rest))
        return -ENAMETOOLONG;
    int err = 0;
    L->repo = hfs_repo_get(&spec, &err);
    if (!L->repo) return err;
    L->e = hfs_index_lookup(L->repo->ix, L->rpath, strlen(L->rpath));
    if (!L->e) {
        hfs_debug("%s: %s: no such file in snapshot %s", L->repo->key, L->rpath, L->repo->snap);
        return -ENOENT;
    }
    return 0;
}

static uint64_t ino_of(const char *a, const char *b)
{
    uint64_t h =
        XXH3_64bits_withSeed(b, strlen(b), XXH3_64bits(a, strlen(a))) & 0x7fffffffffffffffull;
    return h ? h : 1;
}

static void fill_stat(const loc *L, const char *vpath, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_blksize = 128 * 1024;
    if (L->kind != HFS_VL_REPO) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        st->st_dev = 0x4846000000000000ull;
        st->st_ino = ino_of(g_prefix, vpath);
        return;
    }
    const hfs_ientry *e = L->e;
    st->st_dev = L->repo->dev;
    st->st_ino = ino_of(L->repo->key, L->rpath);
    st->st_mode = e->is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
    st->st_nlink = e->is_dir ? 2 : 1;
    st->st_size = (off_t)e->size;
    st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
    st->st_mtim.tv_sec = st->st_atim.tv_sec = st->st_ctim.tv_sec = e->mtime;
}

int hfs_vfs_stat(const char *vpath, struct stat *st)
{
    hfs_vfs_init();
    loc L;
    int rc = locate(vpath, &L);
    if (rc) return rc;
    fill_stat(&L, vpath, st);
    return 0;
}

/* ---- open objects ---- */

struct hfs_vobj {
    int refs;
    int is_dir;
    char *vpath;
    loc L;
    hfs_file *file;
};

void hfs_vobj_ref(hfs_vobj *o)
{
    __atomic_add_fetch(&o->refs, 1, __ATOMIC_ACQ_REL);
}

void hfs_vobj_unref(hfs_vobj *o)
{
    if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL)) return;
    hfs_file_free(o->file);
    free(o->vpath);
    free(o);
}

int hfs_vobj_is_dir(const hfs_vobj *o)
{
    return o->is_dir;
}
const char *hfs_vobj_path(const hfs_vobj *o)
{
    return o->vpath;
}

int hfs_vobj_stat(hfs_vobj *o, struct stat *st)
{
    fill_stat(&o->L, o->vpath, st);
    return 0;
}

int hfs_vfs_mirror_dir(const char *vpath, char *out, size_t n)
{
    struct stat st;
    int rc = hfs_vfs_stat(vpath, &st);
    if (rc) return rc;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    if (hfs_fmt(out, n, "%s%s", g_mirror, vpath)) return -ENAMETOOLONG;
    rc = hfs_mkdirs(out, 0755);
    if (rc) hfs_err("cannot create mirror directory %s: %s", out, strerror(-rc));
    return rc;
}

int hfs_vfs_unmirror(const char *real, char *vout, size_t n)
{
    hfs_vfs_init();
    if (!g_mlen || strncmp(real, g_mirror, g_mlen) || real[g_mlen] != '/') return 0;
    if (hfs_fmt(vout, n, "%s", real + g_mlen)) return 0;
    return hfs_vfs_covers(vout);
}

int hfs_vfs_open(const char *vpath, int flags, hfs_vobj **out)
{
    hfs_vfs_init();
    loc L;
    int rc = locate(vpath, &L);
    int acc = flags & O_ACCMODE;
    if (rc == -ENOENT && (flags & O_CREAT)) return -EROFS;
    if (rc) return rc;
    int is_dir = L.kind != HFS_VL_REPO || L.e->is_dir;
    if ((flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;
    if (is_dir && (acc != O_RDONLY || (flags & O_TRUNC))) return -EISDIR;
    if (acc != O_RDONLY || (flags & (O_TRUNC | O_APPEND))) return -EROFS;
    if (!is_dir && (flags & O_DIRECTORY)) return -ENOTDIR;

    hfs_vobj *o = calloc(1, sizeof *o);
    if (!o || !(o->vpath = strdup(vpath))) {
        free(o);
        return -ENOMEM;
    }
    o->refs = 1;
    o->is_dir = is_dir;
    o->L = L;
    int fd;
    if (is_dir) {
        char m[PATH_MAX];
        rc = hfs_fmt(m, sizeof m, "%s%s", g_mirror, vpath);
        if (!rc) rc = hfs_mkdirs(m, 0755);
        fd = rc ? rc : open(m, O_RDONLY | O_DIRECTORY | (flags & (O_CLOEXEC | O_NONBLOCK)));
        if (fd < 0 && !rc) fd = -errno;
    } else {
        fd = hfs_file_open(L.repo, L.e, L.rpath, flags, &o->file);
    }
    if (fd < 0) {
        hfs_vobj_unref(o);
        return fd;
    }
    *out = o;
    return fd;
}

int hfs_vobj_ensure(hfs_vobj *o, uint64_t off, uint64_t len)
{
    if (!o->file) return 0;
    return hfs_file_ensure(o->file, off, len);
}

int hfs_vobj_materialize(hfs_vobj *o)
{
    if (!o->file || hfs_file_complete(o->file)) return 0;
    return hfs_file_ensure(o->file, 0, o->L.e->size);
}

int hfs_vobj_complete(hfs_vobj *o)
{
    return !o->file || hfs_file_complete(o->file);
}

int hfs_vobj_readdir(hfs_vobj *o, uint64_t pos, hfs_dirent *e)
{
    if (!o->is_dir) return -ENOTDIR;
    if (pos < 2) {
        e->name = pos == 0 ? "." : "..";
        e->d_type = DT_DIR;
        e->ino = pos == 0 ? ino_of(o->L.repo ? o->L.repo->key : g_prefix, o->vpath) : 1;
        return 1;
    }
    uint64_t i = pos - 2;
    if (o->L.kind == HFS_VL_ROOT) {
        static const char *top[] = {"buckets", "datasets", "spaces"};
        if (i >= 3) return 0;
        e->name = top[i];
        e->d_type = DT_DIR;
        e->ino = ino_of(g_prefix, top[i]);
        return 1;
    }
    if (o->L.kind != HFS_VL_REPO) return 0; /* organisations cannot be enumerated */
    const hfs_ientry *d = o->L.e;
    if (i >= d->nchildren) return 0;
    const hfs_index *ix = o->L.repo->ix;
    const hfs_ientry *c = hfs_index_at(ix, d->first_child + (uint32_t)i);
    if (!c) return 0;
    e->name = hfs_index_str(ix, c->name_off);
    e->d_type = c->is_dir ? DT_DIR : DT_REG;
    e->ino = ino_of(o->L.repo->key, hfs_index_str(ix, c->path_off));
    return 1;
}

int hfs_vfs_statvfs(const char *vpath, struct statvfs *sv)
{
    struct stat st;
    int rc = hfs_vfs_stat(vpath, &st);
    if (rc) return rc;
    memset(sv, 0, sizeof *sv);
    sv->f_bsize = sv->f_frsize = 4096;
    sv->f_namemax = 255;
    sv->f_fsid = (unsigned long)st.st_dev;
    sv->f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
    return 0;
}

int hfs_vfs_statfs(const char *vpath, struct statfs *sf)
{
    struct stat st;
    int rc = hfs_vfs_stat(vpath, &st);
    if (rc) return rc;
    memset(sf, 0, sizeof *sf);
    sf->f_type = HFS_FS_MAGIC;
    sf->f_bsize = sf->f_frsize = 4096;
    sf->f_namelen = 255;
    sf->f_flags = ST_RDONLY | ST_NOSUID | ST_NODEV;
    memcpy(&sf->f_fsid, &st.st_dev,
           sizeof sf->f_fsid < sizeof st.st_dev ? sizeof sf->f_fsid : sizeof st.st_dev);
    return 0;
}

const char *hfs_vfs_pins_env(void)
{
    return hfs_repo_pins_env();
}
const char *hfs_vfs_self_path(void)
{
    hfs_vfs_init();
    return g_self;
}

void hfs_vfs_atfork_child(void)
{
    hfs_repo_atfork_child();
    hfs_net_atfork_child();
}
