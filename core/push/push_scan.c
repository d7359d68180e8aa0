/* The overlay walk: regular files are adds or modifications (or unchanged copy-ups), whiteouts
 * and opaque markers are deletions of what the snapshot has there, a local entry of the other
 * kind (a file where the remote has a folder, or the reverse) deletes the remote one first.
 * Symlinks and other special files have no place on the Hub: listed, never pushed. */
#include "push_scan.h"
#include "grow.h"
#include "libc.h"
#include "log.h"
#include "net.h"
#include "overlay.h"
#include "util.h"
#include "sys_path.h"
#include "vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name; /* repo name for messages */
    const hfs_index *ix;
    int bucket;
    const char *blob_dir; /* buckets: where complete files are cached by xet hash */
    hfs_changes *c;
} scan;

static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    return hfs_grow(v, cap, n + 1, sz, 64);
}

static hfs_change *add(scan *s, int kind, const char *path, const char *local)
{
    hfs_changes *c = s->c;
    if (grow((void **)&c->v, &c->cap, c->n, sizeof *c->v)) return NULL;
    hfs_change *ch = &c->v[c->n];
    memset(ch, 0, sizeof *ch);
    ch->kind = kind;
    ch->path = strdup(path);
    ch->local = local ? strdup(local) : NULL;
    if (!ch->path || (local && !ch->local)) {
        free(ch->path);
        free(ch->local);
        return NULL;
    }
    c->n++;
    return ch;
}

static int add_str(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (grow((void **)v, cap, *n, sizeof **v)) return -ENOMEM;
    if (!((*v)[*n] = strdup(s))) return -ENOMEM;
    (*n)++;
    return 0;
}

static const hfs_ientry *lookup(const scan *s, const char *path)
{
    return s->ix ? hfs_index_lookup(s->ix, path, strlen(path)) : NULL;
}

/* Same bytes as a cached file? (Buckets: the Hub's xet hash cannot be computed here.) */
static int same_bytes(const char *a, const char *b, uint64_t size)
{
    int fa = hfs_sys_open(a, O_RDONLY | O_CLOEXEC, 0),
        fb = hfs_sys_open(b, O_RDONLY | O_CLOEXEC, 0);
    int same = fa >= 0 && fb >= 0;
    char x[65536], y[65536];
    for (uint64_t left = size; same && left;) {
        size_t k = left < sizeof x ? (size_t)left : sizeof x;
        same = hfs_libc()->read(fa, x, k) == (ssize_t)k &&
               hfs_libc()->read(fb, y, k) == (ssize_t)k && !memcmp(x, y, k);
        left -= k;
    }
    if (fa >= 0) hfs_libc()->close(fa);
    if (fb >= 0) hfs_libc()->close(fb);
    return same;
}

/* Does the overlay file hold what the snapshot has at that path? Sizes first, then the content
 * hash the snapshot names (git blob sha1, or sha256 for LFS files). */
static int same_content(scan *s, const hfs_ientry *e, const char *local, hfs_change *ch)
{
    if (e->size != ch->size) return 0;
    const struct hfs_net_ops *net = hfs_net();
    char hex[72];
    switch (e->etag_kind) {
    case HFS_ETAG_GITSHA1:
        return net && !net->git_sha1_file(local, hex) && !strcmp(hex, e->etag);
    case HFS_ETAG_SHA256:
        if (!net || net->sha256_file(local, hex)) return 0;
        snprintf(ch->sha256, sizeof ch->sha256, "%s", hex);
        return !strcmp(hex, e->etag);
    case HFS_ETAG_XET: {
        char blob[PATH_MAX];
        return s->blob_dir && !hfs_fmt(blob, sizeof blob, "%s/%s", s->blob_dir, e->etag) &&
               same_bytes(local, blob, ch->size);
    }
    default:
        return 0;
    }
}

static int remote_delete(scan *s, const hfs_ientry *e, const char *path)
{
    return add(s, e->is_dir ? HFS_CH_DEL_DIR : HFS_CH_DEL_FILE, path, NULL) ? 0 : -ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has(char **names, size_t n, const char *name)
{
    return n && bsearch(&name, names, n, sizeof *names, cmp_str) != NULL;
}

static int has_git_component(const char *p)
{
    for (const char *c = p; *c;) {
        size_t l = strcspn(c, "/");
        if (l == 4 && !memcmp(c, ".git", 4)) return 1;
        c += l;
        while (*c == '/') c++;
    }
    return 0;
}

static int join(char *out, size_t n, const char *a, const char *b)
{
    return a[0] ? hfs_fmt(out, n, "%s/%s", a, b) : hfs_fmt(out, n, "%s", b);
}

/* One overlay directory `abs`, which is repo path `rp`. opaque: nothing remote below rp shows
 * (a marker here, or the dir replaced a remote one that was deleted). */
static int scan_dir(scan *s, const char *abs, const char *rp, int opaque)
{
    DIR *d = hfs_sys_opendir(abs);
    if (!d) {
        hfs_err("%s: cannot read overlay dir %s: %s", s->name, abs, strerror(errno));
        return -errno;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = hfs_libc()->readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = add_str(&names, &n, &cap, de->d_name);
    hfs_libc()->closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    char p[HFS_PATH_MAX], a[HFS_PATH_MAX];
    if (!rc && has(names, n, HFS_WH_OPAQUE)) {
        opaque = 1;
        rc = hfs_fmt(a, sizeof a, "%s/" HFS_WH_OPAQUE, abs);
        if (!rc) rc = add_str(&s->c->markers, &s->c->nm, &s->c->cm, a);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const char *nm = names[i], *vn;
        int kind = hfs_ov_name_kind(nm, &vn);
        if (kind == HFS_OVN_OPAQUE || kind == HFS_OVN_INTERNAL) continue; /* temp files too */
        if (hfs_fmt(a, sizeof a, "%s/%s", abs, nm) || join(p, sizeof p, rp, vn)) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (kind == HFS_OVN_WHITEOUT) {
            rc = add_str(&s->c->markers, &s->c->nm, &s->c->cm, a);
            /* Under an opaque dir the walk below deletes every remote child; an overlay entry
             * of the same name replaces the remote one (handled with that entry). */
            if (rc || opaque || has(names, n, nm + strlen(HFS_WH_PREFIX))) continue;
            const hfs_ientry *e = lookup(s, p);
            if (e) rc = remote_delete(s, e, p);
            continue;
        }
        struct stat st;
        if (hfs_sys_lstat(a, &st)) continue; /* gone meanwhile */
        const hfs_ientry *e = lookup(s, p);
        if (has_git_component(p) || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
            hfs_change *ch = add(s, HFS_CH_SKIP, p, a);
            if (!ch)
                rc = -ENOMEM;
            else
                ch->why = S_ISLNK(st.st_mode)   ? "symlink: the Hub has none, it stays local"
                          : S_ISDIR(st.st_mode) ? ".git is reserved on the Hub, it stays local"
                          : S_ISREG(st.st_mode) ? ".git is reserved on the Hub, it stays local"
                                                : "special file, it stays local";
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (e && !e->is_dir) rc = remote_delete(s, e, p);
            /* Below an opaque dir, and in a remote folder deleted and made again, nothing
             * remote shows: the walk below deletes what the overlay does not have. */
            int wh = 0;
            char whn[NAME_MAX + 8];
            if (!hfs_fmt(whn, sizeof whn, HFS_WH_PREFIX "%s", nm)) wh = has(names, n, whn);
            if (!rc) rc = scan_dir(s, a, p, opaque || wh);
            continue;
        }
        if (e && e->is_dir) rc = remote_delete(s, e, p);
        if (rc) break;
        hfs_change *ch = add(s, e && !e->is_dir ? HFS_CH_MOD : HFS_CH_ADD, p, a);
        if (!ch) {
            rc = -ENOMEM;
            break;
        }
        ch->size = (uint64_t)st.st_size;
        ch->mtime = st.st_mtim;
        if (e && !e->is_dir && same_content(s, e, a, ch)) ch->kind = HFS_CH_SAME;
    }
    /* Opaque: every remote child not in the overlay is deleted. */
    const hfs_ientry *de2 = opaque && !rc ? lookup(s, rp) : NULL;
    for (uint32_t i = 0; de2 && de2->is_dir && i < de2->nchildren && !rc; i++) {
        const hfs_ientry *c = hfs_index_at(s->ix, de2->first_child + i);
        const char *cn = hfs_index_str(s->ix, c->name_off);
        char stored[sizeof HFS_WH_ESCAPE + NAME_MAX];
        if (hfs_ov_escape(cn, strlen(cn), stored, sizeof stored) || !has(names, n, stored))
            rc = remote_delete(s, c, hfs_index_str(s->ix, c->path_off));
    }
    /* Deepest first (children were added above): removed after a push if they end up empty
     * and mean nothing (they held pushed entries, or the folder exists remotely anyway). */
    if (!rc && rp[0] && (n || lookup(s, rp))) rc = add_str(&s->c->dirs, &s->c->nd, &s->c->cd, abs);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

static int cmp_change(const void *a, const void *b)
{
    const hfs_change *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    /* The same path twice: the remote entry goes before the local one takes its place. */
    int dx = x->kind == HFS_CH_DEL_FILE || x->kind == HFS_CH_DEL_DIR;
    int dy = y->kind == HFS_CH_DEL_FILE || y->kind == HFS_CH_DEL_DIR;
    return c ? c : dy - dx;
}

int hfs_scan_overlay(const char *name, const char *upper, const hfs_index *ix, int bucket,
                     const char *blob_dir, hfs_changes *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (hfs_sys_lstat(upper, &st)) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) {
        hfs_err("%s: overlay %s is not a directory", name, upper);
        return -ENOTDIR;
    }
    scan s = {name, ix, bucket, blob_dir, out};
    int rc = scan_dir(&s, upper, "", 0);
    if (rc == -ENOMEM) hfs_err("%s: scanning the overlay: out of memory", name);
    if (rc == -ENAMETOOLONG) hfs_err("%s: scanning the overlay: path too long", name);
    if (rc) {
        hfs_changes_free(out);
        return rc;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_change);
    return 0;
}

void hfs_changes_free(hfs_changes *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].path);
        free(c->v[i].local);
    }
    for (size_t i = 0; i < c->nm; i++) free(c->markers[i]);
    for (size_t i = 0; i < c->nd; i++) free(c->dirs[i]);
    free(c->v);
    free(c->markers);
    free(c->dirs);
    memset(c, 0, sizeof *c);
}

size_t hfs_changes_count(const hfs_changes *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += c->v[i].kind != HFS_CH_SAME && c->v[i].kind != HFS_CH_SKIP;
    return k;
}

void hfs_changes_print(const hfs_changes *c, FILE *out)
{
    for (size_t i = 0; i < c->n; i++) {
        const hfs_change *ch = &c->v[i];
        switch (ch->kind) {
        case HFS_CH_ADD:
        case HFS_CH_MOD:
        case HFS_CH_DEL_FILE:
            fprintf(out, "%c %s\n", ch->kind, ch->path);
            break;
        case HFS_CH_DEL_DIR:
            fprintf(out, "D %s/\n", ch->path);
            break;
        case HFS_CH_SKIP:
            fprintf(out, "? %s (%s)\n", ch->path, ch->why);
            break;
        default:
            break;
        }
    }
}
