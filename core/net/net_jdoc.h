/* A JSON reply tokenized by jsmn, and the accessors every parser of the network module uses
 * (net_json.c: listings and revisions; net_commit_json.c: the write API's replies). Token
 * indexes are ints; -1 means "none". */
#pragma once
#include <stddef.h>
#include <stdint.h>
/* One jsmn for the module, built in net_jdoc.c: strict mode (and a check that only whitespace
 * follows the root) is what lets a reply be called "not valid JSON"; parent links keep closing
 * brackets O(depth) on pages of many thousands of entries. The token layout depends on these,
 * so every user includes jsmn through this header. */
#ifndef JSMN_STRICT
#define JSMN_STRICT
#endif
#ifndef JSMN_PARENT_LINKS
#define JSMN_PARENT_LINKS
#endif
#define JSMN_HEADER
#include <jsmn.h>

typedef struct {
    const char *js;
    size_t len;
    jsmntok_t *t;
    int n;
} hfs_jdoc;

/* err gets why (cut to errsz); returns -EIO. */
int hfs_jdoc_fail(char *err, size_t errsz, const char *why);
/* Tokenizes all of js: 0, or -1 if it is not one well-formed JSON object or array (trailing
 * whitespace only). hfs_jdoc_free after either. */
int hfs_jdoc_parse(hfs_jdoc *d, const char *js, size_t len);
void hfs_jdoc_free(hfs_jdoc *d);
/* The token after token i and everything inside it. */
int hfs_jdoc_skip(const hfs_jdoc *d, int i);
size_t hfs_jdoc_len(const hfs_jdoc *d, int i);
const char *hfs_jdoc_raw(const hfs_jdoc *d, int i);
/* Token i is the string key k (raw comparison: keys are ASCII). */
int hfs_jdoc_key_is(const hfs_jdoc *d, int i, const char *k);
/* Walks object obj's members from the cursor *it (start: obj + 1): 1 with *key and *val, 0 at
 * the end, -1 if malformed. */
int hfs_jdoc_next_member(const hfs_jdoc *d, int obj, int *it, int *key, int *val);
/* Member `name` of object obj (its value's token), or -1 (also when obj is -1 or not an
 * object, so lookups chain). Accessors take -1 for "none" and say no. */
int hfs_jdoc_member(const hfs_jdoc *d, int obj, const char *name);
/* String token i unescaped into out: its length, or -1 (not a string, bad escape, too long). */
long hfs_jdoc_str(const hfs_jdoc *d, int i, char *out, size_t outsz);
/* String token i unescaped, malloc'd; NULL if not a string (or out of memory). */
char *hfs_jdoc_strdup(const hfs_jdoc *d, int i);
/* A non-negative JSON integer: 0, or -1. */
int hfs_jdoc_u64(const hfs_jdoc *d, int i, uint64_t *v);
int hfs_jdoc_is_true(const hfs_jdoc *d, int i);
int hfs_jdoc_is_null(const hfs_jdoc *d, int i);
/* A hex digit's value (either case), or -1. */
int hfs_json_hexval(int c);
/* Unescapes the body of a JSON string (between the quotes): \" \\ \/ \b \f \n \r \t and
 * \uXXXX including surrogate pairs, to UTF-8. out must hold len+1 bytes (the result is never
 * longer). Returns the length, or -1 on a bad escape, a lone surrogate or an escaped NUL. */
long hfs_json_unescape(const char *s, size_t len, char *out);
