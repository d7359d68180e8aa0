/* umask: the wrappers apply the umask to modes they hand to the core (which creates overlay
 * entries with exactly the mode it is given). Reading the umask has no side-effect-free call
 * (umask() sets it), so it is read from /proc/self/status once and cached; every umask() call
 * bumps a generation that invalidates the cache. The bump is the whole cost of the wrapper, and
 * it is harmless in a vfork child sharing our memory (the parent just reads the file again). */
#include "real.h"
#include "write.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint umask_gen;
/* (generation << 16) | mask + 1; 0 = never read. */
static _Atomic uint64_t umask_cache;

static int read_proc_umask(void)
{
    char buf[2048];
    int fd = HFS_REAL(open)("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = HFS_REAL(read)(fd, buf, sizeof buf - 1);
    HFS_REAL(close)(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *p = strstr(buf, "\nUmask:");
    if (!p) return -1;
    char *end;
    long m = strtol(p + 7, &end, 8);
    return end == p + 7 || m < 0 || m > 0777 ? -1 : (int)m;
}

mode_t hfs_umask_get(void)
{
    unsigned g = atomic_load(&umask_gen);
    uint64_t c = atomic_load(&umask_cache);
    if (c && (unsigned)(c >> 16) == g) return (mode_t)((c & 0xffff) - 1);
    int saved = errno;
    int m = read_proc_umask();
    if (m < 0) { /* no /proc: the racy way (another thread may create with umask 0 meanwhile) */
        m = (int)HFS_REAL(umask)(0);
        HFS_REAL(umask)((mode_t)m);
    }
    errno = saved;
    /* Stored with the generation read before: if umask() ran meanwhile, it is stale at once. */
    atomic_store(&umask_cache, ((uint64_t)g << 16) | (uint64_t)(m + 1));
    return (mode_t)m;
}

HFS_EXPORT mode_t umask(mode_t mask)
{
    mode_t old = HFS_REAL(umask)(mask);
    atomic_fetch_add_explicit(&umask_gen, 1, memory_order_release);
    return old;
}
