"""The overlay as a POSIX file system (issue 9), the classes done so far: AF_UNIX sockets at
virtual paths, O_CREAT|O_EXCL never following a final symlink, and the shim leaving the
program's own state alone (its random() sequence, errno on success)."""
import os
import subprocess
import textwrap

from harness import ShimTest, PY

BUCKET = "buckets/acme/cache"

SOCKETS = r"""
import json, os, socket, stat, sys
d = sys.argv[1]
out = {}
os.makedirs(d, exist_ok=True)
path = os.path.join(d, "s.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
st = os.lstat(path)
out["is_sock"] = stat.S_ISSOCK(st.st_mode)
out["listed"] = "s.sock" in os.listdir(d)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
a, _ = s.accept()
c.sendall(b"ping")
out["recv"] = a.recv(4).decode()
errs = {}
for name, f in (("mkdir", os.mkdir), ("symlink", lambda p: os.symlink("x", p)),
                ("mkfifo", os.mkfifo), ("bind", lambda p: socket.socket(socket.AF_UNIX).bind(p))):
    try:
        f(path)
        errs[name] = "ok"
    except OSError as e:
        errs[name] = e.strerror
out["taken"] = errs
os.chmod(path, 0o700)
out["mode"] = oct(os.lstat(path).st_mode & 0o777)
os.unlink(path)
out["gone"] = not os.path.lexists(path)
t = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
t.bind(path)
out["rebound"] = stat.S_ISSOCK(os.lstat(path).st_mode)
os.unlink(path)
for name, target in (("file", os.path.join(d, "plain")), ("missing", os.path.join(d, "none"))):
    if name == "file":
        open(target, "w").close()
    try:
        socket.socket(socket.AF_UNIX).connect(target)
        out["connect_" + name] = "ok"
    except OSError as e:
        out["connect_" + name] = e.strerror
print(json.dumps(out))
"""

STATE_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
/* argv[1]: a cold virtual file, argv[2]: a remote file to copy up, argv[3]: a new file. */
int main(int argc, char **argv)
{
    (void)argc;
    srandom(42);
    long want[4];
    for (int i = 0; i < 4; i++) want[i] = random();
    srandom(42);
    struct stat st;
    int bad = 0;
    errno = 1234;
    if (stat(argv[1], &st) != 0 || errno != 1234) bad |= 1;
    int fd = open(argv[1], O_RDONLY);
    char buf[64];
    if (fd < 0 || read(fd, buf, sizeof buf) < 0 || close(fd) != 0 || errno != 1234) bad |= 2;
    fd = open(argv[2], O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, "x\n", 2) != 2 || close(fd) != 0 || errno != 1234) bad |= 4;
    fd = open(argv[3], O_CREAT | O_WRONLY | O_EXCL, 0644);
    if (fd < 0 || close(fd) != 0 || unlink(argv[3]) != 0 || errno != 1234) bad |= 8;
    for (int i = 0; i < 4; i++)
        if (random() != want[i]) bad |= 16;
    printf("%d\n", bad);
    return 0;
}
"""

LONG_PATHS = r"""
import json, os, shutil, subprocess, sys
os.makedirs(sys.argv[1], exist_ok=True)
os.chdir(sys.argv[1])
MAX = os.pathconf(".", "PC_PATH_MAX")  # 4096: an argument of MAX-1 bytes is the longest taken
parts, n, i = [], 0, 0
while n < MAX - 1:
    left = MAX - 1 - n - (1 if parts else 0)
    parts.append((chr(ord("a") + i % 26) * 255)[:left])
    n += len(parts[-1]) + (1 if len(parts) > 1 else 0)
    i += 1
nx = "/".join(parts)
assert len(nx) == MAX - 1, len(nx)
top, parent = parts[0], os.path.dirname(nx)
out = {}
def rec(key, fn):
    try:
        r = fn()
        out[key] = "ok" if r is None else r
    except OSError as e:
        out[key] = e.strerror
subprocess.run(["mkdir", "-p", parent], check=True)  # coreutils, which walks with chdir
rec("open_creat", lambda: os.close(os.open(nx, os.O_CREAT | os.O_WRONLY, 0o642)))
rec("mode", lambda: oct(os.stat(nx).st_mode & 0o7777))
rec("write", lambda: open(nx, "w").write("long\n") and None)
rec("read", lambda: open(nx).read())
rec("chmod", lambda: os.chmod(nx, 0o600))
rec("mode2", lambda: oct(os.lstat(nx).st_mode & 0o7777))
sib = nx[:-1] + "~"
rec("rename", lambda: os.rename(nx, sib))
rec("rename_back", lambda: os.rename(sib, nx))
rec("link", lambda: os.link(nx, sib))
rec("nlink", lambda: os.stat(nx).st_nlink)
rec("unlink_link", lambda: os.unlink(sib))
rec("symlink", lambda: os.symlink("target", sib))
rec("readlink", lambda: os.readlink(sib))
rec("unlink_symlink", lambda: os.unlink(sib))
rec("truncate", lambda: os.truncate(nx, 2))
rec("size", lambda: os.stat(nx).st_size)
rec("utime", lambda: os.utime(nx, (1, 2)))
rec("mtime", lambda: int(os.stat(nx).st_mtime))
rec("unlink", lambda: os.unlink(nx))
rec("gone", lambda: os.path.lexists(nx))
rec("mkdir", lambda: os.mkdir(nx, 0o755))
rec("isdir", lambda: os.path.isdir(nx))
rec("rmdir", lambda: os.rmdir(nx))
rec("mkfifo", lambda: os.mkfifo(nx))
rec("fifo_unlink", lambda: os.unlink(nx))
for call, fn in (("open", lambda p: os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))),
                 ("mkdir", lambda p: os.mkdir(p)), ("stat", os.stat),
                 ("rename", lambda p: os.rename(parent, p)),
                 ("symlink_target", lambda p: os.symlink(p, parent + "/l"))):
    rec("toolong_" + call, lambda: fn(nx + "x"))
here = os.getcwd()
rec("chdir_deep", lambda: os.chdir(parent))
rec("getcwd_len", lambda: len(os.getcwd()) - len(here))
rec("create_in_deep_cwd", lambda: open("f", "w").write("deep") and None)
rec("listdir_deep", lambda: sorted(os.listdir(".")))
rec("open_from_deep_cwd", lambda: open(os.path.join(here, parts[0])) and None)
os.chdir(here)
rec("read_deep", lambda: open(os.path.join(parent, "f")).read())
rec("rm_rf", lambda: subprocess.run(["rm", "-rf", top], check=True) and None)
rec("top_gone", lambda: os.path.lexists(top))
print(json.dumps(out, sort_keys=True))
"""


class PosixBase(ShimTest):
    """A real directory P with the bucket mounted at P/mnt (which never appears really)."""

    def setUp(self):
        super().setUp()
        self.P = os.path.join(self.tmp, "p")
        os.makedirs(self.P)
        self.M = os.path.join(self.P, "mnt")
        self.extra = {"HF_MOUNTS": f"{self.M}={BUCKET}", "HF_NO_PUSH": "1"}

    def tearDown(self):
        self.assertFalse(os.path.lexists(self.M), "nothing may appear at the mount point")
        super().tearDown()

    def sockets(self, d, shim=True):
        import json
        if shim:
            out = self.run_shim([PY, "-c", SOCKETS, d], extra=self.extra).stdout
        else:
            out = subprocess.run([PY, "-c", SOCKETS, d], check=True, stdout=subprocess.PIPE).stdout
        return json.loads(out)


class PosixTest(PosixBase):
    def test_unix_sockets_live_in_the_overlay(self):
        """bind/connect at a virtual path: the socket is an overlay entry (stat, listing, chmod,
        unlink, EEXIST for other creators) and works, also when its overlay path is longer than
        sun_path's 108 bytes; the same program on a real directory is the reference."""
        deep = os.path.join(self.M, "run", "d" * 60)
        ref = self.sockets(os.path.join(self.tmp, "ref", "run", "d" * 60), shim=False)
        got = self.sockets(deep)
        self.assertEqual(got, ref)
        self.assertTrue(got["is_sock"] and got["listed"] and got["recv"] == "ping")
        self.assertEqual(got["taken"]["bind"], "Address already in use")
        overlay = os.path.join(self.home, "hfshim", "overlay", "buckets--acme--cache", "upper")
        self.assertGreater(len(os.path.join(overlay, "run", "d" * 60, "s.sock")), 108)
        self.assertTrue(os.path.isdir(os.path.join(overlay, "run", "d" * 60)))
        self.assert_no_writes()

    def test_unix_socket_relative_from_a_virtual_cwd(self):
        code = ("import socket, os; s = socket.socket(socket.AF_UNIX); s.bind('here.sock');"
                " print(os.path.exists('here.sock'))")
        sub = os.path.join(self.M, "registry")
        out = self.run_shim(["sh", "-c", f"cd {sub} && {PY} -c \"{code}\""], extra=self.extra)
        self.assertEqual(out.stdout.strip(), b"True")

    def test_paths_as_long_as_the_kernel_takes(self):
        """Relative paths of PATH_MAX-1 bytes from a cwd inside the mount work for every call
        (their virtual and overlay paths are longer than PATH_MAX), one more byte is
        ENAMETOOLONG, a chdir walk that deep and back works (coreutils mkdir -p, rm -rf); the
        same program on a real directory is the reference."""
        import json
        ref = subprocess.run([PY, "-c", LONG_PATHS, os.path.join(self.tmp, "ref")], check=True,
                             stdout=subprocess.PIPE).stdout
        got = self.run_shim([PY, "-c", LONG_PATHS, os.path.join(self.M, "long")],
                            extra=self.extra).stdout
        self.assertEqual(json.loads(got), json.loads(ref))
        self.assertEqual(json.loads(got)["read"], "long\n")
        self.assert_no_writes()

    def test_o_excl_never_follows_a_final_symlink(self):
        code = textwrap.dedent("""
            import os, sys
            d = sys.argv[1]
            os.makedirs(d, exist_ok=True)
            os.symlink("target-nowhere", os.path.join(d, "dangling"))
            open(os.path.join(d, "file"), "w").close()
            os.symlink("file", os.path.join(d, "tofile"))
            r = []
            for name in ("dangling", "tofile"):
                try:
                    os.close(os.open(os.path.join(d, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    r.append("created")
                except OSError as e:
                    r.append(e.strerror)
            r.append(os.path.lexists(os.path.join(d, "target-nowhere")))
            fd = os.open(os.path.join(d, "dangling"), os.O_CREAT | os.O_WRONLY)  # follows
            os.close(fd)
            r.append(os.path.exists(os.path.join(d, "target-nowhere")))
            print(r)
        """)
        ref = subprocess.run([PY, "-c", code, os.path.join(self.tmp, "ref")], check=True,
                             stdout=subprocess.PIPE).stdout
        got = self.run_shim([PY, "-c", code, os.path.join(self.M, "x")], extra=self.extra).stdout
        self.assertEqual(got, ref)
        self.assertIn(b"['File exists', 'File exists', False, True]", got)

    def test_program_state_is_left_alone(self):
        """A cold stat, a read, a copy-up and a create through the shim keep the program's
        random() sequence and errno as they were (temp names come from getrandom)."""
        src, exe = os.path.join(self.tmp, "state.c"), os.path.join(self.tmp, "state")
        with open(src, "w") as f:
            f.write(STATE_C)
        subprocess.run(["gcc", "-o", exe, src], check=True)
        mod = "neuronxcc-2.13.72.0+78a426937/MODULE_1111+d41d8cd9"
        out = self.run_shim([exe, f"{self.M}/{mod}/compile_flags.json", f"{self.M}/README.txt",
                             f"{self.M}/new.txt"], extra=self.extra).stdout
        self.assertEqual(out.strip(), b"0", "bit mask of what changed (1 stat, 2 read, "
                         "4 copy-up, 8 create, 16 random())")
        self.assert_no_writes()


APPENDERS = r"""
import multiprocessing as mp, sys
def append(path, i, barrier):
    barrier.wait()
    with open(path, "a") as f:
        f.write("writer %d\n" % i)
if __name__ == "__main__":
    path, n = sys.argv[1], int(sys.argv[2])
    b = mp.Barrier(n)
    ps = [mp.Process(target=append, args=(path, i, b)) for i in range(n)]
    for p in ps: p.start()
    for p in ps: p.join()
    bad = [p.exitcode for p in ps if p.exitcode]
    if bad:
        sys.exit("appenders failed: %r" % bad)  # their tracebacks are on stderr
    sys.stdout.write(open(path).read())
"""

RACES = r"""
import json, multiprocessing as mp, os, sys
root, n = sys.argv[1], 4
mod = os.path.join(root, "neuronxcc-2.13.72.0+78a426937", "MODULE_1111+d41d8cd9")
def run(fn, arg):
    b = mp.Barrier(n)
    q = mp.Queue()
    def body(i):
        b.wait()
        try:
            fn(i, arg)
            q.put((i, "ok"))
        except OSError as e:
            q.put((i, e.strerror))
    ps = [mp.Process(target=body, args=(i,)) for i in range(n)]
    for p in ps: p.start()
    for p in ps: p.join()
    return sorted(q.get()[1] for _ in ps)
out = {}
# Four renames of one remote file to four new names: one wins, the file is whole there.
out["rename_one"] = run(lambda i, a: os.rename(a, a + ".r%d" % i), os.path.join(mod, "model.neff"))
names = [f for f in os.listdir(mod) if f.startswith("model.neff")]
out["rename_one_names"] = len(names)
out["rename_one_size"] = os.path.getsize(os.path.join(mod, names[0])) if len(names) == 1 else -1
# Four renames of four remote files of one remote directory (one parent copied up by all).
out["rename_many"] = run(lambda i, a: os.rename(os.path.join(a, ["model.hlo_module.pb",
    "model.done", "compile_flags.json", "model.neff"][i] if i < 3 else names[0]),
    os.path.join(a, "moved%d" % i)), mod)
out["rename_many_listing"] = sorted(os.listdir(mod))
# mkdir of one new name (one wins: EEXIST for the rest), and of four names in one remote parent.
reg = os.path.join(root, "registry")
out["mkdir_one"] = run(lambda i, a: os.mkdir(a), os.path.join(reg, "new"))
out["mkdir_many"] = run(lambda i, a: os.mkdir(os.path.join(a, "d%d" % i)), reg)
out["mkdir_listing"] = sorted(os.listdir(reg))
# O_TRUNC opens of one remote file, each writing a line of the same length at offset 0.
def trunc(i, a):
    fd = os.open(a, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"writer %d\n" % i)
    os.close(fd)
man = os.path.join(reg, "1.manifest")
out["trunc"] = run(trunc, man)
out["trunc_content_ok"] = open(man).read() in ["writer %d\n" % i for i in range(n)]
# truncate(2) of one remote file to a shorter length by all at once: its first bytes remain.
man1 = os.path.join(reg, "1.manifest#1")
out["truncate"] = run(lambda i, a: os.truncate(a, 10), man1)
out["truncate_content"] = open(man1).read()
print(json.dumps(out, sort_keys=True))
"""

FORK_RENAMES = r"""
import os, sys, threading
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for n in ("a", "c"):
    open(os.path.join(d, n), "w").close()
stop = False
def spin():
    while not stop:
        os.rename(os.path.join(d, "a"), os.path.join(d, "b"))
        os.rename(os.path.join(d, "b"), os.path.join(d, "a"))
t = threading.Thread(target=spin)
t.start()
for i in range(40):
    pid = os.fork()
    if pid == 0:  # a child forked at any moment of the other thread's renames
        os.rename(os.path.join(d, "c"), os.path.join(d, "c%d" % i))
        os.rename(os.path.join(d, "c%d" % i), os.path.join(d, "c"))
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    assert st == 0, st
stop = True
t.join()
print("ok")
"""


class ConcurrentCopyUpTest(PosixBase):
    def test_concurrent_appends_to_a_remote_file_are_all_kept(self):
        """Processes that open the same remote file for append at the same moment each copy it
        up; the first copy published is the one everybody writes to (no copy replaces another
        that already holds writes)."""
        for attempt in range(3):  # a fresh cold file each time: the race is at the copy-up
            home = os.path.join(self.tmp, "home%d" % attempt)
            os.makedirs(home)
            out = self.run_shim([PY, "-c", APPENDERS, f"{self.M}/README.txt", "4"],
                                extra=self.extra, home=home).stdout.decode()
            base = self.fixture_bytes(BUCKET, "README.txt").decode()
            self.assertTrue(out.startswith(base), "the remote content comes first")
            lines = sorted(out[len(base):].splitlines())
            self.assertEqual(lines, ["writer %d" % i for i in range(4)], "attempt %d" % attempt)
        self.assert_no_writes()


    def test_rename_mkdir_and_truncate_races(self):
        """Four processes at once renaming one remote file (one wins, the others ENOENT, the
        file whole under one name), renaming the files of one remote directory, creating one
        directory (one wins, EEXIST) and four in one remote parent, truncating one remote file
        on open: the outcome a local file system gives, every time."""
        import json
        for attempt in range(3):
            home = os.path.join(self.tmp, "rhome%d" % attempt)
            os.makedirs(home)
            got = json.loads(self.run_shim([PY, "-c", RACES, self.M], extra=self.extra,
                                           home=home).stdout)
            self.assertEqual(got["rename_one"], ["No such file or directory"] * 3 + ["ok"])
            self.assertEqual(got["rename_one_names"], 1)
            self.assertEqual(got["rename_one_size"], 256 * 1024)
            self.assertEqual(got["rename_many"], ["ok"] * 4)
            self.assertEqual(got["rename_many_listing"], ["moved%d" % i for i in range(4)])
            self.assertEqual(got["mkdir_one"], ["File exists"] * 3 + ["ok"])
            self.assertEqual(got["mkdir_many"], ["ok"] * 4)
            self.assertEqual(got["mkdir_listing"], ["1.manifest", "1.manifest#1", "d0", "d1",
                                                    "d2", "d3", "new"])
            self.assertEqual(got["trunc"], ["ok"] * 4)
            self.assertTrue(got["trunc_content_ok"], attempt)
            self.assertEqual(got["truncate"], ["ok"] * 4)
            self.assertEqual(got["truncate_content"], '{"version"')
        self.assert_no_writes()

    def test_fork_while_another_thread_renames(self):
        """A child forked while another thread of its parent holds the write path's lock can
        rename at once (it inherits neither the in-process lock nor the cross-process one)."""
        out = self.run_shim([PY, "-W", "ignore", "-c", FORK_RENAMES, f"{self.M}/fork"],
                            extra=self.extra, timeout=60)
        self.assertEqual(out.stdout.strip(), b"ok")

class BadPointerTest(PosixBase):
    def test_two_path_calls_with_one_bad_name(self):
        """link/rename with a good source in a virtual cwd and a NULL target: EFAULT (the kernel
        copies both names before looking anything up), as on a real directory."""
        code = textwrap.dedent("""
            import ctypes, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            os.makedirs(sys.argv[1], exist_ok=True)
            os.chdir(sys.argv[1])
            open("f", "w").close()
            r = []
            for call in (lambda: libc.link(b"f", None), lambda: libc.rename(b"f", None),
                         lambda: libc.rename(None, b"g"), lambda: libc.symlink(b"f", None)):
                rc = call()
                r.append((rc, os.strerror(ctypes.get_errno()) if rc else "ok"))
            print(r)
        """)
        if os.environ.get("HFS_PRELOAD_EXTRA"):
            self.skipTest("the preloaded sanitizer runtime dereferences bad pointers itself")
        ref = subprocess.run([PY, "-c", code, os.path.join(self.tmp, "ref")], check=True,
                             stdout=subprocess.PIPE).stdout
        got = self.run_shim([PY, "-c", code, os.path.join(self.M, "d")], extra=self.extra).stdout
        self.assertEqual(got, ref)
        self.assertIn(b"Bad address", got)


PERMS = r"""
import json, os, sys
NOBODY = 65534
def as_nobody(fn):
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            fn()
            os._exit(0)
        except OSError as e:
            os.write(1, (json.dumps(e.strerror) + "\n").encode())
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0
os.chdir(sys.argv[1])
r = {}
os.mkdir("n1", 0o755)
os.chown("n1", NOBODY, NOBODY)
r["create"] = as_nobody(lambda: os.close(os.open("n1/n2", os.O_CREAT | os.O_WRONLY, 0o644)))
os.chmod("n1", 0o644)  # no longer searchable by its owner
for name, fn in (("chmod", lambda: os.chmod("n1/n2", 0o620)), ("stat", lambda: os.stat("n1/n2")),
                 ("open", lambda: os.close(os.open("n1/n2", os.O_RDONLY))),
                 ("unlink", lambda: os.unlink("n1/n2"))):
    r[name] = as_nobody(fn)
os.chmod("n1", 0o755)
# a directory of its own: opened, listed and entered by a user who may not write the shim's tree
r["own_dir"] = as_nobody(lambda: (os.mkdir("n1/own", 0o755), os.listdir("n1/own"),
                                  os.close(os.open("n1/own", os.O_RDONLY | os.O_DIRECTORY)),
                                  os.chdir("n1/own"), os.listdir(".")))
os.mkdir("p", 0o755)
os.chown("p", NOBODY, NOBODY)
os.mkdir("p/d", 0o755)  # root's: nobody may not write inside it
r["rename_same_parent"] = as_nobody(lambda: os.rename("p/d", "p/e"))
r["renamed"] = sorted(os.listdir("p"))
# moving root's directory to another parent needs write permission in it (its ".."): refused,
# and the empty directory it would have replaced is still there
os.mkdir("t", 0o755)
os.chown("t", NOBODY, NOBODY)
as_nobody(lambda: os.mkdir("t/x", 0o755))
r["rename_new_parent"] = as_nobody(lambda: os.rename("p/e", "t/x"))
r["target_kept"] = os.path.isdir("t/x") and os.path.isdir("p/e")
print(json.dumps(r))
"""


class PermissionTest(PosixBase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to switch users")
        for d in (self.tmp, self.home, self.P):  # the other user must reach the overlay
            os.chmod(d, 0o755)
        self.user_mirror = "/tmp/hfshim-mirror-65534"  # core/vfs/vfs_mirror.c's per-user tree
        self.had_user_mirror = os.path.lexists(self.user_mirror)

    def tearDown(self):
        if not self.had_user_mirror:
            import shutil
            shutil.rmtree(self.user_mirror, ignore_errors=True)
        super().tearDown()

    def test_permissions_as_a_local_file_system(self):
        """A directory on the way that the caller may not search is EACCES (not ENOENT); renaming
        a directory within its parent needs no write permission inside it. The same program on a
        real directory is the reference (lines it prints are the errors the user saw)."""
        ref_dir = os.path.join(self.tmp, "ref")
        os.makedirs(ref_dir)
        ref = subprocess.run([PY, "-c", PERMS, ref_dir], check=True, stdout=subprocess.PIPE).stdout
        self.run_shim(["mkdir", "-p", self.M + "/w"], extra=self.extra)
        got = self.run_shim([PY, "-c", PERMS, self.M + "/w"], extra=self.extra).stdout
        self.assertEqual(got, ref)
        self.assertIn(b'"Permission denied"', got)
        self.assertIn(b'"rename_same_parent": true', got)
        self.assertIn(b'"own_dir": true', got)
        self.assertIn(b'"target_kept": true', got)


INODES = r"""
import json, os, sys
os.makedirs(sys.argv[1], exist_ok=True)
os.chdir(sys.argv[1])
os.makedirs("a/sub/deep")
open("a/f", "w").close()
before = {p: os.stat(p).st_ino for p in ("a", "a/sub", "a/sub/deep", "a/f")}
os.rename("a", "b")           # same parent
os.mkdir("other")
os.rename("b", "other/c")     # another parent
after = {p: os.stat(q).st_ino for p, q in (("a", "other/c"), ("a/sub", "other/c/sub"),
                                           ("a/sub/deep", "other/c/sub/deep"), ("a/f", "other/c/f"))}
listed = {e.name: e.inode() for e in os.scandir("other/c")}
print(json.dumps({"kept": before == after, "listed": listed["sub"] == after["a/sub"],
                  "inos": after, "xattrs": os.listxattr("other/c")}))
"""

FILE_INODES = r"""
import json, os, sys
d = sys.argv[1]
mod = os.path.join(d, "neuronxcc-2.13.72.0+78a426937", "MODULE_1111+d41d8cd9")
out = {}
a, b = os.path.join(mod, "model.neff"), os.path.join(mod, "compile_flags.json")
ino_a, ino_b = os.stat(a).st_ino, os.stat(b).st_ino   # remote, never fetched
with open(a, "ab") as f:                            # copied up by a write
    f.write(b"x")
    out["fstat_after_write"] = os.fstat(f.fileno()).st_ino == ino_a
out["stat_after_write"] = os.stat(a).st_ino == ino_a
os.rename(b, os.path.join(d, "moved.json"))         # copied up by a rename, to another parent
out["after_rename"] = os.stat(os.path.join(d, "moved.json")).st_ino == ino_b
with open(os.path.join(d, "moved.json")) as f:
    out["fstat_after_rename"] = os.fstat(f.fileno()).st_ino == ino_b
os.link(a, os.path.join(mod, "hard"))
out["hard_link"] = os.stat(os.path.join(mod, "hard")).st_ino == ino_a
out["listed"] = {e.name: e.inode() == ino_a for e in os.scandir(mod) if e.name in ("model.neff", "hard")}
out["xattrs"] = os.listxattr(a)
out["inos"] = [ino_a, ino_b]
print(json.dumps(out, sort_keys=True))
"""


class InodeTest(PosixBase):
    def test_remote_file_inodes_survive_copy_up_and_rename(self):
        """A remote file keeps its st_ino when a write or a rename copies it into the overlay
        (stat, fstat, a hard link and the listing agree), and in a later process."""
        import json
        out = json.loads(self.run_shim([PY, "-c", FILE_INODES, self.M], extra=self.extra).stdout)
        want = {"fstat_after_write": True, "stat_after_write": True, "after_rename": True,
                "fstat_after_rename": True, "hard_link": True,
                "listed": {"model.neff": True, "hard": True}, "xattrs": []}
        self.assertEqual({k: out[k] for k in want}, want)
        later = self.run_shim(["stat", "-c", "%i", f"{self.M}/moved.json"],
                              extra=self.extra).stdout.split()
        self.assertEqual(int(later[0]), out["inos"][1])
        self.assert_no_writes()

    def test_directory_inodes_survive_renames(self):
        """A directory keeps its st_ino across renames (same parent, new parent), and so do the
        directories below it; the number is the same in a later process (the shim keeps it on
        the overlay copy, in an attribute no program sees)."""
        import json
        out = json.loads(self.run_shim([PY, "-c", INODES, self.M + "/w"], extra=self.extra).stdout)
        self.assertTrue(out["kept"], out)
        self.assertTrue(out["listed"], out)
        self.assertEqual(out["xattrs"], [])
        later = self.run_shim(["stat", "-c", "%i", f"{self.M}/w/other/c", f"{self.M}/w/other/c/sub"],
                              extra=self.extra).stdout.split()
        self.assertEqual([int(x) for x in later], [out["inos"]["a"], out["inos"]["a/sub"]])
