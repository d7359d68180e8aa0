/* The supervisor: hfrun's way to show /hf and the mounts to programs that LD_PRELOAD cannot
 * reach (static binaries, Go binaries, setuid/setgid programs). The command runs under a
 * seccomp filter that turns its file-system calls into user notifications (Linux >= 5.9);
 * hfrun answers those on virtual paths with the core and lets the kernel do everything else.
 * Only hfrun links this: the shim never loads libseccomp. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Why a command needs the supervisor (hfs_sv_probe). */
enum {
    HFS_SV_NONE = 0,   /* dynamically linked, not Go, no set-id bit: LD_PRELOAD reaches it */
    HFS_SV_STATIC = 1, /* no PT_INTERP */
    HFS_SV_GO = 2,     /* a Go binary: it makes its own system calls even when dynamic */
    HFS_SV_SETID = 3,  /* setuid/setgid: the loader drops LD_PRELOAD */
    HFS_SV_ELF32 = 4,  /* 32-bit: neither the shim nor the supervisor serves it */
};

/* Looks at what execvp(cmd) would run (a "#!" script: at its interpreter). Fills `what` with
 * the file it judged. Returns HFS_SV_*, or HFS_SV_NONE when it cannot tell (execvp then
 * reports a missing command itself). */
int hfs_sv_probe(const char *cmd, char *what, size_t n);

/* Runs argv under the supervisor and serves it until it exits. `lib` is the shim's path, which
 * is taken out of LD_PRELOAD (the supervisor serves every process of the command, dynamic ones
 * too). *child is the command's pid once it is started (for forwarding signals). Returns the
 * command's wait status; when the kernel or a container forbids seccomp user notification,
 * prints one "hfshim:" line and returns -1. */
int hfs_sv_run(char **argv, const char *lib, int setid, pid_t *child);
