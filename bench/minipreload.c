/* bench/minipreload.c: the smallest useful interposer, for row 7's floor: the five calls of the
 * ops loop, each forwarding to libc through a pointer found once with dlsym. Built by run.py. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static int (*p_open)(const char *, int, ...);
static ssize_t (*p_read)(int, void *, size_t);
static int (*p_close)(int);
static int (*p_fstat)(int, struct stat *);
static int (*p_stat)(const char *, struct stat *);

__attribute__((constructor)) static void init(void)
{
    p_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    p_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    p_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    p_fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
    p_stat = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "stat");
}

int open(const char *p, int f, ...)
{
    mode_t m = 0;
    if (f & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, f);
        m = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return p_open(p, f, m);
}
ssize_t read(int fd, void *b, size_t n)
{
    return p_read(fd, b, n);
}
int close(int fd)
{
    return p_close(fd);
}
int fstat(int fd, struct stat *st)
{
    return p_fstat(fd, st);
}
int stat(const char *p, struct stat *st)
{
    return p_stat(p, st);
}
