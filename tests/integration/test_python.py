"""python3 under the shim: file objects, os.walk/scandir, mmap, json, zipfile, threads."""
import hashlib
import json
import os

from harness import ShimTest

TINY = "/hf/acme/tiny"


class PythonTest(ShimTest):
    def test_open_seek_read(self):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        code = f"""
import sys
with open('{TINY}/data/medium.bin', 'rb') as f:
    f.seek(5_000_000); a = f.read(100)
    f.seek(-10, 2); b = f.read()
    f.seek(0); c = f.read(10)
sys.stdout.buffer.write(a + b + c)
"""
        out = self.py(code).stdout
        self.assertEqual(out, src[5_000_000:5_000_100] + src[-10:] + src[:10])

    def test_walk_scandir_json(self):
        root = self.fixture_path("acme/tiny")
        code = f"""
import os, json
walk = sorted(os.path.relpath(os.path.join(d, n), '{TINY}')
              for d, ds, fs in os.walk('{TINY}') for n in ds + fs)
scan = sorted((e.name, e.is_dir(), e.stat().st_size if e.is_file() else 0)
              for e in os.scandir('{TINY}'))
cfg = json.load(open('{TINY}/config.json'))
print(json.dumps([walk, scan, cfg]))
"""
        walk, scan, cfg = json.loads(self.py(code).stdout)
        want = sorted(os.path.relpath(os.path.join(d, n), root)
                      for d, ds, fs in os.walk(root) for n in ds + fs)
        self.assertEqual(walk, want)
        want_scan = sorted([e.name, e.is_dir(), e.stat().st_size if e.is_file() else 0]
                           for e in os.scandir(root))
        self.assertEqual([list(s) for s in scan], want_scan)
        with open(os.path.join(root, "config.json")) as f:
            self.assertEqual(cfg, json.load(f))

    def test_mmap(self):
        src = self.fixture_bytes("acme/tiny", "model.safetensors")
        code = f"""
import mmap, hashlib
with open('{TINY}/model.safetensors', 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print(hashlib.sha256(m[:]).hexdigest(), len(m))
"""
        out = self.py(code).stdout.decode().split()
        self.assertEqual(out, [hashlib.sha256(src).hexdigest(), str(len(src))])

    def test_mmap_of_a_file_bigger_than_one_batch(self):
        # mmap makes the whole 200 MiB file present first: more pieces than one batch of
        # requests (128 MiB), so it takes several; a missing one would be EIO, never zeros.
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        code = f"""
import mmap, hashlib
with open('{TINY}/weights/big.bin', 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print(hashlib.sha256(m).hexdigest(), len(m))
"""
        out = self.py(code).stdout.decode().split()
        self.assertEqual(out, [hashlib.sha256(src).hexdigest(), str(len(src))])
        cdn = [r for r in self.requests() if r["listener"] == "cdn"]
        self.assertGreater(len(cdn), 8, "200 MiB in 16 MiB pieces: more than one batch")

    def test_zipfile(self):
        import zipfile
        local = zipfile.ZipFile(self.fixture_path("acme/tiny", "archive.zip"))
        code = f"""
import zipfile, json, hashlib
z = zipfile.ZipFile('{TINY}/archive.zip')
print(json.dumps({{n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}}))
"""
        got = json.loads(self.py(code).stdout)
        want = {n: hashlib.sha256(local.read(n)).hexdigest() for n in local.namelist()}
        self.assertEqual(got, want)

    def test_threads_read_concurrently(self):
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        code = f"""
import os, threading, hashlib, random
fd = os.open('{TINY}/weights/big.bin', os.O_RDONLY)
size = os.fstat(fd).st_size
rnd = random.Random(7)
offs = [rnd.randrange(0, size - 65536) for _ in range(64)]
res = {{}}
def work(i):
    for o in offs[i::8]:
        res[o] = hashlib.sha256(os.pread(fd, 65536, o)).hexdigest()
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
for o in sorted(res): print(o, res[o])
"""
        for line in self.py(code).stdout.decode().splitlines():
            o, h = line.split()
            o = int(o)
            self.assertEqual(h, hashlib.sha256(src[o:o + 65536]).hexdigest(), o)

    def test_fork_shares_fd(self):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        code = f"""
import os, sys
fd = os.open('{TINY}/data/medium.bin', os.O_RDONLY)
os.lseek(fd, 3_000_000, 0)
pid = os.fork()
if pid == 0:
    os.write(1, os.read(fd, 50)); os._exit(0)
os.waitpid(pid, 0)
sys.stdout.buffer.write(os.read(fd, 50))
"""
        self.assertEqual(self.py(code).stdout, src[3_000_000:3_000_100])

    def test_fork_finishes_a_download_started_by_the_parent(self):
        # The parent's sequential read starts the background hash of the download; its thread
        # does not exist in the child, which must still check and publish the file.
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        code = f"""
import os, sys, hashlib
fd = os.open('{TINY}/data/medium.bin', os.O_RDONLY)
for _ in range(6):
    os.read(fd, 1 << 20)
pid = os.fork()
if pid == 0:
    h = hashlib.sha256()
    os.lseek(fd, 0, 0)
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        h.update(b)
    os.write(1, h.hexdigest().encode()); os._exit(0)
os.waitpid(pid, 0)
"""
        sha = hashlib.sha256(src).hexdigest()
        self.assertEqual(self.py(code).stdout.decode(), sha)
        blob = os.path.join(self.home, "hub", "models--acme--tiny", "blobs", sha)
        with open(blob, "rb") as f:
            self.assertEqual(f.read(), src)

    def test_two_readers_one_publishes_first(self):
        # fd a starts a sequential read (and the background hash); fd b reads the whole file
        # and publishes it; a then reads on: the file it hashes is gone from partial/, which
        # must mean "published", not an error.
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        code = f"""
import os, hashlib
p = '{TINY}/weights/big.bin'
a = os.open(p, os.O_RDONLY); b = os.open(p, os.O_RDONLY)
ha, hb = hashlib.sha256(), hashlib.sha256()
for _ in range(8): ha.update(os.read(a, 1 << 20))
while True:
    x = os.read(b, 1 << 20)
    if not x: break
    hb.update(x)
while True:
    x = os.read(a, 1 << 20)
    if not x: break
    ha.update(x)
print(ha.hexdigest(), hb.hexdigest())
"""
        sha = hashlib.sha256(src).hexdigest()
        p = self.py(code)
        self.assertEqual(p.stdout.decode().split(), [sha, sha], p.stderr)
        self.assertNotIn(b"hfshim:", p.stderr)
        with open(os.path.join(self.home, "hub", "models--acme--tiny", "blobs", sha), "rb") as f:
            self.assertEqual(f.read(), src)

    def test_no_background_hash_in_a_vfork_child(self):
        # subprocess starts its child with vfork; the child makes an inherited virtual fd
        # complete before exec. A hash thread started there would die with the exec, holding
        # what the parent waits for at exit: none may start in a vfork child.
        self.py(f"import os\nfd = os.open('{TINY}/weights/big.bin', os.O_RDONLY)\n"
                "for i in range(180, -1, -1): os.pread(fd, 1, i << 20)\n")
        code = f"""
import subprocess
with open('{TINY}/weights/big.bin', 'rb') as f:
    subprocess.run(['true'], stdin=f, close_fds=False)
print('done')
"""
        for _ in range(3):
            p = self.py(code, check=False, extra={"HF_HUB_OFFLINE": "1", "HF_SHIM_LOG": "debug"},
                        timeout=60)
            self.assertEqual(p.stdout, b"done\n", p.stderr[-2000:])
            self.assertNotIn(b"hashing while it downloads", p.stderr)

    def test_subprocess_inherits_fd(self):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        code = f"""
import subprocess, sys
with open('{TINY}/data/medium.bin', 'rb') as f:
    out = subprocess.run(['cat'], stdin=f, stdout=subprocess.PIPE).stdout
sys.stdout.buffer.write(out)
"""
        self.assertEqual(self.py(code).stdout, src)
