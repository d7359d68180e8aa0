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
/* wrap_mountinfo.c: a read-only open of the mount table (/proc/self/mountinfo, /proc/self/mounts
 * and their other names) gets a real fd on a copy with our mounts in it. Returns the fd, -1 with
 * errno, or -2 when `path` (a real path) is not the mount table or flags are not read-only. */
int hfs_mounttab_open(const char *path, int flags) __attribute__((visibility("hidden")));
/* wrap_passfd.c: fd just taken from another process (pidfd_getfd, /proc/PID/fd/N): returned as
 * is, or closed and -1 with errno EIO when it is a partial file of hfshim's with holes. */
int hfs_foreign_fd(int fd, const char *what) __attribute__((visibility("hidden")));
/* The same test without closing: 0 or -EIO. */
int hfs_foreign_check(int fd, const char *what) __attribute__((visibility("hidden")));
/* Does the real path p name "/proc/<pid>/fd/<n>"? */
int hfs_proc_fd_other(const char *p) __attribute__((visibility("hidden")));
