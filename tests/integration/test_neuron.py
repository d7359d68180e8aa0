"""The Neuron compile cache workload (issue 3 item 5; ../shared/research/workloads.md sections 1-2):
a script that behaves like neuron_cc's filesystem cache runs against a Hub bucket mounted at a
cache path with HF_NO_PUSH=1. It finds the remote entries, compiles the missing ones into the
local overlay, removes a failed remote entry and compiles it again; a second run finds
everything without fetching anything; no write request ever reaches the Hub."""
import hashlib
import json
import os
import subprocess
import textwrap

from harness import ShimTest, PY

VER = "neuronxcc-2.13.72.0+78a426937"
HIT = ["MODULE_1111+d41d8cd9", "MODULE_3333+d41d8cd9"]
FAILED = "MODULE_2222+d41d8cd9"
NEW = ["MODULE_5555+d41d8cd9", "MODULE_6666+0123abcd"]

# neuron_cc as seen through strace and tracebacks: a global `lock` file opened with O_TRUNC and
# flock'ed around every cache operation, existence probes of model.done then model.log, a listing
# of MODULE_* directories (get_hlos), a per-module lock made with O_CREAT|O_EXCL, the compiler's
# output published as model.neff through a temporary file and a rename, then model.done; a
# failed entry (model.log) removed with rmtree when failed compilations are retried.
NEURON_CC = r'''
import errno, fcntl, glob, hashlib, json, os, shutil, sys, time, uuid

root, work, ver = sys.argv[1], sys.argv[2], sys.argv[3]
modules = [m for m in sys.argv[4].split(",") if m]
report = {"modules": {}}


class CacheLock:
    def __enter__(self):
        self.f = open(os.path.join(root, "lock"), "w")  # O_WRONLY|O_CREAT|O_TRUNC
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def state(d):
    names = os.listdir(d)
    if any(n.endswith(".lock") for n in names):
        return "locked"
    if "model.neff" in names and "model.done" in names:
        return "success"
    if "model.log" in names:
        return "failed"
    return "empty"


def get_hlos():
    with CacheLock():
        return {os.path.basename(d): state(d)
                for d in sorted(glob.glob(os.path.join(root, ver, "MODULE_*")))}


def compile_neff(module, hlo):
    scratch = os.path.join(work, "neuroncc_compile_workdir", str(uuid.uuid4()))
    os.makedirs(scratch)
    src = os.path.join(scratch, "model.%s.hlo_module.pb" % module)
    with open(src, "wb") as f:
        f.write(hlo)
    time.sleep(0.05)
    neff = hashlib.sha256(hlo).digest() * 4096  # 128 KiB of "compiled" output
    with open(src[:-len("hlo_module.pb")] + "neff", "wb") as f:
        f.write(neff)
    return neff


def publish(d, module):
    hlo = ("HLO of %s\n" % module).encode() * 100
    with open(os.path.join(d, "model.hlo_module.pb"), "wb") as f:
        f.write(hlo)
    with open(os.path.join(d, "compile_flags.json"), "w") as f:
        json.dump(["--model-type=transformer", "-O2"], f)
    neff = compile_neff(module, hlo)
    tmp = os.path.join(d, "model.neff.tmp%d" % os.getpid())
    with open(tmp, "wb") as f:
        f.write(neff)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(d, "model.neff"))
    open(os.path.join(d, "model.done"), "w").close()


def use_cached(d, module):
    dst = os.path.join(work, module + ".neff")
    shutil.copyfile(os.path.join(d, "model.neff"), dst)
    with open(dst, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


report["listed_before"] = get_hlos()
for module in modules:
    d = os.path.join(root, ver, module)
    with CacheLock():
        done = os.path.exists(os.path.join(d, "model.done"))
        failed = not done and os.path.exists(os.path.join(d, "model.log"))
        if failed:  # --retry_failed_compilation
            shutil.rmtree(d)
    if done:
        report["modules"][module] = ["hit", use_cached(d, module)]
        continue
    os.makedirs(d, exist_ok=True)
    lock = os.path.join(d, "model.hlo_module.pb.lock")
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        # Another process is compiling this module: wait for its marker.
        for _ in range(600):
            if os.path.exists(os.path.join(d, "model.done")):
                break
            time.sleep(0.05)
        report["modules"][module] = ["waited", use_cached(d, module)]
        continue
    try:
        if os.path.exists(os.path.join(d, "model.done")):  # finished while we looked
            report["modules"][module] = ["hit", use_cached(d, module)]
            continue
        publish(d, module)
        report["modules"][module] = ["recompiled" if failed else "compiled",
                                     use_cached(d, module)]
    finally:
        os.unlink(lock)
report["listed_after"] = get_hlos()
report["root"] = sorted(os.listdir(root))
print(json.dumps(report))
'''


class NeuronCacheTest(ShimTest):
    def setUp(self):
        super().setUp()
        self.cache = os.path.join(self.tmp, "neuron-compile-cache")
        self.extra = {"HF_MOUNTS": f"{self.cache}=buckets/acme/cache", "HF_NO_PUSH": "1"}
        self.script = os.path.join(self.tmp, "neuron_cc.py")
        with open(self.script, "w") as f:
            f.write(NEURON_CC)

    def neuron_cc(self, modules, work, wait=True):
        os.makedirs(work, exist_ok=True)
        cmd = [PY, self.script, self.cache, work, VER, ",".join(modules)]
        if not wait:
            return subprocess.Popen(cmd, env=self.env(self.extra), cwd=self.tmp,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return json.loads(self.run_shim(cmd, extra=self.extra).stdout)

    def neff_sha(self, module):
        data = self.fixture_bytes("buckets/acme/cache", f"{VER}/{module}/model.neff")
        return hashlib.sha256(data).hexdigest()

    def compiled_sha(self, module):
        hlo = ("HLO of %s\n" % module).encode() * 100
        return hashlib.sha256(hashlib.sha256(hlo).digest() * 4096).hexdigest()

    def fetch_requests(self):
        return [r for r in self.requests()
                if r["method"] == "GET" and ("/resolve/" in r["path"] or r["listener"] == "cdn")]

    def test_compile_cache_on_a_bucket(self):
        modules = HIT + [FAILED] + NEW
        r1 = self.neuron_cc(modules, os.path.join(self.tmp, "work1"))
        self.assertEqual(r1["listed_before"], {HIT[0]: "success", FAILED: "failed",
                                               HIT[1]: "success"})
        got = r1["modules"]
        for m in HIT:
            self.assertEqual(got[m], ["hit", self.neff_sha(m)])
        self.assertEqual(got[FAILED], ["recompiled", self.compiled_sha(FAILED)])
        for m in NEW:
            self.assertEqual(got[m], ["compiled", self.compiled_sha(m)])
        self.assertEqual(r1["listed_after"], {m: "success" for m in modules})
        self.assertIn("lock", r1["root"])
        self.assertFalse([n for n in r1["root"] if n.startswith(".wh.")])
        # the first run fetched the cached NEFFs it used, and never the failed entry's files
        fetched = [r["path"] for r in self.fetch_requests()]
        self.assertTrue(fetched)
        self.assertFalse([p for p in fetched if FAILED in p or "MODULE_4444" in p], fetched)
        self.assert_no_writes()

        # Second run, a new process: everything is found, nothing is fetched.
        self.hub.clear_log()
        r2 = self.neuron_cc(modules, os.path.join(self.tmp, "work2"))
        for m in HIT:
            self.assertEqual(r2["modules"][m], ["hit", self.neff_sha(m)])
        for m in [FAILED] + NEW:
            self.assertEqual(r2["modules"][m], ["hit", self.compiled_sha(m)])
        self.assertEqual(r2["listed_before"], {m: "success" for m in modules})
        self.assertEqual(self.fetch_requests(), [])
        self.assert_no_writes()

        # The bucket itself is untouched: a process without this overlay sees the failed entry.
        home = os.path.join(self.tmp, "other_home")
        os.makedirs(home)
        out = self.run_shim(["ls", f"{self.cache}/{VER}/{FAILED}"], extra=self.extra,
                            home=home).stdout.decode().split()
        self.assertEqual(sorted(out), ["model.hlo_module.pb", "model.log"])
        self.assertTrue(os.path.exists(
            self.fixture_path("buckets/acme/cache", f"{VER}/{FAILED}/model.log")))
        self.assert_no_writes()

    def test_concurrent_compilers_share_the_module_locks(self):
        """Two compilers at once on the same missing modules: the O_EXCL lock lets one compile
        each module and the other wait for its model.done."""
        mods = NEW + ["MODULE_7777+d41d8cd9", "MODULE_8888+d41d8cd9"]
        procs = [self.neuron_cc(mods, os.path.join(self.tmp, "w%d" % i), wait=False)
                 for i in range(2)]
        reports = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
            reports.append(json.loads(out))
        for m in mods:
            kinds = sorted(r["modules"][m][0] for r in reports)
            self.assertEqual(kinds.count("compiled"), 1, (m, kinds))
            for r in reports:
                self.assertEqual(r["modules"][m][1], self.compiled_sha(m))
        after = self.neuron_cc([], os.path.join(self.tmp, "w3"))["listed_before"]
        self.assertEqual(after, {**{m: "success" for m in mods}, HIT[0]: "success",
                                 HIT[1]: "success", FAILED: "failed"})
        self.assert_no_writes()
