/* A small file-system client for the supervisor's tests, built static (gcc -static): no
 * LD_PRELOAD can reach it. Runs its arguments as a list of commands:
 *   cat PATH | size PATH | lsize PATH | ls DIR | cd DIR | pwd | exists PATH | write PATH TEXT |
 *   append PATH TEXT | mkdir PATH | rm PATH | rmdir PATH | mv FROM TO | readlink PATH |
 *   same PATH (do stat and fstat of an open fd agree on st_dev, st_ino, st_size?) |
 *   statloop PATH N (N stat calls, prints ns per call)
 * Each prints one line ("cat" the bytes as they are); a failure prints "ERR <cmd> <errno name>"
 * and the program goes on. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *cmd)
{
    printf("ERR %s %s\n", cmd, strerrorname_np(errno));
    return 1;
}

static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ls(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return fail("ls");
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, names_cmp);
    for (int i = 0; i < n; i++) {
        printf("%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
    printf("\n");
    return 0;
}

static int put(const char *p, const char *text, int flags)
{
    int fd = open(p, O_WRONLY | O_CREAT | flags, 0644);
    if (fd < 0) return fail("write");
    if (write(fd, text, strlen(text)) < 0) return fail("write");
    close(fd);
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i], *a = i + 1 < argc ? argv[i + 1] : "";
        const char *b = i + 2 < argc ? argv[i + 2] : "";
        struct stat st;
        if (!strcmp(c, "cat")) {
            i++;
            int fd = open(a, O_RDONLY);
            if (fd < 0) {
                bad |= fail("cat");
                continue;
            }
            char buf[65536];
            ssize_t k;
            while ((k = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)k, stdout);
            close(fd);
            fflush(stdout);
        } else if (!strcmp(c, "size") || !strcmp(c, "lsize")) {
            i++;
            if ((c[0] == 'l' ? lstat(a, &st) : stat(a, &st))) {
                bad |= fail(c);
                continue;
            }
            printf("%lld %s\n", (long long)st.st_size, S_ISDIR(st.st_mode) ? "dir" : "file");
        } else if (!strcmp(c, "exists")) {
            i++;
            printf("%s\n", access(a, F_OK) == 0 ? "yes" : "no");
        } else if (!strcmp(c, "ls")) {
            i++;
            bad |= ls(a);
        } else if (!strcmp(c, "cd")) {
            i++;
            if (chdir(a)) bad |= fail("cd");
            else printf("ok\n");
        } else if (!strcmp(c, "pwd")) {
            char buf[4096];
            if (!getcwd(buf, sizeof buf)) bad |= fail("pwd");
            else printf("%s\n", buf);
        } else if (!strcmp(c, "write") || !strcmp(c, "append")) {
            i += 2;
            bad |= put(a, b, c[0] == 'w' ? O_TRUNC : O_APPEND);
        } else if (!strcmp(c, "mkdir")) {
            i++;
            if (mkdir(a, 0755)) bad |= fail("mkdir");
            else printf("ok\n");
        } else if (!strcmp(c, "rm")) {
            i++;
            if (unlink(a)) bad |= fail("rm");
            else printf("ok\n");
        } else if (!strcmp(c, "rmdir")) {
            i++;
            if (rmdir(a)) bad |= fail("rmdir");
            else printf("ok\n");
        } else if (!strcmp(c, "mv")) {
            i += 2;
            if (rename(a, b)) bad |= fail("mv");
            else printf("ok\n");
        } else if (!strcmp(c, "readlink")) {
            i++;
            char buf[4096];
            ssize_t k = readlink(a, buf, sizeof buf - 1);
            if (k < 0) bad |= fail("readlink");
            else printf("%.*s\n", (int)k, buf);
        } else if (!strcmp(c, "same")) {
            i++;
            struct stat ft;
            int fd = open(a, O_RDONLY);
            if (fd < 0 || stat(a, &st) || fstat(fd, &ft)) {
                bad |= fail("same");
                continue;
            }
            close(fd);
            printf("%s\n", st.st_dev == ft.st_dev && st.st_ino == ft.st_ino &&
                                   st.st_size == ft.st_size
                               ? "same"
                               : "differ");
        } else if (!strcmp(c, "statloop")) {
            i += 2;
            long n = atol(b);
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (long k = 0; k < n; k++)
                if (stat(a, &st)) {
                    bad |= fail("statloop");
                    break;
                }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
            printf("%.0f ns\n", n ? ns / (double)n : 0.0);
        } else {
            fprintf(stderr, "fsprobe: unknown command %s\n", c);
            return 2;
        }
    }
    return bad;
}
