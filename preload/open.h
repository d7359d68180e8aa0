/* Opening virtual paths, shared by the open, stdio and directory wrappers. */
#pragma once

/* Open vpath through the core and register the fd; write intents go to hfs_vfs_open2 with
 * `mode` minus the umask. Returns the fd (errno restored to saved_errno) or -1 with errno set. */
#include <sys/types.h>
#include "vpath.h"
int hfs_open_vpath(const char *vpath, int flags, mode_t mode, int saved_errno)
    __attribute__((visibility("hidden")));
/* The open family's answer for an ancestor of a mount (rp->near set by hfs_resolve_at). */
int hfs_open_near(int dirfd, const hfs_rpath *rp, int flags, mode_t mode, int saved_errno)
    __attribute__((visibility("hidden")));
