"""Small-file prefetch (issue 10, point 2): a program reading the files of a repo in listing
order gets the next ones fetched ahead, several at once; each file is fetched once; the
prefetch stays within its bounds, stops when the order breaks, and its failures never reach the
program. Judged on the test Hub's request log (which files were asked for, and whether the
requests overlapped) and on the bytes, never on how long something took."""
import os
import subprocess
import tarfile

from harness import ShimTest, PY
from test_concurrency import max_overlap

MANY = "/hf/datasets/acme/many"


def name(i):
    return "dir_%03d/file_%04d.txt" % (i // 100, i)


def content(i):
    return (name(i) + "\n").encode()


class PrefetchTest(ShimTest):
    def tearDown(self):
        self.hub.set_delay(0)
        super().tearDown()

    def warm_listing(self):
        self.run_shim(["stat", MANY + "/dir_000"])
        self.hub.clear_log()

    def resolves(self):
        pfx = "/datasets/acme/many/resolve/"
        return [r for r in self.requests() if r["path"].startswith(pfx) and r["method"] == "GET"]

    def fetched_names(self):
        return [r["path"].split("/", 6)[6] for r in self.resolves()]

    def test_cat_in_listing_order_fetches_ahead_once_each(self):
        self.warm_listing()
        self.hub.set_delay(40)
        n = 120
        out = self.run_shim(["cat"] + [f"{MANY}/{name(i)}" for i in range(n)]).stdout
        self.assertEqual(out, b"".join(content(i) for i in range(n)))
        got = self.fetched_names()
        self.assertEqual(len(got), len(set(got)), "a file was fetched twice")
        self.assertTrue({name(i) for i in range(n)} <= set(got))
        # one after another, the requests would never overlap
        self.assertGreaterEqual(max_overlap(self.resolves()), 4)
        # bounded: no more than the largest window (64 files) past the last file read
        self.assertLessEqual(len(got), n + 64, sorted(set(got) - {name(i) for i in range(n)}))
        self.assertEqual([r for r in self.requests() if r.get("write")], [])

    def test_prefetch_is_cached_for_other_processes(self):
        """Files the prefetch fetched but the program never read are checked and published to
        the cache: another process then reads them with no request."""
        self.warm_listing()
        code = ("import sys, time\nfor p in sys.argv[1:]:\n    open(p, 'rb').read()\n"
                "time.sleep(1)  # the prefetch finishes\n")
        self.run_shim([PY, "-c", code] + [f"{MANY}/{name(i)}" for i in range(3)])
        self.hub.clear_log()
        out = self.run_shim(["cat"] + [f"{MANY}/{name(i)}" for i in range(3, 12)]).stdout
        self.assertEqual(out, b"".join(content(i) for i in range(3, 12)))
        self.assertEqual(self.resolves(), [], "prefetched files were not published to the cache")

    def test_a_tree_walk_across_directories(self):
        """tar walks dir_000 then dir_001: the prefetch follows it from one directory into
        the next."""
        self.warm_listing()
        self.hub.set_delay(30)
        tarball = os.path.join(self.tmp, "out.tar")
        self.run_shim(["tar", "-C", MANY, "-cf", tarball, "dir_000", "dir_001"])
        with tarfile.open(tarball) as t:
            members = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        self.assertEqual(members, {name(i): content(i) for i in range(200)})
        got = self.fetched_names()
        self.assertEqual(len(got), len(set(got)), "a file was fetched twice")
        in_second = [r for r in self.resolves() if "/dir_001/" in r["path"]]
        self.assertGreaterEqual(max_overlap(in_second), 4)

    def test_off_with_hf_shim_prefetch_0(self):
        self.warm_listing()
        self.hub.set_delay(20)
        n = 30
        out = self.run_shim(["cat"] + [f"{MANY}/{name(i)}" for i in range(n)],
                            extra={"HF_SHIM_PREFETCH": "0"}).stdout
        self.assertEqual(out, b"".join(content(i) for i in range(n)))
        self.assertEqual(sorted(self.fetched_names()), [name(i) for i in range(n)])
        self.assertEqual(max_overlap(self.resolves()), 1)

    def test_out_of_order_reads_fetch_only_what_is_read(self):
        self.warm_listing()
        picks = [7, 503, 42, 9001, 250, 18, 7777, 64]
        code = ("import sys\nfor p in sys.argv[1:]:\n"
                "    sys.stdout.buffer.write(open(p, 'rb').read())\n")
        out = self.run_shim([PY, "-c", code] + [f"{MANY}/{name(i)}" for i in picks]).stdout
        self.assertEqual(out, b"".join(content(i) for i in picks))
        self.assertEqual(sorted(self.fetched_names()), sorted(name(i) for i in picks))

    def test_broken_order_cancels_the_rest(self):
        """Three files in order start the prefetch; then reads jump about. What was fetched
        beyond the files read stays within the first window after the third file."""
        self.warm_listing()
        self.hub.set_delay(300)
        picks = [0, 1, 2, 6000, 3000, 9000, 4500]
        code = ("import sys\nfor p in sys.argv[1:]:\n"
                "    sys.stdout.buffer.write(open(p, 'rb').read())\n")
        out = self.run_shim([PY, "-c", code] + [f"{MANY}/{name(i)}" for i in picks]).stdout
        self.assertEqual(out, b"".join(content(i) for i in picks))
        extra = set(self.fetched_names()) - {name(i) for i in picks}
        first_window = {name(i) for i in range(2, 2 + 17)}
        self.assertTrue(extra <= first_window, sorted(extra - first_window))
        # after the jump, nothing is queued near the files read then
        near = {name(i) for p in picks[3:] for i in range(p + 1, p + 20)}
        self.assertEqual(extra & near, set())

    def test_failed_prefetch_is_quiet_and_the_reader_fetches(self):
        """A prefetched file whose answer is corrupt (right length, wrong bytes) is discarded
        by its check; the reader then fetches it itself, and the program sees right bytes and
        no error line."""
        self.warm_listing()
        self.hub.set_delay(30)
        self.hub.fault(name(12), "corrupt", count=1)
        self.hub.fault(name(15), "500", count=5)
        n = 30
        p = self.run_shim(["cat"] + [f"{MANY}/{name(i)}" for i in range(n)])
        self.assertEqual(p.stdout, b"".join(content(i) for i in range(n)))
        self.assertNotIn(b"hfshim:", p.stderr)
        got = self.fetched_names()
        self.assertGreaterEqual(got.count(name(12)), 2)

    def test_fork_while_prefetching(self):
        """A child forked while the prefetch has a file in flight (and which never execs) does
        not keep it claimed: the parent exits (cancelling it), and a new process reading that
        file fetches it without waiting out HF_SHIM_TIMEOUT for a claim nobody works on."""
        self.warm_listing()
        self.hub.fault(name(4), "slow", count=1, delay=20)
        code = r"""
import os, sys, time
for p in sys.argv[1:3]:
    sys.stdout.buffer.write(open(p, 'rb').read())
sys.stdout.flush()
time.sleep(1)  # the prefetch's requests are out; name(4)'s gets no answer
if os.fork() == 0:
    os.closerange(0, 3)  # the test waits for the parent's output only
    time.sleep(12)
    os._exit(0)
"""
        p = subprocess.Popen([PY, "-c", code, f"{MANY}/{name(0)}", f"{MANY}/{name(1)}"],
                             env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, content(0) + content(1))
        self.assertEqual(self.hub.faults(), [], "the prefetch never asked for name(4)")
        r = self.run_shim(["cat", f"{MANY}/{name(4)}"], extra={"HF_SHIM_TIMEOUT": "5"})
        self.assertEqual(r.stdout, content(4))
        self.assertNotIn(b"in flight elsewhere", r.stderr)
