"""The huggingface_hub cache both ways (issue 10, point 6): a snapshot huggingface_hub alone
downloaded is read offline with no request; what the shim writes passes scan_cache_dir's
checks; a partial file whose blob another tool finished is removed once unused; a revision
answer got with one token is not reused without it.

huggingface_hub is not installed here: the tests lay out its cache as it does
(file_download.py: blobs named by the normalized ETag, sha256 for LFS files and the git blob
sha1 for others; snapshots/<commit>/<path> relative symlinks to ../../blobs/<etag>; refs/<rev>
holding the commit with no newline) and check it as its scan_cache_dir does."""
import os
import subprocess
import time

from harness import ShimTest, PY, HFRUN

TINY = "/hf/acme/tiny"
OFFLINE = {"HF_HUB_OFFLINE": "1"}
ERRNO = "import os, sys\ntry:\n    open(sys.argv[1], 'rb').read()\n    print('ok')\nexcept OSError as e:\n    print(e.errno)\n"


def hfshim_lines(stderr):
    return [l for l in stderr.decode(errors="replace").splitlines() if l.startswith("hfshim:")]


class HubCacheTest(ShimTest):
    def hub_cache(self):
        return os.path.join(self.home, "hub")

    def repo_dir(self, rid="acme/tiny", kind="models"):
        return os.path.join(self.hub_cache(), "%s--%s" % (kind, rid.replace("/", "--")))

    def lay_out(self, rid, files, rev="main", commit=None, copies=(), incomplete=(), dangling=()):
        """A huggingface_hub-style cache of `files` (paths of the fixture at `commit`)."""
        r = self.facts["repos"][rid]
        commit = commit or r["sha"]
        info = r["files_at"][commit] if "files_at" in r else r["files"]
        repo = self.repo_dir(rid)
        snap = os.path.join(repo, "snapshots", commit)
        os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
        for path in list(files) + list(copies) + list(dangling):
            etag = info[path]["etag"]
            blob = os.path.join(repo, "blobs", etag)
            data = self.fixture_bytes(rid, path, commit)
            if path not in dangling:
                tmp = blob + ".incomplete"  # written, then moved into place
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, blob)
            link = os.path.join(snap, path)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if path in copies:  # HF_HUB_DISABLE_SYMLINKS: the snapshot holds the bytes
                os.replace(blob, link)
            else:
                os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
        for path in incomplete:  # a download in progress: no symlink yet
            with open(os.path.join(repo, "blobs", info[path]["etag"] + ".incomplete"), "wb") as f:
                f.write(b"partial")
        os.makedirs(os.path.join(repo, "refs", os.path.dirname(rev)), exist_ok=True)
        with open(os.path.join(repo, "refs", rev), "w") as f:
            f.write(commit)
        return commit

    def assert_scan_cache_dir_clean(self):
        """What huggingface_hub's scan_cache_dir (utils/_cache_manager.py) raises
        CorruptedCacheException for, repo folder by repo folder."""
        cache, seen = self.hub_cache(), 0
        for name in sorted(os.listdir(cache)):
            if name in (".locks", "CACHEDIR.TAG", ".DS_Store"):
                continue
            repo = os.path.join(cache, name)
            self.assertTrue(os.path.isdir(repo), repo)
            self.assertIn("--", name)
            self.assertIn(name.split("--", 1)[0], ("models", "datasets", "spaces"), name)
            snaps = os.path.join(repo, "snapshots")
            self.assertTrue(os.path.isdir(snaps), "snapshots dir missing: " + repo)
            for rev in os.listdir(snaps):
                self.assertTrue(os.path.isdir(os.path.join(snaps, rev)), "file in snapshots/")
                for dp, _, fns in os.walk(os.path.join(snaps, rev)):
                    for fn in fns:
                        self.assertTrue(os.path.exists(os.path.join(dp, fn)),
                                        "broken symlink " + os.path.join(dp, fn))
            refs = os.path.join(repo, "refs")
            for dp, _, fns in os.walk(refs):
                for fn in fns:
                    with open(os.path.join(dp, fn)) as f:
                        commit = f.read()  # compared as is: a newline would not match
                    self.assertTrue(os.path.isdir(os.path.join(snaps, commit)),
                                    "ref %s names missing snapshot %r" %
                                    (os.path.relpath(os.path.join(dp, fn), refs), commit))
                    seen += 1
        return seen


class OfflineSnapshot(HubCacheTest):
    FILES = ["README.md", "config.json", "a/b/c/deep.txt", "model.safetensors",
             "données/naïve-文件.txt", "empty.txt"]

    def test_huggingface_hub_snapshot_read_offline_with_no_request(self):
        commit = self.lay_out("acme/tiny", self.FILES, copies=["name with spaces.txt"],
                              incomplete=["data/medium.bin"], dangling=["a/top.txt"])
        cached = sorted(self.FILES + ["name with spaces.txt"])
        for path in cached:
            out = self.run_shim(["cat", "%s/%s" % (TINY, path)], extra=OFFLINE).stdout
            self.assertEqual(out, self.fixture_bytes("acme/tiny", path), path)
        # the listing is the snapshot folder: what is cached, with the blobs' sizes
        found = self.run_shim(["find", TINY, "-type", "f"], extra=OFFLINE).stdout.decode()
        self.assertEqual(sorted(l[len(TINY) + 1:] for l in found.splitlines()), cached)
        ls = self.run_shim(["ls", "-A", TINY], extra=OFFLINE).stdout.decode().split("\n")
        self.assertEqual(sorted(filter(None, ls)),
                         sorted(["README.md", "a", "config.json", "données", "empty.txt",
                                 "model.safetensors", "name with spaces.txt"]))
        code = ("import os, sys\nfor dp, dns, fns in sorted(os.walk(sys.argv[1])):\n"
                "    for n in sorted(fns):\n        p = os.path.join(dp, n)\n"
                "        print(os.path.relpath(p, sys.argv[1]), os.stat(p).st_size)\n")
        out = self.run_shim([PY, "-c", code, TINY], extra=OFFLINE).stdout.decode()
        sizes = dict(l.rsplit(" ", 1) for l in out.splitlines())
        self.assertEqual(sizes, {p: str(len(self.fixture_bytes("acme/tiny", p))) for p in cached})
        # by commit sha, and through an explicit mount
        out = self.run_shim(["cat", "/hf/acme/tiny@%s/a/b/c/deep.txt" % commit], extra=OFFLINE).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "a/b/c/deep.txt"))
        mnt = os.path.join(self.tmp, "models", "tiny")
        out = self.run_shim(["cat", mnt + "/config.json"],
                            extra=dict(OFFLINE, HF_MOUNTS="%s=acme/tiny@main" % mnt)).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "config.json"))
        # a file it never downloaded (or still downloads, or whose blob is gone) is absent,
        # with one line naming it
        for path in ("data/medium.bin", "a/top.txt", "weights/big.bin"):
            p = self.run_shim([PY, "-c", ERRNO, "%s/%s" % (TINY, path)], extra=OFFLINE, check=False)
            self.assertEqual(p.stdout.decode().strip(), "2", (path, p.stderr))
            lines = hfshim_lines(p.stderr)
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn(path, lines[0])
            self.assertIn("HF_HUB_OFFLINE", lines[0])
        # probing for a file, or writing a new one, says nothing
        p = self.run_shim("test -e %s/tokenizer.json || echo new > %s/tokenizer.json && cat %s/tokenizer.json"
                          % ((TINY,) * 3), extra=dict(OFFLINE, HF_NO_PUSH="1"))
        self.assertEqual((p.stdout, hfshim_lines(p.stderr)), (b"new\n", []))
        self.assertEqual(self.requests(), [])
        # nothing of hfshim's landed in the shared cache, which scan_cache_dir still accepts
        # (once the link whose blob was deleted, which it reports, is gone)
        os.unlink(os.path.join(self.repo_dir(), "snapshots", commit, "a/top.txt"))
        self.assertEqual(self.assert_scan_cache_dir_clean(), 1)

    def test_not_cached_at_all(self):
        for path, word in [("%s/README.md" % TINY, "revision main"),
                           ("/hf/acme/tiny@%s/README.md" % ("0" * 40), "0" * 40)]:
            p = self.run_shim([PY, "-c", ERRNO, path], extra=OFFLINE, check=False)
            self.assertEqual(p.stdout.decode().strip(), "2", p.stderr)
            lines = hfshim_lines(p.stderr)
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn(word, lines[0])
        self.assertEqual(self.requests(), [])

    def test_offline_after_the_shim_listed_the_repo(self):
        # A listing the shim got online is the whole tree: offline, every file is listed, the
        # cached ones read, the others fail at open with a line naming them.
        self.run_shim(["cat", TINY + "/README.md"])
        self.hub.clear_log()
        out = self.run_shim(["cat", TINY + "/README.md"], extra=OFFLINE).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))
        ls = self.run_shim(["ls", TINY + "/weights"], extra=OFFLINE).stdout
        self.assertEqual(ls, b"big.bin\n")
        p = self.run_shim([PY, "-c", ERRNO, TINY + "/config.json"], extra=OFFLINE, check=False)
        self.assertEqual(p.stdout.decode().strip(), "2", p.stderr)
        lines = hfshim_lines(p.stderr)
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("config.json", lines[0])
        self.assertEqual(self.requests(), [])

    def test_offline_partial_file(self):
        # The chunks fetched earlier are read offline; the others fail with a line naming it.
        want = self.fixture_bytes("acme/tiny", "data/medium.bin")
        code = ("import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\n"
                "sys.stdout.buffer.write(os.pread(fd, 10, 0))\n"
                "try:\n    os.pread(fd, 10, 20 << 20)\nexcept OSError as e:\n    print(e.errno)\n")
        self.run_shim(["head", "-c", "10", TINY + "/data/medium.bin"])
        self.hub.clear_log()
        p = self.run_shim([PY, "-c", code, TINY + "/data/medium.bin"], extra=OFFLINE)
        self.assertEqual(p.stdout, want[:10] + b"5\n", p.stderr)
        lines = hfshim_lines(p.stderr)
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("data/medium.bin", lines[0])
        self.assertEqual(self.requests(), [])

    def test_online_shim_reuses_huggingface_hub_blobs(self):
        self.lay_out("acme/tiny", ["model.safetensors", "config.json"])
        for path in ("model.safetensors", "config.json"):
            out = self.run_shim(["cat", "%s/%s" % (TINY, path)]).stdout
            self.assertEqual(out, self.fixture_bytes("acme/tiny", path))
        self.assertEqual(self.bytes_fetched(), 0)


class ScanCacheDir(HubCacheTest):
    def test_every_ref_the_shim_writes_has_its_snapshot(self):
        # Resolving without reading a file writes refs/<rev>: its snapshot folder comes first.
        self.run_shim(["ls", TINY, "/hf/acme/tiny@v1.0", "/hf/acme/tiny@refs%2Fpr%2F1",
                       "/hf/datasets/acme/many", "/hf/spaces/acme/space"])
        self.run_shim(["cat", TINY + "/a/b/c/deep.txt", TINY + "/empty.txt"])
        self.run_shim(["cat", "/hf/acme/private/secret.txt"], extra={"HF_TOKEN": "hf_good_token"})
        self.assertEqual(self.assert_scan_cache_dir_clean(), 6)
        with open(os.path.join(self.repo_dir(), "refs", "refs", "pr", "1")) as f:
            self.assertEqual(f.read(), self.facts["repos"]["acme/tiny"]["refs"]["refs/pr/1"])
        # a push moves the branch: the new ref has its snapshot too
        rid = "acme/offline-scan-%d" % os.getpid()
        self.hub.create_repo("model", rid, from_id="acme/tiny", from_rev="main")
        up = os.path.join(self.home, "hfshim", "overlay", "models--" + rid.replace("/", "--"),
                          "upper")
        os.makedirs(up)
        with open(os.path.join(up, "new.txt"), "w") as f:
            f.write("pushed\n")
        self.run_shim([HFRUN, "push", rid], preload=False, extra={"HF_TOKEN": "hf_good_token"})
        head = self.hub.head("model", rid)
        with open(os.path.join(self.repo_dir(rid), "refs", "main")) as f:
            self.assertEqual(f.read(), head)
        self.assertEqual(self.assert_scan_cache_dir_clean(), 7)


class StalePartial(HubCacheTest):
    PATH = "data/medium.bin"

    def paths(self):
        info = self.facts["repos"]["acme/tiny"]["files_at"][self.facts["repos"]["acme/tiny"]["sha"]]
        etag = info[self.PATH]["etag"]
        partial = os.path.join(self.home, "hfshim", "partial", "models--acme--tiny", etag)
        return partial, partial + ".map"

    def test_partial_removed_once_another_tool_finished_the_blob(self):
        want = self.fixture_bytes("acme/tiny", self.PATH)
        partial, cmap = self.paths()
        # a reader holds the partial file open, one chunk fetched
        reader = subprocess.Popen(
            [PY, "-c", "import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\n"
             "os.pread(fd, 1, 0)\nprint('ready', flush=True)\nsys.stdin.readline()\n"
             "sys.stdout.buffer.write(os.pread(fd, 1 << 26, 0))\n", "%s/%s" % (TINY, self.PATH)],
            env=self.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(reader.stdout.readline(), b"ready\n")
            self.assertTrue(os.path.exists(partial) and os.path.exists(cmap))
            # huggingface_hub finishes the same file
            self.lay_out("acme/tiny", [self.PATH])
            self.hub.clear_log()
            out = self.run_shim(["sha256sum", "%s/%s" % (TINY, self.PATH)]).stdout
            self.assertEqual(out.split()[0].decode(), os.path.basename(partial))
            self.assertEqual(self.bytes_fetched(), 0)
            # still in use: kept, and the reader finishes from it
            self.assertTrue(os.path.exists(partial), "partial file removed while in use")
            out, err = reader.communicate(b"\n", timeout=120)
            self.assertEqual(out, want, err[-2000:])
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
        if os.path.exists(partial):  # the reader may have published it itself
            out = self.run_shim(["head", "-c", "10", "%s/%s" % (TINY, self.PATH)]).stdout
            self.assertEqual(out, want[:10])
        self.assertFalse(os.path.exists(partial), "stale partial file kept")
        self.assertFalse(os.path.exists(cmap), "stale chunk map kept")

    def test_unused_partial_removed(self):
        want = self.fixture_bytes("acme/tiny", self.PATH)
        partial, cmap = self.paths()
        self.py("import os\nfd = os.open('%s/%s', os.O_RDONLY)\nos.pread(fd, 1, 0)\n" % (TINY, self.PATH))
        self.assertTrue(os.path.exists(partial) and os.path.exists(cmap))
        self.lay_out("acme/tiny", [self.PATH])
        out = self.run_shim(["cat", "%s/%s" % (TINY, self.PATH)], extra=OFFLINE).stdout
        self.assertEqual(out, want)
        self.assertFalse(os.path.exists(partial), "stale partial file kept")
        self.assertFalse(os.path.exists(cmap), "stale chunk map kept")


class TokenKeyedRevisions(HubCacheTest):
    SECRET = "/hf/acme/private/secret.txt"

    def revision_requests(self):
        return [r for r in self.requests() if "/revision/" in r["path"]]

    def errno_of(self, token):
        p = self.run_shim([PY, "-c", ERRNO, self.SECRET], check=False, extra={"HF_TOKEN": token})
        return p.stdout.decode().strip(), p.stderr

    def test_private_answer_not_reused_without_its_token(self):
        want = self.fixture_bytes("acme/private", "secret.txt")
        out = self.run_shim(["cat", self.SECRET], extra={"HF_TOKEN": "hf_good_token"}).stdout
        self.assertEqual(out, want)
        # tree and blob are cached now; a process with no token or another token still asks
        for token in (None, "hf_other_token"):
            self.hub.clear_log()
            e, err = self.errno_of(token)
            self.assertEqual(e, "13", (token, err))
            lines = hfshim_lines(err)
            self.assertEqual(len(lines), 1, err)
            self.assertIn("acme/private", lines[0])
            self.assertEqual(len(self.revision_requests()), 1, token)
        # a token with access gets its own answer; the first token's is still reused
        self.hub.clear_log()
        out = self.run_shim(["cat", self.SECRET], extra={"HF_TOKEN": "hf_private_only"}).stdout
        self.assertEqual(out, want)
        self.assertEqual(len(self.revision_requests()), 1)
        self.hub.clear_log()
        out = self.run_shim(["cat", self.SECRET], extra={"HF_TOKEN": "hf_good_token"}).stdout
        self.assertEqual(out, want)
        self.assertEqual(self.requests(), [])
        # the token itself is written nowhere in the caches
        for dp, _, fns in os.walk(self.home):
            for fn in fns:
                self.assertNotIn("hf_good_token", fn)
                with open(os.path.join(dp, fn), "rb") as f:
                    self.assertNotIn(b"hf_good_token", f.read(), os.path.join(dp, fn))

    def test_public_answer_reused_by_all(self):
        self.run_shim(["cat", TINY + "/README.md"])
        self.hub.clear_log()
        self.run_shim(["cat", TINY + "/README.md"], extra={"HF_TOKEN": "hf_good_token"})
        self.assertEqual(self.requests(), [])

    def test_moved_branch_replaces_other_answers(self):
        # A newer answer under one token makes an older one under another stale.
        rev_dir = os.path.join(self.home, "hfshim", "revs", "models--acme--tiny")
        self.run_shim(["ls", TINY])
        anon = os.path.join(rev_dir, "main@anon")
        with open(anon, "w") as f:
            f.write(self.facts["repos"]["acme/tiny"]["commits"]["A"])
        old = time.time() - 3600
        os.utime(anon, (old, old))  # expired for the anonymous caller...
        self.run_shim(["ls", TINY], extra={"HF_TOKEN": "hf_good_token"})
        self.assertFalse(os.path.exists(anon))  # ...and removed once another got main's head
