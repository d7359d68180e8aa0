#include "chunkclaim.h"
#include "libc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A forked child gets a copy of every claim's description, and a description's locks last
 * until its last fd is closed: a child that goes on without exec would keep its parent's chunks
 * "in flight" for everyone. So open claims are registered, and a child closes them all; the
 * registry's lock is held around open() and close() only, and fork waits for it. */
#define MAX_OPEN 256
static int g_open[MAX_OPEN]; /* fd + 1; 0: free */
static pthread_mutex_t g_open_mu = PTHREAD_MUTEX_INITIALIZER;

void hfs_claims_atfork_prepare(void)
{
    pthread_mutex_lock(&g_open_mu);
}

void hfs_claims_atfork_parent(void)
{
    pthread_mutex_unlock(&g_open_mu);
}

void hfs_claims_atfork_child(void)
{
    for (int i = 0; i < MAX_OPEN; i++)
        if (g_open[i]) {
            hfs_libc()->close(g_open[i] - 1);
            g_open[i] = 0;
        }
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_open_mu = fresh;
}

static void forget(int fd)
{
    for (int i = 0; i < MAX_OPEN; i++)
        if (g_open[i] == fd + 1) {
            g_open[i] = 0;
            break;
        }
}

int hfs_claims_open(hfs_claims *cl, const char *path, const hfs_chunkmap *cm)
{
    pthread_mutex_lock(&g_open_mu);
    cl->fd = hfs_libc()->open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
    int e = errno, i = 0;
    while (cl->fd >= 0 && i < MAX_OPEN && g_open[i]) i++;
    if (cl->fd >= 0 && i == MAX_OPEN) {
        /* Unheard of (a claim per fetching thread); unregistered, a child could keep it. */
        hfs_libc()->close(cl->fd);
        cl->fd = -1;
        e = EMFILE;
    }
    if (cl->fd >= 0) g_open[i] = cl->fd + 1;
    pthread_mutex_unlock(&g_open_mu);
    if (cl->fd < 0) return e == ENOENT ? -ESTALE : -e;
    struct stat st;
    if (hfs_libc()->fstat(cl->fd, &st) || st.st_dev != cm->dev || st.st_ino != cm->ino) {
        e = errno;
        hfs_claims_close(cl);
        return e && e != ENOENT ? -e : -ESTALE;
    }
    return 0;
}

static int setlk(int fd, short type, size_t c)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)c, .l_len = 1};
    return hfs_libc()->fcntl(fd, F_OFD_SETLK, (long)&fl) ? -errno : 0;
}

int hfs_claims_take(hfs_claims *cl, size_t c)
{
    HFS_ASSERT(cl->fd >= 0);
    int rc = setlk(cl->fd, F_WRLCK, c);
    if (rc == -EAGAIN || rc == -EACCES) return 0;
    return rc ? rc : 1;
}

void hfs_claims_drop(hfs_claims *cl, size_t c)
{
    (void)setlk(cl->fd, F_UNLCK, c);
}

void hfs_claims_close(hfs_claims *cl)
{
    if (cl->fd < 0) return;
    pthread_mutex_lock(&g_open_mu);
    forget(cl->fd);
    hfs_libc()->close(cl->fd);
    pthread_mutex_unlock(&g_open_mu);
    cl->fd = -1;
}

/* The futex word holding chunk c's byte: the map is page-aligned, and its last word lies
 * within the mapped page even when the map's length is not a multiple of 4. */
static uint32_t *word_of(const hfs_chunkmap *cm, size_t c)
{
    return (uint32_t *)(void *)(cm->map + (c & ~(size_t)3));
}

void hfs_chunks_wake(const hfs_chunkmap *cm, size_t c0, size_t c1)
{
    if (!cm->map || c0 >= cm->nchunks) return;
    if (c1 >= cm->nchunks) c1 = cm->nchunks - 1;
    int saved = errno;
    for (size_t w = c0 & ~(size_t)3; w <= c1; w += 4)
        hfs_libc()->syscall(SYS_futex, (long)word_of(cm, w), FUTEX_WAKE, INT_MAX, 0, 0, 0);
    errno = saved;
}

void hfs_chunk_wait(const hfs_chunkmap *cm, size_t c, int ms)
{
    if (!cm->map || c >= cm->nchunks) return;
    uint32_t *w = word_of(cm, c);
    uint32_t seen = __atomic_load_n(w, __ATOMIC_ACQUIRE);
    if (hfs_chunkmap_has(cm, c)) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int saved = errno;
    /* Returns at once if the word changed since `seen` (a chunk of it landed). */
    hfs_libc()->syscall(SYS_futex, (long)w, FUTEX_WAIT, seen, (long)&ts, 0, 0);
    errno = saved;
}
