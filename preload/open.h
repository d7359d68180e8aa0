/* Opening virtual paths, shared by the open, stdio and directory wrappers. */
#pragma once

/* Open vpath through the core and register the fd. Returns the fd (errno restored to
 * saved_errno) or -1 with errno set. */
int hfs_open_vpath(const char *vpath, int flags, int saved_errno)
    __attribute__((visibility("hidden")));
