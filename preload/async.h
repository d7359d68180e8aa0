/* io_uring reads files in the kernel, from requests the program writes into memory shared with
 * it, with no system call per read that a wrapper could see (Debian's liburing issues even
 * io_uring_setup and io_uring_enter inline). Holes of a partial file would read as zeros there.
 * So once io_uring may be in use in this process, every virtual file is made complete: those
 * open then, and each one at open from then on. "In use": liburing is loaded (checked when a
 * virtual file is opened or read, and after a dlopen of a virtual library; the check rescans the
 * loaded objects only when one was added since), or the program called io_uring_setup through
 * syscall(). */
#pragma once
#include <stdatomic.h>

/* What the line says when a file cannot be completed for it. */
#define HFS_ASYNC_WHY "io_uring may read it without the shim"

#pragma GCC visibility push(hidden)
extern atomic_int hfs_async_on;
int hfs_async_scan(void);
/* May io_uring read virtual files of this process? Once 1, always 1. */
static inline int hfs_async_active(void)
{
    return atomic_load_explicit(&hfs_async_on, memory_order_relaxed) || hfs_async_scan();
}
/* io_uring came into use (`why`): complete every open virtual file, and later ones at open.
 * 0, or the first -errno (a line was printed for it). */
int hfs_async_start(const char *why);
#pragma GCC visibility pop
