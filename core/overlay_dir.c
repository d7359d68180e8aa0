#include "config.h"
#include "overlay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int hfs_overlay_base(char *out, size_t n)
{
    const char *e = getenv("HF_SHIM_OVERLAY");
    if (e && *e) return hfs_fmt(out, n, "%s", e);
    return hfs_fmt(out, n, "%s/overlay", hfs_cfg()->shim_cache);
}

int hfs_overlay_repo_dir(const hfs_repo_id *r, char *out, size_t n)
{
    char base[4096], fid[HFS_ID_MAX];
    int rc = hfs_overlay_base(base, sizeof base);
    if (rc) return rc;
    hfs_folder_id(r->id, fid, sizeof fid);
    return hfs_fmt(out, n, "%s/%s--%s", base, hfs_type_plural(r->type), fid);
}

int hfs_overlay_upper(const hfs_repo_id *r, char *out, size_t n)
{
    char d[4096];
    int rc = hfs_overlay_repo_dir(r, d, sizeof d);
    return rc ? rc : hfs_fmt(out, n, "%s/upper", d);
}

/* One counter for the whole overlay base, in a shared mapping: bumped by every change to any
 * overlay, so a lookup can trust "this repo has no overlay" without a system call until some
 * process on the machine writes. */
static uint64_t *g_gen;
static pthread_once_t g_gen_once = PTHREAD_ONCE_INIT;

static void map_gen(void)
{
    char base[4096], p[4200];
    if (hfs_overlay_base(base, sizeof base) || hfs_mkdirs(base, 0755) ||
        hfs_fmt(p, sizeof p, "%s/.generation", base))
        return;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    struct stat st;
    if (!fstat(fd, &st) && (st.st_size >= 8 || !ftruncate(fd, 8))) {
        void *m = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) g_gen = m;
    }
    close(fd);
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
