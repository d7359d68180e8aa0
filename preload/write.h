/* Helpers shared by the write-side wrappers (open with write intents, path mutators, temp
 * files). The overlay itself lives in the core; these only shape the calls. */
#pragma once
#include "vpath.h"

#include <fcntl.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

/* Does an open(2) flag set ask for more than reading? Such opens go to hfs_vfs_open2. */
#define HFS_WRITE_INTENT(fl)                                                                       \
    (((fl)&O_ACCMODE) != O_RDONLY || ((fl) & (O_CREAT | O_TRUNC | O_APPEND | O_EXCL)))

/* The process's umask, as the kernel would apply it to a new file or directory: tracked through
 * the umask() wrapper, read from /proc/self/status when unknown. The core creates with the
 * mode it is given, so the wrappers apply it. */
mode_t hfs_umask_get(void);

#pragma GCC visibility pop
