/* Extended attributes and exec on virtual paths. */
#include "sv.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Remote entries have no extended attributes; setting them under the supervisor is not
 * supported (the shim keeps them on overlay copies). */
int sv_h_xattr(sv_call *c)
{
    int nr = (int)c->req->data.nr;
    sv_path p;
    int rc = sv_resolve(c, AT_FDCWD, sv_arg(c, 0), &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    if (p.ns != HFS_NS_VIRTUAL && p.spelled && access(p.path, F_OK) == 0) return sv_continue(c);
    struct stat st;
    if (p.ns != HFS_NS_REAL && (rc = sv_vstat(&p,
                                              nr == SYS_lgetxattr || nr == SYS_llistxattr ||
                                                  nr == SYS_lsetxattr || nr == SYS_lremovexattr,
                                              &st)))
        return sv_return(c, rc);
    if (nr == SYS_getxattr || nr == SYS_lgetxattr) return sv_return(c, -ENODATA);
    if (nr == SYS_listxattr || nr == SYS_llistxattr) return sv_return(c, 0);
    return sv_return(c, p.ns == HFS_NS_NEAR ? -EROFS : -ENOTSUP);
}

/* The kernel cannot exec what exists only virtually, and the program's path argument cannot be
 * changed: one clear line, and EACCES (what exec says of a file it may not run). */
int sv_h_exec(sv_call *c)
{
    int nr = (int)c->req->data.nr, dirfd = AT_FDCWD;
    uint64_t pa = sv_arg(c, 0);
    if (nr == SYS_execveat) {
        dirfd = sv_iarg(c, 0);
        pa = sv_arg(c, 1);
        if (sv_iarg(c, 4) & AT_EMPTY_PATH) return sv_continue(c);
    }
    sv_path p;
    int rc = sv_resolve(c, dirfd, pa, &p);
    if (rc <= 0) return rc < 0 ? sv_return(c, rc) : sv_continue(c);
    if (p.ns == HFS_NS_NEAR && p.spelled) return sv_continue(c);
    hfs_err("cannot execute %s under the supervisor: a program under a virtual path (or named "
            "relative to a virtual directory) must be copied out first",
            p.path);
    return sv_return(c, -EACCES);
}
