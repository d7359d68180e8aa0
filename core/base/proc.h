/* The process the core lives in, as whoever loads the core describes it. The interposer sets
 * both at start (and the owner again in a fork child); hfrun and the unit tests leave them. */
#pragma once
#include <sys/types.h>

/* The process owning the core's memory (0: unknown). A vfork child shares that memory while
 * the parent waits, and must not start threads or change state in it. */
void hfs_proc_set_owner(pid_t pid);
/* 1 unless this is known to be a vfork child (or any other process sharing the owner's memory). */
int hfs_proc_is_owner(void);

/* Forks: bumped in each forked child (by hfs_vfs_atfork_child), so state made before a fork can
 * tell it is its parent's. */
unsigned hfs_proc_fork_gen(void);
void hfs_proc_forked(void);

/* Run first in every thread the core starts, e.g. to mark the thread as inside the core so the
 * interposer's wrappers pass its calls straight through. NULL: nothing to do. */
extern void (*hfs_proc_thread_start)(void);

/* Runs fn marked as inside the core, for work the core starts from a hook of libc's own (an
 * atexit handler): libcurl's and OpenSSL's calls there must pass through the wrappers too.
 * NULL: call fn directly. */
extern void (*hfs_proc_run_in_core)(void (*fn)(void));
