#include "proc.h"

#include <unistd.h>

static pid_t g_owner;
void (*hfs_proc_thread_start)(void);

void hfs_proc_set_owner(pid_t pid)
{
    __atomic_store_n(&g_owner, pid, __ATOMIC_RELEASE);
}

int hfs_proc_is_owner(void)
{
    pid_t o = __atomic_load_n(&g_owner, __ATOMIC_ACQUIRE);
    return !o || o == getpid();
}
