/* Revision answers (a branch or tag's commit sha, a bucket's listing id) reused across
 * processes for HF_SHIM_REVISION_TTL seconds, each kept under the token that got it: an answer
 * got with a token (a private repo, perhaps) is reused only by processes with that token, never
 * by one with no token or another token, which the Hub might refuse. An answer got without a
 * token is public, and reused by every process. Only a hash of the token is written. */
#pragma once
#include <stddef.h>

/* A fresh answer for revision `rev` of the repo folder `folder` ("models--org--name") that this
 * process's token may reuse: 1 with it in snap (NUL-terminated), else 0. */
int hfs_revcache_get(const char *folder, const char *rev, char *snap, size_t n);
/* Record the answer this process got from the Hub. */
void hfs_revcache_put(const char *folder, const char *rev, const char *snap);
