"""No lock across network I/O (issue 10, point 3): threads reading one fd fetch at the same time,
processes on one cold file fetch each chunk once between them, a fetcher that dies or stops
leaves no chunk in flight for good. Judged on the test Hub's request log (which ranges were
asked for, and whether their requests overlapped), never on how long something took."""
import os
import signal
import subprocess
import time
import unittest

from harness import ShimTest, PY

TINY = "/hf/acme/tiny"
MiB = 1 << 20

PREADS = """
import os, sys, threading
fd = os.open(sys.argv[1], os.O_RDONLY)
offs = [int(x) for x in sys.argv[2].split(",")]
out = {}
def rd(o):
    out[o] = os.pread(fd, 1 << 20, o)
ts = [threading.Thread(target=rd, args=(o,)) for o in offs]
for t in ts: t.start()
for t in ts: t.join()
sys.stdout.buffer.write(b"".join(out[o] for o in offs))
"""


def max_overlap(reqs):
    """The most requests in progress at one moment, from their logged start and duration."""
    ev = sorted([(r["t"], 1) for r in reqs] + [(r["t"] + r["dur"], -1) for r in reqs],
                key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


class ConcurrencyTest(ShimTest):
    def tearDown(self):
        self.hub.set_delay(0)
        super().tearDown()

    def cdn_ranges(self):
        return [r for r in self.requests() if r["listener"] == "cdn" and r["method"] == "GET"]

    def test_threads_on_one_fd_fetch_in_parallel(self):
        self.run_shim(["stat", f"{TINY}/weights/big.bin"])  # listing cached: only bytes below
        self.hub.clear_log()
        self.hub.set_delay(300)
        offs = [10 * MiB, 50 * MiB, 90 * MiB, 130 * MiB]
        out = self.run_shim([PY, "-c", PREADS, f"{TINY}/weights/big.bin",
                             ",".join(map(str, offs))]).stdout
        src = self.fixture_bytes("acme/tiny", "weights/big.bin")
        self.assertEqual(out, b"".join(src[o:o + MiB] for o in offs))
        cdn = self.cdn_ranges()
        self.assertEqual(len(cdn), 4, [r["range"] for r in cdn])
        # with the file's lock held across the request they would come one after another
        self.assertGreaterEqual(max_overlap(cdn), 3, [(r["t"], r["dur"]) for r in cdn])

    def test_processes_fetch_each_chunk_once(self):
        self.run_shim(["stat", f"{TINY}/data/medium.bin"])
        self.hub.clear_log()
        self.hub.set_delay(50)
        procs = [subprocess.Popen(["cat", f"{TINY}/data/medium.bin"], env=self.env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
        outs = [p.communicate(timeout=120) for p in procs]
        src = self.fixture_bytes("acme/tiny", "data/medium.bin")
        for (out, err), p in zip(outs, procs):
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(out, src)
        fetched = sum(r["bytes"] for r in self.cdn_ranges())
        self.assertLessEqual(fetched, 1.05 * len(src),
                             "8 processes fetched %.2fx the file" % (fetched / len(src)))

    def start_stuck_reader(self, home=None):
        """A process reading 1 MiB at 5 MiB of medium.bin whose CDN request never gets an answer;
        returned once it holds the claim on that chunk (its request reached the CDN)."""
        self.run_shim(["stat", f"{TINY}/data/medium.bin"])
        self.hub.fault("/lfs/", "slow", count=1, delay=60, listener="cdn")
        p = subprocess.Popen(["dd", f"if={TINY}/data/medium.bin", "bs=1M", "skip=5", "count=1",
                              "status=none"], env=self.env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        for _ in range(600):  # the fault is used up once its request arrived
            if not any(f.get("match") == "/lfs/" for f in self.hub.faults()):
                return p
            time.sleep(0.05)
        p.kill()
        self.fail("the stuck reader's request never reached the CDN")

    def read_chunk5(self, extra=None):
        p = self.run_shim(["dd", f"if={TINY}/data/medium.bin", "bs=1M", "skip=5", "count=1",
                           "status=none"], extra=extra)
        self.assertEqual(p.stdout, self.fixture_bytes("acme/tiny", "data/medium.bin")[5 * MiB:6 * MiB])
        return p.stderr.decode()

    def test_a_fetcher_that_dies_leaves_nothing_in_flight(self):
        p = self.start_stuck_reader()
        p.send_signal(signal.SIGKILL)
        p.wait()
        # the kernel dropped its claim: the next reader fetches at once, with no wait for it
        err = self.read_chunk5()
        self.assertNotIn("in flight", err)

    def test_a_stopped_fetcher_is_waited_for_only_until_the_deadline(self):
        p = self.start_stuck_reader()
        p.send_signal(signal.SIGSTOP)
        try:
            err = self.read_chunk5(extra={"HF_SHIM_TIMEOUT": "2"})
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.assertIn("in flight elsewhere", err)


TWO_REPOS = """
import os, sys, threading, time
def stat(p, tag):
    os.stat(p)
    sys.stdout.write(tag + "\\n")
    sys.stdout.flush()
a = threading.Thread(target=stat, args=(sys.argv[1], "slow repo"))
a.start()
while not os.path.exists(sys.argv[3]):  # the test says when the slow repo's request is held
    time.sleep(0.02)
stat(sys.argv[2], "warm repo")
a.join()
"""


class RepoLoadingTest(ShimTest):
    def test_a_warm_stat_does_not_wait_for_another_repo_loading(self):
        self.run_shim(["stat", f"{TINY}/config.json"])  # acme/tiny: revision and listing cached
        self.hub.clear_log()
        self.hub.fault("/api/datasets/acme/many/revision", "slow", count=1, delay=5)
        go = os.path.join(self.tmp, "held")
        p = subprocess.Popen([PY, "-c", TWO_REPOS, "/hf/datasets/acme/many/dir_000/file_0000.txt",
                              f"{TINY}/config.json", go], env=self.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        for _ in range(600):
            if not self.hub.faults():
                break
            time.sleep(0.02)
        open(go, "w").close()
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        # with one lock held across the slow repo's requests the warm stat would come second
        self.assertEqual(out.decode().split("\n")[:2], ["warm repo", "slow repo"], err)
        self.assertEqual([r["path"] for r in self.requests() if "acme/tiny" in r["path"]], [])


FORK_DURING_READ = r"""
import os, sys, threading, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.set_inheritable(fd, True)  # each child's exec makes the file complete first
done = threading.Event()
def rd():
    off = 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            break
        off += len(b)
    done.set()
t = threading.Thread(target=rd)
t.start()
kids = []
while (not done.is_set() or len(kids) < 3) and len(kids) < 40:
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/true", ["true"])
    kids.append(pid)
    time.sleep(0.02)
t.join()
deadline = time.time() + 90
stuck = list(kids)
while stuck and time.time() < deadline:
    stuck = [k for k in stuck if os.waitpid(k, os.WNOHANG) == (0, 0)]
    time.sleep(0.05)
for k in stuck:
    os.kill(k, 9)
print(len(kids), len(stuck))
"""


class ForkTest(ShimTest):
    # GCC 12's ASan runtime does not hold its allocator across fork: a child forked while
    # another thread is inside malloc blocks for good on the allocator's region mutex (seen:
    # futex on the region info just past ASan's heap, 1 child in ~5 runs), shim or not.
    @unittest.skipIf(os.environ.get("HFS_PRELOAD_EXTRA"),
                     "the sanitizer runtime's allocator is not fork-safe with threads")
    def test_fork_during_a_cold_read_and_exec(self):
        """Children forked while another thread reads (and checks) a cold file, each exec'ing
        with the file's fd inherited: none hangs on a lock the reading thread held at the
        fork (each child's exec completes the file first)."""
        self.run_shim(["stat", f"{TINY}/weights/big.bin"])
        out = self.run_shim([PY, "-c", FORK_DURING_READ, f"{TINY}/weights/big.bin"],
                            timeout=200).stdout.split()
        self.assertGreaterEqual(int(out[0]), 3)
        self.assertEqual(int(out[1]), 0, "%s of %s children hung after fork" % (out[1], out[0]))
        size = os.path.getsize(self.fixture_path("acme/tiny", "weights/big.bin"))
        fetched = sum(r["bytes"] for r in self.requests()
                      if r["listener"] == "cdn" and r["method"] == "GET")
        self.assertLessEqual(fetched, 1.1 * size)  # the children waited for the parent's chunks
