/* Lexical path normalization: what the interposer uses to turn any spelling of a path into the
 * one virtual name the core knows. */
#include "vfs.h"

#include <errno.h>
#include <string.h>

int hfs_path_normalize(const char *base, const char *p, char *out, size_t n)
{
    if (n < 2) return -ENAMETOOLONG;
    size_t o = 0;
    out[o++] = '/';
    for (int pass = 0; pass < 2; pass++) {
        const char *s = pass == 0 ? (p[0] == '/' ? "" : base ? base : "") : p;
        while (*s) {
            while (*s == '/') s++;
            if (!*s) break;
            size_t l = strcspn(s, "/");
            if (l == 1 && s[0] == '.') {
                /* skip */
            } else if (l == 2 && s[0] == '.' && s[1] == '.') {
                while (o > 1 && out[o - 1] != '/') o--;
                if (o > 1) o--; /* drop the '/' too */
            } else {
                if (o > 1) {
                    if (o + 1 >= n) return -ENAMETOOLONG;
                    out[o++] = '/';
                }
                if (o + l >= n) return -ENAMETOOLONG;
                memcpy(out + o, s, l);
                o += l;
            }
            s += l;
        }
    }
    out[o] = 0;
    return (int)o;
}

int hfs_path_final(const char *p, size_t *dir)
{
    size_t l = strlen(p);
    while (l > 1 && p[l - 1] == '/') l--;
    size_t b = l;
    while (b > 0 && p[b - 1] != '/') b--;
    if (dir) *dir = b;
    if (l - b == 1 && p[b] == '.') return 1;
    if (l - b == 2 && p[b] == '.' && p[b + 1] == '.') return 2;
    return 0;
}

int hfs_path_through_virtual(const char *base, const char *p)
{
    char head[HFS_PATH_MAX], dir[HFS_PATH_MAX];
    for (const char *s = p; *s; s++) {
        if (!(s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || !s[2])))
            continue;
        size_t l = (size_t)(s - p);
        if (l >= sizeof head) return 0;
        memcpy(head, p, l);
        head[l] = 0;
        if (hfs_path_normalize(base, head, dir, sizeof dir) > 0 && hfs_vfs_covers(dir)) return 1;
    }
    return 0;
}
