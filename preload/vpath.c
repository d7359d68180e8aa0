/* Path classification and the virtual cwd (see vpath.h). */
#include "vpath.h"
#include "real.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

HFS_HOT_DATA atomic_int hfs_cwd_kind;
static pthread_mutex_t cwd_mu = PTHREAD_MUTEX_INITIALIZER;
static char cwd_buf[HFS_PATH_MAX];

static int cwd_is_mirror(int k)
{
    return k == HFS_CWD_VIRTUAL || k == HFS_CWD_NEAR_MIRROR;
}

size_t hfs_cwd_get(char *buf, size_t n)
{
    if (!cwd_is_mirror(atomic_load(&hfs_cwd_kind))) return 0;
    pthread_mutex_lock(&cwd_mu);
    size_t l = strlen(cwd_buf);
    if (l && l < n && cwd_is_mirror(atomic_load(&hfs_cwd_kind)))
        memcpy(buf, cwd_buf, l + 1);
    else
        l = 0;
    pthread_mutex_unlock(&cwd_mu);
    return l;
}

/* The cwd state is process memory shared with a vfork child (Python's subprocess chdir()s in
 * one): only the process that owns it changes it. */
void hfs_cwd_set(int kind, const char *vpath)
{
    if (!hfs_fd_mutable()) return;
    if (kind == HFS_CWD_REAL) {
        hfs_cwd_clear();
        return;
    }
    pthread_mutex_lock(&cwd_mu);
    snprintf(cwd_buf, sizeof cwd_buf, "%s", vpath ? vpath : "");
    atomic_store(&hfs_cwd_kind, kind);
    pthread_mutex_unlock(&cwd_mu);
}

void hfs_cwd_clear(void)
{
    if (!atomic_load(&hfs_cwd_kind) || !hfs_fd_mutable()) return;
    pthread_mutex_lock(&cwd_mu);
    atomic_store(&hfs_cwd_kind, HFS_CWD_REAL);
    cwd_buf[0] = 0;
    pthread_mutex_unlock(&cwd_mu);
}

void hfs_cwd_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&cwd_mu, &fresh, sizeof cwd_mu);
}

/* The kernel cwd is `real`: a mirror directory (the virtual cwd is its virtual path), a real
 * ancestor of a mount, or anything else. */
__attribute__((noinline)) static void cwd_from(const char *real)
{
    char v[HFS_PATH_MAX];
    if (!real)
        hfs_cwd_clear();
    else if (HFS_CORE(hfs_vfs_unmirror(real, v, sizeof v)) == 1)
        hfs_cwd_set(HFS_CORE(hfs_vfs_classify(v)) == HFS_NS_VIRTUAL ? HFS_CWD_VIRTUAL
                                                                    : HFS_CWD_NEAR_MIRROR,
                    v);
    else
        hfs_cwd_set(HFS_CORE(hfs_vfs_classify(real)) == HFS_NS_NEAR ? HFS_CWD_NEAR : HFS_CWD_REAL,
                    real);
}

__attribute__((noinline)) static void cwd_recover_long(void)
{
    char real[HFS_PATH_MAX];
    cwd_from(HFS_REAL(getcwd)(real, sizeof real));
}

/* Runs at every process start: a short buffer first, so the common case touches no fresh stack
 * page (bench/ANALYSIS.md). */
void hfs_cwd_recover(void)
{
    char real[256];
    int saved = errno;
    if (HFS_REAL(getcwd)(real, sizeof real))
        cwd_from(real);
    else if (errno == ERANGE)
        cwd_recover_long();
    else
        hfs_cwd_clear();
    errno = saved;
}

/* A real result of a path ending in "." or ".." from a mirror base: when the directory that
 * component is in (p's first dl bytes) is real, give the kernel its normalized path and the
 * component (so rmdir "x/y/.." still means what it says). 0 done, 1 not applicable (it is
 * virtual or an ancestor: the normalized result stands, and the callers' answers for
 * ancestors apply). */
static int final_spelled(const char *base, const char *p, size_t dl, hfs_rpath *rp)
{
    char dir[HFS_PATH_MAX], out[HFS_PATH_MAX];
    if (dl >= sizeof dir) return 1;
    memcpy(dir, p, dl);
    dir[dl] = 0;
    int n = HFS_CORE(hfs_path_normalize(base, dir, out, sizeof out));
    if (n < 0 || (size_t)n + 4 >= sizeof out || HFS_CORE(hfs_vfs_classify(out)) != HFS_NS_REAL)
        return 1;
    snprintf(rp->path, sizeof rp->path, "%s%s%s", out, n > 1 ? "/" : "",
             rp->final == 1 ? "." : "..");
    rp->near = 0;
    return 0;
}

/* Normalize p against base and decide. base_real: base is a real directory the kernel reaches
 * as `orig` names it (the cwd or a real dirfd), so a real result is passed on as spelled; else
 * base is a mirror directory and a real result must be passed as an absolute path. */
static int finish(const char *base, int base_real, const char *p, const char *orig, hfs_rpath *rp)
{
    size_t l = strlen(p), dl;
    rp->trailing_slash = l > 0 && p[l - 1] == '/';
    rp->final = hfs_path_final(p, &dl);
    int n = HFS_CORE(hfs_path_normalize(base, p, rp->path, sizeof rp->path));
    if (n < 0) return base_real ? 0 : n; /* too long for us: the kernel judges it as given */
    int c = HFS_CORE(hfs_vfs_classify(rp->path));
    if (c == HFS_NS_VIRTUAL) return 1;
    rp->near = c == HFS_NS_NEAR;
    if (base_real && hfs_has_dotdot(p) && HFS_CORE(hfs_path_through_virtual(base, p)))
        base_real = 0;
    if (base_real) {
        rp->real = orig;
        return 0;
    }
    rp->real = rp->path;
    if (rp->final && final_spelled(base, p, dl, rp) == 0) return 0;
    /* Keep a trailing '/' on the real path: the kernel then checks for a directory itself. */
    if (rp->trailing_slash && n > 1 && (size_t)n + 1 < sizeof rp->path) {
        rp->path[n] = '/';
        rp->path[n + 1] = 0;
    }
    return 0;
}

/* The path of a real ancestor cwd as the shim saw it reached (the logical path of the last
 * chdir, so a mount under a symlinked directory is still found; the kernel's at start). */
static int near_cwd(char *buf, size_t n)
{
    pthread_mutex_lock(&cwd_mu);
    size_t l = strlen(cwd_buf);
    int ok = l && l < n && atomic_load(&hfs_cwd_kind) == HFS_CWD_NEAR;
    if (ok) memcpy(buf, cwd_buf, l + 1);
    pthread_mutex_unlock(&cwd_mu);
    return ok;
}

/* The kernel's name of what the real fd leads to (an absolute path): 1, else 0. */
static int fd_path(int fd, char *out, size_t n)
{
    char link[32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int saved = errno;
    ssize_t l = HFS_REAL(readlink)(link, out, n - 1);
    errno = saved;
    if (l <= 0 || out[0] != '/') return 0;
    out[l] = 0;
    return 1;
}

/* The directory a relative path starts from: the record of a known dirfd (virtual or an
 * ancestor), else the kernel's own answer. 1 and base filled, 0 to pass through, or -errno. */
static int base_of(int dirfd, char *base, size_t n, int *base_real)
{
    if (dirfd == AT_FDCWD) {
        int k = atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed);
        *base_real = !cwd_is_mirror(k);
        if (!*base_real) return hfs_cwd_get(base, n) > 0;
        if (k == HFS_CWD_NEAR && near_cwd(base, n)) return 1;
        return HFS_REAL(getcwd)(base, n) != NULL;
    }
    hfs_fdrec *r = hfs_fd_maybe(dirfd) ? hfs_fd_get_checked(dirfd) : NULL;
    if (r) {
        int rc = r->is_dir ? 1 : -ENOTDIR;
        if (rc > 0) {
            snprintf(base, n, "%s", HFS_CORE(hfs_vobj_path(r->obj)));
            *base_real = HFS_CORE(hfs_vobj_near(r->obj)) == 1;
        }
        hfs_fd_put(r);
        return rc;
    }
    /* A real dirfd the shim did not register (only ".." paths get here): where is it? */
    *base_real = 1;
    return fd_path(dirfd, base, n);
}

const char *hfs_proc_self(const char *p, int *devfd)
{
    *devfd = 0;
    if (!strncmp(p, "/dev/fd/", 8)) {
        *devfd = 1;
        return p + 8;
    }
    if (strncmp(p, "/proc/", 6)) return NULL;
    p += 6;
    if (!strncmp(p, "self/", 5)) return p + 5;
    if (!strncmp(p, "thread-self/", 12)) return p + 12;
    char *end;
    long pid = strtol(p, &end, 10);
    return end != p && *end == '/' && pid == (long)getpid() ? end + 1 : NULL;
}

/* "/proc/self/fd/N[/rest]" with N a virtual fd or an ancestor's, "/proc/self/cwd[/rest]" with
 * a cwd the shim tracks: resolved through the shim's record (the kernel would reach the
 * backing file or the mirror directory). 0 passes p through. */
static int procfs(const char *p, hfs_rpath *rp)
{
    int devfd;
    const char *s = hfs_proc_self(p, &devfd), *rest;
    if (!s) return 0;
    if (!devfd && !strncmp(s, "cwd", 3) && (s[3] == '/' || !s[3])) {
        rest = s[3] ? s + 4 : "";
        if (!atomic_load_explicit(&hfs_cwd_kind, memory_order_relaxed)) return 0;
        char base[HFS_PATH_MAX];
        int base_real;
        if (base_of(AT_FDCWD, base, sizeof base, &base_real) <= 0) return 0;
        return *rest ? finish(base, base_real, rest, p, rp) : finish("/", base_real, base, p, rp);
    }
    if (!devfd) {
        if (strncmp(s, "fd/", 3)) return 0;
        s += 3;
    }
    int fd = 0, digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 8; s++, digits++) fd = fd * 10 + (*s - '0');
    if (!digits || (*s && *s != '/') || !hfs_fd_maybe(fd)) return 0;
    hfs_fdrec *r = hfs_fd_get_checked(fd);
    if (!r) return 0;
    int rc;
    if (*s && s[1] && !r->is_dir)
        rc = -ENOTDIR;
    else {
        const char *vp = HFS_CORE(hfs_vobj_path(r->obj));
        int near_real = HFS_CORE(hfs_vobj_near(r->obj)) == 1;
        rc = *s && s[1] ? finish(vp, near_real, s + 1, p, rp) : finish("/", near_real, vp, p, rp);
    }
    hfs_fd_put(r);
    return rc;
}

/* The base had no path the shim could learn (a real cwd longer than PATH_MAX): let the kernel
 * climb the leading ".." components, then name where they lead. */
__attribute__((noinline)) static int climb(int dirfd, const char *p, hfs_rpath *rp)
{
    size_t i = 0;
    while (p[i] == '.' && p[i + 1] == '.' && (p[i + 2] == '/' || !p[i + 2])) i += p[i + 2] ? 3 : 2;
    char up[HFS_PATH_MAX], base[HFS_PATH_MAX];
    if (i >= sizeof up) return 0;
    memcpy(up, p, i);
    up[i] = 0;
    int saved = errno, fd = HFS_REAL(openat)(dirfd, up, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int known = fd >= 0 && fd_path(fd, base, sizeof base);
    if (fd >= 0) HFS_REAL(close)(fd);
    errno = saved;
    return known ? finish(base, 1, p[i] ? p + i : ".", p, rp) : 0;
}

int hfs_resolve_at(int dirfd, const char *p, hfs_rpath *rp)
{
    rp->real = p;
    rp->trailing_slash = rp->near = rp->final = 0;
    rp->path[0] = 0;
    if (hfs_bad_ptr(p) || !hfs_ready()) return 0; /* the kernel says EFAULT */
    /* An argument the kernel refuses as too long, wherever it would lead: its answer. */
    if (strnlen(p, PATH_MAX) >= PATH_MAX) return 0;
    if (p[0] == '/') {
        if (HFS_CORE(hfs_vfs_touches(p))) return finish("/", 1, p, p, rp);
        return hfs_procfd_maybe(p) ? procfs(p, rp) : 0;
    }
    if (!p[0]) return 0; /* "" : the kernel says ENOENT (AT_EMPTY_PATH is the callers' job) */
    char base[HFS_PATH_MAX];
    int base_real, rc = base_of(dirfd, base, sizeof base, &base_real);
    if (rc == 0 && p[0] == '.' && p[1] == '.') return climb(dirfd, p, rp);
    if (rc <= 0) return rc;
    return finish(base, base_real, p, p, rp);
}

int hfs_vstat(const hfs_rpath *rp, struct stat *st)
{
    int rc = HFS_CORE(hfs_vfs_stat(rp->path, st));
    if (rc == 0 && rp->trailing_slash && !S_ISDIR(st->st_mode)) rc = -ENOTDIR;
    return rc;
}

int hfs_vlstat(const hfs_rpath *rp, struct stat *st)
{
    if (rp->trailing_slash) return hfs_vstat(rp, st);
    return HFS_CORE(hfs_vfs_lstat(rp->path, st));
}

int hfs_vresolve(const char *vpath, char *out, size_t n)
{
    char work[HFS_PATH_MAX], next[HFS_PATH_MAX], link[HFS_PATH_MAX];
    if (snprintf(work, sizeof work, "%s", vpath) >= (int)sizeof work) return -ENAMETOOLONG;
    for (int hops = 0;;) {
        size_t len = strlen(work), i = 1;
        int restarted = 0;
        while (i <= len && !restarted) {
            while (i < len && work[i] != '/') i++;
            char c = work[i];
            work[i] = 0; /* work is now the prefix up to this component */
            struct stat st;
            int rc = 0;
            if (HFS_CORE(hfs_vfs_covers(work)))
                rc = HFS_CORE(hfs_vfs_lstat(work, &st));
            else
                st.st_mode = S_IFDIR; /* above a mount: a real directory, left as is */
            if (rc == 0 && S_ISLNK(st.st_mode)) {
                if (++hops > 40) return -ELOOP;
                int l = HFS_CORE(hfs_vfs_readlink(work, link, sizeof link - 1));
                if (l < 0) return l;
                link[l] = 0;
                char *slash = strrchr(work, '/');
                *slash = 0; /* the directory holding the link */
                const char *rest = c ? work + i + 1 : "";
                char joined[HFS_PATH_MAX];
                if (snprintf(joined, sizeof joined, "%s%s%s", link, *rest ? "/" : "", rest) >=
                    (int)sizeof joined)
                    return -ENAMETOOLONG;
                int nl =
                    HFS_CORE(hfs_path_normalize(work[0] ? work : "/", joined, next, sizeof next));
                if (nl < 0) return nl;
                memcpy(work, next, (size_t)nl + 1);
                if (!HFS_CORE(hfs_vfs_covers(work))) {
                    if (snprintf(out, n, "%s", work) >= (int)n) return -ENAMETOOLONG;
                    return 0;
                }
                restarted = 1;
                break;
            }
            work[i] = c;
            if (rc < 0) return rc;
            if (c && !S_ISDIR(st.st_mode)) return -ENOTDIR;
            i++;
        }
        if (!restarted) break;
    }
    if (snprintf(out, n, "%s", work) >= (int)n) return -ENAMETOOLONG;
    return 1;
}

int hfs_near_missing(const hfs_rpath *rp)
{
    struct stat st;
    int saved = errno;
    int missing = rp->near && HFS_REAL(lstat)(rp->path, &st) < 0 && errno == ENOENT;
    errno = saved;
    return missing;
}
