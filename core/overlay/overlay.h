/* The local staging overlay: layout shared by the core's write path, hfrun status/discard and
 * push.
 *
 *   <base>/<type>s--<org>--<name>/          one per repo or bucket (not per revision or session)
 *       upper/<repo path>                    files, dirs and symlinks written locally
 *       upper/<dir>/.wh.<stored name>        whiteout: remote <dir>/<name> is deleted locally
 *       upper/<dir>/.wh..wh..opq             opaque: nothing remote below <dir> is visible
 *       upper/<dir>/.wh..wh..tmp.<pid>.<n>   a copy-up being written
 *       .lock                                flock'ed by push / discard
 *       .wlock                               locked (fcntl) while a name is removed or a
 *                                            copy-up published (vfs_write.c; never across
 *                                            a fetch)
 *
 * <base> is HF_SHIM_OVERLAY (hfrun --overlay DIR), else <HF_SHIM_CACHE>/overlay. Repo paths map
 * 1:1 below upper/, so a mount of a subfolder and the prefix path to the same folder share files.
 *
 * Names: a program may use any name, ".wh.x" included. Each component of a repo path is stored
 * under its own name, except one starting with ".wh.", which is stored as ".wh..wh..esc" + name
 * (".wh.x" -> ".wh..wh..esc.wh.x"); a whiteout is ".wh." + the stored name. Names starting with
 * ".wh..wh." are the overlay's own (the OCI prefix for markers): an unescaped stored name never
 * starts with ".wh.", so no whiteout of one does, and escaped names and their whiteouts differ
 * from the markers at their tenth byte. (An escape outside ".wh..wh." would collide: ".wh..x" +
 * name is also the whiteout of the dotfile ".x" + name.) Programs never see whiteouts or markers;
 * an escaped name longer than NAME_MAX cannot be stored (ENAMETOOLONG), nor can a whiteout longer
 * than NAME_MAX (deleting a remote entry with a name that long fails). */
#pragma once
#include "checked.h"
#include <stdio.h>
#include "grammar.h"
#include <stddef.h>
#include <stdint.h>
#include "types.h"

#define HFS_WH_PREFIX ".wh."
#define HFS_WH_META ".wh..wh."
#define HFS_WH_OPAQUE HFS_WH_META ".opq"
#define HFS_WH_ESCAPE HFS_WH_META ".esc"
#define HFS_WH_TMP HFS_WH_META ".tmp."

/* What a name in an upper/ directory is. */
enum {
    HFS_OVN_ENTRY,    /* a file, dir or symlink; *vname: its name as programs see it */
    HFS_OVN_WHITEOUT, /* *vname: the name it hides; the stored name it hides is name + 4 */
    HFS_OVN_OPAQUE,
    HFS_OVN_INTERNAL, /* temp files, unknown markers: never shown, never pushed */
};
/* One of HFS_OVN_*; *vname as above, else name. */
int hfs_ov_name_kind(const char *name, const char **vname);
/* The stored name of the len bytes of a program's name at `name` (not NUL-terminated). */
int hfs_ov_escape(const char *name, size_t len, char *out, size_t n);
/* <upper>/<rpath> with each component stored as above. */
HFS_MUST_CHECK int hfs_ov_path(const char *upper, const char *rpath, char *out, size_t n);
/* <upper>/<parent of rpath>/.wh.<stored name of its last component>. */
HFS_MUST_CHECK int hfs_ov_wh_path(const char *upper, const char *rpath, char *out, size_t n);

/* <base> */
HFS_MUST_CHECK int hfs_overlay_base(char *out, size_t n);
/* <base>/<folder> for a repo */
HFS_MUST_CHECK int hfs_overlay_repo_dir(const hfs_repo_id *r, char *out, size_t n);
/* <base>/<folder>/upper */
HFS_MUST_CHECK int hfs_overlay_upper(const hfs_repo_id *r, char *out, size_t n);

/* A machine-wide counter (<base>/.generation, mapped shared) that every change to an overlay
 * bumps; UINT64_MAX when it cannot be mapped (then nothing may be cached). */
uint64_t hfs_overlay_generation(void);
void hfs_overlay_touch(void);

/* ---- administration (overlay_admin.c: hfrun status / discard / push's choice of repos) */

/* Local changes against the pinned snapshot, one line each: "A path", "M path", "D path",
 * "D folder/", and "? path (why)" for entries that stay local. The number of changes that a
 * push would send, or a negative errno. */
HFS_MUST_CHECK int hfs_overlay_status(const hfs_spec *s, FILE *out);

/* Drops local changes (under the overlay lock): all of the repo's when path is NULL or "",
 * else the overlay entry at path (a whole folder for a folder) and its whiteout. */
HFS_MUST_CHECK int hfs_overlay_discard(const hfs_spec *s, const char *path, FILE *report);

/* 1 if the repo's overlay holds anything (files, folders, whiteouts), else 0. */
int hfs_overlay_dirty(const hfs_repo_id *r);

/* Calls cb for every repo or bucket that has an overlay dir (rev ""), in name order; stops
 * at a non-zero return and returns it. */
HFS_MUST_CHECK int hfs_overlay_repos(int (*cb)(const hfs_spec *s, void *arg), void *arg);
