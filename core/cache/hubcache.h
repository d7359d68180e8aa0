/* The huggingface_hub cache as hfshim shares it, beyond blobs (file.c): refs that always name
 * an existing snapshot folder, and a snapshot folder read back as a tree index when offline. */
#pragma once
#include "checked.h"

/* refs/<rev> = sha in the repo folder `folder` ("models--org--name") of HF_HUB_CACHE, after
 * creating snapshots/<sha>/: huggingface_hub's scan_cache_dir reports a repo whose ref names
 * a missing snapshot (or that has no snapshots/ at all) as corrupted. 0 or -errno. */
int hfs_hub_write_ref(const char *folder, const char *rev, const char *sha);

/* Write at `idx_path` a tree index of what snapshots/<sha>/ of `folder` holds: its files
 * (symlinks whose blob exists, or copies) with sizes from the blobs and content ids from the
 * blob names, and its directories. Entries whose blob is missing are left out. 0, -ENOENT if
 * the snapshot folder does not exist, or -errno. */
HFS_MUST_CHECK int hfs_hub_snapshot_index(const char *folder, const char *sha,
                                          const char *idx_path);
