/* Loads the network module (libhfshim-net.so, next to this library) on first need, so that
 * processes that never touch a virtual path never load libcurl or OpenSSL. */
#include "libc.h"
#include "net.h"
#include "log.h"
#include "util.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

static const struct hfs_net_ops *g_ops;

static void log_line(int level, const char *line)
{
    hfs_log(level, "%s", line);
}

/* .libc is filled at load: the core's table then. */
static hfs_net_services g_services = {
    .size = sizeof(hfs_net_services),
    .log_line = log_line,
    .log_level = hfs_log_level,
    .cfg = hfs_cfg,
    .cfg_token = hfs_cfg_token,
};

/* A table this core can use: as large as its own and of its version (the module beside the
 * library comes from the same build, unless an installation mixed two). */
static int usable(const struct hfs_net_ops *ops, const char *path)
{
    if (ops && ops->size >= sizeof *ops && ops->version == HFS_NET_VERSION) return 1;
    hfs_err("cannot use network module %s: it is from another build of hfshim (table version "
            "%u, size %u; this library needs version %d, size %zu)",
            path, ops ? ops->version : 0, ops ? ops->size : 0, HFS_NET_VERSION, sizeof *ops);
    return 0;
}
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_failed;

void hfs_net_set_static(const struct hfs_net_ops *ops)
{
    __atomic_store_n(&g_ops, ops, __ATOMIC_RELEASE);
}

const struct hfs_net_ops *hfs_net(void)
{
    const struct hfs_net_ops *ops = __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE);
    if (ops) return ops;
    pthread_mutex_lock(&g_lock);
    if (!g_ops && !g_failed) {
        Dl_info info;
        char path[PATH_MAX];
        const char *self = NULL;
        if (dladdr((void *)&hfs_net, &info) && info.dli_fname) self = info.dli_fname;
        const char *slash = self ? strrchr(self, '/') : NULL;
        /* Beside this library; by bare name (the loader's search) if that path does not fit. */
        if (!slash ||
            hfs_fmt(path, sizeof path, "%.*s/libhfshim-net.so", (int)(slash - self), self))
            snprintf(path, sizeof path, "libhfshim-net.so");
        void *h = hfs_libc()->dlopen(path, RTLD_NOW | RTLD_LOCAL);
        typedef const struct hfs_net_ops *(*entry_fn)(const hfs_net_services *);
        entry_fn get = h ? (entry_fn)dlsym(h, "hfs_net_ops_v2") : NULL;
        g_services.libc = hfs_libc();
        const struct hfs_net_ops *ops = get ? get(&g_services) : NULL;
        if (!get) hfs_err("cannot load network module %s: %s", path, dlerror());
        if (ops && usable(ops, path))
            __atomic_store_n(&g_ops, ops, __ATOMIC_RELEASE);
        else
            g_failed = 1;
    }
    ops = g_ops;
    pthread_mutex_unlock(&g_lock);
    return ops;
}

void hfs_net_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&g_lock, &fresh, sizeof fresh);
    const struct hfs_net_ops *ops = __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE);
    if (ops && ops->atfork_child) ops->atfork_child();
}
