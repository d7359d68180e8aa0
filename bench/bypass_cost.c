/* What each way of telling "io_uring may be in use" would cost on the open path of a virtual
 * file (issue 11, point 2; README "Programs and routes covered"), measured in one process:
 *   bypass_cost [VPATH]
 * VPATH (optional, run under the shim): a warm virtual file, whose open+close is timed as the
 * cost the checks add to. Prints one line per measurement. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long seen;
static int nobj;

/* The shim's check (preload/async.c): stop at the first object when nothing was loaded since. */
static int early(struct dl_phdr_info *i, size_t sz, void *arg)
{
    (void)sz;
    (void)arg;
    return i->dlpi_adds == seen;
}

static int full(struct dl_phdr_info *i, size_t sz, void *arg)
{
    (void)sz;
    const char *b = strrchr(i->dlpi_name, '/');
    nobj++;
    seen = i->dlpi_adds;
    *(int *)arg |= !strncmp(b ? b + 1 : i->dlpi_name, "liburing.so", 11);
    return 0;
}

/* Look for an io_uring instance among the process's fds, as a /proc/self/fd scan would. */
static int fd_scan(int *nfds)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = 0, n = 0;
    char p[64], t[256];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(p, t, sizeof t - 1);
        n++;
        if (l > 0 && (t[l] = 0, strstr(t, "io_uring"))) found = 1;
    }
    closedir(d);
    *nfds = n;
    return found;
}

static int maps_scan(int *lines)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0, n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, "io_uring")) found = 1;
    }
    fclose(f);
    *lines = n;
    return found;
}

int main(int argc, char **argv)
{
    int found = 0, n = 0;
    const int N = 200000;
    dl_iterate_phdr(full, &found);
    double t = now();
    for (int i = 0; i < N; i++) dl_iterate_phdr(early, NULL);
    printf("dl_iterate_phdr, nothing loaded since the last scan: %.0f ns\n", (now() - t) / N * 1e9);
    t = now();
    for (int i = 0; i < N / 10; i++) {
        nobj = 0;
        dl_iterate_phdr(full, &found);
    }
    printf("dl_iterate_phdr, full scan of %d objects: %.0f ns\n", nobj,
           (now() - t) / (N / 10) * 1e9);
    for (int extra = 0; extra <= 200; extra += 200) {
        int fds[200];
        for (int i = 0; i < extra; i++) fds[i] = open("/dev/null", O_RDONLY);
        t = now();
        for (int i = 0; i < 2000; i++) found |= fd_scan(&n);
        printf("/proc/self/fd scan (readdir + readlink of each), %d fds: %.1f us\n", n,
               (now() - t) / 2000 * 1e6);
        for (int i = 0; i < extra; i++) close(fds[i]);
    }
    t = now();
    for (int i = 0; i < 2000; i++) found |= maps_scan(&n);
    printf("/proc/self/maps scan, %d lines: %.1f us\n", n, (now() - t) / 2000 * 1e6);
    if (argc > 1) {
        t = now();
        for (int i = 0; i < 20000; i++) close(open(argv[1], O_RDONLY));
        printf("open+close of a warm virtual file: %.1f us\n", (now() - t) / 20000 * 1e6);
        t = now();
        for (int i = 0; i < 20000; i++) close(open("/etc/hostname", O_RDONLY));
        printf("open+close of a local file: %.1f us\n", (now() - t) / 20000 * 1e6);
    }
    return found > 1;
}
