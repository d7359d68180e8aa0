/* The virtual cwd of supervised processes (see sv.h). One record per process that chdir'd into
 * a virtual directory (or inherited one), and a tombstone for one that left it, so that it does
 * not inherit its parent's again. */
#include "sv.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t tgid;
    unsigned long long start; /* tells the process from a later one with its pid */
    unsigned long long since; /* when the virtual cwd was entered, in the same clock ticks */
    dev_t kdev;               /* the kernel cwd it stands on */
    ino_t kino;
    char *vpath; /* NULL: a tombstone */
} rec;

static rec *recs;
static size_t nrecs, cap;

static unsigned long long now_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    long hz = sysconf(_SC_CLK_TCK);
    return (unsigned long long)ts.tv_sec * (unsigned long long)hz +
           (unsigned long long)ts.tv_nsec / (1000000000ull / (unsigned long long)hz);
}

static int kernel_cwd(pid_t tid, dev_t *dev, ino_t *ino)
{
    char p[64];
    struct stat st;
    snprintf(p, sizeof p, "/proc/%d/cwd", (int)tid);
    if (stat(p, &st)) return -1;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

static void drop(size_t i)
{
    free(recs[i].vpath);
    recs[i] = recs[--nrecs];
}

static rec *find(pid_t tgid, unsigned long long start)
{
    for (size_t i = 0; i < nrecs; i++)
        if (recs[i].tgid == tgid) {
            if (recs[i].start == start) return &recs[i];
            drop(i); /* an earlier process with that pid */
            break;
        }
    return NULL;
}

static rec *add(pid_t tgid, unsigned long long start)
{
    if (nrecs == cap) {
        for (size_t i = nrecs; i-- > 0;) /* forget processes that are gone */
            if (sv_proc_start(recs[i].tgid) != recs[i].start) drop(i);
        if (hfs_grow((void **)&recs, &cap, nrecs + 1, sizeof *recs, 16)) return NULL;
    }
    rec *r = &recs[nrecs++];
    memset(r, 0, sizeof *r);
    r->tgid = tgid;
    r->start = start;
    return r;
}

/* The record of process tgid, inherited from its nearest ancestor with one when it has none: a
 * child started after the ancestor entered its virtual cwd, standing on the same kernel cwd. */
static rec *lookup(pid_t tid, pid_t tgid, pid_t ppid, int depth)
{
    unsigned long long start = sv_proc_start(tgid);
    rec *r = find(tgid, start);
    /* hfrun itself (and what is above it) is not supervised: no record there. */
    if (r || depth > 16 || ppid <= 1 || ppid == getpid()) return r;
    pid_t pp = 0, ptgid = ppid;
    if (sv_proc_status(ppid, &ptgid, &pp, NULL)) return NULL;
    rec *up = lookup(ppid, ptgid, pp, depth + 1);
    if (!up || !up->vpath || start < up->since) return NULL;
    dev_t d;
    ino_t i;
    if (kernel_cwd(tid, &d, &i) || d != up->kdev || i != up->kino) return NULL;
    rec copy = *up;
    if (!(copy.vpath = strdup(up->vpath))) return NULL;
    if (!(r = add(tgid, start))) {
        free(copy.vpath);
        return NULL;
    }
    copy.tgid = tgid;
    copy.start = start;
    *r = copy;
    return r;
}

size_t sv_cwd_get(const sv_call *c, char *out, size_t n)
{
    if (!nrecs) return 0; /* nobody ever entered a virtual directory: nothing to look up */
    pid_t tgid = c->tid, ppid = 0;
    if (sv_proc_status(c->tid, &tgid, &ppid, NULL)) return 0;
    rec *r = lookup(c->tid, tgid, ppid, 0);
    if (!r || !r->vpath) return 0;
    dev_t d;
    ino_t i;
    if (kernel_cwd(c->tid, &d, &i) || d != r->kdev || i != r->kino) {
        /* The kernel cwd moved (an fchdir the kernel performed): the virtual one is gone. */
        free(r->vpath);
        r->vpath = NULL;
        return 0;
    }
    size_t l = strlen(r->vpath);
    if (l >= n) return 0;
    memcpy(out, r->vpath, l + 1);
    return l;
}

int sv_cwd_set(const sv_call *c, const char *vpath)
{
    pid_t tgid = c->tid;
    sv_proc_status(c->tid, &tgid, NULL, NULL);
    unsigned long long start = sv_proc_start(tgid);
    dev_t d;
    ino_t i;
    if (kernel_cwd(c->tid, &d, &i)) return -1;
    char *v = strdup(vpath);
    rec *r = v ? find(tgid, start) : NULL;
    if (!r && v) r = add(tgid, start);
    if (!r) {
        free(v);
        return -1;
    }
    free(r->vpath);
    r->vpath = v;
    r->kdev = d;
    r->kino = i;
    r->since = now_ticks();
    return 0;
}

void sv_cwd_clear(const sv_call *c)
{
    if (!nrecs) return;
    pid_t tgid = c->tid;
    sv_proc_status(c->tid, &tgid, NULL, NULL);
    unsigned long long start = sv_proc_start(tgid);
    rec *r = find(tgid, start);
    if (!r) r = add(tgid, start); /* a tombstone: do not inherit the parent's any more */
    if (!r) return;
    free(r->vpath);
    r->vpath = NULL;
}
