/* Helpers shared between wrapper files. */
#pragma once
#include "vpath.h"

#pragma GCC visibility push(hidden)
/* See wrap_stat.c. */
int hfs_stat_at(int dirfd, const char *path, int flags, struct stat *st, hfs_rpath *rp, int *ret);
int hfs_fstat_fd(int fd, struct stat *st, int *ret);
#pragma GCC visibility pop

#pragma GCC visibility push(hidden)
/* wrap_aio.c: io_submit(ctx, nr, iocbpp) through syscall(): the ranges its reads of virtual
 * fds will read are made present first. 0 or -errno. */
int hfs_aio_submit_ensure(long nr, const void *iocbpp);
#pragma GCC visibility pop
