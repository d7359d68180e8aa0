/* chdir, fchdir, getcwd. chdir into a virtual directory becomes the process's virtual cwd
 * (cwd.c): no call can move another process's kernel cwd. fchdir to a directory fd of ours is
 * the kernel's (the cwd then is a mirror directory, which leads back to its virtual path). */
#include "sv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sv_h_chdir(sv_call *c)
{
    sv_path p;
    int rc = sv_resolve(c, AT_FDCWD, sv_arg(c, 0), &p);
    if (rc < 0) return sv_return(c, rc);
    if (rc == 0 || (p.ns == HFS_NS_NEAR && p.spelled && access(p.path, F_OK) == 0)) {
        char v[8];
        if (!sv_cwd_get(c, v, sizeof v)) return sv_continue(c);
        /* Leaving a virtual cwd for a real directory: the kernel's chdir must succeed, or the
         * process would stay where it was (virtually) while the record says otherwise. */
        struct stat st;
        char arg[HFS_PATH_MAX];
        if (rc == 0 && sv_read_str(c, sv_arg(c, 0), arg, sizeof arg) >= 0 && arg[0] == '/') {
            if (stat(arg, &st)) return sv_return(c, -errno);
            if (!S_ISDIR(st.st_mode)) return sv_return(c, -ENOTDIR);
        }
        sv_cwd_clear(c);
        return sv_continue(c);
    }
    struct stat st;
    if (p.ns == HFS_NS_REAL)
        rc = stat(p.path, &st) ? -errno : 0;
    else
        rc = sv_vstat(&p, 0, &st);
    if (rc == 0 && !S_ISDIR(st.st_mode)) rc = -ENOTDIR;
    if (rc == 0 && sv_cwd_set(c, p.path)) rc = -ENOMEM;
    return sv_return(c, rc);
}

int sv_h_fchdir(sv_call *c)
{
    char what[32], real[8];
    snprintf(what, sizeof what, "fd/%d", sv_iarg(c, 0));
    if (sv_proc_link(c->tid, what, real, sizeof real) == -ENOENT) return sv_return(c, -EBADF);
    sv_cwd_clear(c);
    return sv_continue(c);
}

int sv_h_getcwd(sv_call *c)
{
    char v[HFS_PATH_MAX];
    size_t l = sv_cwd_get(c, v, sizeof v);
    if (!l) {
        char real[HFS_PATH_MAX];
        if (sv_proc_link(c->tid, "cwd", real, sizeof real) <= 0 ||
            hfs_vfs_unmirror(real, v, sizeof v) != 1)
            return sv_continue(c);
        l = strlen(v);
    }
    if (sv_arg(c, 1) < l + 1) return sv_return(c, -ERANGE);
    int rc = sv_write(c, sv_arg(c, 0), v, l + 1);
    return sv_return(c, rc ? rc : (int64_t)(l + 1));
}
