#include "revcache.h"
#include "libc.h"
#include "config.h"
#include "types.h"
#include "util.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "hash.h"

/* The file holding the answer for `rev` under the token `tok` ("" for none):
 * <HF_SHIM_CACHE>/revs/<folder>/<rev, '/' and '%' escaped>@<token hash or "anon">. */
static int answer_path(const char *folder, const char *rev, const char *tok, char *out, size_t n)
{
    const hfs_config *c = hfs_cfg();
    char r[3 * HFS_REV_MAX + 1], key[24] = "anon";
    size_t o = 0;
    for (const char *s = *rev ? rev : "main"; *s; s++) {
        if (o + 4 >= sizeof r) return -1;
        if (*s == '/' || *s == '%')
            o += (size_t)snprintf(r + o, sizeof r - o, "%%%02X", (unsigned char)*s);
        else
            r[o++] = *s;
    }
    r[o] = 0;
    /* A seeded 64-bit hash: tokens carry far more entropy, so it cannot be turned back into
     * one, and two tokens share it with odds of 2^-64. */
    if (*tok)
        snprintf(key, sizeof key, "%016llx",
                 (unsigned long long)XXH3_64bits_withSeed(tok, strlen(tok), 0x68667368696d));
    return hfs_fmt(out, n, "%s/revs/%s/%s@%s", c->shim_cache, folder, r, key);
}

static int read_fresh(const char *path, char *snap, size_t n)
{
    long age = hfs_age(path);
    if (age < 0 || age >= hfs_cfg()->rev_ttl) return 0;
    return hfs_read_small(path, snap, n) > 0;
}

int hfs_revcache_get(const char *folder, const char *rev, char *snap, size_t n)
{
    const char *tok = hfs_cfg_token();
    char p[PATH_MAX];
    if (!answer_path(folder, rev, tok, p, sizeof p) && read_fresh(p, snap, n)) return 1;
    return *tok && !answer_path(folder, rev, "", p, sizeof p) && read_fresh(p, snap, n);
}

/* The branch moved (or is new): an older answer kept under another token is stale now. */
static void drop_stale(const char *own, const char *snap)
{
    char dir[PATH_MAX], p[PATH_MAX], got[64];
    const char *slash = strrchr(own, '/'), *at = strrchr(own, '@');
    if (!slash || !at || hfs_fmt(dir, sizeof dir, "%.*s", (int)(slash - own), own)) return;
    size_t stem = (size_t)(at - slash); /* "<rev>@" */
    DIR *d = hfs_libc()->opendir(dir);
    struct dirent *de;
    while (d && (de = hfs_libc()->readdir(d))) {
        if (strncmp(de->d_name, slash + 1, stem) || !strcmp(de->d_name, slash + 1)) continue;
        if (strchr(de->d_name + stem, '.')) continue; /* another writer's temp file */
        if (hfs_fmt(p, sizeof p, "%s/%s", dir, de->d_name)) continue;
        if (hfs_read_small(p, got, sizeof got) >= 0 && strcmp(got, snap)) hfs_libc()->unlink(p);
    }
    if (d) hfs_libc()->closedir(d);
}

void hfs_revcache_put(const char *folder, const char *rev, const char *snap)
{
    char p[PATH_MAX];
    if (answer_path(folder, rev, hfs_cfg_token(), p, sizeof p) || hfs_mkdirs_parent(p, 0755))
        return;
    if (hfs_write_atomic(p, snap, strlen(snap))) return; /* a cache: the next process asks */
    drop_stale(p, snap);
}
