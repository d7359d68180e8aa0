/* hf:// path grammar: repo specs and paths below the prefix. Pure functions. */
#pragma once
#include "checked.h"
#include "types.h"

/* A repo or bucket at a revision. rev "" means the default branch. */
typedef struct {
    hfs_repo_id repo;
    char rev[HFS_REV_MAX];
} hfs_spec;

/* Percent-decode `len` bytes ("%2F" -> "/"). 0, or -EINVAL on a bad escape / -ENAMETOOLONG. */
int hfs_pct_decode(const char *in, size_t len, char *out, size_t n);

/* Parse a mount spec: "[hf://][models/|datasets/|spaces/|buckets/]org/name[@rev][/subfolder]".
 * The subfolder (no leading/trailing '/') goes to `sub`. 0 or -EINVAL. */
HFS_MUST_CHECK int hfs_parse_spec(const char *s, hfs_spec *out, char *sub, size_t subn);

/* Where a path below the prefix points. `rel` is the normalized part after "<prefix>/"
 * ("" for the prefix itself). */
enum { HFS_VL_ROOT, HFS_VL_TYPEDIR, HFS_VL_ORGDIR, HFS_VL_REPO };
typedef struct {
    int kind;
    hfs_spec spec;    /* HFS_VL_ORGDIR: type only + id "org"; HFS_VL_REPO: full */
    const char *path; /* HFS_VL_REPO: path inside the repo, "" for its root (points into rel) */
} hfs_vloc;

/* 0, or -ENOENT for names that cannot exist (bad escape, "@" on a bucket, empty org). */
HFS_MUST_CHECK int hfs_parse_vpath(const char *rel, hfs_vloc *out);

/* "model:acme/tiny@main" style key for pins and caches; rev "" is written as "main". */
void hfs_spec_key(const hfs_spec *s, char *out, size_t n);
/* Sets out->repo.id from s[0..len). */
int hfs_fmt_id(hfs_spec *out, const char *s, size_t len);
/* Is s a full 40-hex commit sha? */
int hfs_is_sha(const char *s);
