/* The environment given to programs started with exec/posix_spawn: it keeps the shim
 * (LD_PRELOAD with this library) and this process's snapshot (HF_SHIM_PINS), and re-adds the
 * shim's own configuration variables the caller dropped. Built without malloc (vfork children,
 * posix_spawn): the caller provides stack buffers sized by hfs_exec_env_plan. */
#pragma once
#include <stddef.h>

typedef struct {
    size_t n_out;    /* entries of the new envp, NULL included */
    size_t ld_len;   /* bytes for the new "LD_PRELOAD=..." (0: keep the caller's) */
    size_t pins_len; /* bytes for "HF_SHIM_PINS=..." (0: none) */
    const char *self;
    const char *pins;
    const char *old_ld; /* the caller's LD_PRELOAD entry, or NULL */
    const char *ld_a;   /* the new LD_PRELOAD value is ld_a[:ld_b] */
    const char *ld_b;
} hfs_envplan;

#pragma GCC visibility push(hidden)
void hfs_exec_env_init(void);
void hfs_exec_env_plan(char *const envp[], hfs_envplan *p);
void hfs_exec_env_build(char *const envp[], const hfs_envplan *p, char **out, char *ldbuf,
                        char *pinsbuf);
#pragma GCC visibility pop
