/* A library that dlopens a name without '/', found only through its own RUNPATH: the loader
 * takes the calling library from dlopen's return address, which the shim must not change
 * (tests/integration/test_bypass.py). */
#include <dlfcn.h>
#include <stddef.h>

int hfs_caller_try(const char *name)
{
    return dlopen(name, RTLD_NOW) != NULL;
}
