/* Diagnostics on stderr, each line prefixed "hfshim:". Level from HF_SHIM_LOG
 * (error|warn|info|debug; default warn). Errors are printed once per distinct message per
 * process, so a program that retries does not flood its stderr. Never writes the token. */
#pragma once
#include <stddef.h>

enum { HFS_LOG_ERROR = 0, HFS_LOG_WARN = 1, HFS_LOG_INFO = 2, HFS_LOG_DEBUG = 3 };

int hfs_log_level(void);
/* in[0..n) made safe for one line on a terminal: control bytes as \n \r \t or \xNN, bytes that
 * are not UTF-8 as \xNN, C1 controls and bidirectional or line-separating code points as
 * \uNNNN; other UTF-8 passes. Writes at most outsz - 1 bytes and a NUL (cut between escapes);
 * returns the length. Every line hfs_log prints goes through it. */
size_t hfs_log_sanitize(const char *in, size_t n, char *out, size_t outsz);
/* In a forked child (vfs.h's fork rule). */
void hfs_log_atfork_child(void);
void hfs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define hfs_err(...) hfs_log(HFS_LOG_ERROR, __VA_ARGS__)
#define hfs_warn(...) hfs_log(HFS_LOG_WARN, __VA_ARGS__)
#define hfs_info(...) hfs_log(HFS_LOG_INFO, __VA_ARGS__)
#define hfs_debug(...)                                                                             \
    do {                                                                                           \
        if (hfs_log_level() >= HFS_LOG_DEBUG) hfs_log(HFS_LOG_DEBUG, __VA_ARGS__);                 \
    } while (0)
