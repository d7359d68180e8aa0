/* See exec_env.h. */
#include "exec_env.h"
#include "guard.h"
#include "vfs.h"

#include <stdlib.h>
#include <string.h>

/* Variables that define the virtual tree: a child that lost them would see another one. The
 * token is deliberately not carried (HF_TOKEN_PATH / $HF_HOME/token still work). */
static const char *const carry_names[] = {
    "HF_SHIM_PREFIX", "HF_MOUNTS",   "HF_SHIM_SESSION", "HF_SHIM_CACHE",  "HF_HOME",
    "HF_HUB_CACHE",   "HF_ENDPOINT", "HF_NO_PUSH",      "HF_HUB_OFFLINE", "HF_SHIM_OVERLAY",
};
#define NCARRY (sizeof carry_names / sizeof carry_names[0])
static char carry_buf[16384];
static const char *carry[NCARRY]; /* "NAME=value" in carry_buf, NULL when unset at start */
static char start_ld[4096];       /* LD_PRELOAD when this process started */

void hfs_exec_env_init(void)
{
    const char *ld = getenv("LD_PRELOAD");
    if (ld && strlen(ld) < sizeof start_ld) memcpy(start_ld, ld, strlen(ld) + 1);
    size_t used = 0;
    for (size_t i = 0; i < NCARRY; i++) {
        const char *v = getenv(carry_names[i]);
        if (!v) continue;
        size_t nl = strlen(carry_names[i]), vl = strlen(v);
        if (used + nl + vl + 2 > sizeof carry_buf) continue;
        char *e = carry_buf + used;
        memcpy(e, carry_names[i], nl);
        e[nl] = '=';
        memcpy(e + nl + 1, v, vl + 1);
        carry[i] = e;
        used += nl + vl + 2;
    }
}

static int is_var(const char *entry, const char *name, size_t nl)
{
    return !strncmp(entry, name, nl) && entry[nl] == '=';
}

static const char *base_name(const char *p, size_t len, size_t *blen)
{
    size_t i = len;
    while (i > 0 && p[i - 1] != '/') i--;
    *blen = len - i;
    return p + i;
}

/* Does the LD_PRELOAD value list this library (same path, or same file name)? */
static int lists_self(const char *v, const char *self)
{
    size_t sbl;
    const char *sb = base_name(self, strlen(self), &sbl);
    while (*v) {
        size_t l = strcspn(v, ": ");
        if (l) {
            size_t bl;
            const char *b = base_name(v, l, &bl);
            if ((l == strlen(self) && !strncmp(v, self, l)) || (bl == sbl && !strncmp(b, sb, bl)))
                return 1;
        }
        v += l;
        if (*v) v++;
    }
    return 0;
}

void hfs_exec_env_plan(char *const envp[], hfs_envplan *p)
{
    memset(p, 0, sizeof *p);
    p->self = HFS_CORE(hfs_vfs_self_path());
    p->pins = HFS_CORE(hfs_vfs_pins_env());
    if (!p->self) p->self = "";
    if (!p->pins) p->pins = "";
    size_t n = 0;
    for (; envp && envp[n]; n++)
        if (!p->old_ld && is_var(envp[n], "LD_PRELOAD", 10)) p->old_ld = envp[n];
    if (p->self[0] && !(p->old_ld && lists_self(p->old_ld + 11, p->self))) {
        if (p->old_ld && p->old_ld[11]) { /* theirs, then the shim (as hfrun orders them) */
            p->ld_a = p->old_ld + 11;
            p->ld_b = p->self;
        } else if (start_ld[0] && lists_self(start_ld, p->self)) {
            p->ld_a = start_ld; /* ours as we started, e.g. with a sanitizer runtime first */
        } else {
            p->ld_a = p->self;
        }
        p->ld_len = 11 + strlen(p->ld_a) + (p->ld_b ? 1 + strlen(p->ld_b) : 0) + 1;
    }
    if (p->pins[0]) p->pins_len = 13 + strlen(p->pins) + 1;
    p->n_out = n + 2 + NCARRY + 1;
}

void hfs_exec_env_build(char *const envp[], const hfs_envplan *p, char **out, char *ldbuf,
                        char *pinsbuf)
{
    size_t k = 0;
    int have_ld = 0, have_pins = 0, have[NCARRY] = {0};
    if (p->ld_len) {
        char *s = ldbuf;
        memcpy(s, "LD_PRELOAD=", 11);
        s += 11;
        size_t al = strlen(p->ld_a);
        memcpy(s, p->ld_a, al);
        s += al;
        if (p->ld_b) {
            *s++ = ':';
            size_t bl = strlen(p->ld_b);
            memcpy(s, p->ld_b, bl);
            s += bl;
        }
        *s = 0;
    }
    if (p->pins_len) {
        memcpy(pinsbuf, "HF_SHIM_PINS=", 13);
        memcpy(pinsbuf + 13, p->pins, strlen(p->pins) + 1);
    }
    for (size_t i = 0; envp && envp[i]; i++) {
        char *e = envp[i];
        if (is_var(e, "LD_PRELOAD", 10)) {
            if (have_ld) continue; /* one definition only */
            have_ld = 1;
            out[k++] = p->ld_len ? ldbuf : e;
            continue;
        }
        if (is_var(e, "HF_SHIM_PINS", 12) && p->pins_len) {
            if (!have_pins) out[k++] = pinsbuf;
            have_pins = 1;
            continue;
        }
        for (size_t c = 0; c < NCARRY; c++)
            if (is_var(e, carry_names[c], strlen(carry_names[c]))) have[c] = 1;
        out[k++] = e;
    }
    if (!have_ld && p->ld_len) out[k++] = ldbuf;
    if (!have_pins && p->pins_len) out[k++] = pinsbuf;
    for (size_t c = 0; c < NCARRY; c++)
        if (!have[c] && carry[c]) out[k++] = (char *)carry[c];
    out[k] = NULL;
}
