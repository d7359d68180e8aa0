/* "hfshim:" diagnostics on stderr. Formatting happens on the stack and the line goes out in one
 * write(2), so lines from threads and processes do not interleave and no stdio state is used. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include "hash.h"

static int g_level = -1;

int hfs_log_level(void)
{
    int l = __atomic_load_n(&g_level, __ATOMIC_RELAXED);
    if (l >= 0) return l;
    const char *e = getenv("HF_SHIM_LOG");
    l = HFS_LOG_WARN;
    if (e && *e) {
        if (!strcmp(e, "error"))
            l = HFS_LOG_ERROR;
        else if (!strcmp(e, "warn") || !strcmp(e, "warning"))
            l = HFS_LOG_WARN;
        else if (!strcmp(e, "info"))
            l = HFS_LOG_INFO;
        else if (!strcmp(e, "debug"))
            l = HFS_LOG_DEBUG;
    }
    __atomic_store_n(&g_level, l, __ATOMIC_RELAXED);
    return l;
}

/* Errors and warnings are printed once per distinct text: a program that stats the same
 * missing path a hundred times gets one line. */
#define SEEN_SLOTS 512
static uint64_t g_seen[SEEN_SLOTS];
static pthread_mutex_t g_seen_lock = PTHREAD_MUTEX_INITIALIZER;

static int already_seen(const char *msg, size_t len)
{
    uint64_t h = XXH3_64bits(msg, len) | 1;
    int seen = 0;
    pthread_mutex_lock(&g_seen_lock);
    for (size_t i = 0; i < SEEN_SLOTS; i++) {
        size_t k = (h + i) % SEEN_SLOTS;
        if (g_seen[k] == h) {
            seen = 1;
            break;
        }
        if (g_seen[k] == 0) {
            g_seen[k] = h;
            break;
        }
    }
    pthread_mutex_unlock(&g_seen_lock);
    return seen;
}

void hfs_log(int level, const char *fmt, ...)
{
    if (level > hfs_log_level()) return;
    int saved = errno;
    char buf[2048];
    static const char pfx[] = "hfshim: ";
    memcpy(buf, pfx, sizeof pfx - 1);
    size_t off = sizeof pfx - 1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + off, sizeof buf - off - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    off += (size_t)n < sizeof buf - off - 1 ? (size_t)n : sizeof buf - off - 2;
    if (level <= HFS_LOG_WARN && already_seen(buf, off)) {
        errno = saved;
        return;
    }
    buf[off++] = '\n';
    ssize_t w = write(2, buf, off);
    (void)w;
    errno = saved;
}
