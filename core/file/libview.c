/* Libraries under the prefix or a mount, for the dynamic loader. ld.so opens a library and its
 * DT_NEEDED dependencies with its own system calls, which no wrapper sees, so a virtual library
 * is handed to it as a real path: <shim cache>/lib<vpath>, a symlink to the library's complete
 * backing file (a blob of the hub cache, or the overlay file). That tree mirrors virtual paths,
 * so the loader's $ORIGIN — the directory of the name it was given — is the mirror of the
 * library's virtual directory, and a dependency it will look for there ($ORIGIN,
 * $ORIGIN/../lib) is put there first, made complete the same way. A dependency the loader would
 * look for in an absolute virtual directory (an RPATH or RUNPATH naming one, an LD_LIBRARY_PATH
 * entry) cannot be found by it at all: it is returned for the caller to load first, and the
 * loader then takes it for the DT_NEEDED entry by its DT_SONAME.
 *
 * The loader records the name it was given (l_name: what dladdr and dl_iterate_phdr report);
 * /proc/self/maps shows the file the symlink leads to. A user who may not create the tree (another
 * uid sharing the cache) gets /tmp/hfshim-lib-<euid>, 0700, as for mirror directories. */
#include "libc.h"
#include "config.h"
#include "elfdyn.h"
#include "log.h"
#include "util.h"
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 8
#define MAX_SEEN 128

/* One level's buffers, on the heap: the search recurses, and the thread may have a small stack.
 * PATH_MAX is enough: the loader cannot open a longer name. */
typedef struct {
    char target[PATH_MAX], vdir[PATH_MAX], spec[PATH_MAX], dir[PATH_MAX], joined[PATH_MAX],
        view[PATH_MAX];
} scratch;

typedef struct {
    char *pre; /* NUL-separated real paths to load first, dependencies first */
    size_t pren, prelen;
    char *seen[MAX_SEEN];
    int nseen;
} libctx;

/* <root><vpath>: the shared tree, or the user's own when the shared one cannot be written. */
static int view_path(const char *vpath, int create, char *out, size_t n)
{
    if (hfs_fmt(out, n, "%s/lib%s", hfs_cfg()->shim_cache, vpath)) return -ENAMETOOLONG;
    if (!create) return 0;
    int rc = hfs_mkdirs_parent(out, 0755);
    if (rc != -EACCES && rc != -EPERM && rc != -EROFS) return rc;
    char root[64];
    snprintf(root, sizeof root, "/tmp/hfshim-lib-%u", (unsigned)geteuid());
    struct stat st;
    if ((hfs_libc()->mkdir(root, 0700) && errno != EEXIST) || hfs_libc()->lstat(root, &st) ||
        !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return rc;
    if (hfs_fmt(out, n, "%s%s", root, vpath)) return -ENAMETOOLONG;
    return hfs_mkdirs_parent(out, 0755);
}

/* view is a symlink to target, replaced atomically when it leads elsewhere. */
static int put_link(const char *view, const char *target)
{
    char cur[PATH_MAX];
    ssize_t l = hfs_libc()->readlink(view, cur, sizeof cur - 1);
    if (l >= 0 && (size_t)l == strlen(target) && !memcmp(cur, target, (size_t)l)) return 0;
    char tmp[PATH_MAX];
    if (hfs_fmt(tmp, sizeof tmp, "%s.tmp.%d.%lx", view, (int)getpid(), hfs_random()))
        return -ENAMETOOLONG;
    if (hfs_libc()->symlink(target, tmp)) return -errno;
    if (hfs_libc()->rename(tmp, view)) {
        int e = errno;
        hfs_libc()->unlink(tmp);
        return -e;
    }
    return 0;
}

/* Open vpath, make it complete, and give the path of its complete backing file (and its
 * dynamic section). A partial file that completes is published under its blob name and
 * unlinked, so /proc/self/fd shows it deleted: the second open finds the blob. */
static int backing(const char *vpath, char *out, size_t n, hfs_elfdyn *dyn)
{
    for (int round = 0; round < 2; round++) {
        hfs_vobj *o = NULL;
        int fd = hfs_vfs_open(vpath, O_RDONLY | O_CLOEXEC, &o);
        if (fd < 0) return fd;
        int rc = hfs_vobj_is_dir(o) ? -EISDIR : hfs_vobj_materialize(o);
        if (rc == 0) {
            char proc[48];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            ssize_t l = hfs_libc()->readlink(proc, out, n - 1);
            if (l < 0 || (size_t)l >= n - 1) {
                rc = l < 0 ? -errno : -ENAMETOOLONG;
            } else {
                out[l] = 0;
                const char *del = " (deleted)";
                size_t dl = strlen(del);
                if ((size_t)l > dl && !strcmp(out + l - dl, del)) rc = -EAGAIN;
            }
        }
        if (rc == 0 && hfs_elf_dyn(fd, dyn) < 0) memset(dyn, 0, sizeof *dyn); /* no deps */
        hfs_libc()->close(fd);
        hfs_vobj_unref(o);
        if (rc != -EAGAIN) return rc;
    }
    return -EIO;
}

static int pre_add(libctx *c, const char *path)
{
    size_t l = strlen(path) + 1;
    if (!c->pre || c->prelen + l + 1 > c->pren) return -ENAMETOOLONG;
    memcpy(c->pre + c->prelen, path, l);
    c->prelen += l;
    c->pre[c->prelen] = 0;
    return 0;
}

static int lib_view(libctx *c, const char *vpath, char *out, size_t n, int depth);

/* Where one search-path entry leads for `name`, with $ORIGIN = vdir: found (1) or not (0). A
 * virtual hit gets its view; one the loader reaches only by an absolute name is added to the
 * list to load first. A real hit below $ORIGIN (a mount's real parent) gets a link in the view,
 * where the loader will look for it. */
static int search_entry(libctx *c, scratch *b, const char *ent, size_t el, const char *name,
                        int depth)
{
    char *spec = b->spec, *dir = b->dir, *joined = b->joined, *view = b->view;
    const char *vdir = b->vdir;
    if (el == 0 || el >= PATH_MAX) return 0;
    memcpy(spec, ent, el);
    spec[el] = 0;
    const char *rest = NULL;
    if (!strncmp(spec, "$ORIGIN", 7) && (!spec[7] || spec[7] == '/'))
        rest = spec + 7;
    else if (!strncmp(spec, "${ORIGIN}", 9) && (!spec[9] || spec[9] == '/'))
        rest = spec + 9;
    if (strchr(rest ? rest : spec, '$')) return 0; /* $LIB, $PLATFORM: not followed */
    if (!rest && spec[0] != '/') return 0;         /* relative to the cwd: not followed */
    if (hfs_fmt(joined, PATH_MAX, "%s%s/%s", rest ? vdir : "", rest ? rest : spec, name) ||
        hfs_path_normalize("/", joined, dir, PATH_MAX) < 0)
        return 0;
    struct stat st;
    if (hfs_vfs_classify(dir) != HFS_NS_VIRTUAL) {
        if (hfs_libc()->stat(dir, &st) || !S_ISREG(st.st_mode)) return 0;
        if (rest && view_path(dir, 1, view, PATH_MAX) == 0) put_link(view, dir);
        return 1;
    }
    if (hfs_vfs_stat(dir, &st) || !S_ISREG(st.st_mode)) return 0;
    if (lib_view(c, dir, view, PATH_MAX, depth + 1) < 0) return 1; /* the loader will say */
    if (!rest) pre_add(c, view);
    return 1;
}

/* The loader's search for a DT_NEEDED name: DT_RPATH (when there is no DT_RUNPATH),
 * LD_LIBRARY_PATH, DT_RUNPATH, then system directories (never virtual). */
static void search(libctx *c, scratch *b, const hfs_elfdyn *d, const char *name, int depth)
{
    const char *lists[3] = {d->runpath ? NULL : d->rpath, getenv("LD_LIBRARY_PATH"), d->runpath};
    for (int i = 0; i < 3; i++) {
        const char *s = lists[i];
        while (s && *s) {
            size_t el = strcspn(s, i == 1 ? ":;" : ":");
            if (search_entry(c, b, s, el, name, depth)) return;
            s += el;
            if (*s) s++;
        }
    }
}

static int lib_view(libctx *c, const char *vpath, char *out, size_t n, int depth)
{
    scratch *b = malloc(sizeof *b);
    if (!b) return -ENOMEM;
    hfs_elfdyn d;
    memset(&d, 0, sizeof d);
    int rc = backing(vpath, b->target, sizeof b->target, &d);
    if (rc == 0) rc = view_path(vpath, 1, out, n);
    if (rc == 0) rc = put_link(out, b->target);
    if (rc < 0) {
        if (rc != -ENOENT && rc != -ENOTDIR)
            hfs_err("%s: cannot hand it to the dynamic loader: %s", vpath, strerror(-rc));
        hfs_elf_dyn_free(&d);
        free(b);
        return rc;
    }
    for (int i = 0; i < c->nseen; i++)
        if (!strcmp(c->seen[i], vpath)) depth = MAX_DEPTH; /* a cycle: its deps are done */
    if (depth < MAX_DEPTH && c->nseen < MAX_SEEN && (c->seen[c->nseen] = strdup(vpath))) {
        c->nseen++;
        snprintf(b->vdir, sizeof b->vdir, "%s", vpath);
        char *sl = strrchr(b->vdir, '/');
        if (sl) *(sl == b->vdir ? sl + 1 : sl) = 0;
        for (int i = 0; i < d.nneeded; i++)
            if (!strchr(d.needed[i], '/')) search(c, b, &d, d.needed[i], depth);
    }
    hfs_elf_dyn_free(&d);
    free(b);
    return 0;
}

int hfs_vfs_lib_path(const char *vpath, int flags, char *out, size_t n, char *pre, size_t pren)
{
    hfs_vfs_init();
    if (pre && pren) pre[0] = 0;
    if (flags & HFS_LIB_NOFETCH) return view_path(vpath, 0, out, n);
    libctx c = {.pre = pre, .pren = pren};
    int rc = lib_view(&c, vpath, out, n, 0);
    for (int i = 0; i < c.nseen; i++) free(c.seen[i]);
    return rc;
}
