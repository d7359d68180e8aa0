#include "proc.h"

#include <unistd.h>

static pid_t g_owner;
static unsigned g_fork_gen;
void (*hfs_proc_thread_start)(void);
void (*hfs_proc_run_in_core)(void (*fn)(void));

unsigned hfs_proc_fork_gen(void)
{
    return __atomic_load_n(&g_fork_gen, __ATOMIC_ACQUIRE);
}

void hfs_proc_forked(void)
{
    __atomic_add_fetch(&g_fork_gen, 1, __ATOMIC_ACQ_REL);
}

void hfs_proc_set_owner(pid_t pid)
{
    __atomic_store_n(&g_owner, pid, __ATOMIC_RELEASE);
}

int hfs_proc_is_owner(void)
{
    pid_t o = __atomic_load_n(&g_owner, __ATOMIC_ACQUIRE);
    return !o || o == getpid();
}
