/* Environment, read once, with the Hugging Face tools' precedence rules. */
#include "config.h"
#include "libc.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hfs_config g_cfg;
/* Room for every string at its longest; only what is used is written. */
static char g_strs[1024 + 5 * PATH_MAX + 8192 + 8];
static size_t g_used;
static char g_token[HFS_TOKEN_MAX];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_token_loaded;
static pthread_mutex_t g_token_lock = PTHREAD_MUTEX_INITIALIZER;

int hfs_env_true(const char *name)
{
    const char *v = getenv(name);
    if (!v) return 0;
    return !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "on");
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* Paths longer than PATH_MAX are cut; using the result keeps gcc's truncation check quiet. */
#define JOIN(dst, ...)                                                                             \
    do {                                                                                           \
        if (snprintf(dst, sizeof dst, __VA_ARGS__) >= (int)sizeof dst) dst[sizeof dst - 1] = 0;    \
    } while (0)

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Tokens may carry whitespace and newlines (files written by editors, `echo`). */
static void clean_token(char *t)
{
    size_t len = strlen(t);
    while (len && isspace((unsigned char)t[len - 1])) t[--len] = 0;
    size_t skip = 0;
    while (t[skip] && isspace((unsigned char)t[skip])) skip++;
    memmove(t, t + skip, len - skip + 1);
}

static void read_token_file(const char *path, char *out, size_t n)
{
    int fd = hfs_libc()->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return;
    ssize_t r = hfs_libc()->read(fd, out, n - 1);
    hfs_libc()->close(fd);
    out[r > 0 ? r : 0] = 0;
}

void hfs_cfg_prefix(char *out, size_t n)
{
    /* Absolute, without trailing '/'; "/" itself is refused (it would cover everything). */
    const char *pf = env("HF_SHIM_PREFIX") ? env("HF_SHIM_PREFIX") : "/hf";
    copy(out, n, pf);
    char *w = out; /* "//data//hf" -> "/data/hf": paths are compared normalized */
    for (const char *r = out; *r; r++)
        if (r[0] != '/' || r[1] != '/') *w++ = *r;
    *w = 0;
    for (size_t l = strlen(out); l > 1 && out[l - 1] == '/'; l--) out[l - 1] = 0;
    if (out[0] != '/' || !strcmp(out, "/")) copy(out, n, "/hf");
}

/* Keep s (cut to max - 1 bytes) in g_strs. */
static const char *keep(const char *s, size_t max)
{
    size_t l = strnlen(s ? s : "", max - 1);
    char *p = g_strs + g_used;
    memcpy(p, s ? s : "", l);
    p[l] = 0;
    g_used += l + 1;
    return p;
}

static int g_loaded; /* atomic: load() ran to its end once */

void hfs_cfg_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_token_lock = fresh;
    /* A parent thread in the middle of the first load: the child loads for itself. */
    if (!__atomic_load_n(&g_loaded, __ATOMIC_ACQUIRE)) {
        pthread_once_t once = PTHREAD_ONCE_INIT;
        g_once = once;
    }
}

static void load(void)
{
    hfs_config *c = &g_cfg;
    g_used = 0;
    char buf[PATH_MAX];

    copy(buf, 1024,
         env("HF_ENDPOINT")                       ? env("HF_ENDPOINT")
         : hfs_env_true("HUGGINGFACE_CO_STAGING") ? "https://hub-ci.huggingface.co"
                                                  : "https://huggingface.co");
    for (size_t l = strlen(buf); l && buf[l - 1] == '/'; l--) buf[l - 1] = 0;
    c->endpoint = keep(buf, 1024);

    if (env("HF_HOME"))
        copy(buf, sizeof buf, env("HF_HOME"));
    else if (env("XDG_CACHE_HOME"))
        JOIN(buf, "%s/huggingface", env("XDG_CACHE_HOME"));
    else
        JOIN(buf, "%s/.cache/huggingface", env("HOME") ? env("HOME") : "/tmp");
    c->hf_home = keep(buf, PATH_MAX);

    if (env("HF_HUB_CACHE"))
        copy(buf, sizeof buf, env("HF_HUB_CACHE"));
    else if (env("HUGGINGFACE_HUB_CACHE"))
        copy(buf, sizeof buf, env("HUGGINGFACE_HUB_CACHE"));
    else
        JOIN(buf, "%s/hub", c->hf_home);
    c->hub_cache = keep(buf, PATH_MAX);

    if (env("HF_SHIM_CACHE"))
        copy(buf, sizeof buf, env("HF_SHIM_CACHE"));
    else
        JOIN(buf, "%s/hfshim", c->hf_home);
    c->shim_cache = keep(buf, PATH_MAX);

    g_token_loaded = 0; /* read on first use: a process that never uses the Hub reads no file */

    hfs_cfg_prefix(buf, sizeof buf);
    c->prefix = keep(buf, PATH_MAX);

    c->mounts = keep(env("HF_MOUNTS"), 8192);
    c->session = keep(env("HF_SHIM_SESSION"), PATH_MAX);
    c->offline = hfs_env_true("HF_HUB_OFFLINE") || hfs_env_true("TRANSFORMERS_OFFLINE");
    c->no_push = hfs_env_true("HF_NO_PUSH");
    c->rev_ttl = env("HF_SHIM_REVISION_TTL") ? atoi(env("HF_SHIM_REVISION_TTL")) : 60;
    if (c->rev_ttl < 0) c->rev_ttl = 0;
    c->timeout = env("HF_SHIM_TIMEOUT") ? atoi(env("HF_SHIM_TIMEOUT")) : 30;
    if (c->timeout <= 0) c->timeout = 30;
    c->prefetch = env("HF_SHIM_PREFETCH") ? atoi(env("HF_SHIM_PREFETCH")) : 8;
    if (c->prefetch < 0) c->prefetch = 0;
    if (c->prefetch > 8) c->prefetch = 8; /* the transfer slots of one run */
    __atomic_store_n(&g_loaded, 1, __ATOMIC_RELEASE);
}

const hfs_config *hfs_cfg(void)
{
    pthread_once(&g_once, load);
    return &g_cfg;
}

void hfs_cfg_reload(void)
{
    pthread_once(&g_once, load);
    load();
}

const char *hfs_cfg_token(void)
{
    const hfs_config *c = hfs_cfg();
    if (__atomic_load_n(&g_token_loaded, __ATOMIC_ACQUIRE)) return g_token;
    pthread_mutex_lock(&g_token_lock);
    if (!g_token_loaded) {
        g_token[0] = 0;
        if (env("HF_TOKEN"))
            copy(g_token, sizeof g_token, env("HF_TOKEN"));
        else if (env("HUGGING_FACE_HUB_TOKEN"))
            copy(g_token, sizeof g_token, env("HUGGING_FACE_HUB_TOKEN"));
        else if (env("HF_TOKEN_PATH"))
            read_token_file(env("HF_TOKEN_PATH"), g_token, sizeof g_token);
        else {
            char p[PATH_MAX + 8];
            JOIN(p, "%s/token", c->hf_home);
            read_token_file(p, g_token, sizeof g_token);
        }
        clean_token(g_token);
        __atomic_store_n(&g_token_loaded, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_token_lock);
    return g_token;
}
