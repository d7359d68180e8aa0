/* core/base/config.h: settings from the environment, with the Hugging Face tools' precedence. */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "config.h"

/* Every variable the config reads: cleared before each test, restored after it. */
static const char *const vars[] = {
    "HF_ENDPOINT",
    "HUGGINGFACE_CO_STAGING",
    "HF_HOME",
    "XDG_CACHE_HOME",
    "HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_SHIM_CACHE",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_SHIM_PREFIX",
    "HF_MOUNTS",
    "HF_SHIM_SESSION",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_NO_PUSH",
    "HF_SHIM_REVISION_TTL",
    "HF_SHIM_TIMEOUT",
};
#define NVARS (sizeof vars / sizeof vars[0])
static char *saved[NVARS];
static char g_dir[PATH_MAX]; /* stands in for $HOME, so no real token is ever read */

static void setup(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "config");
    setenv("HOME", g_dir, 1);
}

static void teardown(void)
{
    hfs_ut_rmtree(g_dir);
    for (size_t i = 0; i < NVARS; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
        saved[i] = NULL;
    }
    hfs_cfg_reload();
}

static const hfs_config *reload(void)
{
    hfs_cfg_reload();
    return hfs_cfg();
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void sub(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

START_TEST(defaults)
{
    const hfs_config *c = reload();
    char want[PATH_MAX + 64];
    ck_assert_str_eq(c->endpoint, "https://huggingface.co");
    snprintf(want, sizeof want, "%s/.cache/huggingface", g_dir);
    ck_assert_str_eq(c->hf_home, want);
    snprintf(want, sizeof want, "%s/.cache/huggingface/hub", g_dir);
    ck_assert_str_eq(c->hub_cache, want);
    snprintf(want, sizeof want, "%s/.cache/huggingface/hfshim", g_dir);
    ck_assert_str_eq(c->shim_cache, want);
    ck_assert_str_eq(hfs_cfg_token(), "");
    ck_assert_str_eq(c->prefix, "/hf");
    ck_assert_str_eq(c->mounts, "");
    ck_assert_str_eq(c->session, "");
    ck_assert_int_eq(c->offline, 0);
    ck_assert_int_eq(c->no_push, 0);
    ck_assert_int_eq(c->rev_ttl, 60);
    ck_assert_int_eq(c->timeout, 30);
    ck_assert_ptr_eq(hfs_cfg(), c); /* one object, re-read in place */
}
END_TEST

START_TEST(endpoint)
{
    setenv("HF_ENDPOINT", "http://127.0.0.1:8080/", 1);
    ck_assert_str_eq(reload()->endpoint, "http://127.0.0.1:8080");
    setenv("HF_ENDPOINT", "https://hub.example.org///", 1);
    ck_assert_str_eq(reload()->endpoint, "https://hub.example.org");
    setenv("HF_ENDPOINT", "https://hub.example.org/mirror", 1);
    ck_assert_str_eq(reload()->endpoint, "https://hub.example.org/mirror");
    setenv("HF_ENDPOINT", "", 1); /* empty is unset */
    ck_assert_str_eq(reload()->endpoint, "https://huggingface.co");
    unsetenv("HF_ENDPOINT");
    setenv("HUGGINGFACE_CO_STAGING", "1", 1);
    ck_assert_str_eq(reload()->endpoint, "https://hub-ci.huggingface.co");
    setenv("HF_ENDPOINT", "http://h:1", 1); /* explicit wins */
    ck_assert_str_eq(reload()->endpoint, "http://h:1");
}
END_TEST

START_TEST(cache_dirs)
{
    const hfs_config *c;
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    c = reload();
    ck_assert_str_eq(c->hf_home, "/xdg/huggingface");
    ck_assert_str_eq(c->hub_cache, "/xdg/huggingface/hub");
    ck_assert_str_eq(c->shim_cache, "/xdg/huggingface/hfshim");

    setenv("HF_HOME", "/data/hfhome", 1); /* wins over XDG_CACHE_HOME */
    c = reload();
    ck_assert_str_eq(c->hf_home, "/data/hfhome");
    ck_assert_str_eq(c->hub_cache, "/data/hfhome/hub");
    ck_assert_str_eq(c->shim_cache, "/data/hfhome/hfshim");

    setenv("HUGGINGFACE_HUB_CACHE", "/legacy/hub", 1); /* the legacy name still counts */
    c = reload();
    ck_assert_str_eq(c->hub_cache, "/legacy/hub");
    ck_assert_str_eq(c->shim_cache, "/data/hfhome/hfshim"); /* under HF_HOME, not the hub cache */

    setenv("HF_HUB_CACHE", "/new/hub", 1); /* the current name wins over the legacy one */
    c = reload();
    ck_assert_str_eq(c->hub_cache, "/new/hub");
    ck_assert_str_eq(c->hf_home, "/data/hfhome");

    setenv("HF_SHIM_CACHE", "/fast/shim", 1);
    c = reload();
    ck_assert_str_eq(c->shim_cache, "/fast/shim");
    ck_assert_str_eq(c->hub_cache, "/new/hub");

    setenv("HF_HUB_CACHE", "", 1); /* empty is unset: back to the legacy name */
    c = reload();
    ck_assert_str_eq(c->hub_cache, "/legacy/hub");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_SHIM_CACHE");
    setenv("HF_HOME", "", 1);
    c = reload();
    ck_assert_str_eq(c->hf_home, "/xdg/huggingface");
    ck_assert_str_eq(c->hub_cache, "/xdg/huggingface/hub");
}
END_TEST

START_TEST(token_env)
{
    char home[PATH_MAX], tok[PATH_MAX + 16];
    sub(home, sizeof home, "home");
    ck_assert_int_eq(mkdir(home, 0700), 0);
    setenv("HF_HOME", home, 1);
    snprintf(tok, sizeof tok, "%s/token", home);
    put(tok, "hf_from_home_file\n");

    setenv("HF_TOKEN", "hf_from_env", 1); /* the variable wins over any file */
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_from_env");
    setenv("HF_TOKEN", "  hf_padded \n", 1);
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_padded");
    unsetenv("HF_TOKEN");
    setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy", 1);
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_legacy");
    setenv("HF_TOKEN", "hf_new", 1);
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_new");
    setenv("HF_TOKEN", "", 1); /* empty is unset */
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_from_home_file");
}
END_TEST

START_TEST(token_files)
{
    char home[PATH_MAX], tok[PATH_MAX + 16], other[PATH_MAX];
    sub(home, sizeof home, "home");
    ck_assert_int_eq(mkdir(home, 0700), 0);
    setenv("HF_HOME", home, 1);
    reload();
    ck_assert_str_eq(hfs_cfg_token(), ""); /* no file yet */

    snprintf(tok, sizeof tok, "%s/token", home);
    put(tok, "hf_home_tok\r\n");
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_home_tok");

    sub(other, sizeof other, "elsewhere-token");
    put(other, " \t hf_path_tok \n\n");
    setenv("HF_TOKEN_PATH", other, 1); /* wins over $HF_HOME/token */
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_path_tok");

    put(other, "hf_no_newline");
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_no_newline");

    put(other, "\n\n  \n");
    ck_assert_str_eq((reload(), hfs_cfg_token()), "");

    /* HF_TOKEN_PATH names the one file to read (as huggingface_hub): a missing one means no
     * token, not a fallback to $HF_HOME/token. */
    unlink(other);
    ck_assert_str_eq((reload(), hfs_cfg_token()), "");

    setenv("HF_TOKEN", "hf_env", 1);
    put(other, "hf_path_tok");
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_env");

    /* The default HF_HOME's token file. */
    unsetenv("HF_TOKEN");
    unsetenv("HF_TOKEN_PATH");
    unsetenv("HF_HOME");
    char dflt[PATH_MAX + 32];
    snprintf(dflt, sizeof dflt, "%s/.cache", g_dir);
    ck_assert_int_eq(mkdir(dflt, 0700), 0);
    snprintf(dflt, sizeof dflt, "%s/.cache/huggingface", g_dir);
    ck_assert_int_eq(mkdir(dflt, 0700), 0);
    snprintf(dflt, sizeof dflt, "%s/.cache/huggingface/token", g_dir);
    put(dflt, "hf_default_home\n");
    ck_assert_str_eq((reload(), hfs_cfg_token()), "hf_default_home");
}
END_TEST

START_TEST(prefix)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"/data/hf/", "/data/hf"},
        {"/data/hf", "/data/hf"},
        {"/data/hf///", "/data/hf"},
        {"//data//hf/", "/data/hf"},
        {"/x", "/x"},
        {"relative", "/hf"},
        {"data/hf/", "/hf"},
        {"/", "/hf"},
        {"///", "/hf"},
        {"", "/hf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("HF_SHIM_PREFIX", cases[i].in, 1);
        const char *got = reload()->prefix;
        ck_assert_msg(!strcmp(got, cases[i].want), "HF_SHIM_PREFIX=\"%s\" -> \"%s\", want \"%s\"",
                      cases[i].in, got, cases[i].want);
    }
}
END_TEST

START_TEST(flags)
{
    static const char *yes[] = {"1", "true", "TRUE", "yes", "On"};
    static const char *no[] = {"0", "false", "no", "off", "", "2"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        setenv("HF_HUB_OFFLINE", yes[i], 1);
        setenv("HF_NO_PUSH", yes[i], 1);
        const hfs_config *c = reload();
        ck_assert_msg(c->offline == 1, "HF_HUB_OFFLINE=%s", yes[i]);
        ck_assert_msg(c->no_push == 1, "HF_NO_PUSH=%s", yes[i]);
        ck_assert_int_eq(hfs_env_true("HF_NO_PUSH"), 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        setenv("HF_HUB_OFFLINE", no[i], 1);
        setenv("HF_NO_PUSH", no[i], 1);
        const hfs_config *c = reload();
        ck_assert_msg(c->offline == 0, "HF_HUB_OFFLINE=%s", no[i]);
        ck_assert_msg(c->no_push == 0, "HF_NO_PUSH=%s", no[i]);
        ck_assert_int_eq(hfs_env_true("HF_NO_PUSH"), 0);
    }
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_NO_PUSH");
    ck_assert_int_eq(hfs_env_true("HF_NO_PUSH"), 0);
    setenv("TRANSFORMERS_OFFLINE", "1", 1); /* the older name also means offline */
    ck_assert_int_eq(reload()->offline, 1);
    ck_assert_int_eq(reload()->no_push, 0);
}
END_TEST

START_TEST(numbers_and_raw)
{
    ck_assert_int_eq(reload()->rev_ttl, 60);
    setenv("HF_SHIM_REVISION_TTL", "0", 1);
    ck_assert_int_eq(reload()->rev_ttl, 0);
    setenv("HF_SHIM_REVISION_TTL", "3600", 1);
    ck_assert_int_eq(reload()->rev_ttl, 3600);
    setenv("HF_SHIM_REVISION_TTL", "-5", 1);
    ck_assert_int_eq(reload()->rev_ttl, 0);
    setenv("HF_SHIM_REVISION_TTL", "", 1);
    ck_assert_int_eq(reload()->rev_ttl, 60);

    ck_assert_int_eq(reload()->timeout, 30);
    setenv("HF_SHIM_TIMEOUT", "5", 1);
    ck_assert_int_eq(reload()->timeout, 5);
    setenv("HF_SHIM_TIMEOUT", "0", 1);
    ck_assert_int_eq(reload()->timeout, 30);

    const char *m = "/var/tmp/neuron-compile-cache=buckets/acme/cache;/models/tiny=acme/tiny@main";
    setenv("HF_MOUNTS", m, 1);
    setenv("HF_SHIM_SESSION", "/tmp/sess", 1);
    const hfs_config *c = reload();
    ck_assert_str_eq(c->mounts, m);
    ck_assert_str_eq(c->session, "/tmp/sess");
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("env");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, endpoint);
    tcase_add_test(tc, cache_dirs);
    tcase_add_test(tc, token_env);
    tcase_add_test(tc, token_files);
    tcase_add_test(tc, prefix);
    tcase_add_test(tc, flags);
    tcase_add_test(tc, numbers_and_raw);
    suite_add_tcase(s, tc);
    return s;
}
