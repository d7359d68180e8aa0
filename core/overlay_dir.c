#include "config.h"
#include "overlay.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>

int hfs_overlay_base(char *out, size_t n)
{
    const char *e = getenv("HF_SHIM_OVERLAY");
    if (e && *e) return hfs_fmt(out, n, "%s", e);
    return hfs_fmt(out, n, "%s/overlay", hfs_cfg()->shim_cache);
}

int hfs_overlay_repo_dir(const hfs_repo_id *r, char *out, size_t n)
{
    char base[4096], fid[HFS_ID_MAX];
    int rc = hfs_overlay_base(base, sizeof base);
    if (rc) return rc;
    hfs_folder_id(r->id, fid, sizeof fid);
    return hfs_fmt(out, n, "%s/%s--%s", base, hfs_type_plural(r->type), fid);
}

int hfs_overlay_upper(const hfs_repo_id *r, char *out, size_t n)
{
    char d[4096];
    int rc = hfs_overlay_repo_dir(r, d, sizeof d);
    return rc ? rc : hfs_fmt(out, n, "%s/upper", d);
}
