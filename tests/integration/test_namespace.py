"""The rest of the namespace and the libc corners: buckets, PR revisions, pins without hfrun,
raw syscalls, stdio, statfs, realpath, cache shared with huggingface_hub."""
import hashlib
import json
import os

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"


class NamespaceTest(ShimTest):
    def test_bucket_files(self):
        mod = "neuronxcc-2.13.72.0+78a426937/MODULE_1111+d41d8cd9"
        for name in ["model.neff", "model.done", "compile_flags.json"]:
            out = self.run_shim(["cat", f"/hf/buckets/acme/cache/{mod}/{name}"]).stdout
            self.assertEqual(out, self.fixture_bytes("buckets/acme/cache", f"{mod}/{name}"))
        ls = self.run_shim(["ls", f"/hf/buckets/acme/cache/{mod.split('/')[0]}"]).stdout.decode()
        self.assertIn("MODULE_2222+d41d8cd9", ls)
        self.assert_no_auth_to_cdn()

    def test_pr_revision_with_escaped_slash(self):
        out = self.run_shim(["cat", f"{TINY}@refs%2Fpr%2F1/pr-note.txt"]).stdout
        sha = self.facts["repos"]["acme/tiny"]["refs"]["refs/pr/1"]
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "pr-note.txt", commit=sha))
        p = self.run_shim(["cat", f"{TINY}/pr-note.txt"], check=False)
        self.assertNotEqual(p.returncode, 0, "pr-note.txt is not on main")

    def test_prefix_root_and_gated(self):
        self.assertEqual(self.run_shim(["ls", "/hf"]).stdout.decode().split(),
                         ["buckets", "datasets", "spaces"])
        p = self.run_shim(["cat", "/hf/acme/gated/config.json"], check=False,
                          extra={"HF_TOKEN": "hf_other_token"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"Permission denied", p.stderr)

    def test_custom_prefix(self):
        out = self.run_shim(["cat", "/data/hub/acme/tiny/README.md"],
                            extra={"HF_SHIM_PREFIX": "/data/hub"}).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))
        p = self.run_shim(["cat", f"{TINY}/README.md"], check=False,
                          extra={"HF_SHIM_PREFIX": "/data/hub"})
        self.assertNotEqual(p.returncode, 0, "/hf is a plain path once the prefix moved")
        # A long prefix, written with doubled slashes (kept outside the inline buffer), too.
        long = "/data/" + "p" * 90 + "/hub"
        out = self.run_shim(["cat", long + "/acme/tiny/README.md"],
                            extra={"HF_SHIM_PREFIX": "//data//" + "p" * 90 + "//hub//"}).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))

    def test_pins_pass_to_children_without_hfrun(self):
        refs = self.facts["repos"]["acme/tiny"]["refs"]
        code = f"""
import subprocess, sys, urllib.request as u
first = open('{TINY}/README.md', 'rb').read()
u.urlopen(u.Request('{self.hub.url}/_test/set_ref', method='POST', data=b'{{"type":"model","id":"acme/tiny","ref":"main","sha":"{refs['v1.0']}"}}'))
child = subprocess.run(['cat', '{TINY}/README.md'], stdout=subprocess.PIPE).stdout
sys.stdout.buffer.write(first + child)
"""
        try:
            out = self.py(code, extra={"HF_SHIM_REVISION_TTL": "0"}).stdout
        finally:
            self.hub.set_ref("model", "acme/tiny", "main", refs["main"])
        new = self.fixture_bytes("acme/tiny", "README.md")
        self.assertEqual(out, new + new, "the child must see the parent's snapshot")

    def test_revision_ttl_across_processes(self):
        self.run_shim(["cat", f"{TINY}/README.md"])
        self.run_shim(["cat", f"{TINY}/config.json"])
        revs = [r for r in self.requests() if "/revision/" in r["path"]]
        self.assertEqual(len(revs), 1, "the branch->commit answer is reused within the TTL")

    def test_raw_syscalls_getdents64_and_statx(self):
        code = f"""
import ctypes, os, struct, json
libc = ctypes.CDLL(None, use_errno=True)
SYS_getdents64, SYS_statx = 217, 332
fd = os.open('{TINY}/a', os.O_RDONLY | os.O_DIRECTORY)
buf = ctypes.create_string_buffer(65536)
names = []
while True:
    n = libc.syscall(SYS_getdents64, fd, buf, 65536)
    if n <= 0: break
    off = 0
    while off < n:
        ino, doff, reclen, typ = struct.unpack_from('QqHB', buf.raw, off)
        names.append(buf.raw[off + 19:off + reclen].split(b'\\0')[0].decode())
        off += reclen
stx = ctypes.create_string_buffer(256)
r = libc.syscall(SYS_statx, -100, b'{TINY}/config.json', 0, 0x7ff, stx)
size = struct.unpack_from('Q', stx.raw, 40)[0]
print(json.dumps([sorted(names), r, size]))
"""
        names, r, size = json.loads(self.py(code).stdout)
        self.assertEqual(names, sorted([".", ".."] + os.listdir(self.fixture_path("acme/tiny", "a"))))
        self.assertEqual(r, 0)
        self.assertEqual(size, len(self.fixture_bytes("acme/tiny", "config.json")))

    def test_stdio_statfs_realpath_readlink(self):
        # GNU sed reads through stdio (fopen + fread)
        out = self.run_shim(["sed", "-n", "2p", f"{TINY}/docs/large.txt"]).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "docs/large.txt").split(b"\n")[1] + b"\n")
        fs = self.run_shim(["stat", "-f", "-c", "%t", f"{TINY}"]).stdout.decode().strip()
        self.assertEqual(fs, "48465348")
        rp = self.run_shim(["realpath", f"{TINY}/a/../a/b"]).stdout.decode().strip()
        self.assertEqual(rp, f"{TINY}/a/b")
        p = self.run_shim(["readlink", f"{TINY}/README.md"], check=False)
        self.assertEqual(p.returncode, 1)
        p = self.run_shim(["realpath", "-e", f"{TINY}/missing"], check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_cp_uses_copy_file_range_or_sendfile(self):
        dst = os.path.join(self.tmp, "big.bin")
        self.run_shim(["cp", f"{TINY}/data/medium.bin", dst])
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), self.fixture_bytes("acme/tiny", "data/medium.bin"))
        code = f"import shutil; shutil.copyfile('{TINY}/model.safetensors', '{self.tmp}/m')"
        self.py(code)
        with open(f"{self.tmp}/m", "rb") as f:
            self.assertEqual(f.read(), self.fixture_bytes("acme/tiny", "model.safetensors"))

    def test_reads_blobs_downloaded_by_huggingface_hub(self):
        # Lay out a cache as huggingface_hub would have: hfshim must use it and fetch nothing.
        facts = self.facts["repos"]["acme/tiny"]
        sha = facts["refs"]["main"]
        data = self.fixture_bytes("acme/tiny", "model.safetensors")
        etag = hashlib.sha256(data).hexdigest()
        base = os.path.join(self.home, "hub", "models--acme--tiny")
        os.makedirs(os.path.join(base, "blobs"))
        with open(os.path.join(base, "blobs", etag), "wb") as f:
            f.write(data)
        self.run_shim(["ls", TINY])  # tree index
        self.hub.clear_log()
        out = self.run_shim(["cat", f"{TINY}/model.safetensors"]).stdout
        self.assertEqual(out, data)
        self.assertEqual(self.bytes_fetched(), 0)

    def test_exec_keeps_shim_when_env_is_cleared(self):
        # A program that starts a child with an explicit environment (no LD_PRELOAD) still
        # passes the shim on.
        code = f"""
import os, sys
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(w, 1)
    os.execve('/bin/cat', ['cat', '{TINY}/README.md'], {{'PATH': '/bin'}})
os.close(w)
out = b''
while True:
    b = os.read(r, 65536)
    if not b: break
    out += b
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
"""
        self.assertEqual(self.py(code).stdout, self.fixture_bytes("acme/tiny", "README.md"))

    def test_other_process_writes_are_seen_at_once(self):
        # A process that looked at a repo (and found no overlay) sees a file another process
        # creates right after, and a deletion; nothing is cached past a change.
        code = f"""
import os, subprocess
a = os.path.exists('{TINY}/fresh.txt')
subprocess.run(['sh', '-c', 'echo x > {TINY}/fresh.txt'], check=True)
b = os.path.exists('{TINY}/fresh.txt')
subprocess.run(['rm', '{TINY}/README.md'], check=True)
c = os.path.exists('{TINY}/README.md')
print(a, b, c)
"""
        out = self.py(code, extra={"HF_NO_PUSH": "1"}).stdout.decode().split()
        self.assertEqual(out, ["False", "True", "False"])
