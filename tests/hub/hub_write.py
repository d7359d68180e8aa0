"""The test Hub's write side, mixed into hub.py's Handler (hub.py binds H to itself).

Endpoints (all need a token whose grant has "write" for the repo: 401 without a token, 403
without write access; every one is logged with "write": true):
  POST /api/{type}s/{id}/preupload/{rev}   {"files":[{path,sample,size}]} -> uploadMode per file
       (lfs if size > 10 MiB, or the sample is not UTF-8 text, or the name matches an LFS pattern
       of hub.py or of the head commit's .gitattributes; empty files are regular), "oid" of
       files that exist (git oid, or sha256 for LFS files), "commitOid" (the branch head)
  POST /[datasets/|spaces/]{id}.git/info/lfs/objects/batch   upload operation, basic transfer:
       objects the Hub has get no actions; the others an upload href on the CDN listener
       (PUT {cdn}/upload/{sha256}?size=N&sig=..) and a verify href on the hub
  PUT  {cdn}/upload/{sha256}?size=N&sig=..  stores the body if its size and sha256 match
       (403 with an Authorization header or a bad signature, like every CDN request)
  POST .../info/lfs/objects/verify          {"oid","size"} -> 200 if stored, else 404
  POST /api/{type}s/{id}/commit/{rev}       NDJSON: header {summary, description,
       parentCommit?} then file (base64 or utf-8), lfsFile (oid must be stored), deletedFile,
       deletedFolder, applied in order. Creates a commit (sha from parent, tree and message),
       moves the branch, answers {"success","commitOid","commitUrl","hookOutput"}; a
       parentCommit that is not the branch head -> 412 "A commit has happened since. Please
       refresh and try again."; commits go to branches only
  POST /api/buckets/{id}/batch, GET .../xet-write-token   buckets are Xet-only and the test hub
       has no Xet storage: 422 (every line failed) and 501, with a message saying so

State lives in memory and in a writable state dir (--state, default a temporary dir removed at
exit), never in the fixture root:
  <state>/lfs/<sha256>                           uploaded LFS objects
  <state>/blobs/<git oid>                        regular files committed inline
  <state>/commits/<type>s/<org>/<name>/<sha>/    each new commit as symlinks to its content
  <state>/journal.jsonl                          test repos and commits, replayed after
                                                 /_test/reload and on start with that dir
Test control (hub listener): POST /_test/create_repo {"type","id","from"?:{"type","id","rev"}}
makes a writable repo whose main is a copy of another repo's commit (or empty); POST /_test/repo
{"type","id","sha"?} -> branches, tags, commits (oldest first) and, with sha, its files.
"""

import base64
import codecs
import fnmatch
import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse

H = None  # the hub module; set by hub.py right after its imports

OID_RE = re.compile(r"^[0-9a-f]{64}$")
PARENT_RE = re.compile(r"^[0-9a-fA-F]{5,40}$")
LFS_CT = "application/vnd.git-lfs+json"
MAX_REGULAR = 10 * 1024 * 1024
STALE_MSG = "A commit has happened since. Please refresh and try again."
NO_XET = ("the test hub has no Xet storage (CAS): buckets, which are Xet-only, cannot be "
          "written here")
TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def safe_repo_path(p):
    """A path a commit may name: relative, without empty, '.', '..' or '.git' components."""
    if not isinstance(p, str) or not p or p.startswith("/") or "\0" in p:
        return False
    return all(c not in ("", ".", "..", ".git") for c in p.split("/"))


def make_file(path, abspath, size, lfs, digest, mtime):
    """A FileObj for committed content: digest is the sha256 (LFS) or the git blob oid."""
    fo = H.FileObj()
    fo.path, fo.abspath, fo.size, fo.mtime = path, abspath, size, mtime
    if lfs:
        fo.lfs, fo.sha256 = True, digest
        fo.pointer = H.lfs_pointer(digest, size)
        fo.oid = H.git_blob_oid(fo.pointer)
        fo.xet = H.xet_hash_of(digest)
    else:
        fo.lfs, fo.sha256, fo.pointer, fo.oid, fo.xet = False, None, None, digest, None
    return fo


def upload_sig(oid, size):
    return hmac.new(H.SIG_SECRET, ("upload/%s/%d" % (oid, size)).encode(), hashlib.sha256).hexdigest()[:32]


def lfs_patterns(tree):
    """LFS patterns: hub.py's own, plus the filter=lfs lines of the commit's .gitattributes."""
    pats = list(H.LFS_PATTERNS)
    fo = tree.files.get(".gitattributes")
    if fo is not None and not fo.lfs and fo.size < (1 << 20):
        try:
            with open(fo.abspath, "r", encoding="utf-8", errors="replace") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 2 and "filter=lfs" in parts[1:]:
                        pats.append(parts[0])
        except OSError:
            pass
    return pats


def wants_lfs(path, size, sample, patterns):
    if size == 0:
        return False
    if size > MAX_REGULAR:
        return True
    base = path.rsplit("/", 1)[-1]
    for p in patterns:
        if fnmatch.fnmatchcase(path if "/" in p else base, p.lstrip("/")):
            return True
    if b"\0" in sample:
        return True
    try:  # a sample may end inside a multi-byte character when the file is longer
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) >= size)
    except UnicodeDecodeError:
        return True
    return False


class Store:
    """The writable state dir, and the journal that rebuilds repos and commits from it."""

    def __init__(self, base=None):
        self.owned = base is None
        self.base = os.path.abspath(base or tempfile.mkdtemp(prefix="hfshim-hub-state-"))
        for d in ("lfs", "blobs", "commits", "tmp"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        self.journal_path = os.path.join(self.base, "journal.jsonl")
        self.lock = threading.RLock()  # one write (commit, upload publish, journal) at a time
        self.lfs = {}
        d = os.path.join(self.base, "lfs")
        for name in os.listdir(d):
            if OID_RE.match(name):
                self.lfs[name] = (os.path.join(d, name), os.path.getsize(os.path.join(d, name)))

    def cleanup(self):
        if self.owned:
            shutil.rmtree(self.base, ignore_errors=True)

    def tmp_path(self, tag):
        return os.path.join(self.base, "tmp", "%s.%d.%d.%s" % (tag, os.getpid(), threading.get_ident(),
                                                              os.urandom(4).hex()))

    def lfs_object(self, state, oid):
        """(path, size) of an LFS object the Hub holds (uploaded, or in a fixture), or None."""
        got = self.lfs.get(oid)
        if got:
            return got
        fo = state.lfs_index.get(oid)
        return (fo.abspath, fo.size) if fo is not None else None

    def publish_lfs(self, oid, tmp):
        dst = os.path.join(self.base, "lfs", oid)
        os.replace(tmp, dst)
        with self.lock:
            self.lfs[oid] = (dst, os.path.getsize(dst))

    def put_blob(self, data):
        oid = H.git_blob_oid(data)
        dst = os.path.join(self.base, "blobs", oid)
        if not os.path.exists(dst):
            tmp = self.tmp_path("blob")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        return dst, oid

    def record(self, entry):
        with open(self.journal_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def replay(self, state):
        """Re-applies the journal to a freshly loaded State (after /_test/reload or a restart)."""
        try:
            with open(self.journal_path, "r", encoding="utf-8") as f:
                lines = f.readlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                e = json.loads(line)
                if e["op"] == "create":
                    create_repo(state, self, e, journal=False)
                elif e["op"] == "commit":
                    repo = state.repos[(e["type"], e["id"])]
                    files = {p: make_file(p, v[0], v[1], v[2], v[3], v[4]) for p, v in e["files"].items()}
                    install_commit(state, self, repo, e["sha"], files, e["branch"], e["title"], e["date"])
            except (ValueError, KeyError, OSError) as ex:
                print("test hub: cannot replay journal entry: %r" % (ex,), flush=True)


def commit_dir(store, repo, sha):
    return os.path.join(store.base, "commits", repo.type + "s", repo.id, sha)


def install_commit(state, store, repo, sha, files, branch, title, date):
    """Makes `files` commit `sha` of repo, on `branch`, visible to every read endpoint."""
    tree = H.Tree(files)
    d = commit_dir(store, repo, sha)
    if not os.path.isdir(d):  # materialized for people and tests to look at
        tmp = d + ".tmp-%s" % os.urandom(4).hex()
        for p, fo in files.items():
            ap = os.path.join(tmp, p)
            os.makedirs(os.path.dirname(ap), exist_ok=True)
            os.symlink(os.path.realpath(fo.abspath), ap)
        os.makedirs(tmp, exist_ok=True)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        try:
            os.rename(tmp, d)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    repo.commits[sha] = tree
    repo.commit_info[sha] = {"title": title, "date": date}
    repo.branches[branch] = sha
    repo._last_commit = {}
    state.index_tree(tree)
    return tree


def create_repo(state, store, spec, journal=True):
    kind, rid = spec.get("type", "model"), spec["id"]
    if kind not in ("model", "dataset", "space") or not re.match(r"^[\w.-]+/[\w.-]+$", rid):
        raise ValueError("bad repo type or id")
    src = spec.get("from")
    tree, src_sha = H.Tree({}), ""
    if src:
        srepo = state.repos[(src.get("type", "model"), src["id"])]
        src_sha = srepo.resolve(src.get("rev"))
        if src_sha is None:
            raise ValueError("unknown source revision")
        tree = srepo.commits[src_sha]
    sha = hashlib.sha1(("create %s/%s from %s" % (kind, rid, src_sha)).encode()).hexdigest()
    repo = H.Repo({"type": kind, "id": rid, "private": bool(spec.get("private"))}, None, None, None)
    repo.commits[sha] = tree
    repo.commit_info[sha] = {"title": "Initial commit", "date": H.iso_ms(time.time())}
    repo.branches["main"] = sha
    state.repos[(kind, rid)] = repo
    state.index_tree(tree)
    if journal:
        store.record({"op": "create", "type": kind, "id": rid, "from": src, "private": bool(spec.get("private"))})
    return sha


def err(status, msg, code=None, headers=()):
    return H.error(status, code, msg, headers)


class WriteMixin:
    """Handler methods for the write endpoints (self is hub.Handler)."""

    # -- helpers ---------------------------------------------------------------------------
    def grant_write(self, kind, rid):
        grant = self.token()
        if grant is None:
            raise H.Abort(err(401, "Invalid username or password."))
        w = grant.get("write", [])
        if "*" in w or rid in w or ("%ss/%s" % (kind, rid)) in w:
            return grant
        raise H.Abort(err(403, "You don't have the rights to write to %s: this token has no write access." % rid))

    def json_body(self):
        try:
            obj = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise H.Abort(err(400, "Invalid JSON body"))
        if not isinstance(obj, dict):
            raise H.Abort(err(400, "Invalid JSON body"))
        return obj

    @property
    def store(self):
        return self.server.app.store

    # -- routing -----------------------------------------------------------------------------
    def route_write(self, path, dsegs, method):
        """The Resp for a write request, or None if it is not one of ours (-> 501)."""
        m = re.match(r"^/(?:(datasets|spaces)/)?([^/]+)/([^/]+)\.git/info/lfs/objects/(batch|verify)$", path)
        if m and method == "POST":
            kind = H.REPO_TYPES[m.group(1)] if m.group(1) else "model"
            rid = "%s/%s" % (urllib.parse.unquote(m.group(2)), urllib.parse.unquote(m.group(3)))
            return self.w_lfs_batch(kind, rid) if m.group(4) == "batch" else self.w_lfs_verify(kind, rid)
        if len(dsegs) >= 5 and dsegs[0] == "api" and dsegs[1] in H.REPO_TYPES:
            kind, rid, action = H.REPO_TYPES[dsegs[1]], "%s/%s" % (dsegs[2], dsegs[3]), dsegs[4]
            rev = "/".join(dsegs[5:]) or None
            if action == "preupload" and method == "POST":
                return self.w_preupload(kind, rid, rev)
            if action == "commit" and method == "POST":
                return self.w_commit(kind, rid, rev)
            if action == "xet-write-token":
                self.repo_or_abort(kind, rid)
                self.grant_write(kind, rid)
                return err(501, "Xet uploads are not available on the test hub; use LFS (HF_HUB_DISABLE_XET=1)",
                           "NotImplemented")
        if len(dsegs) >= 5 and dsegs[:2] == ["api", "buckets"]:
            bid = "%s/%s" % (dsegs[2], dsegs[3])
            if dsegs[4] == "batch" and method == "POST":
                return self.w_bucket_batch(bid)
            if dsegs[4] == "xet-write-token":
                self.bucket_or_abort(bid)
                self.grant_write("bucket", bid)
                return err(501, "Cannot write to bucket %s: %s" % (bid, NO_XET), "NotImplemented")
        return None

    # -- preupload -------------------------------------------------------------------------
    def w_preupload(self, kind, rid, rev):
        repo = self.repo_or_abort(kind, rid)
        self.grant_write(kind, rid)
        head = self.rev_or_abort(repo, rev)
        files = self.json_body().get("files")
        if not isinstance(files, list):
            return err(400, "Invalid body: 'files' must be a list")
        tree = repo.commits[head]
        pats = lfs_patterns(tree)
        out = []
        for f in files:
            try:
                path, size = f["path"], int(f["size"])
                sample = base64.b64decode(f.get("sample") or "", validate=True)
            except (KeyError, TypeError, ValueError):
                return err(400, "Invalid file entry: %r" % (f,))
            e = {"path": path, "uploadMode": "lfs" if wants_lfs(path, size, sample, pats) else "regular",
                 "shouldIgnore": False}
            fo = tree.files.get(path)
            if fo is not None:
                e["oid"] = fo.sha256 if fo.lfs else fo.oid
            out.append(e)
        return H.json_resp(200, {"files": out, "commitOid": head})

    # -- LFS ---------------------------------------------------------------------------------
    def lfs_resp(self, status, obj):
        return H.Resp(status, [("Content-Type", LFS_CT)], json.dumps(obj).encode())

    def w_lfs_batch(self, kind, rid):
        self.repo_or_abort(kind, rid)
        self.grant_write(kind, rid)
        obj = self.json_body()
        if obj.get("operation") != "upload":
            return self.lfs_resp(422, {"message": "the test hub only supports the upload operation"})
        app = self.server.app
        cdn = getattr(app, "cdn_upload_url", None) or app.cdn_url
        verify = "%s/%s%s.git/info/lfs/objects/verify" % (self.base_url(), TYPE_PREFIX[kind], rid)
        out = []
        for o in obj.get("objects") or []:
            oid, size = str(o.get("oid", "")).lower(), o.get("size")
            if not OID_RE.match(oid) or not isinstance(size, int) or size < 0:
                out.append({"oid": oid, "size": size, "error": {"code": 422, "message": "Invalid oid or size"}})
                continue
            e = {"oid": oid, "size": size, "authenticated": True}
            have = self.store.lfs_object(app.state, oid)
            if have is None or have[1] != size:
                qs = urllib.parse.urlencode({"size": size, "sig": upload_sig(oid, size)})
                e["actions"] = {"upload": {"href": "%s/upload/%s?%s" % (cdn, oid, qs), "expires_in": 3600},
                                "verify": {"href": verify, "expires_in": 3600}}
            out.append(e)
        return self.lfs_resp(200, {"transfer": "basic", "objects": out})

    def w_lfs_verify(self, kind, rid):
        self.repo_or_abort(kind, rid)
        self.grant_write(kind, rid)
        obj = self.json_body()
        oid, size = str(obj.get("oid", "")).lower(), obj.get("size")
        have = self.store.lfs_object(self.server.app.state, oid)
        if have is None:
            return self.lfs_resp(404, {"message": "Object %s not found" % oid})
        if have[1] != size:
            return self.lfs_resp(422, {"message": "Object %s has size %d, not %r" % (oid, have[1], size)})
        return self.lfs_resp(200, {"success": True})

    def cdn_put(self, path, query):
        """PUT {cdn}/upload/{sha256}: streams the body to a temp file, checks it, publishes it."""
        xml = [("Content-Type", "application/xml")]
        segs = path.split("/")[1:]
        q = urllib.parse.parse_qs(query)
        if len(segs) != 2 or segs[0] != "upload" or not OID_RE.match(segs[1]):
            return H.Resp(404, xml, b"<Error><Code>NoSuchKey</Code></Error>")
        oid = segs[1]
        try:
            size = int((q.get("size") or ["-1"])[0])
        except ValueError:
            size = -1
        if size < 0 or (q.get("sig") or [""])[0] != upload_sig(oid, size):
            return H.Resp(403, xml, b"<Error><Code>AccessDenied</Code><Message>Bad or missing signature</Message></Error>")
        if self.headers.get("Content-Length") is None:
            return H.Resp(411, xml, b"<Error><Code>MissingContentLength</Code></Error>")
        left = int(self.headers["Content-Length"])
        tmp = self.store.tmp_path("upload")
        h, got = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as f:
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    h.update(chunk)
                    f.write(chunk)
                    left -= len(chunk)
                    got += len(chunk)
            self.body_pending = left > 0
            if left > 0:
                raise OSError("connection closed after %d bytes" % got)
            if got != size or h.hexdigest() != oid:
                return H.Resp(400, xml, ("<Error><Code>BadDigest</Code><Message>got %d bytes with sha256 %s, "
                                         "expected %d bytes with %s</Message></Error>"
                                         % (got, h.hexdigest(), size, oid)).encode())
            self.store.publish_lfs(oid, tmp)
            tmp = None
            return H.Resp(200, [("ETag", '"%s"' % hashlib.md5(oid.encode()).hexdigest())], b"")
        except OSError as e:
            self.close_connection = True
            return H.Resp(400, xml, ("<Error><Code>IncompleteBody</Code><Message>%s</Message></Error>" % e).encode())
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    # -- commit --------------------------------------------------------------------------------
    def w_commit(self, kind, rid, rev):
        repo = self.repo_or_abort(kind, rid)
        self.grant_write(kind, rid)
        if getattr(self, "body_overflow", False):
            return err(413, "Commit payload too large")
        lines = []
        for raw in self.body.split(b"\n"):
            if raw.strip():
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    return err(400, "Invalid NDJSON line %d" % (len(lines) + 1))
                if not isinstance(obj, dict) or not isinstance(obj.get("value"), dict):
                    return err(400, "Invalid NDJSON line %d: expected {\"key\",\"value\"}" % (len(lines) + 1))
                lines.append(obj)
        if not lines or lines[0].get("key") != "header":
            return err(400, "The first line of a commit must be its header")
        header = lines[0]["value"]
        summary = header.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            return err(400, "Missing commit summary")
        branch = rev or repo.default_branch
        if branch.startswith("refs/heads/"):
            branch = branch[len("refs/heads/"):]
        if branch not in repo.branches:
            if repo.resolve(rev) is None:
                return err(404, "Invalid rev id: %s" % rev, "RevisionNotFound")
            return err(400, "Invalid rev id: %s is not a branch; commits go to branches" % rev)
        parent = header.get("parentCommit")
        if parent is not None and (not isinstance(parent, str) or not PARENT_RE.match(parent)):
            return err(400, "Invalid parentCommit")
        st = self.server.app.state
        with self.store.lock:
            head = repo.branches[branch]
            if parent is not None and not head.startswith(parent.lower()):
                return err(412, STALE_MSG)
            files = dict(repo.commits[head].files)
            for i, op in enumerate(lines[1:], 2):
                self.apply_op(st, files, op, i)
            tree = H.Tree(files)
            desc = header.get("description") or ""
            sha = hashlib.sha1(("commit\nparent %s\ntree %s\n\n%s\n\n%s" % (head, tree.dir_oid[""], summary, desc))
                               .encode()).hexdigest()
            date = H.iso_ms(time.time())
            install_commit(st, self.store, repo, sha, files, branch, summary, date)
            self.store.record({"op": "commit", "type": kind, "id": rid, "sha": sha, "branch": branch,
                               "title": summary, "date": date, "parent": head,
                               "files": {p: [fo.abspath, fo.size, fo.lfs, fo.sha256 if fo.lfs else fo.oid, fo.mtime]
                                         for p, fo in files.items()}})
        url = "%s/%s%s/commit/%s" % (self.base_url(), TYPE_PREFIX[kind], rid, sha)
        return H.json_resp(200, {"success": True, "commitOid": sha, "commitUrl": url, "hookOutput": ""})

    def apply_op(self, st, files, op, line):
        key, v = op.get("key"), op["value"]
        path = v.get("path")
        if isinstance(path, str) and key == "deletedFolder":
            path = path.strip("/")
        if not safe_repo_path(path):
            raise H.Abort(err(400, "Invalid path on line %d: %r" % (line, path)))
        now = time.time()
        if key == "deletedFile":
            if path not in files:
                raise H.Abort(err(404, "File not found in repository: %s" % path, "EntryNotFound"))
            del files[path]
        elif key == "deletedFolder":
            gone = [p for p in files if p.startswith(path + "/")]
            if not gone:
                raise H.Abort(err(404, "Folder not found in repository: %s" % path, "EntryNotFound"))
            for p in gone:
                del files[p]
        elif key in ("file", "lfsFile"):
            if any(p.startswith(path + "/") for p in files):
                raise H.Abort(err(400, "Cannot add %s: a folder with that name exists" % path))
            parts = path.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in files:
                    raise H.Abort(err(400, "Cannot add %s: %s is a file" % (path, "/".join(parts[:i]))))
            if key == "file":
                enc = v.get("encoding", "base64")
                try:
                    data = (base64.b64decode(v.get("content", ""), validate=True) if enc == "base64"
                            else str(v.get("content", "")).encode("utf-8"))
                except (ValueError, TypeError):
                    raise H.Abort(err(400, "Invalid base64 content for %s" % path))
                if len(data) > MAX_REGULAR:
                    raise H.Abort(err(400, "Your push was rejected because it contains files larger than 10 MiB. "
                                           "Please use https://git-lfs.github.com/ to store large files. (%s)" % path))
                ap, oid = self.store.put_blob(data)
                files[path] = make_file(path, ap, len(data), False, oid, now)
            else:
                oid = str(v.get("oid", "")).lower()
                if v.get("algo", "sha256") != "sha256" or not OID_RE.match(oid):
                    raise H.Abort(err(400, "Invalid lfsFile line for %s" % path))
                have = self.store.lfs_object(st, oid)
                if have is None:
                    raise H.Abort(err(422, "LFS object %s for %s was not uploaded" % (oid, path)))
                if v.get("size") is not None and v.get("size") != have[1]:
                    raise H.Abort(err(422, "LFS object %s has size %d, not %r" % (oid, have[1], v.get("size"))))
                files[path] = make_file(path, have[0], have[1], True, oid, now)
        else:
            raise H.Abort(err(400, "Unknown key %r on line %d" % (key, line)))

    # -- buckets -----------------------------------------------------------------------------
    def w_bucket_batch(self, bid):
        self.bucket_or_abort(bid)
        self.grant_write("bucket", bid)
        failed = []
        for raw in self.body.split(b"\n"):
            if raw.strip():
                try:
                    path = json.loads(raw.decode("utf-8")).get("path")
                except (ValueError, UnicodeDecodeError, AttributeError):
                    path = None
                failed.append({"path": path, "error": NO_XET})
        return H.json_resp(422, {"success": False, "processed": len(failed), "succeeded": 0, "failed": failed},
                           [("X-Error-Message", NO_XET)])

    # -- test control ----------------------------------------------------------------------------
    def write_control(self, path, args):
        app = self.server.app
        if path == "/_test/create_repo":
            try:
                with self.store.lock:
                    sha = create_repo(app.state, self.store, args)
            except (KeyError, ValueError) as e:
                return H.json_resp(400, {"error": "create_repo: %r" % (e,)})
            return H.json_resp(200, {"ok": True, "sha": sha})
        if path == "/_test/repo":
            repo = app.state.repos.get((args.get("type", "model"), args.get("id")))
            if repo is None:
                return H.json_resp(404, {"error": "no such repo"})
            out = {"branches": dict(repo.branches), "tags": dict(repo.tags), "commits": list(repo.commits)}
            sha = args.get("sha")
            if sha:
                sha = repo.resolve(sha)
                if sha is None:
                    return H.json_resp(404, {"error": "no such revision"})
                out["sha"] = sha
                out["files"] = {p: {"size": fo.size, "lfs": fo.lfs, "oid": fo.oid, "sha256": fo.sha256,
                                    "disk": fo.abspath}
                                for p, fo in repo.commits[sha].files.items()}
            return H.json_resp(200, out)
        return None
