#include "util.h"
#include "libc.h"
#include "sys_path.h"

#include <errno.h>
#include <sys/random.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>

int hfs_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return (r < 0 || (size_t)r >= n) ? -ENAMETOOLONG : 0;
}

/* mkdir that accepts an existing directory (not an existing file). */
static int mkdir1(const char *p, mode_t mode)
{
    struct stat st;
    if (hfs_sys_mkdir(p, mode) == 0) return 0;
    int e = errno;
    return e == EEXIST && !hfs_sys_stat(p, &st) && S_ISDIR(st.st_mode) ? 0 : -e;
}

/* mkdir -p of path's first len bytes (of any length: overlay paths can exceed PATH_MAX). */
static int mkdirs_len(const char *path, size_t len, mode_t mode)
{
    while (len > 1 && path[len - 1] == '/') len--;
    char *p = strndup(path, len);
    if (!p) return -ENOMEM;
    int r = mkdir1(p, mode);
    for (char *s = p + 1; r == -ENOENT && *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        int e = mkdir1(p, mode);
        *s = '/';
        if (e) r = e; /* stops the walk */
    }
    if (r == -ENOENT) r = mkdir1(p, mode);
    free(p);
    return r;
}

int hfs_mkdirs(const char *path, mode_t mode)
{
    return mkdirs_len(path, strlen(path), mode);
}

int hfs_mkdirs_parent(const char *path, mode_t mode)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    return mkdirs_len(path, (size_t)(slash - path), mode);
}

unsigned long hfs_random(void)
{
    unsigned long v;
    int saved = errno;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        /* no entropy yet (early boot): unique enough with the clock and a counter */
        static _Atomic unsigned long n;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20) ^ ++n;
    }
    errno = saved;
    return v;
}

int hfs_publish_noreplace(const char *tmp, const char *dst)
{
    if (hfs_sys_rename2(tmp, dst, RENAME_NOREPLACE) == 0) return 0;
    if (errno == EEXIST) {
        hfs_sys_unlink(tmp);
        return 1;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -errno;
    /* a file system without RENAME_NOREPLACE: link, which never replaces either */
    if (hfs_sys_link(tmp, dst) == 0) {
        hfs_sys_unlink(tmp);
        return 0;
    }
    int e = errno;
    if (e == EEXIST) {
        hfs_sys_unlink(tmp);
        return 1;
    }
    return -e;
}

static int write_temp(const char *path, const void *data, size_t len, char *tmp, size_t tn)
{
    if (hfs_fmt(tmp, tn, "%s.tmp.%d.%lx", path, (int)getpid(), hfs_random())) return -ENAMETOOLONG;
    int fd = hfs_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    const char *p = data;
    while (len) {
        ssize_t w = hfs_libc()->write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            hfs_libc()->close(fd);
            hfs_sys_unlink(tmp);
            return -e;
        }
        p += w;
        len -= (size_t)w;
    }
    if (hfs_libc()->close(fd)) {
        int e = errno;
        hfs_sys_unlink(tmp);
        return -e;
    }
    return 0;
}

int hfs_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    int r = write_temp(path, data, len, tmp, sizeof tmp);
    if (r) return r;
    if (hfs_sys_rename2(tmp, path, 0)) {
        int e = errno;
        hfs_sys_unlink(tmp);
        return -e;
    }
    return 0;
}

int hfs_write_once(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    int r = write_temp(path, data, len, tmp, sizeof tmp);
    if (r) return r;
    r = hfs_publish_noreplace(tmp, path);
    if (r < 0) hfs_sys_unlink(tmp);
    return r;
}

ssize_t hfs_read_small(const char *path, char *buf, size_t n)
{
    int fd = hfs_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = hfs_libc()->read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    hfs_libc()->close(fd);
    buf[got] = 0;
    return (ssize_t)got;
}

long hfs_age(const char *path)
{
    struct stat st;
    if (hfs_sys_stat(path, &st)) return -1;
    long age = (long)(time(NULL) - st.st_mtime);
    return age < 0 ? 0 : age;
}

void hfs_folder_id(const char *id, char *out, size_t n)
{
    size_t o = 0;
    for (const char *s = id; *s && o + 3 < n; s++) {
        if (*s == '/') {
            out[o++] = '-';
            out[o++] = '-';
        } else
            out[o++] = *s;
    }
    out[o] = 0;
}
