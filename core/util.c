#include "util.h"

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
    if (mkdir(p, mode) == 0) return 0;
    int e = errno;
    return e == EEXIST && !stat(p, &st) && S_ISDIR(st.st_mode) ? 0 : -e;
}

int hfs_mkdirs(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    if (hfs_fmt(p, sizeof p, "%s", path)) return -ENAMETOOLONG;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/') p[--len] = 0;
    int r = mkdir1(p, mode);
    if (r != -ENOENT) return r;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        r = mkdir1(p, mode);
        if (r) return r;
        *s = '/';
    }
    return mkdir1(p, mode);
}

int hfs_mkdirs_parent(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    if (hfs_fmt(p, sizeof p, "%s", path)) return -ENAMETOOLONG;
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) return 0;
    *slash = 0;
    return hfs_mkdirs(p, mode);
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
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) return 0;
    if (errno == EEXIST) {
        unlink(tmp);
        return 1;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -errno;
    /* a file system without RENAME_NOREPLACE: link, which never replaces either */
    if (link(tmp, dst) == 0) {
        unlink(tmp);
        return 0;
    }
    int e = errno;
    if (e == EEXIST) {
        unlink(tmp);
        return 1;
    }
    return -e;
}

static int write_temp(const char *path, const void *data, size_t len, char *tmp, size_t tn)
{
    if (hfs_fmt(tmp, tn, "%s.tmp.%d.%lx", path, (int)getpid(), hfs_random())) return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd)) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int hfs_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    int r = write_temp(path, data, len, tmp, sizeof tmp);
    if (r) return r;
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
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
    if (r < 0) unlink(tmp);
    return r;
}

ssize_t hfs_read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    return (ssize_t)got;
}

long hfs_age(const char *path)
{
    struct stat st;
    if (stat(path, &st)) return -1;
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
