#include "grammar.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hfs_pct_decode(const char *in, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len) return -EINVAL;
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0) return -EINVAL;
            c = h * 16 + l;
            if (!c) return -EINVAL; /* "%00" would cut the string */
            i += 2;
        }
        if (o + 1 >= n) return -ENAMETOOLONG;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

int hfs_is_sha(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return i == 40;
}

/* Leading type segment: returns its length including '/', or 0 for a model id. */
static size_t type_prefix(const char *s, hfs_repo_type *t)
{
    size_t l = hfs_type_from_plural(s, t);
    if (l && s[l] == '/') return l + 1;
    *t = HFS_MODEL;
    return 0;
}

static int valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= HFS_ID_MAX / 2) return 0;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || s[i] == '@' || s[i] == '%' || (unsigned char)s[i] < 0x20) return 0;
    return 1;
}

/* Has s a "." or ".." component (anywhere, also last: "x/..")? */
static int dot_component(const char *s)
{
    for (const char *c = s; *c; c += strspn(c, "/")) {
        size_t cl = strcspn(c, "/");
        if ((cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.')) return 1;
        c += cl;
    }
    return 0;
}

/* Parses "org/name[@rev]" at s; sets *end after it. */
static int parse_org_name(const char *s, hfs_spec *out, const char **end)
{
    const char *slash = strchr(s, '/');
    if (!slash || !valid_name(s, (size_t)(slash - s))) return -EINVAL;
    const char *name = slash + 1;
    size_t nl = strcspn(name, "/@");
    if (!valid_name(name, nl)) return -EINVAL;
    if (hfs_fmt_id(out, s, (size_t)(name + nl - s))) return -EINVAL;
    const char *p = name + nl;
    out->rev[0] = 0;
    if (*p == '@') {
        if (out->repo.type == HFS_BUCKET) return -EINVAL;
        size_t rl = strcspn(p + 1, "/");
        if (rl == 0 || hfs_pct_decode(p + 1, rl, out->rev, sizeof out->rev) ||
            dot_component(out->rev)) /* the revision names a file under refs/ */
            return -EINVAL;
        p += 1 + rl;
    }
    *end = p;
    return 0;
}

int hfs_fmt_id(hfs_spec *out, const char *s, size_t len)
{
    if (len >= sizeof out->repo.id) return -ENAMETOOLONG;
    memcpy(out->repo.id, s, len);
    out->repo.id[len] = 0;
    return 0;
}

int hfs_parse_spec(const char *s, hfs_spec *out, char *sub, size_t subn)
{
    memset(out, 0, sizeof *out);
    if (!strncmp(s, "hf://", 5)) s += 5;
    while (*s == '/') s++;
    s += type_prefix(s, &out->repo.type);
    const char *p;
    if (parse_org_name(s, out, &p)) return -EINVAL;
    while (*p == '/') p++;
    size_t l = strlen(p);
    while (l && p[l - 1] == '/') l--;
    if (l >= subn) return -EINVAL;
    memcpy(sub, p, l);
    sub[l] = 0;
    if (dot_component(sub)) return -EINVAL;
    return 0;
}

int hfs_parse_vpath(const char *rel, hfs_vloc *out)
{
    memset(out, 0, sizeof *out);
    if (!*rel) {
        out->kind = HFS_VL_ROOT;
        return 0;
    }
    hfs_repo_type t;
    size_t tl = type_prefix(rel, &t);
    hfs_repo_type dt;
    size_t dl = tl ? 0 : hfs_type_from_plural(rel, &dt);
    if (dl && !rel[dl]) { /* "datasets" itself */
        out->kind = HFS_VL_TYPEDIR;
        out->spec.repo.type = dt;
        return 0;
    }
    out->spec.repo.type = t;
    const char *s = rel + tl;
    const char *slash = strchr(s, '/');
    if (!slash) {
        /* "<org>" alone (or "datasets/<org>") is a directory we cannot list. */
        size_t l = strlen(s);
        if (!valid_name(s, l) || hfs_fmt_id(&out->spec, s, l)) return -ENOENT;
        out->kind = HFS_VL_ORGDIR;
        return 0;
    }
    const char *p;
    if (parse_org_name(s, &out->spec, &p)) return -ENOENT;
    if (*p && *p != '/') return -ENOENT;
    out->kind = HFS_VL_REPO;
    out->path = *p ? p + 1 : p;
    return 0;
}

void hfs_spec_key(const hfs_spec *s, char *out, size_t n)
{
    static const char *tn[] = {"model", "dataset", "space", "bucket"};
    if (s->repo.type == HFS_BUCKET)
        snprintf(out, n, "bucket:%s", s->repo.id);
    else
        snprintf(out, n, "%s:%s@%s", tn[s->repo.type], s->repo.id, s->rev[0] ? s->rev : "main");
}
