/* Re-entry guard: while this thread runs inside the core (which itself calls open, stat, fopen,
 * libcurl...), every wrapper passes straight through to libc. Initial-exec TLS: one load. */
#pragma once

/* What the wrappers' fast paths read, gathered on one page (.data, next to little else): after a
 * system call this VM's TLB is cold, and each distinct page is a miss (bench/ANALYSIS.md).
 */
#define HFS_HOT_DATA __attribute__((section(".data.hfs_hot")))

#define HFS_LIKELY(x) __builtin_expect(!!(x), 1)
#define HFS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* glibc declares most path parameters nonnull, so the compiler may drop a NULL test on them in
 * our definitions; a program passing NULL must get EFAULT from libc, not a crash in the shim.
 * Passing the pointer through an empty asm hides what the compiler assumes about it. */
static inline const char *hfs_launder(const char *p)
{
    __asm__("" : "+r"(p));
    return p;
}

extern __thread int hfs_guard __attribute__((tls_model("initial-exec"), visibility("hidden")));

#define HFS_IN_CORE() __builtin_expect(hfs_guard != 0, 0)

/* Evaluate a core call with the guard set. */
#define HFS_CORE(expr)                                                                             \
    ({                                                                                             \
        hfs_guard++;                                                                               \
        __typeof__(expr) r_ = (expr);                                                              \
        hfs_guard--;                                                                               \
        r_;                                                                                        \
    })
#define HFS_CORE_VOID(expr)                                                                        \
    do {                                                                                           \
        hfs_guard++;                                                                               \
        expr;                                                                                      \
        hfs_guard--;                                                                               \
    } while (0)
