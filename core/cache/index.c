#include "index.h"
#include "grow.h"
#include "libc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hash.h"

#define MAGIC "HFSIDX02"
#define EMPTY 0xffffffffu

typedef struct {
    char magic[8];
    uint32_t count;
    uint32_t slots; /* hash table size, a power of two */
    uint64_t entries_off, hash_off, str_off, str_len, total;
    int64_t mtime;
} header;

struct hfs_index {
    void *map;
    size_t len;
    const header *h;
    const hfs_ientry *e;
    const uint32_t *hash;
    const char *str;
};

/* ---- builder ---- */

typedef struct {
    char *path;
    hfs_ientry e;
} bent;

struct hfs_index_builder {
    bent *v;
    size_t n, cap;
};

hfs_index_builder *hfs_ib_new(void)
{
    return calloc(1, sizeof(hfs_index_builder));
}

void hfs_ib_free(hfs_index_builder *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) free(b->v[i].path);
    free(b->v);
    free(b);
}

static int push(hfs_index_builder *b, const char *path, size_t len, hfs_ientry *e)
{
    if (hfs_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v, 1024)) return -ENOMEM;
    char *p = strndup(path, len);
    if (!p) return -ENOMEM;
    b->v[b->n].path = p;
    b->v[b->n].e = *e;
    b->n++;
    return 0;
}

int hfs_ib_add(hfs_index_builder *b, const hfs_tree_entry *t, int is_bucket)
{
    const char *p = t->path;
    while (*p == '/') p++;
    size_t len = strlen(p);
    while (len && p[len - 1] == '/') len--;
    if (!len) return 0;
    /* A path component "." or ".." from a server would escape the tree: refuse it. */
    for (const char *s = p; s < p + len;) {
        size_t l = strcspn(s, "/");
        if (l > (size_t)(p + len - s)) l = (size_t)(p + len - s);
        if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.')) return 0;
        s += l + 1;
    }
    hfs_ientry e;
    memset(&e, 0, sizeof e);
    e.is_dir = t->is_dir ? 1 : 0;
    e.size = t->is_dir ? 0 : t->size;
    e.mtime = t->mtime;
    if (!t->is_dir) {
        if (is_bucket && t->xet_hash[0]) {
            e.etag_kind = HFS_ETAG_XET;
            memcpy(e.etag, t->xet_hash, sizeof t->xet_hash);
        } else if (t->lfs_sha256[0]) {
            e.etag_kind = HFS_ETAG_SHA256;
            memcpy(e.etag, t->lfs_sha256, sizeof t->lfs_sha256);
        } else if (t->oid[0]) {
            e.etag_kind = HFS_ETAG_GITSHA1;
            memcpy(e.etag, t->oid, sizeof t->oid);
        }
    }
    return push(b, p, len, &e);
}

static const char *parent_of(const char *p, size_t *plen)
{
    const char *s = strrchr(p, '/');
    *plen = s ? (size_t)(s - p) : 0;
    return p;
}

/* Order: by parent path, then name; so each directory's children are contiguous. */
static int cmp_bent(const void *a, const void *b)
{
    const char *pa = ((const bent *)a)->path, *pb = ((const bent *)b)->path;
    size_t la, lb;
    parent_of(pa, &la);
    parent_of(pb, &lb);
    size_t m = la < lb ? la : lb;
    int c = memcmp(pa, pb, m);
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return strcmp(pa + la, pb + lb);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const bent *)a)->path, ((const bent *)b)->path);
}

/* Sort by path and drop repeats (a server may list a path twice). */
static void sort_unique(hfs_index_builder *b)
{
    if (!b->n) return;
    qsort(b->v, b->n, sizeof *b->v, cmp_path);
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (w && !strcmp(b->v[w - 1].path, b->v[i].path)) {
            free(b->v[i].path);
            continue;
        }
        b->v[w++] = b->v[i];
    }
    b->n = w;
}

static uint32_t hash_path(const char *p, size_t len)
{
    return (uint32_t)XXH3_64bits(p, len);
}

int hfs_ib_write(hfs_index_builder *b, const char *path, int64_t default_mtime)
{
    int rc = 0;
    char *buf = NULL;
    /* An empty listing (new bucket): qsort/bsearch must not see a NULL array. */
    if (!b->v && !(b->v = malloc(sizeof *b->v))) {
        rc = -ENOMEM;
        goto out;
    }
    /* Dedupe by path (a server may list a path twice) and add implied parents. */
    sort_unique(b);
    size_t orig = b->n;
    for (size_t i = 0; i < orig; i++) {
        const char *p = b->v[i].path;
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            bent key = {.path = strndup(p, (size_t)(s - p))};
            if (!key.path) {
                rc = -ENOMEM;
                goto out;
            }
            if (bsearch(&key, b->v, orig, sizeof *b->v, cmp_path)) {
                free(key.path);
                continue;
            }
            hfs_ientry d;
            memset(&d, 0, sizeof d);
            d.is_dir = 1;
            rc = push(b, key.path, strlen(key.path), &d);
            free(key.path);
            if (rc) goto out;
        }
    }
    sort_unique(b); /* implied dirs may repeat each other */
    qsort(b->v, b->n, sizeof *b->v, cmp_bent);

    size_t count = b->n + 1; /* + root */
    if (count >= EMPTY / 2) {
        rc = -EFBIG;
        goto out;
    }
    uint32_t slots = 16;
    while (slots < count * 2) slots <<= 1;
    size_t str_len = 1;
    for (size_t i = 0; i < b->n; i++) str_len += strlen(b->v[i].path) + 1;
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.count = (uint32_t)count;
    h.slots = slots;
    h.entries_off = sizeof h;
    h.hash_off = h.entries_off + count * sizeof(hfs_ientry);
    h.str_off = h.hash_off + (uint64_t)slots * 4;
    h.str_len = str_len;
    h.total = h.str_off + str_len;
    h.mtime = default_mtime;
    buf = calloc(1, h.total);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(buf, &h, sizeof h);
    hfs_ientry *E = (hfs_ientry *)(buf + h.entries_off);
    uint32_t *H = (uint32_t *)(buf + h.hash_off);
    char *S = buf + h.str_off;
    memset(H, 0xff, (size_t)slots * 4);
    size_t so = 1; /* S[0] = "" for the root */
    E[0].is_dir = 1;
    E[0].mtime = default_mtime;
    for (size_t i = 0; i < b->n; i++) {
        hfs_ientry *e = &E[i + 1];
        *e = b->v[i].e;
        size_t l = strlen(b->v[i].path);
        memcpy(S + so, b->v[i].path, l + 1);
        e->path_off = (uint32_t)so;
        e->path_len = (uint32_t)l;
        const char *slash = strrchr(b->v[i].path, '/');
        size_t noff = slash ? (size_t)(slash - b->v[i].path) + 1 : 0;
        e->name_off = (uint32_t)(so + noff);
        e->name_len = (uint32_t)(l - noff);
        if (!e->mtime) e->mtime = default_mtime;
        so += l + 1;
    }
    /* Hash table, then parents and child ranges (children are contiguous by construction). */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t k = hash_path(S + E[i].path_off, E[i].path_len) & (slots - 1);
        while (H[k] != EMPTY) k = (k + 1) & (slots - 1);
        H[k] = i;
    }
    hfs_index *tmp = &(hfs_index){.h = (header *)buf, .e = E, .hash = H, .str = S};
    for (uint32_t i = 1; i < count; i++) {
        size_t pl = E[i].name_off > E[i].path_off ? E[i].name_off - E[i].path_off - 1 : 0;
        const hfs_ientry *p = hfs_index_lookup(tmp, S + E[i].path_off, pl);
        uint32_t pi = p ? (uint32_t)(p - E) : 0;
        E[i].parent = pi;
        if (E[pi].nchildren == 0) E[pi].first_child = i;
        E[pi].nchildren++;
    }
    rc = hfs_mkdirs_parent(path, 0755);
    if (!rc) rc = hfs_write_atomic(path, buf, h.total);
out:
    free(buf);
    hfs_ib_free(b);
    return rc;
}

/* ---- reader ---- */

hfs_index *hfs_index_open(const char *path)
{
    int fd = hfs_libc()->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return NULL;
    struct stat st;
    if (hfs_libc()->fstat(fd, &st) || (size_t)st.st_size < sizeof(header)) {
        hfs_libc()->close(fd);
        errno = EINVAL;
        return NULL;
    }
    void *m = hfs_libc()->mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    hfs_libc()->close(fd);
    if (m == MAP_FAILED) return NULL;
    const header *h = m;
    if (memcmp(h->magic, MAGIC, 8) || h->total != (uint64_t)st.st_size ||
        h->str_off + h->str_len != h->total ||
        h->hash_off != h->entries_off + (uint64_t)h->count * sizeof(hfs_ientry) ||
        (h->slots & (h->slots - 1)) || h->slots < h->count ||
        /* every table inside the file, the root present */
        h->count == 0 || h->entries_off < sizeof *h || h->entries_off > h->total ||
        h->str_off > h->total || h->str_off != h->hash_off + (uint64_t)h->slots * 4) {
        munmap(m, (size_t)st.st_size);
        errno = EINVAL;
        return NULL;
    }
    hfs_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        munmap(m, (size_t)st.st_size);
        return NULL;
    }
    ix->map = m;
    ix->len = (size_t)st.st_size;
    ix->h = h;
    ix->e = (const hfs_ientry *)((const char *)m + h->entries_off);
    ix->hash = (const uint32_t *)((const char *)m + h->hash_off);
    ix->str = (const char *)m + h->str_off;
    return ix;
}

void hfs_index_close(hfs_index *ix)
{
    if (!ix) return;
    if (ix->map) munmap(ix->map, ix->len);
    free(ix);
}

uint32_t hfs_index_count(const hfs_index *ix)
{
    return ix->h->count;
}
const hfs_ientry *hfs_index_at(const hfs_index *ix, uint32_t i)
{
    return i < ix->h->count ? &ix->e[i] : NULL;
}
uint32_t hfs_index_id(const hfs_index *ix, const hfs_ientry *e)
{
    return (uint32_t)(e - ix->e);
}
const char *hfs_index_str(const hfs_index *ix, uint32_t off)
{
    return ix->str + off;
}

const hfs_ientry *hfs_index_lookup(const hfs_index *ix, const char *path, size_t len)
{
    uint32_t mask = ix->h->slots - 1;
    uint32_t k = hash_path(path, len) & mask;
    for (uint32_t probes = 0; probes <= mask; probes++) {
        uint32_t i = ix->hash[k];
        if (i == EMPTY) return NULL;
        if (i < ix->h->count) {
            const hfs_ientry *e = &ix->e[i];
            if (e->path_len == len && e->path_off < ix->h->str_len &&
                !memcmp(ix->str + e->path_off, path, len))
                return e;
        }
        k = (k + 1) & mask;
    }
    return NULL;
}
