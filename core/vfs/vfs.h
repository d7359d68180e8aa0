/* The core's face towards the interposer. Everything here works on *virtual* paths: absolute,
 * lexically normalized paths under the prefix (default /hf) or under an explicit mount.
 * Nothing here knows about interposition; every fd it returns is a real kernel fd.
 *
 * Thread-safe. Functions returning int give 0 (or a non-negative result) on success and a
 * negative errno on failure, after printing one "hfshim:" line for causes the user must see. */
#pragma once
#include "checked.h"
#include <stdint.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/statfs.h>

/* The longest virtual path (and overlay or mirror path) handled: a cwd up to PATH_MAX deep in a
 * mount plus a relative argument up to PATH_MAX, as a local file system allows. Longer overlay
 * paths reach the kernel through directory fds (core/base/sys_path.h). */
#define HFS_PATH_MAX (2 * 4096)

/* A spelling of the real path `path` that the kernel takes as one argument: path itself when it
 * is shorter than PATH_MAX, else /proc/self/fd/<*fd>/<rest> in buf, *fd an O_PATH descriptor
 * of a leading directory that the caller closes after its call (-1 when none). NULL + errno. */
const char *hfs_path_short(const char *path, char *buf, size_t n, int *fd);

/* An open virtual file or directory. Reference counted: one reference per fd that refers to it
 * (the interposer takes another with hfs_vobj_ref on dup). */
typedef struct hfs_vobj hfs_vobj;

/* Reads configuration; idempotent, cheap after the first call. */
void hfs_vfs_init(void);

/* Cheap test, no lock, no allocation, no syscall: does the absolute path `p` start with the
 * prefix or a mount path (followed by '/' or end of string)? `p` need not be normalized. */
int hfs_vfs_covers(const char *p);
/* Which second bytes of an absolute path can start a virtual path (the prefix's, each mount's,
 * '/' and '.'), filled once configured: hfs_vfs_first[(unsigned char)p[1]] == 0 means
 * hfs_vfs_covers(p) is 0, so callers on a hot path can turn most paths away without a call. */
extern unsigned char hfs_vfs_first[256];

/* Where an absolute path lies: under the prefix or a mount (virtual), strictly above one (an
 * "ancestor": a real directory that must show the mounts below it, or a missing one that exists
 * only virtually), or elsewhere (real). Lexical; no syscall. */
enum { HFS_NS_REAL = 0, HFS_NS_VIRTUAL = 1, HFS_NS_NEAR = 2 };
int hfs_vfs_classify(const char *p);
/* May p concern the shim at all: its spelling passes through a mount or the prefix (covers:
 * "/hf/../etc" too), or it ends in or above one? The fast test of the interposer. */
int hfs_vfs_touches(const char *p);
/* The next component of each mount (and the prefix) below the normalized ancestor `dir`, once
 * per mount (callers dedupe): cb(name, length, arg) until it returns non-zero. */
int hfs_vfs_near_children(const char *dir, int (*cb)(const char *name, size_t n, void *arg),
                          void *arg);
/* stat of an ancestor that does not exist really: a directory (0555) on the device of its
 * nearest real ancestor, whose owner and times it shows. -ENOTDIR if a real file is in the way. */
int hfs_vfs_near_stat(const char *path, struct stat *st);
/* An open ancestor directory: realfd >= 0 is a real directory fd the caller opened (the object
 * lists its real entries plus the mount components below it; returned as is); realfd < 0 opens
 * an fd on the ancestor's mirror directory (it lists the mount components only). */
int hfs_vfs_open_near(const char *path, int realfd, int flags, hfs_vobj **out);
/* 0 for a virtual object, 1 for a real ancestor directory, 2 for a missing (virtual) one. */
int hfs_vobj_near(const hfs_vobj *o);

/* Lexical normalization: collapses "//", "." and ".." (".." above "/" stays at "/").
 * If `p` is relative it is joined to `base` (an absolute path) first. Returns the length of the
 * result or -ENAMETOOLONG. */
int hfs_path_normalize(const char *base, const char *p, char *out, size_t n);
/* Does p have a ".." component? Then a relative path may climb from anywhere into a mount. */
static inline int hfs_path_has_dotdot(const char *p)
{
    for (const char *s = p; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || !s[2]))
            return 1;
    return 0;
}
/* "." (1), ".." (2) or a name (0) as the last component of p (trailing slashes ignored); *dir
 * (if not NULL) is the length of what comes before that component. */
int hfs_path_final(const char *p, size_t *dir);
/* Does walking p from base pass through a virtual directory before some ".."? The kernel cannot
 * follow such a spelling (the directory does not exist for it), even when the result is real. */
int hfs_path_through_virtual(const char *base, const char *p);
/* statx's answer for a stat result (all basic fields). */
struct statx;
void hfs_stat_to_statx(const struct stat *s, struct statx *x);

/* stat of a virtual path: st_ino stable (xxhash of mount and path), one st_dev per mount,
 * true size, mtime from the Hub, files 0444 regular, dirs 0555. -ENOENT if missing. */
HFS_MUST_CHECK int hfs_vfs_stat(const char *vpath, struct stat *st);

/* Open a virtual path with open(2) flags: hfs_vfs_open2 (below) with mode 0666. For a remote
 * file opened read-only, the fd is read-only on a local backing file (a complete cache blob or a
 * sparse partial file filled on demand); for a directory it is an fd on a real (empty) mirror
 * directory; write intents go to the overlay. O_DIRECTORY on a file -> -ENOTDIR; O_CREAT|O_EXCL
 * on an existing entry -> -EEXIST. O_CLOEXEC and O_NONBLOCK are honoured. Returns the fd and
 * stores a new object (one reference) in *out. */
HFS_MUST_CHECK int hfs_vfs_open(const char *vpath, int flags, hfs_vobj **out);

void hfs_vobj_ref(hfs_vobj *o);
void hfs_vobj_unref(hfs_vobj *o);
int hfs_vobj_is_dir(const hfs_vobj *o);
const char *hfs_vobj_path(const hfs_vobj *o); /* its virtual path */
/* The object's stat as located at open (for a local file's current size and times, with its fd:
 * hfs_vobj_stat_fd). */
int hfs_vobj_stat(hfs_vobj *o, struct stat *st);

/* Make bytes [off, off+len) of a file present in the backing file (clamped to the size),
 * fetching what is missing, with adaptive read-ahead for sequential readers. Directories and
 * complete files return 0 at once. */
HFS_MUST_CHECK int hfs_vobj_ensure(hfs_vobj *o, uint64_t off, uint64_t len);
/* Make the whole file present (before mmap, exec, stdio, sendfile...). */
HFS_MUST_CHECK int hfs_vobj_materialize(hfs_vobj *o);
/* 1 if every byte is local (no more fetching can happen behind this fd). */
HFS_MUST_CHECK int hfs_vobj_complete(hfs_vobj *o);

/* Directory listing by position: 0 is ".", 1 is "..", then the children in a stable order.
 * Returns 1 and fills *e, 0 at the end, or a negative errno. e->name stays valid while the
 * object lives. */
typedef struct {
    const char *name;
    unsigned char d_type; /* DT_REG, DT_DIR */
    uint64_t ino;
} hfs_dirent;
int hfs_vobj_readdir(hfs_vobj *o, uint64_t pos, hfs_dirent *e);

/* statvfs/statfs of a virtual path: a writable file system (ST_NOSUID|ST_NODEV, f_type
 * HFS_FS_MAGIC) with the free space of the real file system that holds the overlay, and f_fsid
 * from the path's st_dev (one per repo). */
#define HFS_FS_MAGIC 0x48465348 /* "HFSH" */
HFS_MUST_CHECK int hfs_vfs_statvfs(const char *vpath, struct statvfs *sv);
HFS_MUST_CHECK int hfs_vfs_statfs(const char *vpath, struct statfs *sf);

/* The mount table with ours in it: the real /proc/self/mountinfo (mountinfo=1) or
 * /proc/self/mounts (0), plus one line of type "hfshim" for the prefix, for each repo root below
 * it that this process has resolved, and for each explicit mount, with the major:minor of the
 * st_dev hfs_vfs_stat gives their roots. Returns a real fd on an anonymous copy (offset 0,
 * O_CLOEXEC if cloexec) or -errno. */
int hfs_vfs_mounttab_fd(int mountinfo, int cloexec);

/* Mirror directories: every virtual directory has a real empty directory at
 * <shim cache>/mirror<vpath>, used for directory fds and as the kernel cwd after chdir into a
 * virtual directory. hfs_vfs_mirror_dir creates it (after checking vpath is a directory) and
 * writes its path; hfs_vfs_unmirror maps a real path inside the mirror tree back to the
 * virtual path or missing ancestor (returns 1), or returns 0 when `real` is not inside it. */
int hfs_vfs_mirror_dir(const char *vpath, char *out, size_t n);
int hfs_vfs_unmirror(const char *real, char *vout, size_t n);

/* ---- Writes: the local staging overlay ----
 * Every change under a mount lands in a local overlay that mirrors repo paths, keyed by repo (not
 * by session or inode), and persists: <overlay base>/<type>s--<org>--<name>/upper/<repo path>.
 * Remote entries are only ever hidden (whiteouts ".wh.<name>", opaque dirs ".wh..wh..opq"; names
 * of programs that start with ".wh." are escaped, see overlay.h), never changed on the Hub here.
 * All functions take normalized virtual paths and return 0 (or a length / fd) or a negative errno
 * with the semantics of a local file system (EEXIST, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EXDEV
 * across repos, ...). */

/* open(2) with write intents allowed: O_CREAT (with `mode`, minus nothing: the caller applies
 * its umask first), O_EXCL, O_TRUNC, O_APPEND, O_WRONLY/O_RDWR. Opening a remote file for
 * writing copies it up first (whole content fetched; O_TRUNC skips the fetch). The fd is a real
 * fd on the overlay file (or, read-only on a remote file, the cache file as before). */
HFS_MUST_CHECK int hfs_vfs_open2(const char *vpath, int flags, mode_t mode, hfs_vobj **out);
/* 1 if the object is a local overlay file: the fd can be used directly for everything (write,
 * fchmod, ftruncate, fsync, flock...), nothing to fetch. */
int hfs_vobj_is_local(const hfs_vobj *o);
/* fstat for an fd the interposer registered: for local files the real fstat of `fd` (so size
 * and times follow writes) on the repo's device; otherwise as hfs_vobj_stat. */
int hfs_vobj_stat_fd(hfs_vobj *o, int fd, struct stat *st);

/* Extended attributes the core keeps on overlay copies (a renamed directory's inode number):
 * the interposer never shows, reads or changes names under this prefix for programs. */
#define HFS_OWN_XATTR_PREFIX "user.hfshim."

/* stat without following an overlay symlink (virtual entries are never symlinks otherwise). */
HFS_MUST_CHECK int hfs_vfs_lstat(const char *vpath, struct stat *st);
HFS_MUST_CHECK int hfs_vfs_mkdir(const char *vpath, mode_t mode);
HFS_MUST_CHECK int hfs_vfs_unlink(const char *vpath);
HFS_MUST_CHECK int hfs_vfs_rmdir(const char *vpath);
/* flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE. Both paths virtual and in the same repo
 * (else -EXDEV, so mv falls back to copy + delete). */
HFS_MUST_CHECK int hfs_vfs_rename(const char *from, const char *to, unsigned flags);
HFS_MUST_CHECK int hfs_vfs_symlink(const char *target, const char *linkpath);
/* Returns the length (not NUL-terminated, like readlink(2)); -EINVAL if not a symlink. */
HFS_MUST_CHECK int hfs_vfs_readlink(const char *vpath, char *buf, size_t n);
/* Hard link inside the overlay (a remote source is copied up first). */
HFS_MUST_CHECK int hfs_vfs_link(const char *from, const char *to);
HFS_MUST_CHECK int hfs_vfs_chmod(const char *vpath, mode_t mode, int nofollow);
HFS_MUST_CHECK int hfs_vfs_chown(const char *vpath, uid_t uid, gid_t gid, int nofollow);
HFS_MUST_CHECK int hfs_vfs_utimens(const char *vpath, const struct timespec ts[2], int nofollow);
HFS_MUST_CHECK int hfs_vfs_truncate(const char *vpath, off_t len);
/* For calls with no virtual meaning of their own (xattrs, mknod): copy the entry up if needed
 * and give the real overlay path to apply the call to. With create=1 the entry may be missing
 * (its parent must exist) and the path is where it would be created. */
int hfs_vfs_local_path(const char *vpath, int create, char *out, size_t n);

/* Pinned revisions of this process, as the value of HF_SHIM_PINS ("key=sha;key=sha"), so that
 * children started with exec keep one snapshot. Points at a static buffer that is only ever
 * replaced, never freed; safe to read in a vfork child. "" when nothing is pinned. */
const char *hfs_vfs_pins_env(void);

/* The pathname of this library (for re-adding LD_PRELOAD at exec), "" if unknown. */
const char *hfs_vfs_self_path(void);

/* Fork, the core's one rule: whoever loads the core calls these around every fork (the shim
 * through its one pthread_atfork, hfrun after its own forks). A forked child has only the
 * thread that forked: every lock another thread may have held is re-initialized, and
 * per-process state (prefetch, chunk claims, the background hash, the exit push, the log, the
 * connections) starts afresh, in hfs_vfs_atfork_child and nowhere else. prepare/parent hold
 * the few locks that must not be copied mid-change. */
void hfs_vfs_atfork_prepare(void);
void hfs_vfs_atfork_parent(void);
void hfs_vfs_atfork_child(void);

/* ---- Bytes that leave the shim's sight (handover.c) and libraries for the loader (libview.c) */

/* Make the whole file behind o present before its bytes reach something no wrapper sees (an fd
 * passed to another process, io_uring). `what` names the route in the one line printed when
 * it fails. Directories and complete files: 0 at once. */
HFS_MUST_CHECK int hfs_vobj_handover(hfs_vobj *o, const char *what);
/* fd was taken from another process (pidfd_getfd, open of /proc/PID/fd/N): -EIO, with one line
 * naming `what`, when it is one of hfshim's partial files with chunks missing (which this
 * process cannot fill: it does not know which repo file it is); 0 otherwise. */
int hfs_vfs_foreign_fd(int fd, const char *what);

/* A virtual library for the dynamic loader, whose own opens no wrapper sees: makes vpath
 * complete and writes a real path for it to `out` (<shim cache>/lib<vpath>, a symlink to the
 * complete backing file), after doing the same for the dependencies the loader will look for
 * in virtual directories. Those it can only reach by an absolute virtual directory (RPATH,
 * RUNPATH or LD_LIBRARY_PATH naming one) are listed in `pre` (NUL-separated real paths,
 * dependencies first, ended by an empty string) for the caller to load first. With
 * HFS_LIB_NOFETCH only the path is computed (RTLD_NOLOAD). 0 or -errno. */
#define HFS_LIB_NOFETCH 1
int hfs_vfs_lib_path(const char *vpath, int flags, char *out, size_t n, char *pre, size_t pren);
