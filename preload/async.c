/* Is io_uring in use here? (async.h) */
#include "async.h"
#include "fdtab.h"

#include <link.h>
#include <stddef.h>
#include <string.h>

atomic_int hfs_async_on;
static _Atomic unsigned long long seen_adds; /* dlpi_adds at the last full scan; 0: none yet */

typedef struct {
    unsigned long long adds;
    int first, unchanged, found;
} scan_state;

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    scan_state *s = arg;
    if (s->first) {
        s->first = 0;
        if (size < offsetof(struct dl_phdr_info, dlpi_subs)) return 0; /* no counters: scan */
        s->adds = info->dlpi_adds;
        if (s->adds == atomic_load(&seen_adds)) {
            s->unchanged = 1; /* nothing loaded since the last scan */
            return 1;
        }
    }
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (!strncmp(base, "liburing.so", 11)) {
        s->found = 1;
        return 1;
    }
    return 0;
}

int hfs_async_scan(void)
{
    scan_state s = {.first = 1};
    dl_iterate_phdr(scan_one, &s);
    if (s.unchanged) return 0;
    if (s.found) {
        (void)hfs_async_start(HFS_ASYNC_WHY " (liburing is loaded)");
        return 1;
    }
    if (s.adds) atomic_store(&seen_adds, s.adds);
    return 0;
}

int hfs_async_start(const char *why)
{
    atomic_store(&hfs_async_on, 1);
    return hfs_fd_handover_all(why);
}
