/* Checking a download while it arrives: a background thread hashes the contiguous prefix of a
 * partial file as its chunks come in, so when the last chunk lands only the tail is left to
 * hash, not the whole file (bench/ANALYSIS.md). The chunk map is the only state it shares
 * with the fetching thread. */
#pragma once
#include "checked.h"
#include <stdint.h>
#include "chunkmap.h"

typedef struct hfs_hasher hfs_hasher;

/* Start hashing `path` (`size` bytes; git = 1 for the git blob sha1, else sha256) as the
 * chunks of `cm` become present. NULL if the thread or the network module is not available, or
 * in a vfork child (proc.h); the caller then hashes the whole file at the end. */
hfs_hasher *hfs_hasher_start(const char *path, uint64_t size, int git, const hfs_chunkmap *cm);
/* More chunks are present. */
void hfs_hasher_kick(hfs_hasher *h);
/* Every chunk is present: wait for the rest to be hashed and write the hex digest. Once only
 * (the digest state is spent; a second call gives -EALREADY). 0, or -errno if the hash could
 * not be completed here (a read failed, or this is a forked child of the process that started
 * the thread); the caller then hashes the file itself. */
HFS_MUST_CHECK int hfs_hasher_finish(hfs_hasher *h, char *hex, size_t n);
/* Stop the thread (waiting at most for the 256 KiB piece it is hashing) and free. NULL is
 * fine. */
void hfs_hasher_free(hfs_hasher *h);
/* In a forked child (vfs.h's fork rule). */
void hfs_hasher_atfork_child(void);
