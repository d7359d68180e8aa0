#!/usr/bin/env python3
"""hfshim's test Hub server (Python 3 standard library only).

    python3 tests/hub/hub.py --root DIR --log FILE --ready FILE [--exit-with-parent]

Serves the repos and buckets described by DIR/repos.json (see tests/hub/fixtures.py) on
two listeners bound to 127.0.0.1 with free ports: the Hub API ("hub") and a stand-in for
the signed-URL CDN ("cdn") that LFS and bucket downloads are redirected to. When both
listen, the ready file gets {"hub": URL, "cdn": URL, "pid": N} (tmp + rename).
SIGTERM/SIGINT stop it. File hashes are cached in DIR/.hub-hashcache.json.

Hub listener (paths percent-decoded segment by segment; revisions as branch, tag, full
sha, HEAD, or refs/pr/N, refs/convert/X either %2F-encoded or raw):
  GET  /api/{models,datasets,spaces}/{id}[/revision/{rev}][?blobs=true]
  GET  /api/{type}s/{id}/refs[?include_prs=1]          GET /api/{type}s/{id}/commits/{rev}
  GET  /api/{type}s/{id}/tree/{rev}[/{path}]?recursive=&expand=&limit=&cursor=
  POST /api/{type}s/{id}/paths-info/{rev}              (JSON or form body)
  HEAD/GET /[datasets/|spaces/]{id}/(resolve|raw)/{rev}/{path}
       regular file: 200/206/416 with ETag "<git oid>"; LFS: 302 to {cdn}/lfs/{sha256}?sig=..
  GET  /api/buckets/{id}, /api/buckets/{id}/tree[/{prefix}], POST /api/buckets/{id}/paths-info
  HEAD/GET /buckets/{id}/resolve/{path}                 302 to {cdn}/xet/{xetHash}?sig=..
  GET  /api/whoami-v2
  write endpoints (preupload, LFS batch/verify, NDJSON commit, bucket batch): see hub_write.py
  any other POST/PUT/DELETE/PATCH: 501, logged with "write": true
CDN listener: GET/HEAD /lfs/{sha256}, /xet/{xetHash} (Range, 206, 416), PUT /upload/{sha256}
(LFS uploads, see hub_write.py); 403 for any request carrying Authorization or a bad signature.
Writes are kept in --state DIR (default: a temporary dir removed at exit), never in --root.

Test control (hub listener only, never logged): GET /_test/ping; GET /_test/faults (pending); POST /_test/fault
{"match","action","count","retry_after","delay","listener"?,"method"?,"location"?,"entries"?};
POST /_test/clear_faults (faults and latency); POST /_test/delay {"ms","cdn_base"?}; POST /_test/set_ref {"type","id","ref","sha"};
POST /_test/add_commit {"type","id","sha","dir"(relative to DIR),"ref"?,"title"?,"date"?};
POST /_test/reload (re-reads repos.json, then replays what clients wrote); POST /_test/create_repo,
POST /_test/repo (see hub_write.py).

Request log (--log): one JSON object per line, flushed per request: t, listener, method,
path (raw, without query), query, status (0 for an injected reset), range, auth, bytes
(body bytes sent), ua, dur, plus "write": true for writes and "fault": action if injected.

Fault actions (the next `count` requests whose raw path contains `match`):
  404, 500, 503    that error, without X-Error-Code (Retry-After: retry_after if given)
  429              rate limited, Retry-After and RateLimit t=retry_after (default 1)
  reset            the connection is reset, nothing answered
  garbage          200 with an HTML body
  slow             the answer starts after `delay` seconds (default 1): a stalled server
  drip             headers at once, then the body one byte every `delay` seconds (default 0.2)
  truncate         the body is cut at half its length, connection closed
  corrupt          right status and length, wrong bytes
  ignore_range     a Range header is ignored: 200 with the whole body
  whole_corrupt    the same, and the bytes are wrong (right length)
  redirect         302 to `location` (any URL, e.g. file:///etc/passwd)
  inject           the JSON array answer (tree page, paths-info) gets `entries` appended; a repo
                   info answer gets them appended to its siblings
  no_siblings      a repo info answer without its siblings (as the Hub sends when it cannot list
                   them there: clients then list the tree)
  endless          a tree page answered as if no cursor was given, with a Link rel="next" to a
                   new cursor every time (`entries`, if given, replace the page's entries)

Latency (--delay-ms N, or POST /_test/delay {"ms": N}): every answer of both listeners, except
test control, starts N ms after its request arrived, as over a real network. "cdn_base" moves
where LFS and bucket redirects point (e.g. a delaying proxy in front of nginx; "" = back to
--cdn-base or the CDN listener).

tests/hub/hubctl.py starts and drives it from Python tests.
"""

import argparse
import base64
import fnmatch
import hashlib
import hmac
import http.server
import json
import mimetypes
import os
import re
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

import hub_write

hub_write.H = sys.modules[__name__]  # the write side (hub_write.py) uses this module's types

LFS_THRESHOLD = 10 * 1024 * 1024
LFS_PATTERNS = ("*.bin", "*.safetensors", "*.zip", "*.neff", "*.pb", "*.gguf", "*.tar")
HASHCACHE_NAME = ".hub-hashcache.json"
HASHCACHE_VERSION = 1
SIG_SECRET = b"hfshim-test-hub-cdn-secret"
DEFAULT_PAGE = 1000
DEFAULT_PAGE_EXPAND = 50
MAX_PAGE = 10000
READ_CHUNK = 8 * 1024 * 1024
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")
MAX_WRITE_BODY = 1 << 30  # a commit's inline (base64) files; the Hub's limit is 1 GB
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
FAULT_ACTIONS = ("404", "500", "503", "429", "reset", "garbage", "slow", "drip", "truncate", "corrupt",
                 "ignore_range", "whole_corrupt", "redirect", "inject", "endless", "no_siblings")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")


# --------------------------------------------------------------------------------------
# Hashing and the on-disk hash cache
# --------------------------------------------------------------------------------------


def is_lfs(path, size):
    """LFS if over 10 MiB or the file name matches one of the LFS patterns."""
    base = path.rsplit("/", 1)[-1]
    if size > LFS_THRESHOLD:
        return True
    return any(fnmatch.fnmatchcase(base, p) for p in LFS_PATTERNS)


def git_blob_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256, size):
    return ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (sha256, size)).encode()


def xet_hash_of(sha256):
    """A deterministic stand-in for the Xet merkle hash (64 hex)."""
    return hashlib.sha256(b"xet" + sha256.encode()).hexdigest()


def cdn_sig(kind, digest):
    return hmac.new(SIG_SECRET, ("%s/%s" % (kind, digest)).encode(), hashlib.sha256).hexdigest()[:32]


def iso_ms(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


class HashCache:
    """Hashes of files under the root, cached in ROOT/.hub-hashcache.json.

    Keyed by (relative path, size, mtime_ns, ctime_ns, inode), so a changed file is re-hashed and
    a restart with unchanged fixtures hashes nothing. 'git' is the git blob sha1 of the
    content, 'sha256' the sha256 of the content.
    """

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.path = os.path.join(self.root, HASHCACHE_NAME)
        self.lock = threading.Lock()
        self.data = {}
        self.used = set()
        self.dirty = False
        try:
            with open(self.path, "r", encoding="utf-8") as f:
                obj = json.load(f)
            if obj.get("version") == HASHCACHE_VERSION:
                self.data = obj.get("entries", {})
        except (OSError, ValueError):
            pass

    def _key(self, abspath, st):
        rel = os.path.relpath(abspath, self.root)
        return "%s|%d|%d|%d|%d" % (rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def get(self, abspath, st, want):
        key = self._key(abspath, st)
        with self.lock:
            ent = dict(self.data.get(key, {}))
            self.used.add(key)
        missing = [w for w in want if w not in ent]
        if missing:
            hs = {}
            if "git" in missing:
                hs["git"] = hashlib.sha1(b"blob %d\0" % st.st_size)
            if "sha256" in missing:
                hs["sha256"] = hashlib.sha256()
            with open(abspath, "rb") as f:
                while True:
                    chunk = f.read(READ_CHUNK)
                    if not chunk:
                        break
                    for h in hs.values():
                        h.update(chunk)
            for k, h in hs.items():
                ent[k] = h.hexdigest()
            with self.lock:
                self.data[key] = ent
                self.dirty = True
        return ent

    def save(self, prune=False):
        with self.lock:
            if prune:
                stale = [k for k in self.data if k not in self.used]
                for k in stale:
                    del self.data[k]
                self.dirty = self.dirty or bool(stale)
            if not self.dirty:
                return
            tmp = "%s.%d.tmp" % (self.path, os.getpid())
            try:
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump({"version": HASHCACHE_VERSION, "entries": self.data}, f)
                os.replace(tmp, self.path)
                self.dirty = False
            except OSError:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


class FileObj:
    """One file of a commit or bucket, with everything the API reports about it."""

    __slots__ = ("path", "abspath", "size", "mtime", "lfs", "oid", "sha256", "xet", "pointer")

    def to_entry(self):
        e = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.lfs:
            e["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": len(self.pointer)}
            e["xetHash"] = self.xet
        return e

    def to_bucket_entry(self):
        return {
            "type": "file",
            "path": self.path,
            "size": self.size,
            "xetHash": self.xet,
            "mtime": iso_ms(self.mtime),
            "uploadedAt": iso_ms(self.mtime),
        }


def scan_dir(base):
    """Relative path ('/'-separated) -> absolute path of every regular file under base."""
    out = {}
    base = os.path.abspath(base)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in filenames:
            ap = os.path.join(dirpath, name)
            rel = os.path.relpath(ap, base).replace(os.sep, "/")
            out[rel] = ap
    return out


def load_file(cache, rel, ap, repo_kind):
    """repo_kind: 'repo' (git/LFS semantics) or 'bucket' (xet only)."""
    st = os.stat(ap)
    fo = FileObj()
    fo.path = rel
    fo.abspath = ap
    fo.size = st.st_size
    fo.mtime = st.st_mtime
    fo.pointer = None
    if repo_kind == "bucket":
        h = cache.get(ap, st, ("sha256",))
        fo.lfs = False
        fo.sha256 = h["sha256"]
        fo.oid = None
        fo.xet = xet_hash_of(fo.sha256)
    elif is_lfs(rel, st.st_size):
        h = cache.get(ap, st, ("sha256",))
        fo.lfs = True
        fo.sha256 = h["sha256"]
        fo.pointer = lfs_pointer(fo.sha256, fo.size)
        fo.oid = git_blob_oid(fo.pointer)
        fo.xet = xet_hash_of(fo.sha256)
    else:
        h = cache.get(ap, st, ("git",))
        fo.lfs = False
        fo.sha256 = None
        fo.oid = h["git"]
        fo.xet = None
    return fo


class Tree:
    """An immutable listing: files, implied directories, deterministic directory oids."""

    def __init__(self, files):
        self.files = files  # path -> FileObj
        subdirs = {"": set()}
        dfiles = {"": []}
        for p in files:
            parts = p.split("/")
            parent = ""
            for i in range(len(parts) - 1):
                d = "/".join(parts[: i + 1])
                subdirs.setdefault(parent, set()).add(d)
                subdirs.setdefault(d, set())
                dfiles.setdefault(d, [])
                parent = d
            dfiles.setdefault(parent, []).append(p)
        self.subdirs = {d: sorted(s) for d, s in subdirs.items()}
        self.dfiles = {d: sorted(s) for d, s in dfiles.items()}
        self.dirs = set(self.subdirs)
        self.dir_oid = {}
        # bottom-up: deepest directories first, the root ('') last
        for d in sorted(self.dirs, key=lambda x: -(x.count("/") + 1) if x else 1):
            lines = []
            for sd in self.subdirs[d]:
                lines.append(b"40000 " + sd.rsplit("/", 1)[-1].encode() + b"\0" + self.dir_oid[sd].encode())
            for f in self.dfiles[d]:
                oid = files[f].oid or files[f].xet or ""
                lines.append(b"100644 " + f.rsplit("/", 1)[-1].encode() + b"\0" + oid.encode())
            body = b"".join(lines)
            self.dir_oid[d] = hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()
        self._rec = {}

    def listing(self, d, recursive):
        """Ordered (kind, path) pairs under directory d: directories first, then files."""
        if not recursive:
            return [("d", sd) for sd in self.subdirs[d]] + [("f", f) for f in self.dfiles[d]]
        got = self._rec.get(d)
        if got is None:
            got = []

            def rec(x):
                for sd in self.subdirs[x]:
                    got.append(("d", sd))
                    rec(sd)
                for f in self.dfiles[x]:
                    got.append(("f", f))

            rec(d)
            self._rec[d] = got
        return got

    def dir_entry(self, d):
        return {"type": "directory", "oid": self.dir_oid[d], "size": 0, "path": d}


# --------------------------------------------------------------------------------------
# Repos, buckets, tokens
# --------------------------------------------------------------------------------------


class Repo:
    def __init__(self, spec, root, cache, commit_trees):
        self.type = spec.get("type", "model")
        if self.type not in ("model", "dataset", "space"):
            raise ValueError("bad repo type %r" % self.type)
        self.id = spec["id"]
        self.private = bool(spec.get("private", False))
        gated = spec.get("gated", False)
        self.gated = ("manual" if gated is True else gated) or False
        self.last_modified = spec.get("lastModified", "2026-01-01T00:00:00.000Z")
        self.created_at = spec.get("createdAt", self.last_modified)
        self.default_branch = spec.get("defaultBranch", "main")
        self.extra = dict(spec.get("info", {}))
        self.commit_info = dict(spec.get("commitInfo", {}))
        self.commits = {}  # sha -> Tree (dict order = history order)
        for sha, rel in spec.get("commits", {}).items():
            sha = sha.lower()
            if not SHA_RE.match(sha):
                raise ValueError("%s: bad commit sha %r" % (self.id, sha))
            self.add_commit(sha, os.path.join(root, rel), cache, commit_trees)
        self.branches, self.tags, self.prs, self.converts = {}, {}, {}, {}
        tagnames = set(spec.get("tags", []))
        for name, sha in spec.get("refs", {}).items():
            self.set_ref(name, sha.lower(), tagnames)
        self._last_commit = {}

    def add_commit(self, sha, absdir, cache, commit_trees=None):
        absdir = os.path.abspath(absdir)
        tree = commit_trees.get(absdir) if commit_trees is not None else None
        if tree is None:
            files = {rel: load_file(cache, rel, ap, "repo") for rel, ap in scan_dir(absdir).items()}
            tree = Tree(files)
            if commit_trees is not None:
                commit_trees[absdir] = tree
        self.commits[sha] = tree
        self._last_commit = {}

    def set_ref(self, name, sha, tagnames=()):
        if sha not in self.commits:
            raise ValueError("%s: ref %s -> unknown commit %s" % (self.id, name, sha))
        if name.startswith("refs/heads/"):
            self.branches[name[len("refs/heads/"):]] = sha
        elif name.startswith("refs/tags/"):
            self.tags[name[len("refs/tags/"):]] = sha
        elif name.startswith("refs/pr/"):
            self.prs[name] = sha
        elif name.startswith("refs/convert/"):
            self.converts[name] = sha
        elif name in tagnames or name in self.tags:
            self.tags[name] = sha
        else:
            self.branches[name] = sha

    def resolve(self, rev):
        """Revision (branch, tag, full sha, refs/...) -> commit sha, or None."""
        if rev is None or rev == "" or rev == "HEAD":
            rev = self.default_branch
        low = rev.lower()
        if SHA_RE.match(low) and low in self.commits:
            return low
        for table, name in ((self.branches, rev), (self.tags, rev)):
            if name in table:
                return table[name]
        if rev.startswith("refs/heads/"):
            return self.branches.get(rev[11:])
        if rev.startswith("refs/tags/"):
            return self.tags.get(rev[10:])
        if rev.startswith("refs/pr/"):
            return self.prs.get(rev)
        if rev.startswith("refs/convert/"):
            return self.converts.get(rev)
        return None

    def commit_meta(self, sha):
        info = self.commit_info.get(sha, {})
        return {
            "id": sha,
            "title": info.get("title", "Commit %s" % sha[:7]),
            "date": info.get("date", self.last_modified),
        }

    def last_commits(self, sha):
        """path (files and directories) -> sha of the last commit that changed it (linear history)."""
        got = self._last_commit.get(sha)
        if got is not None:
            return got
        history = list(self.commits)
        i = history.index(sha)
        trees = [self.commits[s] for s in history[: i + 1]]
        cur = trees[-1]

        def oid_in(tree, path, kind):
            if kind == "f":
                fo = tree.files.get(path)
                return fo.oid if fo else None
            return tree.dir_oid.get(path)

        got = {}
        for kind, items in (("f", cur.files), ("d", cur.dirs)):
            for p in items:
                mine = oid_in(cur, p, kind)
                j = len(trees) - 1
                while j > 0 and oid_in(trees[j - 1], p, kind) == mine:
                    j -= 1
                got[p] = history[j]
        self._last_commit[sha] = got
        return got

    def api_prefix(self):
        return "/api/%ss/%s" % (self.type, self.id)


class Bucket:
    def __init__(self, spec, root, cache):
        self.id = spec["id"]
        self.private = bool(spec.get("private", False))
        self.updated_at = spec.get("updatedAt", "2026-01-01T00:00:00.000Z")
        self.created_at = spec.get("createdAt", self.updated_at)
        self.dir = os.path.abspath(os.path.join(root, spec["dir"]))
        files = {rel: load_file(cache, rel, ap, "bucket") for rel, ap in scan_dir(self.dir).items()}
        self.tree = Tree(files)
        self.dir_uploaded = {}
        for p, fo in files.items():
            parts = p.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                self.dir_uploaded[d] = max(self.dir_uploaded.get(d, 0), fo.mtime)

    def dir_entry(self, d):
        return {"type": "directory", "path": d, "uploadedAt": iso_ms(self.dir_uploaded.get(d, 0))}


class State:
    """Everything loaded from repos.json (replaced as a whole on /_test/reload)."""

    def __init__(self, root, cache):
        with open(os.path.join(root, "repos.json"), "r", encoding="utf-8") as f:
            spec = json.load(f)
        trees = {}
        self.repos = {}
        for r in spec.get("repos", []):
            repo = Repo(r, root, cache, trees)
            self.repos[(repo.type, repo.id)] = repo
        self.buckets = {}
        for b in spec.get("buckets", []):
            bucket = Bucket(b, root, cache)
            self.buckets[bucket.id] = bucket
        self.tokens = spec.get("tokens", {})
        self.lfs_index = {}
        self.xet_index = {}
        self.trees = trees
        for repo in self.repos.values():
            for tree in repo.commits.values():
                self.index_tree(tree)
        for bucket in self.buckets.values():
            for fo in bucket.tree.files.values():
                self.xet_index[fo.xet] = fo

    def index_tree(self, tree):
        for fo in tree.files.values():
            if fo.lfs:
                self.lfs_index[fo.sha256] = fo
                self.xet_index[fo.xet] = fo


# --------------------------------------------------------------------------------------
# The application: state, faults, log
# --------------------------------------------------------------------------------------


class App:
    def __init__(self, root, log_path, state_dir=None):
        self.root = os.path.abspath(root)
        self.cache = HashCache(self.root)
        self.store = hub_write.Store(state_dir)
        self.state = State(self.root, self.cache)
        self.store.replay(self.state)
        self.cache.save(prune=True)
        self.lock = threading.Lock()
        self.faults = []
        self.log_lock = threading.Lock()
        # Answers being sent and not yet logged: the log line is written after the response, so
        # a test that reads the log once its client has exited first waits for this to be 0.
        self.inflight = 0
        self.pending = 0  # requests received and not yet logged (inflight ones included)
        self.idle = threading.Condition()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.hub_url = None
        self.cdn_url = None
        self.cdn_base = None  # --cdn-base; cdn_url is what redirects use now
        self.delay_ms = 0

    def log(self, entry):
        if not self.log_file:
            return
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.log_lock:
            self.log_file.write(line)
            self.log_file.flush()

    def take_fault(self, listener, method, path):
        with self.lock:
            for f in self.faults:
                if f.get("listener") and f["listener"] != listener:
                    continue
                if f.get("method") and f["method"].upper() != method:
                    continue
                if f["match"] not in path:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return dict(f)
        return None

    def reload(self):
        st = State(self.root, self.cache)
        with self.store.lock:
            self.store.replay(st)
        self.cache.save()
        with self.lock:
            self.state = st


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class Resp:
    """A response: status, headers, and a body (bytes) or a file range."""

    def __init__(self, status, headers=None, body=b"", file=None, start=0, length=None):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.file = file
        self.start = start
        self.length = length if length is not None else len(body)


class Abort(Exception):
    def __init__(self, resp):
        super().__init__(resp.status)
        self.resp = resp


def ascii_header(s):
    return str(s).encode("ascii", "backslashreplace").decode("ascii").replace("\r", " ").replace("\n", " ")


def json_resp(status, obj, headers=()):
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Resp(status, [("Content-Type", "application/json; charset=utf-8")] + list(headers), body)


def error(status, code, message, headers=()):
    h = list(headers)
    if code:
        h.append(("X-Error-Code", code))
    h.append(("X-Error-Message", ascii_header(message)))
    return json_resp(status, {"error": message}, h)


def parse_bool(v, default=False):
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("1", "true", "yes", "on")


def parse_range(header, size):
    """None: ignore (serve 200); ('unsat',); ('ok', start, end_inclusive)."""
    if header is None:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m:
        return None
    a, b = m.groups()
    if a == "" and b == "":
        return None
    if a == "":
        n = int(b)
        if n == 0 or size == 0:
            return ("unsat",)
        return ("ok", max(0, size - n), size - 1)
    start = int(a)
    if b != "" and int(b) < start:
        return None
    if start >= size:
        return ("unsat",)
    end = size - 1 if b == "" else min(int(b), size - 1)
    return ("ok", start, end)


def content_resp(headers, req_headers, etag, size, abspath=None, data=None, ctype=None):
    """200/206/416 for a byte source (a file or bytes), with Range and If-Range."""
    h = list(headers) + [("Accept-Ranges", "bytes"), ("ETag", etag)]
    h.append(("Content-Type", ctype or "application/octet-stream"))
    rng = req_headers.get("Range")
    if_range = req_headers.get("If-Range")
    if rng is not None and if_range is not None and if_range.strip() != etag:
        rng = None
    r = parse_range(rng, size)
    if r is not None and r[0] == "unsat":
        h = [x for x in h if x[0] != "Content-Type"]
        return error(416, None, "Requested range not satisfiable",
                     h + [("Content-Range", "bytes */%d" % size)])
    if r is None:
        status, start, length = 200, 0, size
    else:
        status, start, length = 206, r[1], r[2] - r[1] + 1
        h.append(("Content-Range", "bytes %d-%d/%d" % (r[1], r[2], size)))
    if data is not None:
        return Resp(status, h, data[start:start + length])
    return Resp(status, h, file=abspath, start=start, length=length)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, app, listener):
        self.app = app
        self.listener = listener
        super().__init__(addr, handler)


class Handler(http.server.BaseHTTPRequestHandler, hub_write.WriteMixin):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate sends; without TCP_NODELAY, Nagle holds the body for
    # the client's delayed ACK (40 ms per API call on a reused connection). The Hub does not.
    disable_nagle_algorithm = True
    server_version = "hfshim-test-hub/1"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):  # quiet
        pass

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # -- request body ------------------------------------------------------------------
    def read_body(self, keep=16 * 1024 * 1024):
        """Reads the whole request body; returns at most `keep` bytes of it (body_overflow
        tells whether there was more)."""
        self.body_overflow = False
        out = bytearray()
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                n = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if n == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                while n > 0:
                    chunk = self.rfile.read(min(n, 1 << 20))
                    if not chunk:
                        break
                    n -= len(chunk)
                    self.body_overflow |= len(out) + len(chunk) > keep
                    if len(out) < keep:
                        out += chunk[: keep - len(out)]
                self.rfile.readline(3)
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                break
            n -= len(chunk)
            self.body_overflow |= len(out) + len(chunk) > keep
            if len(out) < keep:
                out += chunk[: keep - len(out)]
        return bytes(out)

    # -- dispatch ----------------------------------------------------------------------
    def dispatch(self):
        app = self.server.app
        listener = self.server.listener
        t0 = time.time()
        raw = self.path
        if raw.startswith("http://") or raw.startswith("https://"):
            raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
        if not raw.isascii():  # raw UTF-8 in the request line (http.server decoded it as latin-1)
            try:
                raw = raw.encode("latin-1").decode("utf-8")
            except UnicodeError:
                pass
        path, _, query = raw.partition("?")
        method = self.command
        self.body = b""
        # LFS uploads to the CDN are streamed to disk by hub_write.cdn_put, not buffered here
        self.body_pending = listener == "cdn" and method == "PUT"
        if not self.body_pending and (method in WRITE_METHODS or self.headers.get("Content-Length")
                                      or self.headers.get("Transfer-Encoding")):
            try:
                self.body = self.read_body(keep=MAX_WRITE_BODY if listener == "hub" else 16 * 1024 * 1024)
            except (OSError, ValueError):
                self.close_connection = True
                return

        if listener == "hub" and path.startswith("/_test/"):
            resp = self.control(path, method)
            self.send(resp, method)
            return
        # From the request until its log line is written (a slow fault's wait included):
        # /_test/idle?all=1 waits for these too, so a log cleared for the next test gets no late
        # line of this one.
        with app.idle:
            app.pending += 1
        try:
            self.answer(app, listener, t0, path, query, method)
        finally:
            with app.idle:
                app.pending -= 1
                app.idle.notify_all()

    def client_gone(self, seconds):
        """Waits up to `seconds`; True as soon as the client closed its connection."""
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if r:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
                time.sleep(min(left, 0.05))  # a pipelined request: keep waiting

    def answer(self, app, listener, t0, path, query, method):
        entry = {
            "t": round(t0, 6),
            "listener": listener,
            "method": method,
            "path": path,
            "query": query,
            "status": None,
            "range": self.headers.get("Range"),
            "auth": self.headers.get("Authorization") is not None,
            "bytes": 0,
            "ua": self.headers.get("User-Agent"),
        }
        is_write = ((method in WRITE_METHODS and not re.search(r"/paths-info(/|$)", path))
                    or "/xet-write-token" in path)
        if is_write:
            entry["write"] = True

        if app.delay_ms > 0:  # latency before the first byte, as over a real network
            time.sleep(app.delay_ms / 1000.0)
        fault = app.take_fault(listener, method, path)
        truncate = False
        corrupt = False
        drip = None
        act = fault["action"] if fault else None
        if fault:
            entry["fault"] = fault["action"]
            if act == "slow" and self.client_gone(float(fault.get("delay") or 1.0)):
                entry["status"] = 0  # the client gave up first
                entry["dur"] = round(time.time() - t0, 6)
                app.log(entry)
                self.close_connection = True
                return
            elif act == "drip":
                drip = float(fault.get("delay") or 0.2)
            elif act == "truncate":
                truncate = True
            elif act == "corrupt":  # right status and length, wrong bytes
                corrupt = True
            elif act in ("ignore_range", "whole_corrupt"):
                del self.headers["Range"]
                corrupt = act == "whole_corrupt"
            elif act == "endless":
                query = "&".join(kv for kv in query.split("&") if not kv.startswith("cursor="))
            elif act == "reset":
                entry["status"] = 0
                entry["dur"] = round(time.time() - t0, 6)
                app.log(entry)
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                self.close_connection = True
                return

        if act in ("404", "500", "503", "429", "garbage", "redirect"):
            resp = self.fault_resp(fault)
        else:
            try:
                if listener == "cdn":
                    resp = self.route_cdn(path, query, method)
                else:
                    resp = self.route_hub(path, query, method, is_write)
            except Abort as a:
                resp = a.resp
            except Exception as e:  # a bug in the server: report it loudly
                import traceback

                traceback.print_exc()
                resp = error(500, None, "test hub internal error: %r" % (e,))
        if act in ("inject", "endless", "no_siblings"):
            resp = self.hostile_listing(resp, fault)
        entry["status"] = resp.status
        if corrupt and resp.file is not None and resp.length:
            with open(resp.file, "rb") as f:
                f.seek(resp.start)
                body = bytes(b ^ 0x5A for b in f.read(resp.length))
            resp = Resp(resp.status, resp.headers, body)
        if self.body_pending:  # an unread request body would be taken for the next request
            self.close_connection = True
        with app.idle:  # from the first byte of the answer until its log line is written
            app.inflight += 1
        try:
            entry["bytes"] = self.send(resp, method, truncate, drip)
            entry["dur"] = round(time.time() - t0, 6)
            app.log(entry)
        finally:
            with app.idle:
                app.inflight -= 1
                app.idle.notify_all()

    def hostile_listing(self, resp, fault):
        """A JSON array answer with fault["entries"] appended ("inject"), or replacing it, with a
        Link rel="next" to a cursor never given before ("endless")."""
        try:
            items = json.loads(resp.body.decode("utf-8")) if resp.status == 200 else None
        except ValueError:
            items = None
        if isinstance(items, dict) and isinstance(items.get("siblings"), list):
            if fault["action"] == "no_siblings":
                del items["siblings"]
            elif fault["action"] == "inject":
                items["siblings"] += list(fault.get("entries") or [])
            return json_resp(200, items, [(k, v) for k, v in resp.headers if k.lower() != "content-type"])
        if not isinstance(items, list):
            return resp
        extra = list(fault.get("entries") or [])
        h = [(k, v) for k, v in resp.headers if k.lower() not in ("link", "content-type")]
        if fault["action"] == "inject":
            items += extra
        else:
            if fault.get("entries") is not None:
                items = extra
            app = self.server.app
            with app.lock:
                app.endless_n = getattr(app, "endless_n", 0) + 1
                n = app.endless_n
            raw_path = self.path.split("?", 1)[0]
            if raw_path.startswith("http"):
                raw_path = "/" + raw_path.split("/", 3)[3]
            h.append(("Link", '<%s%s?recursive=true&cursor=endless%d>; rel="next"' % (self.base_url(), raw_path, n)))
        r = json_resp(200, items, h)
        return r

    def fault_resp(self, fault):
        act = fault["action"]
        ra = fault.get("retry_after")
        if act == "redirect":
            loc = str(fault.get("location") or "file:///etc/passwd")
            return Resp(302, [("Location", ascii_header(loc)), ("Content-Type", "text/plain")],
                        ("Found. Redirecting to %s" % loc).encode())
        if act == "garbage":
            return Resp(200, [("Content-Type", "text/html; charset=utf-8")],
                        b"<!doctype html><html><body>502 garbage from test hub fault</body></html>")
        status = int(act)
        h = []
        if act == "429":
            t = int(ra if ra is not None else 1)
            h += [("Retry-After", str(t)), ("RateLimit", '"api";r=0;t=%d' % t),
                  ("RateLimit-Policy", '"fixed window";"api";q=500;w=300')]
            return error(429, None, "You have been rate-limited by the test hub", h)
        if ra is not None:
            h.append(("Retry-After", str(int(ra))))
        return error(status, None, "Injected fault %s" % act, h)

    def send(self, resp, method, truncate=False, drip=None):
        """Writes the response; returns the number of body bytes sent. drip: seconds between
        body bytes (a server that keeps a transfer alive without making progress)."""
        sent = 0
        try:
            self.send_response(resp.status)
            for k, v in resp.headers:
                if k.lower() != "content-length":
                    self.send_header(k, v)
            clen = resp.length
            for k, v in resp.headers:
                if k.lower() == "content-length":
                    clen = int(v)
            self.send_header("Content-Length", str(clen))
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if method == "HEAD":
                return 0
            want = resp.length
            if truncate:
                want = resp.length // 2
                self.close_connection = True
            if drip is not None:
                body = resp.body
                if resp.file is not None:
                    with open(resp.file, "rb") as f:
                        f.seek(resp.start)
                        body = f.read(want)
                for i in range(want):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    sent += 1
                    time.sleep(drip)
            elif resp.file is not None:
                if want > 0:
                    with open(resp.file, "rb") as f:
                        sent = self.connection.sendfile(f, resp.start, want)
            elif want:
                self.wfile.write(resp.body[:want])
                sent = want
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True
        return sent

    # -- test control ------------------------------------------------------------------
    def control(self, path, method):
        app = self.server.app
        try:
            args = json.loads(self.body.decode("utf-8")) if self.body.strip() else {}
        except ValueError:
            return json_resp(400, {"error": "bad JSON"})
        if path == "/_test/ping":
            return json_resp(200, {"ok": True, "pid": os.getpid(), "hub": app.hub_url, "cdn": app.cdn_url})
        if path == "/_test/idle":  # every answer sent so far is in the log (all=1: every request)
            every = "all=1" in (self.path.partition("?")[2] or "")
            with app.idle:
                ok = app.idle.wait_for(lambda: (app.pending if every else app.inflight) == 0, timeout=10)
            return json_resp(200 if ok else 503, {"idle": ok, "inflight": app.inflight})
        if path == "/_test/faults":  # the faults not used up yet (a test waits for one to be taken)
            with app.lock:
                return json_resp(200, {"faults": [dict(f) for f in app.faults]})
        if method != "POST":
            return json_resp(405, {"error": "POST only"})
        if path == "/_test/fault":
            act = str(args.get("action", ""))
            if act not in FAULT_ACTIONS or not args.get("match"):
                return json_resp(400, {"error": "need match and action in %s" % (FAULT_ACTIONS,)})
            f = {
                "match": args["match"],
                "action": act,
                "count": int(args.get("count", 1)),
                "retry_after": args.get("retry_after"),
                "delay": args.get("delay"),
                "listener": args.get("listener"),
                "method": args.get("method"),
                "location": args.get("location"),
                "entries": args.get("entries"),
            }
            with app.lock:
                app.faults.append(f)
            return json_resp(200, {"ok": True, "faults": len(app.faults)})
        if path == "/_test/delay":
            try:
                ms = float(args.get("ms", 0))
            except (TypeError, ValueError):
                return json_resp(400, {"error": "ms must be a number"})
            app.delay_ms = max(0.0, ms)
            if "cdn_base" in args:
                base = str(args.get("cdn_base") or "").rstrip("/")
                app.cdn_url = base or app.cdn_base
            return json_resp(200, {"ok": True, "ms": app.delay_ms, "cdn": app.cdn_url})
        if path == "/_test/clear_faults":  # and the latency: each test starts from a plain hub
            with app.lock:
                app.faults = []
            app.delay_ms = 0
            app.cdn_url = app.cdn_base
            return json_resp(200, {"ok": True})
        if path == "/_test/set_ref":
            st = app.state
            repo = st.repos.get((args.get("type", "model"), args.get("id")))
            if repo is None:
                return json_resp(404, {"error": "no such repo"})
            try:
                with app.lock:
                    repo.set_ref(args["ref"], str(args["sha"]).lower())
            except (KeyError, ValueError) as e:
                return json_resp(400, {"error": str(e)})
            return json_resp(200, {"ok": True})
        if path == "/_test/add_commit":
            st = app.state
            repo = st.repos.get((args.get("type", "model"), args.get("id")))
            if repo is None:
                return json_resp(404, {"error": "no such repo"})
            sha = str(args.get("sha", "")).lower()
            if not SHA_RE.match(sha):
                return json_resp(400, {"error": "bad sha"})
            d = os.path.join(app.root, args.get("dir", ""))
            if not os.path.isdir(d):
                return json_resp(400, {"error": "no such dir"})
            with app.lock:
                repo.add_commit(sha, d, app.cache, st.trees)
                st.index_tree(repo.commits[sha])
                if args.get("ref"):
                    repo.set_ref(args["ref"], sha)
                for k in ("title", "date"):
                    if args.get(k):
                        repo.commit_info.setdefault(sha, {})[k] = args[k]
            app.cache.save()
            return json_resp(200, {"ok": True})
        if path == "/_test/reload":
            try:
                app.reload()
            except (OSError, ValueError, KeyError) as e:
                return json_resp(400, {"error": str(e)})
            return json_resp(200, {"ok": True})
        return self.write_control(path, args) or json_resp(404, {"error": "unknown control endpoint"})

    # -- auth ----------------------------------------------------------------------------
    def token(self):
        """None (anonymous) or the token's grant dict; raises Abort on a bad token."""
        h = self.headers.get("Authorization")
        if h is None:
            return None
        parts = h.strip().split(None, 1)
        tok = parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else None
        grants = self.server.app.state.tokens
        if not tok or tok not in grants:
            raise Abort(error(401, None, "Invalid credentials in Authorization header"))
        g = grants[tok] or {}
        return {"name": tok, "read": g.get("read", []), "write": g.get("write", [])}

    @staticmethod
    def can_read(grant, kind, rid):
        reads = grant.get("read", [])
        return "*" in reads or rid in reads or ("%ss/%s" % (kind, rid)) in reads

    def check_access(self, kind, rid, private, gated, headers=()):
        grant = self.token()
        if not private and not gated:
            return grant
        if grant is None:
            if gated and not private:
                raise Abort(error(401, "GatedRepo",
                                  "Access to model %s is restricted. You must have access to it and be "
                                  "authenticated to access it. Please log in." % rid, headers))
            raise Abort(error(401, "RepoNotFound", "Invalid username or password.", headers))
        if self.can_read(grant, kind, rid):
            return grant
        if gated and not private:
            raise Abort(error(403, "GatedRepo",
                              "Access to model %s is restricted and you are not in the authorized list. "
                              "Visit https://huggingface.co/%s to ask for access." % (rid, rid), headers))
        raise Abort(error(403, None, "You don't have access to this repository.", headers))

    def repo_or_abort(self, kind, rid, headers=()):
        repo = self.server.app.state.repos.get((kind, rid))
        if repo is None:
            grant = self.token()
            status = 401 if grant is None else 404
            raise Abort(error(status, "RepoNotFound", "Repository not found" if grant else
                              "Invalid username or password.", headers))
        self.check_access(kind, rid, repo.private, repo.gated, headers)
        return repo

    def bucket_or_abort(self, bid):
        bucket = self.server.app.state.buckets.get(bid)
        if bucket is None:
            grant = self.token()
            raise Abort(error(401 if grant is None else 404, "RepoNotFound", "Bucket not found"))
        self.check_access("bucket", bid, bucket.private, False)
        return bucket

    def rev_or_abort(self, repo, rev, headers=()):
        sha = repo.resolve(rev)
        if sha is None:
            raise Abort(error(404, "RevisionNotFound", "Invalid rev id: %s" % rev, headers))
        return sha

    def base_url(self):
        host = self.headers.get("Host")
        return ("http://" + host) if host else self.server.app.hub_url

    # -- routing: hub --------------------------------------------------------------------
    def route_hub(self, path, query, method, is_write):
        segs = path.split("/")[1:]
        dsegs = [urllib.parse.unquote(s) for s in segs]
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        app = self.server.app

        if is_write:
            self.token()
            resp = self.route_write(path, dsegs, method)
            return resp or error(501, "NotImplemented", "This write endpoint is not implemented by the test hub")
        if method not in ("GET", "HEAD", "POST"):
            return error(405, None, "Method not allowed")

        if dsegs and dsegs[0] == "api":
            if len(dsegs) >= 2 and dsegs[1] == "whoami-v2":
                grant = self.token()
                if grant is None:
                    return error(401, None, "Invalid username or password.")
                return json_resp(200, {"type": "user", "id": "64" + hashlib.sha1(grant["name"].encode()).hexdigest()[:22],
                                       "name": "hfshim-tester", "fullname": "hfshim tester", "orgs": [],
                                       "auth": {"type": "access_token",
                                                "accessToken": {"displayName": "test", "role": "read"}}})
            if len(dsegs) >= 4 and dsegs[1] in REPO_TYPES:
                return self.api_repo(REPO_TYPES[dsegs[1]], "%s/%s" % (dsegs[2], dsegs[3]), segs[4:], q, method)
            if len(dsegs) >= 4 and dsegs[1] == "buckets":
                return self.api_bucket("%s/%s" % (dsegs[2], dsegs[3]), segs[4:], q, method)
            return error(404, None, "Not found")

        # downloads
        if len(dsegs) >= 4 and dsegs[0] == "buckets" and dsegs[3] == "resolve":
            return self.bucket_resolve("%s/%s" % (dsegs[1], dsegs[2]), segs[4:], method)
        if len(dsegs) >= 5 and dsegs[0] in ("datasets", "spaces") and dsegs[3] in ("resolve", "raw"):
            return self.resolve(REPO_TYPES[dsegs[0]], "%s/%s" % (dsegs[1], dsegs[2]), dsegs[3], segs[4:], q)
        if len(dsegs) >= 4 and dsegs[2] in ("resolve", "raw"):
            return self.resolve("model", "%s/%s" % (dsegs[0], dsegs[1]), dsegs[2], segs[3:], q)
        return error(404, None, "Not found")

    @staticmethod
    def split_rev(rawsegs):
        """Raw path segments after tree/ or resolve/ -> (rev, path). Handles refs/pr/N unencoded."""
        d = [urllib.parse.unquote(s) for s in rawsegs]
        if not d:
            return None, ""
        if len(d) >= 3 and d[0] == "refs" and d[1] in ("pr", "convert", "heads", "tags"):
            return "/".join(d[:3]), "/".join(d[3:])
        return d[0], "/".join(d[1:])

    def api_repo(self, kind, rid, rest, q, method):
        repo = self.repo_or_abort(kind, rid)
        drest = [urllib.parse.unquote(s) for s in rest]
        action = drest[0] if drest else ""
        if action in ("", "revision") and method in ("GET", "HEAD"):
            rev = "/".join(drest[1:]) if action == "revision" else None
            sha = self.rev_or_abort(repo, rev)
            return self.repo_info(repo, sha, parse_bool((q.get("blobs") or [None])[0]))
        if action == "refs" and method in ("GET", "HEAD"):
            return self.repo_refs(repo, parse_bool((q.get("include_prs") or [None])[0]))
        if action == "tree" and method in ("GET", "HEAD"):
            rev, p = self.split_rev(rest[1:])
            sha = self.rev_or_abort(repo, rev)
            return self.repo_tree(repo, sha, p.strip("/"), q)
        if action == "paths-info" and method == "POST":
            rev = "/".join(drest[1:]) or None
            sha = self.rev_or_abort(repo, rev)
            return self.repo_paths_info(repo, sha)
        if action == "commits" and method in ("GET", "HEAD"):
            rev = "/".join(drest[1:]) or None
            sha = self.rev_or_abort(repo, rev)
            hist = list(repo.commits)
            hist = hist[: hist.index(sha) + 1][::-1]
            out = []
            for s in hist:
                m = repo.commit_meta(s)
                out.append({"id": s, "title": m["title"], "message": "", "authors": [{"user": "hfshim"}],
                            "date": m["date"]})
            return json_resp(200, out, [("X-Total-Count", str(len(out)))])
        return error(404, None, "Not found")

    def repo_info(self, repo, sha, blobs):
        tree = repo.commits[sha]
        siblings = []
        for p in sorted(tree.files):
            s = {"rfilename": p}
            if blobs:
                fo = tree.files[p]
                s["blobId"] = fo.oid
                s["size"] = fo.size
                if fo.lfs:
                    s["lfs"] = {"sha256": fo.sha256, "size": fo.size, "pointerSize": len(fo.pointer)}
            siblings.append(s)
        meta = repo.commit_meta(sha)
        info = {
            "_id": hashlib.sha1(("%s/%s" % (repo.type, repo.id)).encode()).hexdigest()[:24],
            "id": repo.id,
            "author": repo.id.split("/")[0],
            "sha": sha,
            "lastModified": meta["date"],
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
        if repo.type == "model":
            info["modelId"] = repo.id
        info.update(repo.extra)
        return json_resp(200, info)

    def repo_refs(self, repo, include_prs):
        def ent(name, ref, sha):
            return {"name": name, "ref": ref, "targetCommit": sha}

        out = {
            "branches": [ent(n, "refs/heads/" + n, s) for n, s in sorted(repo.branches.items())],
            "converts": [ent(n[len("refs/convert/"):], n, s) for n, s in sorted(repo.converts.items())],
            "tags": [ent(n, "refs/tags/" + n, s) for n, s in sorted(repo.tags.items())],
        }
        if include_prs:
            out["pullRequests"] = [ent(n[len("refs/"):], n, s) for n, s in sorted(repo.prs.items())]
        return json_resp(200, out)

    def expand_entry(self, repo, sha, e):
        lc = repo.last_commits(sha).get(e["path"])
        if lc:
            m = repo.commit_meta(lc)
            e["lastCommit"] = {"id": m["id"], "title": m["title"], "date": m["date"]}
        if e["type"] == "file":
            e["securityFileStatus"] = {"status": "safe"}
        return e

    def page(self, items, q, expand, make):
        """Applies limit/cursor to items (a list); returns (entries, Link header or None)."""
        try:
            limit = int((q.get("limit") or [0])[0] or 0)
        except ValueError:
            raise Abort(error(400, None, "Invalid limit"))
        if limit <= 0:
            limit = DEFAULT_PAGE_EXPAND if expand else DEFAULT_PAGE
        limit = min(limit, MAX_PAGE)
        offset = 0
        cur = (q.get("cursor") or [None])[0]
        if cur:
            try:
                txt = base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4)).decode()
                if not txt.startswith("o:"):
                    raise ValueError
                offset = int(txt[2:])
            except (ValueError, UnicodeDecodeError):
                raise Abort(error(400, None, "Invalid cursor"))
        chunk = items[offset:offset + limit]
        entries = [make(x) for x in chunk]
        link = None
        if offset + limit < len(items):
            nxt = base64.urlsafe_b64encode(("o:%d" % (offset + limit)).encode()).decode().rstrip("=")
            pairs = [(k, v) for k, vs in q.items() if k != "cursor" for v in vs]
            pairs.append(("cursor", nxt))
            raw_path = self.path.split("?", 1)[0]
            if raw_path.startswith("http"):
                raw_path = "/" + raw_path.split("/", 3)[3]
            link = '<%s%s?%s>; rel="next"' % (self.base_url(), raw_path, urllib.parse.urlencode(pairs))
        return entries, link

    def repo_tree(self, repo, sha, p, q):
        tree = repo.commits[sha]
        recursive = parse_bool((q.get("recursive") or [None])[0])
        expand = parse_bool((q.get("expand") or [None])[0])
        if p not in tree.dirs:
            return error(404, "EntryNotFound", "Entry not found", [("X-Repo-Commit", sha)])
        items = tree.listing(p, recursive)

        def make(x):
            kind, path = x
            e = tree.files[path].to_entry() if kind == "f" else tree.dir_entry(path)
            return self.expand_entry(repo, sha, e) if expand else e

        entries, link = self.page(items, q, expand, make)
        h = [("X-Repo-Commit", sha)]
        if link:
            h.append(("Link", link))
        return json_resp(200, entries, h)

    def parse_paths_body(self):
        ctype = (self.headers.get("Content-Type") or "").lower()
        body = self.body
        if "json" in ctype or body.lstrip().startswith(b"{"):
            try:
                obj = json.loads(body.decode("utf-8"))
            except ValueError:
                raise Abort(error(400, None, "Invalid JSON body"))
            paths = obj.get("paths", [])
            if isinstance(paths, str):
                paths = [paths]
            return [str(x) for x in paths], parse_bool(obj.get("expand"))
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return form.get("paths", []), parse_bool((form.get("expand") or [None])[0])

    def repo_paths_info(self, repo, sha):
        tree = repo.commits[sha]
        paths, expand = self.parse_paths_body()
        out, seen = [], set()
        for p in paths:
            p = p.strip("/")
            if p in seen:
                continue
            seen.add(p)
            if p in tree.files:
                e = tree.files[p].to_entry()
            elif p and p in tree.dirs:
                e = tree.dir_entry(p)
            else:
                continue
            out.append(self.expand_entry(repo, sha, e) if expand else e)
        return json_resp(200, out, [("X-Repo-Commit", sha)])

    def resolve(self, kind, rid, mode, rest, q):
        repo = self.repo_or_abort(kind, rid)
        rev, p = self.split_rev(rest)
        sha = self.rev_or_abort(repo, rev)
        h = [("X-Repo-Commit", sha)]
        tree = repo.commits[sha]
        fo = tree.files.get(p)
        if fo is None:
            return error(404, "EntryNotFound", "Entry not found", h)
        if mode == "raw" and fo.lfs:
            return content_resp(h, self.headers, '"%s"' % fo.oid, len(fo.pointer), data=fo.pointer,
                                ctype="text/plain; charset=utf-8")
        if not fo.lfs:
            ctype = mimetypes.guess_type(p)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype == "application/json":
                ctype += "; charset=utf-8"
            return content_resp(h, self.headers, '"%s"' % fo.oid, fo.size, abspath=fo.abspath, ctype=ctype)
        name = p.rsplit("/", 1)[-1]
        loc = "%s/lfs/%s?%s" % (self.server.app.cdn_url, fo.sha256, urllib.parse.urlencode(
            {"sig": cdn_sig("lfs", fo.sha256), "name": name, "repo": "%s/%s" % (kind, rid)}))
        body = ("Found. Redirecting to %s" % loc).encode()
        h += [
            ("Location", loc),
            ("ETag", '"%s"' % fo.sha256),
            ("X-Linked-Etag", '"%s"' % fo.sha256),
            ("X-Linked-Size", str(fo.size)),
            ("X-Xet-Hash", fo.xet),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Accept-Ranges", "bytes"),
        ]
        return Resp(302, h, body)

    # -- buckets ---------------------------------------------------------------------------
    def api_bucket(self, bid, rest, q, method):
        bucket = self.bucket_or_abort(bid)
        drest = [urllib.parse.unquote(s) for s in rest]
        action = drest[0] if drest else ""
        if action == "" and method in ("GET", "HEAD"):
            files = bucket.tree.files.values()
            return json_resp(200, {
                "_id": hashlib.sha1(("bucket/" + bucket.id).encode()).hexdigest()[:24],
                "id": bucket.id,
                "private": bucket.private,
                "createdAt": bucket.created_at,
                "updatedAt": bucket.updated_at,
                "size": sum(f.size for f in files),
                "totalFiles": len(bucket.tree.files),
            })
        if action == "tree" and method in ("GET", "HEAD"):
            return self.bucket_tree(bucket, "/".join(drest[1:]), q)
        if action == "paths-info" and method == "POST":
            paths, _ = self.parse_paths_body()
            out, seen = [], set()
            for p in paths:
                p = p.strip("/")
                if p in bucket.tree.files and p not in seen:
                    seen.add(p)
                    out.append(bucket.tree.files[p].to_bucket_entry())
            return json_resp(200, out)
        return error(404, None, "Not found")

    def bucket_tree(self, bucket, prefix, q):
        tree = bucket.tree
        recursive = parse_bool((q.get("recursive") or [None])[0])
        prefix = prefix.strip("/")
        if prefix == "" or prefix in tree.dirs:
            items = tree.listing(prefix, recursive)
            if prefix:
                # the prefix filter matches raw key prefixes: "sub" also lists "submarine.txt"
                parent = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
                for kind, p in tree.listing(parent, False):
                    if p != prefix and p.startswith(prefix):
                        items = items + [(kind, p)] + (tree.listing(p, True) if kind == "d" and recursive else [])
        else:
            parent = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
            items = []
            if parent in tree.dirs:
                for kind, p in tree.listing(parent, False):
                    if p.startswith(prefix):
                        items.append((kind, p))
                        if kind == "d" and recursive:
                            items.extend(tree.listing(p, True))

        def make(x):
            kind, p = x
            return tree.files[p].to_bucket_entry() if kind == "f" else bucket.dir_entry(p)

        entries, link = self.page(items, q, False, make)
        return json_resp(200, entries, [("Link", link)] if link else [])

    def bucket_resolve(self, bid, rest, method):
        bucket = self.bucket_or_abort(bid)
        p = "/".join(urllib.parse.unquote(s) for s in rest).strip("/")
        fo = bucket.tree.files.get(p)
        if fo is None:
            return error(404, "EntryNotFound", "Entry not found")
        name = p.rsplit("/", 1)[-1]
        loc = "%s/xet/%s?%s" % (self.server.app.cdn_url, fo.xet, urllib.parse.urlencode(
            {"sig": cdn_sig("xet", fo.xet), "name": name, "bucket": bid}))
        body = ("Found. Redirecting to %s" % loc).encode()
        h = [
            ("Location", loc),
            ("ETag", '"%s"' % fo.xet),
            ("X-Linked-Etag", '"%s"' % fo.xet),
            ("X-Linked-Size", str(fo.size)),
            ("X-Xet-Hash", fo.xet),
            ("Content-Type", "text/plain; charset=utf-8"),
        ]
        resp = Resp(302, h, body)
        if method == "HEAD":
            # huggingface_hub's get_bucket_file_metadata reads the size from Content-Length of the HEAD
            resp.headers.append(("Content-Length", str(fo.size)))
        return resp

    # -- routing: cdn ----------------------------------------------------------------------
    def route_cdn(self, path, query, method):
        if self.headers.get("Authorization") is not None:
            return Resp(403, [("Content-Type", "application/xml")],
                        b"<Error><Code>AccessDenied</Code><Message>Authorization header is not allowed "
                        b"on signed URLs</Message></Error>")
        if method == "PUT":
            return self.cdn_put(path, query)
        if method not in ("GET", "HEAD"):
            return Resp(405, [("Content-Type", "application/xml")], b"<Error><Code>MethodNotAllowed</Code></Error>")
        segs = path.split("/")[1:]
        q = urllib.parse.parse_qs(query)
        if len(segs) != 2 or segs[0] not in ("lfs", "xet"):
            return Resp(404, [("Content-Type", "application/xml")], b"<Error><Code>NoSuchKey</Code></Error>")
        kind, digest = segs
        if (q.get("sig") or [""])[0] != cdn_sig(kind, digest):
            return Resp(403, [("Content-Type", "application/xml")],
                        b"<Error><Code>AccessDenied</Code><Message>Bad or missing signature</Message></Error>")
        st = self.server.app.state
        fo = (st.lfs_index if kind == "lfs" else st.xet_index).get(digest)
        if fo is None:
            return Resp(404, [("Content-Type", "application/xml")], b"<Error><Code>NoSuchKey</Code></Error>")
        etag = '"%s"' % (fo.sha256 if kind == "lfs" else fo.xet)
        return content_resp([("Cache-Control", "public, max-age=604800, immutable")], self.headers, etag,
                            fo.size, abspath=fo.abspath)


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def write_ready(path, obj):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="hfshim test Hub server")
    ap.add_argument("--root", required=True, help="fixture root holding repos.json")
    ap.add_argument("--log", default=None, help="request log (JSON lines, appended)")
    ap.add_argument("--ready", default=None, help="file to write {hub,cdn,pid} to once listening")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--hub-port", type=int, default=0)
    ap.add_argument("--cdn-port", type=int, default=0)
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the parent process goes away (used by hubctl)")
    ap.add_argument("--state", default=None,
                    help="writable dir for uploads and new commits (default: a temporary dir removed at exit)")
    ap.add_argument("--cdn-base", default=None,
                    help="LFS/bucket redirects go to {URL}/lfs/{sha256}, {URL}/xet/{xetHash} (e.g. nginx)")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="every answer (both listeners) starts this many ms after its request: latency")
    args = ap.parse_args(argv)

    parent = os.getppid()
    app = App(args.root, args.log, args.state)
    hub = Server((args.host, args.hub_port), Handler, app, "hub")
    cdn = Server((args.host, args.cdn_port), Handler, app, "cdn")
    app.hub_url = "http://%s:%d" % (args.host, hub.server_address[1])
    app.cdn_url = args.cdn_base.rstrip("/") if args.cdn_base else "http://%s:%d" % (args.host, cdn.server_address[1])
    app.cdn_base = app.cdn_url
    app.delay_ms = max(0.0, args.delay_ms)
    app.cdn_upload_url = "http://%s:%d" % (args.host, cdn.server_address[1])  # uploads always come here
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in (hub, cdn)]
    for t in threads:
        t.start()

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready:
        write_ready(args.ready, {"hub": app.hub_url, "cdn": app.cdn_url, "pid": os.getpid()})
    print("hfshim test hub: hub %s cdn %s pid %d" % (app.hub_url, app.cdn_url, os.getpid()), file=sys.stderr,
          flush=True)
    while not stop.wait(0.5):
        if args.exit_with_parent and os.getppid() != parent:
            break
    hub.shutdown()
    cdn.shutdown()
    hub.server_close()
    cdn.server_close()
    if app.log_file:
        app.log_file.close()
    app.store.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
