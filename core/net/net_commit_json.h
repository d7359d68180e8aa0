/* Request bodies and reply parsing for the write calls (net_commit.c). Pure functions: no
 * network, no global state, unit-tested from literal strings. Reply parsers return 0, or -EIO
 * with a one-phrase reason in err. */
#pragma once
#include "checked.h"
#include <stddef.h>
#include <stdint.h>
#include "net_commit.h"
#include "net_http.h"

/* Base64 (standard alphabet, padded, one line) of n bytes through OpenSSL; malloc'd, NULL if
 * out of memory. */
char *hfs_base64(const void *p, size_t n);

/* {"files":[{"path","sample"(base64),"size"}...]} for f[0..n); malloc'd or NULL. */
char *hfs_json_preupload_body(const hfs_upload_file *f, int n);
/* Applies a preupload reply to f[0..n) (matched by path: lfs, ignore, remote_oid); head gets
 * "commitOid" ("" if absent). A file the reply does not mention is an error. */
HFS_MUST_CHECK int hfs_json_preupload_reply(const char *js, size_t len, hfs_upload_file *f, int n,
                                            char head[41], char *err, size_t errsz);

/* The LFS batch request (upload, basic transfer, sha256) for objs[0..n); rev NULL: no ref. */
char *hfs_json_lfs_batch_body(hfs_upload_file *const *objs, int n, const char *rev);

typedef struct {
    char oid[65];
    char *upload;    /* where to PUT the bytes; NULL if the Hub has the object */
    char *verify;    /* where to POST {"oid","size"} afterwards; NULL if none */
    int multipart;   /* the Hub asked for a multipart upload (header.chunk_size) */
    char error[200]; /* the object's own error message, "" if none */
} hfs_lfs_action;
/* Objects of a batch reply into out[0..max) (*nout of them). Free with hfs_lfs_actions_free. */
HFS_MUST_CHECK int hfs_json_lfs_batch_reply(const char *js, size_t len, hfs_lfs_action *out,
                                            int max, int *nout, char *err, size_t errsz);
void hfs_lfs_actions_free(hfs_lfs_action *a, int n);

/* Commit lines (NDJSON, each ending in '\n'), appended to b. 0 or -ENOMEM. */
int hfs_ndjson_header(hfs_buf *b, const char *summary, const char *description, const char *parent);
int hfs_ndjson_file(hfs_buf *b, const char *path, const void *data, size_t len);
int hfs_ndjson_lfs(hfs_buf *b, const char *path, const char *sha256, uint64_t size);
int hfs_ndjson_delete(hfs_buf *b, const char *path, int folder);

/* {"success":true,"commitOid":"<40 hex>",...} -> sha (lowercase). */
HFS_MUST_CHECK int hfs_json_commit_reply(const char *js, size_t len, char sha[41], char *err,
                                         size_t errsz);
