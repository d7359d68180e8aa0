/* Which commands LD_PRELOAD cannot reach: judged from the file execvp would run. */
#include "super.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file execvp(cmd) runs: cmd itself if it has a '/', else the first executable regular
 * file of that name in $PATH. */
static int which(const char *cmd, char *out, size_t n)
{
    if (strchr(cmd, '/')) return hfs_fmt(out, n, "%s", cmd);
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *s = path;;) {
        size_t l = strcspn(s, ":");
        struct stat st;
        if (!hfs_fmt(out, n, "%.*s%s%s", (int)l, l ? s : ".", "/", cmd) && !stat(out, &st) &&
            S_ISREG(st.st_mode) && !access(out, X_OK))
            return 0;
        if (!s[l]) return -ENOENT;
        s += l + 1;
    }
}

/* Does the section table name a Go section? Go binaries make their own system calls, also
 * when they are linked dynamically (cgo). */
static int is_go(int fd, const Elf64_Ehdr *eh)
{
    if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shstrndx >= eh->e_shnum)
        return 0;
    Elf64_Shdr str;
    if (pread(fd, &str, sizeof str, (off_t)(eh->e_shoff + eh->e_shstrndx * sizeof str)) !=
            (ssize_t)sizeof str ||
        str.sh_size > (1u << 20))
        return 0;
    char *names = malloc(str.sh_size + 1);
    int go = 0;
    if (names && pread(fd, names, str.sh_size, (off_t)str.sh_offset) == (ssize_t)str.sh_size) {
        names[str.sh_size] = 0;
        for (size_t i = 0; i < str.sh_size && !go; i += strlen(names + i) + 1)
            go = !strcmp(names + i, ".go.buildinfo") || !strcmp(names + i, ".note.go.buildid");
    }
    free(names);
    return go;
}

static int judge(const char *file, char *what, size_t n, int depth)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        if (fd >= 0) close(fd);
        return HFS_SV_NONE;
    }
    if (hfs_fmt(what, n, "%s", file)) { /* a name for messages: cut is fine */
    }
    unsigned char head[256];
    ssize_t got = pread(fd, head, sizeof head - 1, 0);
    int kind = HFS_SV_NONE;
    if (got > 2 && head[0] == '#' && head[1] == '!' && depth < 2) {
        /* A script: what matters is its interpreter. */
        head[got] = 0;
        char *s = (char *)head + 2, interp[256];
        while (*s == ' ' || *s == '\t') s++;
        size_t l = strcspn(s, " \t\n");
        close(fd);
        if (!l || l >= sizeof interp) return HFS_SV_NONE;
        memcpy(interp, s, l);
        interp[l] = 0;
        return judge(interp, what, n, depth + 1);
    }
    if (st.st_mode & (S_ISUID | S_ISGID)) kind = HFS_SV_SETID;
    Elf64_Ehdr eh;
    if (kind == HFS_SV_NONE && got >= (ssize_t)sizeof eh && !memcmp(head, ELFMAG, SELFMAG)) {
        memcpy(&eh, head, sizeof eh);
        if (head[EI_CLASS] == ELFCLASS32) {
            kind = HFS_SV_ELF32;
        } else if (head[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
            int interp = 0;
            for (unsigned i = 0; i < eh.e_phnum && !interp; i++) {
                Elf64_Phdr ph;
                if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) !=
                    (ssize_t)sizeof ph)
                    break;
                interp = ph.p_type == PT_INTERP;
            }
            kind = is_go(fd, &eh) ? HFS_SV_GO : interp ? HFS_SV_NONE : HFS_SV_STATIC;
        }
    }
    close(fd);
    return kind;
}

int hfs_sv_probe(const char *cmd, char *what, size_t n)
{
    char file[4096];
    if (n) what[0] = 0;
    if (which(cmd, file, sizeof file)) return HFS_SV_NONE;
    return judge(file, what, n, 0);
}
