/* URL pieces for the Hub client: percent-encoding the way huggingface_hub does it (Python's
 * urllib.parse.quote), resolving a redirect/Link target against the URL that produced it, and
 * telling whether two URLs share an origin (the token may only go to HF_ENDPOINT's origin). */
#pragma once
#include <stddef.h>

/* quote(s, safe): ALPHA, DIGIT and "-._~" are kept, so are the bytes in `safe`; every other
 * byte is written %XX (uppercase hex), UTF-8 byte by byte. Returns a malloc'd string, or NULL
 * if out of memory. quote("refs/pr/1", "") = "refs%2Fpr%2F1"; quote("a b/ü", "/") =
 * "a%20b/%C3%BC". */
char *hfs_quote(const char *s, const char *safe);

/* The absolute URL that `ref` (absolute, or relative as in a Location or Link header) points
 * to from `base`. malloc'd, or NULL if either cannot be parsed or the result is not
 * http(s). */
char *hfs_url_resolve(const char *base, const char *ref);

/* 1 if both URLs have the same scheme, host (case-insensitive) and port (default ports made
 * explicit), else 0 (also when either does not parse). */
int hfs_url_same_origin(const char *a, const char *b);

/* A form of `url` fit for a log line: signed CDN URLs carry credentials in their query, so the
 * query is cut when the URL is not on `endpoint`'s origin. Always NUL-terminates out. */
void hfs_url_for_log(const char *url, const char *endpoint, char *out, size_t outsz);
