/* Internals shared by the vfs_*.c files: where a virtual path points, remote and local. */
#pragma once
#include "checked.h"
#include <limits.h>
#include <sys/stat.h>
#include "index.h"
#include "repo.h"
#include "vfs.h"

enum {
    HFS_VL_EXTERNAL = 100, /* an overlay symlink led outside the virtual tree */
    HFS_VL_NEAR = 101,     /* an ancestor of a mount (vfs_near.c) */
};

typedef struct {
    int kind;                 /* HFS_VL_* from grammar.h, or HFS_VL_EXTERNAL */
    hfs_repo *repo;           /* HFS_VL_REPO */
    const hfs_ientry *e;      /* the remote entry, when visible (not hidden by a whiteout) */
    char vpath[HFS_PATH_MAX]; /* the virtual path this describes (after following symlinks) */
    char rpath[HFS_PATH_MAX]; /* path in the repo */
    const char *uroot;        /* the repo's overlay upper/ directory (owned by the repo) */
    char upper[HFS_PATH_MAX]; /* uroot/rpath, names stored as overlay.h says */
    int local;                /* something exists at `upper` */
    struct stat ust;          /* its lstat */
    int hidden;               /* a whiteout or an opaque ancestor hides the remote entry */
    int is_root;              /* the repo root or a mount root */
} hfs_loc;

/* Find vpath; follow: resolve an overlay symlink in the last component too. 0 when it exists;
 * -ENOENT when it does not (L is still filled as far as the parent, so callers can create it);
 * other -errno on errors. */
HFS_MUST_CHECK int hfs_locate(const char *vpath, int follow, hfs_loc *L);
/* The same, for an open that will read the file (net.h, revision_listing's hint). */
HFS_MUST_CHECK int hfs_locate_read(const char *vpath, int follow, hfs_loc *L);
static inline int hfs_loc_is_dir(const hfs_loc *L)
{
    if (L->kind != HFS_VL_REPO) return L->kind != HFS_VL_EXTERNAL;
    if (L->local) return S_ISDIR(L->ust.st_mode);
    return L->e && L->e->is_dir;
}
/* What stat needs of a location: an hfs_loc has it, and so does an open object's kept copy
 * (vfs_open.c), whose strings are allocated to size. */
typedef struct {
    int kind;
    const hfs_repo *repo;
    const hfs_ientry *e;
    int local;
    const struct stat *ust;
    const char *vpath, *rpath;
    const char *upper; /* the overlay path, for a local entry */
} hfs_stat_src;
void hfs_fill_stat_from(const hfs_stat_src *s, struct stat *st);
static inline void hfs_fill_stat(const hfs_loc *L, struct stat *st)
{
    hfs_stat_src s = {L->kind, L->repo, L->e, L->local, &L->ust, L->vpath, L->rpath, L->upper};
    hfs_fill_stat_from(&s, st);
}
uint64_t hfs_ino_of(const char *a, const char *b);
/* A directory's inode number: the one it was given when it was renamed (kept on its overlay
 * copy, `upper`, in an extended attribute), else a hash of its path, so it stays the same across
 * renames, processes and sessions. upper NULL: a remote-only directory. */
uint64_t hfs_dir_ino(const char *upper, const char *key, const char *rpath);
/* A regular overlay file's inode number: the remote file's it was copied up from (kept on the
 * copy by hfs_file_ino_keep on the copy's fd), else the real one. */
uint64_t hfs_file_ino(const char *upper, uint64_t real);
void hfs_file_ino_keep(int fd, const char *key, const char *rpath);
/* Keep a directory's current inode number on its overlay copy (at creation, and before it is
 * renamed), with tree=1 those of the directories below it too (their paths change as well). */
void hfs_dir_ino_keep(const char *upper, const char *key, const char *rpath, int tree);
/* Mirror directory of a virtual directory (created). */
int hfs_mirror_path(const char *vpath, char *out, size_t n);

/* The listing of directory L as an object (no fd): what opendir serves, and what the write
 * path walks for emptiness checks and subtree copies. */
int hfs_dir_obj(const hfs_loc *L, hfs_vobj **out);

/* A forked child's fresh state for the write path's in-process lock (vfs_write.c). */
void hfs_ov_atfork_child(void);

/* Overlay primitives (vfs_write.c) used by open. */
HFS_MUST_CHECK int hfs_ov_prepare_parent(const hfs_loc *L);
HFS_MUST_CHECK int hfs_ov_copy_up(hfs_loc *L, int truncate);
/* Remove a whiteout for L's name: 1 if there was one, 0 if none, or -errno. */
HFS_MUST_CHECK int hfs_ov_drop_whiteout(const hfs_loc *L);
/* For a path about to be created (rc: what hfs_locate said of it): check it may be created, make
 * its parent exist in upper/ and drop a whiteout of its name. 1 if there was a whiteout, 0, or
 * -errno (EEXIST if it exists, EROFS where repos would be created). */
HFS_MUST_CHECK int hfs_ov_prepare_create(int rc, hfs_loc *L);

/* vfs_near.c: the inode number of an ancestor directory (listing and stat agree). */
uint64_t hfs_near_ino(const char *path);
/* stat (follow) or lstat of an ancestor: the real one, or the virtual one when it is missing;
 * -ENOENT for a path that is no ancestor. */
int hfs_near_stat_path(const char *path, int follow, struct stat *st);
/* The ancestor itself if it exists really, else its nearest real ancestor (what statfs asks). */
int hfs_near_real_dir(const char *path, char *out, size_t n);

/* vfs.c */
/* The explicit mounts (HF_MOUNTS) as parsed: cb per mount until it returns non-zero. */
int hfs_vfs_each_mount(int (*cb)(const char *path, const hfs_spec *s, const char *sub, void *arg),
                       void *arg);
int hfs_route(const char *vpath, hfs_loc *L, hfs_spec *spec);
const char *hfs_prefix(void);

/* exit_push.c: this process changes the repo's overlay; without hfrun and HF_NO_PUSH, its
 * changes are pushed when the process exits. */
void hfs_note_write(const hfs_repo *r);
/* In a forked child (vfs.h's fork rule). */
void hfs_exit_push_atfork_child(void);
