/* AF_UNIX sockets at virtual paths: bind creates the socket inside the overlay (where the core
 * says a new entry goes) and connect reaches it there, so it is listed, stat'ed (S_IFSOCK),
 * chmod'ed and unlinked like any overlay entry. sun_path holds 108 bytes and overlay paths are
 * long: the call names the socket through "/proc/self/fd/N/<name>" of its directory when its
 * own path does not fit. */
#include "real.h"
#include "vpath.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* The path of an AF_UNIX address with a name on the file system, NUL-terminated in buf; NULL
 * for other families, abstract and unnamed sockets. */
static const char *unix_path(const struct sockaddr *addr, socklen_t len, char *buf, size_t n)
{
    if (!addr || hfs_bad_ptr((const char *)addr) || len <= offsetof(struct sockaddr_un, sun_path) ||
        addr->sa_family != AF_UNIX)
        return NULL;
    const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)addr;
    size_t l = len - offsetof(struct sockaddr_un, sun_path);
    if (l > sizeof un->sun_path) l = sizeof un->sun_path;
    if (!l || !un->sun_path[0]) return NULL; /* abstract or unnamed */
    size_t k = strnlen(un->sun_path, l);
    if (k >= n) return NULL;
    memcpy(buf, un->sun_path, k);
    buf[k] = 0;
    return buf;
}

/* Call `fn` (bind or connect) on fd with the real file `local`. */
static int call_at(int (*fn)(int, const struct sockaddr *, socklen_t), int fd, const char *local)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(local) < sizeof un.sun_path) {
        strcpy(un.sun_path, local);
        return fn(fd, (struct sockaddr *)&un, sizeof un);
    }
    const char *slash = strrchr(local, '/');
    char dir[HFS_PATH_MAX];
    size_t dl = (size_t)(slash - local);
    if (!slash || dl >= sizeof dir) return hfs_fail(-ENAMETOOLONG);
    memcpy(dir, local, dl);
    dir[dl] = 0;
    int dfd = HFS_REAL(open)(dl ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int rc;
    if (snprintf(un.sun_path, sizeof un.sun_path, "/proc/self/fd/%d/%s", dfd, slash + 1) >=
        (int)sizeof un.sun_path) {
        errno = ENAMETOOLONG;
        rc = -1;
    } else {
        rc = fn(fd, (struct sockaddr *)&un, sizeof un);
    }
    int e = errno;
    HFS_REAL(close)(dfd);
    errno = e;
    return rc;
}

/* -errno, or 0 with the overlay path in local. bind: the name must be free (EADDRINUSE), the
 * core makes its parent exist in the overlay; connect: it must be a socket (ECONNREFUSED for
 * anything else, as the kernel says), never copied up. */
static int socket_local(const char *vpath, int creating, char *local, size_t n)
{
    struct stat st;
    int rc = HFS_CORE(hfs_vfs_lstat(vpath, &st));
    if (creating) {
        if (rc == 0) return -EADDRINUSE;
        if (rc != -ENOENT) return rc;
    } else {
        if (rc < 0) return rc;
        if (!S_ISSOCK(st.st_mode)) return -ECONNREFUSED;
    }
    return HFS_CORE(hfs_vfs_local_path(vpath, creating, local, n));
}

#define SOCKET_CALL(name, creating)                                                                \
    HFS_EXPORT int name(int fd, const struct sockaddr *addr, socklen_t len)                        \
    {                                                                                              \
        char p_[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];                                  \
        const char *p = HFS_IN_CORE() ? NULL : unix_path(addr, len, p_, sizeof p_);                \
        if (HFS_LIKELY(!p) || !hfs_path_maybe(p)) return HFS_REAL(name)(fd, addr, len);            \
        int saved = errno;                                                                         \
        hfs_rpath rp;                                                                              \
        int v = hfs_resolve_at(AT_FDCWD, p, &rp);                                                  \
        if (v < 0) return hfs_fail(v);                                                             \
        if (v == 0) return HFS_REAL(name)(fd, addr, len); /* the kernel resolves it as given */    \
        char local[HFS_PATH_MAX];                                                                  \
        int rc = socket_local(rp.path, (creating), local, sizeof local);                           \
        if (rc < 0) return hfs_fail(rc);                                                           \
        errno = saved;                                                                             \
        return call_at(HFS_REAL(name), fd, local);                                                 \
    }

SOCKET_CALL(bind, 1)
SOCKET_CALL(connect, 0)
