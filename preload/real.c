/* Resolution of the real libc symbols (see real.h). */
#include "real.h"
#include "guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define HFS_DEF_SLOT(n) HFS_HOT_DATA _Atomic(void *) hfs_real_slot_##n;
HFS_REAL_LIST(HFS_DEF_SLOT)
#undef HFS_DEF_SLOT

static __thread int resolving __attribute__((tls_model("initial-exec")));

/* ---- fallbacks on raw system calls, for the calls that matter before dlsym works ---- */

static long sys_ret(long r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
/* The fallbacks issue the system call inline: they must not depend on any resolved symbol. */
static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    r = x0;
#else
#error "hfshim: raw system calls are implemented for x86_64 and aarch64 only"
#endif
    return r;
}
#define RAW(n, a, b, c, d) sys_ret(raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0))

static int fb_openat(int dfd, const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    return (int)RAW(SYS_openat, dfd, p, flags, mode);
}
static int fb_open(const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    return (int)RAW(SYS_openat, AT_FDCWD, p, flags, mode);
}
static int fb_open_2(const char *p, int flags)
{
    return fb_open(p, flags, 0);
}
static int fb_openat_2(int dfd, const char *p, int flags)
{
    return fb_openat(dfd, p, flags, 0);
}
static ssize_t fb_read(int fd, void *b, size_t n)
{
    return RAW(SYS_read, fd, b, n, 0);
}
static ssize_t fb_pread(int fd, void *b, size_t n, off_t o)
{
    return RAW(SYS_pread64, fd, b, n, o);
}
static off_t fb_lseek(int fd, off_t o, int w)
{
    return RAW(SYS_lseek, fd, o, w, 0);
}
static int fb_close(int fd)
{
    return (int)RAW(SYS_close, fd, 0, 0, 0);
}
static int fb_dup(int fd)
{
    return (int)RAW(SYS_dup, fd, 0, 0, 0);
}
static int fb_dup3(int a, int b, int f)
{
    return (int)RAW(SYS_dup3, a, b, f, 0);
}
static int fb_dup2(int a, int b)
{
    if (a == b) return (int)RAW(SYS_fcntl, a, F_GETFD, 0, 0) < 0 ? -1 : b;
    return fb_dup3(a, b, 0);
}
static int fb_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return (int)RAW(SYS_fcntl, fd, cmd, arg, 0);
}
static int fb_fstatat(int dfd, const char *p, struct stat *st, int fl)
{
    return (int)RAW(SYS_newfstatat, dfd, p, st, fl);
}
static int fb_stat(const char *p, struct stat *st)
{
    return fb_fstatat(AT_FDCWD, p, st, 0);
}
static int fb_lstat(const char *p, struct stat *st)
{
    return fb_fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW);
}
static int fb_fstat(int fd, struct stat *st)
{
    return fb_fstatat(fd, "", st, AT_EMPTY_PATH);
}
static int fb_faccessat(int dfd, const char *p, int m, int fl)
{
    (void)fl;
    return (int)RAW(SYS_faccessat, dfd, p, m, 0);
}
static int fb_access(const char *p, int m)
{
    return fb_faccessat(AT_FDCWD, p, m, 0);
}
static ssize_t fb_getdents64(int fd, void *b, size_t n)
{
    return RAW(SYS_getdents64, fd, b, n, 0);
}
static ssize_t fb_readlinkat(int dfd, const char *p, char *b, size_t n)
{
    return RAW(SYS_readlinkat, dfd, p, b, n);
}
static ssize_t fb_readlink(const char *p, char *b, size_t n)
{
    return fb_readlinkat(AT_FDCWD, p, b, n);
}
static int fb_chdir(const char *p)
{
    return (int)RAW(SYS_chdir, p, 0, 0, 0);
}
static int fb_fchdir(int fd)
{
    return (int)RAW(SYS_fchdir, fd, 0, 0, 0);
}
static char *fb_getcwd(char *b, size_t n)
{
    if (!b) {
        errno = ENOSYS;
        return NULL;
    }
    return RAW(SYS_getcwd, b, n, 0, 0) < 0 ? NULL : b;
}
static void *fb_mmap(void *a, size_t n, int prot, int fl, int fd, off_t off)
{
    long r = raw6(SYS_mmap, (long)a, (long)n, prot, fl, fd, (long)off);
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return (void *)-1;
    }
    return (void *)r;
}
static int fb_execve(const char *p, char *const a[], char *const e[])
{
    return (int)RAW(SYS_execve, p, a, e, 0);
}
static int fb_statx(int dfd, const char *p, int fl, unsigned m, struct statx *b)
{
    return (int)sys_ret(raw6(SYS_statx, dfd, (long)p, fl, m, (long)b, 0));
}

static long enosys_int(void)
{
    errno = ENOSYS;
    return -1;
}
static void *enosys_ptr(void)
{
    errno = ENOSYS;
    return NULL;
}

static const struct {
    const char *name;
    void *fn;
} fallbacks[] = {
    {"open", (void *)fb_open},
    {"open64", (void *)fb_open},
    {"openat", (void *)fb_openat},
    {"openat64", (void *)fb_openat},
    {"__open_2", (void *)fb_open_2},
    {"__open64_2", (void *)fb_open_2},
    {"__openat_2", (void *)fb_openat_2},
    {"__openat64_2", (void *)fb_openat_2},
    {"read", (void *)fb_read},
    {"pread", (void *)fb_pread},
    {"pread64", (void *)fb_pread},
    {"lseek", (void *)fb_lseek},
    {"lseek64", (void *)fb_lseek},
    {"close", (void *)fb_close},
    {"dup", (void *)fb_dup},
    {"dup2", (void *)fb_dup2},
    {"dup3", (void *)fb_dup3},
    {"fcntl", (void *)fb_fcntl},
    {"fcntl64", (void *)fb_fcntl},
    {"stat", (void *)fb_stat},
    {"stat64", (void *)fb_stat},
    {"lstat", (void *)fb_lstat},
    {"lstat64", (void *)fb_lstat},
    {"fstat", (void *)fb_fstat},
    {"fstat64", (void *)fb_fstat},
    {"fstatat", (void *)fb_fstatat},
    {"fstatat64", (void *)fb_fstatat},
    {"statx", (void *)fb_statx},
    {"access", (void *)fb_access},
    {"faccessat", (void *)fb_faccessat},
    {"getdents64", (void *)fb_getdents64},
    {"readlink", (void *)fb_readlink},
    {"readlinkat", (void *)fb_readlinkat},
    {"chdir", (void *)fb_chdir},
    {"fchdir", (void *)fb_fchdir},
    {"getcwd", (void *)fb_getcwd},
    {"mmap", (void *)fb_mmap},
    {"mmap64", (void *)fb_mmap},
    {"execve", (void *)fb_execve},
};

/* Functions returning a pointer fail with NULL, the others with -1. */
static const char *const ptr_returning[] = {
    "fopen",
    "mkdtemp",
    "fopen64",
    "freopen",
    "freopen64",
    "fdopen",
    "opendir",
    "fdopendir",
    "readdir",
    "readdir64",
    "getcwd",
    "__getcwd_chk",
    "getwd",
    "get_current_dir_name",
    "realpath",
    "__realpath_chk",
    "canonicalize_file_name",
    "popen",
    "setmntent", /* wrap_mountinfo.c */
    "dlopen",
    "dlmopen",
};

static void *fallback_for(const char *name)
{
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++)
        if (!strcmp(fallbacks[i].name, name)) return fallbacks[i].fn;
    for (size_t i = 0; i < sizeof ptr_returning / sizeof ptr_returning[0]; i++)
        if (!strcmp(ptr_returning[i], name)) return (void *)enosys_ptr;
    return (void *)enosys_int;
}

void *hfs_real_resolve(_Atomic(void *) *slot, const char *name)
{
    if (resolving) return fallback_for(name);
    int saved = errno;
    resolving = 1;
    void *p = dlsym(RTLD_NEXT, name);
    resolving = 0;
    if (!p) p = fallback_for(name);
    atomic_store_explicit(slot, p, memory_order_release);
    errno = saved;
    return p;
}

#define RESOLVE(n) (void)HFS_REAL(n);
/* Only the calls a program may first make where dlsym is unsafe — a signal handler (open, read,
 * close) or a vfork child (execve) — are resolved at load. Each dlsym costs ~900 instructions;
 * resolving all 32 common ones took 15% of a `true` under the shim (bench/ANALYSIS.md).
 * The rest are resolved on first use. */
void hfs_real_resolve_common(void)
{
    RESOLVE(open)
    RESOLVE(read)
    RESOLVE(close)
    RESOLVE(execve)
}
