#include "types.h"

#include <string.h>

const char *hfs_type_plural(hfs_repo_type t)
{
    switch (t) {
    case HFS_DATASET:
        return "datasets";
    case HFS_SPACE:
        return "spaces";
    case HFS_BUCKET:
        return "buckets";
    default:
        return "models";
    }
}

const char *hfs_type_url_prefix(hfs_repo_type t)
{
    switch (t) {
    case HFS_DATASET:
        return "datasets/";
    case HFS_SPACE:
        return "spaces/";
    case HFS_BUCKET:
        return "buckets/";
    default:
        return "";
    }
}

size_t hfs_type_from_plural(const char *s, hfs_repo_type *t)
{
    /* The one table of type names: every other spelling (URL prefix, cache folder) follows. */
    static const hfs_repo_type all[] = {HFS_MODEL, HFS_DATASET, HFS_SPACE, HFS_BUCKET};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *p = hfs_type_plural(all[i]);
        size_t l = strlen(p);
        if (!strncmp(s, p, l)) {
            *t = all[i];
            return l;
        }
    }
    return 0;
}
