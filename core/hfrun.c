/* hfrun: run a command with libhfshim.so preloaded, mounts configured and revisions pinned
 * once for the whole job. */
#include "config.h"
#include "grammar.h"
#include "log.h"
#include "net.h"
#include "repo.h"
#include "util.h"
#include "vfs.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hfrun [-m PATH=SPEC]... [--revision REV] [--cache-dir DIR] [--endpoint URL]\n"
            "             [--no-push] -- COMMAND [ARGS...]\n"
            "\n"
            "Runs COMMAND with libhfshim.so preloaded: Hugging Face repos and buckets appear as\n"
            "read-only files under $HF_SHIM_PREFIX (default /hf), e.g. /hf/org/name@rev/path,\n"
            "/hf/datasets/org/name/..., /hf/buckets/ns/name/...\n"
            "\n"
            "  -m, --mount PATH=SPEC  also show SPEC at the absolute PATH; SPEC is\n"
            "                         [datasets/|spaces/|buckets/]org/name[@rev][/subfolder]\n"
            "  --revision REV         revision for -m specs that name none (default: main)\n"
            "  --cache-dir DIR        keep downloads in DIR/hub (HF_HUB_CACHE) and hfshim's own\n"
            "                         data in DIR/hfshim (HF_SHIM_CACHE)\n"
            "  --endpoint URL         Hub endpoint (HF_ENDPOINT)\n"
            "  --no-push              never upload anything (HF_NO_PUSH=1)\n"
            "  -h, --help             this text;  --version  the version\n"
            "\n"
            "Every revision is resolved to a commit once; COMMAND and all its children see that\n"
            "one snapshot. The exit status is COMMAND's.\n");
}

/* The shim next to this program (build tree) or in ../lib/hfshim (installed). */
static int find_lib(char *out, size_t n)
{
    const char *env = getenv("HFSHIM_LIB");
    if (env && *env) return hfs_fmt(out, n, "%s", env);
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) return -ENOENT;
    exe[l] = 0;
    char *slash = strrchr(exe, '/');
    *slash = 0;
    const char *cands[] = {"%s/libhfshim.so", "%s/../lib/hfshim/libhfshim.so"};
    for (size_t i = 0; i < 2; i++) {
        if (!hfs_fmt(out, n, cands[i], exe) && access(out, R_OK) == 0) {
            char r[PATH_MAX];
            if (realpath(out, r)) hfs_fmt(out, n, "%s", r);
            return 0;
        }
    }
    return -ENOENT;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static char g_session[PATH_MAX];
static pid_t g_child;

static void forward(int sig)
{
    if (g_child > 0) kill(g_child, sig);
}

int main(int argc, char **argv)
{
    char mounts[8192] = "";
    const char *rev = NULL;
    int i = 1;
    const char *old_mounts = getenv("HF_MOUNTS");
    if (old_mounts) snprintf(mounts, sizeof mounts, "%s", old_mounts);
    char *specs[HFS_MAX_MOUNTS];
    int nspecs = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("hfrun (hfshim) %s\n", HFS_VERSION);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--mount")) && i + 1 < argc) {
            if (nspecs == HFS_MAX_MOUNTS) {
                fprintf(stderr, "hfrun: too many mounts (at most %d)\n", HFS_MAX_MOUNTS);
                return 2;
            }
            specs[nspecs++] = argv[++i];
        } else if (!strcmp(a, "--revision") && i + 1 < argc) {
            rev = argv[++i];
        } else if (!strcmp(a, "--cache-dir") && i + 1 < argc) {
            char p[PATH_MAX];
            const char *d = argv[++i];
            hfs_fmt(p, sizeof p, "%s/hub", d);
            setenv("HF_HUB_CACHE", p, 1);
            hfs_fmt(p, sizeof p, "%s/hfshim", d);
            setenv("HF_SHIM_CACHE", p, 1);
        } else if (!strcmp(a, "--endpoint") && i + 1 < argc) {
            setenv("HF_ENDPOINT", argv[++i], 1);
        } else if (!strcmp(a, "--no-push")) {
            setenv("HF_NO_PUSH", "1", 1);
        } else if (a[0] == '-') {
            fprintf(stderr, "hfrun: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else
            break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* -m PATH=SPEC: check it now, add --revision where the spec names none. */
    for (int k = 0; k < nspecs; k++) {
        char *eq = strchr(specs[k], '=');
        hfs_spec sp;
        char sub[PATH_MAX];
        if (!eq || specs[k][0] != '/' || hfs_parse_spec(eq + 1, &sp, sub, sizeof sub)) {
            fprintf(stderr,
                    "hfrun: bad mount '%s': expected /absolute/path=[datasets/|spaces/|"
                    "buckets/]org/name[@rev][/subfolder]\n",
                    specs[k]);
            return 2;
        }
        char item[PATH_MAX * 2];
        if (rev && !strchr(eq + 1, '@') && sp.repo.type != HFS_BUCKET) {
            /* insert @rev after org/name */
            const char *name_end = strstr(eq + 1, sp.repo.id) + strlen(sp.repo.id);
            snprintf(item, sizeof item, "%.*s@%s%s", (int)(name_end - specs[k]), specs[k], rev,
                     name_end);
        } else
            snprintf(item, sizeof item, "%s", specs[k]);
        size_t l = strlen(mounts);
        if (snprintf(mounts + l, sizeof mounts - l, "%s%s", l ? ";" : "", item) >=
            (int)(sizeof mounts - l)) {
            fprintf(stderr, "hfrun: mounts too long\n");
            return 2;
        }
    }
    if (mounts[0]) setenv("HF_MOUNTS", mounts, 1);

    char lib[PATH_MAX];
    if (find_lib(lib, sizeof lib)) {
        fprintf(stderr, "hfrun: cannot find libhfshim.so next to hfrun or in ../lib/hfshim "
                        "(set HFSHIM_LIB)\n");
        return 127;
    }
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, lib)) {
        char v[PATH_MAX * 4];
        /* After the caller's own preloads: a sanitizer runtime there must stay first. */
        snprintf(v, sizeof v, "%s%s%s", pre ? pre : "", pre && *pre ? ":" : "", lib);
        setenv("LD_PRELOAD", v, 1);
    }

    /* The session directory holds the pins every process of this job shares. */
    const char *tmp = getenv("TMPDIR");
    snprintf(g_session, sizeof g_session, "%s/hfshim-session.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_session)) {
        fprintf(stderr, "hfrun: cannot create a session directory in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return 1;
    }
    setenv("HF_SHIM_SESSION", g_session, 1);

    /* Resolve explicit mounts now: one snapshot for the job, and errors before the command. */
    hfs_net_set_static(hfs_net_ops_v1());
    hfs_cfg_reload();
    const hfs_config *c = hfs_cfg();
    hfs_vfs_init();
    int status = 0;
    for (const char *s = c->mounts; s && *s;) {
        const char *end = strchr(s, ';');
        char item[PATH_MAX * 2];
        snprintf(item, sizeof item, "%.*s", (int)(end ? end - s : (long)strlen(s)), s);
        char *eq = strchr(item, '=');
        hfs_spec sp;
        char sub[PATH_MAX];
        if (eq && !hfs_parse_spec(eq + 1, &sp, sub, sizeof sub)) {
            int err = 0;
            hfs_repo *r = hfs_repo_get(&sp, &err);
            if (!r) {
                fprintf(stderr, "hfrun: cannot mount %s at %.*s: %s\n", eq + 1, (int)(eq - item),
                        item, strerror(-err));
                status = 2;
            } else if (sub[0]) {
                const hfs_ientry *e = hfs_index_lookup(r->ix, sub, strlen(sub));
                if (!e || !e->is_dir) {
                    fprintf(stderr, "hfrun: cannot mount %s: no folder '%s' in %s\n", eq + 1, sub,
                            r->key);
                    status = 2;
                }
            }
        }
        s = end ? end + 1 : NULL;
    }
    const char *pins = hfs_vfs_pins_env();
    if (pins[0]) setenv("HF_SHIM_PINS", pins, 1);
    if (status) {
        nftw(g_session, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return status;
    }

    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGINT, SIG_IGN); /* the terminal delivers it to the command too */
    signal(SIGQUIT, SIG_IGN);
    g_child = fork();
    if (g_child < 0) {
        perror("hfrun: fork");
        return 1;
    }
    if (g_child == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        execvp(argv[i], argv + i);
        fprintf(stderr, "hfrun: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    int ws;
    while (waitpid(g_child, &ws, 0) < 0)
        if (errno != EINTR) {
            ws = 1 << 8;
            break;
        }
    nftw(g_session, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (WIFEXITED(ws)) return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
    return 1;
}
