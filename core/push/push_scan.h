/* What a repo's overlay changes against a snapshot: the walk of upper/ behind `hfrun status` and
 * `hfrun push`. Internal to push*.c. */
#pragma once
#include "checked.h"
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "index.h"
#include "types.h"

enum {
    HFS_CH_ADD = 'A',      /* file only in the overlay */
    HFS_CH_MOD = 'M',      /* file in both, different content */
    HFS_CH_DEL_FILE = 'D', /* remote file hidden (whiteout, opaque dir, or a local dir there) */
    HFS_CH_DEL_DIR = 'd',  /* remote folder hidden, or replaced by a local file */
    HFS_CH_SAME = '=',     /* a copy-up whose content equals the remote file */
    HFS_CH_SKIP = '?',     /* a local entry the Hub cannot hold (symlink, fifo, .git): stays */
};

typedef struct {
    int kind;
    char *path;  /* in the repo */
    char *local; /* the overlay entry (A, M, =, ?), else NULL */
    uint64_t size;
    struct timespec mtime; /* of the overlay file when scanned: it is removed after a push only
                              if it still has this size and mtime */
    char sha256[65];       /* when the comparison computed it, else "" */
    const char *why;       /* HFS_CH_SKIP: what the entry is */
} hfs_change;

typedef struct {
    hfs_change *v;
    size_t n, cap;
    char **markers; /* whiteouts and opaque markers the deletions come from */
    size_t nm, cm;
    char **dirs; /* overlay dirs worth removing once empty, deepest first */
    size_t nd, cd;
} hfs_changes;

/* Walks upper/ (`upper` is its path; missing = no changes) against the snapshot index ix.
 * Changes come out sorted by path. 0 or -errno (an "hfshim:" line says why). */
HFS_MUST_CHECK int hfs_scan_overlay(const char *name, const char *upper, const hfs_index *ix,
                                    int bucket, const char *blob_dir, hfs_changes *out);
void hfs_changes_free(hfs_changes *c);
/* Number of changes that a push sends (A, M, D, d). */
size_t hfs_changes_count(const hfs_changes *c);
/* "A path" lines (and "? path (...)" for entries that stay local) on out. */
void hfs_changes_print(const hfs_changes *c, FILE *out);
