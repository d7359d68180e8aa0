/* Percent-encoding and URL origin checks. The URL parsing is libcurl's (CURLU), so that what
 * we compare is exactly what libcurl will connect to. */
#include "net_urlenc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *hfs_quote(const char *s, const char *safe)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~' ||
                   (c >= 0x20 && c < 0x7f && safe && strchr(safe, c));
        if (keep) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = 0;
    return out;
}

static CURLU *parse(const char *url)
{
    CURLU *u = curl_url();
    if (!u) return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static int is_http(CURLU *u)
{
    char *scheme = NULL;
    int ok = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"));
    curl_free(scheme);
    return ok;
}

char *hfs_url_resolve(const char *base, const char *ref)
{
    CURLU *u = parse(base);
    if (!u) return NULL;
    char *out = NULL;
    /* Setting a relative URL on a handle that holds an absolute one resolves it (RFC 3986);
     * an absolute ref simply replaces it. */
    if (curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK && is_http(u)) {
        char *s = NULL;
        if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
            out = strdup(s);
            curl_free(s);
        }
    }
    curl_url_cleanup(u);
    return out;
}

/* scheme, host, port with defaults filled in; 0 on success. */
static int origin(const char *url, char **scheme, char **host, char **port)
{
    *scheme = *host = *port = NULL;
    CURLU *u = parse(url);
    if (!u) return -1;
    int rc = curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
                     curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
                     curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK
                 ? 0
                 : -1;
    curl_url_cleanup(u);
    return rc;
}

int hfs_url_same_origin(const char *a, const char *b)
{
    char *s1, *h1, *p1, *s2, *h2, *p2;
    int r1 = origin(a, &s1, &h1, &p1), r2 = origin(b, &s2, &h2, &p2);
    int same = r1 == 0 && r2 == 0 && !strcasecmp(s1, s2) && !strcasecmp(h1, h2) && !strcmp(p1, p2);
    curl_free(s1), curl_free(h1), curl_free(p1), curl_free(s2), curl_free(h2), curl_free(p2);
    return same;
}

void hfs_url_for_log(const char *url, const char *endpoint, char *out, size_t outsz)
{
    if (!outsz) return;
    size_t n = strlen(url);
    if (!hfs_url_same_origin(url, endpoint)) {
        const char *q = strchr(url, '?');
        if (q) n = (size_t)(q - url);
    }
    if (n >= outsz) n = outsz - 1;
    memcpy(out, url, n);
    out[n] = 0;
}
