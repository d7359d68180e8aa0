/* The network module's one exported symbol: the ops table the core finds with dlsym (or links
 * statically in hfrun and the unit tests). Everything else here is hidden. */
#include "net.h"
#include "net_http.h"

static void atfork_child(void)
{
    hfs_hub_atfork_child();
}

static const struct hfs_net_ops g_ops = {
    .size = sizeof(struct hfs_net_ops),
    .version = HFS_NET_VERSION,
    .revision = hfs_hub_revision,
    .bucket_info = hfs_hub_bucket_info,
    .tree = hfs_hub_tree,
    .fetch = hfs_hub_fetch,
    .sha256_file = hfs_hub_sha256_file,
    .git_sha1_file = hfs_hub_git_sha1_file,
    .atfork_child = atfork_child,
    .preupload = hfs_hub_preupload,
    .lfs_upload = hfs_hub_lfs_upload,
    .commit = hfs_hub_commit,
    .hash_new = hfs_hub_hash_new,
    .hash_update = hfs_hub_hash_update,
    .hash_final = hfs_hub_hash_final,
    .hash_free = hfs_hub_hash_free,
    .fetch_feed = hfs_hub_fetch_feed,
    .revision_listing = hfs_hub_revision_listing,
};

__attribute__((visibility("default"))) const struct hfs_net_ops *
hfs_net_ops_v2(const hfs_net_services *svc)
{
    /* Loaded as a module, it cannot run without the core's services: its libc calls go
     * through the table they lend (libc.h). */
    if (hfs_net_services_set && hfs_net_services_set(svc)) return NULL;
    return &g_ops;
}
