/* Tree index of one snapshot (a commit of a repo, or a listing of a bucket), kept on disk in a
 * form that a new process maps and uses at once: a hash table on xxhash for path lookup and
 * children stored contiguously, sorted by name, for directory listing. */
#pragma once
#include "checked.h"
#include <stdint.h>
#include "types.h"

enum { HFS_ETAG_NONE = 0, HFS_ETAG_GITSHA1, HFS_ETAG_SHA256, HFS_ETAG_XET };

typedef struct {
    uint32_t parent;   /* index of the parent directory (root: 0) */
    uint32_t path_off; /* into the string table; full path, "" for the root */
    uint32_t path_len;
    uint32_t name_off; /* last component */
    uint32_t name_len;
    uint32_t is_dir;
    uint32_t first_child; /* directories: children are [first_child, first_child + nchildren) */
    uint32_t nchildren;
    uint64_t size;
    int64_t mtime;
    uint32_t etag_kind;
    char etag[68]; /* content id naming the blob: lfs sha256, else git sha1; xet hash for buckets */
} hfs_ientry;

typedef struct hfs_index hfs_index;

/* Collects entries, then writes the index file atomically. Missing parent dirs are implied. */
typedef struct hfs_index_builder hfs_index_builder;
hfs_index_builder *hfs_ib_new(void);
HFS_MUST_CHECK int hfs_ib_add(hfs_index_builder *b, const hfs_tree_entry *e, int is_bucket);
/* default_mtime is used for entries without one. Returns 0 or -errno. Frees b. */
HFS_MUST_CHECK int hfs_ib_write(hfs_index_builder *b, const char *path, int64_t default_mtime);
void hfs_ib_free(hfs_index_builder *b);

/* Map an index file; NULL (errno set) if missing or invalid. */
hfs_index *hfs_index_open(const char *path);
void hfs_index_close(hfs_index *ix);
uint32_t hfs_index_count(const hfs_index *ix);
const hfs_ientry *hfs_index_at(const hfs_index *ix, uint32_t i);
/* Lookup by path relative to the root ("" is the root). NULL if absent. */
const hfs_ientry *hfs_index_lookup(const hfs_index *ix, const char *path, size_t len);
uint32_t hfs_index_id(const hfs_index *ix, const hfs_ientry *e);
const char *hfs_index_str(const hfs_index *ix, uint32_t off);
