"""hfrun and explicit mounts: one snapshot per job, exit status, mounts of subfolders."""
import os

from harness import ShimTest, HFRUN


class HfrunTest(ShimTest):
    def test_explicit_mount_env(self):
        out = self.run_shim(["cat", "/models/tiny/README.md"],
                            extra={"HF_MOUNTS": "/models/tiny=acme/tiny@main"}).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))

    def test_hfrun_mount_subfolder_and_status(self):
        cache = os.path.join(self.tmp, "neuron-cache")
        p = self.run_shim([HFRUN, "-m", f"{cache}=buckets/acme/cache", "--no-push", "--",
                           "sh", "-c", f"ls {cache}; exit 3"], preload=False, check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"neuronxcc", p.stdout)
        p = self.run_shim([HFRUN, "-m", "/m=acme/tiny/a/b", "--", "cat", "/m/c/deep.txt"],
                          preload=False)
        self.assertEqual(p.stdout, self.fixture_bytes("acme/tiny", "a/b/c/deep.txt"))
        self.assert_no_writes()

    def test_hfrun_bad_mount(self):
        p = self.run_shim([HFRUN, "-m", "/m=acme/nope", "--", "true"], preload=False, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"acme/nope", p.stderr)
        p = self.run_shim([HFRUN, "-m", "/m=acme/tiny/no/such/folder", "--", "true"],
                          preload=False, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"no folder 'no/such/folder'", p.stderr)
        p = self.run_shim([HFRUN, "--help"], preload=False)
        self.assertIn(b"usage: hfrun", p.stdout)

    def test_one_snapshot_per_job(self):
        f = self.facts["repos"]["acme/tiny"]["refs"]
        # the first process pins main; then main moves; a later child still sees the old commit
        script = ("cat /hf/acme/tiny/README.md; "
                  f"python3 -c \"import urllib.request as u; u.urlopen(u.Request('{self.hub.url}/_test/set_ref', "
                  f"data=b'{{\\\"type\\\":\\\"model\\\",\\\"id\\\":\\\"acme/tiny\\\",\\\"ref\\\":\\\"main\\\",\\\"sha\\\":\\\"{f['v1.0']}\\\"}}', method='POST'))\"; "
                  "sh -c 'cat /hf/acme/tiny/README.md'")
        try:
            p = self.run_shim([HFRUN, "--", "sh", "-c", script], preload=False,
                              extra={"HF_SHIM_REVISION_TTL": "0"})
            new = self.fixture_bytes("acme/tiny", "README.md")
            self.assertEqual(p.stdout, new + new)
        finally:
            self.hub.set_ref("model", "acme/tiny", "main", f["main"])
