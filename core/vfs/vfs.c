/* The virtual namespace: prefix and explicit mounts, path -> repo entry, stat, open, listing. */
#include "vfs.h"
#include "file.h"
#include "file_hash.h"
#include "chunkclaim.h"
#include "config.h"
#include "grammar.h"
#include "log.h"
#include "net.h"
#include "proc.h"
#include "prefetch.h"
#include "repo.h"
#include "util.h"
#include "vfs_int.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hash.h"

typedef struct {
    char path[PATH_MAX]; /* normalized mount point */
    size_t len;
    hfs_spec spec;
    char sub[PATH_MAX]; /* subfolder inside the repo, "" for its root */
} mount;

static mount g_mounts[HFS_MAX_MOUNTS];
static char g_self[PATH_MAX];
/* What init_once writes in every process, kept on the interposer's hot page (.data.hfs_hot,
 * which the loader writes anyway): each other page written at start would be a fault
 * (bench/ANALYSIS.md). A prefix too long for the inline buffer goes to the heap. */
__attribute__((section(".data.hfs_hot"))) static struct {
    pthread_once_t once;
    int inited;
    int nmounts;
    size_t plen;
    char *prefix;
    char inline_prefix[64];
} g_hot = {.once = PTHREAD_ONCE_INIT};
#define g_once g_hot.once
#define g_inited g_hot.inited
#define g_nmounts g_hot.nmounts
#define g_plen g_hot.plen
#define g_prefix g_hot.prefix
/* Second bytes a covered path can start with ("/h" for /hf, each mount's, and the "//", "/."
 * spellings): most paths are turned away by one table load. */
/* In the section the interposer's hot variables use (preload/guard.h): one page for them all. */
__attribute__((section(".data.hfs_hot"))) unsigned char hfs_vfs_first[256];

static void parse_mounts(const char *s)
{
    while (s && *s && g_nmounts < HFS_MAX_MOUNTS) {
        const char *end = strchr(s, ';');
        size_t l = end ? (size_t)(end - s) : strlen(s);
        char item[PATH_MAX * 2];
        if (l < sizeof item) {
            memcpy(item, s, l);
            item[l] = 0;
            char *eq = strchr(item, '=');
            mount *m = &g_mounts[g_nmounts];
            if (!eq || item[0] != '/') {
                if (l) hfs_err("HF_MOUNTS: ignoring '%s': expected /absolute/path=SPEC", item);
            } else {
                *eq = 0;
                int n = hfs_path_normalize("/", item, m->path, sizeof m->path);
                if (n <= 1 || hfs_parse_spec(eq + 1, &m->spec, m->sub, sizeof m->sub))
                    hfs_err("HF_MOUNTS: ignoring '%s=%s': bad mount point or repo spec", item,
                            eq + 1);
                else {
                    m->len = (size_t)n;
                    g_nmounts++;
                }
            }
        }
        s = end ? end + 1 : NULL;
    }
}

/* What every process needs at start — the prefix and the mounts — and nothing more: this runs in
 * every program the shim is loaded into, and each page it touches costs a fault. */
static void init_once(void)
{
    /* In the inline buffer, without a PATH_MAX buffer on the stack (one more fresh page in
     * every process); a longer prefix is read again into the heap. */
    const char *raw = getenv("HF_SHIM_PREFIX");
    g_prefix = g_hot.inline_prefix;
    if (raw && strlen(raw) >= sizeof g_hot.inline_prefix) {
        char *big = malloc(PATH_MAX);
        if (big) g_prefix = big;
    }
    hfs_cfg_prefix(g_prefix,
                   g_prefix == g_hot.inline_prefix ? sizeof g_hot.inline_prefix : PATH_MAX);
    g_plen = strlen(g_prefix);
    parse_mounts(getenv("HF_MOUNTS"));
    hfs_vfs_first[(unsigned char)g_prefix[1]] = 1;
    for (int i = 0; i < g_nmounts; i++) hfs_vfs_first[(unsigned char)g_mounts[i].path[1]] = 1;
    /* '\0': "/" itself, the ancestor of every mount (vfs_near.c). */
    hfs_vfs_first['/'] = hfs_vfs_first['.'] = hfs_vfs_first[0] = 1;
    __atomic_store_n(&g_inited, 1, __ATOMIC_RELEASE);
}

/* The rest, on first use. */
static pthread_once_t g_paths_once = PTHREAD_ONCE_INIT;
static void paths_once(void)
{
    Dl_info info;
    if (dladdr((void *)&hfs_vfs_init, &info) && info.dli_fname && info.dli_fname[0] == '/')
        snprintf(g_self, sizeof g_self, "%s", info.dli_fname);
}
static void init_paths(void)
{
    pthread_once(&g_paths_once, paths_once);
}

void hfs_vfs_init(void)
{
    pthread_once(&g_once, init_once);
}

static inline int under(const char *p, const char *root, size_t len)
{
    return !strncmp(p, root, len) && (p[len] == '/' || p[len] == 0);
}

int hfs_vfs_each_mount(int (*cb)(const char *path, const hfs_spec *s, const char *sub, void *arg),
                       void *arg)
{
    hfs_vfs_init();
    for (int i = 0; i < g_nmounts; i++) {
        int rc = cb(g_mounts[i].path, &g_mounts[i].spec, g_mounts[i].sub, arg);
        if (rc) return rc;
    }
    return 0;
}

/* Kept out of hfs_vfs_covers so the common case has no large stack frame to set up. */
__attribute__((noinline)) static int covers_odd(const char *p)
{
    char n[HFS_PATH_MAX];
    if (hfs_path_normalize("/", p, n, sizeof n) > 0 && strcmp(n, p)) return hfs_vfs_covers(n);
    return 0;
}

int hfs_vfs_covers(const char *p)
{
    if (!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) hfs_vfs_init();
    if (p[0] != '/' || !hfs_vfs_first[(unsigned char)p[1]]) return 0;
    if (under(p, g_prefix, g_plen)) return 1;
    for (int i = 0; i < g_nmounts; i++)
        if (under(p, g_mounts[i].path, g_mounts[i].len)) return 1;
    /* Spellings like "//hf" or "/./hf" need normalizing before the test. */
    if (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '.'))) return covers_odd(p);
    return 0;
}

/* ---- routing a virtual path to a repo ---- */

/* Mount or prefix: fills L->kind, L->rpath, L->is_root and *spec (for HFS_VL_REPO). */
int hfs_route(const char *vpath, hfs_loc *L, hfs_spec *spec)
{
    const char *sub = NULL, *rest = NULL;
    const mount *best = NULL;
    for (int i = 0; i < g_nmounts; i++)
        if (under(vpath, g_mounts[i].path, g_mounts[i].len) &&
            (!best || g_mounts[i].len > best->len))
            best = &g_mounts[i];
    if (best) {
        *spec = best->spec;
        sub = best->sub;
        rest = vpath + best->len;
        if (*rest == '/') rest++;
    } else if (under(vpath, g_prefix, g_plen)) {
        const char *rel = vpath + g_plen;
        if (*rel == '/') rel++;
        hfs_vloc vl;
        if (hfs_parse_vpath(rel, &vl)) return -ENOENT;
        L->kind = vl.kind;
        if (vl.kind != HFS_VL_REPO) return 0;
        *spec = vl.spec;
        sub = "";
        rest = vl.path;
    } else
        return -ENOENT;
    L->kind = HFS_VL_REPO;
    L->is_root = !*rest;
    return hfs_fmt(L->rpath, sizeof L->rpath, "%s%s%s", sub, *sub && *rest ? "/" : "", rest);
}

const char *hfs_prefix(void)
{
    return g_prefix;
}

const char *hfs_vfs_pins_env(void)
{
    return hfs_repo_pins_env();
}
const char *hfs_vfs_self_path(void)
{
    hfs_vfs_init();
    init_paths();
    return g_self;
}

void hfs_vfs_atfork_prepare(void)
{
    hfs_claims_atfork_prepare();
}

void hfs_vfs_atfork_parent(void)
{
    hfs_claims_atfork_parent();
}

void hfs_vfs_atfork_child(void)
{
    hfs_proc_forked(); /* first: what follows may look at the generation */
    hfs_log_atfork_child();
    hfs_cfg_atfork_child();
    hfs_claims_atfork_child();
    hfs_file_atfork_child();
    hfs_hasher_atfork_child();
    hfs_repo_atfork_child();
    hfs_ov_atfork_child();
    hfs_prefetch_atfork_child();
    hfs_exit_push_atfork_child();
    hfs_net_atfork_child();
}
