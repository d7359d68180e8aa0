#include "chunkmap.h"
#include "libc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int hfs_chunkmap_open(const char *path, uint64_t size, hfs_chunkmap *cm)
{
    memset(cm, 0, sizeof *cm);
    size_t n = hfs_chunks_for(size);
    if (n == 0) return 0;
    int fd = hfs_libc()->open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    struct stat st;
    if (hfs_libc()->fstat(fd, &st) ||
        ((size_t)st.st_size != n && hfs_libc()->ftruncate(fd, (off_t)n))) {
        int e = errno;
        hfs_libc()->close(fd);
        return -e;
    }
    void *m = hfs_libc()->mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    hfs_libc()->close(fd);
    if (m == MAP_FAILED) return -e;
    cm->map = m;
    cm->nchunks = n;
    cm->dev = st.st_dev;
    cm->ino = st.st_ino;
    return 0;
}

void hfs_chunkmap_close(hfs_chunkmap *cm)
{
    if (cm->map) munmap(cm->map, cm->nchunks);
    cm->map = NULL;
    cm->nchunks = 0;
}

size_t hfs_chunkmap_missing(const hfs_chunkmap *cm)
{
    size_t m = 0;
    for (size_t i = 0; i < cm->nchunks; i++) m += !hfs_chunkmap_has(cm, i);
    return m;
}
