/* Which system calls are trapped, and who answers each. Everything else never leaves the
 * kernel: the filter lets it through without a notification. */
#include "sv.h"

#include <stddef.h>
#include <sys/syscall.h>

typedef struct {
    const char *name;
    int nr;
    sv_handler h;
} entry;

#define E(n, h)                                                                                    \
    {                                                                                              \
#n, SYS_##n, h                                                                             \
    }
static const entry table[] = {
#ifdef SYS_open
    E(open, sv_h_open),           E(creat, sv_h_open),         E(stat, sv_h_stat),
    E(lstat, sv_h_stat),          E(fstat, sv_h_fstat),        E(access, sv_h_access),
    E(readlink, sv_h_readlink),   E(getdents, sv_h_getdents),  E(mkdir, sv_h_mutate),
    E(rmdir, sv_h_mutate),        E(unlink, sv_h_mutate),      E(mknod, sv_h_mutate),
    E(chmod, sv_h_mutate),        E(chown, sv_h_mutate),       E(lchown, sv_h_mutate),
    E(utime, sv_h_mutate),        E(utimes, sv_h_mutate),      E(futimesat, sv_h_mutate),
    E(rename, sv_h_rename),       E(link, sv_h_link),          E(symlink, sv_h_symlink),
#endif
    E(openat, sv_h_open),         E(openat2, sv_h_open),       E(newfstatat, sv_h_stat),
    E(statx, sv_h_stat),          E(faccessat, sv_h_access),   E(faccessat2, sv_h_access),
    E(readlinkat, sv_h_readlink), E(statfs, sv_h_statfs),      E(getdents64, sv_h_getdents),
    E(chdir, sv_h_chdir),         E(fchdir, sv_h_fchdir),      E(getcwd, sv_h_getcwd),
    E(mkdirat, sv_h_mutate),      E(unlinkat, sv_h_mutate),    E(mknodat, sv_h_mutate),
    E(fchmodat, sv_h_mutate),
#ifdef SYS_fchmodat2
    E(fchmodat2, sv_h_mutate),
#endif
    E(fchownat, sv_h_mutate),     E(truncate, sv_h_mutate),    E(utimensat, sv_h_mutate),
    E(fchmod, sv_h_fdmut),        E(fchown, sv_h_fdmut),       E(renameat, sv_h_rename),
    E(renameat2, sv_h_rename),    E(linkat, sv_h_link),        E(symlinkat, sv_h_symlink),
    E(getxattr, sv_h_xattr),      E(lgetxattr, sv_h_xattr),    E(listxattr, sv_h_xattr),
    E(llistxattr, sv_h_xattr),    E(setxattr, sv_h_xattr),     E(lsetxattr, sv_h_xattr),
    E(removexattr, sv_h_xattr),   E(lremovexattr, sv_h_xattr), E(execve, sv_h_exec),
    E(execveat, sv_h_exec),
};
#define N (sizeof table / sizeof table[0])

sv_handler sv_handler_for(int nr)
{
    for (size_t i = 0; i < N; i++)
        if (table[i].nr == nr) return table[i].h;
    return NULL;
}

const char *sv_trapped_name(size_t i)
{
    return i < N ? table[i].name : NULL;
}
