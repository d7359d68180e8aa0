#include "types.h"

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
