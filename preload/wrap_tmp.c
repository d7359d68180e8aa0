/* Temporary files and directories from a template: libc opens them with its internal __open,
 * which the shim never sees, so a virtual template is handled here. The random part is drawn
 * with getrandom and the entry created with O_CREAT|O_EXCL (mode 0600) or mkdir (0700), minus the
 * umask, through the core, until a name is free. A template outside the virtual tree goes to
 * libc (with a normalized copy when it only looked virtual, e.g. "/hf/../tmp/x.XXXXXX"). */
#include "real.h"
#include "vpath.h"
#include "write.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TMP_ATTEMPTS (62 * 62 * 62) /* glibc's TMP_MAX */

static void random_name(char x[6])
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char b[6];
    if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
        /* No entropy call: a clock and counter mix is enough for names retried on EEXIST. */
        static _Atomic uint64_t ctr;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t v = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                     (atomic_fetch_add(&ctr, 1) * 0xBF58476D1CE4E5B9ull) ^ (uint64_t)getpid();
        for (int i = 0; i < 6; i++) b[i] = (unsigned char)(v >> (i * 8));
    }
    for (int i = 0; i < 6; i++) x[i] = chars[b[i] % 62];
}

/* The six X's before the suffix, in the template and in the resolved virtual path (the
 * normalization keeps the last component). NULL when the template is malformed (EINVAL). */
static char *x_run(char *s, int suffixlen)
{
    size_t l = strlen(s);
    if (suffixlen < 0 || l < (size_t)suffixlen + 6) return NULL;
    char *x = s + l - suffixlen - 6;
    return memcmp(x, "XXXXXX", 6) ? NULL : x;
}

/* Create a unique entry for the virtual template (resolved in rp): a file opened with `flags`
 * (returns the registered fd) or, when dir, a directory (returns 0). -1 with errno. */
static int vtemp(char *tmpl, hfs_rpath *rp, int suffixlen, int flags, int dir)
{
    int saved = errno;
    char *tx = x_run(tmpl, suffixlen), *px = x_run(rp->path, suffixlen);
    if (!tx || !px || rp->trailing_slash) return hfs_fail(-EINVAL);
    mode_t um = hfs_umask_get();
    for (int i = 0; i < TMP_ATTEMPTS; i++) {
        random_name(px);
        int rc;
        if (dir) {
            rc = HFS_CORE(hfs_vfs_mkdir(rp->path, 0700 & ~um));
        } else {
            /* As glibc: the access mode is always O_RDWR; O_APPEND, O_CLOEXEC, O_SYNC... kept. */
            int fl = (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL;
            hfs_vobj *o = NULL;
            rc = HFS_CORE(hfs_vfs_open2(rp->path, fl, 0600 & ~um, &o));
            if (rc >= 0) {
                int ar = hfs_fd_add(rc, o);
                if (ar < 0) {
                    HFS_REAL(close)(rc);
                    rc = ar;
                }
            }
        }
        if (rc == -EEXIST) continue;
        if (rc < 0) return hfs_fail(rc);
        memcpy(tx, px, 6);
        errno = saved;
        return rc;
    }
    return hfs_fail(-EEXIST);
}

/* After the real call on a normalized copy: the random part (the tail) goes back. */
static void tmp_copy_back(char *tmpl, const char *used)
{
    if (used == tmpl) return;
    size_t tl = strlen(tmpl), ul = strlen(used), n = tl < ul ? tl : ul;
    memcpy(tmpl + tl - n, used + ul - n, n < 64 ? n : 64);
}

/* Body of the mkstemp family: `use` is the template the real call works on. */
#define TMP_FD(tmpl, suffixlen, flags, call_real)                                                  \
    do {                                                                                           \
        char *use = (tmpl);                                                                        \
        if (HFS_LIKELY(!hfs_path_maybe(tmpl))) return call_real;                                   \
        hfs_rpath rp;                                                                              \
        int v_ = hfs_resolve_at(AT_FDCWD, (tmpl), &rp);                                            \
        if (v_ < 0) return hfs_fail(v_);                                                           \
        if (v_ > 0) return vtemp((tmpl), &rp, (suffixlen), (flags), 0);                            \
        if (rp.real != (tmpl)) use = rp.path;                                                      \
        int fd_ = call_real;                                                                       \
        if (fd_ >= 0) tmp_copy_back((tmpl), use);                                                  \
        return fd_;                                                                                \
    } while (0)

HFS_EXPORT int mkstemp(char *tmpl)
{
    TMP_FD(tmpl, 0, 0, HFS_REAL(mkstemp)(use));
}
HFS_EXPORT int mkstemp64(char *tmpl)
{
    TMP_FD(tmpl, 0, O_LARGEFILE, HFS_REAL(mkstemp64)(use));
}
HFS_EXPORT int mkostemp(char *tmpl, int flags)
{
    TMP_FD(tmpl, 0, flags, HFS_REAL(mkostemp)(use, flags));
}
HFS_EXPORT int mkostemp64(char *tmpl, int flags)
{
    TMP_FD(tmpl, 0, flags | O_LARGEFILE, HFS_REAL(mkostemp64)(use, flags));
}
HFS_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
    TMP_FD(tmpl, suffixlen, 0, HFS_REAL(mkstemps)(use, suffixlen));
}
HFS_EXPORT int mkstemps64(char *tmpl, int suffixlen)
{
    TMP_FD(tmpl, suffixlen, O_LARGEFILE, HFS_REAL(mkstemps64)(use, suffixlen));
}
HFS_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
    TMP_FD(tmpl, suffixlen, flags, HFS_REAL(mkostemps)(use, suffixlen, flags));
}
HFS_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags)
{
    TMP_FD(tmpl, suffixlen, flags | O_LARGEFILE, HFS_REAL(mkostemps64)(use, suffixlen, flags));
}

/* 0 or -1 (errno); the template is filled in place. */
static int mkdtemp_slow(char *tmpl)
{
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, tmpl, &rp);
    if (v < 0) return hfs_fail(v);
    if (v > 0) return vtemp(tmpl, &rp, 0, 0, 1);
    char *use = rp.real != tmpl ? rp.path : tmpl;
    if (!HFS_REAL(mkdtemp)(use)) return -1;
    tmp_copy_back(tmpl, use);
    return 0;
}

HFS_EXPORT char *mkdtemp(char *tmpl)
{
    if (HFS_LIKELY(!hfs_path_maybe(tmpl))) return HFS_REAL(mkdtemp)(tmpl);
    return mkdtemp_slow(tmpl) < 0 ? NULL : tmpl;
}
