"""Remote and local names that look like the overlay's whiteouts and markers (issue 9 item 6):
".wh.x", ".wh..wh..opq", a folder ".wh.d/" and a dotfile ".x.wh.x" (whose whiteout starts with
".wh..x") are entries like any other: listed, read, deleted, renamed, created and pushed under
their own names, through an explicit mount and the /hf prefix (they share the overlay). The
overlay stores names starting with ".wh." escaped (core/overlay/overlay.h)."""
import json
import os
import random
import textwrap

from harness import ShimTest, HFRUN, PY

REPO = "acme/whiteout-names"
PFX = "/hf/" + REPO
GOOD = "hf_good_token"
# every remote entry, files with their repo path
TOP = [".wh..wh..opq", ".wh.d", ".wh.x", ".x.wh.x", "normal.txt", "sub"]
ODD = [".wh.x", ".wh..wh..opq", ".x.wh.x", ".wh.d/inner.txt", "sub/.wh.y"]

STATE = r"""
import json, os, sys
out = {}
for d in sys.argv[1:]:
    try:
        out[d] = {"ls": sorted(os.listdir(d)), "files": {}}
    except OSError as e:
        out[d] = {"ls": e.strerror}
        continue
    for n in out[d]["ls"]:
        p = os.path.join(d, n)
        if os.path.isfile(p):
            out[d]["files"][n] = open(p, "rb").read().decode()
print(json.dumps(out))
"""


class WhiteoutNames(ShimTest):
    def setUp(self):
        super().setUp()
        self.P = os.path.join(self.tmp, "p")
        os.makedirs(self.P)
        self.M = os.path.join(self.P, "mnt")
        self.files = self.facts["repos"][REPO]["files"]

    def upper(self):
        return os.path.join(self.home, "hfshim", "overlay", "models--" + REPO.replace("/", "--"), "upper")

    def sh(self, cmd, home=None, **kw):
        extra = {"HF_MOUNTS": f"{self.M}={REPO}", "HF_NO_PUSH": "1"}
        return self.run_shim(cmd, extra=extra, home=home, **kw)

    def state(self, *dirs, home=None):
        return json.loads(self.sh([PY, "-c", STATE] + list(dirs), home=home).stdout)

    def ls_a(self, d):
        return [n for n in self.sh(["ls", "-a", d]).stdout.decode().split("\n") if n not in ("", ".", "..")]

    def want(self, rel):
        return self.fixture_bytes(REPO, rel)

    def stat_errno(self, *paths):
        code = textwrap.dedent("""
            import errno, json, os, sys
            r = {}
            for p in sys.argv[1:]:
                try:
                    os.stat(p); r[p] = "ok"
                except OSError as e:
                    r[p] = errno.errorcode[e.errno]
            print(json.dumps(r))
        """)
        return json.loads(self.sh([PY, "-c", code] + list(paths)).stdout)

    def assert_pristine_hub(self):
        """A process without this overlay sees the Hub's entries; nothing was written there."""
        home = os.path.join(self.tmp, "fresh_home_%d" % random.randrange(1 << 30))
        os.makedirs(home)
        self.assertEqual(self.state(PFX, home=home)[PFX]["ls"], TOP)
        self.assert_no_writes()

    def assert_nothing_real(self):
        self.assertFalse(os.path.lexists(self.M), os.listdir(self.M) if os.path.isdir(self.M) else "")
        self.assertEqual(os.listdir(self.P), [])

    def test_listed_and_readable(self):
        """Without an overlay, and with one (then every lookup walks it)."""
        for i, root in enumerate((self.M, PFX, self.M, PFX)):
            if i == 2:
                self.sh(f"touch {self.M}/local.txt {self.M}/sub/local.txt && rm {self.M}/local.txt")
            self.assertEqual(self.ls_a(root), TOP)
            self.assertEqual(self.ls_a(root + "/.wh.d"), ["inner.txt"])
            self.assertEqual([n for n in self.ls_a(root + "/sub") if n != "local.txt"], [".wh.y", "a.txt"])
            for rel in ODD + ["normal.txt", "sub/a.txt"]:
                self.assertEqual(self.sh(["cat", f"{root}/{rel}"]).stdout, self.want(rel), rel)
            st = self.state(root, root + "/sub")
            self.assertEqual(st[root]["ls"], TOP)
            self.assertEqual(st[root]["files"][".wh..wh..opq"], self.want(".wh..wh..opq").decode())
            self.assertEqual(st[root + "/sub"]["files"][".wh.y"], self.want("sub/.wh.y").decode())
        self.assertTrue(os.path.isfile(os.path.join(self.upper(), "sub", "local.txt")))
        self.assertEqual(set(self.stat_errno(*(f"{self.M}/{r}" for r in ODD)).values()), {"ok"})
        self.assert_nothing_real()

    def test_rm_each(self):
        M = self.M
        self.sh(f"rm {M}/.wh.x {M}/.wh..wh..opq {M}/.x.wh.x {M}/sub/.wh.y && rm -r {M}/.wh.d")
        for root in (M, PFX):  # a new process, by both routes
            self.assertEqual(self.ls_a(root), ["normal.txt", "sub"])
            self.assertEqual(self.ls_a(root + "/sub"), ["a.txt"])
            errs = self.stat_errno(*(f"{root}/{r}" for r in ODD + [".wh.d"]))
            self.assertEqual(set(errs.values()), {"ENOENT"}, errs)
            self.assertEqual(self.sh(["cat", f"{root}/normal.txt"]).stdout, self.want("normal.txt"))
        p = self.sh(f"cat {M}/.wh.x", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"No such file", p.stderr)
        # deleted twice is ENOENT, as for any name; nothing comes back
        self.assertNotEqual(self.sh(f"rm {M}/.wh.x", check=False).returncode, 0)
        self.assertEqual(self.state(M)[M]["ls"], ["normal.txt", "sub"])
        self.assert_pristine_hub()
        self.assert_nothing_real()

    def test_rm_one_hides_only_that_one(self):
        """The dotfile ".x.wh.x" and ".wh.x" are deleted independently (their whiteouts differ);
        deleting the file named like an opaque marker does not make the directory opaque."""
        M = self.M
        self.sh(f"rm {M}/.x.wh.x")
        self.assertEqual(self.ls_a(M), [n for n in TOP if n != ".x.wh.x"])
        self.sh(f"rm {M}/.wh..wh..opq")
        self.assertEqual(self.ls_a(M), [".wh.d", ".wh.x", "normal.txt", "sub"])
        self.assertEqual(self.sh(["cat", f"{M}/.wh.x"]).stdout, self.want(".wh.x"))
        self.assert_nothing_real()

    def test_mv_and_back(self):
        M = self.M
        moves = [(".wh.x", "plain-x"), ("normal.txt", ".wh.normal"), (".wh.d", ".wh.e"),
                 (".wh..wh..opq", "sub/.wh..wh..opq"), (".x.wh.x", ".wh.dot"), ("sub/.wh.y", ".wh.y")]
        self.sh(" && ".join(f"mv {M}/{a} {M}/{b}" for a, b in moves))
        self.assertEqual(self.ls_a(M), [".wh.dot", ".wh.e", ".wh.normal", ".wh.y", "plain-x", "sub"])
        # a file named like an opaque marker inside sub hides nothing there
        self.assertEqual(self.ls_a(M + "/sub"), [".wh..wh..opq", "a.txt"])
        self.assertEqual(self.ls_a(M + "/.wh.e"), ["inner.txt"])
        for a, b in moves:
            src = a if a != ".wh.d" else ".wh.d/inner.txt"
            dst = b if b != ".wh.e" else ".wh.e/inner.txt"
            self.assertEqual(self.sh(["cat", f"{PFX}/{dst}"]).stdout, self.want(src), b)
        errs = self.stat_errno(*(f"{M}/{a}" for a, _ in moves))
        self.assertEqual(set(errs.values()), {"ENOENT"}, errs)
        self.sh(" && ".join(f"mv {M}/{b} {M}/{a}" for a, b in reversed(moves)))
        st = self.state(M, M + "/sub", M + "/.wh.d")
        self.assertEqual(st[M]["ls"], TOP)
        self.assertEqual(st[M + "/sub"]["ls"], [".wh.y", "a.txt"])
        self.assertEqual(st[M + "/.wh.d"]["ls"], ["inner.txt"])
        for rel in ODD + ["normal.txt", "sub/a.txt"]:
            self.assertEqual(self.sh(["cat", f"{M}/{rel}"]).stdout, self.want(rel), rel)
        self.assert_pristine_hub()
        self.assert_nothing_real()

    def test_create_local_names(self):
        M = self.M
        self.sh(f"echo new > {M}/.wh.new && mkdir {M}/.wh.newdir && echo f > {M}/.wh.newdir/.wh.f && "
                f"touch {M}/sub/.wh.a.txt {M}/sub/.wh..wh..opq {M}/.wh..wh..tmp.1.2")
        self.assertEqual(self.sh(["cat", f"{M}/.wh.new"]).stdout, b"new\n")
        self.assertEqual(self.sh(["cat", f"{PFX}/.wh.newdir/.wh.f"]).stdout, b"f\n")
        st = self.state(M, M + "/sub", M + "/.wh.newdir")
        self.assertEqual(st[M]["ls"], sorted(TOP + [".wh.new", ".wh.newdir", ".wh..wh..tmp.1.2"]))
        # local names like a whiteout of a.txt or an opaque marker hide nothing remote
        self.assertEqual(st[M + "/sub"]["ls"], [".wh..wh..opq", ".wh.a.txt", ".wh.y", "a.txt"])
        self.assertEqual(st[M + "/sub"]["files"]["a.txt"], self.want("sub/a.txt").decode())
        self.assertEqual(st[M + "/.wh.newdir"]["ls"], [".wh.f"])
        code = textwrap.dedent(f"""
            import os
            fd = os.open('{M}/.wh.excl', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, b'x'); os.close(fd)
            os.rename('{M}/.wh.excl', '{M}/sub/.wh.z')
            print(open('{M}/sub/.wh.z').read(), sorted(os.listdir('{M}/sub')))
        """)
        self.assertEqual(self.sh([PY, "-c", code]).stdout.decode(),
                         "x ['.wh..wh..opq', '.wh.a.txt', '.wh.y', '.wh.z', 'a.txt']\n")
        self.sh(f"rm -r {M}/.wh.new {M}/.wh.newdir {M}/sub/.wh.a.txt {M}/sub/.wh..wh..opq "
                f"{M}/sub/.wh.z {M}/.wh..wh..tmp.1.2")
        self.assertEqual(self.ls_a(M), TOP)
        self.assertEqual(self.ls_a(M + "/sub"), [".wh.y", "a.txt"])
        self.assert_pristine_hub()
        self.assert_nothing_real()

    def test_normal_dir_rename_and_opaque(self):
        """A real directory rename and a deleted-then-made directory behave as before."""
        M = self.M
        self.sh(f"mv {M}/sub {M}/sub2 && mkdir {M}/sub && echo fresh > {M}/sub/new.txt")
        self.assertEqual(self.ls_a(M + "/sub2"), [".wh.y", "a.txt"])
        self.assertEqual(self.ls_a(M + "/sub"), ["new.txt"])  # nothing remote shows through
        self.assertEqual(self.sh(["cat", f"{M}/sub2/.wh.y"]).stdout, self.want("sub/.wh.y"))
        self.assertEqual(self.sh(["cat", f"{M}/normal.txt"]).stdout, self.want("normal.txt"))
        self.sh(f"rm -r {M}/.wh.d && mkdir {M}/.wh.d")
        self.assertEqual(self.ls_a(M + "/.wh.d"), [])
        self.assert_pristine_hub()
        self.assert_nothing_real()


class WhiteoutNamesPush(ShimTest):
    def hfrun(self, *args, check=True, extra=None):
        env = {"HF_TOKEN": GOOD}
        env.update(extra or {})
        return self.run_shim([HFRUN] + list(args), preload=False, check=check, extra=env)

    def test_status_discard_push(self):
        rid = "acme/wh-push-%d" % os.getpid()
        base = self.hub.create_repo("model", rid, from_id=REPO, from_rev="main")
        r = "/hf/" + rid
        self.hfrun("--no-push", "--", "sh", "-c",
                   f"set -e; rm {r}/.wh.x; mv {r}/.wh..wh..opq {r}/opq.txt; echo new > {r}/.wh.new; "
                   f"rm -r {r}/.wh.d; echo z > {r}/sub/.wh.z; echo changed > {r}/sub/.wh.y; "
                   f"echo keep > {r}/.wh.keep")
        self.assert_no_writes()
        status = lambda: [l for l in self.hfrun("status", rid).stdout.decode().splitlines()  # noqa: E731
                          if not l.startswith("#")]
        self.assertEqual(status(), ["D .wh..wh..opq", "D .wh.d/", "A .wh.keep", "A .wh.new", "D .wh.x",
                                    "A opq.txt", "M sub/.wh.y", "A sub/.wh.z"])
        # discard names the program's paths: the local file goes, the whiteout goes
        self.hfrun("discard", rid, ".wh.new")
        self.hfrun("discard", rid, ".wh.x")
        self.assertEqual(status(), ["D .wh..wh..opq", "D .wh.d/", "A .wh.keep", "A opq.txt",
                                    "M sub/.wh.y", "A sub/.wh.z"])
        p = self.hfrun("--", "sh", "-c", f"cat {r}/.wh.x; ls -a {r}", extra={"HF_NO_PUSH": "1"})
        self.assertEqual(p.stdout.decode().split("\n")[0], self.fixture_bytes(REPO, ".wh.x").decode().strip())
        self.assertNotIn(".wh.new", p.stdout.decode().split("\n"))
        self.hfrun("push", rid, "--message", "whiteout-like names")
        self.assertEqual(len([w for w in self.hub.writes() if w["path"].endswith("/commit/main")]), 1)
        head = self.hub.head("model", rid)
        self.assertNotEqual(head, base)
        # the commit carried the program's names: nothing escaped, nothing lost
        files = self.hub.files_at("model", rid, head)
        self.assertEqual(sorted(files), [".wh.keep", ".wh.x", ".x.wh.x", "normal.txt", "opq.txt",
                                         "sub/.wh.y", "sub/.wh.z", "sub/a.txt"])
        self.assertEqual(self.hub.read_at("model", rid, head, ".wh.keep"), b"keep\n")
        self.assertEqual(self.hub.read_at("model", rid, head, "opq.txt"),
                         self.fixture_bytes(REPO, ".wh..wh..opq"))
        self.assertEqual(self.hub.read_at("model", rid, head, "sub/.wh.y"), b"changed\n")
        self.assertEqual(self.hub.read_at("model", rid, head, "sub/.wh.z"), b"z\n")
        # the pushed entries and their whiteouts left the overlay; a new session reads the commit
        self.assertEqual(status(), [])
        p = self.hfrun("--", "sh", "-c", f"ls -a {r} {r}/sub; cat {r}/.wh.keep", extra={"HF_NO_PUSH": "1"})
        out = p.stdout.decode()
        self.assertIn(".wh.keep\n.wh.x\n.x.wh.x\nnormal.txt\nopq.txt\n", out)
        self.assertIn(".wh.y\n.wh.z\na.txt\n", out)
        self.assertTrue(out.endswith("keep\n"), out)
