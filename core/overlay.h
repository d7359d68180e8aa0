/* The local staging overlay: layout shared by the core's write path, hfrun status/discard and
 * push.
 *
 *   <base>/<type>s--<org>--<name>/          one per repo or bucket (not per revision or session)
 *       upper/<repo path>                    files, dirs and symlinks written locally
 *       upper/<dir>/.wh.<name>               whiteout: remote <dir>/<name> is deleted locally
 *       upper/<dir>/.wh..wh..opq             opaque: nothing remote below <dir> is visible
 *       .lock                                flock'ed by push / discard
 *       .wlock                               flock'ed while a name is removed or a copy-up
 *                                            published (vfs_write.c; never across a fetch)
 *
 * <base> is HF_SHIM_OVERLAY (hfrun --overlay DIR), else <HF_SHIM_CACHE>/overlay. Repo paths map
 * 1:1 below upper/, so a mount of a subfolder and the prefix path to the same folder share files.
 * Names starting with ".wh." are reserved: programs never see them and cannot create them. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "types.h"

#define HFS_WH_PREFIX ".wh."
#define HFS_WH_OPAQUE ".wh..wh..opq"

/* <base> */
int hfs_overlay_base(char *out, size_t n);
/* <base>/<folder> for a repo */
int hfs_overlay_repo_dir(const hfs_repo_id *r, char *out, size_t n);
/* <base>/<folder>/upper */
int hfs_overlay_upper(const hfs_repo_id *r, char *out, size_t n);

/* A machine-wide counter (<base>/.generation, mapped shared) that every change to an overlay
 * bumps; UINT64_MAX when it cannot be mapped (then nothing may be cached). */
uint64_t hfs_overlay_generation(void);
void hfs_overlay_touch(void);
