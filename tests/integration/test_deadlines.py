"""Deadlines (HF_SHIM_TIMEOUT): a server that stalls, drip-feeds, rate-limits beyond the deadline
or paginates forever makes the call fail in time with EIO and one clear hfshim: line; a
transient failure is never taken for "not found", and never remembered."""
import os

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"

ERRNO = ("import os, sys, time\nt = time.time()\ntry:\n    open(sys.argv[1], 'rb').read()\n"
         "    print('ok', time.time() - t)\nexcept OSError as e:\n    print(e.errno, time.time() - t)\n")


class DeadlineTest(ShimTest):
    def fresh_home(self):
        self.n_homes = getattr(self, "n_homes", 0) + 1
        h = os.path.join(self.tmp, "home%d" % self.n_homes)
        os.makedirs(h)
        return h

    def attempt(self, path, timeout=None, **kw):
        """(errno or "ok", seconds the call took, the hfshim: lines)"""
        extra = {"HF_SHIM_TIMEOUT": str(timeout)} if timeout else None
        p = self.run_shim([PY, "-c", ERRNO, path], check=False, extra=extra, **kw)
        out = p.stdout.decode().split()
        err = p.stderr.decode()
        self.assertEqual(len(out), 2, err)
        return out[0], float(out[1]), [l for l in err.splitlines() if l.startswith("hfshim:")]

    def test_retry_after_beyond_the_deadline_fails_at_once(self):
        self.tree_listed()
        self.hub.fault("/tree/", "429", count=10, retry_after=120)
        e, secs, lines = self.attempt(f"{TINY}/README.md", timeout=10)
        self.assertEqual(e, "5", lines)
        self.assertLess(secs, 3, "waited for a Retry-After beyond HF_SHIM_TIMEOUT")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("120 s", lines[0])
        self.assertIn("HF_SHIM_TIMEOUT", lines[0])
        self.assertEqual(len([r for r in self.requests() if "/tree/" in r["path"]]), 1)
        # one within the deadline is honoured: waited for, then answered
        self.hub.clear_faults()
        self.tree_listed()
        self.hub.fault("/tree/", "429", count=1, retry_after=2)
        e, secs, lines = self.attempt(f"{TINY}/README.md", timeout=10, home=self.fresh_home())
        self.assertEqual(e, "ok", lines)
        self.assertGreaterEqual(secs, 1.9)

    def test_stalled_server(self):
        self.run_shim(["ls", TINY])  # listing cached: the stall hits the file's bytes
        self.hub.fault("/resolve/", "slow", count=100, delay=20)
        e, secs, lines = self.attempt(f"{TINY}/config.json", timeout=2)
        self.assertEqual(e, "5", lines)
        self.assertLess(secs, 4.5, "a stalled server held the call past ~2x HF_SHIM_TIMEOUT")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("config.json", lines[0])
        self.assertIn("timed out", lines[0])

    def test_stalled_api(self):
        self.hub.fault("/revision/", "slow", count=100, delay=20)
        e, secs, lines = self.attempt(f"{TINY}/config.json", timeout=2)
        self.assertEqual(e, "5", lines)
        self.assertLess(secs, 4.5)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("acme/tiny", lines[0])
        self.assertIn("timed out", lines[0])

    def test_drip_feeding_server(self):
        # 5 bytes a second keeps a connection alive, and never gets the file here
        self.run_shim(["ls", TINY])
        self.hub.fault("/resolve/", "drip", count=100, delay=0.2)
        e, secs, lines = self.attempt(f"{TINY}/config.json", timeout=2)
        self.assertEqual(e, "5", lines)
        self.assertLess(secs, 4.5, "a drip-feeding server held the call past ~2x HF_SHIM_TIMEOUT")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("timed out", lines[0])

    def test_5xx_retried_within_the_deadline(self):
        self.tree_listed()
        self.hub.fault("/tree/", "503", count=2)
        e, _, lines = self.attempt(f"{TINY}/config.json", timeout=10)
        self.assertEqual(e, "ok", lines)
        self.hub.clear_faults()
        self.hub.clear_log()
        # the four backoffs (0.25 + 0.5 + 1 + 2 s) do not fit 2 s: it stops when time is up
        self.tree_listed()
        self.hub.fault("/tree/", "503", count=100)
        e, secs, lines = self.attempt(f"{TINY}/config.json", timeout=2, home=self.fresh_home())
        self.assertEqual(e, "5", lines)
        self.assertLess(secs, 3.5)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("HF_SHIM_TIMEOUT", lines[0])
        self.assertIn("503", lines[0])

    def test_endless_pagination_is_cut(self):
        for entries in ([], None):  # empty pages; the first page again and again
            self.hub.clear_faults()
            self.tree_listed()
            self.hub.fault("/tree/", "endless", count=1000, entries=entries)
            e, secs, lines = self.attempt(f"{TINY}/config.json")
            self.assertEqual(e, "5", lines)
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("pagination does not end", lines[0])
            self.assertLess(len([r for r in self.requests() if "/tree/" in r["path"]]), 5)
            self.hub.clear_log()

    def test_transient_errors_are_not_answers(self):
        # 5 failed attempts on the listing: EIO (never ENOENT); the next call in the same
        # process asks again (no remembered failure) and succeeds
        self.tree_listed()
        self.hub.fault("/tree/", "503", count=5)
        code = ("import os\n"
                "for i in range(2):\n"
                "    try:\n        os.stat('%s/config.json'); print('ok')\n"
                "    except OSError as e:\n        print(e.errno)\n" % TINY)
        p = self.py(code, check=False)
        self.assertEqual(p.stdout.decode().split(), ["5", "ok"], p.stderr.decode())
        # a download server's 404 for a listed file is its failure, not a missing file
        self.run_shim(["ls", TINY])
        self.hub.fault("/lfs/", "404", count=100, listener="cdn")
        e, _, lines = self.attempt(f"{TINY}/model.safetensors")
        self.assertEqual(e, "5", lines)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("404", lines[0])
