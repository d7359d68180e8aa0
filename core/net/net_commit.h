/* Writing to a repo: the three steps every Hub client takes for a commit (preupload decides
 * regular or LFS per file; large/binary files go through the LFS batch API to the storage the
 * Hub points at; one NDJSON commit names everything). Plain types shared by the core (push.c)
 * and the network module; the calls are the ops at the end of struct hfs_net_ops (net.h).
 *
 * Errors follow net.h: -EACCES for 401/403 (no write access), -ENOENT for a missing repo or
 * branch, -EIO otherwise, one "hfshim:" line each. The commit's 412 ("a commit has happened
 * since") is -ESTALE and prints nothing: the caller rebases or explains. */
#pragma once
#include "checked.h"
#include <stddef.h>
#include <stdint.h>
#include "types.h"

#define HFS_SAMPLE_MAX 512 /* bytes of each file the Hub sees at preupload */

/* A file to upload: filled by the caller, completed by preupload and lfs_upload. */
typedef struct hfs_upload_file {
    const char *path;  /* in the repo */
    const char *local; /* the file holding the content */
    uint64_t size;
    unsigned char sample[HFS_SAMPLE_MAX];
    size_t sample_len;
    /* preupload: */
    int lfs;             /* uploadMode "lfs" (empty files are always regular) */
    int ignore;          /* shouldIgnore (.gitignore'd on the Hub) */
    char remote_oid[65]; /* the Hub's "oid" for an existing file (git sha1, or sha256 for LFS) */
    /* lfs_upload: sha256 is set by the caller (hex), uploaded by the call */
    char sha256[65];
    int uploaded; /* 1 if the bytes were sent, 0 if the Hub had the object already */
} hfs_upload_file;

enum { HFS_OP_FILE = 1, HFS_OP_LFS, HFS_OP_DEL_FILE, HFS_OP_DEL_FOLDER };

/* One line of the commit, applied by the Hub in order. */
typedef struct hfs_commit_op {
    int kind;
    const char *path;
    const char *local;  /* HFS_OP_FILE: content, read (and base64-encoded) while sending */
    uint64_t size;      /* HFS_OP_FILE: expected size (a file that changed fails); HFS_OP_LFS */
    const char *sha256; /* HFS_OP_LFS */
} hfs_commit_op;

/* The calls, as exported by the network module (net_module.c puts them in hfs_net_ops). */
HFS_MUST_CHECK int hfs_hub_preupload(const hfs_repo_id *r, const char *rev, hfs_upload_file *f,
                                     int n, char head_out[41]);
HFS_MUST_CHECK int hfs_hub_lfs_upload(const hfs_repo_id *r, const char *rev, hfs_upload_file *f,
                                      int n);
HFS_MUST_CHECK int hfs_hub_commit(const hfs_repo_id *r, const char *branch, const char *summary,
                                  const char *description, const char *parent,
                                  const hfs_commit_op *ops, int n, char sha_out[41]);
