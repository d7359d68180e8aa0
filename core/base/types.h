/* Shared plain types: repo identity, tree entries, byte ranges. */
#pragma once
#include <stdint.h>
#include <stddef.h>

typedef enum { HFS_MODEL = 0, HFS_DATASET, HFS_SPACE, HFS_BUCKET } hfs_repo_type;

#define HFS_ID_MAX 256
#define HFS_REV_MAX 256

/* A repo or bucket: type plus "org/name". */
typedef struct {
    hfs_repo_type type;
    char id[HFS_ID_MAX];
} hfs_repo_id;

/* One entry of a tree listing, as the Hub returns it. */
typedef struct {
    const char *path; /* relative to the repo root, no leading '/' */
    int is_dir;
    uint64_t size;
    char oid[41];        /* git blob/tree sha1, "" for buckets */
    char lfs_sha256[65]; /* "" unless the file is LFS */
    char xet_hash[65];   /* "" unless known */
    int64_t mtime;       /* unix seconds; 0 if the listing has none */
} hfs_tree_entry;

typedef struct {
    uint64_t off;
    uint64_t len;
} hfs_range;

/* Called once per entry; return non-zero to stop the listing. */
typedef int (*hfs_entry_cb)(const hfs_tree_entry *e, void *arg);

/* "models", "datasets", "spaces", "buckets" */
const char *hfs_type_plural(hfs_repo_type t);
/* URL prefix of a resolve path: "", "datasets/", "spaces/", "buckets/" */
const char *hfs_type_url_prefix(hfs_repo_type t);
/* s starts with a type's plural ("models", "datasets", "spaces", "buckets"): its length, with
 * the type in *t; else 0. */
size_t hfs_type_from_plural(const char *s, hfs_repo_type *t);
