/* hfrun: run a command with libhfshim.so preloaded, mounts configured and revisions pinned
 * once for the whole job. */
#include "config.h"
#include "grammar.h"
#include "log.h"
#include "net.h"
#include "overlay.h"
#include "push.h"
#include "repo.h"
#include "super.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"

#include <errno.h>
#include <dirent.h>
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
            "usage: hfrun [OPTIONS] -- COMMAND [ARGS...]\n"
            "       hfrun [OPTIONS] status [SPEC]\n"
            "       hfrun [OPTIONS] discard SPEC [PATH]\n"
            "       hfrun [OPTIONS] push [SPEC] [--message MSG] [--dry-run]\n"
            "\n"
            "Runs COMMAND with libhfshim.so preloaded: Hugging Face repos and buckets appear as\n"
            "files under $HF_SHIM_PREFIX (default /hf), e.g. /hf/org/name@rev/path,\n"
            "/hf/datasets/org/name/..., /hf/buckets/ns/name/... Writes go to a local overlay;\n"
            "when COMMAND ends, each repo it changed is pushed as one commit (unless --no-push).\n"
            "\n"
            "  -m, --mount PATH=SPEC  also show SPEC at the absolute PATH; SPEC is\n"
            "                         [datasets/|spaces/|buckets/]org/name[@rev][/subfolder]\n"
            "  --revision REV         revision for specs that name none (default: main)\n"
            "  --cache-dir DIR        keep downloads in DIR/hub (HF_HUB_CACHE) and hfshim's own\n"
            "                         data in DIR/hfshim (HF_SHIM_CACHE)\n"
            "  --endpoint URL         Hub endpoint (HF_ENDPOINT)\n"
            "  --overlay DIR          keep local changes in DIR (HF_SHIM_OVERLAY; default\n"
            "                         $HF_SHIM_CACHE/overlay)\n"
            "  --no-push              never upload anything (HF_NO_PUSH=1): changes stay local\n"
            "  --message MSG          summary of the commits pushed (default: Upload from hfrun)\n"
            "  --supervise            serve COMMAND's file-system calls from hfrun (seccomp user\n"
            "                         notification) instead of LD_PRELOAD: what static, Go and\n"
            "                         setuid programs get automatically; --no-supervise: never\n"
            "                         (Linux >= 5.9; see README, \"Static and Go programs\")\n"
            "  -h, --help             this text;  --version  the version\n"
            "\n"
            "  status [SPEC]          local changes (A added, M modified, D deleted) against the\n"
            "                         pinned commit, of SPEC or of every repo with an overlay\n"
            "  discard SPEC [PATH]    drop the local changes of SPEC (or only those at PATH)\n"
            "  push [SPEC]            push what earlier sessions left (e.g. with --no-push), one\n"
            "                         commit per repo; --dry-run only prints the plan\n"
            "\n"
            "Every revision is resolved to a commit once; COMMAND and all its children see that\n"
            "one snapshot, and pushes name it as the parent commit (if the branch moved, they\n"
            "rebase when no changed path conflicts). The exit status is COMMAND's, or 3 if\n"
            "COMMAND succeeded and a push failed (the overlay is then kept as it was).\n");
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
            if (realpath(out, r) && hfs_fmt(out, n, "%s", r)) /* keep the unresolved path */
                return hfs_fmt(out, n, cands[i], exe);
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

/* ---- pushing, status, discard ---- */

static const char *g_message; /* --message */

/* SPEC of a subcommand: a repo (no subfolder), with --revision when it names none. */
static int parse_repo_spec(const char *arg, const char *rev, hfs_spec *sp, char *sub, size_t n)
{
    if (hfs_parse_spec(arg, sp, sub, n)) {
        fprintf(stderr,
                "hfrun: bad SPEC '%s': expected [datasets/|spaces/|buckets/]org/name[@rev]\n", arg);
        return -1;
    }
    if (rev && !strchr(arg, '@') && sp->repo.type != HFS_BUCKET)
        snprintf(sp->rev, sizeof sp->rev, "%s", rev);
    return 0;
}

typedef struct {
    const char *rev;
    int dry_run;
    int failed, changes;
} each_ctx;

static int status_one(const hfs_spec *s, void *arg)
{
    each_ctx *e = arg;
    hfs_spec sp = *s;
    if (e->rev && sp.repo.type != HFS_BUCKET) snprintf(sp.rev, sizeof sp.rev, "%s", e->rev);
    int n = hfs_overlay_status(&sp, stdout);
    if (n < 0)
        e->failed++;
    else
        e->changes += n;
    return 0;
}

static int push_one(const hfs_spec *s, void *arg)
{
    each_ctx *e = arg;
    hfs_spec sp = *s;
    if (e->rev && sp.repo.type != HFS_BUCKET) snprintf(sp.rev, sizeof sp.rev, "%s", e->rev);
    if (!hfs_overlay_dirty(&sp.repo)) return 0;
    if (hfs_push_repo(&sp, g_message, e->dry_run, stderr, NULL)) e->failed++;
    return 0;
}

/* hfrun status|discard|push ...: 0 if all went well, 1 if something failed, 2 on bad usage. */
static int subcommand(const char *cmd, char **args, int nargs, const char *rev)
{
    const char *pos[2] = {NULL, NULL};
    int npos = 0, dry_run = 0;
    for (int k = 0; k < nargs; k++) {
        if (!strcmp(args[k], "--message") && k + 1 < nargs)
            g_message = args[++k];
        else if (!strcmp(args[k], "--dry-run") && !strcmp(cmd, "push"))
            dry_run = 1;
        else if (args[k][0] == '-' || npos == 2) {
            fprintf(stderr, "hfrun %s: unexpected argument '%s'\n", cmd, args[k]);
            return 2;
        } else
            pos[npos++] = args[k];
    }
    hfs_spec sp;
    char sub[PATH_MAX];
    if (!strcmp(cmd, "discard")) {
        if (!pos[0]) {
            fprintf(stderr, "hfrun discard: which repo? usage: hfrun discard SPEC [PATH]\n");
            return 2;
        }
        if (parse_repo_spec(pos[0], rev, &sp, sub, sizeof sub)) return 2;
        if (pos[1] && sub[0]) {
            fprintf(stderr, "hfrun discard: give the path in SPEC or as PATH, not both\n");
            return 2;
        }
        return hfs_overlay_discard(&sp, pos[1] ? pos[1] : sub, stderr) ? 1 : 0;
    }
    if (pos[1]) {
        fprintf(stderr, "hfrun %s: unexpected argument '%s'\n", cmd, pos[1]);
        return 2;
    }
    each_ctx e = {rev, dry_run, 0, 0};
    int (*fn)(const hfs_spec *, void *) = !strcmp(cmd, "status") ? status_one : push_one;
    if (pos[0]) {
        if (parse_repo_spec(pos[0], rev, &sp, sub, sizeof sub)) return 2;
        if (sub[0]) {
            fprintf(stderr, "hfrun %s: SPEC names a repo, not a folder in it ('%s')\n", cmd, sub);
            return 2;
        }
        e.rev = NULL;
        if (fn == push_one && !hfs_overlay_dirty(&sp.repo)) {
            char key[HFS_ID_MAX + HFS_REV_MAX + 16];
            hfs_spec_key(&sp, key, sizeof key);
            fprintf(stderr, "hfrun: %s: nothing to push\n", key);
        }
        fn(&sp, &e);
    } else {
        int rc = hfs_overlay_repos(fn, &e);
        if (rc < 0) {
            fprintf(stderr, "hfrun %s: cannot list the overlay: %s\n", cmd, strerror(-rc));
            return 1;
        }
    }
    return e.failed ? 1 : 0;
}

/* A session pin file name (repo.c: the key with '/', '%', ':', '@' percent-encoded) -> the
 * spec it pins. */
static int pin_spec(const char *fname, hfs_spec *sp)
{
    char key[HFS_ID_MAX + HFS_REV_MAX + 16];
    if (hfs_pct_decode(fname, strlen(fname), key, sizeof key)) return -1;
    static const char *const types[] = {"model", "dataset", "space", "bucket"};
    char *colon = strchr(key, ':');
    if (!colon) return -1;
    memset(sp, 0, sizeof *sp);
    size_t tl = (size_t)(colon - key);
    int t = -1;
    for (int k = 0; k < 4; k++)
        if (strlen(types[k]) == tl && !strncmp(key, types[k], tl)) t = k;
    if (t < 0) return -1;
    sp->repo.type = (hfs_repo_type)t;
    char *id = colon + 1, *at = t == HFS_BUCKET ? NULL : strchr(id, '@');
    if (at) {
        *at = 0;
        snprintf(sp->rev, sizeof sp->rev, "%s", at + 1);
    }
    return hfs_fmt(sp->repo.id, sizeof sp->repo.id, "%s", id) ? -1 : 0;
}

typedef struct {
    hfs_spec *v;
    int n;
} pinned;

static int note_unpinned(const hfs_spec *s, void *arg)
{
    pinned *p = arg;
    for (int k = 0; k < p->n; k++)
        if (p->v[k].repo.type == s->repo.type && !strcmp(p->v[k].repo.id, s->repo.id)) return 0;
    if (hfs_overlay_dirty(&s->repo))
        fprintf(stderr,
                "hfrun: %s%s has local changes from an earlier session; `hfrun push %s%s` "
                "uploads them\n",
                hfs_type_url_prefix(s->repo.type), s->repo.id, hfs_type_url_prefix(s->repo.type),
                s->repo.id);
    return 0;
}

/* End of a session: every repo this job used (the session's pins say which, and at which
 * commit) whose overlay holds changes becomes one commit. Returns the number of failures. */
static int push_session(void)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/pins", g_session);
    pinned p = {NULL, 0};
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        hfs_spec sp;
        if (de->d_name[0] == '.' || pin_spec(de->d_name, &sp)) continue;
        /* One push per repo: the overlay is per repo, not per revision. A branch wins over a
         * sha or tag it was read at too; among branches, the first in name order. */
        int k = 0;
        while (k < p.n && (p.v[k].repo.type != sp.repo.type || strcmp(p.v[k].repo.id, sp.repo.id)))
            k++;
        if (k < p.n) {
            if (hfs_is_sha(p.v[k].rev) && !hfs_is_sha(sp.rev)) p.v[k] = sp;
            continue;
        }
        hfs_spec *nv = realloc(p.v, (size_t)(p.n + 1) * sizeof *nv);
        if (!nv) break;
        p.v = nv;
        p.v[p.n++] = sp;
    }
    if (d) closedir(d);
    int failed = 0;
    for (int k = 0; k < p.n; k++) {
        if (!hfs_overlay_dirty(&p.v[k].repo)) continue;
        if (hfs_push_repo(&p.v[k], g_message, 0, stderr, NULL)) failed++;
    }
    if (hfs_overlay_repos(note_unpinned, &p)) { /* only a note to the user is lost */
    }
    free(p.v);
    return failed;
}

static int note_kept(const hfs_spec *s, void *arg)
{
    (void)arg;
    if (hfs_overlay_dirty(&s->repo))
        fprintf(stderr, "hfrun: %s%s: local changes kept (no push); `hfrun status` lists them\n",
                hfs_type_url_prefix(s->repo.type), s->repo.id);
    return 0;
}

static int is_subcommand(const char *a)
{
    return !strcmp(a, "status") || !strcmp(a, "discard") || !strcmp(a, "push");
}

/* A mount named on the command line or in HF_MOUNTS: its repo and folder must exist now. Every
 * bad mount is reported (*(int *)arg becomes 2), not only the first. */
static int check_mount(const char *path, const hfs_spec *sp, const char *sub, void *arg)
{
    int err = 0;
    hfs_repo *r = hfs_repo_get(sp, &err);
    if (!r) {
        char key[HFS_ID_MAX + HFS_REV_MAX + 16];
        hfs_spec_key(sp, key, sizeof key);
        fprintf(stderr, "hfrun: cannot mount %s at %s: %s\n", key, path, strerror(-err));
        *(int *)arg = 2;
        return 0;
    }
    const hfs_ientry *e = sub[0] ? hfs_index_lookup(r->ix, sub, strlen(sub)) : NULL;
    if (sub[0] && (!e || !e->is_dir)) {
        fprintf(stderr, "hfrun: cannot mount %s at %s: it has no folder '%s'\n", r->key, path, sub);
        *(int *)arg = 2;
    }
    return 0;
}

/* What runs the command: the supervisor for programs LD_PRELOAD cannot reach (opt: 1 always,
 * -1 never, 0 when the probe says so). 1 to supervise, and *setid. */
static int want_supervisor(const char *cmd, int opt, int *setid)
{
    char what[PATH_MAX];
    int why = hfs_sv_probe(cmd, what, sizeof what);
    *setid = why == HFS_SV_SETID;
    if (opt < 0) return 0;
    if (why == HFS_SV_ELF32)
        fprintf(stderr,
                "hfshim: %s is a 32-bit program: neither the shim nor the supervisor serves it, "
                "it does not see /hf or the mounts\n",
                what);
    if (opt > 0) return 1;
    static const char *const how[] = {"", "statically linked", "a Go program", "setuid/setgid"};
    if (why < HFS_SV_STATIC || why > HFS_SV_SETID) return 0;
    fprintf(stderr, "hfrun: %s is %s: running it under the supervisor\n", what, how[why]);
    return 1;
}

static int too_long(const char *opt, const char *d)
{
    fprintf(stderr, "hfrun: %s %.200s...: path too long\n", opt, d);
    return 2;
}

int main(int argc, char **argv)
{
    char mounts[8192] = "";
    const char *rev = NULL;
    int i = 1, dashdash = 0, supervise = 0;
    const char *old_mounts = getenv("HF_MOUNTS");
    if (old_mounts) snprintf(mounts, sizeof mounts, "%s", old_mounts);
    char *specs[HFS_MAX_MOUNTS];
    int nspecs = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            dashdash = 1;
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
            if (hfs_fmt(p, sizeof p, "%s/hub", d)) return too_long("--cache-dir", d);
            setenv("HF_HUB_CACHE", p, 1);
            if (hfs_fmt(p, sizeof p, "%s/hfshim", d)) return too_long("--cache-dir", d);
            setenv("HF_SHIM_CACHE", p, 1);
        } else if (!strcmp(a, "--endpoint") && i + 1 < argc) {
            setenv("HF_ENDPOINT", argv[++i], 1);
        } else if (!strcmp(a, "--overlay") && i + 1 < argc) {
            /* Absolute: children may chdir anywhere, also into virtual directories. */
            const char *d = argv[++i];
            char p[PATH_MAX], cwd[PATH_MAX];
            if (d[0] != '/' && getcwd(cwd, sizeof cwd) ? hfs_fmt(p, sizeof p, "%s/%s", cwd, d)
                                                       : hfs_fmt(p, sizeof p, "%s", d))
                return too_long("--overlay", d);
            setenv("HF_SHIM_OVERLAY", p, 1);
        } else if ((!strcmp(a, "--message") || !strcmp(a, "-M")) && i + 1 < argc) {
            g_message = argv[++i];
        } else if (!strcmp(a, "--no-push")) {
            setenv("HF_NO_PUSH", "1", 1);
        } else if (!strcmp(a, "--supervise")) {
            supervise = 1;
        } else if (!strcmp(a, "--no-supervise")) {
            supervise = -1;
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
    if (!dashdash && is_subcommand(argv[i])) {
        hfs_net_set_static(hfs_net_ops_v2(NULL));
        hfs_cfg_reload();
        char base[PATH_MAX];
        if (!hfs_overlay_base(base, sizeof base)) fprintf(stderr, "hfrun: overlay: %s\n", base);
        return subcommand(argv[i], argv + i + 1, argc - i - 1, rev);
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
    hfs_net_set_static(hfs_net_ops_v2(NULL));
    hfs_cfg_reload();
    const hfs_config *c = hfs_cfg();
    hfs_vfs_init();
    char base[PATH_MAX];
    if (!hfs_overlay_base(base, sizeof base)) fprintf(stderr, "hfrun: overlay: %s\n", base);
    int status = 0;
    hfs_vfs_each_mount(check_mount, &status);
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
    int ws, setid;
    if (want_supervisor(argv[i], supervise, &setid)) {
        ws = hfs_sv_run(argv + i, lib, setid, &g_child);
        if (ws < 0) {
            nftw(g_session, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            return 126;
        }
    } else {
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
        while (waitpid(g_child, &ws, 0) < 0)
            if (errno != EINTR) {
                ws = 1 << 8;
                break;
            }
    }
    /* The command is gone: signals now stop hfrun itself (a push cut short loses nothing). */
    g_child = 0;
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    int failed = 0;
    if (c->no_push) {
        if (hfs_overlay_repos(note_kept, NULL)) { /* only a note to the user is lost */
        }
    } else
        failed = push_session(); /* while the session's pins still exist */
    nftw(g_session, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    int st = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
    if (failed) {
        fprintf(stderr,
                "hfrun: %d push(es) failed; the local changes are kept (`hfrun push` "
                "retries)\n",
                failed);
        if (st == 0) st = 3;
    }
    return st;
}
