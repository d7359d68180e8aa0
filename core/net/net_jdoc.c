/* jsmn's implementation, once for the module (net_jdoc.h says why these settings). */
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "net_jdoc.h"
#include "grow.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hfs_jdoc_fail(char *err, size_t errsz, const char *why)
{
    if (errsz) snprintf(err, errsz, "%s", why);
    return -EIO;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Tokenizes the whole reply, growing the token array as jsmn asks for more (it resumes where
 * it stopped). 0, or -1 if the text is not one well-formed JSON object or array. */
int hfs_jdoc_parse(hfs_jdoc *d, const char *js, size_t len)
{
    memset(d, 0, sizeof *d);
    d->js = js;
    d->len = len;
    if (len == 0 || len > INT_MAX / 2) return -1;
    /* A counting pass (no token array) sizes the array exactly, so a page of many MB costs
     * one allocation of the right size; if the count is off (malformed text), grow and resume. */
    jsmn_parser p;
    jsmn_init(&p);
    int r = jsmn_parse(&p, js, len, NULL, 0);
    if (r < 1) return -1;
    size_t cap = (size_t)r + 1;
    jsmn_init(&p);
    for (;;) {
        jsmntok_t *nt = realloc(d->t, cap * sizeof *nt);
        if (!nt) return -1;
        d->t = nt;
        r = jsmn_parse(&p, js, len, d->t, (unsigned)cap);
        if (r != JSMN_ERROR_NOMEM) break;
        if (cap > (size_t)INT_MAX / 2) return -1;
        cap *= 2;
    }
    if (r < 1) return -1;
    d->n = r;
    jsmntok_t *root = &d->t[0];
    if ((root->type != JSMN_OBJECT && root->type != JSMN_ARRAY) || root->end < 0) return -1;
    for (size_t i = (size_t)root->end; i < len; i++)
        if (!is_ws(js[i])) return -1;
    return 0;
}

void hfs_jdoc_free(hfs_jdoc *d)
{
    free(d->t);
    d->t = NULL;
}

/* Index of the token after token i and everything inside it. Tokens are in document order, so
 * the subtree is the run of tokens that start before i ends. */
int hfs_jdoc_skip(const hfs_jdoc *d, int i)
{
    int j = i + 1;
    while (j < d->n && d->t[j].start < d->t[i].end) j++;
    return j;
}

size_t hfs_jdoc_len(const hfs_jdoc *d, int i)
{
    return (size_t)(d->t[i].end - d->t[i].start);
}

const char *hfs_jdoc_raw(const hfs_jdoc *d, int i)
{
    return d->js + d->t[i].start;
}

/* Raw comparison: keys are plain ASCII in every reply we read. */
int hfs_jdoc_key_is(const hfs_jdoc *d, int i, const char *k)
{
    size_t n = strlen(k);
    return d->t[i].type == JSMN_STRING && hfs_jdoc_len(d, i) == n &&
           !memcmp(hfs_jdoc_raw(d, i), k, n);
}

/* Walks the members of object `obj`: *key and *val get the token indexes; returns 0 at the
 * end, 1 for a member, -1 if the object is malformed (a key without exactly one value). The
 * cursor *it starts at obj+1. */
int hfs_jdoc_next_member(const hfs_jdoc *d, int obj, int *it, int *key, int *val)
{
    if (*it >= d->n || d->t[*it].start >= d->t[obj].end) return 0;
    int k = *it;
    if (d->t[k].type != JSMN_STRING || d->t[k].size != 1 || k + 1 >= d->n) return -1;
    *key = k;
    *val = k + 1;
    *it = hfs_jdoc_skip(d, k + 1);
    return 1;
}

/* Member `name` of object obj, or -1. */
int hfs_jdoc_member(const hfs_jdoc *d, int obj, const char *name)
{
    /* obj may be the -1 of a member that was not there: lookups chain. */
    if (obj < 0 || obj >= d->n || d->t[obj].type != JSMN_OBJECT) return -1;
    int it = obj + 1, k, v, r;
    while ((r = hfs_jdoc_next_member(d, obj, &it, &k, &v)) == 1)
        if (hfs_jdoc_key_is(d, k, name)) return v;
    return -1;
}

int hfs_json_hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *s, size_t len, size_t i, unsigned *out)
{
    if (i + 4 > len) return -1;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hfs_json_hexval((unsigned char)s[i + k]);
        if (h < 0) return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

long hfs_json_unescape(const char *s, size_t len, char *out)
{
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c != '\\') {
            if (c == 0) return -1;
            *o++ = c;
            continue;
        }
        if (++i >= len) return -1;
        switch (s[i]) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (hex4(s, len, i + 1, &cp)) return -1;
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return -1; /* low surrogate first */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (i + 2 >= len || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    hex4(s, len, i + 3, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return -1; /* would cut a C string short */
            /* \uXXXX is 6 bytes in and at most 3 out; a pair is 12 in and 4 out. */
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return -1;
        }
    }
    *o = 0;
    return (long)(o - out);
}
/* String token i unescaped into out (outsz bytes): length, or -1 if not a string, a bad
 * escape, or too long. */
long hfs_jdoc_str(const hfs_jdoc *d, int i, char *out, size_t outsz)
{
    if (i < 0 || d->t[i].type != JSMN_STRING) return -1;
    size_t n = hfs_jdoc_len(d, i);
    if (n < outsz) return hfs_json_unescape(hfs_jdoc_raw(d, i), n, out);
    /* The unescaped form may still fit (escapes shrink); unescape into scratch first. */
    char *tmp = malloc(n + 1);
    if (!tmp) return -1;
    long r = hfs_json_unescape(hfs_jdoc_raw(d, i), n, tmp);
    if (r >= 0 && (size_t)r < outsz)
        memcpy(out, tmp, (size_t)r + 1);
    else
        r = -1;
    free(tmp);
    return r;
}

/* A non-negative JSON integer. 0 or -1. */
int hfs_jdoc_u64(const hfs_jdoc *d, int i, uint64_t *v)
{
    if (i < 0 || d->t[i].type != JSMN_PRIMITIVE) return -1;
    const char *s = hfs_jdoc_raw(d, i);
    size_t n = hfs_jdoc_len(d, i);
    if (n == 0 || n > 20) return -1;
    uint64_t x = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9') return -1;
        unsigned dgt = (unsigned)(s[k] - '0');
        if (x > (UINT64_MAX - dgt) / 10) return -1;
        x = x * 10 + dgt;
    }
    *v = x;
    return 0;
}
int hfs_jdoc_is_null(const hfs_jdoc *d, int i)
{
    return i >= 0 && d->t[i].type == JSMN_PRIMITIVE && hfs_jdoc_raw(d, i)[0] == 'n';
}

char *hfs_jdoc_strdup(const hfs_jdoc *d, int i)
{
    if (i < 0 || d->t[i].type != JSMN_STRING) return NULL;
    size_t l = hfs_jdoc_len(d, i);
    char *s = malloc(l + 1);
    if (s && hfs_json_unescape(hfs_jdoc_raw(d, i), l, s) < 0) {
        free(s);
        s = NULL;
    }
    return s;
}

int hfs_jdoc_is_true(const hfs_jdoc *d, int i)
{
    return i >= 0 && d->t[i].type == JSMN_PRIMITIVE && hfs_jdoc_raw(d, i)[0] == 't';
}
