/* Is a user pointer safe to read? The kernel answers EFAULT for a path in unmapped memory; the
 * shim reads path arguments itself before deciding where they go, so it must not fault on them
 * (pjdfstest passes 0xdeadc0de). Pages seen mapped are remembered in a small set-associative
 * table on the hot page; a page not in it costs one mincore(2). */
#pragma once
#include "guard.h"

#include <stdatomic.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

/* 16 sets x 4 ways x 8 bytes: 512 bytes, so the hot variables stay on one page (test_layout). */
#define HFS_MAPPED_SETS 16
#define HFS_MAPPED_WAYS 4
extern _Atomic uintptr_t hfs_mapped_pages[HFS_MAPPED_SETS * HFS_MAPPED_WAYS];

/* Out of line: mincore the page; remember it when mapped. 1 mapped, 0 not. */
int hfs_mapped_probe(uintptr_t page);

static inline unsigned hfs_mapped_set(uintptr_t page)
{
    /* Fibonacci hashing: neighbouring pages (a heap, a stack) spread over all sets. */
    return (unsigned)(((uint64_t)page * 0x9E3779B97F4A7C15ull) >> 60);
}

/* 1 when p's page is in the table: compares only, no call (for the wrappers' fast paths). Page
 * numbers are stored +1 so that 0 means an empty way. */
static inline int hfs_mapped_known(const char *p)
{
    uintptr_t page = ((uintptr_t)p >> 12) + 1;
    const _Atomic uintptr_t *w = &hfs_mapped_pages[hfs_mapped_set(page) * HFS_MAPPED_WAYS];
    /* All ways compared without a branch each: where a page sits varies, and a loop's exit
     * branch would mispredict on most calls. */
    int hit = 0;
    for (int i = 0; i < HFS_MAPPED_WAYS; i++)
        hit |= atomic_load_explicit(&w[i], memory_order_relaxed) == page;
    return hit;
}

/* 1 when p may be read (probing its page if the table does not know it). */
static inline int hfs_mapped(const char *p)
{
    return hfs_mapped_known(p) || hfs_mapped_probe(((uintptr_t)p >> 12) + 1);
}

#pragma GCC visibility pop
