"""A cold first byte in two round trips (issue 10, point 1, row 11): a new process that opens an
LFS file and reads from it asks the revision with blobs=true (its siblings are the listing of a
repo of up to 1,000 files: no tree request) and, in parallel, HEADs the file's resolve URL; the
redirect it answers for that commit sends the read straight to the CDN. Repos with more files,
or replies without usable siblings, are listed by the tree as before; stat and listings send no
HEAD; a HEAD answered for another commit (the branch moved) is not used."""
import os
import threading
import time

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"
BIG = "weights/big.bin"

# open + pread of 1 MiB at 25 MiB, as bench row 11 does; prints the bytes' length
PREAD = ("import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\n"
         "b = os.pread(fd, 1 << 20, 25 << 20)\nsys.stdout.buffer.write(b)\n")


def hfshim_lines(p):
    return [l for l in p.stderr.decode(errors="replace").splitlines() if l.startswith("hfshim:")]


class FirstByteTest(ShimTest):
    def pread(self, vpath, **kw):
        p = self.run_shim([PY, "-c", PREAD, vpath], **kw)
        return p

    def expected(self, path=BIG, commit=None):
        with open(self.fixture_path("acme/tiny", path, commit), "rb") as f:
            f.seek(25 << 20)
            return f.read(1 << 20)

    def split(self):
        """The request log as (revision requests, tree requests, HEADs, resolve GETs, CDN GETs)."""
        reqs = self.requests()
        hub = [r for r in reqs if r["listener"] == "hub"]
        rev = [r for r in hub if "/revision/" in r["path"]]
        tree = [r for r in hub if "/tree/" in r["path"] or r["path"].endswith("/tree")]
        heads = [r for r in hub if r["method"] == "HEAD"]
        gets = [r for r in hub if r["method"] == "GET" and "/resolve/" in r["path"]]
        cdn = [r for r in reqs if r["listener"] == "cdn"]
        return rev, tree, heads, gets, cdn

    def test_cold_lfs_read_is_revision_and_head_then_the_cdn(self):
        tok = self.facts["tokens"]["good"]
        self.hub.set_delay(200)  # every answer 200 ms late: the two requests overlap visibly
        p = self.pread(f"{TINY}/{BIG}", extra={"HF_TOKEN": tok})
        self.assertEqual(p.stdout, self.expected())
        self.assertEqual(hfshim_lines(p), [])
        rev, tree, heads, gets, cdn = self.split()
        self.assertEqual(len(rev), 1, rev)
        self.assertIn("blobs=true", rev[0]["query"])
        self.assertEqual(tree, [])
        self.assertEqual([h["path"] for h in heads], ["/acme/tiny/resolve/main/" + BIG])
        self.assertTrue(heads[0]["auth"], "the Hub's own HEAD carries the token")
        self.assertEqual(gets, [], "the read asked the Hub where the file lives again")
        self.assertEqual(len(cdn), 1, cdn)
        self.assertEqual(cdn[0]["range"], "bytes=%d-%d" % (25 << 20, (26 << 20) - 1))
        self.assert_no_auth_to_cdn()
        # both requests were in flight together: each arrived before the other was answered
        self.assertLess(heads[0]["t"], rev[0]["t"] + 0.2)
        self.assertLess(rev[0]["t"], heads[0]["t"] + 0.2)

    def test_pinned_commit_index_missing_asks_revision_and_head_together(self):
        sha = self.facts["repos"]["acme/tiny"]["sha"]
        p = self.pread(f"{TINY}@{sha}/{BIG}")
        self.assertEqual(p.stdout, self.expected())
        rev, tree, heads, gets, cdn = self.split()
        self.assertEqual([r["path"] for r in rev], ["/api/models/acme/tiny/revision/" + sha])
        self.assertEqual(tree, [])
        self.assertEqual([h["path"] for h in heads], ["/acme/tiny/resolve/%s/%s" % (sha, BIG)])
        self.assertEqual(gets, [])
        self.assertEqual(len(cdn), 1)

    def test_small_repo_index_from_siblings_matches_the_tree(self):
        # the siblings' listing and the tree's give the same stat of every entry
        code = ("import os, sys\nout = []\nfor d, ds, fs in os.walk(sys.argv[1]):\n"
                "    for n in sorted(ds + fs):\n        st = os.lstat(os.path.join(d, n))\n"
                "        out.append('%s %o %d %d %d' % (os.path.join(d, n), st.st_mode, st.st_size,"
                " st.st_mtime, st.st_ino))\nprint('\\n'.join(sorted(out)))\n")
        a = self.run_shim([PY, "-c", code, TINY]).stdout
        _, tree, _, _, _ = self.split()
        self.assertEqual(tree, [])
        self.hub.clear_log()
        self.hub.fault("/revision/", "no_siblings", count=10)
        b = self.run_shim([PY, "-c", code, TINY], home=os.path.join(self.tmp, "other")).stdout
        _, tree, _, _, _ = self.split()
        self.assertGreaterEqual(len(tree), 1)
        self.assertEqual(a, b)
        self.assertEqual(len(a.splitlines()),
                         len(self.facts["repos"]["acme/tiny"]["files"]) +
                         len(self.facts["repos"]["acme/tiny"]["dirs"]))

    def test_more_than_1000_files_are_listed_by_the_tree(self):
        p = self.run_shim(["find", "/hf/datasets/acme/many", "-type", "f"])
        files = p.stdout.decode().split()
        self.assertEqual(len(files), 10000)
        rev, tree, heads, _, _ = self.split()
        self.assertEqual(len(rev), 1)
        self.assertGreaterEqual(len(tree), 10)  # 1,000 entries a page
        self.assertEqual(heads, [])
        # a cold read in it: the tree, plus the HEAD beside the revision
        p = self.run_shim(["cat", "/hf/datasets/acme/many/dir_042/file_4242.txt"],
                          home=os.path.join(self.tmp, "other"))
        self.assertEqual(p.stdout, b"dir_042/file_4242.txt\n")

    def test_stat_and_listing_send_no_head(self):
        self.run_shim(["stat", f"{TINY}/{BIG}"])
        rev, tree, heads, gets, cdn = self.split()
        self.assertEqual((len(rev), tree, heads, gets, cdn), (1, [], [], [], []))
        self.hub.clear_log()
        self.run_shim(["ls", "-l", TINY], home=os.path.join(self.tmp, "other"))
        rev, tree, heads, gets, cdn = self.split()
        self.assertEqual((len(rev), tree, heads, gets, cdn), (1, [], [], [], []))

    def test_a_hint_that_fails_changes_nothing(self):
        # a HEAD that fails: the read asks the Hub itself, and says nothing about the HEAD
        self.hub.fault("/resolve/", "500", count=1, method="HEAD")
        p = self.pread(f"{TINY}/{BIG}")
        self.assertEqual(p.stdout, self.expected())
        self.assertEqual(hfshim_lines(p), [])
        rev, tree, heads, gets, cdn = self.split()
        self.assertEqual(len(heads), 1)
        self.assertEqual(len(gets), 1)
        # a missing file: ENOENT as before, the HEAD's 404 is not a line of its own
        self.hub.clear_log()
        p = self.run_shim([PY, "-c", PREAD, f"{TINY}/no-such-file.bin"], check=False,
                          home=os.path.join(self.tmp, "other"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"FileNotFoundError", p.stderr)
        self.assertEqual(hfshim_lines(p), [])
        _, _, heads, _, _ = self.split()
        self.assertEqual([h["status"] for h in heads], [404])
        # and the missing file is still missing for a second open in the same process
        code = ("import os\nfor i in range(2):\n    try:\n        os.open('%s/nope', os.O_RDONLY)\n"
                "    except OSError as e:\n        print(e.errno)\n" % TINY)
        p = self.py(code, home=os.path.join(self.tmp, "third"))
        self.assertEqual(p.stdout.split(), [b"2", b"2"])

    def test_a_stalled_hint_does_not_hold_the_open(self):
        self.hub.fault("/resolve/", "slow", count=1, method="HEAD", delay=20)
        t = time.time()
        p = self.pread(f"{TINY}/config.json", extra={"HF_SHIM_TIMEOUT": "10"})
        self.assertLess(time.time() - t, 6, "the open waited for its hint's whole budget")
        self.assertEqual(hfshim_lines(p), [])
        self.assertEqual(p.stdout, b"")  # config.json is shorter than 25 MiB

    def test_a_hint_for_another_commit_is_not_used(self):
        # the branch moves between the HEAD's answer and the revision's: the revision is held
        # back until the HEAD (at the old commit) is in the log, then main moves to commit C
        r = self.facts["repos"]["acme/tiny"]
        old, new = r["sha"], r["commits"]["C"]
        self.hub.fault("/revision/", "slow", count=1, delay=3)
        done = {}

        def run():
            done["p"] = self.pread(f"{TINY}/{BIG}", check=False)

        th = threading.Thread(target=run)
        th.start()
        try:
            end = time.time() + 20
            while time.time() < end:
                if any(q["method"] == "HEAD" for q in self.hub.requests()):
                    break
                time.sleep(0.05)
            self.hub.set_ref("model", "acme/tiny", "main", new)
            th.join(60)
        finally:
            self.hub.set_ref("model", "acme/tiny", "main", old)
        p = done["p"]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.expected(commit=new))
        rev, tree, heads, gets, cdn = self.split()
        self.assertEqual(len(heads), 1)
        self.assertEqual(len(rev), 1)
        # not used: the read asked the Hub at the commit the revision named
        self.assertEqual([g["path"] for g in gets], ["/acme/tiny/resolve/%s/%s" % (new, BIG)])
        self.assertEqual(len(cdn), 1)

    def test_bad_siblings_are_skipped_and_without_sizes_the_tree_lists(self):
        bad = [{"rfilename": "../evil", "size": 1, "blobId": "0" * 40},
               {"rfilename": "x", "size": -1, "blobId": "0" * 40}, 7]
        self.hub.fault("/revision/", "inject", count=1, entries=bad)
        p = self.run_shim(["cat", f"{TINY}/config.json"])
        self.assertEqual(p.stdout, self.fixture_bytes("acme/tiny", "config.json"))
        lines = hfshim_lines(p)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("skipped an entry that cannot be used (and 2 more)", lines[0])
        self.assertIn("../evil", lines[0])
        _, tree, _, _, _ = self.split()
        self.assertEqual(tree, [])
        # one sibling without its size: the siblings cannot stand for the listing
        self.hub.clear_log()
        self.hub.fault("/revision/", "inject", count=1, entries=[{"rfilename": "extra.txt"}])
        p = self.run_shim(["ls", TINY], home=os.path.join(self.tmp, "other"))
        self.assertNotIn(b"extra.txt", p.stdout)
        self.assertIn(b"config.json", p.stdout)
        _, tree, _, _, _ = self.split()
        self.assertEqual(len(tree), 1)

    def test_buckets_are_unchanged(self):
        # a bucket has no revision: its info, its tree, then the file's resolve; no HEAD
        name = sorted(self.facts["buckets"]["acme/cache"]["files"])[0]
        p = self.run_shim(["cat", "/hf/buckets/acme/cache/" + name])
        self.assertEqual(p.stdout, self.fixture_bytes("buckets/acme/cache", name))
        hub = [r for r in self.requests() if r["listener"] == "hub"]
        self.assertEqual([r for r in hub if r["method"] == "HEAD"], [])
        self.assertEqual([r["path"] for r in hub][:2], ["/api/buckets/acme/cache", "/api/buckets/acme/cache/tree"])
        self.assertFalse(any("blobs=true" in (r["query"] or "") for r in hub))

