/* Which chunks of a partial file are being fetched right now, machine-wide, so that a chunk is
 * fetched once however many threads and processes want it.
 *
 * A fetcher holds an open file description lock (F_OFD_SETLK, write) on byte i of the chunk
 * map file for each chunk i it is fetching. Such locks belong to the description, not to the
 * process: two threads of one process that each open the map conflict as two processes do,
 * and the kernel drops the locks when the fetcher's process dies, so a crash never leaves a
 * chunk "in flight". Nothing is written for a claim: the map's bytes keep meaning "present".
 * A forked child closes the claims it inherited (they are its parent's).
 *
 * Waiters sleep on a futex on the map's shared page (the aligned 32-bit word that holds the
 * chunk's byte; futexes on a shared file mapping work across processes), woken by the fetcher
 * when the bytes land or when it gives up. A fetcher that dies wakes nobody, so a waiter looks
 * again every HFS_CLAIM_TICK_MS and takes the chunk over once its lock is gone. */
#pragma once
#include "checked.h"
#include <stddef.h>
#include "chunkmap.h"

#define HFS_CLAIM_TICK_MS 50

typedef struct {
    int fd; /* a description of its own on the map file; its locks are the claims */
} hfs_claims;

/* A new description on the map file at `path`, which must still be the file `cm` maps:
 * -ESTALE if it was replaced or removed (the file was published or discarded meanwhile). */
HFS_MUST_CHECK int hfs_claims_open(hfs_claims *cl, const char *path, const hfs_chunkmap *cm);
/* 1: chunk c is ours until dropped or closed; 0: another fetcher has it; -errno. */
HFS_MUST_CHECK int hfs_claims_take(hfs_claims *cl, size_t c);
void hfs_claims_drop(hfs_claims *cl, size_t c);
/* Gives every claim back. */
void hfs_claims_close(hfs_claims *cl);

/* Fork (vfs.h's rule): the registry of open claims is held across fork, and a child closes
 * the claims it inherited. */
void hfs_claims_atfork_prepare(void);
void hfs_claims_atfork_parent(void);
void hfs_claims_atfork_child(void);

/* Wake everyone waiting on chunks [c0, c1] (their bytes landed, or their fetch ended). */
void hfs_chunks_wake(const hfs_chunkmap *cm, size_t c0, size_t c1);
/* Sleep until chunk c's word of the map changes, a wake, or `ms` pass (spurious returns are
 * fine: callers look again). */
void hfs_chunk_wait(const hfs_chunkmap *cm, size_t c, int ms);
