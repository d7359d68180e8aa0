/* Repeated listing pages (net_pages.h). */
#include "net_pages.h"
#include "hash.h"

#include <stdlib.h>

static int grow(hfs_pages *p)
{
    size_t cap = p->cap ? p->cap * 2 : 64;
    uint64_t *h = calloc(cap, sizeof *h);
    int *pg = calloc(cap, sizeof *pg);
    if (!h || !pg) {
        free(h);
        free(pg);
        return -1;
    }
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->h[i]) continue;
        size_t k = (size_t)p->h[i] & (cap - 1);
        while (h[k]) k = (k + 1) & (cap - 1);
        h[k] = p->h[i];
        pg[k] = p->page[i];
    }
    free(p->h);
    free(p->page);
    p->h = h;
    p->page = pg;
    p->cap = cap;
    return 0;
}

int hfs_pages_add(hfs_pages *p, const char *body, size_t len, int page)
{
    if (2 * (p->n + 1) > p->cap && grow(p)) return -1;
    uint64_t h = XXH3_64bits(body, len) | 1; /* never 0, the empty mark */
    size_t k = (size_t)h & (p->cap - 1);
    for (; p->h[k]; k = (k + 1) & (p->cap - 1))
        if (p->h[k] == h) return p->page[k];
    p->h[k] = h;
    p->page[k] = page;
    p->n++;
    return 0;
}

void hfs_pages_free(hfs_pages *p)
{
    free(p->h);
    free(p->page);
    p->h = NULL;
    p->page = NULL;
    p->cap = p->n = 0;
}
