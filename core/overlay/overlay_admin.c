/* The overlay as hfrun shows and edits it: status against the pinned snapshot, discard, and the
 * list of repos that have an overlay. */
#include "libc.h"
#include "push.h"
#include "grow.h"
#include "push_scan.h"
#include "config.h"
#include "log.h"
#include "overlay.h"
#include "repo.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hfs_overlay_lock(const hfs_repo_id *r, const char *name); /* push.c */

int hfs_overlay_dirty(const hfs_repo_id *r)
{
    char upper[PATH_MAX];
    if (hfs_overlay_upper(r, upper, sizeof upper)) return 0;
    DIR *d = hfs_libc()->opendir(upper);
    if (!d) return 0;
    int dirty = 0;
    struct dirent *de;
    while (!dirty && (de = hfs_libc()->readdir(d)))
        dirty = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    hfs_libc()->closedir(d);
    return dirty;
}

int hfs_overlay_status(const hfs_spec *s, FILE *out)
{
    char name[HFS_ID_MAX + HFS_REV_MAX + 16], upper[PATH_MAX], blobs[PATH_MAX];
    hfs_spec_key(s, name, sizeof name);
    if (hfs_overlay_upper(&s->repo, upper, sizeof upper)) return -ENAMETOOLONG;
    int err = 0;
    hfs_repo *r = hfs_repo_get(s, &err);
    if (!r) return err;
    int bucket = s->repo.type == HFS_BUCKET;
    if (bucket && hfs_fmt(blobs, sizeof blobs, "%s/blobs/%s", hfs_cfg()->shim_cache, r->folder))
        return -ENAMETOOLONG;
    hfs_changes c;
    int rc = hfs_scan_overlay(name, upper, r->ix, bucket, bucket ? blobs : NULL, &c);
    if (rc) return rc;
    size_t n = hfs_changes_count(&c);
    fprintf(out, "# %s%s%s: %zu change(s)%s%s\n", name, bucket ? "" : " at ", bucket ? "" : r->snap,
            n, n ? " in " : "", n ? upper : "");
    hfs_changes_print(&c, out);
    hfs_changes_free(&c);
    return (int)n;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? hfs_libc()->rmdir(p) : hfs_libc()->unlink(p);
}

static int rm_tree(const char *p)
{
    struct stat st;
    if (hfs_libc()->lstat(p, &st)) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) return hfs_libc()->unlink(p) ? -errno : 1;
    return nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS) ? -errno : 1;
}

/* A repo path a user may name: relative after trimming '/', no "." or ".." component. */
static int clean_path(const char *in, char *out, size_t n)
{
    while (*in == '/') in++;
    if (hfs_fmt(out, n, "%s", in)) return -ENAMETOOLONG;
    size_t l = strlen(out);
    while (l && out[l - 1] == '/') out[--l] = 0;
    for (const char *c = out; *c;) {
        size_t cl = strcspn(c, "/");
        if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
            return -EINVAL;
        c += cl;
        if (*c) c++;
    }
    return l ? 0 : -EINVAL;
}

/* A folder above p deleted locally still hides the remote entry. */
static void warn_hidden_above(const char *name, const char *upper, char *p)
{
    for (char *q = strchr(p, '/'); q; q = strchr(q + 1, '/')) {
        char wh[PATH_MAX];
        *q = 0;
        int hidden = !hfs_ov_wh_path(upper, p, wh, sizeof wh) && hfs_libc()->access(wh, F_OK) == 0;
        *q = '/';
        if (hidden) {
            hfs_warn("%s: %.*s is deleted locally, so %s stays hidden; discard %.*s to get it back",
                     name, (int)(q - p), p, p, (int)(q - p), p);
            return;
        }
    }
}

int hfs_overlay_discard(const hfs_spec *s, const char *path, FILE *report)
{
    char name[HFS_ID_MAX + HFS_REV_MAX + 16], upper[PATH_MAX], p[PATH_MAX], a[PATH_MAX];
    hfs_spec_key(s, name, sizeof name);
    if (hfs_overlay_upper(&s->repo, upper, sizeof upper)) return -ENAMETOOLONG;
    if (path && *path && clean_path(path, p, sizeof p)) {
        hfs_err("%s: discard: bad path '%s'", name, path);
        return -EINVAL;
    }
    int lock = hfs_overlay_lock(&s->repo, name);
    if (lock < 0) return lock;
    int rc;
    if (!path || !*path) {
        rc = rm_tree(upper);
        if (rc >= 0 && report)
            fprintf(report, "hfrun: %s: %s\n", name,
                    rc ? "discarded every local change" : "no local changes");
    } else {
        /* The entry itself, and the whiteout that hid the remote one. */
        int r1 = hfs_ov_path(upper, p, a, sizeof a) ? -ENAMETOOLONG : rm_tree(a);
        int r2 = hfs_ov_wh_path(upper, p, a, sizeof a) ? -ENAMETOOLONG : rm_tree(a);
        rc = r1 < 0 ? r1 : r2 < 0 ? r2 : 0;
        if (!rc && report)
            fprintf(report, "hfrun: %s: %s %s\n", name,
                    r1 || r2 ? "discarded local changes of" : "no local changes at", p);
        if (!rc) warn_hidden_above(name, upper, p);
    }
    if (rc < 0) hfs_err("%s: discard failed: %s", name, strerror(-rc));
    hfs_libc()->close(lock);
    return rc < 0 ? rc : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "models--org--name" -> spec; -1 if the name is not an overlay folder. */
static int parse_folder(const char *f, hfs_spec *s)
{
    memset(s, 0, sizeof *s);
    size_t l = hfs_type_from_plural(f, &s->repo.type);
    if (!l || strncmp(f + l, "--", 2)) return -1;
    l += 2;
    /* Hub names cannot contain "--", so the first one separates org and name. */
    const char *sep = strstr(f + l, "--");
    if (!sep || sep == f + l || !sep[2] ||
        hfs_fmt(s->repo.id, sizeof s->repo.id, "%.*s/%s", (int)(sep - f - l), f + l, sep + 2))
        return -1;
    return 0;
}

int hfs_overlay_repos(int (*cb)(const hfs_spec *s, void *arg), void *arg)
{
    char base[PATH_MAX];
    if (hfs_overlay_base(base, sizeof base)) return -ENAMETOOLONG;
    DIR *d = hfs_libc()->opendir(base);
    if (!d) return errno == ENOENT ? 0 : -errno;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = hfs_libc()->readdir(d))) {
        hfs_spec s;
        if (parse_folder(de->d_name, &s)) continue;
        if (hfs_grow((void **)&names, &cap, n + 1, sizeof *names, 16)) break;
        if ((names[n] = strdup(de->d_name))) n++;
    }
    hfs_libc()->closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        hfs_spec s;
        if (!rc && !parse_folder(names[i], &s)) rc = cb(&s, arg);
        free(names[i]);
    }
    free(names);
    return rc;
}
