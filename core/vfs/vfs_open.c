/* Open virtual files and directories: remote files read through their cache backing, local
 * (overlay) files as plain fds, directories as fds on mirror dirs with merged listings. */
#include "libc.h"
#include "file.h"
#include "grow.h"
#include "prefetch.h"
#include "config.h"
#include "log.h"
#include "overlay.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"
#include "sys_path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name;
    unsigned char type;
    uint64_t ino;
} dent;

/* What an object keeps of the hfs_loc it was opened from: the fields it uses later, its
 * strings allocated to size (a whole hfs_loc is 12 KiB: three fresh heap pages on a process's first
 * open; bench/ANALYSIS.md). */
typedef struct {
    int kind;
    hfs_repo *repo;
    const hfs_ientry *e;
    char *vpath, *rpath, *upper;
    int local;
    struct stat ust;
    int hidden;
} kept_loc;

struct hfs_vobj {
    int refs;
    int is_dir;
    int local; /* an overlay (or external) file: the fd is all there is */
    kept_loc L;
    hfs_file *file;
    dent *ents; /* merged listing of a directory with an overlay part */
    size_t nents;
    int merged;
    int near;          /* an ancestor directory: 1 real, 2 missing (vfs_near.c) */
    int list_err;      /* an ancestor whose real entries could not be read: readdir's answer */
    uint64_t kept_ino; /* a local file's number as stat gives it (hfs_file_ino), read at open */
};

void hfs_vobj_ref(hfs_vobj *o)
{
    __atomic_add_fetch(&o->refs, 1, __ATOMIC_ACQ_REL);
}

void hfs_vobj_unref(hfs_vobj *o)
{
    if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL)) return;
    hfs_file_free(o->file);
    for (size_t i = 0; i < o->nents; i++) free(o->ents[i].name);
    free(o->ents);
    free(o->L.vpath);
    free(o->L.rpath);
    free(o->L.upper);
    free(o);
}

int hfs_vobj_is_dir(const hfs_vobj *o)
{
    return o->is_dir;
}
int hfs_vobj_is_local(const hfs_vobj *o)
{
    return o->local;
}
const char *hfs_vobj_path(const hfs_vobj *o)
{
    return o->L.vpath;
}

int hfs_vobj_near(const hfs_vobj *o)
{
    return o->near;
}

int hfs_vobj_stat(hfs_vobj *o, struct stat *st)
{
    const kept_loc *K = &o->L;
    if (o->near == 1) return hfs_sys_stat(K->vpath, st) ? -errno : 0;
    if (o->near) return hfs_vfs_near_stat(K->vpath, st);
    hfs_stat_src s = {K->kind, K->repo, K->e, K->local, &K->ust, K->vpath, K->rpath, K->upper};
    hfs_fill_stat_from(&s, st); /* local files: as at open; hfs_vobj_stat_fd has the fd's */
    return 0;
}

int hfs_vobj_stat_fd(hfs_vobj *o, int fd, struct stat *st)
{
    if ((o->local && !o->is_dir) || o->near == 1) {
        if (hfs_libc()->fstat(fd, st)) return -errno;
        if (o->L.kind == HFS_VL_REPO && !o->near) st->st_dev = o->L.repo->dev;
        if (o->kept_ino && !o->near) st->st_ino = o->kept_ino;
        return 0;
    }
    return hfs_vobj_stat(o, st);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const dent *)a)->name, ((const dent *)b)->name);
}

static int push_ent(hfs_vobj *o, size_t *cap, const char *name, unsigned char type, uint64_t ino)
{
    if (hfs_grow((void **)&o->ents, cap, o->nents + 1, sizeof *o->ents, 64)) return -ENOMEM;
    char *n = strdup(name);
    if (!n) return -ENOMEM;
    o->ents[o->nents++] = (dent){n, type, ino};
    return 0;
}

static int push_wh(char ***wh, size_t *n, size_t *cap, const char *name)
{
    if (hfs_grow((void **)wh, cap, *n + 1, sizeof **wh, 16)) return -ENOMEM;
    if (!((*wh)[*n] = strdup(name))) return -ENOMEM;
    (*n)++;
    return 0;
}

/* Overlay entries (whiteouts hidden) plus remote children that are neither shadowed nor
 * whited out; nothing remote below an opaque directory. */
static int merge_listing(hfs_vobj *o)
{
    const kept_loc *L = &o->L;
    size_t cap = 0, nlocal;
    char **wh = NULL;
    size_t nwh = 0, whcap = 0;
    int opaque = L->hidden, rc = 0;
    DIR *d = hfs_sys_opendir(L->upper);
    if (!d) return -errno;
    struct dirent *de;
    while ((de = hfs_libc()->readdir(d))) {
        const char *n = de->d_name, *vn;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        int kind = hfs_ov_name_kind(n, &vn);
        if (kind == HFS_OVN_OPAQUE) opaque = 1;
        if (kind == HFS_OVN_WHITEOUT && (rc = push_wh(&wh, &nwh, &whcap, vn))) break;
        if (kind != HFS_OVN_ENTRY) continue;
        char child[HFS_PATH_MAX];
        /* rpath and a name fit in HFS_PATH_MAX (a virtual path is at most that): cannot fail. */
        if (hfs_fmt(child, sizeof child, "%s%s%s", L->rpath, *L->rpath ? "/" : "", vn)) continue;
        char cup[HFS_PATH_MAX];
        uint64_t ino = de->d_ino;
        int named = !hfs_fmt(cup, sizeof cup, "%s/%s", L->upper, n);
        if (de->d_type == DT_DIR)
            ino = hfs_dir_ino(named ? cup : NULL, L->repo->key, child);
        else if (de->d_type == DT_REG && named) /* what stat says: a copy keeps its number */
            ino = hfs_file_ino(cup, ino);
        if ((rc = push_ent(o, &cap, vn, de->d_type, ino))) break;
    }
    hfs_libc()->closedir(d);
    nlocal = o->nents;
    if (nlocal) qsort(o->ents, nlocal, sizeof *o->ents, cmp_name);
    if (!rc && !opaque && L->e && L->e->is_dir) {
        const hfs_index *ix = L->repo->ix;
        for (uint32_t i = 0; i < L->e->nchildren && !rc; i++) {
            const hfs_ientry *c = hfs_index_at(ix, L->e->first_child + i);
            const char *n = hfs_index_str(ix, c->name_off);
            dent key = {(char *)n, 0, 0};
            if (nlocal && bsearch(&key, o->ents, nlocal, sizeof *o->ents, cmp_name)) continue;
            int gone = 0;
            for (size_t k = 0; k < nwh && !gone; k++) gone = !strcmp(wh[k], n);
            if (gone) continue;
            rc = push_ent(o, &cap, n, c->is_dir ? DT_DIR : DT_REG,
                          hfs_ino_of(L->repo->key, hfs_index_str(ix, c->path_off)));
        }
    }
    for (size_t k = 0; k < nwh; k++) free(wh[k]);
    free(wh);
    o->merged = 1;
    return rc;
}

static hfs_vobj *new_vobj(const hfs_loc *L)
{
    hfs_vobj *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->refs = 1;
    kept_loc *K = &o->L;
    K->kind = L->kind;
    K->repo = L->repo;
    K->e = L->e;
    K->local = L->local;
    K->ust = L->ust;
    K->hidden = L->hidden;
    K->vpath = strdup(L->vpath);
    K->rpath = strdup(L->rpath);
    K->upper = strdup(L->upper);
    if (!K->vpath || !K->rpath || !K->upper) {
        hfs_vobj_unref(o);
        return NULL;
    }
    return o;
}

int hfs_dir_obj(const hfs_loc *L, hfs_vobj **out)
{
    hfs_vobj *o = new_vobj(L);
    if (!o) return -ENOMEM;
    o->is_dir = 1;
    int rc = L->kind == HFS_VL_REPO && L->local ? merge_listing(o) : 0;
    if (rc) {
        hfs_vobj_unref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int keep_flags(int flags)
{
    return flags & (O_CLOEXEC | O_NONBLOCK | O_NOATIME | O_NOCTTY);
}

/* A directory: its object and an fd on its mirror directory. Out of line, so the file case does
 * not carry the mirror path in its frame. */
__attribute__((noinline)) static int open_dir(const hfs_loc *L, int flags, hfs_vobj **out)
{
    hfs_vobj *o;
    int rc = hfs_dir_obj(L, &o);
    if (rc) return rc;
    char m[HFS_PATH_MAX];
    rc = hfs_mirror_path(L->vpath, m, sizeof m);
    int fd = rc ? rc : hfs_sys_open(m, O_RDONLY | O_DIRECTORY | keep_flags(flags), 0);
    if (fd < 0) {
        if (!rc) fd = -errno;
        hfs_vobj_unref(o);
        return fd;
    }
    *out = o;
    return fd;
}

static int open2(const char *vpath, int flags, mode_t mode, hfs_vobj **out);

int hfs_vfs_open2(const char *vpath, int flags, mode_t mode, hfs_vobj **out)
{
    /* A process's first open reads the configuration: here, above open2's 12 KiB frame, its
     * buffers land in stack pages that are touched anyway. */
    (void)hfs_cfg();
    return open2(vpath, flags, mode, out);
}

__attribute__((noinline)) static int open2(const char *vpath, int flags, mode_t mode,
                                           hfs_vobj **out)
{
    hfs_loc L;
    /* O_CREAT|O_EXCL never follows a final symlink (the kernel's rule: a dangling link must not
     * let a temp-file creator write where the link points); it exists, so EEXIST below. */
    int excl = (flags & O_CREAT) && (flags & O_EXCL);
    /* An open that will read a remote file's bytes (a read, a copy-up) names it to the repo:
     * loaded now, it learns where those bytes live at the same time. */
    int reads = !(flags & (O_CREAT | O_TRUNC | O_DIRECTORY));
    int rc = (reads ? hfs_locate_read : hfs_locate)(vpath, !(flags & O_NOFOLLOW) && !excl, &L);
    int acc = flags & O_ACCMODE;
    int wr = acc != O_RDONLY || (flags & O_TRUNC);
    int fd;
    if (rc && (flags & O_CREAT)) {
        if ((rc = hfs_ov_prepare_create(rc, &L)) < 0) return rc;
        fd = hfs_sys_open(L.upper, flags, mode);
        if (fd < 0) return -errno;
        hfs_libc()->fstat(fd, &L.ust);
        L.local = 1;
        goto local;
    }
    if (rc == -ENOENT && L.repo && L.repo->cached_only && !L.hidden) /* offline: say why */
        hfs_warn("%s: %s: not in the local cache (offline, HF_HUB_OFFLINE=1: only cached files "
                 "are listed)",
                 L.repo->key, L.rpath);
    if (rc) return rc;
    if (excl) return -EEXIST;
    int is_dir = hfs_loc_is_dir(&L);
    if (is_dir) return wr ? -EISDIR : open_dir(&L, flags, out);
    if (flags & O_DIRECTORY) return -ENOTDIR;
    if (L.local) {
        fd = hfs_sys_open(L.upper, flags & ~(O_CREAT | O_EXCL), mode);
        if (fd < 0) return -errno;
        if (wr && L.kind == HFS_VL_REPO) hfs_note_write(L.repo);
        goto local;
    }
    if (wr) {
        if ((rc = hfs_ov_copy_up(&L, (flags & O_TRUNC) != 0))) return rc;
        fd = hfs_sys_open(L.upper, flags & ~(O_CREAT | O_EXCL), mode);
        if (fd < 0) return -errno;
        goto local;
    }
    {
        hfs_vobj *o = new_vobj(&L);
        if (!o) return -ENOMEM;
        fd = hfs_file_open(L.repo, L.e, L.rpath, flags, &o->file);
        if (fd < 0) {
            hfs_vobj_unref(o);
            return fd;
        }
        hfs_prefetch_opened(L.repo, L.e, !hfs_file_complete(o->file));
        *out = o;
        return fd;
    }
local : {
    hfs_vobj *o = new_vobj(&L);
    if (!o) {
        hfs_libc()->close(fd);
        return -ENOMEM;
    }
    o->local = 1;
    if (L.kind == HFS_VL_REPO && S_ISREG(L.ust.st_mode))
        o->kept_ino = hfs_file_ino(L.upper, 0); /* only copies of remote files have one */
    *out = o;
    return fd;
}
}

/* ---- ancestors of mounts ---- */

typedef struct {
    hfs_vobj *o;
    size_t *cap;
    const char *dir;
} near_fill;

static int add_child(const char *name, size_t n, void *arg)
{
    near_fill *f = arg;
    char nm[NAME_MAX + 1], child[HFS_PATH_MAX];
    if (n > NAME_MAX) return 0;
    memcpy(nm, name, n);
    nm[n] = 0;
    for (size_t i = 0; i < f->o->nents; i++) /* a real entry of that name wins; mounts dedupe */
        if (!strcmp(f->o->ents[i].name, nm)) return 0;
    if (hfs_fmt(child, sizeof child, "%s%s%s", f->dir, f->dir[1] ? "/" : "", nm)) return 0;
    return push_ent(f->o, f->cap, nm, DT_DIR, hfs_near_ino(child));
}

/* The real entries of the directory behind realfd (read through a fresh description, so the
 * caller's offset is untouched), then the mount components that are not among them. */
static int near_listing(hfs_vobj *o, int realfd)
{
    size_t cap = 0;
    int rc = 0;
    if (realfd >= 0) {
        int dfd = hfs_libc()->openat(realfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        DIR *d = dfd < 0 ? NULL : hfs_libc()->fdopendir(dfd);
        if (!d) {
            rc = -errno;
            if (dfd >= 0) hfs_libc()->close(dfd);
            return rc;
        }
        struct dirent *de;
        while (!rc && (de = hfs_libc()->readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                rc = push_ent(o, &cap, de->d_name, de->d_type, de->d_ino);
        hfs_libc()->closedir(d);
    }
    near_fill f = {o, &cap, o->L.vpath};
    if (!rc) rc = hfs_vfs_near_children(o->L.vpath, add_child, &f);
    o->merged = 1;
    return rc;
}

int hfs_vfs_open_near(const char *path, int realfd, int flags, hfs_vobj **out)
{
    hfs_vobj *o = calloc(1, sizeof *o);
    if (!o) return -ENOMEM;
    o->refs = 1;
    o->L.kind = HFS_VL_NEAR;
    o->L.vpath = strdup(path);
    o->L.rpath = strdup("");
    o->L.upper = strdup("");
    int rc = o->L.vpath && o->L.rpath && o->L.upper ? 0 : -ENOMEM;
    if (rc) {
        hfs_vobj_unref(o);
        return rc;
    }
    o->is_dir = 1;
    o->near = realfd >= 0 ? 1 : 2;
    int fd = realfd;
    if (realfd < 0) {
        char m[HFS_PATH_MAX];
        struct stat st;
        rc = hfs_vfs_near_stat(path, &st);
        if (!rc) rc = hfs_mirror_path(path, m, sizeof m);
        if (!rc && (fd = hfs_sys_open(m, O_RDONLY | O_DIRECTORY | keep_flags(flags), 0)) < 0)
            rc = -errno;
    }
    if (!rc && hfs_libc()->fstat(fd, &o->L.ust)) rc = -errno;
    /* Unreadable (no read permission, an O_PATH fd on it...): the fd still leads to the
     * mounts below; only listing it fails, as the kernel's would. */
    if (!rc) o->list_err = near_listing(o, realfd);
    if (rc) {
        if (realfd < 0 && fd >= 0) hfs_libc()->close(fd);
        hfs_vobj_unref(o);
        return rc;
    }
    *out = o;
    return fd;
}

int hfs_vfs_open(const char *vpath, int flags, hfs_vobj **out)
{
    return hfs_vfs_open2(vpath, flags, 0666, out);
}

int hfs_vobj_ensure(hfs_vobj *o, uint64_t off, uint64_t len)
{
    return o->file ? hfs_file_ensure(o->file, off, len) : 0;
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
    const kept_loc *L = &o->L;
    if (!o->is_dir) return -ENOTDIR;
    if (o->list_err) return o->list_err;
    const char *key = L->repo ? L->repo->key : hfs_prefix();
    if (pos < 2) {
        e->name = pos == 0 ? "." : "..";
        e->d_type = DT_DIR;
        if (pos == 1)
            e->ino = 1;
        else if (o->near) /* what stat says of the directory itself */
            e->ino = o->near == 1 ? L->ust.st_ino : hfs_near_ino(L->vpath);
        else if (L->kind == HFS_VL_REPO)
            e->ino = hfs_dir_ino(L->local ? L->upper : NULL, key, L->rpath);
        else
            e->ino = hfs_ino_of(key, L->vpath);
        return 1;
    }
    uint64_t i = pos - 2;
    if (o->merged) {
        if (i >= o->nents) return 0;
        e->name = o->ents[i].name;
        e->d_type = o->ents[i].type;
        e->ino = o->ents[i].ino;
        return 1;
    }
    if (L->kind == HFS_VL_ROOT) {
        static const char *top[] = {"buckets", "datasets", "spaces"};
        if (i >= 3) return 0;
        e->name = top[i];
        e->d_type = DT_DIR;
        e->ino = hfs_ino_of(key, top[i]);
        return 1;
    }
    if (L->kind != HFS_VL_REPO || !L->e) return 0; /* organisations cannot be enumerated */
    if (i >= L->e->nchildren) return 0;
    const hfs_index *ix = L->repo->ix;
    const hfs_ientry *c = hfs_index_at(ix, L->e->first_child + (uint32_t)i);
    if (!c) return 0;
    e->name = hfs_index_str(ix, c->name_off);
    e->d_type = c->is_dir ? DT_DIR : DT_REG;
    e->ino = hfs_ino_of(L->repo->key, hfs_index_str(ix, c->path_off));
    return 1;
}
