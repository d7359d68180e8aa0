/* Small file-system helpers shared by the core. */
#pragma once
#include "clock.h"
#include "checked.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* snprintf that reports truncation: 0, or -ENAMETOOLONG. */
HFS_MUST_CHECK int hfs_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A random number for temp names, from getrandom: never the program's own random() state
 * (a call through the shim must not change the sequence the program sees). */
unsigned long hfs_random(void);
/* Move the finished temp file `tmp` to `dst` unless dst exists: 0 published, 1 another was
 * there first (tmp is removed, dst left as it is), -errno. */
HFS_MUST_CHECK int hfs_publish_noreplace(const char *tmp, const char *dst);
/* mkdir -p; 0 or -errno. */
HFS_MUST_CHECK int hfs_mkdirs(const char *path, mode_t mode);
/* mkdir -p of the directory part of `path`. */
HFS_MUST_CHECK int hfs_mkdirs_parent(const char *path, mode_t mode);
/* Write a whole file atomically (temp file in the same directory, then rename). */
HFS_MUST_CHECK int hfs_write_atomic(const char *path, const void *data, size_t len);
/* Create `path` with `data` only if it does not exist yet (temp + link): first writer wins.
 * Returns 0 if ours was published, 1 if another existed, -errno on error. */
HFS_MUST_CHECK int hfs_write_once(const char *path, const void *data, size_t len);
/* Read up to n-1 bytes of a small file, NUL-terminated; returns length or -errno. */
ssize_t hfs_read_small(const char *path, char *buf, size_t n);
/* Seconds since the file was last modified, or -1 if it does not exist. */
long hfs_age(const char *path);
/* "org/name" -> "org--name", as huggingface_hub names repo folders. */
void hfs_folder_id(const char *id, char *out, size_t n);
