/* A guard against listings that never end: a server that keeps sending Link rel="next" to new
 * cursors but pages it sent before (the same entries again, or empty pages) is noticed at the
 * first repeat. Pages are remembered by a 64-bit hash of their body; distinct tree pages never
 * have equal bodies (their paths differ). */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *h; /* open addressing, 0 = empty slot */
    int *page;   /* the page number of each slot */
    size_t cap, n;
} hfs_pages;

/* Remembers page number `page` (1-based) with this body. Returns the number of an earlier page
 * with the same body (the listing repeats), 0 if it is new, -1 if out of memory. */
int hfs_pages_add(hfs_pages *p, const char *body, size_t len, int page);
void hfs_pages_free(hfs_pages *p);
