/* Files whose bytes leave the shim's sight: an fd passed to another process (SCM_RIGHTS), read
 * by the kernel on the program's behalf without a wrapped call (io_uring), or taken from another
 * process (pidfd_getfd, /proc/PID/fd/N). Holes of a partial file would read as zeros there. */
#include "libc.h"
#include "chunkmap.h"
#include "log.h"
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hfs_vobj_handover(hfs_vobj *o, const char *what)
{
    if (hfs_vobj_is_dir(o) || hfs_vobj_complete(o)) return 0;
    int rc = hfs_vobj_materialize(o);
    if (rc < 0)
        hfs_err("%s: %s: not all of its bytes could be fetched: %s", hfs_vobj_path(o), what,
                strerror(-rc));
    return rc;
}

/* 1 when every chunk of the partial file `path` (of `size` bytes) is in its chunk map. */
static int map_full(const char *path, uint64_t size)
{
    char map[4200];
    if (snprintf(map, sizeof map, "%s.map", path) >= (int)sizeof map) return 0;
    int fd = hfs_libc()->open(map, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return 0;
    size_t need = hfs_chunks_for(size), got = 0;
    unsigned char buf[4096];
    int full = 1;
    while (full && got < need) {
        size_t want = need - got < sizeof buf ? need - got : sizeof buf;
        ssize_t r = hfs_libc()->pread(fd, buf, want, (off_t)got);
        if (r <= 0) {
            full = 0;
            break;
        }
        for (ssize_t i = 0; i < r; i++)
            if (!buf[i]) full = 0;
        got += (size_t)r;
    }
    hfs_libc()->close(fd);
    return full;
}

int hfs_vfs_foreign_fd(int fd, const char *what)
{
    char proc[48], path[4096];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t l = hfs_libc()->readlink(proc, path, sizeof path - 1);
    if (l <= 0) return 0;
    path[l] = 0;
    /* hfshim's partial files live in .../partial/<repo folder>/<etag>, next to <etag>.map. */
    if (!strstr(path, "/partial/")) return 0;
    struct stat st;
    if (hfs_libc()->fstat(fd, &st) || !S_ISREG(st.st_mode)) return 0;
    const char *del = " (deleted)";
    size_t dl = strlen(del);
    int deleted = (size_t)l > dl && !strcmp(path + l - dl, del);
    if (deleted) {
        path[l - dl] = 0;
        if (st.st_nlink > 0) return 0; /* published into blobs/: complete */
    } else {
        char map[4200];
        if (snprintf(map, sizeof map, "%s.map", path) >= (int)sizeof map ||
            hfs_libc()->access(map, F_OK))
            return 0; /* not one of ours */
        if (map_full(path, (uint64_t)st.st_size)) return 0;
    }
    hfs_err("%s: %s is a file hfshim has fetched only in part (%s): refused, its missing "
            "parts would read as zeros",
            what, path, deleted ? "discarded" : "chunks missing");
    return -EIO;
}
