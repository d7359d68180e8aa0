/* The real libc functions behind the wrappers: dlsym(RTLD_NEXT) once per symbol, kept in a
 * global slot and read with one atomic load afterwards. A few async-signal-safe ones are
 * resolved by the constructor, the rest on first use. If dlsym fails, or is re-entered while
 * resolving on this thread (an allocator that opens files from inside dlsym), the call goes to a
 * raw-syscall fallback where one exists, else to a stub failing with ENOSYS. */
#pragma once
#include "decls.h"
#include "guard.h"
#include <stdatomic.h>
#include <stddef.h>

#define HFS_EXPORT __attribute__((visibility("default")))
#define HFS_HIDDEN __attribute__((visibility("hidden")))

/* Every real symbol the wrappers call. */
// clang-format off
#define HFS_REAL_LIST(X) \
    X(open) X(open64) X(openat) X(openat64) X(creat) X(creat64) X(__open_2) X(__open64_2) \
    X(__openat_2) X(__openat64_2) X(read) X(pread) X(pread64) X(readv) X(preadv) X(preadv64) \
    X(preadv2) X(preadv64v2) X(__read_chk) X(__pread_chk) X(__pread64_chk) X(lseek) X(lseek64) \
    X(close) X(close_range) X(closefrom) X(dup) X(dup2) X(dup3) X(fcntl) X(fcntl64) X(stat) \
    X(stat64) X(lstat) X(lstat64) X(fstat) X(fstat64) X(fstatat) X(fstatat64) X(__xstat) \
    X(__xstat64) X(__lxstat) X(__lxstat64) X(__fxstat) X(__fxstat64) X(__fxstatat) \
    X(__fxstatat64) X(statx) X(access) X(faccessat) X(euidaccess) X(eaccess) X(opendir) \
    X(fdopendir) X(readdir) X(readdir64) X(readdir_r) X(readdir64_r) X(rewinddir) X(telldir) \
    X(seekdir) X(closedir) X(scandir) X(scandir64) X(scandirat) X(scandirat64) X(getdents64) \
    X(glob) X(glob64) X(chdir) X(fchdir) X(getcwd) X(__getcwd_chk) X(getwd) \
    X(get_current_dir_name) X(realpath) X(__realpath_chk) X(canonicalize_file_name) X(readlink) \
    X(readlinkat) X(__readlink_chk) X(__readlinkat_chk) X(mmap) X(mmap64) X(sendfile) \
    X(sendfile64) X(copy_file_range) X(splice) X(mkdir) X(mkdirat) X(unlink) X(unlinkat) \
    X(rmdir) X(remove) X(rename) X(renameat) X(renameat2) X(link) X(linkat) X(symlink) \
    X(symlinkat) X(chmod) X(fchmodat) X(lchmod) X(chown) X(lchown) X(fchownat) X(truncate) \
    X(truncate64) X(utime) X(utimes) X(utimensat) X(lutimes) X(futimesat) X(mknod) X(mknodat) \
    X(mkfifo) X(mkfifoat) X(setxattr) X(lsetxattr) X(removexattr) X(lremovexattr) X(getxattr) \
    X(lgetxattr) X(listxattr) X(llistxattr) X(fgetxattr) X(flistxattr) X(fsetxattr) \
    X(fremovexattr) X(ftruncate) X(ftruncate64) X(fchmod) X(fchown) X(futimens) X(futimes) \
    X(fallocate) X(fallocate64) X(posix_fallocate) X(posix_fallocate64) X(statfs) X(statfs64) \
    X(fstatfs) X(fstatfs64) X(statvfs) X(statvfs64) X(fstatvfs) X(fstatvfs64) X(syscall) \
    X(fopen) X(fopen64) X(freopen) X(freopen64) X(fdopen) X(fclose) X(execve) X(execvpe) \
    X(fexecve) X(execveat) X(posix_spawn) X(posix_spawnp) X(posix_spawn_file_actions_addopen) X(posix_spawn_file_actions_adddup2) \
    X(posix_spawn_file_actions_addchdir_np) X(system) X(popen) X(mkstemp) X(mkstemp64) \
    X(mkostemp) X(mkostemp64) X(mkstemps) X(mkstemps64) X(mkostemps) X(mkostemps64) X(mkdtemp) \
    X(umask) X(setmntent) X(bind) X(connect) X(sendmsg) X(sendmmsg) X(pidfd_getfd) X(dlopen) \
    X(dlmopen) X(aio_read) X(aio_read64) X(lio_listio) X(lio_listio64)
// clang-format on

#define HFS_DECL_SLOT(n) extern _Atomic(void *) hfs_real_slot_##n HFS_HIDDEN;
HFS_REAL_LIST(HFS_DECL_SLOT)
#undef HFS_DECL_SLOT

void *hfs_real_resolve(_Atomic(void *) *slot, const char *name) HFS_HIDDEN;
void hfs_real_resolve_common(void) HFS_HIDDEN;

/* real_<name>(args): a call of the real `name` in which the first-use resolution is a tail
 * call too, so a wrapper whose fast path is just "test, then call the real one" needs no stack
 * frame or saved registers (bench/ANALYSIS.md). For the hottest wrappers. */
#define HFS_DEF_REAL_TAIL(ret, name, params, args)                                                 \
    __attribute__((noinline)) static ret name##_first params                                       \
    {                                                                                              \
        return ((__typeof__(&name))hfs_real_resolve(&hfs_real_slot_##name, #name))args;            \
    }                                                                                              \
    static inline ret real_##name params                                                           \
    {                                                                                              \
        void *p_ = atomic_load_explicit(&hfs_real_slot_##name, memory_order_acquire);              \
        if (HFS_UNLIKELY(!p_)) return name##_first args;                                           \
        return ((__typeof__(&name))p_)args;                                                        \
    }

/* The real `name`, with its own prototype. */
#define HFS_REAL(name)                                                                             \
    ((__typeof__(&name))({                                                                         \
        void *p_ = atomic_load_explicit(&hfs_real_slot_##name, memory_order_acquire);              \
        if (HFS_UNLIKELY(!p_)) p_ = hfs_real_resolve(&hfs_real_slot_##name, #name);                \
        p_;                                                                                        \
    }))
