/* "hfshim:" diagnostics on stderr. Formatting happens on the stack and the line goes out in one
 * write(2), so lines from threads and processes do not interleave and no stdio state is used. */
#include "log.h"
#include "libc.h"

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

void hfs_log_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_seen_lock = fresh;
}

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

/* Length of the UTF-8 sequence at p (n bytes left) and its code point, or 0 if invalid. */
static size_t utf8(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0];
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (!len || len > n) return 0;
    unsigned v = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates, beyond U+10FFFF. */
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Characters a terminal acts on rather than shows: C1 controls (U+009B is CSI), the
 * direction overrides and isolates that reorder what follows, line and paragraph separators. */
static int invisible(unsigned cp)
{
    return (cp >= 0x80 && cp < 0xA0) || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t hfs_log_sanitize(const char *in, size_t n, char *out, size_t outsz)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char esc[16];
        size_t el = 0, len = 1;
        unsigned cp = p[i];
        if (cp >= 0x20 && cp < 0x7F) {
            esc[el++] = (char)cp;
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            el = (size_t)snprintf(esc, sizeof esc, "\\%c",
                                  cp == '\n'   ? 'n'
                                  : cp == '\r' ? 'r'
                                               : 't');
        } else if (cp >= 0x80 && (len = utf8(p + i, n - i, &cp)) && !invisible(cp)) {
            memcpy(esc, p + i, len);
            el = len;
        } else if (cp >= 0x80 && len) {
            el = (size_t)snprintf(esc, sizeof esc, "\\u%04x", cp);
        } else {
            len = 1; /* a control byte, or a byte that is not UTF-8 */
            el = (size_t)snprintf(esc, sizeof esc, "\\x%02x", p[i]);
        }
        if (o + el >= outsz) break; /* whole escapes only */
        memcpy(out + o, esc, el);
        o += el;
        i += len;
    }
    if (outsz) out[o] = 0;
    return o;
}

void hfs_log(int level, const char *fmt, ...)
{
    if (level > hfs_log_level()) return;
    int saved = errno;
    char raw[2048], buf[2048];
    static const char pfx[] = "hfshim: ";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof raw) n = sizeof raw - 1;
    /* Names and messages from servers reach this line: it stays one line, and nothing in it
     * can move the cursor, recolour the terminal or pose as a line of its own. */
    memcpy(buf, pfx, sizeof pfx - 1);
    size_t off = sizeof pfx - 1;
    off += hfs_log_sanitize(raw, (size_t)n, buf + off, sizeof buf - off - 1);
    if (level <= HFS_LOG_WARN && already_seen(buf, off)) {
        errno = saved;
        return;
    }
    buf[off++] = '\n';
    ssize_t w = hfs_libc()->write(2, buf, off);
    (void)w;
    errno = saved;
}
