/* Built into libhfshim-net.so only: the log and configuration calls of the network module,
 * answered by the core that loaded it (net.h's hfs_net_services), so the two shared objects
 * share one state, and the module's libc table, the core's (libc.h). hfrun and the unit tests
 * link the core's own log.c, config.c and libc.c instead. */
#include "config.h"
#include "log.h"
#include "net.h"
#include "net_http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const hfs_net_services *g_svc;
/* libc.h's table pointer, on the module's side: set once, at load, before any call. */
const hfs_libc_ops *hfs_libc_cur;

int hfs_net_services_set(const hfs_net_services *svc)
{
    /* Only a filler at least as new as this module is used (a field is read only if there). */
    if (!svc || svc->size < sizeof *svc || !svc->libc) return -EINVAL;
    __atomic_store_n(&hfs_libc_cur, svc->libc, __ATOMIC_RELEASE);
    __atomic_store_n(&g_svc, svc, __ATOMIC_RELEASE);
    return 0;
}

/* The module hands out its ops only once lent the services (net_module.c), so every call
 * below comes after hfs_net_services_set. */
static const hfs_net_services *svc(void)
{
    return __atomic_load_n(&g_svc, __ATOMIC_ACQUIRE);
}

int hfs_log_level(void)
{
    return svc()->log_level();
}

void hfs_log(int level, const char *fmt, ...)
{
    const hfs_net_services *s = svc();
    if (level > s->log_level()) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log_line(level, line);
}

const hfs_config *hfs_cfg(void)
{
    return svc()->cfg();
}

const char *hfs_cfg_token(void)
{
    return svc()->cfg_token();
}
