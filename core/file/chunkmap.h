/* Which chunks of a partial file are present: one byte per chunk in a small file next to it,
 * mapped shared, so every process on the machine sees what any of them fetched. A chunk's byte
 * is set only after its data is written, so a set byte always means real bytes. */
#pragma once
#include "checked.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HFS_CHUNK_SHIFT 20
#define HFS_CHUNK ((uint64_t)1 << HFS_CHUNK_SHIFT) /* 1 MiB */

typedef struct {
    uint8_t *map;
    size_t nchunks;
    dev_t dev; /* the map file mapped, so a claim (chunkclaim.h) can tell it was replaced */
    ino_t ino;
} hfs_chunkmap;

static inline size_t hfs_chunks_for(uint64_t size)
{
    return (size_t)((size + HFS_CHUNK - 1) >> HFS_CHUNK_SHIFT);
}

/* Open or create the map for a file of `size` bytes. 0 or -errno. */
HFS_MUST_CHECK int hfs_chunkmap_open(const char *path, uint64_t size, hfs_chunkmap *cm);
void hfs_chunkmap_close(hfs_chunkmap *cm);
static inline int hfs_chunkmap_has(const hfs_chunkmap *cm, size_t i)
{
    return __atomic_load_n(&cm->map[i], __ATOMIC_ACQUIRE) != 0;
}
static inline void hfs_chunkmap_set(hfs_chunkmap *cm, size_t i)
{
    HFS_ASSERT(i < cm->nchunks);
    __atomic_store_n(&cm->map[i], 1, __ATOMIC_RELEASE);
}
/* Number of chunks not yet present. */
size_t hfs_chunkmap_missing(const hfs_chunkmap *cm);
