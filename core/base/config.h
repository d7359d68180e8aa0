/* Settings read once from the environment (Hugging Face conventions first). */
#pragma once
#include <limits.h>
#include <stddef.h>

#define HFS_MAX_MOUNTS 32

#define HFS_TOKEN_MAX 512

/* The strings live back to back in one buffer of config.c: reading the configuration writes one
 * page, not one per field (each page a process writes costs a fault; bench/ANALYSIS.md). Never
 * NULL; "" when unset. */
typedef struct {
    const char *endpoint; /* HF_ENDPOINT, default https://huggingface.co, no trailing '/' */
    const char *hf_home;  /* HF_HOME, default $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface */
    const char *hub_cache;  /* HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub */
    const char *shim_cache; /* HF_SHIM_CACHE, else $HF_HOME/hfshim */
    const char *prefix;     /* HF_SHIM_PREFIX, default /hf, normalized, no trailing '/' */
    const char *mounts;     /* HF_MOUNTS raw */
    const char *session;    /* HF_SHIM_SESSION: hfrun's session dir holding pinned revisions */
    int offline;            /* HF_HUB_OFFLINE=1 */
    int no_push;            /* HF_NO_PUSH=1 */
    int rev_ttl;  /* HF_SHIM_REVISION_TTL seconds a branch->sha answer is reused across processes
                     without hfrun; default 60 */
    int timeout;  /* HF_SHIM_TIMEOUT: seconds a network operation may block without progress
                     (net_budget.h); default 30 */
    int prefetch; /* HF_SHIM_PREFETCH: small files fetched at once ahead of a reader walking a
                     directory in listing order (prefetch.h); default 8, 0 = none */
} hfs_config;

/* HF_SHIM_PREFIX normalized (default /hf), without reading anything else: what every process
 * needs at start, so the rest of the configuration is read only on first use. */
void hfs_cfg_prefix(char *out, size_t n);
/* Reads the environment on first call; later calls return the same object. */
const hfs_config *hfs_cfg(void);
/* HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), else the file HF_TOKEN_PATH, else $HF_HOME/token;
 * "" if none; at most HFS_TOKEN_MAX - 1 bytes. Read on first use only. */
const char *hfs_cfg_token(void);
/* Re-read (tests, and after the program changes its environment before first use). */
void hfs_cfg_reload(void);
/* In a forked child (vfs.h's fork rule). */
void hfs_cfg_atfork_child(void);
int hfs_env_true(const char *name);
