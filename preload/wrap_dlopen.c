/* dlopen and dlmopen of a virtual path. The loader opens libraries with its own system calls,
 * which no wrapper sees: a virtual library is made complete by the core and the loader is given
 * a real path for it (core/vfs/vfs.h, hfs_vfs_lib_path: <shim cache>/lib<vpath>, a symlink to the
 * complete backing file, whose directory holds the dependencies it finds through $ORIGIN), after
 * the dependencies it could only find in absolute virtual directories are loaded first.
 *
 * The loader takes the library that called dlopen from the return address (its RUNPATH is
 * searched for names without a '/', its namespace is where the library goes). A C wrapper that
 * calls the real dlopen would make that libhfshim.so, so dlopen and dlmopen are two small
 * assembly trampolines that ask hfs_dl_next where the call goes and jump there with the
 * caller's return address and arguments untouched: to libc's dlopen for every name that is not
 * a virtual path (the only case that matters for the caller's RUNPATH: names without '/'), or to
 * the slow path below. */
#include "async.h"
#include "real.h"
#include "vpath.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

static void *real_load(int use_lmid, Lmid_t lmid, const char *p, int mode)
{
    return use_lmid ? HFS_REAL(dlmopen)(lmid, p, mode) : HFS_REAL(dlopen)(p, mode);
}

/* dlerror() must say something when NULL is returned: the loader's own message for the virtual
 * path (not found, as the kernel sees it), unless something real is there (then the message of
 * this failure stays unset rather than a wrong library being loaded). */
static void *fail_load(int use_lmid, Lmid_t lmid, const char *vpath, int mode, int rc)
{
    struct stat st;
    if (HFS_REAL(lstat)(vpath, &st) != 0) (void)real_load(use_lmid, lmid, vpath, mode);
    errno = -rc;
    return NULL;
}

#define MAX_PRE 32

static void *load(int use_lmid, Lmid_t lmid, const char *file, int mode)
{
    int saved = errno;
    hfs_rpath rp;
    int v = hfs_resolve_at(AT_FDCWD, file, &rp);
    if (v == 0) return real_load(use_lmid, lmid, rp.real, mode);
    char real[PATH_MAX], pre[4 * PATH_MAX];
    int fl = (mode & RTLD_NOLOAD) ? HFS_LIB_NOFETCH : 0;
    int rc =
        v < 0 ? v : HFS_CORE(hfs_vfs_lib_path(rp.path, fl, real, sizeof real, pre, sizeof pre));
    if (rc < 0) return fail_load(use_lmid, lmid, v < 0 ? file : rp.path, mode, rc);
    void *deps[MAX_PRE];
    int nd = 0;
    for (const char *p = pre; *p && nd < MAX_PRE; p += strlen(p) + 1) {
        void *h = real_load(use_lmid, lmid, p, RTLD_LAZY | RTLD_LOCAL);
        if (!h) continue; /* the library's own load names what is missing */
        /* one new namespace for the library and its dependencies */
        if (use_lmid && lmid == LM_ID_NEWLM && dlinfo(h, RTLD_DI_LMID, &lmid) != 0) lmid = 0;
        deps[nd++] = h;
    }
    void *h = real_load(use_lmid, lmid, real, mode);
    if (!h) return NULL; /* dlerror says why; the dependencies stay (a dlclose would clear it) */
    for (int i = 0; i < nd; i++) dlclose(deps[i]); /* the library holds them now */
    (void)hfs_async_active();                      /* liburing may have come with it */
    errno = saved;
    return h;
}

__attribute__((used)) void *hfs_dlopen_slow(const char *file, int mode)
{
    return load(0, 0, file, mode);
}

__attribute__((used)) void *hfs_dlmopen_slow(Lmid_t lmid, const char *file, int mode)
{
    return load(1, lmid, file, mode);
}

/* Where the trampolines jump: the slow path for a virtual path with a '/', else libc. */
__attribute__((used)) void *hfs_dl_next(const char *file, int which)
{
    if (hfs_path_maybe(file) && strchr(file, '/'))
        return which ? (void *)hfs_dlmopen_slow : (void *)hfs_dlopen_slow;
    return which ? (void *)HFS_REAL(dlmopen) : (void *)HFS_REAL(dlopen);
}

/* dlopen(file, mode) and dlmopen(lmid, file, mode): save the argument registers, call
 * hfs_dl_next(file, which) with the stack aligned, restore them, jump to its answer. */
#if defined(__x86_64__)
#ifdef __CET__
#define ENDBR "endbr64\n"
#else
#define ENDBR ""
#endif
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        ".cfi_startproc\n" ENDBR "push %rdi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "push %rsi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "sub $8, %rsp\n"
        ".cfi_adjust_cfa_offset 8\n"
        "xor %esi, %esi\n"
        "call hfs_dl_next\n"
        "add $8, %rsp\n"
        ".cfi_adjust_cfa_offset -8\n"
        "pop %rsi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "pop %rdi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "jmp *%rax\n"
        ".cfi_endproc\n"
        ".size dlopen, .-dlopen\n"
        ".globl dlmopen\n"
        ".type dlmopen, @function\n"
        "dlmopen:\n"
        ".cfi_startproc\n" ENDBR "push %rdi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "push %rsi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "push %rdx\n"
        ".cfi_adjust_cfa_offset 8\n"
        "mov %rsi, %rdi\n"
        "mov $1, %esi\n"
        "call hfs_dl_next\n"
        "pop %rdx\n"
        ".cfi_adjust_cfa_offset -8\n"
        "pop %rsi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "pop %rdi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "jmp *%rax\n"
        ".cfi_endproc\n"
        ".size dlmopen, .-dlmopen\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, %function\n"
        "dlopen:\n"
        ".cfi_startproc\n"
        "hint 34\n" /* bti c */
        "stp x29, x30, [sp, #-32]!\n"
        ".cfi_def_cfa_offset 32\n"
        ".cfi_offset 29, -32\n"
        ".cfi_offset 30, -24\n"
        "mov x29, sp\n"
        "stp x0, x1, [sp, #16]\n"
        "mov x1, #0\n"
        "bl hfs_dl_next\n"
        "mov x16, x0\n"
        "ldp x0, x1, [sp, #16]\n"
        "ldp x29, x30, [sp], #32\n"
        ".cfi_def_cfa_offset 0\n"
        "br x16\n"
        ".cfi_endproc\n"
        ".size dlopen, .-dlopen\n"
        ".globl dlmopen\n"
        ".type dlmopen, %function\n"
        "dlmopen:\n"
        ".cfi_startproc\n"
        "hint 34\n"
        "stp x29, x30, [sp, #-48]!\n"
        ".cfi_def_cfa_offset 48\n"
        ".cfi_offset 29, -48\n"
        ".cfi_offset 30, -40\n"
        "mov x29, sp\n"
        "stp x0, x1, [sp, #16]\n"
        "str x2, [sp, #32]\n"
        "mov x0, x1\n"
        "mov x1, #1\n"
        "bl hfs_dl_next\n"
        "mov x16, x0\n"
        "ldp x0, x1, [sp, #16]\n"
        "ldr x2, [sp, #32]\n"
        "ldp x29, x30, [sp], #48\n"
        ".cfi_def_cfa_offset 0\n"
        "br x16\n"
        ".cfi_endproc\n"
        ".size dlmopen, .-dlmopen\n");
#else
#error "hfshim: the dlopen trampolines are written for x86_64 and aarch64 only"
#endif
