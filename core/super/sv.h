/* Internals of the supervisor (see super.h): one notification at a time, answered by a
 * handler per system call. */
#pragma once
#include "vfs.h"

#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/types.h>

/* How a handler answers (sv_call.kind). */
enum {
    SV_CONTINUE = 0, /* the kernel performs the call as the program made it */
    SV_RETURN = 1,   /* the call returns val (>= 0) or fails with -val */
    SV_INJECT = 2,   /* our fd `fd` becomes the program's, as the call's result */
};

typedef struct {
    int nfd;                         /* the listener */
    const struct seccomp_notif *req; /* the call */
    pid_t tid;                       /* the calling thread */
    int kind;                        /* SV_* */
    int64_t val;                     /* SV_RETURN */
    int fd, cloexec;                 /* SV_INJECT: ours, closed after */
} sv_call;

static inline uint64_t sv_arg(const sv_call *c, int i)
{
    return c->req->data.args[i];
}
static inline int sv_iarg(const sv_call *c, int i)
{
    return (int)c->req->data.args[i];
}

/* Answers for handlers: each returns 0 (the handler's own return value). */
static inline int sv_continue(sv_call *c)
{
    c->kind = SV_CONTINUE;
    return 0;
}
static inline int sv_return(sv_call *c, int64_t v)
{
    c->kind = SV_RETURN;
    c->val = v;
    return 0;
}
static inline int sv_inject(sv_call *c, int fd, int cloexec)
{
    c->kind = SV_INJECT;
    c->fd = fd;
    c->cloexec = cloexec;
    return 0;
}

/* ---- the program's memory (mem.c) ---- */
/* A NUL-terminated string at addr: its length, -EFAULT, or -ENAMETOOLONG (n bytes without a
 * NUL). */
int sv_read_str(const sv_call *c, uint64_t addr, char *buf, size_t n);
int sv_read(const sv_call *c, uint64_t addr, void *buf, size_t n);
int sv_write(const sv_call *c, uint64_t addr, const void *buf, size_t n);
/* Is the call still pending? Checked after reading the program's memory and /proc, before
 * acting on what was read: the thread may have died and its id been reused meanwhile. */
int sv_valid(const sv_call *c);

/* ---- the program's /proc (target.c) ---- */
/* readlink of /proc/<tid>/<what> ("cwd", "fd/3"): length, or -errno. */
int sv_proc_link(pid_t tid, const char *what, char *out, size_t n);
/* From /proc/<tid>/status: Tgid, PPid, Umask (any may be NULL). 0 or -errno. */
int sv_proc_status(pid_t tid, pid_t *tgid, pid_t *ppid, mode_t *umask);
/* A copy of the program's descriptor `fd` (sharing its file offset): >= 0, or -errno. */
int sv_proc_getfd(pid_t tid, int fd);
/* The start time of a process (clock ticks since boot): tells a pid from its reuse. 0 if gone. */
unsigned long long sv_proc_start(pid_t pid);

/* ---- the virtual cwd (cwd.c) ----
 * chdir into a virtual directory cannot move the program's kernel cwd (no call changes another
 * process's cwd): the supervisor keeps it per process, with the kernel cwd it stands on, and
 * resolves relative paths from it. A forked child inherits its parent's while it still stands
 * on the same kernel cwd; a chdir the kernel performs ends it. */
/* The virtual cwd of the calling process: its length, or 0 when it has none. */
size_t sv_cwd_get(const sv_call *c, char *out, size_t n);
int sv_cwd_set(const sv_call *c, const char *vpath);
void sv_cwd_clear(const sv_call *c);

/* ---- paths (resolve.c) ---- */
typedef struct {
    char path[HFS_PATH_MAX]; /* normalized absolute path */
    int ns;                  /* HFS_NS_VIRTUAL, HFS_NS_NEAR (an ancestor of a mount), HFS_NS_REAL */
    int trailing_slash;      /* the argument ended in '/': the object must be a directory */
    int final;               /* the last component was "." (1) or ".." (2) */
    int empty;               /* the argument was "" */
    int spelled;             /* the kernel reaches the object as the program spelled it */
} sv_path;
/* Reads the path argument at addr and resolves it against dirfd (AT_FDCWD: the cwd).
 * Returns 0 when the kernel can do the call as the program spelled it (CONTINUE), 1 when it
 * must be answered here: p->ns says what the path is; HFS_NS_REAL then means a real path the
 * kernel would not reach as spelled (relative to a virtual directory), to act on as p->path.
 * Or -errno (EFAULT, ENAMETOOLONG...; -ESRCH: the call is no longer pending, answer nothing). */
int sv_resolve(sv_call *c, int dirfd, uint64_t addr, sv_path *p);
/* The object behind the program's fd when it is one of ours: a mirror directory (1: its
 * virtual path, or missing ancestor's, in out) or a real ancestor of a mount (2: its path);
 * 0 for anything else. */
int sv_fd_virtual(const sv_call *c, int fd, char *out, size_t n);
/* Is the program's fd on a file of the download cache (a remote file's bytes)? */
int sv_fd_in_cache(const sv_call *c, int fd);
/* The virtual stat of the program's fd when it is one the supervisor handed out (a file: by
 * its backing inode, fdmap.c; a directory: its mirror): 1 and *st, 0 when the kernel's fstat
 * is the answer, or -errno. */
int sv_fd_stat(sv_call *c, int fd, struct stat *st);
/* fdmap.c: remember that the file with this backing stat was opened as vpath; look one up. */
void sv_fdmap_put(const struct stat *backing, const char *vpath);
const char *sv_fdmap_get(dev_t dev, ino_t ino);
/* stat of a resolved virtual or ancestor path (trailing '/' rule; nofollow: an overlay symlink
 * itself). 0 or -errno. */
int sv_vstat(const sv_path *p, int nofollow, struct stat *st);
/* The umask of the calling thread, as the kernel will apply it. */
mode_t sv_umask(const sv_call *c);

/* ---- handlers (h_*.c), by system call ---- */
typedef int (*sv_handler)(sv_call *c);
/* The handler for system call nr (native ABI), or NULL. */
sv_handler sv_handler_for(int nr);
/* The name of the i-th trapped system call, NULL past the last (for the filter). */
const char *sv_trapped_name(size_t i);

int sv_h_open(sv_call *c);
int sv_h_stat(sv_call *c);
int sv_h_fstat(sv_call *c);
int sv_h_access(sv_call *c);
int sv_h_readlink(sv_call *c);
int sv_h_statfs(sv_call *c);
int sv_h_getdents(sv_call *c);
int sv_h_chdir(sv_call *c);
int sv_h_fchdir(sv_call *c);
int sv_h_getcwd(sv_call *c);
int sv_h_mutate(sv_call *c);
int sv_h_rename(sv_call *c);
int sv_h_link(sv_call *c);
int sv_h_symlink(sv_call *c);
int sv_h_fdmut(sv_call *c);
int sv_h_xattr(sv_call *c);
int sv_h_exec(sv_call *c);

/* ---- the filter (filter.c), in the child before exec ---- */
/* Installs the filter; returns the listener fd or -errno. *nnp: no_new_privs had to be set
 * (the caller may not install filters otherwise), so set-id bits will not apply. */
int sv_filter_load(int *nnp);

/* ---- the loop (serve.c) ---- */
/* Serves notifications from nfd; whenever wake_fd becomes readable (it is drained), calls
 * wake(arg) and stops when it returns non-zero; also stops when no supervised process is left,
 * or when the program's memory cannot be read (sv_fatal is then set). */
void sv_serve(int nfd, int wake_fd, int (*wake)(void *), void *arg);
/* Set when supervising cannot work here (the reason was printed). */
extern int sv_fatal;
