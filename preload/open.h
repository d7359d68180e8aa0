/* Opening virtual paths, shared by the open, stdio and directory wrappers. */
#pragma once

/* Open vpath through the core and register the fd; write intents go to hfs_vfs_open2 with
 * `mode` minus the umask. Returns the fd (errno restored to saved_errno) or -1 with errno set. */
#include <sys/types.h>
int hfs_open_vpath(const char *vpath, int flags, mode_t mode, int saved_errno)
    __attribute__((visibility("hidden")));
