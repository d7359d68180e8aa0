/* Starting programs. Before any exec or spawn:
 *  1. every virtual fd the child inherits (no FD_CLOEXEC) is made complete: the child reads it
 *     with no shim state (fd table) behind it;
 *  2. the child's environment keeps the shim (LD_PRELOAD) and the pinned snapshot
 *     (HF_SHIM_PINS) — built on the stack, no malloc (vfork children, posix_spawn);
 *  3. a program that is itself a virtual path is opened through the core, made complete and
 *     executed as /proc/self/fd/N. The kernel then checks the backing file's own mode bits.
 *     A "#!" script keeps that fd open across exec (its interpreter opens the path); an
 *     interpreter path inside the virtual tree is not supported.
 * execvp/execlp/posix_spawnp search PATH in libc: virtual PATH entries are not searched.
 * system() and popen() run /bin/sh with `environ` as is (the shim stays if LD_PRELOAD is
 * there); only step 1 applies to them. */
#include "exec_env.h"
#include "real.h"
#include "vpath.h"

#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_EXECVE, K_EXECVPE, K_FEXECVE, K_EXECVEAT, K_SPAWN, K_SPAWNP };

typedef struct {
    int kind;
    const char *path;
    int fd; /* fexecve: the fd; execveat: the dirfd */
    int atflags;
    char *const *argv;
    char *const *envp;
    pid_t *pid;
    const posix_spawn_file_actions_t *fa;
    const posix_spawnattr_t *attr;
} exec_req;

static int call_real(const exec_req *q, const char *path, char *const *envp)
{
    switch (q->kind) {
    case K_EXECVE:
        return HFS_REAL(execve)(path, q->argv, envp);
    case K_EXECVPE:
        return HFS_REAL(execvpe)(path, q->argv, envp);
    case K_FEXECVE:
        return HFS_REAL(fexecve)(q->fd, q->argv, envp);
    case K_EXECVEAT:
        return HFS_REAL(execveat)(q->fd, path, q->argv, envp, q->atflags);
    case K_SPAWN:
        return HFS_REAL(posix_spawn)(q->pid, path, q->fa, q->attr, q->argv, envp);
    default:
        return HFS_REAL(posix_spawnp)(q->pid, path, q->fa, q->attr, q->argv, envp);
    }
}

/* Open a virtual program: a complete backing file behind a real fd. -errno on failure. */
static int open_program(const char *vpath)
{
    hfs_vobj *o = NULL;
    int fd = HFS_CORE(hfs_vfs_open(vpath, O_RDONLY | O_CLOEXEC, &o));
    if (fd < 0) return fd;
    int rc = HFS_CORE(hfs_vobj_is_dir(o)) ? -EACCES : HFS_CORE(hfs_vobj_materialize(o));
    char magic[2];
    if (rc == 0 && HFS_REAL(pread)(fd, magic, 2, 0) == 2 && magic[0] == '#' && magic[1] == '!')
        HFS_REAL(fcntl)(fd, F_SETFD, 0); /* the interpreter opens /proc/self/fd/N after exec */
    HFS_CORE_VOID(hfs_vobj_unref(o));
    if (rc < 0) {
        HFS_REAL(close)(fd);
        return rc;
    }
    return fd;
}

static int fail(const exec_req *q, int neg)
{
    if (q->kind >= K_SPAWN) return -neg;
    return hfs_fail(neg);
}

static int run(const exec_req *q)
{
    if (HFS_IN_CORE()) return call_real(q, q->path, q->envp);
    (void)hfs_ready();
    int saved = errno;
    int rc = hfs_fd_materialize_inheritable();
    if (rc < 0) return fail(q, rc);

    const char *path = q->path;
    int pfd = -1;
    char proc[48];
    hfs_rpath rp;
    int empty = !path || !path[0];
    if (q->kind == K_FEXECVE || (q->kind == K_EXECVEAT && empty && (q->atflags & AT_EMPTY_PATH))) {
        hfs_fdrec *r = hfs_fd_maybe(q->fd) ? hfs_fd_get(q->fd) : NULL;
        rc = r ? hfs_fd_materialize(r) : 0;
        hfs_fd_put(r);
        if (rc < 0) return fail(q, rc);
    } else if (!empty && (q->kind == K_EXECVE || q->kind == K_SPAWN || q->kind == K_EXECVEAT ||
                          strchr(path, '/'))) {
        int dirfd = q->kind == K_EXECVEAT ? q->fd : AT_FDCWD;
        if (hfs_path_maybe_at(dirfd, path)) {
            int v = hfs_resolve_at(dirfd, path, &rp);
            if (v < 0) return fail(q, v);
            if (v == 0) {
                path = rp.real;
            } else {
                pfd = open_program(rp.path);
                if (pfd < 0) return fail(q, pfd);
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
                path = proc;
            }
        }
    }

    hfs_envplan plan;
    hfs_exec_env_plan(q->envp, &plan);
    char *envp[plan.n_out];
    char ldbuf[plan.ld_len + 1], pinsbuf[plan.pins_len + 1];
    hfs_exec_env_build(q->envp, &plan, envp, ldbuf, pinsbuf);

    errno = saved;
    rc = call_real(q, path, envp);
    if (pfd >= 0) {
        int e = errno;
        HFS_REAL(close)(pfd);
        errno = e;
    }
    return rc;
}

HFS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    exec_req q = {.kind = K_EXECVE, .path = path, .argv = argv, .envp = envp};
    return run(&q);
}

HFS_EXPORT int execv(const char *path, char *const argv[])
{
    exec_req q = {.kind = K_EXECVE, .path = path, .argv = argv, .envp = environ};
    return run(&q);
}

HFS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    exec_req q = {.kind = K_EXECVPE, .path = file, .argv = argv, .envp = envp};
    return run(&q);
}

HFS_EXPORT int execvp(const char *file, char *const argv[])
{
    exec_req q = {.kind = K_EXECVPE, .path = file, .argv = argv, .envp = environ};
    return run(&q);
}

HFS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    exec_req q = {.kind = K_FEXECVE, .fd = fd, .argv = argv, .envp = envp};
    return run(&q);
}

HFS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                        int flags)
{
    exec_req q = {.kind = K_EXECVEAT,
                  .path = path,
                  .fd = dirfd,
                  .atflags = flags,
                  .argv = argv,
                  .envp = envp};
    return run(&q);
}

/* execl*: the variadic argument list, collected on the stack. */
#define COLLECT(first, last_named, argv, envp_out, with_env)                                       \
    size_t n_ = 1;                                                                                 \
    {                                                                                              \
        va_list ap_;                                                                               \
        va_start(ap_, last_named);                                                                 \
        while (va_arg(ap_, char *)) n_++;                                                          \
        va_end(ap_);                                                                               \
    }                                                                                              \
    char *argv[n_ + 1];                                                                            \
    char *const *envp_out = environ;                                                               \
    {                                                                                              \
        va_list ap_;                                                                               \
        va_start(ap_, last_named);                                                                 \
        argv[0] = (char *)(first);                                                                 \
        for (size_t i_ = 1; i_ <= n_; i_++) argv[i_] = i_ < n_ ? va_arg(ap_, char *) : NULL;       \
        if (with_env) {                                                                            \
            (void)va_arg(ap_, char *);                                                             \
            envp_out = va_arg(ap_, char *const *);                                                 \
        }                                                                                          \
        va_end(ap_);                                                                               \
    }

HFS_EXPORT int execl(const char *path, const char *arg, ...)
{
    COLLECT(arg, arg, argv, envp, 0);
    (void)envp;
    return execv(path, argv);
}

HFS_EXPORT int execlp(const char *file, const char *arg, ...)
{
    COLLECT(arg, arg, argv, envp, 0);
    (void)envp;
    return execvp(file, argv);
}

HFS_EXPORT int execle(const char *path, const char *arg, ...)
{
    COLLECT(arg, arg, argv, envp, 1);
    return execve(path, argv, envp);
}

HFS_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    exec_req q = {.kind = K_SPAWN,
                  .path = path,
                  .argv = argv,
                  .envp = envp,
                  .pid = pid,
                  .fa = fa,
                  .attr = attr};
    return run(&q);
}

HFS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    exec_req q = {.kind = K_SPAWNP,
                  .path = file,
                  .argv = argv,
                  .envp = envp,
                  .pid = pid,
                  .fa = fa,
                  .attr = attr};
    return run(&q);
}

/* The child opens the file itself (inside libc): give it the complete backing file instead. */
HFS_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int fd,
                                                const char *path, int oflag, mode_t mode)
{
    if (HFS_LIKELY(!hfs_path_maybe(path)))
        return HFS_REAL(posix_spawn_file_actions_addopen)(fa, fd, path, oflag, mode);
    int saved = errno;
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, path, &rp);
    if (v < 0) return -v;
    if (v == 0) return HFS_REAL(posix_spawn_file_actions_addopen)(fa, fd, rp.real, oflag, mode);
    hfs_vobj *o = NULL;
    int vfd = HFS_CORE(hfs_vfs_open(rp.path, oflag | O_CLOEXEC, &o));
    if (vfd < 0) return -vfd;
    int rc = HFS_CORE(hfs_vobj_materialize(o));
    char proc[48], backing[PATH_MAX];
    ssize_t bl = -1;
    if (rc == 0) {
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", vfd);
        bl = HFS_REAL(readlink)(proc, backing, sizeof backing - 1);
        if (bl < 0 || (size_t)bl >= sizeof backing - 1) rc = -EIO;
    }
    HFS_CORE_VOID(hfs_vobj_unref(o));
    HFS_REAL(close)(vfd);
    if (rc < 0) return -rc;
    backing[bl] = 0;
    errno = saved;
    return HFS_REAL(posix_spawn_file_actions_addopen)(fa, fd, backing, oflag & ~(O_CREAT | O_EXCL),
                                                      mode);
}

HFS_EXPORT int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa,
                                                    const char *path)
{
    if (HFS_LIKELY(!hfs_path_maybe(path)))
        return HFS_REAL(posix_spawn_file_actions_addchdir_np)(fa, path);
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, path, &rp);
    if (v < 0) return -v;
    if (v == 0) return HFS_REAL(posix_spawn_file_actions_addchdir_np)(fa, rp.real);
    char real[PATH_MAX];
    int rc = HFS_CORE(hfs_vfs_mirror_dir(rp.path, real, sizeof real));
    if (rc < 0) return -rc;
    return HFS_REAL(posix_spawn_file_actions_addchdir_np)(fa, real);
}

HFS_EXPORT int system(const char *cmd)
{
    if (!HFS_IN_CORE() && hfs_fd_hwm() > 0) {
        int rc = hfs_fd_materialize_inheritable();
        if (rc < 0) return hfs_fail(rc);
    }
    return HFS_REAL(system)(cmd);
}

HFS_EXPORT FILE *popen(const char *cmd, const char *type)
{
    if (!HFS_IN_CORE() && hfs_fd_hwm() > 0) {
        int rc = hfs_fd_materialize_inheritable();
        if (rc < 0) {
            errno = -rc;
            return NULL;
        }
    }
    return HFS_REAL(popen)(cmd, type);
}
