/* Which virtual path a file the supervisor handed out was opened as, by the backing file's
 * inode: fstat of a supervised fd must agree with stat of its path (cp, tar and fts compare
 * st_dev/st_ino), but the fd's inode is a cache or overlay file's. Keyed by inode rather than by
 * fd, because programs close, dup and pass fds without telling anyone; the latest open of an
 * inode wins (two paths with the same content share one cache file, and a stat-open-fstat
 * sequence asks about the latest). */
#include "sv.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    dev_t dev;
    ino_t ino;
    char *vpath; /* NULL: free slot */
} slot;

#define CAP 65536 /* power of two; when it fills up, it starts over */
static slot *tab;
static size_t used;

static size_t hash(dev_t d, ino_t i)
{
    unsigned long long h = (unsigned long long)i * 0x9E3779B97F4A7C15ull ^ (unsigned long long)d;
    return (size_t)(h ^ (h >> 29)) & (CAP - 1);
}

static void clear(void)
{
    for (size_t k = 0; k < CAP; k++) {
        free(tab[k].vpath);
        tab[k].vpath = NULL;
    }
    used = 0;
}

void sv_fdmap_put(const struct stat *backing, const char *vpath)
{
    if (!tab && !(tab = calloc(CAP, sizeof *tab))) return;
    if (used >= CAP / 2) clear();
    size_t k = hash(backing->st_dev, backing->st_ino);
    while (tab[k].vpath && (tab[k].dev != backing->st_dev || tab[k].ino != backing->st_ino))
        k = (k + 1) & (CAP - 1);
    char *v = strdup(vpath);
    if (!v) return;
    if (tab[k].vpath)
        free(tab[k].vpath);
    else
        used++;
    tab[k] = (slot){backing->st_dev, backing->st_ino, v};
}

const char *sv_fdmap_get(dev_t dev, ino_t ino)
{
    if (!tab) return NULL;
    for (size_t k = hash(dev, ino); tab[k].vpath; k = (k + 1) & (CAP - 1))
        if (tab[k].dev == dev && tab[k].ino == ino) return tab[k].vpath;
    return NULL;
}
