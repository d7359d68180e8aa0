/* Hub reply parsing (listings, revisions) on net_jdoc.h. jsmn tokenizes in place (no copies);
 * strings are unescaped only when we keep them. */
#include "net_json.h"
#include "net_jdoc.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef hfs_jdoc doc;

/* A hash of exactly `want` hex digits, lowercased into out[want+1]; else out = "". */
static void tok_hex(const doc *d, int i, char *out, size_t want)
{
    out[0] = 0;
    if (d->t[i].type != JSMN_STRING || hfs_jdoc_len(d, i) != want) return;
    const char *s = hfs_jdoc_raw(d, i);
    for (size_t k = 0; k < want; k++) {
        int h = hfs_json_hexval((unsigned char)s[k]);
        if (h < 0) {
            out[0] = 0;
            return;
        }
        out[k] = "0123456789abcdef"[h];
    }
    out[want] = 0;
}

/* A timestamp given as an ISO string, or as a number of seconds or milliseconds. */
static int tok_time(const doc *d, int i, int64_t *out)
{
    if (d->t[i].type == JSMN_STRING)
        return hfs_iso8601(hfs_jdoc_raw(d, i), hfs_jdoc_len(d, i), out);
    uint64_t v;
    if (hfs_jdoc_u64(d, i, &v)) return -1;
    /* Bucket batches send mtime in ms; anything past year 5000 in seconds is ms. */
    *out = (int64_t)(v > 100000000000ULL ? v / 1000 : v);
    return 0;
}

static int parse_num(const char *s, size_t len, size_t *i, int digits, int *out)
{
    if (*i + (size_t)digits > len) return -1;
    int v = 0;
    for (int k = 0; k < digits; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)digits;
    *out = v;
    return 0;
}

int hfs_iso8601(const char *s, size_t len, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, se = 0, off = 0;
    if (parse_num(s, len, &i, 4, &y) || i >= len || s[i++] != '-' ||
        parse_num(s, len, &i, 2, &mo) || i >= len || s[i++] != '-' || parse_num(s, len, &i, 2, &d))
        return -1;
    if (i < len) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return -1;
        i++;
        if (parse_num(s, len, &i, 2, &h) || i >= len || s[i++] != ':' ||
            parse_num(s, len, &i, 2, &mi))
            return -1;
        if (i < len && s[i] == ':') {
            i++;
            if (parse_num(s, len, &i, 2, &se)) return -1;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                size_t f = i;
                while (i < len && s[i] >= '0' && s[i] <= '9') i++;
                if (i == f) return -1;
            }
        }
        if (i < len) {
            if (s[i] == 'Z' || s[i] == 'z') {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
                if (parse_num(s, len, &i, 2, &oh)) return -1;
                if (i < len && s[i] == ':') i++;
                if (i < len && parse_num(s, len, &i, 2, &om)) return -1;
                off = sign * (oh * 3600 + om * 60);
            } else {
                return -1;
            }
        }
        if (i != len) return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31)) return -1;
    *out = (int64_t)t - off;
    return 0;
}

/* A repo path we can mirror as a local path: relative, no empty, "." or ".." components. */
static int safe_path(const char *p)
{
    if (!*p || *p == '/') return 0;
    for (const char *c = p;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return 0;
        if (!e) return 1;
        c = e + 1;
    }
}

enum { ENTRY_OK = 0, ENTRY_SKIP = 1, ENTRY_BAD = -1 };

#define BAD_SIZE "its size is not a whole number from 0 to 2^63 - 1"
#define BAD_PATH "its path is not relative (absolute, or an empty, '.' or '..' component)"

/* A path string into *buf, grown as needed: 1, 0 if it is not a valid string (*buf = ""), -1
 * if out of memory. */
static int take_path(const doc *d, int v, char **buf, size_t *cap)
{
    size_t n = hfs_jdoc_len(d, v) + 1;
    if (n > *cap) {
        char *nb = realloc(*buf, n);
        if (!nb) return -1;
        *buf = nb;
        *cap = n;
    }
    if (hfs_jdoc_str(d, v, *buf, *cap) >= 0) return 1;
    (*buf)[0] = 0;
    return 0;
}

/* A file size: 0, or -1 if it is not a whole number from 0 to 2^63 - 1 (off_t is signed: a
 * larger one cannot be a file's, and would wrap). */
static int take_size(const doc *d, int v, uint64_t *size)
{
    return hfs_jdoc_u64(d, v, size) || *size > (uint64_t)INT64_MAX ? -1 : 0;
}

/* The content sha256 of an "lfs" object: "oid" in tree entries, "sha256" in siblings. */
static void take_lfs(const doc *d, int v, char out[65])
{
    if (d->t[v].type != JSMN_OBJECT) return;
    int o = hfs_jdoc_member(d, v, "oid");
    if (o < 0) o = hfs_jdoc_member(d, v, "sha256");
    if (o >= 0) tok_hex(d, o, out, 64);
}

/* What parsing an entry object starts with: room for its path, and the object itself. 0, or
 * 1 with *why set. */
static int entry_start(const doc *d, int obj, hfs_tree_entry *e, char **buf, size_t *cap,
                       const char **why)
{
    if (*cap < 1 && !(*buf = malloc(*cap = 256))) return 1;
    (*buf)[0] = 0;
    *why = "not a JSON object";
    if (d->t[obj].type != JSMN_OBJECT) return 1;
    memset(e, 0, sizeof *e);
    return 0;
}

/* One entry object into e; the path goes into *buf (grown as needed). ENTRY_BAD: *why says
 * what is wrong with it (and *buf holds its path if it had a usable one, else ""). */
static int parse_entry(const doc *d, int obj, hfs_tree_entry *e, char **buf, size_t *cap,
                       const char **why)
{
    if (entry_start(d, obj, e, buf, cap, why)) return ENTRY_BAD;
    int type = -1, have_path = 0, it = obj + 1, k, v, r;
    int64_t uploaded = 0;
    const char *bad = NULL; /* the first unusable member */
    while ((r = hfs_jdoc_next_member(d, obj, &it, &k, &v)) == 1) {
        if (hfs_jdoc_key_is(d, k, "type")) {
            if (hfs_jdoc_key_is(d, v, "file"))
                type = 0;
            else if (hfs_jdoc_key_is(d, v, "directory"))
                type = 1;
            else
                type = 2;
        } else if (hfs_jdoc_key_is(d, k, "path")) {
            int p = take_path(d, v, buf, cap);
            if (p < 0) return ENTRY_BAD;
            if (!p && !bad) bad = "its path is not a valid string";
            have_path |= p;
        } else if (hfs_jdoc_key_is(d, k, "size")) {
            if (hfs_jdoc_is_null(d, v)) continue;
            if (take_size(d, v, &e->size) && !bad) bad = BAD_SIZE;
        } else if (hfs_jdoc_key_is(d, k, "oid")) {
            tok_hex(d, v, e->oid, 40);
        } else if (hfs_jdoc_key_is(d, k, "xetHash")) {
            tok_hex(d, v, e->xet_hash, 64);
        } else if (hfs_jdoc_key_is(d, k, "lfs")) {
            take_lfs(d, v, e->lfs_sha256);
        } else if (hfs_jdoc_key_is(d, k, "mtime")) {
            if (tok_time(d, v, &e->mtime)) e->mtime = 0;
        } else if (hfs_jdoc_key_is(d, k, "uploadedAt")) {
            if (tok_time(d, v, &uploaded)) uploaded = 0;
        } else if (hfs_jdoc_key_is(d, k, "lastCommit") && d->t[v].type == JSMN_OBJECT &&
                   !e->mtime) {
            int dt = hfs_jdoc_member(d, v, "date");
            if (dt >= 0 && tok_time(d, dt, &e->mtime)) e->mtime = 0;
        }
    }
    *why = r < 0                           ? "malformed"
           : bad                           ? bad
           : type < 0                      ? "it has no type"
           : !have_path                    ? "it has no path"
           : type != 2 && !safe_path(*buf) ? BAD_PATH
                                           : NULL;
    if (*why) return ENTRY_BAD;
    if (type == 2) return ENTRY_SKIP; /* a kind of entry this version does not know */
    e->is_dir = type == 1;
    if (e->is_dir) e->size = 0;
    if (!e->mtime) e->mtime = uploaded;
    e->path = *buf;
    return ENTRY_OK;
}

/* One bad entry must not make the whole repo unreadable: it is counted, the caller warns. */
static void note_skip(hfs_json_skips *skips, const char *path, const char *why)
{
    if (skips && !skips->n++) {
        snprintf(skips->path, sizeof skips->path, "%s", path);
        snprintf(skips->why, sizeof skips->why, "%s", why);
    }
}

typedef int (*entry_parse_fn)(const doc *d, int obj, hfs_tree_entry *e, char **buf, size_t *cap,
                              const char **why);

/* cb for each usable entry of array arr (a tree page, or a revision's siblings), each parsed by
 * parse; unusable ones are counted in *skips. 0, 1 if cb asked to stop, -EIO out of memory. */
static int each_entry(const doc *d, int arr, entry_parse_fn parse, hfs_entry_cb cb, void *arg,
                      char *err, size_t errsz, hfs_json_skips *skips)
{
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int i = arr + 1; i < d->n && d->t[i].start < d->t[arr].end; i = hfs_jdoc_skip(d, i)) {
        hfs_tree_entry e;
        const char *why = NULL;
        int r = parse(d, i, &e, &buf, &cap, &why);
        if (r == ENTRY_BAD && !buf) {
            rc = hfs_jdoc_fail(err, errsz, "out of memory");
            break;
        }
        if (r == ENTRY_BAD) {
            note_skip(skips, buf, why);
            continue;
        }
        if (r == ENTRY_SKIP) continue;
        if (cb(&e, arg)) {
            rc = 1;
            break;
        }
    }
    free(buf);
    return rc;
}

int hfs_json_entries(const char *js, size_t len, hfs_entry_cb cb, void *arg, char *err,
                     size_t errsz, hfs_json_skips *skips)
{
    if (skips) memset(skips, 0, sizeof *skips);
    doc d;
    if (hfs_jdoc_parse(&d, js, len)) {
        hfs_jdoc_free(&d);
        return hfs_jdoc_fail(err, errsz, "reply was not valid JSON");
    }
    if (d.t[0].type != JSMN_ARRAY) {
        hfs_jdoc_free(&d);
        return hfs_jdoc_fail(err, errsz, "reply was not a JSON array of entries");
    }
    int rc = each_entry(&d, 0, parse_entry, cb, arg, err, errsz, skips);
    hfs_jdoc_free(&d);
    return rc;
}

/* "sha" and "lastModified" of a revision reply's root object. */
static int revision_fields(const doc *d, char sha[41], int64_t *mtime, char *err, size_t errsz)
{
    int v = hfs_jdoc_member(d, 0, "sha");
    char s[41] = "";
    if (v >= 0) tok_hex(d, v, s, 40);
    if (!s[0]) return hfs_jdoc_fail(err, errsz, "reply had no valid commit sha");
    memcpy(sha, s, 41);
    int64_t t = 0;
    v = hfs_jdoc_member(d, 0, "lastModified");
    if (v < 0 || tok_time(d, v, &t)) t = 0;
    if (mtime) *mtime = t;
    return 0;
}

int hfs_json_revision(const char *js, size_t len, char sha[41], int64_t *mtime, char *err,
                      size_t errsz)
{
    doc d;
    int rc = hfs_jdoc_parse(&d, js, len) || d.t[0].type != JSMN_OBJECT
                 ? hfs_jdoc_fail(err, errsz, "reply was not valid JSON")
                 : revision_fields(&d, sha, mtime, err, errsz);
    hfs_jdoc_free(&d);
    return rc;
}

/* Whether siblings (array token arr) can stand for the tree listing. huggingface_hub trusts
 * them only when there are 1 to 1,000 (the Hub may truncate a longer list, or send none), and
 * each must carry its size and blob id (a reply to a request without blobs=true has neither).
 * Elements that are not objects are bad entries, skipped later as in a tree page. */
static int siblings_reliable(const doc *d, int arr)
{
    if (arr < 0 || d->t[arr].type != JSMN_ARRAY) return 0;
    if (d->t[arr].size < 1 || d->t[arr].size > HFS_SIBLINGS_MAX) return 0;
    for (int i = arr + 1; i < d->n && d->t[i].start < d->t[arr].end; i = hfs_jdoc_skip(d, i)) {
        if (d->t[i].type != JSMN_OBJECT) continue;
        int sz = hfs_jdoc_member(d, i, "size"), b = hfs_jdoc_member(d, i, "blobId");
        if (sz < 0 || b < 0 || hfs_jdoc_is_null(d, sz)) return 0;
    }
    return 1;
}

/* One sibling {"rfilename","blobId","size","lfs":{"sha256"}} as the tree entry the listing
 * gives for the same file: oid = blobId (the git blob sha1, of the pointer for LFS files),
 * lfs_sha256 = lfs.sha256, size = the content's size; no mtime (nor does the tree without
 * expand) and no xetHash (siblings do not carry it; only buckets' indexes use it). */
static int parse_sibling(const doc *d, int obj, hfs_tree_entry *e, char **buf, size_t *cap,
                         const char **why)
{
    if (entry_start(d, obj, e, buf, cap, why)) return ENTRY_BAD;
    int have_path = 0, it = obj + 1, k, v, r;
    const char *bad = NULL;
    while ((r = hfs_jdoc_next_member(d, obj, &it, &k, &v)) == 1) {
        if (hfs_jdoc_key_is(d, k, "rfilename")) {
            int p = take_path(d, v, buf, cap);
            if (p < 0) return ENTRY_BAD;
            if (!p && !bad) bad = "its path is not a valid string";
            have_path |= p;
        } else if (hfs_jdoc_key_is(d, k, "size")) {
            if (take_size(d, v, &e->size) && !bad) bad = BAD_SIZE;
        } else if (hfs_jdoc_key_is(d, k, "blobId")) {
            tok_hex(d, v, e->oid, 40);
        } else if (hfs_jdoc_key_is(d, k, "lfs")) {
            take_lfs(d, v, e->lfs_sha256);
        }
    }
    *why = r < 0              ? "malformed"
           : bad              ? bad
           : !have_path       ? "it has no path"
           : !safe_path(*buf) ? BAD_PATH
                              : NULL;
    if (*why) return ENTRY_BAD;
    e->path = *buf;
    return ENTRY_OK;
}

int hfs_json_revision_listing(const char *js, size_t len, char sha[41], int64_t *mtime,
                              hfs_entry_cb cb, void *arg, int *listed, char *err, size_t errsz,
                              hfs_json_skips *skips)
{
    if (skips) memset(skips, 0, sizeof *skips);
    *listed = 0;
    doc d;
    int rc = hfs_jdoc_parse(&d, js, len) || d.t[0].type != JSMN_OBJECT
                 ? hfs_jdoc_fail(err, errsz, "reply was not valid JSON")
                 : revision_fields(&d, sha, mtime, err, errsz);
    int arr = rc ? -1 : hfs_jdoc_member(&d, 0, "siblings");
    if (!rc && siblings_reliable(&d, arr)) {
        rc = each_entry(&d, arr, parse_sibling, cb, arg, err, errsz, skips);
        *listed = rc == 0;
    }
    hfs_jdoc_free(&d);
    return rc;
}

int hfs_json_bucket_info(const char *js, size_t len, int64_t *mtime, char *err, size_t errsz)
{
    doc d;
    int rc = 0;
    if (hfs_jdoc_parse(&d, js, len) || d.t[0].type != JSMN_OBJECT) {
        rc = hfs_jdoc_fail(err, errsz, "reply was not valid JSON");
    } else {
        int64_t t = 0;
        int v = hfs_jdoc_member(&d, 0, "updatedAt");
        if (v < 0 || tok_time(&d, v, &t)) t = 0;
        if (mtime) *mtime = t;
    }
    hfs_jdoc_free(&d);
    return rc;
}

/* Copies a string token for a log line: unescaped, control characters as '?'. */
static void copy_msg(const doc *d, int i, char *out, size_t outsz)
{
    if (hfs_jdoc_str(d, i, out, outsz) < 0) {
        /* Too long or odd escapes: show the raw text, cut. */
        size_t n = hfs_jdoc_len(d, i);
        if (n >= outsz) n = outsz - 1;
        memcpy(out, hfs_jdoc_raw(d, i), n);
        out[n] = 0;
    }
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
}

void hfs_json_error_message(const char *js, size_t len, char *out, size_t outsz)
{
    if (!outsz) return;
    out[0] = 0;
    doc d;
    if (hfs_jdoc_parse(&d, js, len) || d.t[0].type != JSMN_OBJECT) goto out;
    int v = hfs_jdoc_member(&d, 0, "error");
    if (v >= 0 && d.t[v].type == JSMN_STRING) {
        copy_msg(&d, v, out, outsz);
    } else if (v >= 0 && d.t[v].type == JSMN_ARRAY && d.t[v].size > 0 &&
               d.t[v + 1].type == JSMN_STRING) {
        copy_msg(&d, v + 1, out, outsz);
    } else if ((v = hfs_jdoc_member(&d, 0, "errors")) >= 0 && d.t[v].type == JSMN_ARRAY &&
               d.t[v].size > 0 && d.t[v + 1].type == JSMN_OBJECT) {
        int m = hfs_jdoc_member(&d, v + 1, "message");
        if (m >= 0 && d.t[m].type == JSMN_STRING) copy_msg(&d, m, out, outsz);
    }
out:
    hfs_jdoc_free(&d);
}

char *hfs_json_quote(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(6 * n + 3), *o = out;
    if (!out) return NULL;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c; /* UTF-8 passes through: JSON text is UTF-8 */
        }
    }
    *o++ = '"';
    *o = 0;
    return out;
}
