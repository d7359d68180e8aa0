/* Loads the network module (libhfshim-net.so, next to this library) on first need, so that
 * processes that never touch a virtual path never load libcurl or OpenSSL. */
#include "net.h"
#include "log.h"
#include "util.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

static const struct hfs_net_ops *g_ops;
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
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        const struct hfs_net_ops *(*get)(void) =
            h ? (const struct hfs_net_ops *(*)(void))dlsym(h, "hfs_net_ops_v1") : NULL;
        if (get) {
            __atomic_store_n(&g_ops, get(), __ATOMIC_RELEASE);
        } else {
            g_failed = 1;
            hfs_err("cannot load network module %s: %s", path, dlerror());
        }
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
