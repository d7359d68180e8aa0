#!/usr/bin/env python3
"""Builds the test Hub's fixture repos and buckets on disk, and describes them.

    python3 tests/hub/fixtures.py [DIR] [--facts]

    import fixtures
    root = fixtures.build()            # $HFS_FIXTURES or <repo>/build/fixtures
    f = fixtures.facts(root)           # shas, refs, per-file sizes/oids/sha256/disk paths

build() is idempotent and fast once built: a stamp file short-circuits it, small files
are rewritten only when their content differs and the big pseudo-random files only when
missing or of the wrong size, so the server's hash cache stays valid.

Contents (see facts() for the exact values):
  model   acme/tiny     commits A (tag v1.0), B (main), C (refs/pr/1 = B + pr-note.txt)
  dataset acme/many     10,000 small files in 100 directories, each holding its own path
  model   acme/private  private; model acme/gated gated; space acme/space
  model   acme/whiteout-names  remote names that look like overlay whiteouts (.wh.x, .wh..wh..opq)
  model   acme/native   shared objects built with gcc at fixture time (tests/hub/native/): a
                        Python extension, libraries whose DT_NEEDED is found through $ORIGIN,
                        an absolute virtual RUNPATH or LD_LIBRARY_PATH
  bucket  acme/cache    a Neuron-compile-cache-like tree
  tokens  hf_good_token reads and writes everything, hf_other_token reads nothing private
          and writes nothing,
          hf_private_only reads acme/private only
"""

import fcntl
import hashlib
import io
import json
import os
import random
import shutil
import struct
import sys
import zipfile

VERSION = "4"  # 2: hf_good_token may write; 3: acme/whiteout-names; 4: acme/native
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
STAMP = ".fixtures-stamp"

MiB = 1024 * 1024
BIG_SIZE = 200 * MiB
MEDIUM_SIZE = 25 * MiB
TEXT_SIZE = 3 * MiB
FIXED_MTIME = 1767323045  # 2026-01-02T03:04:05Z

TOKENS = {
    "good": "hf_good_token",
    "other": "hf_other_token",
    "private_only": "hf_private_only",
    "invalid": "hf_not_a_known_token",
}

PATHS = {
    "readme": "README.md",
    "config": "config.json",
    "gitattributes": ".gitattributes",
    "deep": "a/b/c/deep.txt",
    "top": "a/top.txt",
    "spaces": "name with spaces.txt",
    "unicode": "données/naïve-文件.txt",
    "empty": "empty.txt",
    "safetensors": "model.safetensors",
    "big": "weights/big.bin",
    "medium": "data/medium.bin",
    "zip": "archive.zip",
    "text3m": "docs/large.txt",
    "pr_note": "pr-note.txt",
}


def sha_of(label):
    return hashlib.sha1(label.encode()).hexdigest()


SHAS = {
    "tiny.A": sha_of("acme/tiny@A"),
    "tiny.B": sha_of("acme/tiny@B"),
    "tiny.C": sha_of("acme/tiny@C"),
    "many": sha_of("acme/many@1"),
    "private": sha_of("acme/private@1"),
    "gated": sha_of("acme/gated@1"),
    "space": sha_of("acme/space@1"),
    "whiteout-names": sha_of("acme/whiteout-names@1"),
    "native": sha_of("acme/native@1"),
}


def default_root():
    return os.path.abspath(os.environ.get("HFS_FIXTURES") or os.path.join(REPO_ROOT, "build", "fixtures"))


# --------------------------------------------------------------------------------------
# Deterministic contents
# --------------------------------------------------------------------------------------


def rand_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def gitattributes():
    lines = ["*.%s filter=lfs diff=lfs merge=lfs -text" % e for e in
             ("bin", "safetensors", "zip", "neff", "pb", "gguf", "tar")]
    return ("\n".join(lines) + "\n").encode()


def safetensors_bytes():
    data = rand_bytes(3, 160 * 160 * 4)
    header = json.dumps({"__metadata__": {"format": "pt"},
                         "weight": {"dtype": "F32", "shape": [160, 160], "data_offsets": [0, len(data)]}},
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        members = [
            ("stored.txt", zipfile.ZIP_STORED, b"stored member\n" * 64),
            ("deflated.txt", zipfile.ZIP_DEFLATED, b"deflated member, very compressible\n" * 512),
            ("dir/nested.bin", zipfile.ZIP_STORED, rand_bytes(4, 4096)),
            ("dir/empty.txt", zipfile.ZIP_DEFLATED, b""),
        ]
        for name, method, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 2, 3, 4, 4))
            zi.compress_type = method
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def text3m():
    out = bytearray()
    i = 0
    while len(out) < TEXT_SIZE:
        out += b"%07d the quick brown fox jumps over the lazy dog; hfshim regular text file\n" % i
        i += 1
    return bytes(out[:TEXT_SIZE])


def tiny_files(label):
    """path -> bytes, or path -> ('big', seed, size) for the large pseudo-random files."""
    cfg = {"model_type": "tiny", "hidden_size": 160, "num_hidden_layers": 2, "vocab_size": 1000,
           "revision": label}
    files = {
        PATHS["gitattributes"]: gitattributes(),
        PATHS["readme"]: ("# acme/tiny\n\nA tiny test model for hfshim.\n\nRevision %s.\n" % label).encode(),
        PATHS["config"]: (json.dumps(cfg, indent=2) + "\n").encode(),
        PATHS["safetensors"]: safetensors_bytes(),
        PATHS["deep"]: b"a deeply nested file\n",
    }
    if label == "A":
        return files
    files.update({
        PATHS["top"]: b"top of directory a\n",
        PATHS["spaces"]: b"a file whose name has spaces\n",
        PATHS["unicode"]: "un fichier au nom non-ASCII: naïve 文件\n".encode(),
        PATHS["empty"]: b"",
        PATHS["big"]: ("big", 1, BIG_SIZE),
        PATHS["medium"]: ("big", 2, MEDIUM_SIZE),
        PATHS["zip"]: zip_bytes(),
        PATHS["text3m"]: text3m(),
    })
    if label == "C":
        files[PATHS["pr_note"]] = b"added in pull request 1\n"
    return files


def many_files():
    return {"dir_%03d/file_%04d.txt" % (i // 100, i): ("dir_%03d/file_%04d.txt\n" % (i // 100, i)).encode()
            for i in range(10000)}


def whiteout_names_files():
    """Names the overlay uses for its own bookkeeping, as plain remote entries."""
    return {
        "normal.txt": b"a normal file\n",
        ".wh.x": b"a file named like a whiteout\n",
        ".wh..wh..opq": b"a file named like an opaque marker\n",
        ".wh.d/inner.txt": b"inside a folder named like a whiteout\n",
        ".x.wh.x": b"a dotfile whose whiteout starts with .wh..x\n",
        "sub/a.txt": b"a file in a normal folder\n",
        "sub/.wh.y": b"a whiteout-like name in a folder\n",
    }


NATIVE_SRC = os.path.join(HERE, "native")
# acme/native's libraries, each (source, defines, link flags after the object); "{dir}" is the
# build directory, where the dependencies are linked from.
NATIVE_LIBS = {
    "lib/libhfsdep.so": ("hfsdep.c", ["HFS_DEP_FN=hfs_dep_value", "HFS_DEP_VALUE=4242"],
                         ["-Wl,-soname,libhfsdep.so"]),
    "lib/libhfsmain.so": ("hfsmain.c", ["HFS_DEP_FN=hfs_dep_value"],
                          ["-L{dir}/lib", "-lhfsdep", "-Wl,-rpath,$ORIGIN", "-Wl,--enable-new-dtags"]),
    "abs/libhfsdep2.so": ("hfsdep.c", ["HFS_DEP_FN=hfs_dep2_value", "HFS_DEP_VALUE=5151"],
                          ["-Wl,-soname,libhfsdep2.so"]),
    "lib/libhfsabs.so": ("hfsmain.c", ["HFS_DEP_FN=hfs_dep2_value"],
                         ["-L{dir}/abs", "-lhfsdep2", "-Wl,-rpath,/hf/acme/native/abs",
                          "-Wl,--enable-new-dtags"]),
    "lib/libhfsuse.so": ("hfsmain.c", ["HFS_DEP_FN=hfs_dep2_value"], ["-L{dir}/abs", "-lhfsdep2"]),
    "ext/hfsext.abi3.so": ("hfsext.c", ["MODNAME=hfsext", "MODVALUE=7"], []),
}


def native_files():
    """acme/native: NATIVE_LIBS compiled with cc (no debug info, so the bytes depend only on
    the compiler), plus the sources."""
    import subprocess
    import tempfile
    out = {"README.md": b"# acme/native\n\nshared objects for dlopen tests\n"}
    with tempfile.TemporaryDirectory(prefix="hfshim-native-") as d:
        for rel, (src, defs, ldflags) in NATIVE_LIBS.items():  # dependencies come first
            dst = os.path.join(d, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            cmd = [os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O1", "-o", dst,
                   os.path.join(NATIVE_SRC, src)] + ["-D" + x for x in defs] + \
                  [f.replace("{dir}", d) for f in ldflags]
            subprocess.run(cmd, check=True)
            with open(dst, "rb") as f:
                out[rel] = f.read()
    for src in sorted(set(v[0] for v in NATIVE_LIBS.values())):
        with open(os.path.join(NATIVE_SRC, src), "rb") as f:
            out["src/" + src] = f.read()
    return out


NEURON_V1 = "neuronxcc-2.13.72.0+78a426937"
NEURON_V2 = "neuronxcc-2.14.227.0+2d4f85be"


def cache_files():
    def module(seed, ok=True):
        m = {
            "model.hlo_module.pb": rand_bytes(seed, 48 * 1024),
        }
        if ok:
            m["model.neff"] = rand_bytes(seed + 1, 256 * 1024)
            m["model.done"] = b""
            m["compile_flags.json"] = json.dumps(["--model-type=transformer", "--auto-cast=none",
                                                  "-O2"]).encode()
        else:
            m["model.log"] = b"Compiler status ERROR\nneuronx-cc failed with exit code 70\n"
        return m

    out = {}
    for base, mods in ((NEURON_V1, (("MODULE_1111+d41d8cd9", 10, True), ("MODULE_2222+d41d8cd9", 20, False),
                                    ("MODULE_3333+d41d8cd9", 30, True))),
                       (NEURON_V2, (("MODULE_4444+d41d8cd9", 40, True),))):
        for name, seed, ok in mods:
            for fn, data in module(seed, ok).items():
                out["%s/%s/%s" % (base, name, fn)] = data
    out["registry/1.manifest"] = b'{"version":1}\n'
    out["registry/1.manifest#1"] = b'{"version":1,"rev":1}\n'
    out["README.txt"] = b"acme/cache: a Neuron compile cache stand-in\n"
    return out


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _put(path, data, mtime=None):
    """Writes data unless the file already holds exactly it. Returns True if written."""
    try:
        st = os.stat(path)
        if st.st_size == len(data):
            with open(path, "rb") as f:
                if f.read() == data:
                    if mtime is not None and int(st.st_mtime) != mtime:
                        os.utime(path, (mtime, mtime))
                    return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp-fixture"
    with open(tmp, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)
    return True


def _put_big(path, seed, size, state, root):
    """A pseudo-random file, regenerated only when missing, resized or of another seed."""
    key = os.path.relpath(path, root).replace(os.sep, "/")
    want = {"seed": seed, "size": size}
    try:
        if os.path.getsize(path) == size and state.get(key) == want:
            return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp-fixture"
    rnd = random.Random(seed)
    left = size
    with open(tmp, "wb") as f:
        while left > 0:
            n = min(left, MiB)
            f.write(rnd.randbytes(n))
            left -= n
    os.replace(tmp, path)
    state[key] = want
    return True


def _link_or_put(src, dst, data):
    """dst gets src's content: a hard link when src holds it already (no extra disk)."""
    try:
        if os.path.exists(dst) and os.path.samefile(src, dst):
            return
    except OSError:
        pass
    if os.path.exists(dst):
        os.unlink(dst)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        if isinstance(data, tuple):
            shutil.copyfile(src, dst)
        else:
            _put(dst, data)


def _prune(base, keep):
    """Removes files under base that are not in keep (relative paths), and empty dirs."""
    for dirpath, dirnames, filenames in os.walk(base, topdown=False):
        for name in filenames:
            ap = os.path.join(dirpath, name)
            rel = os.path.relpath(ap, base).replace(os.sep, "/")
            if rel not in keep:
                os.unlink(ap)
        if dirpath != base and not os.listdir(dirpath):
            os.rmdir(dirpath)


def _write_tree(base, files, state, root, mtime=None):
    for rel, data in files.items():
        ap = os.path.join(base, rel)
        if isinstance(data, tuple):
            _put_big(ap, data[1], data[2], state, root)
        else:
            _put(ap, data, mtime)
    _prune(base, set(files))


def _layout(root):
    d = lambda *p: os.path.join(root, *p)  # noqa: E731
    return {
        "tiny.A": d("repos", "models", "acme", "tiny", "A"),
        "tiny.B": d("repos", "models", "acme", "tiny", "B"),
        "tiny.C": d("repos", "models", "acme", "tiny", "C"),
        "many": d("repos", "datasets", "acme", "many", "main"),
        "private": d("repos", "models", "acme", "private", "main"),
        "gated": d("repos", "models", "acme", "gated", "main"),
        "space": d("repos", "spaces", "acme", "space", "main"),
        "whiteout-names": d("repos", "models", "acme", "whiteout-names", "main"),
        "native": d("repos", "models", "acme", "native", "main"),
        "cache": d("buckets", "acme", "cache"),
    }


def repos_json(root):
    lay = _layout(root)
    rel = lambda k: os.path.relpath(lay[k], root).replace(os.sep, "/")  # noqa: E731
    A, B, C = SHAS["tiny.A"], SHAS["tiny.B"], SHAS["tiny.C"]
    return {
        "repos": [
            {"type": "model", "id": "acme/tiny", "private": False, "gated": False,
             "lastModified": "2026-01-02T03:04:05.000Z", "createdAt": "2025-12-01T00:00:00.000Z",
             "commits": {A: rel("tiny.A"), B: rel("tiny.B"), C: rel("tiny.C")},
             "commitInfo": {A: {"title": "Initial commit", "date": "2025-12-01T00:00:00.000Z"},
                            B: {"title": "Add weights and odd names", "date": "2026-01-02T03:04:05.000Z"},
                            C: {"title": "Add pr note", "date": "2026-01-03T00:00:00.000Z"}},
             "refs": {"main": B, "v1.0": A, "refs/pr/1": C},
             "tags": ["v1.0"],
             "info": {"pipeline_tag": "text-generation", "library_name": "transformers"}},
            {"type": "dataset", "id": "acme/many", "private": False, "gated": False,
             "lastModified": "2026-01-02T03:04:05.000Z",
             "commits": {SHAS["many"]: rel("many")},
             "commitInfo": {SHAS["many"]: {"title": "Add 10000 files", "date": "2026-01-02T03:04:05.000Z"}},
             "refs": {"main": SHAS["many"], "refs/convert/parquet": SHAS["many"]}},
            {"type": "model", "id": "acme/private", "private": True, "gated": False,
             "lastModified": "2026-01-02T03:04:05.000Z",
             "commits": {SHAS["private"]: rel("private")}, "refs": {"main": SHAS["private"]}},
            {"type": "model", "id": "acme/gated", "private": False, "gated": "manual",
             "lastModified": "2026-01-02T03:04:05.000Z",
             "commits": {SHAS["gated"]: rel("gated")}, "refs": {"main": SHAS["gated"]}},
            {"type": "space", "id": "acme/space", "private": False, "gated": False,
             "lastModified": "2026-01-02T03:04:05.000Z",
             "commits": {SHAS["space"]: rel("space")}, "refs": {"main": SHAS["space"]},
             "info": {"sdk": "static"}},
            {"type": "model", "id": "acme/whiteout-names", "private": False, "gated": False,
             "lastModified": "2026-01-02T03:04:05.000Z",
             "commits": {SHAS["whiteout-names"]: rel("whiteout-names")},
             "refs": {"main": SHAS["whiteout-names"]}},
            {"type": "model", "id": "acme/native", "private": False, "gated": False,
             "lastModified": "2026-01-02T03:04:05.000Z",
             "commits": {SHAS["native"]: rel("native")}, "refs": {"main": SHAS["native"]}},
        ],
        "buckets": [
            {"id": "acme/cache", "private": False, "dir": rel("cache"),
             "createdAt": "2025-12-01T00:00:00.000Z", "updatedAt": "2026-01-02T03:04:05.000Z"},
        ],
        "tokens": {
            TOKENS["good"]: {"read": ["*"], "write": ["*"]},
            TOKENS["other"]: {"read": []},
            TOKENS["private_only"]: {"read": ["acme/private"]},
        },
    }


def _expected_big(root):
    lay = _layout(root)
    return [(os.path.join(lay["tiny.B"], PATHS["big"]), BIG_SIZE),
            (os.path.join(lay["tiny.B"], PATHS["medium"]), MEDIUM_SIZE)]


def is_built(root):
    try:
        with open(os.path.join(root, STAMP), "r", encoding="utf-8") as f:
            if f.read().strip() != VERSION:
                return False
        for p, size in _expected_big(root):
            if os.path.getsize(p) != size:
                return False
        return os.path.exists(os.path.join(root, "repos.json"))
    except OSError:
        return False


def build(root=None, force=False, verbose=False):
    """Creates (or checks) the fixtures under root; returns the absolute root."""
    root = os.path.abspath(root or default_root())
    if not force and is_built(root):
        return root
    os.makedirs(root, exist_ok=True)
    # several test runners may build the same root at once: one builds, the others wait
    with open(os.path.join(root, ".fixtures.lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if not force and is_built(root):
            return root
        return _build_locked(root, verbose)


def _build_locked(root, verbose):
    try:
        os.unlink(os.path.join(root, STAMP))
    except FileNotFoundError:
        pass
    state_path = os.path.join(root, ".fixtures-state.json")
    try:
        with open(state_path, "r", encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {}
    lay = _layout(root)

    def log(msg):
        if verbose:
            print("fixtures: " + msg, file=sys.stderr)

    log("acme/tiny")
    _write_tree(lay["tiny.B"], tiny_files("B"), state, root)
    files_a = tiny_files("A")
    for rel, data in files_a.items():  # identical content: hard links to B's files
        if rel in (PATHS["readme"], PATHS["config"]):
            _put(os.path.join(lay["tiny.A"], rel), data)
        else:
            _link_or_put(os.path.join(lay["tiny.B"], rel), os.path.join(lay["tiny.A"], rel), data)
    _prune(lay["tiny.A"], set(files_a))
    files_c = tiny_files("C")
    for rel, data in files_c.items():
        if rel == PATHS["pr_note"]:
            _put(os.path.join(lay["tiny.C"], rel), data)
        else:
            _link_or_put(os.path.join(lay["tiny.B"], rel), os.path.join(lay["tiny.C"], rel), data)
    _prune(lay["tiny.C"], set(files_c))
    log("acme/many")
    _write_tree(lay["many"], many_files(), state, root)
    log("acme/private, acme/gated, acme/space")
    _write_tree(lay["private"], {"README.md": b"# acme/private\n\nsecret model\n",
                                 "secret.txt": b"the private bytes\n"}, state, root)
    _write_tree(lay["gated"], {"config.json": b'{"model_type": "gated"}\n'}, state, root)
    _write_tree(lay["space"], {"README.md": b"---\nsdk: static\n---\n# acme/space\n",
                               "index.html": b"<!doctype html><title>acme/space</title>\n"}, state, root)
    _write_tree(lay["whiteout-names"], whiteout_names_files(), state, root)
    log("acme/native")
    _write_tree(lay["native"], native_files(), state, root)
    log("bucket acme/cache")
    cfiles = cache_files()
    for i, rel in enumerate(sorted(cfiles)):
        _put(os.path.join(lay["cache"], rel), cfiles[rel], FIXED_MTIME + i)
    _prune(lay["cache"], set(cfiles))

    data = json.dumps(repos_json(root), indent=1, ensure_ascii=False).encode()
    _put(os.path.join(root, "repos.json"), data)
    tmp = state_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, state_path)
    with open(os.path.join(root, STAMP), "w", encoding="utf-8") as f:
        f.write(VERSION + "\n")
    return root


# --------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------


def _hub_module():
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import hub  # noqa: E402

    return hub


def _file_facts(hub, cache, base, kind):
    out = {}
    for rel, ap in hub.scan_dir(base).items():
        fo = hub.load_file(cache, rel, ap, kind)
        e = {"size": fo.size, "disk": ap}
        if kind == "bucket":
            e.update({"sha256": fo.sha256, "xetHash": fo.xet, "etag": fo.xet})
        else:
            e.update({"oid": fo.oid, "lfs": fo.lfs})
            if fo.lfs:
                e.update({"sha256": fo.sha256, "xetHash": fo.xet, "pointerSize": len(fo.pointer),
                          "pointer": fo.pointer.decode(), "etag": fo.sha256})
            else:
                e["etag"] = fo.oid
        out[rel] = e
    return out


def facts(root=None):
    """Everything a test may compare against: shas, refs, tokens, and per-file facts
    (size, oid, lfs, sha256, xetHash, etag, pointerSize, disk path) keyed by repo path."""
    root = os.path.abspath(root or default_root())
    if not is_built(root):
        build(root)
    hub = _hub_module()
    cache = hub.HashCache(root)
    lay = _layout(root)
    A, B, C = SHAS["tiny.A"], SHAS["tiny.B"], SHAS["tiny.C"]

    def dirs_of(files):
        ds = set()
        for p in files:
            parts = p.split("/")
            for i in range(1, len(parts)):
                ds.add("/".join(parts[:i]))
        return sorted(ds)

    repos = {}
    tiny_commits = {"A": A, "B": B, "C": C}
    tiny_files_by_sha = {sha: _file_facts(hub, cache, lay["tiny." + lab], "repo") for lab, sha in tiny_commits.items()}
    repos["acme/tiny"] = {
        "type": "model", "id": "acme/tiny", "private": False, "gated": False,
        "commits": tiny_commits, "refs": {"main": B, "v1.0": A, "refs/pr/1": C},
        "sha": B, "dirs_on_disk": {lab: lay["tiny." + lab] for lab in tiny_commits},
        "files_at": tiny_files_by_sha, "files": tiny_files_by_sha[B],
        "dirs": dirs_of(tiny_files_by_sha[B]),
    }
    for key, rid, rtype, priv, gated in (("many", "acme/many", "dataset", False, False),
                                         ("private", "acme/private", "model", True, False),
                                         ("gated", "acme/gated", "model", False, "manual"),
                                         ("space", "acme/space", "space", False, False),
                                         ("whiteout-names", "acme/whiteout-names", "model", False, False),
                                         ("native", "acme/native", "model", False, False)):
        files = _file_facts(hub, cache, lay[key], "repo")
        repos[rid] = {"type": rtype, "id": rid, "private": priv, "gated": gated, "sha": SHAS[key],
                      "refs": {"main": SHAS[key]}, "files": files, "dirs": dirs_of(files),
                      "dir_on_disk": lay[key]}
    repos["acme/many"]["refs"]["refs/convert/parquet"] = SHAS["many"]
    bfiles = _file_facts(hub, cache, lay["cache"], "bucket")
    cache.save()
    return {
        "root": root,
        "version": VERSION,
        "tokens": dict(TOKENS),
        "paths": dict(PATHS),
        "shas": dict(SHAS),
        "repos": repos,
        "buckets": {"acme/cache": {"id": "acme/cache", "private": False, "files": bfiles,
                                   "dirs": dirs_of(bfiles), "dir_on_disk": lay["cache"],
                                   "size": sum(f["size"] for f in bfiles.values())}},
    }


def main(argv):
    import argparse
    import time

    ap = argparse.ArgumentParser(description="build hfshim's test Hub fixtures")
    ap.add_argument("root", nargs="?", default=None, help="fixture dir (default $HFS_FIXTURES or build/fixtures)")
    ap.add_argument("--force", action="store_true", help="re-check every file even if the stamp says built")
    ap.add_argument("--facts", action="store_true", help="print facts(root) as JSON on stdout")
    args = ap.parse_args(argv)
    t = time.time()
    root = build(args.root, force=args.force, verbose=True)
    print("fixtures ready in %s (%.2fs)" % (root, time.time() - t), file=sys.stderr)
    if args.facts:
        json.dump(facts(root), sys.stdout, indent=1, ensure_ascii=False)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
