"""Bad input and failing servers: right errno, one clear hfshim: line, never wrong bytes."""
import hashlib
import os

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"

ERRNO = "import os, sys\ntry:\n    open(sys.argv[1], 'rb').read()\n    print('ok')\nexcept OSError as e:\n    print(e.errno)\n"


class ErrorTest(ShimTest):
    def errno_of(self, path, **kw):
        p = self.run_shim([PY, "-c", ERRNO, path], check=False, **kw)
        return p.stdout.decode().strip(), p.stderr.decode()

    def hfshim_lines(self, stderr):
        return [l for l in stderr.splitlines() if l.startswith("hfshim:")]

    def test_missing_repo_file_revision(self):
        # The Hub cannot tell an anonymous caller whether a repo is missing or private: 401,
        # which is EACCES. With a valid token a missing repo is a plain 404: ENOENT.
        e, err = self.errno_of("/hf/acme/nope/README.md")
        self.assertEqual(e, "13", err)
        lines = self.hfshim_lines(err)
        self.assertEqual(len(lines), 1, err)
        self.assertIn("acme/nope", lines[0])
        self.assertIn("not found or private", lines[0])
        for path, word, token in [("/hf/acme/nope/README.md", "acme/nope", "hf_good_token"),
                                  (f"{TINY}/no-such-file", None, None),
                                  ("/hf/acme/tiny@no-such-rev/README.md", "no-such-rev", None)]:
            e, err = self.errno_of(path, extra={"HF_TOKEN": token})
            self.assertEqual(e, "2", (path, err))
            if word:
                lines = self.hfshim_lines(err)
                self.assertEqual(len(lines), 1, err)
                self.assertIn(word, lines[0])
        p = self.run_shim(["cat", f"{TINY}/nope"], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"No such file or directory", p.stderr)

    def test_private_repo_token(self):
        e, err = self.errno_of("/hf/acme/private/secret.txt")
        self.assertEqual(e, "13", err)
        self.assertEqual(len(self.hfshim_lines(err)), 1, err)
        e, err = self.errno_of("/hf/acme/private/secret.txt", extra={"HF_TOKEN": "hf_bad_token"})
        self.assertEqual(e, "13", err)
        out = self.run_shim(["cat", "/hf/acme/private/secret.txt"],
                            extra={"HF_TOKEN": "hf_good_token"}).stdout
        self.assertEqual(out, self.fixture_bytes("acme/private", "secret.txt"))
        # token from the token file in HF_HOME
        with open(os.path.join(self.home, "token"), "w") as f:
            f.write("hf_good_token\n")
        home2 = os.path.join(self.tmp, "home2")
        os.makedirs(home2)
        out = self.run_shim(["cat", "/hf/acme/private/secret.txt"], home=self.home).stdout
        self.assertEqual(out, self.fixture_bytes("acme/private", "secret.txt"))
        self.assert_no_auth_to_cdn()

    def test_writes_stay_local(self):
        no_push = {"HF_NO_PUSH": "1"}
        for cmd in [f"echo x > {TINY}/new.txt", f"rm {TINY}/README.md", f"mkdir {TINY}/d",
                    f"touch {TINY}/config.json", f"mv {TINY}/config.json {TINY}/cfg.json"]:
            self.run_shim(cmd, extra=no_push)
        ls = self.run_shim(["ls", "-a", TINY], extra=no_push).stdout.decode().split()
        self.assertIn("new.txt", ls)
        self.assertIn("cfg.json", ls)
        self.assertNotIn("README.md", ls)
        self.assertNotIn("config.json", ls)
        self.assertFalse([n for n in ls if n.startswith(".wh.")], ls)
        self.assert_no_writes()
        # places that are not inside a repo stay read-only
        for cmd in ["echo x > /hf/acme/file", "mkdir /hf/acme/newrepo"]:
            p = self.run_shim(cmd, check=False, extra=no_push)
            self.assertNotEqual(p.returncode, 0, cmd)
            self.assertIn(b"Read-only file system", p.stderr, cmd)

    def test_path_with_dotdot(self):
        out = self.run_shim(["cat", f"{TINY}/a/../README.md"]).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))
        # escaping the prefix lands on the real file system
        p = self.run_shim(["ls", "/hf/../etc/hostname"], check=False)
        self.assertEqual(p.returncode, 0 if os.path.exists("/etc/hostname") else 2)

    def test_server_errors_are_retried(self):
        self.hub.fault("/resolve/", "503", count=2)
        out = self.run_shim(["cat", f"{TINY}/config.json"]).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "config.json"))

    def test_server_down_gives_eio_not_zeros(self):
        self.run_shim(["ls", TINY])  # tree cached, file content not
        self.hub.fault("/resolve/", "reset", count=1000)
        e, err = self.errno_of(f"{TINY}/config.json")
        self.assertEqual(e, "5", err)
        self.assertEqual(len(self.hfshim_lines(err)), 1, err)
        self.assertIn("config.json", err)

    def test_truncated_and_garbage_replies(self):
        self.tree_listed()
        self.hub.fault("/tree/", "garbage", count=1000)
        e, err = self.errno_of(f"{TINY}/config.json")
        self.assertEqual(e, "5", err)
        self.assertTrue(self.hfshim_lines(err), err)
        self.hub.clear_faults()
        self.hub.fault("/resolve/", "truncate", count=1)
        out = self.run_shim(["cat", f"{TINY}/config.json"]).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "config.json"))

    def test_offline_mode(self):
        self.run_shim(["cat", f"{TINY}/README.md"])
        self.hub.clear_log()
        out = self.run_shim(["cat", f"{TINY}/README.md"], extra={"HF_HUB_OFFLINE": "1"}).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))
        e, err = self.errno_of(f"{TINY}/config.json", extra={"HF_HUB_OFFLINE": "1"})
        self.assertIn(e, ("2", "5"), err)
        self.assertEqual(self.requests(), [])

    def test_corrupt_content_is_never_published(self):
        # data/medium.bin (25 MiB, read sequentially) is hashed in the background while it
        # downloads; the small files are hashed once complete. Both must catch a bad range.
        for path, match in [("model.safetensors", "/lfs/"), ("config.json", "/config.json"),
                            ("data/medium.bin", "/lfs/")]:
            self.hub.clear_faults()
            self.hub.fault(match, "corrupt", count=1)
            e, err = self.errno_of(f"{TINY}/{path}")
            self.assertEqual(e, "5", (path, err))
            lines = self.hfshim_lines(err)
            self.assertEqual(len(lines), 1, err)
            self.assertIn("does not match", lines[0])
            want = self.fixture_bytes("acme/tiny", path)
            etag = (hashlib.sha1(b"blob %d\0" % len(want) + want).hexdigest()
                    if path.endswith(".json") else hashlib.sha256(want).hexdigest())
            blob = os.path.join(self.home, "hub", "models--acme--tiny", "blobs", etag)
            partial = os.path.join(self.home, "hfshim", "partial", "models--acme--tiny", etag)
            self.assertFalse(os.path.exists(blob), "corrupt content published")
            self.assertFalse(os.path.exists(partial), "corrupt partial file kept")
            # the next attempt fetches again, gets the right bytes and publishes them
            out = self.run_shim(["cat", f"{TINY}/{path}"]).stdout
            self.assertEqual(out, want)
            with open(blob, "rb") as f:
                self.assertEqual(f.read(), want, path)

    def test_debug_log_traces_requests_without_token(self):
        p = self.run_shim(["cat", "/hf/acme/private/secret.txt"],
                          extra={"HF_TOKEN": "hf_good_token", "HF_SHIM_LOG": "debug"})
        err = p.stderr.decode()
        self.assertIn("GET", err)
        self.assertIn("/api/models/acme/private/revision/main", err)
        self.assertNotIn("hf_good_token", err)
        self.assertTrue(all(l.startswith("hfshim:") for l in err.splitlines()), err)

    def test_rate_limit_is_honoured(self):
        self.tree_listed()
        self.hub.fault("/tree/", "429", count=1, retry_after=1)
        out = self.run_shim(["cat", f"{TINY}/README.md"]).stdout
        self.assertEqual(out, self.fixture_bytes("acme/tiny", "README.md"))
        trees = [r for r in self.requests() if "/tree/" in r["path"]]
        self.assertEqual([r["status"] for r in trees][:2], [429, 200])
        self.assertGreaterEqual(trees[1]["t"] - trees[0]["t"], 0.9, "Retry-After: 1 not honoured")
        self.assertTrue(all((r["ua"] or "").startswith("hfshim/") for r in self.requests()))
