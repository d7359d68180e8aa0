#include "hubcache.h"
#include "libc.h"
#include "config.h"
#include "index.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int hfs_hub_write_ref(const char *folder, const char *rev, const char *sha)
{
    const hfs_config *c = hfs_cfg();
    char p[PATH_MAX];
    int rc = hfs_fmt(p, sizeof p, "%s/%s/snapshots/%s", c->hub_cache, folder, sha);
    if (!rc) rc = hfs_mkdirs(p, 0755);
    if (!rc) rc = hfs_fmt(p, sizeof p, "%s/%s/refs/%s", c->hub_cache, folder, rev);
    if (!rc) rc = hfs_mkdirs_parent(p, 0755);
    /* No newline: scan_cache_dir compares the file's bytes with the snapshot folder's name. */
    if (!rc) rc = hfs_write_atomic(p, sha, strlen(sha));
    return rc;
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* The content id a snapshot symlink names: the last component of a target ".../blobs/<id>".
 * huggingface_hub names blobs by the normalized ETag: the sha256 of an LFS file, else the git
 * blob sha1. Anything else is left unnamed (the snapshot file itself is then the backing). */
static void id_from_link(const char *abs, hfs_tree_entry *t)
{
    char target[PATH_MAX];
    ssize_t n = hfs_libc()->readlink(abs, target, sizeof target - 1);
    if (n <= 0) return;
    target[n] = 0;
    char *name = strrchr(target, '/');
    if (!name) return;
    *name++ = 0;
    const char *dir = strrchr(target, '/');
    if (strcmp(dir ? dir + 1 : target, "blobs")) return;
    if (is_hex(name, 64))
        memcpy(t->lfs_sha256, name, 65);
    else if (is_hex(name, 40))
        memcpy(t->oid, name, 41);
}

struct walk {
    hfs_index_builder *b;
    char abs[PATH_MAX];
    size_t root_len; /* abs[0..root_len) is the snapshot folder */
    int64_t newest;
    size_t n;
};

static int walk_dir(struct walk *w, size_t len, int depth)
{
    DIR *d = hfs_libc()->opendir(w->abs);
    if (!d)
        return depth ? 0 : -errno; /* an unreadable folder inside: what it holds is not cached */
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = hfs_libc()->readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        size_t nl = strlen(de->d_name);
        if (len + 1 + nl >= sizeof w->abs) continue; /* longer than any path we could serve */
        w->abs[len] = '/';
        memcpy(w->abs + len + 1, de->d_name, nl + 1);
        struct stat lst, st;
        if (hfs_libc()->lstat(w->abs, &lst)) continue;
        hfs_tree_entry t;
        memset(&t, 0, sizeof t);
        t.path = w->abs + w->root_len + 1;
        if (S_ISDIR(lst.st_mode)) {
            t.is_dir = 1;
            t.mtime = lst.st_mtime;
            rc = hfs_ib_add(w->b, &t, 0);
            if (!rc && depth < 64) rc = walk_dir(w, len + 1 + nl, depth + 1);
        } else if (!hfs_libc()->stat(w->abs, &st) && S_ISREG(st.st_mode)) {
            /* a dangling link (blob deleted, or still .incomplete) is not cached: left out */
            if (S_ISLNK(lst.st_mode)) id_from_link(w->abs, &t);
            t.size = (uint64_t)st.st_size;
            t.mtime = st.st_mtime;
            if (st.st_mtime > w->newest) w->newest = st.st_mtime;
            rc = hfs_ib_add(w->b, &t, 0);
            w->n++;
        }
        w->abs[len] = 0;
    }
    hfs_libc()->closedir(d);
    return rc;
}

int hfs_hub_snapshot_index(const char *folder, const char *sha, const char *idx_path)
{
    const hfs_config *c = hfs_cfg();
    struct walk w = {.b = hfs_ib_new()};
    if (!w.b) return -ENOMEM;
    int rc = hfs_fmt(w.abs, sizeof w.abs, "%s/%s/snapshots/%s", c->hub_cache, folder, sha);
    w.root_len = strlen(w.abs);
    if (!rc) rc = walk_dir(&w, w.root_len, 0);
    if (rc) {
        hfs_ib_free(w.b);
        return rc;
    }
    hfs_debug("%s@%s: indexed %zu cached files from the snapshot folder", folder, sha, w.n);
    return hfs_ib_write(w.b, idx_path, w.newest ? w.newest : (int64_t)time(NULL));
}
