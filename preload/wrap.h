/* Helpers shared between wrapper files. */
#pragma once
#include "vpath.h"

#pragma GCC visibility push(hidden)
/* See wrap_stat.c. */
int hfs_stat_at(int dirfd, const char *path, int flags, struct stat *st, hfs_rpath *rp, int *ret);
int hfs_fstat_fd(int fd, struct stat *st, int *ret);
#pragma GCC visibility pop
