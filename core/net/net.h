/* The network module: Hub API client on libcurl, JSON through jsmn, content hashes through
 * libcrypto. It is built into its own shared object (build/libhfshim-net.so) that the core loads
 * with dlopen only when it first needs the network, so a process that never touches a virtual
 * path never loads libcurl or OpenSSL. hfrun and the unit tests link it statically.
 *
 * Every function returns 0 on success or a negative errno, and on failure prints one
 * "hfshim:" line (through log.h) naming repo, path and reason:
 *   404 / RevisionNotFound / EntryNotFound / RepoNotFound -> -ENOENT
 *   401, 403, GatedRepo                                   -> -EACCES
 *   network failure or 5xx/408/429 after retries          -> -EIO
 *   a reply that cannot be parsed / is short / mismatched -> -EIO
 *   HF_HUB_OFFLINE=1 (any request)                        -> -ENETUNREACH (no request made)
 */
#pragma once
#include <stdint.h>
#include "config.h"
#include "libc.h"
#include "types.h"
#include "net_commit.h"

typedef struct hfs_fetch_req {
    hfs_repo_id repo;
    const char *rev;  /* commit sha for repos; ignored for buckets */
    const char *path; /* path in repo */
    uint64_t size;    /* expected total size of the file */
    const char *dest; /* local file to pwrite the bytes into, at their own offsets */
    /* The content's hash (lowercase hex), to check an answer that brings the whole file (a
     * server that ignored Range) before any of it counts as fetched: sha256 for LFS files,
     * git_oid (git blob sha1) for others; NULL when unknown (then only its size is checked). */
    const char *sha256;
    const char *git_oid;
    /* A prefetch, not a read: failures are debug lines only (the reader, if one comes, fetches
     * and reports), and a non-zero *cancel abandons the transfer (NULL: never). */
    int quiet;
    const int *cancel;
} hfs_fetch_req;

/* Called (from the calling thread) as soon as a range has been written completely to dest. */
typedef void (*hfs_range_done_cb)(void *arg, uint64_t off, uint64_t len);

/* One file of a stream of fetches (fetch_feed): one range of it, usually the whole file. */
typedef struct hfs_fetch_item {
    hfs_fetch_req req;
    hfs_range range;
    void *arg; /* for range_done and ended */
    int rc;    /* when it has ended: 0, or -errno */
} hfs_fetch_item;

/* Where fetch_feed takes its files from, as transfer slots free up. */
typedef struct hfs_fetch_feed {
    hfs_fetch_item *(*next)(void *arg); /* the next file to fetch, or NULL: none for now */
    void (*ended)(hfs_fetch_item *it, void *arg); /* it->rc set; the stream is done with it */
    hfs_range_done_cb range_done;                 /* called with it->arg */
    int wake_fd; /* readable when next() may have more (drained by the stream); -1: none */
    int max_par; /* files in flight at once */
    /* Non-zero: the stream ends at once, every file in it ended with -ECANCELED (NULL:
     * never). Set it, then make wake_fd readable. */
    const int *stop;
    void *arg;
} hfs_fetch_feed;

/* What the core lends the module when it loads it: its one log and configuration, so the
 * module keeps no copy of either (one HF_SHIM_LOG level, one once-per-message record, one
 * reload), and its libc table (libc.h), so the module's own file calls reach libc, not the
 * shim's wrappers. hfrun and the unit tests link the module with the core's own and pass NULL. */
typedef struct hfs_net_services {
    uint32_t size;                                 /* sizeof(hfs_net_services) of its filler */
    void (*log_line)(int level, const char *line); /* one message, formatted */
    int (*log_level)(void);
    const hfs_config *(*cfg)(void);
    const char *(*cfg_token)(void);
    const hfs_libc_ops *libc; /* the core's table at load */
} hfs_net_services;

#define HFS_NET_VERSION 3

struct hfs_net_ops {
    /* sizeof(struct hfs_net_ops) and HFS_NET_VERSION of the module's build: the core uses
     * a table only if it is at least as large as its own and of its version. */
    uint32_t size;
    uint32_t version;

    /* Revision (branch, tag, sha; NULL or "" = default branch) -> 40-hex commit sha and the
     * repo's lastModified (unix seconds, 0 if absent). GET /api/{type}s/{id}/revision/{rev}.
     * Not for buckets. */
    int (*revision)(const hfs_repo_id *r, const char *rev, char sha_out[41], int64_t *mtime_out);

    /* Bucket info: GET /api/buckets/{id}; fills updatedAt (unix seconds). Confirms existence. */
    int (*bucket_info)(const hfs_repo_id *r, int64_t *mtime_out);

    /* Full recursive listing (files and directories) of the repo at `sha` (or of a bucket),
     * following Link rel="next" pagination. cb is called for every entry. */
    int (*tree)(const hfs_repo_id *r, const char *sha, hfs_entry_cb cb, void *arg);

    /* Fetch byte ranges of a file (GET resolve with Range) into req->dest. Redirects to another
     * host are followed by hand, without the Authorization header; the redirect target is cached
     * per file for reuse. Ranges are fetched concurrently (several connections) when there is
     * more than one. Calls done() for each range fully written; a 200 answer with the whole file
     * is taken whole and, once its hash (or size) checks, reported as one range, the file.
     * Returns 0 only if every range was fetched. Never writes bytes the server did not send. */
    int (*fetch)(const hfs_fetch_req *req, const hfs_range *ranges, int n, hfs_range_done_cb done,
                 void *arg);

    /* Content checks: sha256 of a file (hex), and the git blob sha1 ("blob <size>\0" + bytes). */
    int (*sha256_file)(const char *path, char hex_out[65]);
    int (*git_sha1_file)(const char *path, char hex_out[41]);

    /* Drop connections inherited from the parent; called in the child after fork. */
    void (*atfork_child)(void);

    /* ---- writes (net_commit.h) */
    /* POST /api/{type}s/{id}/preupload/{rev}: the upload mode of each file (sets lfs, ignore,
     * remote_oid) and the branch head (head_out, "" if not given). */
    int (*preupload)(const hfs_repo_id *r, const char *rev, hfs_upload_file *f, int n,
                     char head_out[41]);
    /* LFS batch (upload operation, basic transfer) for the files with lfs set, then a PUT of
     * each missing object to the href the Hub gives (no Authorization header off the Hub's
     * origin) and its verify call. Sets uploaded. */
    int (*lfs_upload)(const hfs_repo_id *r, const char *rev, hfs_upload_file *f, int n);
    /* POST /api/{type}s/{id}/commit/{branch} (NDJSON) with parentCommit = parent (NULL: none).
     * The new commit's sha in sha_out. -ESTALE, silently, if the branch moved (412). */
    int (*commit)(const hfs_repo_id *r, const char *branch, const char *summary,
                  const char *description, const char *parent, const hfs_commit_op *ops, int n,
                  char sha_out[41]);

    /* ---- incremental content hash */
    /* A state for the sha256 (git = 0) or the git blob sha1 of a file of `size` bytes (the
     * header is hashed here); NULL if out of memory. Feed it the bytes in order with
     * hash_update; hash_final writes the hex digest (65 or 41 bytes); hash_free releases it. */
    void *(*hash_new)(int git, uint64_t size);
    int (*hash_update)(void *h, const void *p, size_t n);
    int (*hash_final)(void *h, char *hex_out, size_t n);
    void (*hash_free)(void *h);

    /* ---- streams of small files (the prefetch) */
    /* Fetches the files feed->next() hands out, at most feed->max_par at once over the multi
     * interface (HTTP/2-multiplexed over one connection where the server offers it), each
     * with its own HF_SHIM_TIMEOUT budget, until next() has nothing and nothing is in flight.
     * 0, or -ENOMEM if no transfer could be set up. */
    int (*fetch_feed)(const hfs_fetch_feed *feed);

    /* ---- a repo loaded in one round trip */
    /* revision(), asked with blobs=true. When the reply's siblings can stand for the listing
     * (1 to 1,000 files, each with its size and blob id: huggingface_hub's rule), cb gets each
     * file as tree() would give it and *listed = 1; otherwise *listed = 0 and the caller lists
     * the tree. hint (NULL: none) is the path of a file about to be read: a HEAD of its resolve
     * URL at `rev` goes out together with the revision request, and a redirect off the Hub that
     * it answers for the commit returned is kept for fetch(), whose first request then goes
     * there. The hint never changes the result: it fails silently (a debug line). */
    int (*revision_listing)(const hfs_repo_id *r, const char *rev, const char *hint,
                            char sha_out[41], int64_t *mtime_out, hfs_entry_cb cb, void *arg,
                            int *listed);
};

/* Exported by libhfshim-net.so (the only default-visibility symbol there); svc NULL when the
 * module is linked with the core itself. */
const struct hfs_net_ops *hfs_net_ops_v2(const hfs_net_services *svc);

/* Core side: returns the ops, loading the module on first use; NULL if it cannot be loaded
 * (an "hfshim:" line says why). hfs_net_set_static lets statically linked programs skip dlopen. */
const struct hfs_net_ops *hfs_net(void);
void hfs_net_set_static(const struct hfs_net_ops *ops);
/* In a forked child: reset the loader lock and drop inherited connections. */
void hfs_net_atfork_child(void);
