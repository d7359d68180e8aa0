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
