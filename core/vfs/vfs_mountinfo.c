/* The mount table as programs read it, with ours in it: df, findmnt and mount learn a file
 * system's type and mount point from /proc/self/mountinfo (or /proc/self/mounts), matching the
 * st_dev of a path against each line's major:minor. The prefix, every repo root below it that this
 * process has resolved, and every explicit mount are one line each, of type "hfshim", with the
 * st_dev our stat gives their roots. The text goes into an anonymous file: a real fd. */
#include "libc.h"
#include "grow.h"
#include "config.h"
#include "grammar.h"
#include "repo.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The kernel's escaping of names in these files (seq_file's mangle of " \t\n\\"). */
static void put_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
            fprintf(f, "\\%03o", (unsigned char)*s);
        else
            fputc(*s, f);
    }
}

/* One of our lines. */
typedef struct {
    char mp[PATH_MAX];   /* mount point */
    char src[PATH_MAX];  /* hf://SPEC */
    char root[PATH_MAX]; /* the mounted folder inside the repo, "/" for its root */
    uint64_t dev;
} ent;

typedef struct {
    ent *v;
    int n, cap, err;
} ents;

static ent *ents_new(ents *E)
{
    if (E->n == E->cap) {
        size_t cap = (size_t)E->cap;
        if (E->n >= INT_MAX / 2 ||
            hfs_grow((void **)&E->v, &cap, (size_t)E->n + 1, sizeof *E->v, 8)) {
            E->err = -ENOMEM;
            return NULL;
        }
        E->cap = (int)cap;
    }
    return &E->v[E->n++];
}

/* "[datasets/|spaces/|buckets/]org/name[@rev]", the revision written as in paths (%2F). */
static void spec_name(const hfs_spec *s, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "%s%s", hfs_type_url_prefix(s->repo.type), s->repo.id);
    if (s->rev[0] && o + 1 < n) {
        out[o++] = '@';
        for (const char *r = s->rev; *r && o + 4 < n; r++) {
            if (*r == '/' || *r == '%')
                o += (size_t)snprintf(out + o, n - o, "%%%02X", (unsigned char)*r);
            else
                out[o++] = *r;
        }
    }
    out[o < n ? o : n - 1] = 0;
}

static void add_repo(const hfs_repo *r, void *arg)
{
    ents *E = arg;
    ent *e = ents_new(E);
    if (!e) return;
    char name[PATH_MAX];
    spec_name(&r->spec, name, sizeof name);
    if (hfs_fmt(e->mp, sizeof e->mp, "%s/%s", hfs_prefix(), name) ||
        hfs_fmt(e->src, sizeof e->src, "hf://%s", name)) {
        E->n--;
        return;
    }
    strcpy(e->root, "/");
    e->dev = r->dev;
}

static int add_mount(const char *path, const hfs_spec *s, const char *sub, void *arg)
{
    ents *E = arg;
    ent *e = ents_new(E);
    if (!e) return 0;
    char name[PATH_MAX];
    spec_name(s, name, sizeof name);
    if (hfs_fmt(e->mp, sizeof e->mp, "%s", path) ||
        hfs_fmt(e->src, sizeof e->src, "hf://%s%s%s", name, *sub ? "/" : "", sub) ||
        hfs_fmt(e->root, sizeof e->root, "/%s", sub)) {
        E->n--;
        return 0;
    }
    e->dev = hfs_repo_dev(s);
    return 0;
}

static int collect(ents *E)
{
    ent *e = ents_new(E);
    if (!e) return E->err;
    snprintf(e->mp, sizeof e->mp, "%s", hfs_prefix());
    strcpy(e->src, "hf://");
    strcpy(e->root, "/");
    e->dev = HFS_DEV_PREFIX;
    hfs_repo_each(add_repo, E);
    hfs_vfs_each_mount(add_mount, E);
    return E->err;
}

/* The whole real table as one string (getdelim to a NUL the text never has), or NULL. */
static char *read_table(const char *path, int *err)
{
    FILE *f = hfs_libc()->fopen(path, "re");
    if (!f) {
        *err = -errno;
        return NULL;
    }
    char *text = NULL;
    size_t cap = 0;
    if (getdelim(&text, &cap, '\0', f) < 0) { /* an empty table, or a read error */
        free(text);
        text = ferror(f) ? NULL : strdup("");
    }
    if (!text) *err = ferror(f) ? -EIO : -ENOMEM;
    hfs_libc()->fclose(f);
    return text;
}

static const char *next_line(const char *line)
{
    const char *nl = strchr(line, '\n');
    return nl ? nl + 1 : line + strlen(line);
}

static int under(const char *child, const char *parent)
{
    size_t l = strlen(parent);
    if (l == 1 && parent[0] == '/') return 1;
    return !strncmp(child, parent, l) && (child[l] == '/' || child[l] == 0);
}

/* Field `k` (0-based) of a mountinfo line, unescaped into out. */
static void field(const char *line, int k, char *out, size_t n)
{
    const char *s = line;
    for (int i = 0; i < k && *s && *s != '\n'; i++) {
        while (*s && *s != ' ' && *s != '\n') s++;
        if (*s == ' ') s++;
    }
    size_t o = 0;
    while (*s && *s != ' ' && *s != '\n' && o + 1 < n) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            out[o++] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else
            out[o++] = *s++;
    }
    out[o] = 0;
}

/* The id of the mount `mp` sits on: the longest mount point above it, the later one of equals
 * (a mount over another), among the real lines and ours before index `upto`. */
static unsigned parent_id(const char *real, const ents *E, int upto, unsigned first_id,
                          const char *mp)
{
    unsigned best = 0;
    size_t best_len = 0;
    char p[PATH_MAX];
    for (const char *line = real; *line; line = next_line(line)) {
        field(line, 4, p, sizeof p);
        size_t l = strlen(p);
        if (p[0] == '/' && under(mp, p) && l >= best_len) {
            best = (unsigned)strtoul(line, NULL, 10);
            best_len = l;
        }
    }
    for (int i = 0; i < upto; i++) {
        size_t l = strlen(E->v[i].mp);
        if (under(mp, E->v[i].mp) && l >= best_len) {
            best = first_id + (unsigned)i;
            best_len = l;
        }
    }
    return best;
}

/* The real table, then our lines, to out. */
static void build(int mountinfo, const char *real, const ents *E, FILE *out)
{
    unsigned max = 0;
    for (const char *line = real; mountinfo && *line; line = next_line(line)) {
        unsigned id = (unsigned)strtoul(line, NULL, 10);
        if (id > max) max = id;
    }
    size_t rl = strlen(real);
    fputs(real, out);
    if (rl && real[rl - 1] != '\n') fputc('\n', out);
    unsigned first = max + 1;
    for (int i = 0; i < E->n; i++) {
        const ent *e = &E->v[i];
        if (mountinfo) {
            fprintf(out, "%u %u %u:%u ", first + (unsigned)i, parent_id(real, E, i, first, e->mp),
                    major(e->dev), minor(e->dev));
            put_esc(out, e->root);
            fputc(' ', out);
            put_esc(out, e->mp);
            fputs(" rw,nosuid,nodev - hfshim ", out);
            put_esc(out, e->src);
            fputs(" rw\n", out);
        } else {
            put_esc(out, e->src);
            fputc(' ', out);
            put_esc(out, e->mp);
            fputs(" hfshim rw,nosuid,nodev 0 0\n", out);
        }
    }
}

/* An anonymous file: a memfd, else an unlinked file in the shim's cache dir. */
static int anon_fd(int cloexec)
{
    int fd = memfd_create("hfshim-mounts", (cloexec ? MFD_CLOEXEC : 0) | MFD_ALLOW_SEALING);
    if (fd >= 0) return fd;
    const char *dir = hfs_cfg()->shim_cache;
    int rc = hfs_mkdirs(dir, 0755);
    if (rc) return rc;
    fd = hfs_libc()->open(dir, O_TMPFILE | O_RDWR | (cloexec ? O_CLOEXEC : 0), 0600);
    if (fd >= 0) return fd;
    char tmpl[PATH_MAX];
    if (hfs_fmt(tmpl, sizeof tmpl, "%s/.mounts-XXXXXX", dir)) return -ENAMETOOLONG;
    fd = hfs_libc()->mkostemp(tmpl, cloexec ? O_CLOEXEC : 0);
    if (fd < 0) return -errno;
    hfs_libc()->unlink(tmpl);
    return fd;
}

int hfs_vfs_mounttab_fd(int mountinfo, int cloexec)
{
    hfs_vfs_init();
    ents E = {0};
    int rc = 0;
    char *real = read_table(mountinfo ? "/proc/self/mountinfo" : "/proc/self/mounts", &rc);
    if (real) rc = collect(&E);
    int fd = rc ? rc : anon_fd(cloexec);
    if (fd >= 0) {
        int wfd = hfs_libc()->dup(fd);
        FILE *out = wfd < 0 ? NULL : hfs_libc()->fdopen(wfd, "w");
        if (out) build(mountinfo, real, &E, out);
        if (!out || hfs_libc()->fclose(out)) { /* fclose reports a failed write */
            rc = -errno;
            if (!out && wfd >= 0) hfs_libc()->close(wfd);
            hfs_libc()->close(fd);
            fd = rc;
        }
    }
    free(real);
    free(E.v);
    if (fd < 0) return fd;
    /* Nobody changes our copy behind the reader (only a memfd takes seals). */
    (void)hfs_libc()->fcntl(fd, F_ADD_SEALS,
                            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    hfs_libc()->lseek(fd, 0, SEEK_SET);
    return fd;
}
