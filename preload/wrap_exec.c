/* Starting programs. Before any exec or spawn:
 *  1. every virtual fd the child inherits (no FD_CLOEXEC) is made complete: the child reads it
 *     with no shim state (fd table) behind it;
 *  2. the child's environment keeps the shim (LD_PRELOAD) and the pinned snapshot
 *     (HF_SHIM_PINS) — built on the stack, no malloc (vfork children, posix_spawn);
 *  3. a program that is itself a virtual path is opened through the core and made complete,
 *     then started from its backing file (see open_program: scripts through their interpreter,
 *     ELF directly or through its ld.so). An interpreter inside the virtual tree is not
 *     supported.
 * execvp/execlp/posix_spawnp search PATH in libc: virtual PATH entries are not searched.
 * system() and popen() run /bin/sh with `environ` as is (the shim stays if LD_PRELOAD is
 * there); only step 1 applies to them. */
#include "exec_env.h"
#include "real.h"
#include "vpath.h"
#include "write.h"

#include <elf.h>
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

/* How a virtual program is started. Its backing file is complete, but is a cache file whose mode
 * bits (usually 0644) need not allow exec, so:
 *  - "#!" scripts: the interpreter is run directly with the virtual path as its script argument
 *    (the interpreter runs under the shim and reads the script through it), as the kernel
 *    would do: [interp, optional-arg, vpath, argv[1]...];
 *  - ELF with an executable backing file: /proc/self/fd/N;
 *  - ELF otherwise: its PT_INTERP (ld.so) runs it: [ld.so, --argv0 argv[0], /proc/self/fd/N,
 *    argv[1]...] (--argv0: glibc's ld.so only); N stays open in the program;
 *  - a static ELF with a non-executable backing file cannot be started: EACCES. */
enum { P_DIRECT, P_SCRIPT, P_LDSO };
typedef struct {
    int mode;
    int fd;
    char proc[48];
    char interp[HFS_PATH_MAX];
    char arg[HFS_PATH_MAX]; /* the "#!" optional argument, "" if none */
    int glibc_ldso;
} vprog;

/* PT_INTERP of a 64-bit ELF file, or "" (static, or not ELF). */
static void elf_interp(int fd, char *out, size_t n)
{
    Elf64_Ehdr eh;
    out[0] = 0;
    if (HFS_REAL(pread)(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        return;
    for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
        Elf64_Phdr ph;
        if (HFS_REAL(pread)(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) !=
            (ssize_t)sizeof ph)
            return;
        if (ph.p_type != PT_INTERP) continue;
        if (ph.p_filesz == 0 || ph.p_filesz >= n) return;
        if (HFS_REAL(pread)(fd, out, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
            out[0] = 0;
        else
            out[ph.p_filesz] = 0;
        return;
    }
}

/* Parse "#!interp [arg]" from the first line (the kernel's rules: one optional argument,
 * surrounding blanks stripped). 0 or -ENOEXEC. */
static int shebang(const char *line, size_t len, vprog *p)
{
    size_t i = 2, e;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    for (e = i; e < len && line[e] != ' ' && line[e] != '\t' && line[e] != '\n';) e++;
    if (e == i || e - i >= sizeof p->interp) return -ENOEXEC;
    memcpy(p->interp, line + i, e - i);
    p->interp[e - i] = 0;
    for (i = e; i < len && (line[i] == ' ' || line[i] == '\t');) i++;
    for (e = i; e < len && line[e] != '\n';) e++;
    while (e > i && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r')) e--;
    memcpy(p->arg, line + i, e - i);
    p->arg[e - i] = 0;
    return 0;
}

/* Open and complete a virtual program and decide how to start it. 0 or -errno. */
static int open_program(const char *vpath, vprog *p)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    hfs_vobj *o = NULL;
    int fd = HFS_CORE(hfs_vfs_open(vpath, O_RDONLY | O_CLOEXEC, &o));
    if (fd < 0) return fd;
    int rc = HFS_CORE(hfs_vobj_is_dir(o)) ? -EACCES : HFS_CORE(hfs_vobj_materialize(o));
    HFS_CORE_VOID(hfs_vobj_unref(o));
    char head[HFS_PATH_MAX];
    ssize_t n = rc ? -1 : HFS_REAL(pread)(fd, head, sizeof head, 0);
    struct stat st;
    if (rc == 0 && n >= 2 && head[0] == '#' && head[1] == '!') {
        p->mode = P_SCRIPT;
        rc = shebang(head, (size_t)n, p);
        HFS_REAL(close)(fd);
        return rc;
    }
    if (rc == 0 && HFS_REAL(fstat)(fd, &st) == 0 && !(st.st_mode & 0111)) {
        elf_interp(fd, p->interp, sizeof p->interp);
        if (!p->interp[0]) {
            rc = -EACCES;
        } else {
            p->mode = P_LDSO;
            HFS_REAL(fcntl)(fd, F_SETFD, 0); /* ld.so opens /proc/self/fd/N after exec */
            const char *b = strrchr(p->interp, '/');
            p->glibc_ldso = !strncmp(b ? b + 1 : p->interp, "ld-linux", 8);
        }
    }
    if (rc < 0) {
        HFS_REAL(close)(fd);
        return rc;
    }
    p->fd = fd;
    snprintf(p->proc, sizeof p->proc, "/proc/self/fd/%d", fd);
    return 0;
}

/* The argv a virtual program is started with (out: argc + 4 slots). */
static void vprog_argv(const vprog *p, const char *vpath, char *const argv[], char **out)
{
    size_t k = 0, i = 1;
    const char *argv0 = argv && argv[0] ? argv[0] : vpath;
    if (p->mode == P_SCRIPT) {
        out[k++] = (char *)p->interp;
        if (p->arg[0]) out[k++] = (char *)p->arg;
        out[k++] = (char *)vpath;
    } else if (p->mode == P_LDSO) {
        out[k++] = (char *)p->interp;
        if (p->glibc_ldso) {
            out[k++] = "--argv0";
            out[k++] = (char *)argv0;
        }
        out[k++] = (char *)p->proc;
    } else {
        i = 0;
    }
    for (; argv && argv[0] && argv[i]; i++) out[k++] = argv[i];
    out[k] = NULL;
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

    exec_req r = *q;
    r.path = hfs_launder(q->path); /* NULL must reach libc (EFAULT), not crash here */
    q = &r;
    vprog vp;
    vp.fd = -1;
    int virt = 0;
    hfs_rpath rp;
    int bad = q->path && hfs_bad_ptr(q->path); /* for the kernel to refuse (EFAULT) */
    int empty = !q->path || (!bad && !q->path[0]);
    if (q->kind == K_FEXECVE || (q->kind == K_EXECVEAT && empty && (q->atflags & AT_EMPTY_PATH))) {
        hfs_fdrec *fr = hfs_fd_maybe(q->fd) ? hfs_fd_get(q->fd) : NULL;
        rc = fr ? hfs_fd_materialize(fr) : 0;
        hfs_fd_put(fr);
        if (rc < 0) return fail(q, rc);
    } else if (!empty && !bad &&
               (q->kind == K_EXECVE || q->kind == K_SPAWN || q->kind == K_EXECVEAT ||
                strchr(q->path, '/'))) {
        int dirfd = q->kind == K_EXECVEAT ? q->fd : AT_FDCWD;
        if (hfs_path_maybe_at(dirfd, q->path)) {
            int v = hfs_resolve_at(dirfd, q->path, &rp);
            if (v < 0) return fail(q, v);
            if (v == 0) {
                r.path = rp.real;
            } else {
                rc = open_program(rp.path, &vp);
                if (rc < 0) return fail(q, rc);
                virt = 1;
                r.path = vp.mode == P_DIRECT ? vp.proc : vp.interp;
            }
        }
    }

    size_t argc = 0;
    while (r.argv && r.argv[argc]) argc++;
    char *argv2[virt ? argc + 5 : 1];
    if (virt) {
        vprog_argv(&vp, rp.path, r.argv, argv2);
        r.argv = argv2;
    }

    hfs_envplan plan;
    hfs_exec_env_plan(q->envp, &plan);
    char *envp[plan.n_out];
    char ldbuf[plan.ld_len + 1], pinsbuf[plan.pins_len + 1];
    hfs_exec_env_build(q->envp, &plan, envp, ldbuf, pinsbuf);

    errno = saved;
    rc = call_real(&r, r.path, envp);
    if (vp.fd >= 0) {
        int e = errno;
        HFS_REAL(close)(vp.fd);
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

static int spawn(int kind, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    exec_req q = {
        .kind = kind, .path = path, .argv = argv, .envp = envp, .pid = pid, .fa = fa, .attr = attr};
    return run(&q);
}

HFS_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(K_SPAWN, pid, path, fa, attr, argv, envp);
}

HFS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(K_SPAWNP, pid, file, fa, attr, argv, envp);
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
    int vfd;
    if (HFS_WRITE_INTENT(oflag)) { /* the overlay file is made now; the child opens it */
        mode_t m = (oflag & O_CREAT) ? (mode & 07777 & ~hfs_umask_get()) : 0;
        vfd = HFS_CORE(hfs_vfs_open2(rp.path, oflag | O_CLOEXEC, m, &o));
    } else {
        vfd = HFS_CORE(hfs_vfs_open(rp.path, oflag | O_CLOEXEC, &o));
    }
    if (vfd < 0) return -vfd;
    int rc = HFS_CORE(hfs_vobj_materialize(o));
    char proc[48], backing[HFS_PATH_MAX];
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

/* The child will dup2 fd (clearing FD_CLOEXEC) and read it without the shim: complete it now. */
HFS_EXPORT int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int fd, int newfd)
{
    if (HFS_UNLIKELY(hfs_fd_maybe(fd))) {
        hfs_fdrec *r = hfs_fd_get(fd);
        int saved = errno, rc = r ? hfs_fd_materialize(r) : 0;
        hfs_fd_put(r);
        errno = saved;
        if (rc < 0) return -rc;
    }
    return HFS_REAL(posix_spawn_file_actions_adddup2)(fa, fd, newfd);
}

HFS_EXPORT int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa,
                                                    const char *path)
{
    if (HFS_LIKELY(!hfs_path_maybe(path)))
        return HFS_REAL(posix_spawn_file_actions_addchdir_np)(fa, path);
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, path, &rp);
    if (v < 0) return -v;
    /* an ancestor of a mount that exists only virtually: the child starts in its mirror */
    if (v == 0 && !hfs_near_missing(&rp))
        return HFS_REAL(posix_spawn_file_actions_addchdir_np)(fa, rp.real);
    char real[HFS_PATH_MAX];
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
