/* Writes under a mount: everything lands in the repo's overlay (upper/), remote entries are
 * hidden with whiteouts, and nothing here ever talks to the Hub except to fetch a file that is
 * being copied up. */
#include "libc.h"
#include "file.h"
#include "log.h"
#include "overlay.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"
#include "sys_path.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int parent_of(const char *p, char *out, size_t n)
{
    if (hfs_fmt(out, n, "%s", p)) return -ENAMETOOLONG;
    char *s = strrchr(out, '/');
    if (!s) return -EINVAL;
    *(s == out ? s + 1 : s) = 0;
    return 0;
}

static int wh_path(const hfs_loc *L, char *out, size_t n)
{
    char dir[HFS_PATH_MAX];
    int rc = parent_of(L->upper, dir, sizeof dir);
    return rc ? rc : hfs_fmt(out, n, "%s/" HFS_WH_PREFIX "%s", dir, base_name(L->upper));
}

static int touch(const char *path)
{
    int fd = hfs_sys_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    hfs_libc()->close(fd);
    return 0;
}

/* The repo's name lock, <repo dir>/.wlock: held only across the local steps that make a remote
 * entry's name disappear (rename or unlink in upper/ plus its whiteout) and across publishing a
 * copy-up, which must not bring back a name removed meanwhile; never across a fetch. Between
 * processes a POSIX record lock (a forked child never inherits it, unlike flock), between this
 * process's threads a mutex (which a forked child re-initializes: hfs_ov_atfork_child). The
 * fd, or -1 (then without the cross-process part: a read-only overlay base). */
static pthread_mutex_t g_name_mu = PTHREAD_MUTEX_INITIALIZER;

void hfs_ov_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&g_name_mu, &fresh, sizeof g_name_mu);
}

static int name_lock(const hfs_loc *L)
{
    pthread_mutex_lock(&g_name_mu);
    char p[HFS_PATH_MAX];
    int saved = errno, fd = -1;
    if (!parent_of(L->uroot, p, sizeof p) && strlen(p) + sizeof "/.wlock" <= sizeof p) {
        strcat(p, "/.wlock");
        fd = hfs_sys_open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fd >= 0)
            while (hfs_libc()->fcntl(fd, F_SETLKW, (long)&fl) && errno == EINTR) {
            }
    }
    errno = saved;
    return fd;
}

/* Closing the fd drops the record lock (this process holds no other fd of the file). */
static void name_unlock(int fd)
{
    int saved = errno;
    if (fd >= 0) hfs_libc()->close(fd);
    pthread_mutex_unlock(&g_name_mu);
    errno = saved;
}

static int mutable_loc(const hfs_loc *L)
{
    if (L->kind == HFS_VL_EXTERNAL) return -EXDEV;
    if (L->kind != HFS_VL_REPO) return -EROFS;
    /* The repo itself is missing or unreadable: repos are not created here. */
    if (!L->repo) return L->is_root ? -EROFS : -ENOENT;
    hfs_note_write(L->repo);
    return 0;
}

/* Make the directory chain above L->upper exist in upper/ (copying up directories that exist
 * remotely). The parent must exist in the merged view. */
int hfs_ov_prepare_parent(const hfs_loc *L)
{
    int rc = mutable_loc(L);
    if (rc) return rc;
    if (L->is_root) return -EEXIST;
    char vparent[HFS_PATH_MAX], uparent[HFS_PATH_MAX];
    if ((rc = parent_of(L->vpath, vparent, sizeof vparent))) return rc;
    hfs_loc P;
    if ((rc = hfs_locate(vparent, 1, &P))) return rc;
    if (!hfs_loc_is_dir(&P)) return -ENOTDIR;
    if (P.kind != HFS_VL_REPO) return -EROFS;
    if ((rc = parent_of(L->upper, uparent, sizeof uparent))) return rc;
    if (P.local) return 0;
    rc = hfs_mkdirs(uparent, 0755);
    hfs_overlay_touch(); /* after: lookups elsewhere may have cached "no overlay" */
    return rc;
}

int hfs_ov_drop_whiteout(const hfs_loc *L)
{
    char wh[HFS_PATH_MAX];
    if (wh_path(L, wh, sizeof wh)) return 0;
    if (hfs_sys_unlink(wh) == 0) return 1;
    /* One left behind would hide the name being made: that is a failure. */
    /* A name within 4 bytes of NAME_MAX can have no whiteout: none to drop. */
    return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG ? 0 : -errno;
}

static int whiteout(const hfs_loc *L)
{
    char wh[HFS_PATH_MAX], dir[HFS_PATH_MAX];
    int rc = wh_path(L, wh, sizeof wh);
    if (!rc) rc = parent_of(wh, dir, sizeof dir);
    if (!rc) rc = hfs_mkdirs(dir, 0755);
    if (!rc) rc = touch(wh);
    hfs_overlay_touch();
    return rc;
}

/* Copy a remote file's content into upper/ (fetching what is missing), atomically. */
static int copy_file_up(hfs_loc *L, int truncate)
{
    char tmp[HFS_PATH_MAX], dir[HFS_PATH_MAX];
    int rc = parent_of(L->upper, dir, sizeof dir);
    if (!rc)
        rc = hfs_fmt(tmp, sizeof tmp, "%s/" HFS_WH_TMP "%d.%lx", dir, (int)getpid(), hfs_random());
    if (rc) return rc;
    int out = hfs_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) return -errno;
    if (!truncate && L->e->size) {
        hfs_file *f = NULL;
        int in = hfs_file_open(L->repo, L->e, L->rpath, O_CLOEXEC, &f);
        if (in < 0) {
            rc = in;
            goto fail;
        }
        rc = hfs_file_ensure(f, 0, L->e->size);
        off_t off = 0;
        while (!rc && (uint64_t)off < L->e->size) {
            ssize_t n = hfs_libc()->copy_file_range(in, &off, out, NULL,
                                                    (size_t)(L->e->size - (uint64_t)off), 0);
            if (n <= 0) {
                if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
                    char buf[65536];
                    n = hfs_libc()->pread(in, buf, sizeof buf, off);
                    if (n > 0 && hfs_libc()->write(out, buf, (size_t)n) != n) n = -1;
                    if (n > 0) off += n;
                }
                if (n <= 0) rc = n < 0 ? -errno : -EIO;
            }
        }
        hfs_libc()->close(in);
        hfs_file_free(f);
        if (rc) goto fail;
    }
    struct timespec ts[2] = {{.tv_sec = L->e->mtime}, {.tv_sec = L->e->mtime}};
    if (!truncate && hfs_libc()->futimens(out, ts)) { /* the copy keeps the remote file's time */
        rc = -errno;
        goto fail;
    }
    hfs_file_ino_keep(out, L->repo->key, L->rpath); /* the same file: the same number */
    if (hfs_libc()->close(out)) {
        rc = -errno;
        hfs_sys_unlink(tmp);
        return rc;
    }
    /* Publish without replacing: a copy another process published meanwhile may already hold
     * its writes (four appenders at once must keep four lines); then that one is used. */
    char wh[HFS_PATH_MAX];
    int lk = name_lock(L);
    if (!wh_path(L, wh, sizeof wh) && hfs_sys_access(wh, F_OK) == 0)
        rc = -ENOENT; /* deleted or renamed away while we fetched: do not bring it back */
    else
        rc = hfs_publish_noreplace(tmp, L->upper);
    name_unlock(lk);
    if (rc < 0) {
        hfs_sys_unlink(tmp);
        return rc;
    }
    return 0;
fail:
    hfs_libc()->close(out);
    hfs_sys_unlink(tmp);
    hfs_err("%s: %s: cannot copy the remote file into the overlay: %s", L->repo->key, L->rpath,
            strerror(-rc));
    return rc;
}

int hfs_ov_copy_up(hfs_loc *L, int truncate)
{
    if (L->local) return 0;
    int rc = hfs_ov_prepare_parent(L);
    if (rc) return rc;
    if (L->e->is_dir) {
        struct timespec ts[2] = {{.tv_sec = L->e->mtime}, {.tv_sec = L->e->mtime}};
        /* Its time as on the Hub; one another process made meanwhile already has it. */
        if (hfs_sys_mkdir(L->upper, 0755) == 0) {
            if (hfs_sys_utimens(L->upper, ts, 0)) return -errno;
        } else if (errno != EEXIST) {
            return -errno;
        }
    } else if ((rc = copy_file_up(L, truncate)))
        return rc;
    L->local = 1;
    return hfs_sys_lstat(L->upper, &L->ust) ? -errno : 0;
}

/* Calls cb for every visible child name of directory L (merged view). */
typedef int (*child_cb)(const char *name, int is_dir, void *arg);
static int each_child(const hfs_loc *L, child_cb cb, void *arg)
{
    hfs_vobj *o;
    int rc = hfs_dir_obj(L, &o);
    if (rc) return rc;
    hfs_dirent e;
    for (uint64_t pos = 2; !rc && hfs_vobj_readdir(o, pos, &e) == 1; pos++)
        rc = cb(e.name, e.d_type == DT_DIR, arg);
    hfs_vobj_unref(o);
    return rc;
}

static int any_child(const char *name, int is_dir, void *arg)
{
    (void)name, (void)is_dir, (void)arg;
    return -ENOTEMPTY;
}

static int merged_empty(const hfs_loc *L)
{
    return each_child(L, any_child, NULL);
}

/* Remove a local directory that holds nothing but overlay bookkeeping. */
static int rmdir_upper(const char *dir)
{
    DIR *d = hfs_sys_opendir(dir);
    if (!d) return -errno;
    struct dirent *de;
    char p[HFS_PATH_MAX];
    const char *vn;
    while ((de = hfs_libc()->readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            hfs_ov_name_kind(de->d_name, &vn) != HFS_OVN_ENTRY &&
            !hfs_fmt(p, sizeof p, "%s/%s", dir, de->d_name))
            hfs_sys_unlink(p);
    hfs_libc()->closedir(d);
    return hfs_sys_rmdir(dir) ? -errno : 0;
}

/* Copy a whole directory subtree up (for renames of directories with remote content). */
struct tree_ctx {
    const char *vdir;
};
static int copy_tree_up(const char *vpath);
static int copy_child(const char *name, int is_dir, void *arg)
{
    (void)is_dir;
    struct tree_ctx *t = arg;
    char v[HFS_PATH_MAX];
    if (hfs_fmt(v, sizeof v, "%s/%s", t->vdir, name)) return -ENAMETOOLONG;
    return copy_tree_up(v);
}
static int copy_tree_up(const char *vpath)
{
    hfs_loc L;
    int rc = hfs_locate(vpath, 0, &L);
    if (rc) return rc;
    /* Nothing remote here (a local entry, or one whose remote side is hidden): the subtree is
     * local already, and is left untouched (no marker needs write permission in it). */
    if (!L.e) return 0;
    if ((rc = hfs_ov_copy_up(&L, 0))) return rc;
    if (!S_ISDIR(L.ust.st_mode)) return 0;
    struct tree_ctx t = {vpath};
    rc = each_child(&L, copy_child, &t);
    if (rc) return rc;
    /* Everything is local now: the copy must not merge with remote content again. */
    char op[HFS_PATH_MAX];
    return hfs_fmt(op, sizeof op, "%s/" HFS_WH_OPAQUE, L.upper) ? -ENAMETOOLONG : touch(op);
}

int hfs_ov_prepare_create(int rc, hfs_loc *L)
{
    if (!rc) return -EEXIST;
    if (L->kind == HFS_VL_REPO && L->is_root && !L->repo) return -EROFS; /* no new repos */
    if (rc != -ENOENT) return rc;
    if ((rc = hfs_ov_prepare_parent(L))) return rc;
    return hfs_ov_drop_whiteout(L);
}

int hfs_vfs_mkdir(const char *vpath, mode_t mode)
{
    hfs_loc L;
    int had_wh = hfs_ov_prepare_create(hfs_locate(vpath, 0, &L), &L);
    if (had_wh < 0) return had_wh;
    if (hfs_sys_mkdir(L.upper, mode)) return -errno;
    /* Its inode number, kept now while its creator may write its attributes: a later rename
     * by another user keeps it too. */
    hfs_dir_ino_keep(L.upper, L.repo->key, L.rpath, 0);
    if (had_wh || L.hidden) {
        /* A remote directory of that name was deleted: the new one starts empty. */
        char op[HFS_PATH_MAX];
        int orc = hfs_fmt(op, sizeof op, "%s/" HFS_WH_OPAQUE, L.upper) ? -ENAMETOOLONG : touch(op);
        if (orc) { /* without its marker it would show the deleted remote entries again */
            hfs_sys_rmdir(L.upper);
            return orc;
        }
    }
    return 0;
}

/* Under the name lock: was L's remote entry removed by another process since it was located
 * (a whiteout appeared)? */
static int whited_out_since(const hfs_loc *L)
{
    char wh[HFS_PATH_MAX];
    return !L->local && L->e && !wh_path(L, wh, sizeof wh) && hfs_sys_access(wh, F_OK) == 0;
}

/* Under the name lock: remove L's overlay entry and hide its remote one. */
static int remove_name(const hfs_loc *L, int dir)
{
    if (whited_out_since(L)) return -ENOENT;
    int rc = 0;
    if (L->local) rc = dir ? rmdir_upper(L->upper) : hfs_sys_unlink(L->upper) ? -errno : 0;
    if (rc) return rc;
    return L->e ? whiteout(L) : 0;
}

int hfs_vfs_unlink(const char *vpath)
{
    hfs_loc L;
    int rc = hfs_locate(vpath, 0, &L);
    if (rc) return rc;
    if ((rc = mutable_loc(&L))) return rc;
    if (hfs_loc_is_dir(&L)) return -EISDIR;
    int lk = name_lock(&L);
    rc = remove_name(&L, 0);
    name_unlock(lk);
    return rc;
}

int hfs_vfs_rmdir(const char *vpath)
{
    hfs_loc L;
    int rc = hfs_locate(vpath, 0, &L);
    if (rc) return rc;
    if ((rc = mutable_loc(&L))) return rc;
    if (!hfs_loc_is_dir(&L)) return -ENOTDIR;
    if (L.is_root) return -EBUSY;
    if ((rc = merged_empty(&L))) return rc;
    int lk = name_lock(&L);
    rc = remove_name(&L, 1);
    name_unlock(lk);
    return rc;
}

static int same_repo(const hfs_loc *a, const hfs_loc *b)
{
    return a->kind == HFS_VL_REPO && b->kind == HFS_VL_REPO &&
           !strcmp(a->uroot, b->uroot); /* revisions share an overlay */
}

static int rename_in_upper(const hfs_loc *F, const hfs_loc *T, unsigned flags, int fdir, int tdir,
                           int t_remote_dir);

int hfs_vfs_rename(const char *from, const char *to, unsigned flags)
{
    hfs_loc F, T;
    int rc = hfs_locate(from, 0, &F);
    if (rc) return rc;
    int trc = hfs_locate(to, 0, &T);
    if (trc && trc != -ENOENT) return trc;
    if ((rc = mutable_loc(&F)) || (rc = mutable_loc(&T))) return rc;
    if (!same_repo(&F, &T)) return -EXDEV;
    if (F.is_root || T.is_root) return -EBUSY;
    if (!strcmp(F.vpath, T.vpath)) return 0;
    size_t fl = strlen(F.vpath);
    if (!strncmp(T.vpath, F.vpath, fl) && T.vpath[fl] == '/') return -EINVAL;
    int fdir = hfs_loc_is_dir(&F), texists = trc == 0, tdir = texists && hfs_loc_is_dir(&T);
    if ((flags & RENAME_NOREPLACE) && texists) return -EEXIST;
    if ((flags & RENAME_EXCHANGE) && !texists) return -ENOENT;
    if (!(flags & RENAME_EXCHANGE) && texists) {
        if (fdir && !tdir) return -ENOTDIR;
        if (!fdir && tdir) return -EISDIR;
        if (tdir && (rc = merged_empty(&T))) return rc;
    }
    /* Bring the source (and, for an exchange, the target) fully into upper/. */
    if ((rc = fdir ? copy_tree_up(F.vpath) : hfs_ov_copy_up(&F, 0))) return rc;
    if (flags & RENAME_EXCHANGE) {
        if ((rc = tdir ? copy_tree_up(T.vpath) : hfs_ov_copy_up(&T, 0))) return rc;
    } else {
        if ((rc = hfs_ov_prepare_parent(&T))) return rc;
        if ((rc = hfs_ov_drop_whiteout(&T)) < 0) return rc;
    }
    const hfs_ientry *tre = hfs_index_lookup(T.repo->ix, T.rpath, strlen(T.rpath));
    int t_remote_dir = tre && tre->is_dir;
    if ((rc = hfs_locate(from, 0, &F))) return rc; /* paths in upper/ may have appeared */
    int lk = name_lock(&F);
    rc = rename_in_upper(&F, &T, flags, fdir, tdir, t_remote_dir);
    name_unlock(lk);
    return rc;
}

/* Under the name lock: the rename itself in upper/, and what hides the remote side. */
static int rename_in_upper(const hfs_loc *F, const hfs_loc *T, unsigned flags, int fdir, int tdir,
                           int t_remote_dir)
{
    int rc;
    if (whited_out_since(F)) return -ENOENT;
    if (fdir) hfs_dir_ino_keep(F->upper, F->repo->key, F->rpath, 1);
    if (tdir && (flags & RENAME_EXCHANGE)) hfs_dir_ino_keep(T->upper, T->repo->key, T->rpath, 1);
    rc = hfs_sys_rename2(F->upper, T->upper, flags) ? -errno : 0;
    if ((rc == -ENOTEMPTY || rc == -EEXIST) && T->local && tdir && !(flags & RENAME_EXCHANGE)) {
        /* The target is empty in the merged view but holds overlay bookkeeping: only now
         * (the kernel allowed the rest) clear it, and rename again. */
        if ((rc = rmdir_upper(T->upper))) return rc;
        rc = hfs_sys_rename2(F->upper, T->upper, flags) ? -errno : 0;
    }
    if (rc) return rc;
    if (fdir && !(flags & RENAME_EXCHANGE) && t_remote_dir) {
        /* A remote directory of the new name must not show through the moved one. Only then:
         * renaming within one parent needs no write permission in the directory itself. */
        char op[HFS_PATH_MAX];
        int orc = hfs_fmt(op, sizeof op, "%s/" HFS_WH_OPAQUE, T->upper) ? -ENAMETOOLONG : touch(op);
        /* The rename is done and stays (the program is told it succeeded, as it did); what
         * cannot be marked is said. */
        if (orc)
            hfs_warn("%s: %s: cannot mark the moved directory opaque (%s): entries of the remote "
                     "directory of that name show through it",
                     T->repo->key, T->rpath, strerror(-orc));
    }
    /* The source name must not show the remote entry again. */
    if (!(flags & RENAME_EXCHANGE) && F->e) return whiteout(F);
    return 0;
}

int hfs_vfs_symlink(const char *target, const char *linkpath)
{
    hfs_loc L;
    int rc = hfs_ov_prepare_create(hfs_locate(linkpath, 0, &L), &L);
    if (rc < 0) return rc;
    return hfs_sys_symlink(target, L.upper) ? -errno : 0;
}

int hfs_vfs_readlink(const char *vpath, char *buf, size_t n)
{
    hfs_loc L;
    int rc = hfs_locate(vpath, 0, &L);
    if (rc) return rc;
    if (!L.local || !S_ISLNK(L.ust.st_mode)) return -EINVAL;
    ssize_t r = hfs_sys_readlink(L.upper, buf, n);
    return r < 0 ? -errno : (int)r;
}

int hfs_vfs_link(const char *from, const char *to)
{
    hfs_loc F, T;
    int rc = hfs_locate(from, 0, &F);
    if (rc) return rc;
    int trc = hfs_locate(to, 0, &T);
    if (!trc) return -EEXIST;
    if (trc != -ENOENT) return trc;
    if ((rc = mutable_loc(&F)) || (rc = mutable_loc(&T))) return rc;
    if (!same_repo(&F, &T)) return -EXDEV;
    if (hfs_loc_is_dir(&F)) return -EPERM;
    if ((rc = hfs_ov_copy_up(&F, 0)) || (rc = hfs_ov_prepare_parent(&T))) return rc;
    if ((rc = hfs_ov_drop_whiteout(&T)) < 0) return rc;
    return hfs_sys_link(F.upper, T.upper) ? -errno : 0;
}

/* Locate and copy up, for calls that change metadata or content in place. */
static int local_loc(const char *vpath, int follow, hfs_loc *L)
{
    int rc = hfs_locate(vpath, follow, L);
    if (rc) return rc;
    if (L->kind == HFS_VL_EXTERNAL) return 0;
    if ((rc = mutable_loc(L))) return rc;
    return hfs_ov_copy_up(L, 0);
}

int hfs_vfs_chmod(const char *vpath, mode_t mode, int nofollow)
{
    hfs_loc L;
    int rc = local_loc(vpath, !nofollow, &L);
    if (rc) return rc;
    if (S_ISLNK(L.ust.st_mode)) return -EOPNOTSUPP; /* as Linux does for lchmod */
    return hfs_sys_chmod(L.upper, mode) ? -errno : 0;
}

int hfs_vfs_chown(const char *vpath, uid_t uid, gid_t gid, int nofollow)
{
    hfs_loc L;
    int rc = local_loc(vpath, !nofollow, &L);
    if (rc) return rc;
    return (nofollow ? hfs_sys_chown(L.upper, uid, gid, 1) : hfs_sys_chown(L.upper, uid, gid, 0))
               ? -errno
               : 0;
}

int hfs_vfs_utimens(const char *vpath, const struct timespec ts[2], int nofollow)
{
    hfs_loc L;
    int rc = local_loc(vpath, !nofollow, &L);
    if (rc) return rc;
    return hfs_sys_utimens(L.upper, ts, nofollow) ? -errno : 0;
}

int hfs_vfs_truncate(const char *vpath, off_t len)
{
    hfs_loc L;
    int rc = hfs_locate(vpath, 1, &L);
    if (rc) return rc;
    if (hfs_loc_is_dir(&L)) return -EISDIR;
    if (L.kind != HFS_VL_EXTERNAL) {
        if ((rc = mutable_loc(&L)) || (rc = hfs_ov_copy_up(&L, len == 0))) return rc;
    }
    return hfs_sys_truncate(L.upper, len) ? -errno : 0;
}

int hfs_vfs_local_path(const char *vpath, int create, char *out, size_t n)
{
    hfs_loc L;
    int rc = hfs_locate(vpath, 1, &L);
    if (rc && create) {
        if ((rc = hfs_ov_prepare_create(rc, &L)) < 0) return rc;
    } else if (rc)
        return rc;
    else if (L.kind != HFS_VL_EXTERNAL && ((rc = mutable_loc(&L)) || (rc = hfs_ov_copy_up(&L, 0))))
        return rc;
    return hfs_fmt(out, n, "%s", L.upper);
}
