/* Reading an ELF file's dynamic section (see elf.h). Every offset and size comes from the file,
 * so each one is checked against what was read before it is used. */
#include "elfdyn.h"
#include "libc.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PHDRS 256
#define MAX_DYN 4096
#define MAX_STRTAB ((size_t)16 << 20)

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_DATA ELFDATA2LSB
#else
#define NATIVE_DATA ELFDATA2MSB
#endif

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = hfs_libc()->pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return -ENOEXEC; /* shorter than its headers say */
        got += (size_t)r;
    }
    return 0;
}

/* The file offset of virtual address va, through the PT_LOAD segment that holds it. */
static int va_to_off(const Elf64_Phdr *ph, int n, uint64_t va, uint64_t *off)
{
    for (int i = 0; i < n; i++)
        if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va - ph[i].p_vaddr < ph[i].p_filesz) {
            *off = ph[i].p_offset + (va - ph[i].p_vaddr);
            return 0;
        }
    return -ENOEXEC;
}

static const char *str_at(const hfs_elfdyn *d, size_t sz, uint64_t i)
{
    return i < sz ? d->strtab + i : NULL;
}

int hfs_elf_dyn(int fd, hfs_elfdyn *d)
{
    memset(d, 0, sizeof *d);
    Elf64_Ehdr eh;
    int rc = read_at(fd, &eh, sizeof eh, 0);
    if (rc) return rc;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != NATIVE_DATA || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS)
        return -ENOEXEC;
    Elf64_Phdr ph[MAX_PHDRS];
    rc = read_at(fd, ph, eh.e_phnum * sizeof ph[0], eh.e_phoff);
    if (rc) return rc;
    const Elf64_Phdr *dynp = NULL;
    for (int i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC) dynp = &ph[i];
    if (!dynp || dynp->p_filesz < sizeof(Elf64_Dyn)) return -ENOEXEC;
    size_t ndyn = dynp->p_filesz / sizeof(Elf64_Dyn);
    if (ndyn > MAX_DYN) ndyn = MAX_DYN;
    Elf64_Dyn *dyn = malloc(ndyn * sizeof *dyn);
    if (!dyn) return -ENOMEM;
    rc = read_at(fd, dyn, ndyn * sizeof *dyn, dynp->p_offset);
    uint64_t strva = 0, strsz = 0, stroff = 0;
    for (size_t i = 0; !rc && i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
        if (dyn[i].d_tag == DT_STRTAB) strva = dyn[i].d_un.d_ptr;
        if (dyn[i].d_tag == DT_STRSZ) strsz = dyn[i].d_un.d_val;
    }
    if (!rc && (!strsz || strsz > MAX_STRTAB || va_to_off(ph, eh.e_phnum, strva, &stroff)))
        rc = -ENOEXEC;
    if (!rc && !(d->strtab = malloc(strsz + 1))) rc = -ENOMEM;
    if (!rc) rc = read_at(fd, d->strtab, strsz, stroff);
    if (!rc) {
        d->strtab[strsz] = 0;
        for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
            const char *s = str_at(d, strsz, dyn[i].d_un.d_val);
            if (!s) continue;
            switch (dyn[i].d_tag) {
            case DT_NEEDED:
                if (d->nneeded < HFS_ELF_MAX_NEEDED) d->needed[d->nneeded++] = s;
                break;
            case DT_RPATH:
                d->rpath = s;
                break;
            case DT_RUNPATH:
                d->runpath = s;
                break;
            case DT_SONAME:
                d->soname = s;
                break;
            default:
                break;
            }
        }
    }
    free(dyn);
    if (rc) hfs_elf_dyn_free(d);
    return rc;
}

void hfs_elf_dyn_free(hfs_elfdyn *d)
{
    free(d->strtab);
    memset(d, 0, sizeof *d);
}
