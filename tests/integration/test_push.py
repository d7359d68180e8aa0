"""Pushing the local overlay (issue 3): hfrun push/status/discard and the push at session end,
against the test Hub's write endpoints. Each test works on a repo of its own (a copy of
acme/tiny@main made by the hub), so no other test sees its commits.

Most tests prepare the overlay directory by hand (files, .wh.<name> whiteouts, opaque markers)
to test push on its own; the end-to-end ones write through the shim."""
import hashlib
import os
import signal
import subprocess
import time
import urllib.request

from harness import ShimTest, HFRUN

GOOD = "hf_good_token"
MiB = 1024 * 1024


class PushTest(ShimTest):
    n = 0

    def new_repo(self):
        PushTest.n += 1
        rid = "acme/push-%d-%d" % (os.getpid(), PushTest.n)
        base = self.hub.create_repo("model", rid, from_id="acme/tiny", from_rev="main")
        return rid, base

    def upper(self, rid, kind="models"):
        return os.path.join(self.home, "hfshim", "overlay", "%s--%s" % (kind, rid.replace("/", "--")), "upper")

    def put(self, rid, path, data, kind="models"):
        p = os.path.join(self.upper(rid, kind), path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    def whiteout(self, rid, path):
        d, _, name = path.rpartition("/")
        self.put(rid, (d + "/" if d else "") + ".wh." + name, b"")

    def overlay_state(self, rid, kind="models"):
        """Everything in the overlay: path -> bytes (files), ("symlink", target) or None (dirs)."""
        out, up = {}, self.upper(rid, kind)
        for dp, dns, fns in os.walk(up):
            for n in dns:
                out[os.path.relpath(os.path.join(dp, n), up)] = None
            for n in fns:
                ap = os.path.join(dp, n)
                if os.path.islink(ap):
                    out[os.path.relpath(ap, up)] = ("symlink", os.readlink(ap))
                    continue
                with open(ap, "rb") as f:
                    out[os.path.relpath(ap, up)] = f.read()
        return out

    def hfrun(self, *args, token=GOOD, check=True, extra=None):
        env = {"HF_TOKEN": token}
        env.update(extra or {})
        return self.run_shim([HFRUN] + list(args), preload=False, check=check, extra=env)

    def hub_get(self, path):
        req = urllib.request.Request(self.hub.url + path, headers={"Authorization": "Bearer " + GOOD})
        with urllib.request.urlopen(req) as r:
            return r.read()

    def writes(self):
        return [(e["listener"], e["method"], e["path"]) for e in self.hub.writes()]

    def commits_posted(self):
        return [w for w in self.writes() if w[2].endswith("/commit/main")]


class Push(PushTest):
    def test_mixed_push(self):
        """Small text inline, a 20 MiB binary through LFS (PUT to the CDN without the token), a
        deletion, a rename (whiteout + add), a deleted folder: ONE commit, read back after."""
        rid, base = self.new_repo()
        big = os.urandom(20 * MiB)
        readme = self.fixture_bytes("acme/tiny", "README.md")
        self.put(rid, "notes/new.txt", b"a new small text file\n")
        self.put(rid, "config.json", b'{"model_type": "changed"}\n')
        self.put(rid, "weights/extra.dat", big)
        self.whiteout(rid, "empty.txt")
        self.whiteout(rid, "README.md")  # rename README.md -> docs/README-old.md
        self.put(rid, "docs/README-old.md", readme)
        self.whiteout(rid, "a")  # rm -r a
        self.put(rid, "model.safetensors", self.fixture_bytes("acme/tiny", "model.safetensors"))  # unchanged copy-up

        out = self.hfrun("status", rid).stdout.decode()
        lines = [l for l in out.splitlines() if not l.startswith("#")]
        self.assertEqual(lines, ["D README.md", "D a/", "M config.json", "A docs/README-old.md", "D empty.txt",
                                 "A notes/new.txt", "A weights/extra.dat"], out)
        self.assert_no_writes()

        p = self.hfrun("push", rid, "--message", "mixed push")
        err = p.stderr.decode()
        self.assertIn("pushed as commit", err)
        head = self.hub.head("model", rid)
        self.assertNotEqual(head, base)
        self.assertIn(head, err)
        self.assertEqual(len(self.commits_posted()), 1)
        # the LFS bytes went to the CDN, without the token; API calls carried it
        puts = [e for e in self.hub.requests("cdn") if e["method"] == "PUT"]
        self.assertEqual([(e["status"], e["auth"]) for e in puts], [(200, False)])
        self.assert_no_auth_to_cdn()
        self.assertTrue(all(e["auth"] for e in self.hub.writes() if e["listener"] == "hub"))
        files = self.hub.files_at("model", rid, head)
        self.assertTrue(files["weights/extra.dat"]["lfs"])
        self.assertFalse(files["notes/new.txt"]["lfs"])
        for gone in ("README.md", "empty.txt", "a/top.txt", "a/b/c/deep.txt"):
            self.assertNotIn(gone, files)
        self.assertEqual(self.hub.read_at("model", rid, head, "docs/README-old.md"), readme)
        self.assertEqual(self.hub.read_at("model", rid, head, "weights/extra.dat"), big)
        self.assertEqual(self.hub.commits("model", rid)[-2:], [base, head])
        self.assertEqual(self.hub_get("/api/models/%s/commits/main" % rid).count(b"mixed push"), 1)
        # the pushed entries left the overlay
        self.assertEqual({k: v for k, v in self.overlay_state(rid).items() if v is not None}, {})
        # reads come from the new commit: through the shim (cache refs updated) and the Hub
        p = self.run_shim("cat /hf/%s/notes/new.txt /hf/%s/config.json; sha256sum < /hf/%s/weights/extra.dat; "
                          "ls /hf/%s/a 2>&1; cat /hf/%s/README.md 2>&1; true" % ((rid,) * 5))
        out = p.stdout.decode()
        self.assertIn("a new small text file\n{\"model_type\": \"changed\"}\n", out)
        self.assertIn(hashlib.sha256(big).hexdigest(), out)
        self.assertIn("No such file", out)
        self.assertEqual(self.hub_get("/%s/resolve/%s/notes/new.txt" % (rid, head)), b"a new small text file\n")
        self.assertEqual(self.hfrun("status", rid).stdout.decode().count("\n"), 1)  # just the header
        # nothing left: a second push sends nothing
        self.hub.clear_log()
        self.assertIn("nothing to push", self.hfrun("push", rid).stderr.decode())
        self.assert_no_writes()

    def test_folder_file_swaps_and_opaque_dir(self):
        rid, base = self.new_repo()
        self.put(rid, "a", b"a file where a folder was\n")  # remote a/ is a folder
        self.put(rid, "README.md/inner.txt", b"a folder where a file was\n")  # remote README.md is a file
        self.put(rid, "weights/" + ".wh..wh..opq", b"")  # rm -r weights; mkdir weights
        self.put(rid, "weights/fresh.txt", b"fresh\n")
        self.put(rid, "docs/.wh.large.txt", b"")
        self.put(rid, "docs/large.txt/x", b"x\n")  # whiteout and a folder of the same name
        os.symlink("config.json", os.path.join(self.upper(rid), "link"))
        out = self.hfrun("status", rid).stdout.decode()
        lines = [l for l in out.splitlines() if not l.startswith("#")]
        self.assertEqual(lines, ["D README.md", "A README.md/inner.txt", "D a/", "A a", "D docs/large.txt",
                                 "A docs/large.txt/x", "? link (symlink: the Hub has none, it stays local)",
                                 "D weights/big.bin", "A weights/fresh.txt"], out)
        self.hfrun("push", rid)
        files = self.hub.files_at("model", rid, "main")
        self.assertEqual(self.hub.read_at("model", rid, "main", "a"), b"a file where a folder was\n")
        self.assertIn("README.md/inner.txt", files)
        self.assertIn("docs/large.txt/x", files)
        self.assertNotIn("weights/big.bin", files)
        self.assertIn("weights/fresh.txt", files)
        self.assertNotIn("link", files)
        self.assertEqual(list(self.overlay_state(rid)), ["link"])  # only what cannot be pushed stays

    def test_unchanged_copies_push_nothing(self):
        rid, base = self.new_repo()
        self.put(rid, "config.json", self.fixture_bytes("acme/tiny", "config.json"))
        self.put(rid, "model.safetensors", self.fixture_bytes("acme/tiny", "model.safetensors"))  # LFS: sha256
        self.whiteout(rid, "not-in-the-repo.txt")
        self.assertIn(": 0 change(s)", self.hfrun("status", rid).stdout.decode())
        self.assertIn("nothing to push", self.hfrun("push", rid).stderr.decode())
        self.assert_no_writes()
        self.assertEqual(self.overlay_state(rid), {})  # nothing there could hide later Hub changes
        self.assertEqual(self.hub.head("model", rid), base)

    def test_discard(self):
        rid, _ = self.new_repo()
        self.put(rid, "one.txt", b"1\n")
        self.put(rid, "d/two.txt", b"2\n")
        self.whiteout(rid, "config.json")
        self.hfrun("discard", rid, "config.json")
        self.assertNotIn(".wh.config.json", self.overlay_state(rid))
        self.hfrun("discard", rid, "/d/")
        self.assertEqual(self.overlay_state(rid), {"one.txt": b"1\n"})
        self.assertNotEqual(self.hfrun("discard", rid, "../x", check=False).returncode, 0)
        self.hfrun("discard", rid)
        self.assertFalse(os.path.exists(self.upper(rid)))
        self.assert_no_writes()


class PushConflicts(PushTest):
    def concurrent_commit(self, rid, *ops):
        """Someone else commits to main (plain HTTP, as another client would)."""
        import json

        body = b"".join(json.dumps(x).encode() + b"\n" for x in
                        ({"key": "header", "value": {"summary": "concurrent"}},) + ops)
        req = urllib.request.Request(self.hub.url + "/api/models/%s/commit/main" % rid, data=body, method="POST",
                                     headers={"Authorization": "Bearer " + GOOD,
                                              "Content-Type": "application/x-ndjson"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())["commitOid"]

    def test_412_rebase_without_conflict(self):
        rid, base = self.new_repo()
        self.put(rid, "config.json", b'{"mine": true}\n')
        self.whiteout(rid, "empty.txt")
        self.hfrun("status", rid)  # resolves main now: the push starts from this commit
        theirs = self.concurrent_commit(rid, {"key": "file", "value": {"path": "theirs.txt", "content": "dGhlaXJzCg==",
                                                                       "encoding": "base64"}})
        p = self.hfrun("push", rid)
        self.assertIn("moved on the Hub", p.stderr.decode())
        head = self.hub.head("model", rid)
        self.assertEqual(self.hub.commits("model", rid)[-3:], [base, theirs, head])
        files = self.hub.files_at("model", rid, head)
        self.assertIn("theirs.txt", files)
        self.assertNotIn("empty.txt", files)
        self.assertEqual(self.hub.read_at("model", rid, head, "config.json"), b'{"mine": true}\n')
        self.assertEqual(len(self.commits_posted()), 3)  # theirs, ours refused (412), ours again
        self.assertEqual([k for k, v in self.overlay_state(rid).items() if v is not None], [])

    def test_412_with_conflict_keeps_everything(self):
        rid, base = self.new_repo()
        self.put(rid, "config.json", b'{"mine": true}\n')
        self.put(rid, "new.txt", b"new\n")
        self.hfrun("status", rid)
        theirs = self.concurrent_commit(rid, {"key": "file", "value": {"path": "config.json", "content": "e30K",
                                                                       "encoding": "base64"}})
        before = self.overlay_state(rid)
        p = self.hfrun("push", rid, check=False)
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode()
        self.assertIn("config.json", err)
        self.assertIn("moved on the Hub", err)
        self.assertNotIn("new.txt (", err)
        self.assertEqual(self.hub.head("model", rid), theirs)
        self.assertEqual(self.overlay_state(rid), before)


class PushFailures(PushTest):
    def test_bucket_push_refused(self):
        self.put("acme/cache", "new/model.neff", b"neff", kind="buckets")
        before = self.overlay_state("acme/cache", "buckets")
        p = self.hfrun("push", "buckets/acme/cache", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("pushing to a bucket is not supported (Xet-only on the Hub); use --no-push", p.stderr.decode())
        self.assertEqual(self.overlay_state("acme/cache", "buckets"), before)
        self.assert_no_writes()
        # at the end of a session that used the bucket: exit status 3, overlay kept
        p = self.hfrun("--", "ls", "/hf/buckets/acme/cache", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(self.overlay_state("acme/cache", "buckets"), before)
        # with --no-push the same session is fine
        p = self.hfrun("--no-push", "--", "ls", "/hf/buckets/acme/cache")
        self.assertIn("local changes kept", p.stderr.decode())
        self.assert_no_writes()

    def test_wrong_token_keeps_overlay(self):
        rid, base = self.new_repo()
        self.put(rid, "new.txt", b"new\n")
        self.whiteout(rid, "config.json")
        before = self.overlay_state(rid)
        for tok, why in (("hf_other_token", "no write access"), ("hf_not_a_known_token", "invalid token"),
                         ("", "no token")):
            p = self.hfrun("push", rid, token=tok, check=False)
            self.assertNotEqual(p.returncode, 0)
            err = p.stderr.decode()
            self.assertIn(why, err)
            self.assertIn("Permission denied", err)  # EACCES
            self.assertEqual(self.overlay_state(rid), before)
            self.assertEqual(self.hub.head("model", rid), base)
        self.assertEqual(self.commits_posted(), [])

    def test_kill9_in_the_middle_then_repush(self):
        rid, base = self.new_repo()
        big = os.urandom(20 * MiB)
        self.put(rid, "weights/big2.bin", big)
        self.put(rid, "small.txt", b"small\n")
        self.whiteout(rid, "empty.txt")
        before = self.overlay_state(rid)
        self.hub.fault("/upload/", "slow", delay=8, listener="cdn", method="PUT")
        proc = subprocess.Popen([HFRUN, "push", rid], env=self.env({"HF_TOKEN": GOOD}, preload=False),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 60
            while not any(w[2].endswith("/lfs/objects/batch") for w in self.writes()):
                self.assertLess(time.time(), deadline, "no LFS batch call")
                self.assertIsNone(proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
                time.sleep(0.05)
            time.sleep(1)  # the PUT is under way (the CDN sits on it)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
            proc.stderr.close()
        self.assertEqual(self.overlay_state(rid), before)
        self.assertEqual(self.hub.head("model", rid), base)
        self.assertEqual(self.commits_posted(), [])
        self.hub.clear_faults()
        time.sleep(8)  # let the hub give up on the cut upload
        p = self.hfrun("push", rid)
        self.assertIn("pushed as commit", p.stderr.decode())
        head = self.hub.head("model", rid)
        self.assertEqual(self.hub.read_at("model", rid, head, "weights/big2.bin"), big)
        self.assertEqual(self.hub.read_at("model", rid, head, "small.txt"), b"small\n")
        self.assertNotIn("empty.txt", self.hub.files_at("model", rid, head))
        self.assertEqual(len(self.commits_posted()), 1)

    def test_no_push_sends_nothing(self):
        rid, base = self.new_repo()
        self.put(rid, "new.txt", b"new\n")
        before = self.overlay_state(rid)
        p = self.hfrun("push", rid, check=False, extra={"HF_NO_PUSH": "1"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("HF_NO_PUSH=1", p.stderr.decode())
        p = self.hfrun("--no-push", "--", "cat", "/hf/%s/new.txt" % rid, token="")
        self.assertEqual(p.stdout, b"new\n")
        self.assertIn("overlay:", p.stderr.decode())
        p = self.hfrun("--", "cat", "/hf/%s/config.json" % rid, extra={"HF_NO_PUSH": "1"})
        self.assert_no_writes()
        self.assertEqual(self.overlay_state(rid), before)
        self.assertEqual(self.hub.head("model", rid), base)


class PushSession(PushTest):
    """Writes through the shim, pushed when the hfrun session ends."""

    def test_session_writes_push_at_end(self):
        rid, base = self.new_repo()
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(12 * MiB))
        script = ("set -e; r=/hf/%s; echo hello > $r/hello.txt; cp %s $r/weights/copied.bin; "
                  "rm $r/config.json; mv $r/a/top.txt $r/top.txt; rm -r $r/a; mkdir -p $r/x/y; "
                  "echo deep > $r/x/y/z.txt; sed -i 's/tiny/TINY/' $r/README.md" % (rid, big))
        p = self.hfrun("--message", "from a session", "--", "sh", "-c", script)
        err = p.stderr.decode()
        self.assertIn("hfrun: overlay: " + os.path.join(self.home, "hfshim", "overlay"), err)
        self.assertIn("pushed as commit", err)
        head = self.hub.head("model", rid)
        files = self.hub.files_at("model", rid, head)
        self.assertEqual(self.hub.read_at("model", rid, head, "hello.txt"), b"hello\n")
        with open(big, "rb") as f:
            self.assertEqual(self.hub.read_at("model", rid, head, "weights/copied.bin"), f.read())
        self.assertTrue(files["weights/copied.bin"]["lfs"])
        self.assertEqual(self.hub.read_at("model", rid, head, "top.txt"), b"top of directory a\n")
        self.assertIn(b"TINY", self.hub.read_at("model", rid, head, "README.md"))
        self.assertEqual(self.hub.read_at("model", rid, head, "x/y/z.txt"), b"deep\n")
        for gone in ("config.json", "a/top.txt", "a/b/c/deep.txt"):
            self.assertNotIn(gone, files)
        self.assertEqual(self.hub.commits("model", rid)[-2:], [base, head])
        self.assertEqual(len(self.commits_posted()), 1)
        self.assert_no_auth_to_cdn()
        # a later session reads the new commit, with an empty overlay
        p = self.hfrun("--", "sh", "-c", "cat /hf/%s/hello.txt /hf/%s/x/y/z.txt; ls /hf/%s" % (rid, rid, rid))
        self.assertTrue(p.stdout.startswith(b"hello\ndeep\n"), p.stdout)
        self.assertNotIn(b"config.json", p.stdout)

    def test_no_push_session_then_push(self):
        """--no-push keeps the writes across sessions; `hfrun push` sends them later."""
        rid, base = self.new_repo()
        self.hfrun("--no-push", "--", "sh", "-c", "echo later > /hf/%s/later.txt; rm /hf/%s/empty.txt" % (rid, rid),
                   token="")
        self.assert_no_writes()
        p = self.hfrun("--", "cat", "/hf/%s/later.txt" % rid, extra={"HF_NO_PUSH": "1"})
        self.assertEqual(p.stdout, b"later\n")
        out = self.hfrun("status").stdout.decode()
        self.assertIn("A later.txt", out)
        self.assertIn("D empty.txt", out)
        self.hfrun("push", "--message", "later")
        files = self.hub.files_at("model", rid, "main")
        self.assertIn("later.txt", files)
        self.assertNotIn("empty.txt", files)

    def test_plain_preload_process_pushes_at_exit(self):
        """Without hfrun: a process that wrote pushes its changes when it exits; its forked
        child that only reads does not push; HF_NO_PUSH=1 never pushes."""
        rid, base = self.new_repo()
        r = "/hf/" + rid
        self.run_shim(f"echo nope > {r}/kept-local.txt", extra={"HF_NO_PUSH": "1", "HF_TOKEN": GOOD})
        self.assertEqual(self.commits_posted(), [])
        self.run_shim(f"cat {r}/README.md > /dev/null; echo one > {r}/one.txt; rm {r}/config.json",
                      extra={"HF_TOKEN": GOOD})
        # each writing process (the two shells' children) pushed its own changes
        files = self.hub.files_at("model", rid, "main")
        self.assertIn("one.txt", files)
        self.assertIn("kept-local.txt", files, "the overlay is shared: the earlier write goes too")
        self.assertNotIn("config.json", files)
        self.assertEqual(self.overlay_state(rid), {})
        self.assert_no_auth_to_cdn()
