/* The table the core calls libc through (libc.h). */
#include "libc.h"

const hfs_libc_ops *hfs_libc_cur = &hfs_libc_default;

const hfs_libc_ops *hfs_libc_set(const hfs_libc_ops *t)
{
    return __atomic_exchange_n(&hfs_libc_cur, t ? t : &hfs_libc_default, __ATOMIC_ACQ_REL);
}
