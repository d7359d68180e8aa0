"""Bytes that reach a program without a wrapped read (issue 11, points 1-3): an fd passed with
SCM_RIGHTS to a process without the shim, taken with pidfd_getfd or /proc/PID/fd; io_uring,
Linux AIO and POSIX AIO reads of cold virtual files; dlopen/dlmopen, ctypes and Python C
extensions of virtual libraries and their DT_NEEDED dependencies. Every test compares bytes with
the fixture's and checks nothing appeared at the mount point in the real file system."""
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import PY, ShimTest

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.join(HERE, "native")
TINY = "/hf/acme/tiny"
NAT = "/hf/acme/native"
CC = os.environ.get("CC", "cc")

_bins = None


def bins():
    """The test programs, compiled once per run."""
    global _bins
    if _bins is None:
        d = tempfile.mkdtemp(prefix="hfshim-bypass-bin-")
        src = os.path.join(NATIVE, "asyncread.c")
        b = {"uring": os.path.join(d, "asyncread"), "static": os.path.join(d, "asyncread-static"),
             "caller": os.path.join(d, "rl", "libhfscaller.so"),
             "dep": os.path.join(d, "rl", "libhfsrl.so")}
        subprocess.run([CC, "-O1", "-o", b["uring"], src, "-luring"], check=True)
        # liburing linked statically: the program issues io_uring calls inline, with no
        # liburing.so to see (the ring is made through syscall(), see asyncread.c)
        subprocess.run([CC, "-O1", "-o", b["static"], src, "-Wl,-Bstatic", "-luring",
                        "-Wl,-Bdynamic"], check=True)
        os.makedirs(os.path.dirname(b["caller"]))
        subprocess.run([CC, "-shared", "-fPIC", "-o", b["dep"],
                        os.path.join(HERE, "..", "hub", "native", "hfsdep.c"),
                        "-DHFS_DEP_FN=f", "-DHFS_DEP_VALUE=1"], check=True)
        subprocess.run([CC, "-shared", "-fPIC", "-o", b["caller"],
                        os.path.join(NATIVE, "dlcaller.c"), "-Wl,-rpath,$ORIGIN",
                        "-Wl,--enable-new-dtags"], check=True)
        _bins = b
    return _bins


def tearDownModule():
    if _bins:
        shutil.rmtree(os.path.dirname(_bins["uring"]), ignore_errors=True)


class BypassTest(ShimTest):
    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.tmp, "mnt")  # never created in the real file system
        self.assertFalse(os.path.lexists("/hf"))

    def tearDown(self):
        self.assertFalse(os.path.lexists(self.mnt), "something was created at the mount point")
        self.assertFalse(os.path.lexists("/hf"), "something was created at /hf")
        super().tearDown()

    def mount_env(self, spec="acme/tiny", extra=None):
        e = {"HF_MOUNTS": "%s=%s" % (self.mnt, spec)}
        e.update(extra or {})
        return e


class PassFdTest(BypassTest):
    def send_to_unshimmed(self, path, sender_tail, extra=None):
        """A python3 under the shim opens `path`, reads 10 bytes at 0 (a partial file: one
        chunk), and sends the fd over a socketpair to fdrecv.py, started without the shim,
        which reads all of it. Returns (receiver's bytes, sender's stderr)."""
        a, b = socket.socketpair()
        try:
            recv = subprocess.Popen([PY, os.path.join(NATIVE, "fdrecv.py"), str(b.fileno())],
                                    pass_fds=[b.fileno()], env=self.env(preload=False),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            b.close()
            code = ("import os, socket, array\n"
                    "s = socket.socket(fileno=%d)\n"
                    "fd = os.open(%r, os.O_RDONLY)\n"
                    "assert len(os.pread(fd, 10, 0)) == 10\n" % (a.fileno(), path)) + sender_tail
            p = subprocess.run([PY, "-c", code], env=self.env(extra), pass_fds=[a.fileno()],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            a.close()
            out, err = recv.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
            self.assertEqual(recv.returncode, 0, err.decode(errors="replace"))
            return out, p.stderr
        finally:
            a.close()
            b.close()

    def test_sendmsg_scm_rights_to_a_process_without_the_shim(self):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        out, err = self.send_to_unshimmed(
            TINY + "/data/medium.bin",
            "s.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [fd]))])\n")
        self.assertEqual(len(out), len(src))
        self.assertEqual(hashlib.sha256(out).hexdigest(), hashlib.sha256(src).hexdigest())
        self.assertNotIn(b"hfshim:", err)

    def test_sendmmsg_through_a_mount(self):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        # glibc's sendmmsg, called through ctypes with one message carrying the fd
        tail = """
import ctypes
class iovec(ctypes.Structure): _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint), ('iov', ctypes.c_void_p),
                ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p),
                ('controllen', ctypes.c_size_t), ('flags', ctypes.c_int)]
class mmsghdr(ctypes.Structure): _fields_ = [('hdr', msghdr), ('len', ctypes.c_uint)]
data = ctypes.create_string_buffer(b'x')
iov = iovec(ctypes.cast(data, ctypes.c_void_p), 1)
cmsg = ctypes.create_string_buffer(socket.CMSG_SPACE(4))
hdr = ctypes.c_size_t(socket.CMSG_LEN(4)).value.to_bytes(8, 'little') + \\
      socket.SOL_SOCKET.to_bytes(4, 'little') + socket.SCM_RIGHTS.to_bytes(4, 'little') + \\
      fd.to_bytes(4, 'little')
ctypes.memmove(cmsg, hdr, len(hdr))
m = mmsghdr(msghdr(None, 0, ctypes.cast(ctypes.pointer(iov), ctypes.c_void_p), 1,
                   ctypes.cast(cmsg, ctypes.c_void_p), socket.CMSG_SPACE(4), 0), 0)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.sendmmsg(s.fileno(), ctypes.byref(m), 1, 0) == 1, ctypes.get_errno()
"""
        out, _ = self.send_to_unshimmed(self.mnt + "/data/medium.bin", tail, self.mount_env())
        self.assertEqual(hashlib.sha256(out).hexdigest(), hashlib.sha256(src).hexdigest())

    def test_sendmsg_fetch_failure_is_a_clean_error(self):
        self.py("import os\nos.pread(os.open('%s/data/medium.bin', os.O_RDONLY), 10, 0)" % TINY)
        self.hub.fault("/lfs/", "reset", count=1000)
        code = """
import array, os, socket
a, b = socket.socketpair()
fd = os.open('%s/data/medium.bin', os.O_RDONLY)
os.pread(fd, 10, 0)
try:
    a.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [fd]))])
    print('sent')
except OSError as e:
    print(e.errno)
""" % TINY
        p = self.py(code)
        self.assertEqual(p.stdout.strip(), b"5")
        self.assertIn(b"passed to another process (sendmsg SCM_RIGHTS): not all of its bytes "
                      b"could be fetched", p.stderr)

    def test_pidfd_getfd_and_proc_pid_fd_of_a_partial_file_are_refused(self):
        # A process without the shim holds a partial file open; one with the shim takes it:
        # it cannot fill it (it does not know which repo file it is), so EIO, never zeros.
        self.py("import os\nfd = os.open('%s/data/medium.bin', os.O_RDONLY)\n"
                "os.pread(fd, 10, 0)\n" % TINY)  # leaves the partial file with one chunk
        part = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(self.home, "hfshim"))
                for f in fs if "/partial/" in os.path.join(d, f) and not f.endswith(".map")]
        self.assertEqual(len(part), 1, part)
        holder = subprocess.Popen([PY, "-c", "import os,sys,time\nfd=os.open(%r, os.O_RDONLY)\n"
                                   "print(fd, flush=True)\ntime.sleep(60)" % part[0]],
                                  env=self.env(preload=False), stdout=subprocess.PIPE)
        try:
            fd = int(holder.stdout.readline())
            code = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
out = []
pidfd = os.pidfd_open(%d)
r = libc.pidfd_getfd(pidfd, %d, 0)
out.append('getfd %%d %%d' %% (r, ctypes.get_errno()))
try:
    open('/proc/%d/fd/%d', 'rb')
    out.append('open ok')
except OSError as e:
    out.append('open %%d' %% e.errno)
try:
    os.open('/proc/%d/fd/%d', os.O_RDONLY)
    out.append('os.open ok')
except OSError as e:
    out.append('os.open %%d' %% e.errno)
print(';'.join(out))
""" % (holder.pid, fd, holder.pid, fd, holder.pid, fd)
            p = self.py(code)
            self.assertEqual(p.stdout.decode().strip(), "getfd -1 5;open 5;os.open 5", p.stderr)
            self.assertIn(b"hfshim: pidfd_getfd: ", p.stderr)
            self.assertIn(b"fetched only in part", p.stderr)
        finally:
            holder.kill()
            holder.wait()

    def test_pidfd_getfd_of_a_complete_file_works(self):
        src = self.fixture_bytes("acme/tiny", "config.json")
        self.py("open('%s/config.json','rb').read()" % TINY)
        holder = subprocess.Popen(
            [PY, "-c", "import os,sys,time\nfd=os.open(%r, os.O_RDONLY)\nprint(fd, flush=True)\n"
             "time.sleep(60)" % (TINY + "/config.json")],
            env=self.env(), stdout=subprocess.PIPE)
        try:
            fd = int(holder.stdout.readline())
            p = self.py("import ctypes, os, sys\nlibc = ctypes.CDLL(None)\n"
                        "r = libc.pidfd_getfd(os.pidfd_open(%d), %d, 0)\n"
                        "sys.stdout.buffer.write(os.pread(r, 1 << 20, 0))" % (holder.pid, fd))
            self.assertEqual(p.stdout, src)
        finally:
            holder.kill()
            holder.wait()


class AsyncReadTest(BypassTest):
    OFF, LEN = 5 * 1024 * 1024 + 10, 3 * 1024 * 1024

    def read_via(self, binary, mode, path, extra=None):
        p = self.run_shim([binary, mode, path, str(self.OFF), str(self.LEN)], extra=extra,
                          check=False)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p

    def check(self, binary, mode, via_mount=False):
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")[self.OFF:self.OFF + self.LEN]
        path = (self.mnt if via_mount else TINY) + "/data/medium.bin"
        p = self.read_via(binary, mode, path, self.mount_env() if via_mount else None)
        self.assertEqual(len(p.stdout), len(src))
        self.assertTrue(p.stdout == src, "wrong bytes (zeros: %s)" % (p.stdout.count(0),))
        self.assertNotIn(b"hfshim:", p.stderr)

    def test_io_uring_read_with_liburing(self):
        self.check(bins()["uring"], "uring")

    def test_io_uring_read_with_liburing_through_a_mount(self):
        self.check(bins()["uring"], "uring", via_mount=True)

    def test_io_uring_set_up_through_syscall(self):
        self.check(bins()["static"], "uring-syscall")

    def test_linux_aio_io_submit(self):
        self.check(bins()["static"], "aio")
        # only what was asked was fetched: io_submit's range, not the whole file
        self.assertLess(self.bytes_fetched("medium.bin"), 12 * 1024 * 1024)

    def test_posix_aio_read(self):
        self.check(bins()["static"], "posix-aio", via_mount=True)

    def test_io_uring_fetch_failure_is_a_clean_error(self):
        # liburing is loaded, so the file is completed at open: a failed fetch fails the open
        # (EIO, with a line saying why), and no read ever returns zeros
        self.py("import os\nos.pread(os.open('%s/data/medium.bin', os.O_RDONLY), 10, 0)" % TINY)
        self.hub.fault("/lfs/", "reset", count=1000)
        p = self.run_shim([bins()["uring"], "uring", TINY + "/data/medium.bin", "0", "10"],
                          check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"asyncread: %s/data/medium.bin: Input/output error" % TINY.encode(),
                      p.stderr)
        self.assertIn(b"hfshim: %s/data/medium.bin: io_uring may read it without the shim "
                      b"(liburing is loaded): not all of its bytes could be fetched" % TINY.encode(),
                      p.stderr)


class DlopenTest(BypassTest):
    def test_ctypes_cdll_with_dependency_through_origin(self):
        p = self.py("import ctypes\nl = ctypes.CDLL('%s/lib/libhfsmain.so')\n"
                    "print(l.hfs_main_value())" % NAT)
        self.assertEqual(p.stdout.strip(), b"4243")
        self.assertNotIn(b"hfshim:", p.stderr)

    def test_dependency_through_absolute_virtual_runpath(self):
        p = self.py("import ctypes\nprint(ctypes.CDLL('%s/lib/libhfsabs.so').hfs_main_value())"
                    % NAT)
        self.assertEqual(p.stdout.strip(), b"5152")

    def test_dependency_through_virtual_ld_library_path(self):
        p = self.py("import ctypes\nprint(ctypes.CDLL('%s/lib/libhfsuse.so').hfs_main_value())"
                    % NAT, extra={"LD_LIBRARY_PATH": NAT + "/abs"})
        self.assertEqual(p.stdout.strip(), b"5152")

    def test_loaded_bytes_are_the_fixture_and_names(self):
        src = self.fixture_bytes("acme/native", "lib/libhfsmain.so")
        code = """
import ctypes, os
l = ctypes.CDLL('%s/lib/libhfsmain.so')
class Info(ctypes.Structure):
    _fields_ = [('fname', ctypes.c_char_p), ('fbase', ctypes.c_void_p),
                ('sname', ctypes.c_char_p), ('saddr', ctypes.c_void_p)]
info = Info()
libc = ctypes.CDLL(None)
libc.dladdr(ctypes.cast(l.hfs_main_value, ctypes.c_void_p), ctypes.byref(info))
maps = [x.split(None, 5)[-1] for x in open('/proc/self/maps').read().splitlines()
        if x.split()[-1].endswith(os.path.basename(os.path.realpath(info.fname.decode())))]
assert ctypes.CDLL('%s/lib/libhfsmain.so')._handle == l._handle  # the same object again
print(info.fname.decode())
print(os.path.realpath(info.fname.decode()))
print(maps[0])
""" % (NAT, NAT)
        name, real, mapped = self.py(code).stdout.decode().splitlines()
        # dladdr (the loader's l_name): the library's view, named after its virtual path
        self.assertTrue(name.endswith("/lib/hf/acme/native/lib/libhfsmain.so"), name)
        self.assertTrue(name.startswith(os.path.join(self.home, "hfshim")), name)
        self.assertEqual(mapped, real)  # /proc/self/maps: the complete backing file
        with open(real, "rb") as f:
            self.assertEqual(f.read(), src)

    def test_python_imports_a_c_extension_from_a_remote_repo(self):
        p = self.py("import sys\nsys.path.insert(0, '%s/ext')\nimport hfsext\n"
                    "print(hfsext.value(), hfsext.__file__)" % NAT)
        self.assertEqual(p.stdout.split(), [b"7", (NAT + "/ext/hfsext.abi3.so").encode()])

    def test_python_imports_a_c_extension_from_the_overlay(self):
        so = os.path.join(self.tmp, "hfslocal.abi3.so")
        subprocess.run([CC, "-shared", "-fPIC", "-o", so,
                        os.path.join(HERE, "..", "hub", "native", "hfsext.c"),
                        "-DMODNAME=hfslocal", "-DMODVALUE=11"], check=True)
        env = self.mount_env("acme/native", {"HF_NO_PUSH": "1"})
        self.run_shim(["cp", so, self.mnt + "/ext/"], extra=env)
        p = self.py("import sys\nsys.path.insert(0, '%s/ext')\nimport hfslocal, hfsext\n"
                    "print(hfslocal.value(), hfsext.value())" % self.mnt, extra=env)
        self.assertEqual(p.stdout.split(), [b"11", b"7"])
        self.assert_no_writes()

    def test_dlmopen_new_namespace(self):
        code = """
import ctypes
libc = ctypes.CDLL(None)
libc.dlmopen.restype = ctypes.c_void_p
libc.dlmopen.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_int]
libc.dlsym.restype = ctypes.c_void_p
libc.dlsym.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
h = libc.dlmopen(-1, b'%s/lib/libhfsmain.so', 2)
assert h, libc.dlerror
f = ctypes.CFUNCTYPE(ctypes.c_int)(libc.dlsym(h, b'hfs_main_value'))
print(f())
""" % NAT
        self.assertEqual(self.py(code).stdout.strip(), b"4243")

    def test_missing_virtual_library_fails_like_a_missing_file(self):
        p = self.py("import ctypes\ntry:\n    ctypes.CDLL('%s/lib/nope.so')\n"
                    "except OSError as e:\n    print(e)" % NAT)
        self.assertIn(b"nope.so: cannot open shared object file: No such file or directory",
                      p.stdout)
        self.assertNotIn(b"hfshim:", p.stderr)

    @unittest.skipIf(os.environ.get("HFS_PRELOAD_EXTRA"),
                     "a sanitizer runtime preloaded first calls dlopen itself (the caller is lost "
                     "without the shim too)")
    def test_bare_names_still_use_the_callers_runpath(self):
        # dlopen("libhfsrl.so") from a library whose RUNPATH finds it: the loader must still see
        # that library as the caller, not the shim
        b = bins()
        p = self.py("import ctypes\nl = ctypes.CDLL(%r)\nprint(l.hfs_caller_try(b'libhfsrl.so'))"
                    % b["caller"])
        self.assertEqual(p.stdout.strip(), b"1")
