"""The network module is loaded from beside libhfshim.so on first need, and is used only if its
ops table is of this build's version and size (net.h); the module logs through the core (one
log, one configuration)."""
import os
import shutil
import subprocess

from harness import ShimTest, LIB

FAKE = r"""
#include <stdint.h>
struct old { uint32_t size, version; void *ops[32]; };
static struct old g = {sizeof g, 1, {0}};
__attribute__((visibility("default"))) const void *hfs_net_ops_v2(const void *svc)
{
    (void)svc;
    return &g;
}
"""


class NetModuleTest(ShimTest):
    def test_a_module_of_another_build_is_refused_with_a_line(self):
        d = os.path.join(self.tmp, "lib")
        os.makedirs(d)
        shutil.copy(LIB, os.path.join(d, "libhfshim.so"))
        src = os.path.join(self.tmp, "fake.c")
        with open(src, "w") as f:
            f.write(FAKE)
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", os.path.join(d, "libhfshim-net.so"), src],
                       check=True)
        env = self.env()
        env["LD_PRELOAD"] = env["LD_PRELOAD"].replace(LIB, os.path.join(d, "libhfshim.so"))
        p = subprocess.run(["cat", "/hf/acme/tiny/config.json"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"")
        err = p.stderr.decode()
        self.assertIn("from another build of hfshim (table version 1", err)
        self.assertEqual(self.requests(), [])
