"""Static and Go programs under hfrun: the supervisor (seccomp user notification) serves /hf and
the mounts to programs LD_PRELOAD cannot reach; writes land in the overlay, never on the Hub
(HF_NO_PUSH=1) and never at the mount point in the real file system."""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import time
import unittest

from harness import BUILD, HFRUN, ROOT, ShimTest

SRC = os.path.join(ROOT, "tests", "integration", "static")
BIN = os.path.join(BUILD, "test-bin")
_built = {}


def static_probe():
    """fsprobe.c linked statically, or None (with the reason) when libc.a is missing."""
    if "c" not in _built:
        os.makedirs(BIN, exist_ok=True)
        out = os.path.join(BIN, "fsprobe-static")
        p = subprocess.run(["gcc", "-static", "-O2", "-o", out, os.path.join(SRC, "fsprobe.c")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _built["c"] = (out, None) if p.returncode == 0 else (None, p.stdout.decode()[-500:])
    return _built["c"]


def go_probe():
    """gofsprobe.go built with Debian's Go toolchain (standard library only, offline)."""
    if "go" not in _built:
        go = shutil.which("go")
        if not go:
            _built["go"] = (None, "no Go toolchain (apt-get install golang-go)")
        else:
            os.makedirs(BIN, exist_ok=True)
            out = os.path.join(BIN, "gofsprobe")
            env = dict(os.environ, GOPATH=os.path.join(BIN, "gopath"),
                       GOCACHE=os.path.join(BIN, "gocache"), GOPROXY="off", GOFLAGS="",
                       GO111MODULE="off", CGO_ENABLED="0")
            p = subprocess.run([go, "build", "-o", out, os.path.join(SRC, "gofsprobe.go")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            _built["go"] = (out, None) if p.returncode == 0 else (None, p.stdout.decode()[-500:])
    return _built["go"]


def kernel_ok():
    """Linux >= 5.9: seccomp user notification with SECCOMP_IOCTL_NOTIF_ADDFD."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (5, 9)


class SuperTest(ShimTest):
    def setUp(self):
        if not kernel_ok():
            self.skipTest("the supervisor needs Linux >= 5.9 (this is %s)" % os.uname().release)
        super().setUp()
        self.mnt = os.path.join(self.tmp, "mnt")

    def hfrun(self, args, opts=(), check=True, **kw):
        return self.run_shim([HFRUN, "--no-push", "-m", f"{self.mnt}=acme/tiny", *opts, "--",
                              *args], preload=False, check=check, **kw)

    def need_static(self):
        exe, why = static_probe()
        if not exe:
            self.skipTest("cannot link statically: " + (why or ""))
        return exe

    def tiny(self, path):
        return self.fixture_bytes("acme/tiny", path)

    def listing(self, rel):
        return " ".join(sorted(os.listdir(self.fixture_path("acme/tiny", rel)))).encode() + b"\n"

    def assert_mount_absent(self):
        self.assertFalse(os.path.lexists(self.mnt), "the mount point appeared in the real tree")

    def test_static_reads(self):
        exe = self.need_static()
        big = self.facts["repos"]["acme/tiny"]["files"]["model.safetensors"]["size"]
        p = self.hfrun([exe, "cat", "/hf/acme/tiny/README.md", "size", "/hf/acme/tiny/config.json",
                        "size", "/hf/acme/tiny/model.safetensors", "ls", "/hf/acme/tiny",
                        "cat", f"{self.mnt}/a/b/c/deep.txt", "ls", f"{self.mnt}/a",
                        "size", f"{self.mnt}/a", "exists", f"{self.mnt}/nope",
                        "ls", self.tmp, "ls", "/hf", "same", f"{self.mnt}/README.md",
                        "same", f"{self.mnt}/a"])
        out = p.stdout
        self.assertTrue(out.startswith(self.tiny("README.md")), out[:200])
        lines = out[len(self.tiny("README.md")):].split(b"\n")
        self.assertEqual(lines[0], b"%d file" % len(self.tiny("config.json")))
        self.assertEqual(lines[1], b"%d file" % big)
        self.assertEqual(lines[2] + b"\n", self.listing(""))
        rest = b"\n".join(lines[3:])
        self.assertTrue(rest.startswith(self.tiny("a/b/c/deep.txt")), rest[:200])
        lines = rest[len(self.tiny("a/b/c/deep.txt")):].split(b"\n")
        self.assertEqual(lines[0] + b"\n", self.listing("a"))
        self.assertTrue(lines[1].endswith(b" dir"), lines[1])
        self.assertEqual(lines[2], b"no")
        self.assertIn(b"mnt", lines[3].split(b" "))  # the parent lists the mount point
        self.assertEqual(lines[4], b"buckets datasets spaces")
        self.assertEqual(lines[5:7], [b"same", b"same"])  # stat and fstat agree (cp, tar, fts)
        self.assertIn(b"statically linked: running it under the supervisor", p.stderr)
        self.assert_mount_absent()
        self.assert_no_writes()

    def test_static_cwd_and_relative(self):
        exe = self.need_static()
        p = self.hfrun([exe, "cd", f"{self.mnt}/a", "pwd", "cat", "top.txt", "cat", "b/c/deep.txt",
                        "ls", ".", "cd", "b", "pwd", "cat", "../top.txt", "readlink",
                        "/proc/self/cwd", "cd", "/", "pwd", "cat", "hf/acme/tiny/a/top.txt"])
        top, deep = self.tiny("a/top.txt"), self.tiny("a/b/c/deep.txt")
        want = (b"ok\n%s/a\n" % self.mnt.encode() + top + deep + self.listing("a") +
                b"ok\n%s/a/b\n" % self.mnt.encode() + top + b"%s/a/b\n" % self.mnt.encode() +
                b"ok\n/\n" + top)
        self.assertEqual(p.stdout, want)
        self.assert_mount_absent()

    def test_static_writes_stay_local(self):
        exe = self.need_static()
        m = self.mnt
        p = self.hfrun([exe, "write", f"{m}/new.txt", "hello\n", "append", f"{m}/new.txt", "more\n",
                        "cat", f"{m}/new.txt", "write", f"{m}/README.md", "changed\n",
                        "mkdir", f"{m}/d", "mv", f"{m}/new.txt", f"{m}/d/moved.txt",
                        "ls", f"{m}/d", "rm", f"{m}/a/top.txt", "exists", f"{m}/a/top.txt",
                        "mkdir", f"{m}/e", "rmdir", f"{m}/e", "exists", f"{m}/e"])
        self.assertEqual(p.stdout, b"ok\nok\nhello\nmore\nok\nok\nok\nmoved.txt\nok\nno\nok\nok\nno\n")
        # a later session sees them (the overlay persists); the Hub's side is untouched
        p = self.hfrun([exe, "cat", f"{m}/d/moved.txt", "cat", f"{m}/README.md",
                        "exists", f"{m}/a/top.txt"])
        self.assertEqual(p.stdout, b"hello\nmore\nchanged\nno\n")
        self.assertEqual(self.tiny("README.md")[:8], b"# acme/t")
        self.assert_mount_absent()
        self.assert_no_writes()

    def test_go_program(self):
        exe, why = go_probe()
        if not exe:
            print("test_go_program skipped: " + why, file=sys.stderr)
            self.skipTest(why)
        m = self.mnt
        p = self.hfrun([exe, "cat", "/hf/acme/tiny/config.json", "size", f"{m}/README.md",
                        "ls", f"{m}/a", "walk", f"{m}/a", "write", f"{m}/go.txt", "from go",
                        "cat", f"{m}/go.txt", "cd", f"{m}/a/b", "pwd", "cat", "c/deep.txt",
                        "same", f"{m}/config.json", "same", f"{m}/go.txt"])
        walk = b"".join(b"%s %d\n" % (r.encode(), len(self.tiny("a/" + r)))
                        for r in ("b/c/deep.txt", "top.txt"))
        want = (self.tiny("config.json") + b"%d file\n" % len(self.tiny("README.md")) +
                self.listing("a") + walk + b"ok\nfrom go" + b"ok\n%s/a/b\n" % m.encode() +
                self.tiny("a/b/c/deep.txt") + b"same\nsame\n")
        self.assertEqual(p.stdout, want)
        self.assertIn(b"a Go program: running it under the supervisor", p.stderr)
        self.assert_mount_absent()
        self.assert_no_writes()

    def test_supervise_dynamic_tree(self):
        """--supervise for a dynamic shell: its children are supervised too, and a child started
        in a virtual cwd inherits it."""
        m = self.mnt
        out = os.path.join(self.tmp, "copy")
        p = self.hfrun(["sh", "-c", f"cd {m}/a && cat top.txt && ls b && pwd && "
                        f"mkdir -p {m}/x/y && echo hi > {m}/x/y/f && cat {m}/x/y/f && ls {m}/x && "
                        f"cp -r {m}/a {out}"],
                       opts=["--supervise"])
        self.assertEqual(p.stdout, self.tiny("a/top.txt") + b"c\n%s/a\nhi\ny\n" % m.encode())
        with open(os.path.join(out, "b", "c", "deep.txt"), "rb") as f:
            self.assertEqual(f.read(), self.tiny("a/b/c/deep.txt"))
        self.assert_mount_absent()
        self.assert_no_writes()

    def test_background_outlives_command(self):
        """What the command leaves running is still served after hfrun has returned."""
        exe = self.need_static()
        out = os.path.join(self.tmp, "late.txt")
        p = self.hfrun(["sh", "-c", f"(sleep 0.3; {exe} cat {self.mnt}/a/top.txt > {out}) & "
                        "echo started"], opts=["--supervise"])
        self.assertEqual(p.stdout, b"started\n")
        for _ in range(100):
            if os.path.exists(out) and os.path.getsize(out):
                break
            time.sleep(0.05)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.tiny("a/top.txt"))
        self.assert_mount_absent()
        self.assert_no_writes()

    def test_setuid_target(self):
        dyn = os.path.join(self.tmp, "fsprobe-setuid")
        subprocess.run(["gcc", "-O2", "-o", dyn, os.path.join(SRC, "fsprobe.c")], check=True)
        os.chmod(dyn, 0o4755)
        p = self.hfrun([dyn, "cat", f"{self.mnt}/a/top.txt"])
        self.assertEqual(p.stdout, self.tiny("a/top.txt"))
        self.assertIn(b"setuid/setgid: running it under the supervisor", p.stderr)

    def test_seccomp_forbidden(self):
        """Where seccomp cannot be used (a container's policy): one clear line, a non-zero
        exit, never a silent ENOENT."""
        exe = self.need_static()
        lib = ctypes.util.find_library("seccomp")
        if not lib:
            self.skipTest("no libseccomp to build the forbidding filter")
        # A wrapper that forbids seccomp(2) (ENOSYS) for hfrun and its children, then execs it.
        code = ("import ctypes, os, sys\n"
                f"s = ctypes.CDLL('{lib}')\n"
                "s.seccomp_init.restype = ctypes.c_void_p\n"
                "ctx = s.seccomp_init(0x7fff0000)\n"
                "nr = s.seccomp_syscall_resolve_name(b'seccomp')\n"
                "assert s.seccomp_rule_add(ctypes.c_void_p(ctx), 0x00050000 | 38, nr, 0) == 0\n"
                "assert s.seccomp_load(ctypes.c_void_p(ctx)) == 0\n"
                "os.execv(sys.argv[1], sys.argv[1:])\n")
        p = self.run_shim([sys.executable, "-c", code, HFRUN, "--no-push", "--", exe, "cat",
                           "/hf/acme/tiny/README.md"], preload=False, check=False)
        self.assertEqual(p.returncode, 126, p.stderr)
        self.assertIn(b"hfshim: cannot supervise", p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_no_supervise(self):
        exe = self.need_static()
        p = self.hfrun([exe, "exists", "/hf/acme/tiny/README.md"], opts=["--no-supervise"])
        self.assertEqual(p.stdout, b"no\n")  # what --no-supervise asks for: the kernel alone


if __name__ == "__main__":
    unittest.main()
