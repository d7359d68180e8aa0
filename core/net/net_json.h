/* Parsing the Hub's JSON replies (jsmn underneath) into the shim's plain types. Pure functions:
 * no network, no global state, so each reply shape is unit-tested from literal strings.
 *
 * Functions that parse a reply return 0 on success or -EIO with a one-phrase reason in
 * err (e.g. "reply was not valid JSON"), never partially filled results. */
#pragma once
#include "net_jdoc.h"
#include "checked.h"
#include <stddef.h>
#include <stdint.h>
#include "types.h"

/* Entries of a reply that could not be used: how many, and the first one's path (as sent, ""
 * if it had no usable one) and what is wrong with it; for one warning per reply. */
typedef struct {
    int n;
    char path[256];
    char why[96];
} hfs_json_skips;

/* A tree page: a JSON array of entries. cb gets every file and directory
 * entry; entries of other types are skipped silently, and entries that cannot be used (not an
 * object, no type or path, a path unsafe as a local path, a size that is not a whole number
 * from 0 to 2^63 - 1) are skipped and counted in *skips (may be NULL). Returns 0, 1 if cb
 * asked to stop, or -EIO when the reply itself is not a JSON array. `path` in the entry is
 * valid only during the call. */
HFS_MUST_CHECK int hfs_json_entries(const char *js, size_t len, hfs_entry_cb cb, void *arg,
                                    char *err, size_t errsz, hfs_json_skips *skips);

/* GET /api/{type}s/{id}/revision/{rev}: "sha" (must be 40 hex; returned lowercase) and
 * "lastModified" (unix seconds, 0 if absent or unparseable). */
HFS_MUST_CHECK int hfs_json_revision(const char *js, size_t len, char sha[41], int64_t *mtime,
                                     char *err, size_t errsz);

/* The same reply asked with blobs=true, and its "siblings" as the repo's listing when they can
 * stand for it: from 1 to HFS_SIBLINGS_MAX of them, each with its size and blobId (else, *listed
 * = 0 and cb is never called: the caller lists the tree). Then cb gets each file as
 * hfs_json_entries gives the tree's entry for it (xet_hash aside: siblings have none), and
 * *listed = 1; directories are implied by the paths. Siblings that cannot be used are skipped
 * and counted in *skips, as in a tree page. Returns 0, 1 if cb asked to stop (*listed = 0),
 * or -EIO when the reply is not a revision. */
#define HFS_SIBLINGS_MAX 1000
int hfs_json_revision_listing(const char *js, size_t len, char sha[41], int64_t *mtime,
                              hfs_entry_cb cb, void *arg, int *listed, char *err, size_t errsz,
                              hfs_json_skips *skips);

/* GET /api/buckets/{id}: "updatedAt" (unix seconds, 0 if absent). */
HFS_MUST_CHECK int hfs_json_bucket_info(const char *js, size_t len, int64_t *mtime, char *err,
                                        size_t errsz);

/* The message of an error reply: {"error":"m"}, {"error":["m",..]} or
 * {"errors":[{"message":"m"}]}; control characters replaced, cut to fit. "" if none. */
void hfs_json_error_message(const char *js, size_t len, char *out, size_t outsz);

/* ISO 8601 date-time ("2023-07-05T16:19:17.000Z", offsets "+02:00"/"+0200", date only) ->
 * unix seconds. 0 on success, -1 if not recognised. s need not be NUL-terminated. */
int hfs_iso8601(const char *s, size_t len, int64_t *out);

/* s as a JSON string literal, quotes included; malloc'd, NULL if out of memory. */
char *hfs_json_quote(const char *s);
