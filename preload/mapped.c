/* The table of pages known mapped (mapped.h). */
#include "mapped.h"

#include <errno.h>
#include <sys/mman.h>

HFS_HOT_DATA __attribute__((
    aligned(64))) _Atomic uintptr_t hfs_mapped_pages[HFS_MAPPED_SETS * HFS_MAPPED_WAYS];
static atomic_uint next_way; /* round-robin replacement; races only cost a later re-probe */

int hfs_mapped_probe(uintptr_t page)
{
    unsigned char vec;
    int saved = errno;
    int r = mincore((void *)((page - 1) << 12), 4096, &vec);
    errno = saved;
    if (r != 0) return 0; /* ENOMEM: not mapped (the kernel will say EFAULT) */
    /* An empty way of the page's set, else one chosen round-robin: never a way while another
     * is free, so up to eight pages per set stay without evicting each other. */
    _Atomic uintptr_t *w = &hfs_mapped_pages[hfs_mapped_set(page) * HFS_MAPPED_WAYS];
    unsigned way = HFS_MAPPED_WAYS;
    for (unsigned i = 0; i < HFS_MAPPED_WAYS && way == HFS_MAPPED_WAYS; i++)
        if (atomic_load_explicit(&w[i], memory_order_relaxed) == 0) way = i;
    if (way == HFS_MAPPED_WAYS)
        way = atomic_fetch_add_explicit(&next_way, 1, memory_order_relaxed) % HFS_MAPPED_WAYS;
    atomic_store_explicit(&w[way], page, memory_order_relaxed);
    return 1;
}
