/* The local backing of a remote file: a complete blob in the huggingface_hub cache layout (or,
 * for buckets, by xet hash in hfshim's folder), or a sparse partial file of the full size that
 * is filled chunk by chunk on demand, checked against its content hash when complete, and then
 * published into blobs/ (same inode: open fds stay valid). */
#pragma once
#include "checked.h"
#include <stdint.h>
#include "repo.h"
#include "net.h"

typedef struct hfs_file hfs_file;

/* Open the backing of entry `e` (path `rpath` in repo r). Returns a read-only fd with the
 * caller's O_CLOEXEC/O_NONBLOCK/O_NOATIME, and the state in *out; or -errno. */
HFS_MUST_CHECK int hfs_file_open(hfs_repo *r, const hfs_ientry *e, const char *rpath, int oflags,
                                 hfs_file **out);
HFS_MUST_CHECK int hfs_file_ensure(hfs_file *f, uint64_t off, uint64_t len);
int hfs_file_complete(hfs_file *f);
void hfs_file_free(hfs_file *f);
/* In a forked child (vfs.h's fork rule). */
void hfs_file_atfork_child(void);

/* The prefetch (prefetch.h) fetches whole small files ahead of their reader: _begin claims
 * every chunk of f machine-wide and describes the fetch of the whole file in *req and *range,
 * which point into f. 1: the caller fetches it, with hfs_file_prefetch_landed(f) as its
 * callback, then calls _end with the result; 0: nothing to do (complete, offline, or some of it
 * present or being fetched elsewhere: its reader sees to it); -errno. */
HFS_MUST_CHECK int hfs_file_prefetch_begin(hfs_file *f, hfs_fetch_req *req, hfs_range *range);
void hfs_file_prefetch_landed(void *f, uint64_t off, uint64_t len);
/* The bytes are checked against the file's id: then marked present and published. Either way
 * the claims are given back and waiters woken. */
void hfs_file_prefetch_end(hfs_file *f, int rc);
