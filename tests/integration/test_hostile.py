"""Hostile or broken replies: a whole file for a range request, absurd sizes, malformed listing
entries, names built to forge log lines or drive the terminal, redirects off HTTP. Each is met
with the right bytes or EIO and one clear hfshim: line, never wrong bytes."""
import hashlib
import os

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"
MiB = 1 << 20

PREADS = ("import os, sys\nout = b''\n"
          "try:\n    fd = os.open(sys.argv[1], os.O_RDONLY)\n"
          "    for off in sys.argv[2:]:\n        out += os.pread(fd, 4096, int(off))\n"
          "    sys.stdout.buffer.write(out)\nexcept OSError as e:\n    print('errno', e.errno)\n")


class HostileTest(ShimTest):
    def lines(self, p):
        return [l for l in p.stderr.decode().splitlines() if l.startswith("hfshim:")]

    def preads(self, path, *offs):
        return self.run_shim([PY, "-c", PREADS, path] + [str(o) for o in offs], check=False)

    def cdn_gets(self, match="/lfs/"):
        return [r for r in self.requests() if r["listener"] == "cdn" and match in r["path"]
                and r["method"] == "GET"]

    def blob(self, etag):
        return os.path.join(self.home, "hub", "models--acme--tiny", "blobs", etag)

    def test_whole_answer_to_a_range_request_is_used_once(self):
        want = self.fixture_bytes("acme/tiny", "data/medium.bin")
        self.run_shim(["ls", TINY])
        self.hub.clear_log()
        # the server ignores Range every time: the first answer is the whole file, taken whole
        self.hub.fault("/lfs/", "ignore_range", count=100, listener="cdn")
        p = self.preads(f"{TINY}/data/medium.bin", 10 * MiB, 20 * MiB, 3)
        self.assertEqual(p.stdout, want[10 * MiB:10 * MiB + 4096] + want[20 * MiB:20 * MiB + 4096]
                         + want[3:4099], p.stderr)
        gets = self.cdn_gets()
        self.assertEqual(len(gets), 1, "the whole file was downloaded again per chunk")
        self.assertEqual(gets[0]["status"], 200)
        self.assertTrue(os.path.exists(self.blob(hashlib.sha256(want).hexdigest())),
                        "the whole file was not published")
        # a regular file (no LFS: checked by size, then its git oid)
        want = self.fixture_bytes("acme/tiny", "docs/large.txt")
        self.hub.clear_log()
        self.hub.fault("/resolve/", "ignore_range", count=100)
        out = self.run_shim(["cat", f"{TINY}/docs/large.txt"]).stdout
        self.assertEqual(out, want)
        self.assertEqual(len([r for r in self.requests() if "/resolve/" in r["path"]]), 1)

    def test_whole_answer_is_checked_before_any_byte_is_served(self):
        want = self.fixture_bytes("acme/tiny", "data/medium.bin")
        etag = hashlib.sha256(want).hexdigest()
        self.run_shim(["ls", TINY])
        self.hub.fault("/lfs/", "whole_corrupt", count=1, listener="cdn")
        p = self.preads(f"{TINY}/data/medium.bin", 10 * MiB)
        self.assertEqual(p.stdout.strip(), b"errno 5", "bytes of an unchecked whole answer were served")
        lines = self.lines(p)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("does not match its sha256", lines[0])
        self.assertIn("data/medium.bin", lines[0])
        self.assertFalse(os.path.exists(self.blob(etag)))
        # nothing of it counts as fetched: the next reader gets the real bytes
        p = self.preads(f"{TINY}/data/medium.bin", 10 * MiB)
        self.assertEqual(p.stdout, want[10 * MiB:10 * MiB + 4096], p.stderr)
        # a regular file's whole answer is checked against its git oid
        self.hub.fault("/resolve/", "whole_corrupt", count=1)
        p = self.preads(f"{TINY}/docs/large.txt", MiB)
        self.assertEqual(p.stdout.strip(), b"errno 5")
        lines = self.lines(p)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("does not match its git oid", lines[0])

    def test_bad_entries_are_skipped_with_one_warning(self):
        bad = [{"type": "file", "path": "huge.bin", "size": 2 ** 63, "oid": "a" * 40},
               {"type": "file", "path": 5, "size": 1},
               "not an entry",
               {"type": "file", "path": "neg\nhfshim: forged\x1b[2J.txt", "size": -1}]
        self.tree_listed()
        self.hub.fault("/tree/", "inject", count=1, entries=bad)
        p = self.py("import os\nprint(sorted(os.listdir('%s')))\nprint(open('%s/README.md').read())\n"
                    "try:\n    os.stat('%s/huge.bin')\nexcept OSError as e:\n    print(e.errno)\n"
                    % (TINY, TINY, TINY))
        out = p.stdout.decode().splitlines()
        self.assertNotIn("huge.bin", out[0])
        self.assertIn("config.json", out[0])
        self.assertEqual(out[-1], "2")
        self.assertIn(self.fixture_bytes("acme/tiny", "README.md").decode().strip().splitlines()[0], out)
        err = p.stderr.decode()
        lines = self.lines(p)
        self.assertEqual(len(lines), 1, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn('"huge.bin"', lines[0])
        self.assertIn("2^63", lines[0])
        self.assertIn("and 3 more", lines[0])

    def test_server_names_cannot_forge_lines_or_drive_the_terminal(self):
        name = "evil\nhfshim: all good\x1b]0;pwned\x07\x1b[2J\u202etxt.exe"
        code = ("import os, sys\nname = [n for n in os.listdir(sys.argv[1]) if n.startswith('evil')][0]\n"
                "try:\n    open(os.path.join(sys.argv[1], name), 'rb').read()\nexcept OSError as e:\n"
                "    print(e.errno)\n")
        # the name comes in a tree page, or in the revision's siblings
        for route in ("tree", "siblings"):
            self.hub.clear_faults()
            if route == "tree":
                self.tree_listed()
                self.hub.fault("/tree/", "inject", count=1,
                               entries=[{"type": "file", "path": name, "size": 5, "oid": "b" * 40}])
            else:
                self.hub.fault("/revision/", "inject", count=1,
                               entries=[{"rfilename": name, "size": 5, "blobId": "b" * 40}])
            p = self.run_shim([PY, "-c", code, TINY], check=False,
                              home=os.path.join(self.tmp, route))
            self.assertEqual(p.stdout.strip(), b"5", p.stderr)
            err = p.stderr
            self.assertEqual(err.count(b"\n"), 1, err)  # one line: the newline in the name is escaped
            self.assertTrue(err.startswith(b"hfshim: "), err)
            for raw in (b"\x1b", b"\x07", "\u202e".encode()):
                self.assertNotIn(raw, err)
            self.assertIn(b"evil\\nhfshim: all good\\x1b]0;pwned\\x07\\x1b[2J\\u202etxt.exe", err)

    def test_redirect_off_http_is_refused(self):
        self.run_shim(["ls", TINY])
        for match, path in (("/resolve/", "config.json"), ("/lfs/", "model.safetensors")):
            self.hub.clear_faults()
            self.hub.fault(match, "redirect", count=100, location="file:///etc/passwd")
            p = self.preads(f"{TINY}/{path}", 0)
            self.assertEqual(p.stdout.strip(), b"errno 5", (path, p.stdout[:100]))
            lines = self.lines(p)
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("refused a redirect to a file: URL (file:///etc/passwd)", lines[0])
            self.assertIn(path, lines[0])
        # an API call too (from a fresh cache: the revision is asked again)
        self.hub.clear_faults()
        self.hub.fault("/revision/", "redirect", count=100, location="ftp://evil.example/x?sig=secret")
        home = os.path.join(self.tmp, "home2")
        os.makedirs(home)
        p = self.run_shim([PY, "-c", PREADS, f"{TINY}/README.md", "0"], check=False, home=home)
        self.assertEqual(p.stdout.strip(), b"errno 5")
        lines = self.lines(p)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("refused a redirect to a ftp: URL (ftp://evil.example/x)", lines[0])
        self.assertNotIn("secret", lines[0])
