/* Content hashes for verifying fetched files: sha256 (what LFS and Xet files are named by) and
 * the git blob sha1 (regular files: sha1 of "blob <size>\0" + bytes). Streamed through
 * libcrypto's EVP so a multi-GB file never sits in memory; the incremental form lets the core
 * hash a download while it arrives instead of after its last byte. */
#include "libc.h"
#include "net_http.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_BUF (1u << 20)

/* "blob <size>" and its NUL: what git hashes before the bytes. */
static int git_header(EVP_MD_CTX *ctx, unsigned long long size)
{
    char hdr[48];
    int n = snprintf(hdr, sizeof hdr, "blob %llu", size);
    return EVP_DigestUpdate(ctx, hdr, (size_t)n + 1) ? 0 : -EIO;
}

static int to_hex(EVP_MD_CTX *ctx, char *hex, size_t hexsz)
{
    unsigned char md_out[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_DigestFinal_ex(ctx, md_out, &mdlen) || 2 * (size_t)mdlen + 1 > hexsz) return -EIO;
    for (unsigned i = 0; i < mdlen; i++) {
        hex[2 * i] = "0123456789abcdef"[md_out[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md_out[i] & 15];
    }
    hex[2 * mdlen] = 0;
    return 0;
}

/* Hashes the file at path (after `prefix` if git) into hex. 0 or -errno. */
static int hash_file(const char *path, const EVP_MD *md, int git, char *hex, size_t hexsz)
{
    int fd = hfs_libc()->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = 0;
    unsigned char *buf = malloc(HASH_BUF);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct stat st;
    if (!buf || !ctx) {
        rc = -ENOMEM;
        goto out;
    }
    if (hfs_libc()->fstat(fd, &st)) {
        rc = -errno;
        goto out;
    }
    if (!EVP_DigestInit_ex(ctx, md, NULL)) {
        rc = -EIO;
        goto out;
    }
    if (git && (rc = git_header(ctx, (unsigned long long)st.st_size))) goto out;
    long long total = 0;
    for (;;) {
        ssize_t n = hfs_libc()->read(fd, buf, HASH_BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        total += n;
    }
    /* For git the size went into the header: a file that changed while we read is a miss. */
    if (git && total != (long long)st.st_size) {
        rc = -EAGAIN;
        goto out;
    }
    rc = to_hex(ctx, hex, hexsz);
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    hfs_libc()->close(fd);
    return rc;
}

int hfs_hub_sha256_file(const char *path, char hex_out[65])
{
    return hash_file(path, EVP_sha256(), 0, hex_out, 65);
}

int hfs_hub_git_sha1_file(const char *path, char hex_out[41])
{
    return hash_file(path, EVP_sha1(), 1, hex_out, 41);
}

void *hfs_hub_hash_new(int git, uint64_t size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    if (!EVP_DigestInit_ex(ctx, git ? EVP_sha1() : EVP_sha256(), NULL) ||
        (git && git_header(ctx, (unsigned long long)size))) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int hfs_hub_hash_update(void *h, const void *p, size_t n)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)h, p, n) ? 0 : -EIO;
}

int hfs_hub_hash_final(void *h, char *hex_out, size_t n)
{
    return to_hex((EVP_MD_CTX *)h, hex_out, n);
}

void hfs_hub_hash_free(void *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
}
