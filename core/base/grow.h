/* The one growable-array helper of the core and the network module (built into both). */
#pragma once
#include <stddef.h>

/* Makes room for `need` elements of `elem` bytes in *v (capacity *cap, counted in elements):
 * doubles from `first`, never overflows. 0, or -ENOMEM with *v and *cap unchanged. */
int hfs_grow(void **v, size_t *cap, size_t need, size_t elem, size_t first);
