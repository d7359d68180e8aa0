/* Library start: real symbols, core configuration, the virtual cwd of a process started inside
 * a mirror directory, fork handling. */
#include "exec_env.h"
#include "fdtab.h"
#include "proc.h"
#include "real.h"
#include "vpath.h"

#include <pthread.h>

__thread int hfs_guard __attribute__((tls_model("initial-exec")));
HFS_HOT_DATA atomic_int hfs_state;
HFS_HOT_DATA static pthread_once_t once = PTHREAD_ONCE_INIT; /* written at start: on the hot page */

/* The only fork handlers: the preload's own state, then the core's rule (vfs.h). */
static void atfork_prepare(void)
{
    HFS_CORE_VOID(hfs_vfs_atfork_prepare());
}

static void atfork_parent(void)
{
    HFS_CORE_VOID(hfs_vfs_atfork_parent());
}

static void atfork_child(void)
{
    hfs_fd_atfork_child(); /* first: the core's rule asks who owns the process */
    hfs_cwd_atfork_child();
    HFS_CORE_VOID(hfs_vfs_atfork_child());
}

/* Threads the core starts (the background hash) run with the guard set: their calls on the
 * core's own files must not come back into the core through the wrappers. */
static void core_thread_start(void)
{
    hfs_guard++;
}

/* The core's own atexit work (the exit-time push) runs with the guard set, as a wrapped call. */
static void run_in_core(void (*fn)(void))
{
    HFS_CORE_VOID(fn());
}

static void init_once(void)
{
    int saved = errno;
    hfs_guard++;
    hfs_proc_thread_start = core_thread_start;
    hfs_proc_run_in_core = run_in_core;
    hfs_real_resolve_common();
    hfs_fd_set_pid();
    hfs_vfs_init();
    hfs_exec_env_init();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    hfs_guard--;
    hfs_cwd_recover();
    atomic_store_explicit(&hfs_state, 2, memory_order_release);
    errno = saved;
}

/* Called by hfs_ready() until the library is initialized (wrappers running before our
 * constructor, e.g. from another library's). The guard keeps a recursive call on this thread
 * out: it passes through before getting here. */
int hfs_init_slow(void)
{
    if (HFS_IN_CORE()) return 0;
    pthread_once(&once, init_once);
    return 1;
}

__attribute__((constructor)) static void hfs_preload_init(void)
{
    (void)hfs_init_slow();
}
