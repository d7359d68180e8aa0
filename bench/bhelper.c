/* bench/bhelper: tight timing loops for bench/run.py (built by it with cc). Prints one JSON
 * object per run on stdout. Times are CLOCK_MONOTONIC.
 *
 *   bhelper pread PATH OFF LEN            open, pread LEN bytes at OFF, close
 *   bhelper seq PATH BS                   open, read to EOF in BS-byte reads, close (in-process MB/s)
 *   bhelper rand PATH COUNT SEED BS       COUNT preads of BS bytes at seeded offsets (one open)
 *   bhelper preadmt PATH THREADS COUNT LEN STRIDE
 *                                         one open, then COUNT preads of LEN bytes at i * STRIDE
 *                                         shared round-robin by THREADS threads (wall time)
 *   bhelper stat LISTFILE SECONDS         stat() every path of LISTFILE, round and round
 *   bhelper ops DIR NFILES ITERS          open/fstat/read 4 KiB/close + stat on DIR/f<i>
 *   bhelper spawn ITERS PRELOAD CMD...    fork+exec+wait CMD ITERS times ("-" = no LD_PRELOAD);
 *                                         also the largest peak RSS, CPU time and page faults of the children
 *   bhelper firstbyte ITERS PRELOAD PATH  exec of `bhelper readbyte` to its first byte of PATH
 *   bhelper readbyte PATH FD              (child of firstbyte) read 1 byte, send the time on FD
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "bhelper: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
    exit(2);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_stats(const char *name, int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)v[i];
    printf("%s\"%s\": true, \"n\": %d, \"avg_us\": %.3f, \"median_us\": %.3f, \"min_us\": %.3f, "
           "\"max_us\": %.3f}\n",
           strcmp(name, "spawn") ? "{" : "", name, n, sum / n / 1e3, v[n / 2] / 1e3, v[0] / 1e3, v[n - 1] / 1e3);
}

static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int cmd_pread(char **a)
{
    off_t off = (off_t)strtoll(a[1], NULL, 0);
    size_t len = (size_t)strtoull(a[2], NULL, 0);
    char *buf = malloc(len);
    if (!buf) die("malloc", NULL);
    int64_t t0 = now_ns();
    int fd = open(a[0], O_RDONLY);
    if (fd < 0) die("open", a[0]);
    int64_t t1 = now_ns();
    ssize_t r = pread_full(fd, buf, len, off);
    if (r < 0) die("pread", a[0]);
    int64_t t2 = now_ns();
    close(fd);
    printf("{\"bytes\": %zd, \"open_us\": %.1f, \"read_us\": %.1f, \"total_us\": %.1f}\n", r,
           (t1 - t0) / 1e3, (t2 - t1) / 1e3, (t2 - t0) / 1e3);
    return r == (ssize_t)len ? 0 : 1;
}

typedef struct {
    int fd, first, step, count;
    size_t len;
    off_t stride;
    ssize_t bytes;
} mt_arg;

static void *mt_reader(void *p)
{
    mt_arg *m = p;
    char *buf = malloc(m->len);
    if (!buf) return NULL;
    for (int i = m->first; i < m->count; i += m->step) {
        ssize_t r = pread_full(m->fd, buf, m->len, (off_t)i * m->stride);
        if (r < 0) {
            m->bytes = -1;
            break;
        }
        m->bytes += r;
    }
    free(buf);
    return NULL;
}

static int cmd_preadmt(char **a)
{
    int nt = atoi(a[1]), count = atoi(a[2]);
    size_t len = (size_t)strtoull(a[3], NULL, 0);
    off_t stride = (off_t)strtoll(a[4], NULL, 0);
    if (nt < 1 || nt > 64 || count < 1) die("preadmt: bad arguments", NULL);
    int64_t t0 = now_ns();
    int fd = open(a[0], O_RDONLY);
    if (fd < 0) die("open", a[0]);
    int64_t t1 = now_ns();
    pthread_t th[64];
    mt_arg m[64];
    for (int t = 0; t < nt; t++) {
        m[t] = (mt_arg){fd, t, nt, count, len, stride, 0};
        if (pthread_create(&th[t], NULL, mt_reader, &m[t])) die("pthread_create", NULL);
    }
    ssize_t total = 0;
    int bad = 0;
    for (int t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        bad |= m[t].bytes < 0;
        total += m[t].bytes;
    }
    int64_t t2 = now_ns();
    close(fd);
    printf("{\"bytes\": %zd, \"open_us\": %.1f, \"read_us\": %.1f}\n", total, (t1 - t0) / 1e3,
           (t2 - t1) / 1e3);
    return bad || total != (ssize_t)len * count;
}

static int cmd_seq(char **a)
{
    size_t bs = (size_t)strtoull(a[1], NULL, 0);
    char *buf = malloc(bs);
    if (!buf) die("malloc", NULL);
    int64_t t0 = now_ns();
    int fd = open(a[0], O_RDONLY);
    if (fd < 0) die("open", a[0]);
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, bs);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read", a[0]);
        if (r == 0) break;
        total += (uint64_t)r;
    }
    close(fd);
    int64_t dt = now_ns() - t0;
    printf("{\"bytes\": %llu, \"secs\": %.6f, \"mb_per_s\": %.1f}\n", (unsigned long long)total, dt / 1e9,
           total / (dt / 1e9) / 1e6);
    return 0;
}

static int cmd_rand(char **a)
{
    int count = atoi(a[1]);
    uint64_t x = strtoull(a[2], NULL, 0);
    size_t bs = (size_t)strtoull(a[3], NULL, 0);
    int fd = open(a[0], O_RDONLY);
    if (fd < 0) die("open", a[0]);
    struct stat st;
    if (fstat(fd, &st)) die("fstat", a[0]);
    char *buf = malloc(bs);
    int64_t *v = calloc((size_t)count, sizeof *v);
    if (!buf || !v || (uint64_t)st.st_size <= bs) die("setup", a[0]);
    uint64_t span = (uint64_t)st.st_size - bs;
    for (int i = 0; i < count; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL; /* Knuth's MMIX LCG */
        off_t off = (off_t)((x >> 17) % span);
        int64_t t0 = now_ns();
        if (pread_full(fd, buf, bs, off) != (ssize_t)bs) die("pread", a[0]);
        v[i] = now_ns() - t0;
    }
    close(fd);
    print_stats("rand", v, count);
    return 0;
}

static int cmd_stat(char **a)
{
    FILE *f = fopen(a[0], "r");
    if (!f) die("open", a[0]);
    double secs = atof(a[1]);
    size_t n = 0, cap = 1024;
    char **paths = malloc(cap * sizeof *paths), line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
        paths[n++] = strdup(line);
    }
    fclose(f);
    if (!n) die("no paths in", a[0]);
    struct stat st;
    for (size_t i = 0; i < n; i++) /* warm-up pass: a missing path is an error */
        if (stat(paths[i], &st)) die("stat", paths[i]);
    int64_t t0 = now_ns(), t1;
    uint64_t calls = 0;
    do {
        for (size_t i = 0; i < n; i++) stat(paths[i], &st);
        calls += n;
        t1 = now_ns();
    } while (t1 - t0 < (int64_t)(secs * 1e9));
    printf("{\"calls\": %llu, \"secs\": %.4f, \"per_sec\": %.0f, \"ns_per_call\": %.1f}\n",
           (unsigned long long)calls, (t1 - t0) / 1e9, calls / ((t1 - t0) / 1e9),
           (double)(t1 - t0) / (double)calls);
    return 0;
}

static int cmd_ops(char **a)
{
    int nfiles = atoi(a[1]), iters = atoi(a[2]);
    char (*names)[4096] = calloc((size_t)nfiles, sizeof *names);
    char buf[4096];
    struct stat st;
    for (int i = 0; i < nfiles; i++) snprintf(names[i], sizeof names[i], "%s/f%d", a[0], i);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    int64_t t0 = now_ns();
    for (int k = 0; k < iters; k++) {
        const char *p = names[k % nfiles];
        int fd = open(p, O_RDONLY);
        if (fd < 0) die("open", p);
        if (fstat(fd, &st)) die("fstat", p);
        if (read(fd, buf, sizeof buf) < 0) die("read", p);
        close(fd);
        if (stat(p, &st)) die("stat", p);
    }
    int64_t dt = now_ns() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
    printf("{\"iters\": %d, \"ns_per_iter\": %.1f, \"cpu_ns_per_iter\": %.1f}\n", iters,
           (double)dt / iters, cpu / iters);
    return 0;
}

/* The same loop through the normal calls (the shim's wrappers when it is preloaded) and through
 * libc's own entry points (found with dlsym on libc itself), alternating in short rounds in one
 * process: the wrappers' cost without the process-to-process noise of this machine. */
typedef struct {
    int (*open)(const char *, int, ...);
    int (*fstat)(int, struct stat *);
    ssize_t (*read)(int, void *, size_t);
    int (*close)(int);
    int (*stat)(const char *, struct stat *);
} ops_fns;

static int64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t ops_round(const ops_fns *f, char (*names)[4096], int nfiles, int iters)
{
    char buf[4096];
    struct stat st;
    int64_t c0 = thread_cpu_ns();
    for (int k = 0; k < iters; k++) {
        const char *p = names[k % nfiles];
        int fd = f->open(p, O_RDONLY);
        if (fd < 0) die("open", p);
        if (f->fstat(fd, &st)) die("fstat", p);
        if (f->read(fd, buf, sizeof buf) < 0) die("read", p);
        f->close(fd);
        if (f->stat(p, &st)) die("stat", p);
    }
    return thread_cpu_ns() - c0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_opsab(char **a)
{
    int nfiles = atoi(a[1]), iters = atoi(a[2]), rounds = atoi(a[3]);
    char (*names)[4096] = calloc((size_t)nfiles, sizeof *names);
    for (int i = 0; i < nfiles; i++) snprintf(names[i], sizeof names[i], "%s/f%d", a[0], i);
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!libc) die("dlopen", "libc.so.6");
    ops_fns wrapped = {open, fstat, read, close, stat};
    ops_fns direct = {dlsym(libc, "open"), dlsym(libc, "fstat"), dlsym(libc, "read"),
                      dlsym(libc, "close"), dlsym(libc, "stat")};
    if (!direct.open || !direct.fstat || !direct.read || !direct.close || !direct.stat)
        die("dlsym", "libc");
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    double w = 0, d = 0;
    ops_round(&wrapped, names, nfiles, iters); /* warm both paths */
    ops_round(&direct, names, nfiles, iters);
    for (int r = 0; r < rounds; r++) {
        int64_t tw, td;
        if (r % 2) {
            tw = ops_round(&wrapped, names, nfiles, iters);
            td = ops_round(&direct, names, nfiles, iters);
        } else {
            td = ops_round(&direct, names, nfiles, iters);
            tw = ops_round(&wrapped, names, nfiles, iters);
        }
        ratio[r] = (double)tw / (double)td;
        w += (double)tw;
        d += (double)td;
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_dbl);
    printf("{\"rounds\": %d, \"ratio_median\": %.4f, \"ratio_min\": %.4f, \"ratio_max\": %.4f, "
           "\"wrapped_ns_per_iter\": %.1f, \"direct_ns_per_iter\": %.1f}\n",
           rounds, ratio[rounds / 2], ratio[0], ratio[rounds - 1], w / rounds / iters,
           d / rounds / iters);
    return 0;
}

/* The environment without LD_PRELOAD, plus LD_PRELOAD=preload unless preload is "-". */
static char **child_env(const char *preload)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **e = calloc(n + 2, sizeof *e);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11)) e[k++] = environ[i];
    if (strcmp(preload, "-")) {
        char *v = malloc(strlen(preload) + 12);
        sprintf(v, "LD_PRELOAD=%s", preload);
        e[k++] = v;
    }
    e[k] = NULL;
    return e;
}

static long g_maxrss_kb; /* largest ru_maxrss of a child so far */
static int64_t g_cpu_ns;  /* user + system time of the children so far */
static long g_minflt;     /* minor page faults of the children so far */

static int run_child(char **argv, char **env, int keep_fd)
{
    pid_t pid = fork();
    if (pid < 0) die("fork", NULL);
    if (pid == 0) {
        if (keep_fd < 0) {
            int nul = open("/dev/null", O_WRONLY);
            if (nul >= 0) dup2(nul, 1);
        }
        execve(argv[0], argv, env);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) die("wait4", NULL);
    if (ru.ru_maxrss > g_maxrss_kb) g_maxrss_kb = ru.ru_maxrss;
    g_minflt += ru.ru_minflt;
    g_cpu_ns += ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_spawn(char **a, int na)
{
    int iters = atoi(a[0]);
    char **env = child_env(a[1]);
    char **argv = a + 2;
    (void)na;
    int64_t *v = calloc((size_t)iters, sizeof *v);
    for (int i = 0; i < iters; i++) {
        int64_t t0 = now_ns();
        int rc = run_child(argv, env, -1);
        v[i] = now_ns() - t0;
        if (rc) {
            fprintf(stderr, "bhelper: %s exited %d\n", argv[0], rc);
            return 1;
        }
    }
    printf("{\"maxrss_kb\": %ld, \"cpu_us\": %.1f, \"minflt\": %.1f, ", g_maxrss_kb,
           g_cpu_ns / 1e3 / iters, (double)g_minflt / iters);
    print_stats("spawn", v, iters);
    return 0;
}

static int cmd_firstbyte(char **a, const char *self)
{
    int iters = atoi(a[0]);
    char **env = child_env(a[1]);
    int64_t *v = calloc((size_t)iters, sizeof *v);
    for (int i = 0; i < iters; i++) {
        int p[2];
        if (pipe(p)) die("pipe", NULL);
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", p[1]);
        char *argv[] = {(char *)self, "readbyte", a[2], fdarg, NULL};
        int64_t t0 = now_ns();
        int rc = run_child(argv, env, p[1]);
        close(p[1]);
        int64_t t1 = 0;
        ssize_t r = read(p[0], &t1, sizeof t1);
        close(p[0]);
        if (rc || r != sizeof t1) {
            fprintf(stderr, "bhelper: readbyte %s failed (exit %d)\n", a[2], rc);
            return 1;
        }
        v[i] = t1 - t0;
    }
    print_stats("firstbyte", v, iters);
    return 0;
}

static int cmd_readbyte(char **a)
{
    int fd = open(a[0], O_RDONLY);
    char c;
    if (fd < 0 || read(fd, &c, 1) != 1) return 3;
    int64_t t = now_ns();
    int out = atoi(a[1]);
    if (write(out, &t, sizeof t) != sizeof t) return 4;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) goto usage;
    const char *c = argv[1];
    char **a = argv + 2;
    int na = argc - 2;
    if (!strcmp(c, "pread") && na == 3) return cmd_pread(a);
    if (!strcmp(c, "seq") && na == 2) return cmd_seq(a);
    if (!strcmp(c, "rand") && na == 4) return cmd_rand(a);
    if (!strcmp(c, "preadmt") && na == 5) return cmd_preadmt(a);
    if (!strcmp(c, "stat") && na == 2) return cmd_stat(a);
    if (!strcmp(c, "ops") && na == 3) return cmd_ops(a);
    if (!strcmp(c, "opsab") && na == 4) return cmd_opsab(a);
    if (!strcmp(c, "spawn") && na >= 3) return cmd_spawn(a, na);
    if (!strcmp(c, "firstbyte") && na == 3) return cmd_firstbyte(a, argv[0]);
    if (!strcmp(c, "readbyte") && na == 2) return cmd_readbyte(a);
usage:
    fprintf(stderr, "usage: see the comment at the top of bench/bhelper.c\n");
    return 2;
}
