/* hfs_push_repo: overlay -> one commit. Nothing in the overlay changes until the Hub has
 * answered with the new commit, so a failure (or a kill) at any step leaves it intact and the
 * next push starts over; uploads already done are skipped by the Hub (LFS batch says so). */
#include "push.h"
#include "libc.h"
#include "push_scan.h"
#include "sys_path.h"
#include "config.h"
#include "hubcache.h"
#include "log.h"
#include "net.h"
#include "overlay.h"
#include "repo.h"
#include "revcache.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define REBASES 5 /* 412s in a row before giving up */

/* flock(LOCK_EX) on <repo dir>/.lock; the fd, or -errno. Shared with discard (overlay_admin.c). */
int hfs_overlay_lock(const hfs_repo_id *r, const char *name);
int hfs_overlay_lock(const hfs_repo_id *r, const char *name)
{
    char d[PATH_MAX], p[PATH_MAX];
    int rc = hfs_overlay_repo_dir(r, d, sizeof d);
    if (!rc) rc = hfs_fmt(p, sizeof p, "%s/.lock", d);
    if (!rc) rc = hfs_mkdirs(d, 0755);
    int fd = rc ? -1 : hfs_libc()->open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (!rc) rc = -errno;
        hfs_err("%s: cannot open the overlay lock %s: %s", name, p, strerror(-rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        hfs_warn("%s: waiting for another push or discard of this overlay", name);
        while (flock(fd, LOCK_EX))
            if (errno != EINTR) {
                rc = -errno;
                hfs_libc()->close(fd);
                return rc;
            }
    }
    return fd;
}

static const char *branch_of(const hfs_spec *s)
{
    return s->rev[0] ? s->rev : "main";
}

/* Do two snapshots hold the same thing at path (and, for folders, below it)? */
static int same_entry(const hfs_index *a, const hfs_index *b, const hfs_ientry *ea,
                      const hfs_ientry *eb)
{
    if (!ea || !eb) return !ea && !eb;
    if (ea->is_dir != eb->is_dir) return 0;
    if (!ea->is_dir)
        return ea->size == eb->size && ea->etag_kind == eb->etag_kind &&
               !strcmp(ea->etag, eb->etag);
    if (ea->nchildren != eb->nchildren) return 0;
    for (uint32_t i = 0; i < ea->nchildren; i++) {
        const hfs_ientry *ca = hfs_index_at(a, ea->first_child + i);
        const hfs_ientry *cb = hfs_index_at(b, eb->first_child + i);
        /* Children are sorted by name in both: pairwise comparison is enough. */
        if (strcmp(hfs_index_str(a, ca->name_off), hfs_index_str(b, cb->name_off)) ||
            !same_entry(a, b, ca, cb))
            return 0;
    }
    return 1;
}

static const hfs_ientry *at(const hfs_index *ix, const char *p, size_t len)
{
    return hfs_index_lookup(ix, p, len);
}

/* A change conflicts when the Hub changed its path (or made a parent folder a file) between
 * the commit we started from and the new head. */
static int conflicts(const hfs_index *base, const hfs_index *head, const hfs_change *ch)
{
    size_t len = strlen(ch->path);
    if (!same_entry(base, head, at(base, ch->path, len), at(head, ch->path, len))) return 1;
    for (size_t i = 0; i < len; i++)
        if (ch->path[i] == '/') {
            const hfs_ientry *e = at(head, ch->path, i);
            if (e && !e->is_dir) return 1;
        }
    return 0;
}

/* After a 412: the new head, if none of our paths changed there; else -ESTALE, explained. */
static int rebase(const hfs_spec *s, const char *name, const hfs_index *base, const hfs_changes *c,
                  char parent[41], FILE *report)
{
    const struct hfs_net_ops *net = hfs_net();
    char head[41];
    int rc = net->revision(&s->repo, branch_of(s), head, NULL);
    if (rc) return rc;
    hfs_spec hs = *s;
    snprintf(hs.rev, sizeof hs.rev, "%s", head);
    int err = 0;
    hfs_repo *h = hfs_repo_get(&hs, &err);
    if (!h) return err;
    char list[1024] = "";
    size_t nconf = 0, o = 0;
    for (size_t i = 0; i < c->n; i++) {
        const hfs_change *ch = &c->v[i];
        if (ch->kind == HFS_CH_SAME || ch->kind == HFS_CH_SKIP || !conflicts(base, h->ix, ch))
            continue;
        if (nconf++ < 10 && o < sizeof list)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", ch->path);
    }
    if (nconf) {
        hfs_err("%s: the branch %s moved on the Hub (now %.12s) and changed %zu of the paths "
                "pushed here (%s%s); nothing was pushed, local changes are kept: look at the new "
                "revision, then `hfrun discard` or push again",
                name, branch_of(s), head, nconf, list, nconf > 10 ? ", ..." : "");
        return -ESTALE;
    }
    if (report)
        fprintf(report,
                "hfrun: %s moved on the Hub (%.12s -> %.12s) without touching these "
                "paths: committing on top of it\n",
                name, parent, head);
    memcpy(parent, head, 41);
    return 0;
}

/* Fills files[] (adds and modifications) with size and sample; -errno if a file is gone. */
static int read_sample(hfs_upload_file *f)
{
    int fd = hfs_libc()->open(f->local, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    ssize_t r = hfs_libc()->read(fd, f->sample, sizeof f->sample);
    hfs_libc()->close(fd);
    if (r < 0) return -errno;
    f->sample_len = (size_t)r;
    return 0;
}

/* The overlay after a successful push: pushed files that did not change since the scan,
 * the markers whose deletions were pushed, and folders left empty. */
static void cleanup(const hfs_changes *c, const char *name)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n; i++) {
        const hfs_change *ch = &c->v[i];
        if (!ch->local || ch->kind == HFS_CH_SKIP) continue;
        struct stat st;
        if (hfs_sys_lstat(ch->local, &st) || !S_ISREG(st.st_mode)) continue;
        if ((uint64_t)st.st_size == ch->size && st.st_mtim.tv_sec == ch->mtime.tv_sec &&
            st.st_mtim.tv_nsec == ch->mtime.tv_nsec)
            hfs_sys_unlink(ch->local);
        else
            kept++;
    }
    for (size_t i = 0; i < c->nm; i++) hfs_sys_unlink(c->markers[i]);
    for (size_t i = 0; i < c->nd; i++) hfs_sys_rmdir(c->dirs[i]); /* fails when not empty: fine */
    if (kept)
        hfs_warn("%s: %zu file(s) changed while pushing; their newer content stays in the "
                 "overlay for the next push",
                 name, kept);
}

/* The session pin file of a key (as repo.c names it), so later reads of this job see the
 * new commit. */
static void repin(const hfs_spec *s, const char *sha)
{
    const hfs_config *c = hfs_cfg();
    if (!c->session[0]) return;
    char key[HFS_ID_MAX + HFS_REV_MAX + 16], kf[sizeof key * 3], p[PATH_MAX];
    hfs_spec_key(s, key, sizeof key);
    size_t o = 0;
    for (const char *k = key; *k && o + 4 < sizeof kf; k++) {
        unsigned char ch = (unsigned char)*k;
        if (ch == '/' || ch == '%' || ch == ':' || ch == '@')
            o += (size_t)snprintf(kf + o, sizeof kf - o, "%%%02X", ch);
        else
            kf[o++] = (char)ch;
    }
    kf[o] = 0;
    if (!hfs_fmt(p, sizeof p, "%s/pins/%s", c->session, kf) && hfs_libc()->access(p, F_OK) == 0 &&
        hfs_write_atomic(p, sha, strlen(sha)))
        hfs_warn("cannot move the session's pin %s to the pushed commit %s: later processes of "
                 "this session read the commit before it",
                 p, sha);
}

static void update_refs(const hfs_spec *s, const hfs_repo *r, const char *sha)
{
    hfs_hub_write_ref(r->folder, branch_of(s), sha);
    hfs_revcache_put(r->folder, branch_of(s), sha);
    repin(s, sha);
}

/* Upload and commit the scanned changes; new_sha on success. */
static int send(const hfs_spec *s, const char *name, hfs_repo *r, hfs_changes *c,
                const char *summary, FILE *report, char new_sha[41])
{
    const struct hfs_net_ops *net = hfs_net();
    if (!net) return -EIO;
    size_t nf = 0, nops = 0;
    for (size_t i = 0; i < c->n; i++)
        nf += c->v[i].kind == HFS_CH_ADD || c->v[i].kind == HFS_CH_MOD;
    hfs_upload_file *f = calloc(nf + 1, sizeof *f);
    hfs_commit_op *ops = calloc(c->n + 1, sizeof *ops);
    if (!f || !ops) {
        free(f);
        free(ops);
        hfs_err("%s: push: out of memory", name);
        return -ENOMEM;
    }
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < c->n && !rc; i++) {
        hfs_change *ch = &c->v[i];
        if (ch->kind != HFS_CH_ADD && ch->kind != HFS_CH_MOD) continue;
        f[k].path = ch->path;
        f[k].local = ch->local;
        f[k].size = ch->size;
        rc = read_sample(&f[k]);
        if (rc) hfs_err("%s: cannot read %s: %s", name, ch->local, strerror(-rc));
        k++;
    }
    char head[41];
    if (!rc && nf) rc = net->preupload(&s->repo, branch_of(s), f, (int)nf, head);
    for (size_t i = 0; i < nf && !rc; i++) {
        if (!f[i].lfs) continue;
        const hfs_change *ch = NULL;
        for (size_t j = 0; j < c->n && !ch; j++)
            if (c->v[j].path == f[i].path) ch = &c->v[j];
        if (ch && ch->sha256[0])
            memcpy(f[i].sha256, ch->sha256, sizeof f[i].sha256);
        else if ((rc = net->sha256_file(f[i].local, f[i].sha256)))
            hfs_err("%s: cannot hash %s: %s", name, f[i].local, strerror(-rc));
    }
    if (!rc && nf) rc = net->lfs_upload(&s->repo, branch_of(s), f, (int)nf);
    /* Deletions first: a file may take the place of a deleted folder (or the reverse). */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t i = 0; i < c->n; i++) {
            hfs_change *ch = &c->v[i];
            int del = ch->kind == HFS_CH_DEL_FILE || ch->kind == HFS_CH_DEL_DIR;
            if (pass == 0 && del) {
                ops[nops].kind = ch->kind == HFS_CH_DEL_DIR ? HFS_OP_DEL_FOLDER : HFS_OP_DEL_FILE;
                ops[nops++].path = ch->path;
            }
        }
    for (size_t i = 0; i < nf && !rc; i++) {
        if (f[i].ignore) {
            hfs_warn("%s: %s is ignored by the Hub (.gitignore): not pushed, it stays local", name,
                     f[i].path);
            for (size_t j = 0; j < c->n; j++)
                if (c->v[j].path == f[i].path) c->v[j].kind = HFS_CH_SKIP, c->v[j].why = "ignored";
            continue;
        }
        hfs_commit_op *o = &ops[nops++];
        o->path = f[i].path;
        o->size = f[i].size;
        if (f[i].lfs) {
            o->kind = HFS_OP_LFS;
            o->sha256 = f[i].sha256;
        } else {
            o->kind = HFS_OP_FILE;
            o->local = f[i].local;
        }
    }
    char parent[41];
    snprintf(parent, sizeof parent, "%s", r->snap);
    for (int attempt = 0; !rc; attempt++) {
        rc = net->commit(&s->repo, branch_of(s), summary, "", parent, ops, (int)nops, new_sha);
        if (rc != -ESTALE) break;
        if (attempt == REBASES) {
            hfs_err("%s: the branch %s keeps moving on the Hub; nothing was pushed, try again",
                    name, branch_of(s));
            break;
        }
        rc = rebase(s, name, r->ix, c, parent, report);
    }
    free(f);
    free(ops);
    return rc;
}

int hfs_push_repo(const hfs_spec *s, const char *summary, int dry_run, FILE *report,
                  char new_sha[41])
{
    char name[HFS_ID_MAX + HFS_REV_MAX + 16], sha[41] = "";
    hfs_spec_key(s, name, sizeof name);
    if (new_sha) new_sha[0] = 0;
    if (hfs_cfg()->no_push) {
        hfs_err("%s: HF_NO_PUSH=1: not pushing; local changes stay in the overlay", name);
        return -EPERM;
    }
    if (!hfs_overlay_dirty(&s->repo)) {
        if (report) fprintf(report, "hfrun: %s: nothing to push\n", name);
        return 0;
    }
    char upper[PATH_MAX];
    if (hfs_overlay_upper(&s->repo, upper, sizeof upper)) return -ENAMETOOLONG;
    if (s->repo.type == HFS_BUCKET) {
        hfs_err("%s: pushing to a bucket is not supported (Xet-only on the Hub); use --no-push "
                "(HF_NO_PUSH=1); local changes stay in %s",
                name, upper);
        return -ENOTSUP;
    }
    if (hfs_is_sha(s->rev)) {
        hfs_err("%s: cannot push to a commit sha; name a branch (org/name@branch)", name);
        return -EINVAL;
    }
    int lock = hfs_overlay_lock(&s->repo, name);
    if (lock < 0) return lock;
    int err = 0;
    hfs_repo *r = hfs_repo_get(s, &err);
    hfs_changes c;
    int rc = r ? hfs_scan_overlay(name, upper, r->ix, 0, NULL, &c) : err;
    if (rc) {
        hfs_libc()->close(lock);
        hfs_err("%s: push failed: %s; local changes are kept in %s", name, strerror(-rc), upper);
        return rc;
    }
    size_t n = hfs_changes_count(&c);
    if (report && (n || dry_run)) {
        fprintf(report, "hfrun: %s: %zu change(s) against %.12s%s\n", name, n, r->snap,
                dry_run ? " (dry run)" : "");
        hfs_changes_print(&c, report);
    } else if (report) {
        fprintf(report, "hfrun: %s: nothing to push\n", name);
    }
    if (n && !dry_run)
        rc = send(s, name, r, &c, summary && *summary ? summary : "Upload from hfrun", report, sha);
    if (!n && !dry_run) {
        /* Copy-ups equal to the snapshot and whiteouts of nothing: dropping them changes no
         * view now, and keeps them from hiding later changes on the Hub. */
        cleanup(&c, name);
    } else if (!rc && n && !dry_run) {
        cleanup(&c, name);
        update_refs(s, r, sha);
        if (new_sha) memcpy(new_sha, sha, 41);
        if (report) fprintf(report, "hfrun: %s: pushed as commit %s\n", name, sha);
    } else if (rc) {
        hfs_err("%s: push failed (%s); nothing changed in the overlay: local changes are kept "
                "in %s",
                name, strerror(-rc), upper);
    }
    hfs_changes_free(&c);
    hfs_libc()->close(lock);
    return rc;
}
