"""Issue 8, "Every route reaches the mount" (BRIEF invariant 8): an absolute path, a relative path
from any cwd, an *at() call on any directory fd, a chdir walk, /proc/self/cwd and a parent's
listing all see the same mount, and nothing written through a mount lands in the real file system
under it.

Every test sets up a real directory P = <tmp>/p and mounts the bucket acme/cache at M = P/mnt,
which does not exist really (HF_NO_PUSH=1). The shim never creates a mount point or its missing
ancestors: they exist only virtually. Expectations about the kernel's answers (errno of `.`/`..`
finals, EFAULT, long paths) are checked in the same test against the same program run on a real
directory without the shim: Linux ext4/tmpfs behaviour is the reference."""
import json
import os
import random
import shutil
import subprocess
import tarfile
import textwrap

from harness import ShimTest, PY

BUCKET = "buckets/acme/cache"
TINY = "acme/tiny"
VER = "neuronxcc-2.13.72.0+78a426937"
MOD = "MODULE_1111+d41d8cd9"
README = "README.txt"
FLAGS = f"{VER}/{MOD}/compile_flags.json"

# One C program for the routes that need system calls on a given fd or a bad pointer. Every line it
# prints is "key value..."; errors print the errno name, so the output of a run under the shim can
# be compared with a run on a real directory without it.
ROUTES_C = r'''
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *en(int e)
{
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT"; case EFAULT: return "EFAULT"; case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR"; case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY"; case ENOTEMPTY: return "ENOTEMPTY"; case EROFS: return "EROFS";
    case EXDEV: return "EXDEV"; case EBADF: return "EBADF"; case EACCES: return "EACCES";
    case ENAMETOOLONG: return "ENAMETOOLONG"; case EPERM: return "EPERM";
    default: { static char b[32]; snprintf(b, sizeof b, "errno%d", e); return b; }
    }
}

static void res(const char *key, int rc) { printf("%s %s\n", key, rc < 0 ? en(errno) : "ok"); }

static void hexfd(const char *key, int fd)
{
    if (fd < 0) { printf("%s %s\n", key, en(errno)); return; }
    char buf[65536];
    ssize_t n, tot = 0;
    printf("%s ", key);
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) printf("%02x", (unsigned char)buf[i]);
        tot += n;
    }
    if (n < 0) printf(" READ_%s", en(errno));
    if (!tot) printf("-");
    printf("\n");
    close(fd);
}

static void st(const char *key, int rc, struct stat *s)
{
    if (rc < 0) printf("%s %s\n", key, en(errno));
    else printf("%s %s %lld\n", key, S_ISDIR(s->st_mode) ? "dir" : S_ISREG(s->st_mode) ? "file" : "other",
                (long long)(S_ISREG(s->st_mode) ? s->st_size : 0));
}

static const char *dt(unsigned char t)
{
    return t == DT_DIR ? "DT_DIR" : t == DT_REG ? "DT_REG" : t == DT_LNK ? "DT_LNK"
         : t == DT_UNKNOWN ? "DT_UNKNOWN" : "DT_OTHER";
}

struct ld64 { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; };

static void resk(const char *sfx, const char *key, int rc)
{
    char k[64];
    snprintf(k, sizeof k, "%s%s", key, sfx);
    res(k, rc);
}

/* Every wrapped path call with bad pointers (bad2: a second one, for the *at forms). */
static void efault_calls(const char *bad, const char *bad2, const char *sfx)
{
    struct stat s;
    char buf[64];
    errno = 0; resk(sfx, "stat", stat(bad, &s));
    errno = 0; resk(sfx, "lstat", lstat(bad, &s));
    errno = 0; resk(sfx, "fstatat", fstatat(AT_FDCWD, bad, &s, 0));
    errno = 0; resk(sfx, "open", open(bad, O_RDONLY));
    errno = 0; resk(sfx, "open_creat", open(bad, O_CREAT | O_WRONLY, 0644));
    errno = 0; resk(sfx, "openat", openat(AT_FDCWD, bad2, O_RDONLY));
    errno = 0; resk(sfx, "mkdir", mkdir(bad, 0));
    errno = 0; resk(sfx, "chdir", chdir(bad));
    errno = 0; resk(sfx, "access", access(bad, F_OK));
    errno = 0; resk(sfx, "unlink", unlink(bad));
    errno = 0; resk(sfx, "rmdir", rmdir(bad));
    errno = 0; resk(sfx, "rename", rename(bad, "efault-target"));
    errno = 0; resk(sfx, "readlink", (int)readlink(bad, buf, sizeof buf));
    int d = open(".", O_RDONLY | O_DIRECTORY);
    errno = 0; resk(sfx, "openat_dirfd", openat(d, bad, O_RDONLY));
    errno = 0; resk(sfx, "mkdirat_dirfd", mkdirat(d, bad2, 0755));
    close(d);
    errno = 0; resk(sfx, "chmod", chmod(bad, 0644));
    errno = 0; resk(sfx, "chown", chown(bad, 0, 0));
    errno = 0; resk(sfx, "lchown", lchown(bad, 0, 0));
    errno = 0; resk(sfx, "truncate", truncate(bad, 0));
    errno = 0; resk(sfx, "mkfifo", mkfifo(bad, 0644));
    errno = 0; resk(sfx, "mknod", mknod(bad, S_IFIFO | 0644, 0));
    errno = 0; resk(sfx, "link_from", link(bad, "efault-link"));
    errno = 0; resk(sfx, "link_to", link("efault-src", bad));
    errno = 0; resk(sfx, "symlink_target", symlink(bad, "efault-link"));
    errno = 0; resk(sfx, "symlink_name", symlink("efault-src", bad));
    errno = 0; resk(sfx, "rename_to", rename("efault-src", bad));
    errno = 0; resk(sfx, "utimensat", utimensat(AT_FDCWD, bad, NULL, 0));
}

int main(int argc, char **argv)
{
    const char *mode = argv[1], *P = argv[2];
    struct stat s;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "read")) {  /* openat / fstatat / faccessat relative to a real dirfd of P */
        int flags[2] = {O_RDONLY | O_DIRECTORY, O_PATH | O_DIRECTORY};
        const char *names[2] = {"rdonly", "opath"};
        for (int k = 0; k < 2; k++) {
            char key[64];
            int fd = open(P, flags[k]);
            if (fd < 0) { printf("open.%s %s\n", names[k], en(errno)); continue; }
            snprintf(key, sizeof key, "openat.%s", names[k]);
            hexfd(key, openat(fd, "mnt/README.txt", O_RDONLY));
            snprintf(key, sizeof key, "fstatat_mnt.%s", names[k]);
            st(key, fstatat(fd, "mnt", &s, 0), &s);
            snprintf(key, sizeof key, "fstatat_file.%s", names[k]);
            st(key, fstatat(fd, "mnt/README.txt", &s, AT_SYMLINK_NOFOLLOW), &s);
            snprintf(key, sizeof key, "fstatat_sub.%s", names[k]);
            st(key, fstatat(fd, "mnt/registry", &s, 0), &s);
            snprintf(key, sizeof key, "faccessat.%s", names[k]);
            res(key, faccessat(fd, "mnt/registry/1.manifest", R_OK, 0));
            int m = openat(fd, "mnt", O_RDONLY | O_DIRECTORY);
            snprintf(key, sizeof key, "openat_mnt.%s", names[k]);
            res(key, m);
            snprintf(key, sizeof key, "openat_in_mnt.%s", names[k]);
            hexfd(key, m < 0 ? -1 : openat(m, "registry/1.manifest", O_RDONLY));
            if (m >= 0) close(m);
            close(fd);
        }
    } else if (!strcmp(mode, "write")) {  /* mkdirat / openat(O_CREAT) / renameat / unlinkat */
        int flags[2] = {O_RDONLY | O_DIRECTORY, O_PATH | O_DIRECTORY};
        const char *names[2] = {"rdonly", "opath"};
        const char *victim[2] = {"mnt/registry/1.manifest", "mnt/registry/1.manifest#1"};
        for (int k = 0; k < 2; k++) {
            char key[64], d[64], f[80], g[80], sub[80];
            int fd = open(P, flags[k]);
            if (fd < 0) { printf("open.%s %s\n", names[k], en(errno)); continue; }
            snprintf(d, sizeof d, "mnt/new_%s", names[k]);
            snprintf(f, sizeof f, "%s/f", d);
            snprintf(g, sizeof g, "%s/g", d);
            snprintf(sub, sizeof sub, "%s/sub", d);
            snprintf(key, sizeof key, "mkdirat.%s", names[k]);
            res(key, mkdirat(fd, d, 0755));
            int w = openat(fd, f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
            snprintf(key, sizeof key, "openat_creat.%s", names[k]);
            res(key, w);
            if (w >= 0) {
                char data[32];
                int n = snprintf(data, sizeof data, "data %s\n", names[k]);
                if (write(w, data, n) != n) printf("write.%s %s\n", names[k], en(errno));
                close(w);
            }
            snprintf(key, sizeof key, "renameat.%s", names[k]);
            res(key, renameat(fd, f, fd, g));
            snprintf(key, sizeof key, "mkdirat_sub.%s", names[k]);
            res(key, mkdirat(fd, sub, 0755));
            snprintf(key, sizeof key, "unlinkat_dir.%s", names[k]);
            res(key, unlinkat(fd, sub, AT_REMOVEDIR));
            snprintf(key, sizeof key, "unlinkat_remote.%s", names[k]);
            res(key, unlinkat(fd, victim[k], 0));
            snprintf(key, sizeof key, "fstatat_gone.%s", names[k]);
            st(key, fstatat(fd, victim[k], &s, 0), &s);
            snprintf(key, sizeof key, "fstatat_g.%s", names[k]);
            st(key, fstatat(fd, g, &s, 0), &s);
            close(fd);
        }
    } else if (!strcmp(mode, "readdir")) {  /* fdopendir + readdir, and getdents64, on P */
        int fd = open(P, O_RDONLY | O_DIRECTORY);
        DIR *dir = fd < 0 ? NULL : fdopendir(fd);
        if (!dir) { printf("fdopendir %s\n", en(errno)); return 1; }
        struct dirent *e;
        while ((e = readdir(dir)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                printf("readdir %s %s\n", e->d_name, dt(e->d_type));
        closedir(dir);
        fd = open(P, O_RDONLY | O_DIRECTORY);
        char buf[32768];
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;) {
                struct ld64 *d = (struct ld64 *)(buf + off);
                if (strcmp(d->name, ".") && strcmp(d->name, ".."))
                    printf("getdents64 %s %s\n", d->name, dt(d->type));
                off += d->reclen;
            }
        if (n < 0) printf("getdents64_error %s\n", en(errno));
        close(fd);
    } else if (!strcmp(mode, "fchdir")) {  /* fchdir to a real dirfd of P, then relative names */
        int flags[2] = {O_RDONLY | O_DIRECTORY, O_PATH | O_DIRECTORY};
        const char *names[2] = {"rdonly", "opath"};
        for (int k = 0; k < 2; k++) {
            char key[64], cwd[8192];
            if (chdir("/") < 0) return 1;
            int fd = open(P, flags[k]);
            snprintf(key, sizeof key, "fchdir.%s", names[k]);
            res(key, fd < 0 ? -1 : fchdir(fd));
            snprintf(key, sizeof key, "open.%s", names[k]);
            hexfd(key, open("mnt/README.txt", O_RDONLY));
            snprintf(key, sizeof key, "stat_mnt.%s", names[k]);
            st(key, stat("mnt", &s), &s);
            printf("getcwd.%s %s\n", names[k], getcwd(cwd, sizeof cwd) ? cwd : en(errno));
            if (fd >= 0) close(fd);
        }
    } else if (!strcmp(mode, "dotdot")) {  /* openat(fd of M, "..") is P */
        const char *M = argv[3];
        struct stat a, b;
        int fm = open(M, O_RDONLY | O_DIRECTORY);
        res("open_M", fm);
        int up = fm < 0 ? -1 : openat(fm, "..", O_RDONLY | O_DIRECTORY);
        res("openat_dotdot", up);
        if (up >= 0 && fstat(up, &a) == 0 && stat(P, &b) == 0)
            printf("same_as_P %s\n", a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "yes" : "no");
        if (up >= 0) printf("dotdot_dev_ino %llu %llu\n", (unsigned long long)a.st_dev,
                            (unsigned long long)a.st_ino);
        hexfd("openat_dotdot_mnt_file", up < 0 ? -1 : openat(up, "mnt/README.txt", O_RDONLY));
        int sub = fm < 0 ? -1 : openat(fm, "registry/..", O_RDONLY | O_DIRECTORY);
        if (sub >= 0 && fstat(sub, &a) == 0 && fstat(fm, &b) == 0)
            printf("registry_dotdot_is_M %s\n", a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "yes" : "no");
        else
            printf("registry_dotdot_is_M %s\n", en(errno));
    } else if (!strcmp(mode, "efault")) {  /* bad pointers: -1/EFAULT, never a crash */
        if (P[0] && chdir(P) < 0) { printf("chdir_setup %s\n", en(errno)); return 1; }
        close(open("efault-src", O_CREAT | O_WRONLY, 0644)); /* a good source for link/rename */
        efault_calls((char *)1, (char *)-1, "");
        /* Unmapped user memory: a page mapped and unmapped again, and pjdfstest's 0xdeadc0de
         * when nothing is mapped there. */
        char *gone = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(gone, 8192);
        unsigned char v;
        char *dead = (char *)0xdeadc0deUL;
        if (mincore((void *)((unsigned long)dead & ~4095UL), 4096, &v) == 0) dead = gone + 4096;
        efault_calls(gone, dead, "_unmapped");
        unlink("efault-src");
        char cwd[8192];
        printf("getcwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : en(errno));
        printf("done\n");
    }
    return 0;
}
'''


def parse(out):
    """The C program's lines as {key: value} (value: the rest of the line)."""
    r = {}
    for line in out.decode().splitlines():
        k, _, v = line.partition(" ")
        r[k] = v
    return r


class RoutesTest(ShimTest):
    """Common set-up: P real, M = P/mnt the bucket mount (not real); helpers to run programs
    under the shim with these mounts and to check that nothing landed in the real file system."""

    def setUp(self):
        super().setUp()
        self.P = os.path.join(self.tmp, "p")
        os.makedirs(self.P)
        self.M = os.path.join(self.P, "mnt")
        self.mounts = {self.M: BUCKET}
        self.bfiles = sorted(self.facts["buckets"]["acme/cache"]["files"])
        self.bdirs = sorted(self.facts["buckets"]["acme/cache"]["dirs"])
        self.btop = sorted({p.split("/")[0] for p in self.bfiles})
        self.tfiles = sorted(self.facts["repos"][TINY]["files"])
        self.tdirs = sorted(self.facts["repos"][TINY]["dirs"])
        self.ttop = sorted({p.split("/")[0] for p in self.tfiles})

    # ---- running ----------------------------------------------------------------------------

    def extra(self, more=None):
        e = {"HF_MOUNTS": ";".join(f"{k}={v}" for k, v in self.mounts.items()), "HF_NO_PUSH": "1"}
        e.update(more or {})
        return e

    def sh(self, cmd, cwd=None, check=True, home=None, extra=None, **kw):
        return self.run_shim(cmd, extra=self.extra(extra), cwd=cwd, check=check, home=home, **kw)

    def out(self, cmd, **kw):
        return self.sh(cmd, **kw).stdout.decode()

    def lines(self, cmd, **kw):
        return [x for x in self.out(cmd, **kw).split("\n") if x]

    def pyprog(self, code, *args, shim=True, cwd=None, **kw):
        """A python program (dedented), under the shim or (shim=False) on the real FS."""
        cmd = [PY, "-c", textwrap.dedent(code)] + list(args)
        if shim:
            return json.loads(self.sh(cmd, cwd=cwd, **kw).stdout)
        p = subprocess.run(cmd, cwd=cwd or self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0, "reference run failed: %s" % p.stderr.decode(errors="replace"))
        return json.loads(p.stdout)

    def routes_exe(self):
        """The C program above, compiled without the shim (outside P, so P's listing is not
        changed by it)."""
        d = os.path.join(self.tmp, "bin")
        os.makedirs(d, exist_ok=True)
        src, exe = os.path.join(d, "routes.c"), os.path.join(d, "routes")
        if not os.path.exists(exe):
            with open(src, "w") as f:
                f.write(ROUTES_C)
            subprocess.run(["gcc", "-std=c11", "-O0", "-w", "-o", exe, src], check=True)
        return exe

    def routes(self, *args, shim=True, cwd=None):
        exe = self.routes_exe()
        if shim:
            p = self.sh([exe] + list(args), cwd=cwd, check=False)
        else:
            p = subprocess.run([exe] + list(args), cwd=cwd or self.tmp, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0, "routes %s %s: exit %d (a crash is negative)\n%s\n%s" % (
            args, "under the shim" if shim else "reference", p.returncode, p.stdout.decode()[-2000:],
            p.stderr.decode(errors="replace")[-2000:]))
        return p.stdout

    # ---- the real side ----------------------------------------------------------------------

    def fresh_home(self):
        home = os.path.join(self.tmp, "fresh_home_%d" % random.randrange(1 << 30))
        os.makedirs(home)
        return home

    def assert_nothing_real(self, real_names=(), points=None):
        """Nothing at or under the mount points really, and P holds only real_names (what the
        test itself created there). Checked in this process, without the shim."""
        for mp in points or [self.M]:
            self.assertFalse(os.path.lexists(mp), "%s exists in the real file system: %r" % (
                mp, os.listdir(mp) if os.path.isdir(mp) else "not a directory"))
        self.assertEqual(sorted(os.listdir(self.P)), sorted(real_names),
                         "the real directory P holds unexpected entries")

    def real(self, cmd, cwd=None):
        """A program run without the shim (the real-FS reference); its stdout as text."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        p = subprocess.run(cmd, cwd=cwd or self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.env(preload=False))
        self.assertEqual(p.returncode, 0, "reference %r failed: %s" % (cmd, p.stderr.decode()))
        return p.stdout.decode()

    def ref_parent(self, *real_files):
        """The reference for P: <tmp>/ref/p with a real copy of the bucket at mnt and the given
        real files. Returns its path R; ref_lines() maps R back to P in a reference's output."""
        R = os.path.join(self.tmp, "ref", "p")
        self.make_reference_bucket(os.path.join(R, "mnt"))
        for name in real_files:
            with open(os.path.join(R, name), "w") as f:
                f.write("real\n")
        self.R = R
        return R

    def ref_lines(self, cmd, cwd=None):
        return [x.replace(self.R, self.P) for x in self.real(cmd, cwd=cwd).split("\n") if x]

    def bucket_tree(self, base):
        """The paths a walk of the bucket mounted at base shows: base, its dirs and files."""
        return {base} | {f"{base}/{p}" for p in self.bdirs + self.bfiles}

    def make_reference_bucket(self, root):
        """A real directory shaped like the bucket (files with the fixture bytes)."""
        for rel in self.bfiles:
            ap = os.path.join(root, rel)
            os.makedirs(os.path.dirname(ap), exist_ok=True)
            with open(ap, "wb") as f:
                f.write(self.fixture_bytes(BUCKET, rel))


class RelativePathTest(RoutesTest):
    """Relative paths from a real cwd reach the mount under it, and `..` climbs into and out of
    mounts lexically, as on a real tree."""

    def test_ls_relative_from_parent(self):
        self.assertEqual(sorted(self.lines(["ls", "mnt"], cwd=self.P)), self.btop)
        self.assertEqual(sorted(self.lines("cd %s && ls mnt" % self.P)), self.btop)
        self.assertEqual(sorted(self.lines(["ls", "mnt/registry"], cwd=self.P)),
                         ["1.manifest", "1.manifest#1"])
        self.assert_nothing_real()

    def test_cat_relative_from_parent(self):
        self.assertEqual(self.sh(["cat", "mnt/" + README], cwd=self.P).stdout,
                         self.fixture_bytes(BUCKET, README))
        self.assertEqual(self.sh(["cat", "mnt/" + FLAGS], cwd=self.P).stdout,
                         self.fixture_bytes(BUCKET, FLAGS))
        self.assertEqual(self.sh("cd %s && cat ./mnt/%s" % (self.P, README)).stdout,
                         self.fixture_bytes(BUCKET, README))
        self.assert_nothing_real()

    def test_prefix_relative_from_root(self):
        want = self.fixture_bytes(TINY, "config.json")
        self.assertEqual(self.sh(["cat", "hf/acme/tiny/config.json"], cwd="/").stdout, want)
        self.assertEqual(self.sh("cd / && cat hf/acme/tiny/config.json").stdout, want)
        self.assertEqual(self.sh("cd /tmp && cat ../hf/acme/tiny/config.json").stdout, want)
        self.assertFalse(os.path.lexists("/hf"), "/hf exists really")

    def test_dotdot_from_real_subdir_into_mount(self):
        x = os.path.join(self.P, "x")
        os.makedirs(x)
        want = self.fixture_bytes(BUCKET, README)
        self.assertEqual(self.sh(["cat", "../mnt/" + README], cwd=x).stdout, want)
        self.assertEqual(self.sh("cd %s && cat ../mnt/%s" % (x, README)).stdout, want)
        self.assertEqual(sorted(self.lines(["ls", "../mnt"], cwd=x)), self.btop)
        # the same climbs spelled as absolute paths, into the mount and back out of it
        self.assertEqual(self.sh(["cat", f"{x}/../mnt/{README}"]).stdout, want)
        with open(os.path.join(x, "real.txt"), "w") as f:
            f.write("real\n")
        self.assertEqual(self.sh(["cat", f"{self.M}/../x/real.txt"]).stdout, b"real\n")
        self.assertEqual(self.sh(["cat", "mnt/../x/real.txt"], cwd=self.P).stdout, b"real\n")
        self.assert_nothing_real(["x"])

    def test_dotdot_from_mount_into_sibling_mount(self):
        tiny = os.path.join(self.P, "tiny")
        self.mounts[tiny] = TINY
        want = self.fixture_bytes(TINY, "config.json")
        self.assertEqual(self.sh("cd %s && cat ../tiny/config.json" % self.M).stdout, want)
        self.assertEqual(self.sh("cd %s/registry && cat ../../tiny/config.json" % self.M).stdout,
                         want)
        self.assertEqual(self.sh("cd %s && cat ../mnt/%s" % (tiny, README)).stdout,
                         self.fixture_bytes(BUCKET, README))
        self.assert_nothing_real(points=[self.M, tiny])


class WriteWalkTest(RoutesTest):
    """Programs that create through relative names or chdir walks (mkdir -p, install -D, a shell's
    relative redirection) write into the mount's overlay, never into the real file system."""

    def test_mkdir_p_absolute(self):
        self.sh(["mkdir", "-p", f"{self.M}/a/b"])
        self.sh(["test", "-d", f"{self.M}/a/b"])
        self.assertIn("a", self.lines(["ls", self.M]))
        self.assertEqual(self.lines(["ls", f"{self.M}/a"]), ["b"])
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_install_D(self):
        src = os.path.join(self.tmp, "src.bin")
        data = random.Random(8).randbytes(70000)
        with open(src, "wb") as f:
            f.write(data)
        self.sh(["install", "-D", src, f"{self.M}/d/e/f"])
        self.assertEqual(self.sh(["cat", f"{self.M}/d/e/f"]).stdout, data)
        self.assertEqual(self.lines(["ls", f"{self.M}/d/e"]), ["f"])
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_relative_mkdir_p_and_redirect(self):
        self.sh("mkdir -p mnt/r/s && echo x > mnt/r/s/t", cwd=self.P)
        self.assertEqual(self.sh(["cat", f"{self.M}/r/s/t"]).stdout, b"x\n")
        self.assertEqual(self.sh(["cat", "mnt/r/s/t"], cwd=self.P).stdout, b"x\n")
        self.assertEqual(self.lines(["ls", f"{self.M}/r/s"]), ["t"])
        self.assertEqual(sorted(self.lines(["ls", self.M])), sorted(self.btop + ["r"]))
        self.assert_nothing_real()
        self.assert_no_writes()


class TreeWalkTest(RoutesTest):
    """Tools that walk a real directory (find, du, tar, cp -r, rm -rf, rsync, os.walk) see the
    mount under it as a directory with the bucket's contents."""

    def test_find_parent(self):
        found = set(self.lines(["find", self.P]))
        self.assertEqual(found, {self.P} | self.bucket_tree(self.M))
        dirs = set(self.lines(["find", self.P, "-type", "d"]))
        self.assertEqual(dirs, {self.P, self.M} | {f"{self.M}/{d}" for d in self.bdirs})
        rel = set(self.lines(["find", "."], cwd=self.P))
        self.assertEqual(rel, {"."} | {"./mnt"} | {f"./mnt/{p}" for p in self.bdirs + self.bfiles})
        R = self.ref_parent()
        self.assertEqual(set(self.ref_lines(["find", R])), found, "differs from the real reference")
        self.assertEqual(set(self.ref_lines(["find", R, "-type", "d"])), dirs)
        self.assertEqual(set(self.ref_lines(["find", "."], cwd=R)), rel)
        self.assert_nothing_real()

    def test_du_a_parent(self):
        paths = {line.split("\t", 1)[1] for line in self.lines(["du", "-a", self.P])}
        self.assertEqual(paths, {self.P} | self.bucket_tree(self.M))
        R = self.ref_parent()
        self.assertEqual({x.split("\t", 1)[1] for x in self.ref_lines(["du", "-a", R])}, paths,
                         "differs from the real reference")
        self.assert_nothing_real()

    def test_tar_parent(self):
        archive = os.path.join(self.tmp, "p.tar")
        self.sh(["tar", "cf", archive, "-C", self.P, "."])
        with tarfile.open(archive) as t:
            members = {m.name: m for m in t.getmembers()}
            self.assertEqual(set(members), {".", "./mnt"} |
                             {f"./mnt/{p}" for p in self.bdirs + self.bfiles})
            self.assertTrue(members["./mnt"].isdir())
            for rel in self.bfiles:
                self.assertEqual(t.extractfile(f"./mnt/{rel}").read(),
                                 self.fixture_bytes(BUCKET, rel), rel)
        # the same through a pipe, listed by tar itself
        listed = self.lines("tar cf - -C %s . | tar tf -" % self.P)
        self.assertIn("./mnt/", listed)
        self.assertIn("./mnt/" + README, listed)
        R = self.ref_parent()
        self.assertEqual(sorted(self.ref_lines("tar cf - -C %s . | tar tf -" % R)), sorted(listed),
                         "differs from the real reference")
        self.assert_nothing_real()

    def test_cp_r_parent(self):
        dest = os.path.join(self.tmp, "dest")
        self.sh(["cp", "-r", self.P, dest])
        self.assertTrue(os.path.isdir(os.path.join(dest, "mnt")))
        self.assertFalse(os.path.islink(os.path.join(dest, "mnt")))
        got = set()
        for dp, ds, fs in os.walk(dest):
            got |= {os.path.relpath(os.path.join(dp, n), dest) for n in ds + fs}
        self.assertEqual(got, {"mnt"} | {f"mnt/{p}" for p in self.bdirs + self.bfiles})
        for rel in self.bfiles:
            with open(os.path.join(dest, "mnt", rel), "rb") as f:
                self.assertEqual(f.read(), self.fixture_bytes(BUCKET, rel), rel)
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_rm_rf_relative_in_mount(self):
        self.sh(f"rm -rf mnt/{VER} mnt/registry/1.manifest", cwd=self.P)
        self.assertEqual(sorted(self.lines(["ls", "mnt"], cwd=self.P)),
                         sorted(set(self.btop) - {VER}))
        self.assertEqual(self.lines(["ls", f"{self.M}/registry"]), ["1.manifest#1"])
        self.assertNotEqual(self.sh(["test", "-e", f"{self.M}/{VER}/{MOD}"], check=False).returncode, 0)
        self.assertFalse([p for p in self.lines(["find", self.M]) if VER in p])
        # the bucket is untouched: a process without this overlay still sees everything
        home = self.fresh_home()
        self.assertEqual(set(self.lines(["find", self.M], home=home)), self.bucket_tree(self.M))
        self.assertTrue(os.path.exists(self.fixture_path(BUCKET, FLAGS)))
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_rsync_into_and_out_of_parent(self):
        if not shutil.which("rsync"):
            self.skipTest("rsync is not installed")
        local = os.path.join(self.tmp, "local")
        files = {"one.txt": b"one\n", "sub/two.bin": random.Random(3).randbytes(50000),
                 "sub/deeper/three": b"3\n"}
        for rel, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(local, rel)), exist_ok=True)
            with open(os.path.join(local, rel), "wb") as f:
                f.write(data)
        self.sh(["rsync", "-a", local + "/", f"{self.M}/dst/"])
        for rel, data in files.items():
            self.assertEqual(self.sh(["cat", f"{self.M}/dst/{rel}"]).stdout, data, rel)
        self.assertEqual(sorted(self.lines(["ls", "-A", f"{self.M}/dst"])), ["one.txt", "sub"])
        # and the parent out to a real directory
        out = os.path.join(self.tmp, "out")
        self.sh(["rsync", "-a", self.P + "/", out + "/"])
        for rel in self.bfiles:
            with open(os.path.join(out, "mnt", rel), "rb") as f:
                self.assertEqual(f.read(), self.fixture_bytes(BUCKET, rel), rel)
        for rel, data in files.items():
            with open(os.path.join(out, "mnt", "dst", rel), "rb") as f:
                self.assertEqual(f.read(), data, rel)
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_os_walk_parent(self):
        code = """
            import json, os, sys
            print(json.dumps([[dp, sorted(ds), sorted(fs)] for dp, ds, fs in os.walk(sys.argv[1])]))
        """
        walk = self.pyprog(code, self.P)
        R = self.ref_parent()
        ref = [[dp.replace(R, self.P), ds, fs] for dp, ds, fs in self.pyprog(code, R, shim=False)]
        # readdir order is the file system's own: compare the walks as sets of levels
        self.assertEqual(sorted(walk), sorted(ref), "differs from the real reference")
        self.assertEqual(walk[0], [self.P, ["mnt"], []])
        seen = set()
        for dp, ds, fs in walk:
            seen |= {os.path.join(dp, n) for n in ds + fs}
        self.assertEqual(seen, self.bucket_tree(self.M))
        self.assertIn([f"{self.M}/registry", [], ["1.manifest", "1.manifest#1"]], walk)
        self.assert_nothing_real()


class ParentListingTest(RoutesTest):
    """The listing of a mount point's real parent shows the mount point once, as a directory, by
    every listing route (ls, os.scandir, readdir, getdents64); a real entry of the same name is not
    listed twice."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(self.P, "real.txt"), "w") as f:
            f.write("real\n")

    def test_glob3_parent(self):
        """glob(3) runs glibc's internal opendir: patterns over the parent still see the mount."""
        src, exe = os.path.join(self.tmp, "bin", "g.c"), os.path.join(self.tmp, "bin", "g")
        os.makedirs(os.path.dirname(src), exist_ok=True)
        with open(src, "w") as f:
            f.write("#include <glob.h>\n#include <stdio.h>\nint main(int c, char **v) {"
                    " glob_t g; int r = glob(v[1], GLOB_MARK, 0, &g);"
                    " for (size_t i = 0; !r && i < g.gl_pathc; i++) puts(g.gl_pathv[i]);"
                    " return r; }\n")
        subprocess.run(["gcc", "-o", exe, src], check=True)
        self.assertEqual(self.lines([exe, self.P + "/*"]), [self.M + "/", self.P + "/real.txt"])
        self.assertEqual(self.lines([exe, "*"], cwd=self.P), ["mnt/", "real.txt"])
        self.assertEqual(self.lines([exe, self.P + "/*/" + README]), [f"{self.M}/{README}"])
        self.assert_nothing_real(["real.txt"])

    def test_ls_parent(self):
        self.assertEqual(self.lines(["ls", "-p", self.P]), ["mnt/", "real.txt"])
        self.assertEqual(self.lines(["ls", "-p"], cwd=self.P), ["mnt/", "real.txt"])
        long = self.lines(["ls", "-l", self.P])[1:]
        self.assertEqual([x[0] for x in long if x.endswith(" mnt")], ["d"], long)
        R = self.ref_parent("real.txt")
        self.assertEqual(self.ref_lines(["ls", "-p", R]), ["mnt/", "real.txt"])
        self.assert_nothing_real(["real.txt"])

    def test_scandir_parent(self):
        code = """
            import json, os, sys
            print(json.dumps(sorted([e.name, e.is_dir(), e.is_file(), e.is_symlink(),
                                     e.is_dir(follow_symlinks=False)] for e in os.scandir(sys.argv[1]))))
        """
        r = self.pyprog(code, self.P)
        self.assertEqual(self.pyprog(code, self.ref_parent("real.txt"), shim=False), r,
                         "differs from the real reference")
        self.assertEqual(r, [["mnt", True, False, False, True], ["real.txt", False, True, False, False]])
        self.assert_nothing_real(["real.txt"])

    def test_readdir_and_getdents64_parent(self):
        got = self.routes("readdir", self.P).decode().splitlines()
        ref = self.routes("readdir", self.ref_parent("real.txt"), shim=False).decode().splitlines()
        for route in ("readdir", "getdents64"):
            ents = sorted(x.split(" ", 1)[1] for x in got if x.startswith(route + " "))
            self.assertEqual(ents, ["mnt DT_DIR", "real.txt DT_REG"], "%s: %r" % (route, got))
            self.assertEqual(sorted(x for x in ref if x.startswith(route + " ")),
                             sorted(x for x in got if x.startswith(route + " ")), "reference")
        self.assert_nothing_real(["real.txt"])

    def test_real_dir_at_a_mount_point_listed_once(self):
        real_mp = os.path.join(self.P, "real_mp")
        os.makedirs(real_mp)
        self.mounts[real_mp] = TINY
        self.assertEqual(self.lines(["ls", "-p", self.P]), ["mnt/", "real.txt", "real_mp/"])
        got = self.routes("readdir", self.P).decode().splitlines()
        for route in ("readdir", "getdents64"):
            ents = sorted(x.split(" ", 1)[1] for x in got if x.startswith(route + " "))
            self.assertEqual(ents, ["mnt DT_DIR", "real.txt DT_REG", "real_mp DT_DIR"], route)
        names = self.pyprog("""
            import json, os, sys
            print(json.dumps(sorted(e.name for e in os.scandir(sys.argv[1]))))
        """, self.P)
        self.assertEqual(names, ["mnt", "real.txt", "real_mp"])
        # the mount hides the real directory's (empty) content
        self.assertEqual(sorted(self.lines(["ls", "-A", real_mp])), self.ttop)
        self.assertEqual(os.listdir(real_mp), [], "the real mount point got entries")
        self.assert_nothing_real(["real.txt", "real_mp"])


class MissingAncestorsTest(RoutesTest):
    """A mount whose ancestors do not exist really: the ancestors exist virtually (stat, listings,
    cd, pwd, find), and nothing is created for them in the real file system."""

    def setUp(self):
        super().setUp()
        self.q = os.path.join(self.tmp, "q")
        self.mounts = {os.path.join(self.q, "a", "b"): TINY}

    def assert_q_not_real(self):
        self.assertFalse(os.path.lexists(self.q), "the missing ancestor q was created really")

    def test_stat_and_ls_of_missing_ancestors(self):
        out = self.lines(["stat", "-c", "%F", self.q, f"{self.q}/a", f"{self.q}/a/b"])
        self.assertEqual(out, ["directory"] * 3)
        out = self.lines(["stat", "-c", "%F", "q", "q/a", "q/a/b"], cwd=self.tmp)
        self.assertEqual(out, ["directory"] * 3)
        self.assertEqual(self.lines(["ls", self.tmp]).count("q"), 1, "q listed once in its parent")
        self.assertEqual(self.lines(["ls", self.q]), ["a"])
        self.assertEqual(self.lines(["ls", f"{self.q}/a"]), ["b"])
        self.assertEqual(sorted(self.lines(["ls", "-A", f"{self.q}/a/b"])), self.ttop)
        self.assert_q_not_real()

    def test_cd_and_pwd_through_missing_ancestors(self):
        out = self.lines("cd q/a && ls -A b && cd .. && pwd && /bin/pwd", cwd=self.tmp)
        self.assertEqual(out[-2:], [self.q, self.q])
        self.assertEqual(sorted(out[:-2]), self.ttop)
        out = self.lines("cd %s/a/b && cd ../.. && pwd && ls" % self.q)
        self.assertEqual(out, [self.q, "a"])
        self.assert_q_not_real()

    def test_find_missing_ancestors(self):
        b = f"{self.q}/a/b"
        want = {self.q, f"{self.q}/a", b} | {f"{b}/{p}" for p in self.tdirs + self.tfiles}
        self.assertEqual(set(self.lines(["find", self.q])), want)
        self.assertEqual(set(self.lines(["find", "q"], cwd=self.tmp)),
                         {os.path.relpath(p, self.tmp) for p in want})
        self.assert_q_not_real()


class DirfdTest(RoutesTest):
    """*at() calls relative to a real directory fd of the mount point's parent (O_RDONLY and
    O_PATH), fdopendir on it, fchdir to it, and `..` from an fd of the mount root, reach the same
    objects as absolute paths. The same program on a real copy of the tree is the reference."""

    def reference(self):
        ref = os.path.join(self.tmp, "ref")
        self.make_reference_bucket(os.path.join(ref, "mnt"))
        return ref

    def test_openat_fstatat_on_parent_fd(self):
        got = parse(self.routes("read", self.P))
        want = parse(self.routes("read", self.reference(), shim=False))
        readme = self.fixture_bytes(BUCKET, README).hex()
        for k in ("rdonly", "opath"):
            self.assertEqual(got.get("openat." + k), readme, k)
            self.assertEqual(got.get("fstatat_mnt." + k), "dir 0", k)
            self.assertEqual(got.get("fstatat_file." + k),
                             "file %d" % len(self.fixture_bytes(BUCKET, README)), k)
            self.assertEqual(got.get("openat_in_mnt." + k),
                             self.fixture_bytes(BUCKET, "registry/1.manifest").hex(), k)
        self.assertEqual(got, want)
        self.assert_nothing_real()

    def test_mkdirat_unlinkat_renameat_on_parent_fd(self):
        got = parse(self.routes("write", self.P))
        want = parse(self.routes("write", self.reference(), shim=False))
        self.assertEqual(got, want)
        self.assertEqual(set(got.values()) - {"ok", "ENOENT", "file 12", "file 11"}, set(), got)
        self.assertEqual(self.sh(["cat", f"{self.M}/new_rdonly/g"]).stdout, b"data rdonly\n")
        self.assertEqual(self.sh(["cat", f"{self.M}/new_opath/g"]).stdout, b"data opath\n")
        self.assertEqual(self.lines(["ls", "-A", f"{self.M}/new_opath"]), ["g"])
        self.assertEqual(self.lines(["ls", "-A", f"{self.M}/registry"]), [])
        # the remote entries are only hidden locally
        home = self.fresh_home()
        self.assertEqual(self.lines(["ls", f"{self.M}/registry"], home=home),
                         ["1.manifest", "1.manifest#1"])
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_fdopendir_on_parent_fd(self):
        got = [x for x in self.routes("readdir", self.P).decode().splitlines()
               if x.startswith("readdir ")]
        self.assertEqual(got, ["readdir mnt DT_DIR"])
        self.assert_nothing_real()

    def test_fchdir_to_parent_fd(self):
        got = parse(self.routes("fchdir", self.P))
        ref = self.reference()
        want = parse(self.routes("fchdir", ref, shim=False))
        for k in ("rdonly", "opath"):
            self.assertEqual(got.get("fchdir." + k), "ok", k)
            self.assertEqual(got.get("open." + k), self.fixture_bytes(BUCKET, README).hex(), k)
            self.assertEqual(got.get("stat_mnt." + k), "dir 0", k)
            self.assertEqual(got.get("getcwd." + k), self.P, k)
            self.assertEqual(want.get("getcwd." + k), ref, k)
        self.assertEqual({k: v for k, v in got.items() if not k.startswith("getcwd")},
                         {k: v for k, v in want.items() if not k.startswith("getcwd")})
        self.assert_nothing_real()

    def test_openat_dotdot_of_mount_root_fd(self):
        got = parse(self.routes("dotdot", self.P, self.M))
        self.assertEqual(got.get("open_M"), "ok", got)
        self.assertEqual(got.get("openat_dotdot"), "ok", got)
        self.assertEqual(got.get("same_as_P"), "yes", got)
        st = os.stat(self.P)
        self.assertEqual(got.get("dotdot_dev_ino"), "%d %d" % (st.st_dev, st.st_ino),
                         "openat(M, \"..\") is not the real P")
        self.assertEqual(got.get("openat_dotdot_mnt_file"), self.fixture_bytes(BUCKET, README).hex())
        self.assertEqual(got.get("registry_dotdot_is_M"), "yes", got)
        self.assert_nothing_real()


DOT_FINALS = r'''
import errno, json, os, sys
ver, mod = sys.argv[1], sys.argv[2]
def e(f, *a):
    try:
        r = f(*a)
        if isinstance(r, int) and f is os.open:
            os.close(r)
        return "ok"
    except OSError as x:
        return errno.errorcode[x.errno]
W = os.O_CREAT | os.O_WRONLY
os.makedirs("mnt/d/e")
r = {
    "rmdir d/.": e(os.rmdir, "mnt/d/."),
    "rmdir d/e/..": e(os.rmdir, "mnt/d/e/.."),
    "unlink d/.": e(os.unlink, "mnt/d/."),
    "unlink d/e/..": e(os.unlink, "mnt/d/e/.."),
    "rename d/. z": e(os.rename, "mnt/d/.", "mnt/z"),
    "rename d/e/.. z": e(os.rename, "mnt/d/e/..", "mnt/z"),
    "rename e d/.": e(os.rename, "mnt/d/e", "mnt/d/."),
    "mkdir d/.": e(os.mkdir, "mnt/d/."),
    "mkdir d/e/..": e(os.mkdir, "mnt/d/e/.."),
    "open nodir/ creat": e(os.open, "mnt/nodir/", W, 0o644),
    "open d/. creat": e(os.open, "mnt/d/.", W, 0o644),
    "open d/ creat": e(os.open, "mnt/d/", W, 0o644),
    "rmdir remote/.": e(os.rmdir, "mnt/registry/."),
    "unlink remote/.": e(os.unlink, "mnt/registry/."),
    "rename remote/. z": e(os.rename, "mnt/registry/.", "mnt/z"),
    "mkdir remote/.": e(os.mkdir, "mnt/registry/."),
    "open remote/. creat": e(os.open, "mnt/registry/.", W, 0o644),
    "open remotefile/ creat": e(os.open, "mnt/registry/1.manifest/", W, 0o644),
    "rmdir remote/sub/..": e(os.rmdir, "mnt/%s/%s/.." % (ver, mod)),
    "rename remote/sub/.. z": e(os.rename, "mnt/%s/%s/.." % (ver, mod), "mnt/z"),
    "after": [os.path.isdir("mnt/d"), os.path.isdir("mnt/d/e"), os.path.lexists("mnt/z"),
              os.path.lexists("mnt/nodir"), os.path.isdir("mnt/registry"),
              os.path.isfile("mnt/registry/1.manifest"), os.path.isdir("mnt/%s/%s" % (ver, mod))],
}
print(json.dumps(r))
'''


class DotFinalsTest(RoutesTest):
    """Paths whose last component is `.` or `..` (or that end in `/`) inside a mount get the
    kernel's errors, reached relatively from a cwd of P; the same program on a real tree is the
    reference."""

    def test_dot_and_dotdot_finals(self):
        ref = os.path.join(self.tmp, "ref")
        self.make_reference_bucket(os.path.join(ref, "mnt"))
        want = self.pyprog(DOT_FINALS, VER, MOD, shim=False, cwd=ref)
        spec = {
            "rmdir d/.": "EINVAL", "rmdir d/e/..": "ENOTEMPTY", "unlink d/.": "EISDIR",
            "unlink d/e/..": "EISDIR", "rename d/. z": "EBUSY", "rename d/e/.. z": "EBUSY",
            "rename e d/.": "EBUSY", "mkdir d/.": "EEXIST", "mkdir d/e/..": "EEXIST",
            "open nodir/ creat": "EISDIR", "open d/. creat": "EISDIR", "open d/ creat": "EISDIR",
            "rmdir remote/.": "EINVAL", "unlink remote/.": "EISDIR", "rename remote/. z": "EBUSY",
            "mkdir remote/.": "EEXIST", "open remote/. creat": "EISDIR",
            "open remotefile/ creat": "EISDIR", "rmdir remote/sub/..": "ENOTEMPTY",
            "rename remote/sub/.. z": "EBUSY",
            "after": [True, True, False, False, True, True, True],
        }
        self.assertEqual(want, spec, "the real-FS reference differs from the specification "
                         "(kernel older than 6.4?)")
        got = self.pyprog(DOT_FINALS, VER, MOD, cwd=self.P)
        self.assertEqual(got, want)
        self.assert_nothing_real()
        self.assert_no_writes()


MOUNT_ROOT = r'''
import errno, json, os, sys
P, M = sys.argv[1], sys.argv[2]
def e(f, *a):
    try:
        r = f(*a)
        return "ok" if r is None else r
    except OSError as x:
        return errno.errorcode[x.errno]
dev = lambda p: os.stat(p).st_dev
print(json.dumps({
    "rmdir P": e(os.rmdir, P),
    "rmdir M": e(os.rmdir, M),
    "rename M": e(os.rename, M, P + "/other"),
    "rename M rel": e(os.rename, "mnt", "other2"),
    "rmdir M rel": e(os.rmdir, "mnt"),
    "ismount M": os.path.ismount(M),
    "ismount M/sub": os.path.ismount(M + "/registry"),
    "ismount P": os.path.ismount(P),
    "dev M != dev P": e(lambda: dev(M) != dev(P)),
    "dev M/sub == dev M": e(lambda: dev(M + "/registry") == dev(M)),
    "after": [os.path.isdir(P), os.path.isdir(M), os.path.lexists(P + "/other"),
              os.path.lexists(P + "/other2")],
}))
'''


class MountRootTest(RoutesTest):
    """A mount root behaves as a mount point: it cannot be removed or renamed (EBUSY), its real
    parent is not empty (ENOTEMPTY), os.path.ismount is true at the root only and the root has
    its own device number."""

    SPEC = {"rmdir P": "ENOTEMPTY", "rmdir M": "EBUSY", "rename M": "EBUSY",
            "rename M rel": "EBUSY", "rmdir M rel": "EBUSY", "ismount M": True,
            "ismount M/sub": False, "ismount P": False, "dev M != dev P": True,
            "dev M/sub == dev M": True, "after": [True, True, False, False]}

    def test_mount_root_and_its_parent(self):
        got = self.pyprog(MOUNT_ROOT, self.P, self.M, cwd=self.P)
        self.assertEqual(got, self.SPEC)
        self.assertTrue(os.path.isdir(self.P), "P was removed really")
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_reference_real_mount_point(self):
        """The reference: a tmpfs really mounted at M (needs root and unshare -m)."""
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
            self.skipTest("needs root and unshare to mount a real reference")
        ref = os.path.join(self.tmp, "ref")
        os.makedirs(os.path.join(ref, "mnt"))
        script = os.path.join(self.tmp, "mount_root.py")
        with open(script, "w") as f:
            f.write(MOUNT_ROOT)
        p = subprocess.run(["unshare", "-m", "sh", "-c",
                            'mount -t tmpfs none "$1/mnt" && mkdir "$1/mnt/registry" && cd "$1" && '
                            'exec "$2" "$3" "$1" "$1/mnt"', "sh", ref, PY, script],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            self.skipTest("cannot mount a reference: %s" % p.stderr.decode(errors="replace"))
        self.assertEqual(json.loads(p.stdout), self.SPEC)


class ProcSelfCwdTest(RoutesTest):
    """/proc/self/cwd with a cwd inside the mount names the virtual directory: reads give the
    bucket's bytes, writes go to the overlay (not the mirror directory backing the kernel cwd),
    readlink prints the virtual path."""

    def test_cat_through_proc_self_cwd(self):
        self.assertEqual(self.sh("cd %s && cat /proc/self/cwd/%s" % (self.M, README)).stdout,
                         self.fixture_bytes(BUCKET, README))
        self.assertEqual(self.sh("cd %s/registry && cat /proc/self/cwd/1.manifest" % self.M).stdout,
                         self.fixture_bytes(BUCKET, "registry/1.manifest"))
        self.assertEqual(self.sh("cd %s && ls /proc/self/cwd/registry" % self.M).stdout,
                         b"1.manifest\n1.manifest#1\n")
        self.assert_nothing_real()

    def test_write_through_proc_self_cwd(self):
        self.assertEqual(self.sh("cd %s && echo hi > /proc/self/cwd/new && cat new" % self.M).stdout,
                         b"hi\n")
        self.assertEqual(self.sh(["cat", f"{self.M}/new"]).stdout, b"hi\n")
        holders = []
        for dp, ds, fs in os.walk(self.home):
            holders += [os.path.join(dp, n) for n in ds + fs if n == "new"]
        overlay = os.path.join(self.home, "hfshim", "overlay", "buckets--acme--cache", "upper", "new")
        self.assertEqual(holders, [overlay], "'new' must be in the overlay only (not the mirror)")
        mirror = os.path.join(self.home, "hfshim", "mirror")
        for dp, ds, fs in os.walk(mirror):
            self.assertEqual(fs, [], "a file landed in the mirror directory %s" % dp)
        self.assert_nothing_real()
        self.assert_no_writes()

    def test_readlink_proc_self_cwd(self):
        out = self.lines("cd %s && readlink /proc/self/cwd && cd registry && readlink /proc/self/cwd"
                         " && /bin/pwd" % self.M)
        self.assertEqual(out, [self.M, f"{self.M}/registry", f"{self.M}/registry"])
        got = self.pyprog("""
            import json, os, sys
            os.chdir(sys.argv[1])
            print(json.dumps([os.readlink("/proc/self/cwd"), os.getcwd()]))
        """, self.M)
        self.assertEqual(got, [self.M] * 2)
        self.assert_nothing_real()


class EfaultTest(RoutesTest):
    """Bad path pointers get -1/EFAULT from every wrapped call, never a crash, with a real cwd and
    with a cwd inside the mount; the same program without the shim is the reference."""

    CALLS = ["stat", "lstat", "fstatat", "open", "open_creat", "openat", "mkdir", "chdir", "access",
             "unlink", "rmdir", "rename", "readlink", "openat_dirfd", "mkdirat_dirfd", "chmod",
             "chown", "lchown", "truncate", "mkfifo", "mknod", "link_from", "link_to",
             "symlink_target", "symlink_name", "rename_to", "utimensat"]

    def check(self, out, cwd):
        got = parse(out)
        keys = self.CALLS + [k + "_unmapped" for k in self.CALLS]
        self.assertEqual({k: got.get(k) for k in keys}, {k: "EFAULT" for k in keys})
        self.assertEqual(got.get("getcwd"), cwd)
        self.assertIn("done", got)

    def test_efault_reference(self):
        self.check(self.routes("efault", self.P, shim=False), self.P)

    def setUp(self):
        super().setUp()
        if os.environ.get("HFS_PRELOAD_EXTRA") and self._testMethodName != "test_efault_reference":
            # make asan preloads the sanitizer runtime first: its own interceptors (readlink,
            # fopen...) read the path before any wrapper of the shim is reached.
            self.skipTest("the preloaded sanitizer runtime dereferences bad pointers itself")

    def test_efault_real_cwd(self):
        self.check(self.routes("efault", "", cwd=self.P), self.P)
        self.assert_nothing_real()

    def test_efault_cwd_in_mount(self):
        self.check(self.routes("efault", self.M), self.M)
        self.check(self.routes("efault", "mnt/registry", cwd=self.P), f"{self.M}/registry")
        self.assert_nothing_real()


LONG_PATHS = r'''
import json, os, sys
base, names, rel = sys.argv[1], sys.argv[2].split("/"), sys.argv[3]
os.chdir(base)
for n in names:          # a chdir walk with short relative names: the cwd outgrows PATH_MAX
    os.chdir(n)
r = {}
try:
    st = os.stat(rel)
    r["stat"] = [st.st_size, os.path.isfile(rel)]
except OSError as e:
    r["stat"] = e.strerror
try:
    with open(rel, "rb") as f:
        r["read"] = f.read().decode()
except OSError as e:
    r["read"] = e.strerror
d = os.path.dirname(rel)
try:
    r["listdir"] = sorted(os.listdir(d))
except OSError as e:
    r["listdir"] = e.strerror
print(json.dumps(r))
'''


class LongRelativePathTest(RoutesTest):
    """From a real cwd so deep that cwd + relative path exceeds PATH_MAX (the relative path
    alone does not), relative calls work under the shim as without it."""

    NAME = 200  # characters per component

    def deep_tree(self, base, depth):
        """Creates base/n0/n1/.../n<depth-1> with relative mkdirs; returns the names."""
        names = [("%03d" % i) + "d" * (self.NAME - 3) for i in range(depth)]
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for n in names:
                os.mkdir(n, dir_fd=fd)
                nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = nfd
        finally:
            os.close(fd)
        return names

    def put(self, base, names, filename, data):
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        for n in names:
            nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        w = os.open(filename, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
        os.write(w, data)
        os.close(w)
        os.close(fd)

    def test_long_relative_path_from_deep_real_cwd(self):
        names = self.deep_tree(self.P, 24)
        self.put(self.P, names, "leaf.txt", b"deep bytes\n")
        cwd_names, rel_names = names[:14], names[14:]
        rel = "/".join(rel_names + ["leaf.txt"])
        cwd_len = len(self.P) + sum(len(n) + 1 for n in cwd_names)
        self.assertLess(len(rel), 4096)
        self.assertGreater(cwd_len + 1 + len(rel), 4096)
        args = [self.P, "/".join(cwd_names), rel]
        want = self.pyprog(LONG_PATHS, *args, shim=False)
        self.assertEqual(want, {"stat": [11, True], "read": "deep bytes\n", "listdir": ["leaf.txt"]})
        self.assertEqual(self.pyprog(LONG_PATHS, *args), want)
        self.assert_nothing_real([names[0]])

    def test_long_relative_path_climbing_into_the_mount(self):
        """cwd alone is longer than PATH_MAX; `../` x depth + mnt/README.txt reaches the mount."""
        names = self.deep_tree(self.P, 21)
        rel = "../" * len(names) + "mnt/" + README
        self.assertGreater(len(self.P) + sum(len(n) + 1 for n in names), 4096)
        got = self.pyprog(LONG_PATHS, self.P, "/".join(names), rel)
        readme = self.fixture_bytes(BUCKET, README)
        self.assertEqual(got, {"stat": [len(readme), True], "read": readme.decode(),
                               "listdir": self.btop})
        # the reference: the same walk on a real tree with a real mnt/README.txt
        ref = os.path.join(self.tmp, "ref")
        self.make_reference_bucket(os.path.join(ref, "mnt"))
        self.deep_tree(ref, 21)
        self.assertEqual(self.pyprog(LONG_PATHS, ref, "/".join(names), rel, shim=False), got)
        self.assert_nothing_real([names[0]])
