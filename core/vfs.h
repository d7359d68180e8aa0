/* The core's face towards the interposer. Everything here works on *virtual* paths: absolute,
 * lexically normalized paths under the prefix (default /hf) or under an explicit mount.
 * Nothing here knows about interposition; every fd it returns is a real kernel fd.
 *
 * Thread-safe. Functions returning int give 0 (or a non-negative result) on success and a
 * negative errno on failure, after printing one "hfshim:" line for causes the user must see. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/statfs.h>

/* An open virtual file or directory. Reference counted: one reference per fd that refers to it
 * (the interposer takes another with hfs_vobj_ref on dup). */
typedef struct hfs_vobj hfs_vobj;

/* Reads configuration; idempotent, cheap after the first call. */
void hfs_vfs_init(void);

/* Cheap test, no lock, no allocation, no syscall: does the absolute path `p` start with the
 * prefix or a mount path (followed by '/' or end of string)? `p` need not be normalized. */
int hfs_vfs_covers(const char *p);

/* Lexical normalization: collapses "//", "." and ".." (".." above "/" stays at "/").
 * If `p` is relative it is joined to `base` (an absolute path) first. Returns the length of the
 * result or -ENAMETOOLONG. */
int hfs_path_normalize(const char *base, const char *p, char *out, size_t n);

/* stat of a virtual path: st_ino stable (xxhash of mount and path), one st_dev per mount,
 * true size, mtime from the Hub, files 0444 regular, dirs 0555. -ENOENT if missing. */
int hfs_vfs_stat(const char *vpath, struct stat *st);

/* Open a virtual path with open(2) flags. Any write intent (O_WRONLY, O_RDWR, O_CREAT on a
 * missing file, O_TRUNC, O_APPEND) -> -EROFS; O_DIRECTORY on a file -> -ENOTDIR;
 * O_CREAT|O_EXCL on an existing entry -> -EEXIST. For a file, the fd is read-only on a local
 * backing file (a complete cache blob or a sparse partial file filled on demand); for a
 * directory it is an fd on a real (empty) mirror directory. O_CLOEXEC and O_NONBLOCK are
 * honoured. Returns the fd and stores a new object (one reference) in *out. */
int hfs_vfs_open(const char *vpath, int flags, hfs_vobj **out);

void hfs_vobj_ref(hfs_vobj *o);
void hfs_vobj_unref(hfs_vobj *o);
int hfs_vobj_is_dir(const hfs_vobj *o);
const char *hfs_vobj_path(const hfs_vobj *o); /* its virtual path */
int hfs_vobj_stat(hfs_vobj *o, struct stat *st);

/* Make bytes [off, off+len) of a file present in the backing file (clamped to the size),
 * fetching what is missing, with adaptive read-ahead for sequential readers. Directories and
 * complete files return 0 at once. */
int hfs_vobj_ensure(hfs_vobj *o, uint64_t off, uint64_t len);
/* Make the whole file present (before mmap, exec, stdio, sendfile...). */
int hfs_vobj_materialize(hfs_vobj *o);
/* 1 if every byte is local (no more fetching can happen behind this fd). */
int hfs_vobj_complete(hfs_vobj *o);

/* Directory listing by position: 0 is ".", 1 is "..", then the children in a stable order.
 * Returns 1 and fills *e, 0 at the end, or a negative errno. e->name stays valid while the
 * object lives. */
typedef struct {
    const char *name;
    unsigned char d_type; /* DT_REG, DT_DIR */
    uint64_t ino;
} hfs_dirent;
int hfs_vobj_readdir(hfs_vobj *o, uint64_t pos, hfs_dirent *e);

/* Directory listing of a path without opening it (for scandir-like callers). */
int hfs_vfs_statvfs(const char *vpath, struct statvfs *sv);
int hfs_vfs_statfs(const char *vpath, struct statfs *sf);

/* Mirror directories: every virtual directory has a real empty directory at
 * <shim cache>/mirror<vpath>, used for directory fds and as the kernel cwd after chdir into a
 * virtual directory. hfs_vfs_mirror_dir creates it (after checking vpath is a directory) and
 * writes its path; hfs_vfs_unmirror maps a real path inside the mirror tree back to the
 * virtual path (returns 1), or returns 0 when `real` is not inside it. */
int hfs_vfs_mirror_dir(const char *vpath, char *out, size_t n);
int hfs_vfs_unmirror(const char *real, char *vout, size_t n);

/* Pinned revisions of this process, as the value of HF_SHIM_PINS ("key=sha;key=sha"), so that
 * children started with exec keep one snapshot. Points at a static buffer that is only ever
 * replaced, never freed; safe to read in a vfork child. "" when nothing is pinned. */
const char *hfs_vfs_pins_env(void);

/* The pathname of this library (for re-adding LD_PRELOAD at exec), "" if unknown. */
const char *hfs_vfs_self_path(void);

/* After fork, in the child: reset locks and network state inherited from the parent. */
void hfs_vfs_atfork_child(void);
