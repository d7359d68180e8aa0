#include "libc.h"
#include "config.h"
#include "overlay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int hfs_overlay_base(char *out, size_t n)
{
    const char *e = getenv("HF_SHIM_OVERLAY");
    if (e && *e) return hfs_fmt(out, n, "%s", e);
    return hfs_fmt(out, n, "%s/overlay", hfs_cfg()->shim_cache);
}

/* Built in place in `out`: these run on a process's first lookup, deep in the call chain, where
 * every further 4 KiB of stack is one more fresh page (bench/ANALYSIS.md). */
int hfs_overlay_repo_dir(const hfs_repo_id *r, char *out, size_t n)
{
    char fid[HFS_ID_MAX];
    int rc = hfs_overlay_base(out, n);
    if (rc) return rc;
    hfs_folder_id(r->id, fid, sizeof fid);
    size_t l = strlen(out);
    return hfs_fmt(out + l, n - l, "/%s--%s", hfs_type_plural(r->type), fid);
}

int hfs_overlay_upper(const hfs_repo_id *r, char *out, size_t n)
{
    int rc = hfs_overlay_repo_dir(r, out, n);
    size_t l = rc ? 0 : strlen(out);
    return rc ? rc : hfs_fmt(out + l, n - l, "/upper");
}

static int starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

int hfs_ov_name_kind(const char *name, const char **vname)
{
    const size_t wl = strlen(HFS_WH_PREFIX), el = strlen(HFS_WH_ESCAPE);
    *vname = name;
    if (!starts(name, HFS_WH_PREFIX)) return HFS_OVN_ENTRY;
    /* Only names starting with ".wh." are escaped: anything else there is no program's. */
    if (starts(name, HFS_WH_ESCAPE) && starts(name + el, HFS_WH_PREFIX)) {
        *vname = name + el;
        return HFS_OVN_ENTRY;
    }
    if (starts(name + wl, HFS_WH_ESCAPE) && starts(name + wl + el, HFS_WH_PREFIX)) {
        *vname = name + wl + el;
        return HFS_OVN_WHITEOUT;
    }
    if (!strcmp(name, HFS_WH_OPAQUE)) return HFS_OVN_OPAQUE;
    if (starts(name, HFS_WH_META) || !name[wl]) return HFS_OVN_INTERNAL;
    *vname = name + wl;
    return HFS_OVN_WHITEOUT;
}

int hfs_ov_escape(const char *name, size_t len, char *out, size_t n)
{
    const size_t wl = strlen(HFS_WH_PREFIX);
    int esc = len >= wl && !memcmp(name, HFS_WH_PREFIX, wl);
    return hfs_fmt(out, n, "%s%.*s", esc ? HFS_WH_ESCAPE : "", (int)len, name);
}

/* Appends "/" and the stored names of rpath's components to out (holding l bytes). */
static int append_stored(char *out, size_t n, size_t l, const char *rpath, size_t rlen)
{
    for (const char *p = rpath, *end = rpath + rlen; p < end;) {
        size_t len = strcspn(p, "/");
        if (len > (size_t)(end - p)) len = (size_t)(end - p);
        if (len) {
            if (l + 1 >= n) return -ENAMETOOLONG;
            out[l++] = '/';
            if (hfs_ov_escape(p, len, out + l, n - l)) return -ENAMETOOLONG;
            l += strlen(out + l);
        }
        p += len;
        while (p < end && *p == '/') p++;
    }
    return 0;
}

int hfs_ov_path(const char *upper, const char *rpath, char *out, size_t n)
{
    if (hfs_fmt(out, n, "%s", upper)) return -ENAMETOOLONG;
    return append_stored(out, n, strlen(out), rpath, strlen(rpath));
}

int hfs_ov_wh_path(const char *upper, const char *rpath, char *out, size_t n)
{
    const char *slash = strrchr(rpath, '/'), *base = slash ? slash + 1 : rpath;
    if (hfs_fmt(out, n, "%s", upper) ||
        append_stored(out, n, strlen(out), rpath, (size_t)(base - rpath)))
        return -ENAMETOOLONG;
    size_t l = strlen(out);
    if (hfs_fmt(out + l, n - l, "/" HFS_WH_PREFIX)) return -ENAMETOOLONG;
    l = strlen(out);
    return hfs_ov_escape(base, strlen(base), out + l, n - l) ? -ENAMETOOLONG : 0;
}

/* One counter for the whole overlay base, in a shared mapping: bumped by every change to any
 * overlay, so a lookup can trust "this repo has no overlay" without a system call until some
 * process on the machine writes. */
static uint64_t *g_gen;
static pthread_once_t g_gen_once = PTHREAD_ONCE_INIT;

/* Every process maps the counter on its first lookup, deep in the call chain: the path lives on
 * the heap (pages reused later) rather than in more fresh stack pages, and the directories are
 * created only the first time. */
static void map_gen(void)
{
    const size_t n = PATH_MAX + 16;
    char *p = malloc(n);
    if (!p || hfs_overlay_base(p, PATH_MAX)) {
        free(p);
        return;
    }
    size_t l = strlen(p);
    snprintf(p + l, n - l, "/.generation");
    int fd = hfs_libc()->open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        p[l] = 0;
        if (!hfs_mkdirs(p, 0755)) {
            p[l] = '/';
            fd = hfs_libc()->open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        }
    }
    free(p);
    if (fd < 0) return;
    struct stat st;
    if (!hfs_libc()->fstat(fd, &st) && (st.st_size >= 8 || !hfs_libc()->ftruncate(fd, 8))) {
        void *m = hfs_libc()->mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) g_gen = m;
    }
    hfs_libc()->close(fd);
}

uint64_t hfs_overlay_generation(void)
{
    pthread_once(&g_gen_once, map_gen);
    return g_gen ? __atomic_load_n(g_gen, __ATOMIC_ACQUIRE) : UINT64_MAX;
}

void hfs_overlay_touch(void)
{
    pthread_once(&g_gen_once, map_gen);
    if (g_gen) __atomic_add_fetch(g_gen, 1, __ATOMIC_ACQ_REL);
}
