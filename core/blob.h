/* The local backing of a remote file: a complete blob in the huggingface_hub cache layout (or,
 * for buckets, by xet hash in hfshim's folder), or a sparse partial file of the full size that
 * is filled chunk by chunk on demand, checked against its content hash when complete, and then
 * published into blobs/ (same inode: open fds stay valid). */
#pragma once
#include <stdint.h>
#include "repo.h"

typedef struct hfs_file hfs_file;

/* Open the backing of entry `e` (path `rpath` in repo r). Returns a read-only fd with the
 * caller's O_CLOEXEC/O_NONBLOCK/O_NOATIME, and the state in *out; or -errno. */
int hfs_file_open(hfs_repo *r, const hfs_ientry *e, const char *rpath, int oflags, hfs_file **out);
int hfs_file_ensure(hfs_file *f, uint64_t off, uint64_t len);
int hfs_file_complete(hfs_file *f);
void hfs_file_free(hfs_file *f);
