"""Reading Hub repos with ordinary programs under the shim, compared byte for byte."""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import io

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"


class ReadTest(ShimTest):
    def test_cat_small_files(self):
        for path in ["README.md", "config.json", "a/b/c/deep.txt"]:
            out = self.run_shim(["cat", f"{TINY}/{path}"]).stdout
            self.assertEqual(out, self.fixture_bytes("acme/tiny", path), path)
        self.assert_no_auth_to_cdn()
        self.assert_no_writes()

    def test_lfs_file_through_cdn(self):
        out = self.run_shim(["cat", f"{TINY}/model.safetensors"]).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "model.safetensors"))
        cdn = [r for r in self.requests() if r["listener"] == "cdn"]
        self.assertTrue(cdn, "LFS bytes should come from the CDN host")
        self.assert_no_auth_to_cdn()

    def test_authorization_never_reaches_cdn_with_token(self):
        out = self.run_shim(["cat", f"{TINY}/model.safetensors"],
                            extra={"HF_TOKEN": "hf_good_token"}).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "model.safetensors"))
        hub_auth = [r for r in self.requests() if r["listener"] == "hub" and r["auth"]]
        self.assertTrue(hub_auth, "the token should go to the Hub endpoint")
        self.assert_no_auth_to_cdn()

    def test_range_read_fetches_little(self):
        # 1 MiB at 25 MiB of the 200 MiB file.
        p = self.run_shim(["dd", f"if={TINY}/weights/big.bin", "bs=1M", "skip=25", "count=1",
                           "status=none"])
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        self.assertEqual(p.stdout, src[25 << 20:26 << 20])
        fetched = self.bytes_fetched()
        self.assertLessEqual(fetched, 4 << 20, "fetched %d bytes for a 1 MiB read" % fetched)

    def test_head_and_tail_offsets(self):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        self.assertEqual(self.run_shim(["head", "-c", "1000", f"{TINY}/data/medium.bin"]).stdout,
                         src[:1000])
        self.assertEqual(self.run_shim(["tail", "-c", "4097", f"{TINY}/data/medium.bin"]).stdout,
                         src[-4097:])
        p = self.run_shim(["dd", f"if={TINY}/data/medium.bin", "bs=4096", "skip=12345678",
                           "count=777", "iflag=skip_bytes,count_bytes", "status=none"])
        self.assertEqual(p.stdout, src[12345678:12345678 + 777])

    def test_exit_while_the_download_is_being_hashed(self):
        # head reads the start of the 200 MiB file sequentially, which starts the background
        # hash, and exits with the thread still at work: exit status and bytes must be right,
        # and a later reader finishes, checks and publishes the file.
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        for n in (30, 70):
            p = self.run_shim(["head", "-c", "%dM" % n, f"{TINY}/weights/big.bin"])
            self.assertEqual(p.stdout, src[:n << 20], n)
            self.assertNotIn(b"hfshim:", p.stderr)
        out = self.run_shim(["sha256sum", f"{TINY}/weights/big.bin"]).stdout.decode()
        sha = hashlib.sha256(src).hexdigest()
        self.assertEqual(out.split()[0], sha)
        self.assertTrue(os.path.exists(os.path.join(self.home, "hub", "models--acme--tiny",
                                                    "blobs", sha)))

    def test_whole_big_file_sha256(self):
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        out = self.run_shim(["sha256sum", f"{TINY}/weights/big.bin"]).stdout.decode()
        self.assertEqual(out.split()[0], hashlib.sha256(src).hexdigest())
        # The complete file was checked and published in the huggingface_hub layout.
        sha = self.facts["repos"]["acme/tiny"]["refs"]["main"]
        snap = os.path.join(self.home, "hub", "models--acme--tiny", "snapshots", sha,
                            "weights", "big.bin")
        self.assertTrue(os.path.islink(snap), snap)
        with open(snap, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(src).hexdigest())
        self.assertEqual(os.readlink(snap), "../../../blobs/" + hashlib.sha256(src).hexdigest())

    def test_ls_lR_find_du_stat(self):
        root = self.fixture_path("acme/tiny")
        p = self.run_shim(["find", TINY, "-printf", "%P %y %s\n"])
        got = sorted(l for l in p.stdout.decode().splitlines() if l.split(" ")[0])
        want = []
        for d, dirs, files in os.walk(root):
            for n in dirs:
                rel = os.path.relpath(os.path.join(d, n), root)
                want.append(f"{rel} d {os.path.getsize(os.path.join(d, n))}")
            for n in files:
                rel = os.path.relpath(os.path.join(d, n), root)
                want.append(f"{rel} f {os.path.getsize(os.path.join(d, n))}")
        # directory sizes differ from a local fs: compare names, types and file sizes
        strip = lambda ls: sorted(l.rsplit(" ", 1)[0] if " d " in l else l for l in ls)
        self.assertEqual(strip(got), strip(want))
        ls = self.run_shim(["ls", "-lR", TINY]).stdout.decode()
        self.assertIn("README.md", ls)
        self.assertIn("-r--r--r--", ls)
        self.assertIn("dr-xr-xr-x", ls)
        du = self.run_shim(["du", "-sb", TINY]).stdout.decode()
        total = sum(os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(root) for n in fs)
        self.assertGreaterEqual(int(du.split()[0]), total)
        st = self.run_shim(["stat", "-c", "%s %F %a", f"{TINY}/config.json"]).stdout.decode()
        self.assertEqual(st.split()[0], str(os.path.getsize(os.path.join(root, "config.json"))))
        self.assertIn("regular", st)
        self.assertTrue(st.strip().endswith("444"))
        # listing alone fetches no file content
        self.assertEqual(self.bytes_fetched(), 0)

    def test_diff_r_cp_r_tar(self):
        root = self.fixture_path("acme/tiny")
        # diff -r reads every file; skip the 200 MiB one with a subfolder compare
        self.run_shim(["diff", "-r", f"{TINY}/a", os.path.join(root, "a")])
        self.run_shim(["diff", "-r", f"{TINY}/données", os.path.join(root, "données")])
        dst = os.path.join(self.tmp, "copy")
        self.run_shim(["cp", "-r", f"{TINY}/a", dst])
        subprocess.run(["diff", "-r", dst, os.path.join(root, "a")], check=True)
        tar = self.run_shim(["tar", "cf", "-", "-C", f"{TINY}", "a", "config.json"]).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            names = sorted(m.name for m in t.getmembers())
            self.assertIn("a/b/c/deep.txt", names)
            self.assertEqual(t.extractfile("config.json").read(),
                             self.fixture_bytes("acme/tiny", "config.json"))

    def test_names_with_spaces_and_non_ascii(self):
        for path in ["name with spaces.txt", "données/naïve-文件.txt"]:
            out = self.run_shim(["cat", f"{TINY}/{path}"]).stdout
            self.assertEqual(out, self.fixture_bytes("acme/tiny", path))
        ls = self.run_shim(["ls", f"{TINY}/données"]).stdout.decode()
        self.assertIn("naïve-文件.txt", ls)

    def test_shell_redirection_fork_exec_and_cd(self):
        size = len(self.fixture_bytes("acme/tiny", "README.md"))
        out = self.run_shim(f"wc -c < {TINY}/README.md").stdout.decode().strip()
        self.assertEqual(out, str(size))
        out = self.run_shim(f"cd {TINY}/a/b && pwd && cat c/deep.txt && ls").stdout
        lines = out.decode().splitlines()
        self.assertEqual(lines[0], f"{TINY}/a/b")
        self.assertIn(self.fixture_bytes("acme/tiny", "a/b/c/deep.txt").decode().strip(),
                      out.decode())
        # a child process started inside the virtual dir resolves relative paths too
        out = self.run_shim(f"cd {TINY} && sh -c 'cat config.json; pwd'").stdout
        self.assertTrue(out.startswith(self.fixture_bytes("acme/tiny", "config.json")))
        self.assertTrue(out.decode().rstrip().endswith(TINY))

    def test_revision_tag_and_sha(self):
        a = self.facts["repos"]["acme/tiny"]["refs"]["v1.0"]
        old = self.fixture_bytes("acme/tiny", "README.md", commit=a)
        self.assertEqual(self.run_shim(["cat", "/hf/acme/tiny@v1.0/README.md"]).stdout, old)
        self.assertEqual(self.run_shim(["cat", f"/hf/acme/tiny@{a}/README.md"]).stdout, old)
        new = self.fixture_bytes("acme/tiny", "README.md")
        self.assertNotEqual(old, new)
        self.assertEqual(self.run_shim(["cat", "/hf/acme/tiny@main/README.md"]).stdout, new)

    def test_dataset_with_10000_files(self):
        p = self.run_shim(f"find /hf/datasets/acme/many -type f | wc -l")
        self.assertEqual(int(p.stdout), 10000)
        p = self.run_shim(["cat", "/hf/datasets/acme/many/dir_042/file_4242.txt"])
        self.assertEqual(p.stdout, self.fixture_bytes("datasets/acme/many", "dir_042/file_4242.txt"))

    def test_warm_cache_second_process_makes_no_request(self):
        self.run_shim(["cat", f"{TINY}/README.md", f"{TINY}/model.safetensors"])
        self.run_shim(["ls", "-lR", TINY])
        self.hub.clear_log()
        out = self.run_shim(["cat", f"{TINY}/README.md", f"{TINY}/model.safetensors"]).stdout
        self.run_shim(["ls", "-lR", TINY])
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md") +
                         self.fixture_bytes("acme/tiny", "model.safetensors"))
        self.assertEqual(self.requests(), [], "a warm process should make no request")

    def test_process_without_virtual_paths_does_nothing(self):
        with open(os.path.join(self.home, "token"), "w") as f:
            f.write("hf_good_token")
        cmd = ["sh", "-c", "cat /etc/hostname >/dev/null; ls / >/dev/null"]
        trace = os.path.join(self.tmp, "strace.log")
        if shutil.which("strace"):
            cmd = ["strace", "-f", "-qq", "-e", "trace=%file", "-o", trace] + cmd
        self.run_shim(cmd)
        self.assertEqual(self.requests(), [])
        self.assertEqual(os.listdir(self.home), ["token"], "no cache file should be created")
        if os.path.exists(trace):
            with open(trace) as f:
                touched = [l for l in f if self.home in l]
            self.assertEqual(touched, [], "a process that touches no virtual path reads no "
                             "hfshim or Hub file (not even the token)")

    def test_chunks_are_shared_between_processes(self):
        # One process reads a range of a big file; another reads the same range and fetches
        # nothing, then a neighbouring range and fetches only that.
        dd = lambda skip: ["dd", f"if={TINY}/weights/big.bin", "bs=1M", f"skip={skip}",
                           "count=2", "status=none"]
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        self.assertEqual(self.run_shim(dd(100)).stdout, src[100 << 20:102 << 20])
        self.hub.clear_log()
        self.assertEqual(self.run_shim(dd(100)).stdout, src[100 << 20:102 << 20])
        self.assertEqual(self.bytes_fetched(), 0)
        self.assertEqual(self.run_shim(dd(102)).stdout, src[102 << 20:104 << 20])
        self.assertLessEqual(self.bytes_fetched(), 4 << 20)
