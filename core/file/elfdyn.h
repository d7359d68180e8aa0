/* The dynamic section of a shared object, as far as the loader's search for its dependencies
 * needs it (libview.c): DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME. */
#pragma once
#include "checked.h"
#include <stddef.h>

#define HFS_ELF_MAX_NEEDED 64

typedef struct {
    char *strtab; /* the dynamic string table, NUL-terminated; the fields below point into it */
    const char *needed[HFS_ELF_MAX_NEEDED];
    int nneeded;
    const char *rpath;   /* NULL if none */
    const char *runpath; /* NULL if none */
    const char *soname;  /* NULL if none */
} hfs_elfdyn;

/* Read the dynamic section of the 64-bit ELF file open on fd (of this machine's byte order).
 * 0, -ENOEXEC for anything else (no dynamic section: a static object or not ELF at all), or
 * -errno from a read. Release with hfs_elf_dyn_free. */
HFS_MUST_CHECK int hfs_elf_dyn(int fd, hfs_elfdyn *d);
void hfs_elf_dyn_free(hfs_elfdyn *d);
