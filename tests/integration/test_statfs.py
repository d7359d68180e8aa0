"""A mount root is a mount: statfs/statvfs of virtual paths report a writable file system with the
overlay's real free space, and the mount table (/proc/self/mountinfo, /proc/self/mounts) lists
the prefix, repo roots and explicit mounts as type hfshim, so df, stat -f, findmnt and
os.path.ismount see them."""
import json
import os
import shutil
import stat

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"
BUCKET_DIR = "neuronxcc-2.13.72.0+78a426937"


class StatfsTest(ShimTest):
    def setUp(self):
        super().setUp()
        # A space in the mount point: the mount table escapes it as the kernel does (\040).
        self.mnt = os.path.join(self.tmp, "compile cache")
        self.mounts = {"HF_MOUNTS": f"{self.mnt}=buckets/acme/cache"}

    def tearDown(self):
        # Nothing reached the real file system at the mount point (run without the shim).
        self.assertFalse(os.path.lexists(self.mnt), "the mount point was created for real")
        super().tearDown()

    def real_statvfs(self):
        """statvfs of the overlay's real directory (its nearest existing ancestor)."""
        p = os.path.join(self.home, "hfshim", "overlay")
        while not os.path.exists(p):
            p = os.path.dirname(p)
        return os.statvfs(p)

    def assert_near(self, a, b, total, what):
        # Other jobs on this machine write meanwhile: a small tolerance.
        self.assertLessEqual(abs(a - b), total // 50 + 4096, f"{what}: {a} vs {b}")

    def test_statvfs_is_writable_with_the_overlay_space(self):
        code = f"""
import json, os
out = {{}}
for p in ['/hf', '{TINY}', '{TINY}/config.json', {self.mnt!r}, {self.mnt + "/" + BUCKET_DIR!r}]:
    s = os.statvfs(p)
    out[p] = [s.f_flag, s.f_bavail, s.f_blocks, s.f_frsize, s.f_fsid, s.f_files]
fd = os.open({self.mnt!r}, os.O_RDONLY)
s = os.fstatvfs(fd)
out['fd'] = [s.f_flag, s.f_bavail, s.f_blocks, s.f_frsize, s.f_fsid, s.f_files]
print(json.dumps(out))
"""
        out = json.loads(self.py(code, extra=self.mounts).stdout)
        real = self.real_statvfs()
        for p, (flag, bavail, blocks, frsize, fsid, files) in out.items():
            self.assertFalse(flag & os.ST_RDONLY, p)
            self.assertTrue(flag & os.ST_NOSUID and flag & os.ST_NODEV, p)
            self.assertEqual(frsize, real.f_frsize, p)
            self.assertEqual(blocks, real.f_blocks, p)
            self.assertEqual(files, real.f_files, p)
            self.assert_near(bavail, real.f_bavail, real.f_blocks, p)
        # f_fsid follows st_dev: one per repo, the prefix its own.
        self.assertEqual(out[TINY][4], out[TINY + "/config.json"][4])
        self.assertEqual(out[self.mnt][4], out["fd"][4])
        self.assertEqual(len({out["/hf"][4], out[TINY][4], out[self.mnt][4]}), 3)

    def test_stat_f_names_the_type(self):
        out = self.run_shim(["stat", "-f", "-c", "%t %T", TINY]).stdout.decode().split(None, 1)
        self.assertEqual(out[0], "48465348")
        self.assertIn("48465348", out[1])

    def df(self, path, *opts):
        lines = self.run_shim(["df", *opts, path], extra=self.mounts).stdout.decode().splitlines()
        self.assertEqual(len(lines), 2, lines)
        return lines[1]

    def test_df_names_hfshim(self):
        line = self.df(TINY, "-T")
        self.assertEqual(line.split()[:2], ["hf://acme/tiny", "hfshim"], line)
        self.assertTrue(line.endswith(" " + TINY), line)
        for p in [self.mnt, self.mnt + "/" + BUCKET_DIR]:
            line = self.df(p, "-T")
            self.assertEqual(line.split()[:2], ["hf://buckets/acme/cache", "hfshim"], line)
            self.assertTrue(line.endswith(" " + self.mnt), line)
        # The sizes are the overlay's.
        src, fstype, size, avail, target = self.df(
            self.mnt + "/" + BUCKET_DIR, "-B1", "--output=source,fstype,size,avail,target"
        ).split(None, 4)
        real = self.real_statvfs()
        self.assertEqual((fstype, target), ("hfshim", self.mnt))
        self.assertEqual(int(size), real.f_blocks * real.f_frsize)
        self.assert_near(int(avail) // real.f_frsize, real.f_bavail, real.f_blocks, "avail")

    def test_findmnt_and_mount_list_them(self):
        if not shutil.which("findmnt"):
            self.skipTest("no findmnt")
        out = self.run_shim(["findmnt", "-n", "-r", "-o", "TARGET,FSTYPE,SOURCE", "-t", "hfshim"],
                            extra=self.mounts).stdout.decode().splitlines()
        self.assertIn("/hf hfshim hf://", out)
        self.assertIn(self.mnt.replace(" ", "\\x20") + " hfshim hf://buckets/acme/cache", out)
        out = self.run_shim(["mount", "-t", "hfshim"], extra=self.mounts).stdout.decode()
        self.assertIn(f"hf://buckets/acme/cache on {self.mnt} type hfshim (rw,nosuid,nodev)", out)

    def test_ismount(self):
        plain = os.path.join(self.tmp, "plain")
        os.mkdir(plain)
        code = f"""
import json, os
ps = [{self.mnt!r}, {self.mnt + "/" + BUCKET_DIR!r}, {plain!r}, '{TINY}', '{TINY}/a', '/hf']
print(json.dumps([os.path.ismount(p) for p in ps]))
"""
        out = json.loads(self.py(code, extra=self.mounts).stdout)
        self.assertEqual(out, [True, False, False, True, False, True])

    def test_mountinfo_has_our_lines(self):
        code = f"""
import json, os
st = os.stat({self.mnt!r})
os.stat('{TINY}')
out = {{'dev': [os.major(st.st_dev), os.minor(st.st_dev)], 'tiny': os.stat('{TINY}').st_dev}}
for name in ['/proc/self/mountinfo', '/proc/thread-self/mountinfo',
             '/proc/%d/mountinfo' % os.getpid(), '/proc/self/mounts', '/proc/mounts']:
    with open(name) as f:
        out[name] = f.read()
print(json.dumps(out))
"""
        out = json.loads(self.py(code, extra=self.mounts).stdout)
        esc = self.mnt.replace(" ", "\\040")
        infos = [k for k in out if k.endswith("/mountinfo")]
        self.assertEqual(len(infos), 3)
        for name in infos:
            text = out[name]
            ours = [l.split() for l in text.splitlines() if " - hfshim " in l]
            byname = {f[4]: f for f in ours}
            self.assertIn(esc, byname, text)
            f = byname[esc]
            self.assertEqual(f[2], "%d:%d" % tuple(out["dev"]))
            self.assertEqual((f[3], f[5], f[6:]),
                             ("/", "rw,nosuid,nodev", ["-", "hfshim", "hf://buckets/acme/cache",
                                                       "rw"]))
            self.assertIn("/hf", byname)
            self.assertIn(TINY, byname)  # a repo root this process used
            tiny = byname[TINY][2].split(":")
            self.assertEqual(os.makedev(int(tiny[0]), int(tiny[1])), out["tiny"])
            self.assertEqual(byname[TINY][1], byname["/hf"][0], "a repo root sits on /hf")
            reals = {l.split()[0] for l in text.splitlines() if " - hfshim " not in l}
            self.assertFalse(reals & {g[0] for g in ours}, "ids are new")
        for name in ["/proc/self/mounts", "/proc/mounts"]:
            self.assertIn(f"hf://buckets/acme/cache {esc} hfshim rw,nosuid,nodev 0 0\n",
                          out[name])
            self.assertIn("hf:// /hf hfshim rw,nosuid,nodev 0 0\n", out[name])
        # stdio (cat, sed) and C's getmntent see them too; without the shim nothing is there.
        cat = self.run_shim(["sed", "-n", "/hfshim/p", "/proc/self/mountinfo"],
                            extra=self.mounts).stdout.decode()
        self.assertIn(esc, cat)
        code = """
import ctypes
libc = ctypes.CDLL(None)
libc.setmntent.restype = ctypes.c_void_p
libc.getmntent.restype = ctypes.POINTER(ctypes.c_char_p * 4)
f = libc.setmntent(b'/etc/mtab', b'r')
while True:
    e = libc.getmntent(ctypes.c_void_p(f))
    if not e: break
    if e.contents[2] == b'hfshim': print(e.contents[1].decode())
"""
        got = self.py(code, extra=self.mounts).stdout.decode().splitlines()
        if os.path.realpath("/etc/mtab").startswith("/proc/"):
            self.assertIn(self.mnt, got)
        plain = self.run_shim(["cat", "/proc/self/mountinfo"], preload=False).stdout
        self.assertNotIn(b"hfshim", plain)
