"""Writes under a mount with real programs: everything lands in the local overlay, nothing reaches
the Hub (HF_NO_PUSH=1, checked on the test Hub's request log after every test)."""
import json
import os
import random
import subprocess
import textwrap

from harness import ShimTest, HFRUN, PY

TINY = "/hf/acme/tiny"
NOPUSH = {"HF_NO_PUSH": "1"}


class WriteTest(ShimTest):
    def sh(self, cmd, extra=None, **kw):
        env = dict(NOPUSH)
        env.update(extra or {})
        return self.run_shim(cmd, extra=env, **kw)

    def pyw(self, code, **kw):
        return self.sh([PY, "-c", textwrap.dedent(code)], **kw)

    def cat(self, path, **kw):
        return self.sh(["cat", path], **kw).stdout

    def names(self, path):
        return self.sh(["ls", "-a", path]).stdout.decode().split("\n")

    def fresh_view(self, path):
        """What a process with an empty HF_HOME (no overlay) sees: the Hub's content."""
        home = os.path.join(self.tmp, "fresh_home_%d" % random.randrange(1 << 30))
        os.makedirs(home)
        return self.sh(["cat", path], home=home).stdout

    def assert_fixture_intact(self, rel):
        want = self.fixture_bytes("acme/tiny", rel)
        self.assertEqual(self.fresh_view(f"{TINY}/{rel}"), want)

    # ---- shells and coreutils --------------------------------------------------------------

    def test_shell_redirection(self):
        readme = self.fixture_bytes("acme/tiny", "README.md")
        self.sh(f"echo hello > {TINY}/new.txt && echo more >> {TINY}/new.txt")
        self.assertEqual(self.cat(f"{TINY}/new.txt"), b"hello\nmore\n")
        # > on a remote file: copied up truncated (its content is never fetched)
        self.sh(f"echo over > {TINY}/config.json")
        self.assertEqual(self.cat(f"{TINY}/config.json"), b"over\n")
        self.assertEqual(self.bytes_fetched("config.json"), 0)
        # >> on a remote file: copied up whole, then appended to
        self.sh(f"echo tail >> {TINY}/README.md")
        self.assertEqual(self.cat(f"{TINY}/README.md"), readme + b"tail\n")
        # a second process sees the same
        self.assertEqual(self.sh(f"wc -c < {TINY}/README.md").stdout.strip(),
                         str(len(readme) + 5).encode())
        self.assert_fixture_intact("README.md")
        self.assert_fixture_intact("config.json")
        self.assert_no_writes()

    def test_cp_r_into_hf(self):
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "d1", "d2"))
        os.makedirs(os.path.join(src, "emptydir"))
        rnd = random.Random(7)
        files = {"top.txt": b"top\n", "d1/bin.dat": rnd.randbytes(1 << 20),
                 "d1/d2/deep.txt": b"deep\n" * 1000, "empty": b""}
        for rel, data in files.items():
            with open(os.path.join(src, rel), "wb") as f:
                f.write(data)
        self.sh(["cp", "-r", src, f"{TINY}/copied"])
        self.sh(["diff", "-r", src, f"{TINY}/copied"])
        self.sh(["cp", "-a", src, f"{TINY}/copied_a"])
        self.sh(["diff", "-r", src, f"{TINY}/copied_a"])
        # remote to remote, and remote out to a real directory
        self.sh(["cp", f"{TINY}/model.safetensors", f"{TINY}/a/copy.safetensors"])
        self.sh(["cp", "-r", f"{TINY}/a", os.path.join(self.tmp, "out")])
        st = self.fixture_bytes("acme/tiny", "model.safetensors")
        self.assertEqual(self.cat(f"{TINY}/a/copy.safetensors"), st)
        with open(os.path.join(self.tmp, "out", "copy.safetensors"), "rb") as f:
            self.assertEqual(f.read(), st)
        with open(os.path.join(self.tmp, "out", "b", "c", "deep.txt"), "rb") as f:
            self.assertEqual(f.read(), self.fixture_bytes("acme/tiny", "a/b/c/deep.txt"))
        self.assert_no_writes()

    def test_mv_file_and_dir(self):
        readme = self.fixture_bytes("acme/tiny", "README.md")
        deep = self.fixture_bytes("acme/tiny", "a/b/c/deep.txt")
        self.sh(f"mv {TINY}/README.md {TINY}/README2.md")
        names = self.names(TINY)
        self.assertIn("README2.md", names)
        self.assertNotIn("README.md", names)
        self.assertEqual(self.cat(f"{TINY}/README2.md"), readme)
        # over an existing remote target
        self.sh(f"echo replaced > {TINY}/x1 && mv {TINY}/x1 {TINY}/config.json")
        self.assertEqual(self.cat(f"{TINY}/config.json"), b"replaced\n")
        self.assertNotIn("x1", self.names(TINY))
        # a remote directory
        self.sh(f"mv {TINY}/a {TINY}/a2")
        self.assertEqual(self.cat(f"{TINY}/a2/b/c/deep.txt"), deep)
        self.assertNotIn("a", self.names(TINY))
        self.sh(f"! test -e {TINY}/a/top.txt")
        # a directory over an existing empty directory
        self.sh(f"mkdir {TINY}/target && mv -T {TINY}/a2 {TINY}/target")
        self.assertEqual(self.cat(f"{TINY}/target/b/c/deep.txt"), deep)
        # across repos and out of /hf: EXDEV, mv copies and deletes
        self.sh(f"mv {TINY}/empty.txt /hf/datasets/acme/many/moved.txt")
        self.assertNotIn("empty.txt", self.names(TINY))
        self.assertIn("moved.txt", self.names("/hf/datasets/acme/many"))
        out = os.path.join(self.tmp, "spaces.txt")
        self.sh(["mv", f"{TINY}/name with spaces.txt", out])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.fixture_bytes("acme/tiny", "name with spaces.txt"))
        self.assertNotIn("name with spaces.txt", self.names(TINY))
        inbound = os.path.join(self.tmp, "inbound.txt")
        with open(inbound, "w") as f:
            f.write("from outside\n")
        self.sh(["mv", inbound, f"{TINY}/inbound.txt"])
        self.assertFalse(os.path.exists(inbound))
        self.assertEqual(self.cat(f"{TINY}/inbound.txt"), b"from outside\n")
        self.assert_fixture_intact("README.md")
        self.assert_fixture_intact("a/b/c/deep.txt")
        self.assert_no_writes()

    def test_rm_r_remote_dir(self):
        self.sh(f"rm -r {TINY}/a")
        self.assertNotIn("a", self.names(TINY))
        found = self.sh(["find", TINY]).stdout.decode().split("\n")
        self.assertFalse([p for p in found if p == f"{TINY}/a" or p.startswith(f"{TINY}/a/")],
                         found)
        self.assertIn(f"{TINY}/README.md", found)
        p = self.sh(["stat", f"{TINY}/a/top.txt"], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"No such file", p.stderr)
        # the Hub's side is untouched
        self.assertTrue(os.path.exists(self.fixture_path("acme/tiny", "a/top.txt")))
        self.assert_fixture_intact("a/top.txt")
        # a file of the same name can be made again, and starts empty of remote content
        self.sh(f"mkdir {TINY}/a && echo new > {TINY}/a/new.txt")
        self.assertEqual(self.sh(["ls", "-A", f"{TINY}/a"]).stdout, b"new.txt\n")
        self.assert_no_writes()

    def test_mkdir_p(self):
        self.sh(f"mkdir -p {TINY}/x/y/z && test -d {TINY}/x/y/z")
        self.sh(f"mkdir -p {TINY}/a/b/c/new && test -d {TINY}/a/b/c/new")
        self.sh(f"mkdir -p {TINY}/a/b")  # exists remotely: fine
        self.assertEqual(self.sh(["ls", f"{TINY}/a/b/c"]).stdout, b"deep.txt\nnew\n")
        p = self.sh(["mkdir", f"{TINY}/a"], check=False)
        self.assertIn(b"File exists", p.stderr)
        self.assert_no_writes()

    def test_ln_s_and_readlink(self):
        readme = self.fixture_bytes("acme/tiny", "README.md")
        with open("/etc/hostname", "rb") as f:
            host = f.read()
        self.sh(f"ln -s README.md {TINY}/lnk && ln -s ../README.md {TINY}/a/up && "
                f"ln -s {TINY}/config.json {TINY}/abs && ln -s /etc/hostname {TINY}/host && "
                f"ln -s a {TINY}/dirlink")
        self.assertEqual(self.sh(["readlink", f"{TINY}/lnk"]).stdout, b"README.md\n")
        self.assertEqual(self.sh(["readlink", f"{TINY}/abs"]).stdout,
                         f"{TINY}/config.json\n".encode())
        self.assertEqual(self.cat(f"{TINY}/lnk"), readme)
        self.assertEqual(self.cat(f"{TINY}/a/up"), readme)
        self.assertEqual(self.cat(f"{TINY}/abs"), self.fixture_bytes("acme/tiny", "config.json"))
        self.assertEqual(self.cat(f"{TINY}/host"), host)
        self.assertEqual(self.cat(f"{TINY}/dirlink/top.txt"),
                         self.fixture_bytes("acme/tiny", "a/top.txt"))
        self.assertEqual(self.sh(["readlink", "-f", f"{TINY}/a/up"]).stdout,
                         f"{TINY}/README.md\n".encode())
        self.assertIn(b"lnk -> README.md", self.sh(["ls", "-l", TINY]).stdout)
        out = self.pyw(f"""
            import errno, json, os, stat
            r = [os.readlink('{TINY}/lnk'), stat.S_ISLNK(os.lstat('{TINY}/lnk').st_mode),
                 stat.S_ISREG(os.stat('{TINY}/lnk').st_mode), os.path.realpath('{TINY}/a/up'),
                 os.path.islink('{TINY}/README.md')]
            try:
                os.readlink('{TINY}/README.md')
            except OSError as e:
                r.append(errno.errorcode[e.errno])
            try:
                os.symlink('x', '{TINY}/lnk')
            except OSError as e:
                r.append(errno.errorcode[e.errno])
            print(json.dumps(r))
        """).stdout
        self.assertEqual(json.loads(out), ["README.md", True, True, f"{TINY}/README.md", False,
                                           "EINVAL", "EEXIST"])
        self.sh(f"rm {TINY}/lnk && test ! -e {TINY}/lnk && test -f {TINY}/README.md")
        self.assert_no_writes()

    def test_touch_new_and_remote(self):
        self.sh(f"touch {TINY}/newfile")
        self.assertEqual(self.sh(["stat", "-c", "%s %F", f"{TINY}/newfile"]).stdout,
                         b"0 regular empty file\n")
        before = int(self.sh(["stat", "-c", "%Y", f"{TINY}/README.md"]).stdout)
        self.sh(f"touch {TINY}/README.md")
        after = int(self.sh(["stat", "-c", "%Y", f"{TINY}/README.md"]).stdout)
        self.assertNotEqual(before, after)
        self.assertGreater(after, before)
        self.sh(f"touch -d @1000000000 {TINY}/config.json {TINY}/a")
        self.assertEqual(self.sh(["stat", "-c", "%Y", f"{TINY}/config.json", f"{TINY}/a"]).stdout,
                         b"1000000000\n1000000000\n")
        self.assertEqual(self.cat(f"{TINY}/README.md"), self.fixture_bytes("acme/tiny", "README.md"))
        self.assert_no_writes()

    def test_sed_i_copies_up(self):
        readme = self.fixture_bytes("acme/tiny", "README.md")
        before = self.names(TINY)
        self.sh(f"sed -i s/tiny/TINY/g {TINY}/README.md")
        self.assertEqual(self.cat(f"{TINY}/README.md"), readme.replace(b"tiny", b"TINY"))
        self.assertEqual(self.names(TINY), before)  # no leftover temp file
        self.assertEqual(self.cat(f"{TINY}/config.json"), self.fixture_bytes("acme/tiny", "config.json"))
        self.assertEqual(self.cat(f"{TINY}/a/top.txt"), self.fixture_bytes("acme/tiny", "a/top.txt"))
        self.assert_fixture_intact("README.md")
        self.assert_no_writes()

    def test_tar_xf_into_hf(self):
        src = os.path.join(self.tmp, "tsrc")
        os.makedirs(os.path.join(src, "dir", "sub"))
        with open(os.path.join(src, "dir", "f.txt"), "w") as f:
            f.write("file\n")
        with open(os.path.join(src, "dir", "sub", "bin"), "wb") as f:
            f.write(random.Random(3).randbytes(300_000))
        os.chmod(os.path.join(src, "dir", "f.txt"), 0o640)
        os.symlink("f.txt", os.path.join(src, "dir", "ln"))
        os.link(os.path.join(src, "dir", "f.txt"), os.path.join(src, "dir", "hard"))
        tarball = os.path.join(self.tmp, "t.tar")
        subprocess.run(["tar", "cf", tarball, "-C", src, "dir"], check=True)
        self.sh(f"mkdir {TINY}/untar && tar xf {tarball} -C {TINY}/untar")
        self.sh(["diff", "-r", "--no-dereference", os.path.join(src, "dir"), f"{TINY}/untar/dir"])
        self.assertEqual(self.sh(["readlink", f"{TINY}/untar/dir/ln"]).stdout, b"f.txt\n")
        self.assertEqual(self.sh(["stat", "-c", "%a %h", f"{TINY}/untar/dir/f.txt"]).stdout,
                         b"640 2\n")
        # and back out: tar c of a tree mixing remote and local content
        self.sh(f"tar cf {self.tmp}/back.tar -C {TINY} untar a")
        listing = subprocess.run(["tar", "tf", f"{self.tmp}/back.tar"], check=True,
                                 stdout=subprocess.PIPE).stdout.decode()
        self.assertIn("untar/dir/sub/bin", listing)
        self.assertIn("a/b/c/deep.txt", listing)
        self.assert_no_writes()

    def test_chmod_and_truncate(self):
        cfg = self.fixture_bytes("acme/tiny", "config.json")
        self.sh(f"chmod 600 {TINY}/config.json")
        self.assertEqual(self.sh(["stat", "-c", "%a", f"{TINY}/config.json"]).stdout, b"600\n")
        self.assertEqual(self.cat(f"{TINY}/config.json"), cfg)
        self.sh(f"echo '#!/bin/sh' > {TINY}/run.sh && echo 'echo ran' >> {TINY}/run.sh && "
                f"chmod +x {TINY}/run.sh && test -x {TINY}/run.sh")
        self.assertEqual(self.sh(f"{TINY}/run.sh").stdout, b"ran\n")
        self.sh(f"chmod 700 {TINY}/a")
        self.assertEqual(self.sh(["stat", "-c", "%a", f"{TINY}/a"]).stdout, b"700\n")
        self.sh(f"truncate -s 5 {TINY}/config.json")
        self.assertEqual(self.cat(f"{TINY}/config.json"), cfg[:5])
        # truncate(2) of a remote file to 0 fetches nothing (coreutils' truncate opens the file
        # for writing first, which copies it up whole)
        self.pyw(f"import os; os.truncate('{TINY}/docs/large.txt', 0)")
        self.assertEqual(self.sh(["stat", "-c", "%s", f"{TINY}/docs/large.txt"]).stdout, b"0\n")
        self.assertEqual(self.bytes_fetched("large.txt"), 0)
        self.sh(f"truncate -s 1M {TINY}/sparse")
        self.assertEqual(self.sh(["stat", "-c", "%s", f"{TINY}/sparse"]).stdout, b"1048576\n")
        self.assert_no_writes()

    # ---- python ----------------------------------------------------------------------------

    def test_python_tempfile_replace_rmtree_copytree(self):
        root = self.fixture_path("acme/tiny")
        out = self.pyw(f"""
            import json, os, shutil, tempfile
            r = {{}}
            with tempfile.NamedTemporaryFile('w', dir='{TINY}', delete=False) as f:
                f.write('atomic\\n')
            r['tmpname'] = os.path.dirname(f.name)
            os.replace(f.name, '{TINY}/final.txt')
            r['final'] = open('{TINY}/final.txt').read()
            os.replace('{TINY}/final.txt', '{TINY}/config.json')  # over a remote file
            r['cfg'] = open('{TINY}/config.json').read()
            fd, p = tempfile.mkstemp(dir='{TINY}/a', suffix='.x')
            os.write(fd, b'mk'); os.close(fd)
            r['mkstemp'] = [open(p).read(), oct(os.stat(p).st_mode & 0o777)]
            d = tempfile.mkdtemp(dir='{TINY}')
            r['mkdtemp'] = oct(os.stat(d).st_mode & 0o777)
            with tempfile.TemporaryFile(dir='{TINY}') as t:  # O_TMPFILE falls back
                t.write(b'anon'); t.seek(0); r['tmpfile'] = t.read().decode()
            with tempfile.TemporaryDirectory(dir='{TINY}') as td:
                open(os.path.join(td, 'x'), 'w').write('x')
            r['tmpdir_gone'] = not os.path.exists(td)
            shutil.copytree('{TINY}/a', '{TINY}/a_copy')
            r['copytree'] = sorted(os.path.relpath(os.path.join(dp, n), '{TINY}/a_copy')
                                   for dp, ds, fs in os.walk('{TINY}/a_copy') for n in fs)
            r['deep'] = open('{TINY}/a_copy/b/c/deep.txt').read()
            shutil.rmtree('{TINY}/a')
            r['rmtree'] = [os.path.exists('{TINY}/a'), 'a' in os.listdir('{TINY}')]
            shutil.move('{TINY}/a_copy', '{TINY}/a_moved')
            r['move'] = sorted(os.listdir('{TINY}/a_moved'))
            r['listing'] = [n for n in os.listdir('{TINY}') if n.startswith(('tmp', '.wh.'))]
            print(json.dumps(r))
        """).stdout
        r = json.loads(out)
        self.assertEqual(r["tmpname"], TINY)
        self.assertEqual(r["final"], "atomic\n")
        self.assertEqual(r["cfg"], "atomic\n")
        self.assertEqual(r["mkstemp"][0], "mk")
        self.assertEqual(r["mkstemp"][1], "0o600")
        self.assertEqual(r["mkdtemp"], "0o700")
        self.assertEqual(r["tmpfile"], "anon")
        self.assertTrue(r["tmpdir_gone"])
        want = sorted(os.path.relpath(os.path.join(dp, n), os.path.join(root, "a"))
                      for dp, ds, fs in os.walk(os.path.join(root, "a")) for n in fs)
        self.assertEqual(r["copytree"], sorted(want + [n for n in r["copytree"] if n.endswith(".x")]))
        self.assertEqual(r["deep"], self.fixture_bytes("acme/tiny", "a/b/c/deep.txt").decode())
        self.assertEqual(r["rmtree"], [False, False])
        self.assertIn("top.txt", r["move"])
        self.assertEqual([n for n in r["listing"] if n.startswith(".wh.")], [])
        self.assert_fixture_intact("a/top.txt")
        self.assert_no_writes()

    def test_sqlite(self):
        code = f"""
            import json, os, sqlite3, sys
            mode = sys.argv[1]
            db = sqlite3.connect('{TINY}/data/db.sqlite')
            if mode == 'create':
                db.execute('create table t (k integer primary key, v text)')
                with db:
                    db.executemany('insert into t values (?, ?)', [(i, 'v%d' % i) for i in range(2000)])
                w = sqlite3.connect('{TINY}/data/wal.sqlite')
                w.execute('pragma journal_mode=wal')
                w.execute('create table w (x)')
                with w:
                    w.executemany('insert into w values (?)', [(i,) for i in range(500)])
                w.close()
            else:
                with db:
                    db.execute("update t set v = 'changed' where k % 2 = 0")
                    db.execute('delete from t where k >= 1500')
            n = db.execute('select count(*), sum(v = "changed") from t').fetchone()
            db.close()
            w = sqlite3.connect('{TINY}/data/wal.sqlite')
            m = w.execute('select count(*) from w').fetchone()[0]
            w.close()
            print(json.dumps([list(n), m, sorted(os.listdir('{TINY}/data'))]))
        """
        r = json.loads(self.sh([PY, "-c", textwrap.dedent(code), "create"]).stdout)
        self.assertEqual(r[0], [2000, 0])
        self.assertEqual(r[1], 500)
        self.assertNotIn("db.sqlite-journal", r[2])
        r = json.loads(self.sh([PY, "-c", textwrap.dedent(code), "update"]).stdout)
        self.assertEqual(r[0], [1500, 750])
        self.assertEqual(r[1], 500)
        self.assertIn("medium.bin", r[2])
        self.assertNotIn("db.sqlite-journal", r[2])
        out = self.sh(["sqlite3", f"{TINY}/data/db.sqlite", "pragma integrity_check"],
                      check=False)
        if out.returncode == 0:  # the sqlite3 CLI may not be installed
            self.assertEqual(out.stdout.strip(), b"ok")
        self.assert_no_writes()

    def test_flock_and_fcntl_locks(self):
        out = self.pyw(f"""
            import fcntl, json, os, subprocess, sys
            f = open('{TINY}/lock', 'w')
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            probe = '''
            import fcntl, sys
            g = open(sys.argv[1], sys.argv[2])
            try:
                fcntl.flock(g, fcntl.LOCK_EX | fcntl.LOCK_NB); print('got')
            except BlockingIOError:
                print('busy')
            '''
            import textwrap
            probe = textwrap.dedent(probe)
            a = subprocess.run([sys.executable, '-c', probe, '{TINY}/lock', 'w'],
                               stdout=subprocess.PIPE).stdout.decode().strip()
            # a lock on a remote file (its read-only cache fd) is local too
            r = open('{TINY}/README.md')
            fcntl.flock(r, fcntl.LOCK_SH)
            b = subprocess.run([sys.executable, '-c', probe, '{TINY}/README.md', 'r'],
                               stdout=subprocess.PIPE).stdout.decode().strip()
            fcntl.flock(f, fcntl.LOCK_UN)
            c = subprocess.run([sys.executable, '-c', probe, '{TINY}/lock', 'w'],
                               stdout=subprocess.PIPE).stdout.decode().strip()
            g = open('{TINY}/rec', 'w')
            fcntl.lockf(g, fcntl.LOCK_EX)
            print(json.dumps([a, b, c]))
        """).stdout
        self.assertEqual(json.loads(out), ["busy", "busy", "got"])
        self.assert_no_writes()

    def test_errno(self):
        code = f"""
            import ctypes, errno, json, os
            T = '{TINY}'
            res = {{}}
            def expect(name, fn):
                try:
                    fn(); res[name] = 'ok'
                except OSError as e:
                    res[name] = errno.errorcode[e.errno]
            expect('mkdir_existing', lambda: os.mkdir(T + '/a'))
            expect('excl_existing', lambda: os.open(T + '/README.md', os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            expect('rmdir_nonempty', lambda: os.rmdir(T + '/a'))
            expect('open_dir_write', lambda: os.open(T + '/a', os.O_WRONLY))
            expect('mkdir_under_file', lambda: os.mkdir(T + '/README.md/x'))
            expect('open_under_file', lambda: open(T + '/README.md/x', 'w'))
            expect('unlink_missing', lambda: os.unlink(T + '/missing'))
            expect('unlink_dir', lambda: os.unlink(T + '/a'))
            expect('rmdir_file', lambda: os.rmdir(T + '/README.md'))
            expect('rename_into_self', lambda: os.rename(T + '/a', T + '/a/b/x'))
            expect('rename_missing', lambda: os.rename(T + '/missing', T + '/m2'))
            expect('rename_dir_over_file', lambda: os.rename(T + '/a', T + '/README.md'))
            expect('rename_file_over_dir', lambda: os.rename(T + '/README.md', T + '/a'))
            expect('create_wh', lambda: open(T + '/.wh.foo', 'w'))
            expect('mkdir_wh', lambda: os.mkdir(T + '/.wh.d'))
            # names like the overlay's whiteouts are ordinary names (test_whiteout_names.py)
            expect('rename_to_wh', lambda: (os.rename(T + '/config.json', T + '/.wh.config.json'),
                                            os.rename(T + '/.wh.config.json', T + '/config.json')))
            libc = ctypes.CDLL(None, use_errno=True)
            def renameat2(a, b, flags):
                def f():
                    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
                        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
                return f
            expect('noreplace_existing', renameat2(T + '/README.md', T + '/config.json', 1))
            expect('noreplace_new', renameat2(T + '/README.md', T + '/R.md', 1))
            expect('exchange', renameat2(T + '/R.md', T + '/config.json', 2))
            expect('exchange_missing', renameat2(T + '/R.md', T + '/nothere', 2))
            expect('exchange_dir_file', renameat2(T + '/a', T + '/config.json', 2))
            res['after_exchange'] = [open(T + '/R.md').read(), open(T + '/a').read()[:1]
                                     if os.path.isfile(T + '/a') else 'dir']
            expect('link_across_repos', lambda: os.link(T + '/R.md', '/hf/datasets/acme/many/l'))
            expect('link_out', lambda: os.link(T + '/R.md', '/tmp/hfshim-link-out'))
            expect('rename_out', lambda: os.rename(T + '/R.md', '/tmp/hfshim-rename-out'))
            expect('hardlink', lambda: os.link(T + '/empty.txt', T + '/empty2.txt'))
            res['nlink'] = os.stat(T + '/empty2.txt').st_nlink
            print(json.dumps(res))
        """
        r = json.loads(self.pyw(code).stdout)
        cfg = self.fixture_bytes("acme/tiny", "config.json").decode()
        readme = self.fixture_bytes("acme/tiny", "README.md").decode()
        want = {
            "mkdir_existing": "EEXIST", "excl_existing": "EEXIST", "rmdir_nonempty": "ENOTEMPTY",
            "open_dir_write": "EISDIR", "mkdir_under_file": "ENOTDIR",
            "open_under_file": "ENOTDIR", "unlink_missing": "ENOENT", "unlink_dir": "EISDIR",
            "rmdir_file": "ENOTDIR", "rename_into_self": "EINVAL", "rename_missing": "ENOENT",
            "rename_dir_over_file": "ENOTDIR", "rename_file_over_dir": "EISDIR",
            "create_wh": "ok", "mkdir_wh": "ok", "rename_to_wh": "ok",
            "noreplace_existing": "EEXIST", "noreplace_new": "ok", "exchange": "ok",
            "exchange_missing": "ENOENT", "exchange_dir_file": "ok",
            "after_exchange": [cfg, readme[:1]], "link_across_repos": "EXDEV", "link_out": "EXDEV",
            "rename_out": "EXDEV", "hardlink": "ok", "nlink": 2,
        }
        self.assertEqual(r, want)
        # after the exchanges, config.json is the directory that was a
        self.assertEqual(self.cat(f"{TINY}/config.json/b/c/deep.txt"),
                         self.fixture_bytes("acme/tiny", "a/b/c/deep.txt"))
        self.assertFalse(os.path.exists("/tmp/hfshim-link-out"))
        self.assert_no_writes()

    def test_stat_and_fstat_agree_on_local_files(self):
        out = self.pyw(f"""
            import json, os
            f = open('{TINY}/grow.bin', 'wb')
            f.write(b'x' * 1000); f.flush()
            a, b = os.fstat(f.fileno()), os.stat('{TINY}/grow.bin')
            r = [a.st_ino == b.st_ino, a.st_dev == b.st_dev, a.st_size, b.st_size,
                 os.stat('{TINY}').st_dev == b.st_dev]
            f.write(b'y' * 24); f.close()
            r.append(os.stat('{TINY}/grow.bin').st_size)
            g = open('{TINY}/README.md', 'r+')  # copy-up through fopen-like r+
            g.seek(0, 2); g.write('appended\\n'); g.close()
            r.append(open('{TINY}/README.md').read().endswith('appended\\n'))
            print(json.dumps(r))
        """).stdout
        self.assertEqual(json.loads(out), [True, True, 1000, 1000, True, 1024, True])
        self.assert_no_writes()

    def test_libc_stdio_and_temp_templates(self):
        """fopen modes, freopen, mkstemp/mkstemps/mkostemp/mkdtemp in a C program."""
        csrc = os.path.join(self.tmp, "t.c")
        exe = os.path.join(self.tmp, "t")
        with open(csrc, "w") as f:
            f.write(textwrap.dedent(r"""
                #define _GNU_SOURCE
                #include <errno.h>
                #include <fcntl.h>
                #include <stdio.h>
                #include <stdlib.h>
                #include <string.h>
                #include <sys/stat.h>
                #include <unistd.h>
                static const char *T;
                static char *p(const char *rel) { static char b[8][512]; static int i;
                    char *s = b[i++ % 8]; snprintf(s, 512, "%s/%s", T, rel); return s; }
                int main(int argc, char **argv) {
                    T = argv[1];
                    umask(022);
                    FILE *f = fopen(p("w.txt"), "w"); fputs("one\n", f); fclose(f);
                    f = fopen(p("w.txt"), "a"); fputs("two\n", f); fclose(f);
                    f = fopen(p("w.txt"), "r+"); fputs("ONE", f); fclose(f);
                    f = fopen(p("w.txt"), "wx"); printf("wx %s\n", f ? "opened" : strerror(errno));
                    f = fopen(p("x.txt"), "wx"); fputs("x\n", f); fclose(f);
                    f = fopen(p("config.json"), "a+"); fseek(f, 0, SEEK_SET);
                    char line[64] = ""; fgets(line, sizeof line, f);
                    fputs("appended\n", f); fclose(f); printf("a+ %s", line);
                    FILE *g = fopen(p("a/top.txt"), "r"); char buf[64]; fgets(buf, sizeof buf, g);
                    g = freopen(NULL, "w", g); fputs("rewritten\n", g); fclose(g);
                    f = freopen(p("re.txt"), "w", stdout); printf("via freopen\n"); fflush(stdout);
                    FILE *o = fopen(p("out.txt"), "w");
                    char t1[512], t2[512], t3[512], t4[512];
                    strcpy(t1, p("tmp.XXXXXX")); strcpy(t2, p("tmp.XXXXXX.sfx"));
                    strcpy(t3, p("tmpo.XXXXXX")); strcpy(t4, p("d.XXXXXX"));
                    int a = mkstemp(t1), b = mkstemps(t2, 4), c = mkostemp(t3, O_CLOEXEC);
                    char *d = mkdtemp(t4);
                    struct stat s1, s4; stat(t1, &s1); stat(t4, &s4);
                    write(a, "mk", 2); close(a); close(b); close(c);
                    char bad[512]; strcpy(bad, p("tmp.XXXXX"));
                    int e = mkstemp(bad);
                    fprintf(o, "%d %d %d %s %o %o %s %s %d %d\n", a >= 0, b >= 0, c >= 0,
                            d ? "dir" : "nodir", s1.st_mode & 0777, s4.st_mode & 0777,
                            strstr(t2, ".sfx") ? "sfx" : "nosfx",
                            strstr(t1, "XXXXXX") ? "unfilled" : "filled", e, errno == EINVAL);
                    fprintf(o, "%s\n%s\n", t1, t4);
                    fclose(o);
                    return 0;
                }
            """))
        subprocess.run(["cc", "-o", exe, csrc], check=True)
        p = self.sh([exe, TINY])
        self.assertEqual(self.cat(f"{TINY}/w.txt"), b"ONE\ntwo\n")
        self.assertEqual(self.cat(f"{TINY}/x.txt"), b"x\n")
        cfg = self.fixture_bytes("acme/tiny", "config.json")
        self.assertEqual(self.cat(f"{TINY}/config.json"), cfg + b"appended\n")
        self.assertIn(b"wx File exists", p.stdout)
        self.assertIn(b"a+ " + cfg.split(b"\n")[0], p.stdout)
        self.assertEqual(self.cat(f"{TINY}/re.txt"), b"via freopen\n")
        # freopen(NULL, "w") of a remote file's stream wrote the overlay, not the cache file
        self.assertEqual(self.cat(f"{TINY}/a/top.txt"), b"rewritten\n")
        for d, _, fs in os.walk(self.home):
            for n in fs:
                fp = os.path.join(d, n)
                if "/overlay/" not in fp and os.path.isfile(fp) and not os.path.islink(fp):
                    with open(fp, "rb") as f:
                        self.assertNotIn(b"rewritten", f.read(), fp)
        lines = self.cat(f"{TINY}/out.txt").decode().split("\n")
        self.assertEqual(lines[0], "1 1 1 dir 600 700 sfx filled -1 1")
        self.assertEqual(self.cat(lines[1]), b"mk")
        self.assertTrue(lines[1].startswith(f"{TINY}/tmp."))
        self.sh(["test", "-d", lines[2]])
        self.assert_no_writes()

    def test_umask_applies(self):
        out = self.pyw(f"""
            import json, os
            os.umask(0o027)
            open('{TINY}/u.txt', 'w').close()
            os.mkdir('{TINY}/ud')
            os.umask(0)
            os.close(os.open('{TINY}/u0.txt', os.O_CREAT | os.O_WRONLY, 0o666))
            os.mkdir('{TINY}/ud0', 0o777)
            print(json.dumps([oct(os.stat('{TINY}/' + n).st_mode & 0o777)
                              for n in ('u.txt', 'ud', 'u0.txt', 'ud0')]))
        """).stdout
        self.assertEqual(json.loads(out), ["0o640", "0o750", "0o666", "0o777"])
        self.sh(f"umask 077 && echo x > {TINY}/sh.txt")
        self.assertEqual(self.sh(["stat", "-c", "%a", f"{TINY}/sh.txt"]).stdout, b"600\n")
        self.assert_no_writes()

    def test_access_and_xattrs(self):
        out = self.pyw(f"""
            import errno, json, os
            T = '{TINY}'
            r = [os.access(T + '/README.md', os.W_OK), os.access(T + '/README.md', os.X_OK),
                 os.access(T + '/a', os.W_OK | os.X_OK), os.access(T + '/missing', os.W_OK),
                 os.listxattr(T + '/weights/big.bin'), os.listxattr(T + '/a')]
            try:
                os.getxattr(T + '/README.md', 'user.x')
            except OSError as e:
                r.append(errno.errorcode[e.errno])
            open(T + '/x.txt', 'w').close()
            os.chmod(T + '/x.txt', 0o755)
            r.append(os.access(T + '/x.txt', os.X_OK))
            try:
                os.setxattr(T + '/x.txt', 'user.k', b'v')
                r.append(os.getxattr(T + '/x.txt', 'user.k').decode())
                r.append('user.k' in os.listxattr(T + '/x.txt'))
                with open(T + '/x.txt') as f:
                    r.append(os.getxattr(f.fileno(), 'user.k').decode())
                os.removexattr(T + '/x.txt', 'user.k')
                r.append(os.listxattr(T + '/x.txt'))
            except OSError as e:  # the overlay's file system may have no user xattrs
                r += ['ENOTSUP'] * 4 if e.errno == errno.ENOTSUP else [errno.errorcode[e.errno]]
            print(json.dumps(r))
        """).stdout
        r = json.loads(out)
        self.assertEqual(r[:7], [True, False, True, False, [], [], "ENODATA"])
        self.assertTrue(r[7])
        if r[8] != "ENOTSUP":
            self.assertEqual(r[8:], ["v", True, "v", []])
        self.assertEqual(self.bytes_fetched(), 0)  # reading attributes fetches and copies nothing
        self.assert_no_writes()

    # ---- persistence and whiteouts ---------------------------------------------------------

    def test_persistence_across_processes_and_hfrun_sessions(self):
        readme = self.fixture_bytes("acme/tiny", "README.md")
        s1 = self.run_shim([HFRUN, "--no-push", "--", "sh", "-c",
                            f"echo one > {TINY}/p.txt && rm {TINY}/empty.txt && "
                            f"mv {TINY}/config.json {TINY}/cfg.json && mkdir {TINY}/newdir && "
                            f"rm -r {TINY}/a && echo tail >> {TINY}/README.md && "
                            f"mv {TINY}/docs {TINY}/docs2"], preload=False)
        s2 = self.run_shim([HFRUN, "--no-push", "--", "sh", "-c",
                            f"cat {TINY}/p.txt; ls {TINY}; cat {TINY}/README.md; "
                            f"cat {TINY}/cfg.json"], preload=False)
        out = s2.stdout.decode()
        self.assertIn("one\n", out)
        names = out.split("\n")
        for n in ("p.txt", "cfg.json", "newdir", "docs2", "README.md"):
            self.assertIn(n, names)
        for n in ("empty.txt", "config.json", "a", "docs"):
            self.assertNotIn(n, names)
        self.assertIn(readme.decode() + "tail\n", out)
        self.assertIn(self.fixture_bytes("acme/tiny", "config.json").decode(), out)
        # a plain LD_PRELOAD process with the same HF_HOME sees it too
        self.assertEqual(self.cat(f"{TINY}/docs2/large.txt")[:20],
                         self.fixture_bytes("acme/tiny", "docs/large.txt")[:20])
        self.sh(f"! test -e {TINY}/a/top.txt && ! test -e {TINY}/empty.txt")
        self.assert_fixture_intact("empty.txt")
        self.assert_no_writes()

    def test_whiteouts_never_visible(self):
        self.sh(f"rm {TINY}/README.md {TINY}/a/top.txt && rm -r {TINY}/a/b && "
                f"mv {TINY}/config.json {TINY}/c.json && rm -r {TINY}/data && mkdir {TINY}/data && "
                f"touch {TINY}/data/new")
        for d in (TINY, f"{TINY}/a", f"{TINY}/data"):
            names = self.names(d)
            self.assertFalse([n for n in names if n.startswith(".wh.")], (d, names))
        self.assertEqual([n for n in self.names(f"{TINY}/data") if n], [".", "..", "new"])
        found = self.sh(["find", TINY, "-name", ".wh.*"]).stdout
        self.assertEqual(found, b"")
        out = self.pyw(f"""
            import json, os
            r = []
            for dp, ds, fs in os.walk('{TINY}'):
                r += [n for n in ds + fs if n.startswith('.wh.')]
            r += [e.name for e in os.scandir('{TINY}') if e.name.startswith('.wh.')]
            r.append(os.path.exists('{TINY}/.wh.README.md'))
            r.append(os.path.exists('{TINY}/a/.wh.b'))
            print(json.dumps(r))
        """).stdout
        self.assertEqual(json.loads(out), [False, False])
        self.assert_no_writes()

    def test_reopen_through_proc_fd(self):
        """/proc/self/fd/N and /dev/fd/N of a virtual fd name the virtual file: reading fetches,
        writing copies up; the shared cache file behind a remote fd is never opened for writing."""
        top = self.fixture_bytes("acme/tiny", "a/top.txt")
        out = self.pyw(f"""
            import json, os
            f = open('{TINY}/a/top.txt', 'rb')
            d = os.open('{TINY}/a', os.O_RDONLY | os.O_DIRECTORY)
            r = [open('/dev/fd/%d' % f.fileno(), 'rb').read().decode(),
                 sorted(os.listdir('/proc/self/fd/%d' % d)),
                 open('/proc/self/fd/%d/b/c/deep.txt' % d).read()]
            with open('/proc/self/fd/%d' % f.fileno(), 'a') as w:
                w.write('appended\\n')
            r.append(open('{TINY}/a/top.txt').read())
            print(json.dumps(r))
        """).stdout
        r = json.loads(out)
        self.assertEqual(r[0], top.decode())
        self.assertEqual(r[1], ["b", "top.txt"])
        self.assertEqual(r[2], self.fixture_bytes("acme/tiny", "a/b/c/deep.txt").decode())
        self.assertEqual(r[3], top.decode() + "appended\n")
        for d, _, fs in os.walk(self.home):
            for n in fs:
                fp = os.path.join(d, n)
                if "/overlay/" not in fp and os.path.isfile(fp) and not os.path.islink(fp):
                    with open(fp, "rb") as f:
                        self.assertNotIn(b"appended", f.read(), fp)
        self.assert_no_writes()
