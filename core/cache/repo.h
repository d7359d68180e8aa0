/* Repos and buckets in use by this process: each resolved once to a snapshot (a commit sha, or a
 * bucket listing id) and its tree index mapped from disk, fetching the listing only when no
 * process on the machine has it yet. One snapshot per job: pins come from HF_SHIM_PINS
 * (inherited from the parent), then hfrun's session dir, then a recent answer cached on disk
 * under this process's token (HF_SHIM_REVISION_TTL, revcache.h), and only then the Hub.
 * Offline, refs/<rev> of the huggingface_hub cache, and the snapshot folder when this commit
 * was never listed (hubcache.h). */
#pragma once
#include <limits.h>
#include <stdint.h>
#include "grammar.h"
#include "index.h"

typedef struct hfs_repo {
    hfs_spec spec;
    char key[HFS_ID_MAX + HFS_REV_MAX + 16];
    char folder[HFS_ID_MAX + 16]; /* "models--org--name" */
    char snap[48];                /* commit sha, or "b<unix time>" for a bucket listing */
    char *uroot; /* its overlay's upper/ directory (overlay.h); allocated to size, as a
                  * PATH_MAX array made each process's first lookup touch one more fresh page */
    hfs_index *ix;
    int cached_only; /* ix lists only what the snapshot folder holds (offline, no listing) */
    uint64_t dev;
    int err; /* cached failure (negative errno) */
    int64_t err_time;
    uint64_t no_overlay_gen; /* overlay generation + 1 at which upper/ was seen missing */
    int loading; /* a thread resolves and indexes it now, with no lock held; others wait */
    struct hfs_repo *next;
} hfs_repo;

/* Device numbers: the prefix's own directories (the prefix, type and organisation levels) share
 * HFS_DEV_PREFIX; each repo gets hfs_repo_dev of its key, without resolving it. */
#define HFS_DEV_PREFIX 0x4846000000000000ull
uint64_t hfs_repo_dev(const hfs_spec *s);

/* The repo for a spec, resolved and indexed. NULL with *err = -errno on failure (an
 * "hfshim:" line has been printed). */
hfs_repo *hfs_repo_get(const hfs_spec *s, int *err);
/* The same, for an open of the file at `hint` (its path in the repo) that will read it: should
 * the repo be loaded now, where that file's bytes live is asked beside the revision, so its
 * first read needs one round trip fewer (net.h, revision_listing). */
hfs_repo *hfs_repo_get_for(const hfs_spec *s, const char *hint, int *err);

/* Current pins as "key=snap;key=snap" (static; replaced, never freed). */
const char *hfs_repo_pins_env(void);
void hfs_repo_atfork_child(void);
/* cb for each repo this process has resolved so far (under the registry lock: cb must not call
 * back into the registry). */
void hfs_repo_each(void (*cb)(const hfs_repo *r, void *arg), void *arg);
