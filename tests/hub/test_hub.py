#!/usr/bin/env python3
"""Smoke tests of the test Hub server (plain unittest + http.client).

    python3 tests/hub/test_hub.py [-v]

Fixtures come from $HFS_FIXTURES (default build/fixtures), built on first use.
"""

import hashlib
import http.client
import json
import os
import re
import socket
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fixtures  # noqa: E402
import hubctl  # noqa: E402

LINK_RE = re.compile(r"<(https?:[/][/][^>]+)>;\s+rel=\"([^\"]+)\"")  # huggingface.js parseLinkHeader
HUB = None
F = None


def setUpModule():
    global HUB, F
    root = fixtures.build(fixtures.default_root())
    F = fixtures.facts(root)
    HUB = hubctl.start(root)


def tearDownModule():
    if HUB is not None:
        err = HUB.stderr()
        HUB.stop()
        if "Traceback" in err:
            print("\n--- test hub stderr ---\n" + err, file=sys.stderr)


class R:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def h(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def request(method, url, headers=None, body=None, timeout=30):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return R(resp.status, resp.msg, data)
    finally:
        conn.close()


def get(path, **kw):
    return request("GET", HUB.url + path, **kw)


def q(path):
    return urllib.parse.quote(path)


def slurp(path):
    with open(path, "rb") as f:
        return f.read()


def tiny(path):
    return F["repos"]["acme/tiny"]["files"][path]


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


class RepoInfo(unittest.TestCase):
    def test_info_and_revisions(self):
        t = F["repos"]["acme/tiny"]
        r = get("/api/models/acme/tiny")
        self.assertEqual(r.status, 200)
        info = r.json()
        self.assertEqual(info["id"], "acme/tiny")
        self.assertEqual(info["sha"], t["refs"]["main"])
        self.assertFalse(info["private"])
        self.assertEqual(sorted(s["rfilename"] for s in info["siblings"]), sorted(t["files"]))
        for rev, want in (("main", t["refs"]["main"]), ("HEAD", t["refs"]["main"]), ("v1.0", t["refs"]["v1.0"]),
                          (t["refs"]["v1.0"], t["refs"]["v1.0"]), ("refs%2Fpr%2F1", t["refs"]["refs/pr/1"]),
                          ("refs/pr/1", t["refs"]["refs/pr/1"])):
            r = get("/api/models/acme/tiny/revision/" + rev)
            self.assertEqual(r.status, 200, rev)
            self.assertEqual(r.json()["sha"], want, rev)
        r = get("/api/models/acme/tiny/revision/nope")
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "RevisionNotFound"))
        r = get("/api/models/acme/tiny/revision/main?blobs=True")
        sib = {s["rfilename"]: s for s in r.json()["siblings"]}
        big = tiny(F["paths"]["big"])
        self.assertEqual(sib[F["paths"]["big"]]["lfs"], {"sha256": big["sha256"], "size": big["size"],
                                                          "pointerSize": big["pointerSize"]})
        self.assertEqual(sib[F["paths"]["config"]]["blobId"], tiny(F["paths"]["config"])["oid"])
        self.assertNotIn("lfs", sib[F["paths"]["config"]])
        # datasets and spaces
        self.assertEqual(get("/api/datasets/acme/many").json()["sha"], F["repos"]["acme/many"]["sha"])
        self.assertEqual(get("/api/datasets/acme/many/revision/refs%2Fconvert%2Fparquet").status, 200)
        self.assertEqual(get("/api/spaces/acme/space").json()["sha"], F["repos"]["acme/space"]["sha"])

    def test_refs(self):
        t = F["repos"]["acme/tiny"]
        r = get("/api/models/acme/tiny/refs?include_prs=1").json()
        self.assertEqual(r["branches"], [{"name": "main", "ref": "refs/heads/main", "targetCommit": t["refs"]["main"]}])
        self.assertEqual([x["name"] for x in r["tags"]], ["v1.0"])
        self.assertEqual(r["pullRequests"][0]["ref"], "refs/pr/1")


class Tree(unittest.TestCase):
    def walk(self, url):
        entries, pages = [], 0
        while url:
            r = request("GET", url)
            self.assertEqual(r.status, 200, url)
            entries += r.json()
            pages += 1
            link = r.h("Link")
            url = None
            if link:
                m = dict((rel, u) for u, rel in LINK_RE.findall(link))
                self.assertIn("next", m, link)
                url = m["next"]
                self.assertIn("cursor=", url)
        return entries, pages

    def test_pagination_many(self):
        entries, pages = self.walk(HUB.url + "/api/datasets/acme/many/tree/main?recursive=true&expand=false")
        files = [e["path"] for e in entries if e["type"] == "file"]
        dirs = [e["path"] for e in entries if e["type"] == "directory"]
        self.assertEqual(len(files), 10000)
        self.assertEqual(len(set(files)), 10000)
        self.assertEqual(len(dirs), 100)
        self.assertEqual(pages, 11)  # 10,100 entries at 1000 a page
        self.assertEqual(set(files), set(F["repos"]["acme/many"]["files"]))
        e = next(x for x in entries if x["path"] == "dir_007/file_0712.txt")
        self.assertEqual(e["oid"], F["repos"]["acme/many"]["files"]["dir_007/file_0712.txt"]["oid"])
        entries, pages = self.walk(HUB.url + "/api/datasets/acme/many/tree/main?limit=7")
        self.assertEqual(len(entries), 100)
        self.assertEqual(pages, 15)
        self.assertTrue(all(e["type"] == "directory" for e in entries))
        entries, pages = self.walk(HUB.url + "/api/datasets/acme/many/tree/main/dir_003?recursive=True&expand=True")
        self.assertEqual((len(entries), pages), (100, 2))  # 50 a page with expand
        self.assertIn("lastCommit", entries[0])

    def test_tree_tiny(self):
        r = get("/api/models/acme/tiny/tree/main")
        top = {e["path"]: e for e in r.json()}
        self.assertEqual(top["a"]["type"], "directory")
        self.assertEqual(top["a"]["size"], 0)
        self.assertRegex(top["a"]["oid"], "^[0-9a-f]{40}$")
        self.assertNotIn("a/top.txt", top)
        big = top.get("weights")
        self.assertEqual(big["type"], "directory")
        st = top[F["paths"]["safetensors"]]
        self.assertEqual(st["lfs"]["oid"], tiny(F["paths"]["safetensors"])["sha256"])
        self.assertRegex(st["xetHash"], "^[0-9a-f]{64}$")
        self.assertEqual(st["size"], tiny(F["paths"]["safetensors"])["size"])
        # a subdirectory, encoded or not
        for p in ("a/b", "a%2Fb"):
            r = get("/api/models/acme/tiny/tree/main/" + p)
            self.assertEqual([e["path"] for e in r.json()], ["a/b/c"], p)
        r = get("/api/models/acme/tiny/tree/main/" + q("données"))
        self.assertEqual([e["path"] for e in r.json()], [F["paths"]["unicode"]])
        # recursive lists files and directories
        r = get("/api/models/acme/tiny/tree/main?recursive=1")
        allp = {e["path"]: e["type"] for e in r.json()}
        self.assertEqual({p for p, t in allp.items() if t == "file"}, set(F["repos"]["acme/tiny"]["files"]))
        self.assertEqual({p for p, t in allp.items() if t == "directory"}, set(F["repos"]["acme/tiny"]["dirs"]))
        # v1.0 has fewer files; refs/pr/1 raw in the URL
        r = get("/api/models/acme/tiny/tree/v1.0?recursive=true")
        self.assertNotIn(F["paths"]["big"], [e["path"] for e in r.json()])
        r = get("/api/models/acme/tiny/tree/refs/pr/1")
        self.assertIn(F["paths"]["pr_note"], [e["path"] for e in r.json()])
        # expand
        r = get("/api/models/acme/tiny/tree/main?expand=true")
        e = {x["path"]: x for x in r.json()}
        self.assertEqual(e[F["paths"]["safetensors"]]["lastCommit"]["id"], F["shas"]["tiny.A"])
        self.assertEqual(e[F["paths"]["zip"]]["lastCommit"]["id"], F["shas"]["tiny.B"])
        self.assertRegex(e[F["paths"]["zip"]]["lastCommit"]["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # missing path, file path
        r = get("/api/models/acme/tiny/tree/main/nope")
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "EntryNotFound"))
        r = get("/api/models/acme/tiny/tree/main/config.json")
        self.assertEqual(r.status, 404)


class PathsInfo(unittest.TestCase):
    def test_json_and_form(self):
        paths = [F["paths"]["config"], "a/b", "missing.txt", F["paths"]["big"], F["paths"]["unicode"]]
        rj = request("POST", HUB.url + "/api/models/acme/tiny/paths-info/main",
                     headers={"Content-Type": "application/json"},
                     body=json.dumps({"paths": paths, "expand": True}))
        self.assertEqual(rj.status, 200)
        got = {e["path"]: e for e in rj.json()}
        self.assertEqual(set(got), {F["paths"]["config"], "a/b", F["paths"]["big"], F["paths"]["unicode"]})
        self.assertEqual(got["a/b"]["type"], "directory")
        self.assertEqual(got[F["paths"]["big"]]["lfs"]["oid"], tiny(F["paths"]["big"])["sha256"])
        self.assertIn("lastCommit", got[F["paths"]["config"]])
        rf = request("POST", HUB.url + "/api/models/acme/tiny/paths-info/main",
                     headers={"Content-Type": "application/x-www-form-urlencoded"},
                     body=urllib.parse.urlencode([("paths", p) for p in paths] + [("expand", "False")]))
        self.assertEqual(rf.status, 200)
        got2 = {e["path"]: e for e in rf.json()}
        self.assertEqual(set(got2), set(got))
        self.assertNotIn("lastCommit", got2[F["paths"]["config"]])
        self.assertEqual(got2[F["paths"]["config"]]["oid"], tiny(F["paths"]["config"])["oid"])
        r = request("POST", HUB.url + "/api/models/acme/tiny/paths-info/refs%2Fpr%2F1",
                    headers={"Content-Type": "application/json"}, body=json.dumps({"paths": [F["paths"]["pr_note"]]}))
        self.assertEqual(len(r.json()), 1)
        self.assertEqual(HUB.writes(), [])


class Resolve(unittest.TestCase):
    def test_regular(self):
        for key in ("config", "spaces", "unicode", "deep", "text3m", "empty"):
            p = F["paths"][key]
            fx = tiny(p)
            r = get("/acme/tiny/resolve/main/" + q(p))
            self.assertEqual(r.status, 200, p)
            self.assertEqual(r.body, slurp(fx["disk"]), p)
            self.assertEqual(r.h("ETag"), '"%s"' % fx["oid"])
            self.assertEqual(r.h("X-Repo-Commit"), F["repos"]["acme/tiny"]["sha"])
            self.assertEqual(int(r.h("Content-Length")), fx["size"])
            self.assertEqual(r.h("Accept-Ranges"), "bytes")
            self.assertIsNone(r.h("Content-Encoding"))
        # HEAD, and the revision forms
        r = request("HEAD", HUB.url + "/acme/tiny/resolve/main/config.json")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(int(r.h("Content-Length")), tiny("config.json")["size"])
        a = get("/acme/tiny/resolve/v1.0/README.md")
        self.assertIn(b"Revision A", a.body)
        self.assertEqual(a.h("X-Repo-Commit"), F["shas"]["tiny.A"])
        c = get("/acme/tiny/resolve/refs%2Fpr%2F1/pr-note.txt")
        self.assertEqual(c.status, 200)
        self.assertEqual(get("/acme/tiny/resolve/refs/pr/1/pr-note.txt").body, c.body)
        # raw on an LFS file: the pointer
        r = get("/acme/tiny/raw/main/" + F["paths"]["big"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode(), tiny(F["paths"]["big"])["pointer"])
        self.assertEqual(r.h("ETag"), '"%s"' % tiny(F["paths"]["big"])["oid"])
        # other repo types
        self.assertEqual(get("/datasets/acme/many/resolve/main/dir_001/file_0100.txt").body,
                         b"dir_001/file_0100.txt\n")
        self.assertEqual(get("/spaces/acme/space/resolve/main/index.html").status, 200)

    def test_ranges(self):
        p = F["paths"]["text3m"]
        data = slurp(tiny(p)["disk"])
        size = len(data)
        url = HUB.url + "/acme/tiny/resolve/main/" + p
        for rng, a, b in (("bytes=0-0", 0, 0), ("bytes=10-99", 10, 99), ("bytes=%d-" % (size - 10), size - 10, size - 1),
                          ("bytes=-100", size - 100, size - 1), ("bytes=5-%d" % (size * 2), 5, size - 1)):
            r = request("GET", url, headers={"Range": rng})
            self.assertEqual(r.status, 206, rng)
            self.assertEqual(r.h("Content-Range"), "bytes %d-%d/%d" % (a, b, size), rng)
            self.assertEqual(r.body, data[a:b + 1], rng)
        for rng in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 5, size + 10)):
            r = request("GET", url, headers={"Range": rng})
            self.assertEqual(r.status, 416, rng)
            self.assertEqual(r.h("Content-Range"), "bytes */%d" % size)
        r = request("GET", HUB.url + "/acme/tiny/resolve/main/empty.txt", headers={"Range": "bytes=0-0"})
        self.assertEqual((r.status, r.h("Content-Range")), (416, "bytes */0"))
        # If-Range with a stale etag: the whole file
        r = request("GET", url, headers={"Range": "bytes=0-9", "If-Range": '"0000"'})
        self.assertEqual((r.status, len(r.body)), (200, size))

    def test_lfs_redirect_and_cdn(self):
        for key in ("big", "safetensors", "zip", "medium"):
            p = F["paths"][key]
            fx = tiny(p)
            for method in ("HEAD", "GET"):
                r = request(method, HUB.url + "/acme/tiny/resolve/main/" + p)
                self.assertEqual(r.status, 302, p)
                loc = r.h("Location")
                self.assertTrue(loc.startswith(HUB.cdn_url + "/lfs/" + fx["sha256"] + "?"), loc)
                self.assertEqual(r.h("X-Linked-Size"), str(fx["size"]))
                self.assertEqual(r.h("X-Linked-Etag"), '"%s"' % fx["sha256"])
                self.assertEqual(r.h("ETag"), '"%s"' % fx["sha256"])
                self.assertEqual(r.h("X-Xet-Hash"), fx["xetHash"])
                self.assertEqual(r.h("X-Repo-Commit"), F["repos"]["acme/tiny"]["sha"])
            if key != "big":
                r = request("GET", loc)
                self.assertEqual(r.status, 200)
                self.assertEqual(hashlib.sha256(r.body).hexdigest(), fx["sha256"])
                self.assertEqual(r.h("ETag"), '"%s"' % fx["sha256"])
        # the big one: ranges, speed
        fx = tiny(F["paths"]["big"])
        loc = request("HEAD", HUB.url + "/acme/tiny/resolve/main/" + F["paths"]["big"]).h("Location")
        with open(fx["disk"], "rb") as f:
            f.seek(123456789)
            want = f.read(1000)
        r = request("GET", loc, headers={"Range": "bytes=123456789-123457788"})
        self.assertEqual((r.status, r.body), (206, want))
        self.assertEqual(r.h("Content-Range"), "bytes 123456789-123457788/%d" % fx["size"])
        r = request("GET", loc, headers={"Range": "bytes=%d-" % fx["size"]})
        self.assertEqual((r.status, r.h("Content-Range")), (416, "bytes */%d" % fx["size"]))
        t = time.time()
        r = request("GET", loc)
        dt = time.time() - t
        self.assertEqual(len(r.body), fx["size"])
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), fx["sha256"])
        self.assertLess(dt, 4.0, "200 MiB from the CDN took %.2fs" % dt)
        # the CDN refuses Authorization, and bad signatures
        HUB.clear_log()
        r = request("GET", loc, headers=bearer(F["tokens"]["good"]))
        self.assertEqual(r.status, 403)
        self.assertEqual([e["auth"] for e in HUB.requests("cdn")], [True])
        self.assertEqual(len(HUB.cdn_auth_requests()), 1)
        r = request("GET", loc.split("?")[0])
        self.assertEqual(r.status, 403)
        r = request("GET", HUB.cdn_url + "/lfs/" + "0" * 64 + "?sig=x")
        self.assertIn(r.status, (403, 404))
        HUB.clear_log()


class Errors(unittest.TestCase):
    def test_errors(self):
        good, other, bad, ponly = (F["tokens"][k] for k in ("good", "other", "invalid", "private_only"))
        r = get("/api/models/acme/nope")
        self.assertEqual((r.status, r.h("X-Error-Code")), (401, "RepoNotFound"))
        self.assertEqual(r.json()["error"], r.h("X-Error-Message"))
        r = get("/api/models/acme/nope", headers=bearer(good))
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "RepoNotFound"))
        r = get("/acme/nope/resolve/main/x")
        self.assertEqual((r.status, r.h("X-Error-Code")), (401, "RepoNotFound"))
        r = get("/acme/tiny/resolve/main/missing.txt")
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "EntryNotFound"))
        self.assertEqual(r.h("X-Repo-Commit"), F["repos"]["acme/tiny"]["sha"])
        r = get("/acme/tiny/resolve/main/a")  # a directory
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "EntryNotFound"))
        r = get("/acme/tiny/resolve/nobranch/config.json")
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "RevisionNotFound"))
        # private
        for path in ("/api/models/acme/private", "/acme/private/resolve/main/secret.txt",
                     "/api/models/acme/private/tree/main"):
            r = get(path)
            self.assertEqual((r.status, r.h("X-Error-Code")), (401, "RepoNotFound"), path)
            self.assertEqual(r.h("X-Error-Message"), "Invalid username or password.")
            self.assertEqual(get(path, headers=bearer(good)).status, 200, path)
            self.assertEqual(get(path, headers=bearer(ponly)).status, 200, path)
            self.assertEqual(get(path, headers=bearer(other)).status, 403, path)
            r = get(path, headers=bearer(bad))
            self.assertEqual(r.status, 401)
            self.assertEqual(r.h("X-Error-Message"), "Invalid credentials in Authorization header")
        self.assertEqual(get("/acme/private/resolve/main/secret.txt", headers=bearer(good)).body,
                         b"the private bytes\n")
        # an unknown token fails even on a public repo
        self.assertEqual(get("/api/models/acme/tiny", headers=bearer(bad)).status, 401)
        self.assertEqual(get("/api/models/acme/tiny", headers=bearer(other)).status, 200)
        # gated
        r = get("/acme/gated/resolve/main/config.json")
        self.assertEqual((r.status, r.h("X-Error-Code")), (401, "GatedRepo"))
        r = get("/acme/gated/resolve/main/config.json", headers=bearer(other))
        self.assertEqual((r.status, r.h("X-Error-Code")), (403, "GatedRepo"))
        self.assertEqual(get("/acme/gated/resolve/main/config.json", headers=bearer(ponly)).status, 403)
        self.assertEqual(get("/acme/gated/resolve/main/config.json", headers=bearer(good)).status, 200)
        # whoami
        self.assertEqual(get("/api/whoami-v2").status, 401)
        self.assertEqual(get("/api/whoami-v2", headers=bearer(good)).status, 200)


class Buckets(unittest.TestCase):
    def test_bucket(self):
        b = F["buckets"]["acme/cache"]
        r = get("/api/buckets/acme/cache")
        info = r.json()
        self.assertEqual((info["id"], info["totalFiles"], info["size"]), ("acme/cache", len(b["files"]), b["size"]))
        self.assertIn("createdAt", info)
        r = get("/api/buckets/acme/cache/tree")
        top = {e["path"]: e for e in r.json()}
        self.assertEqual(set(top), {fixtures.NEURON_V1, fixtures.NEURON_V2, "registry", "README.txt"})
        self.assertEqual(top["README.txt"]["xetHash"], b["files"]["README.txt"]["xetHash"])
        self.assertIn("uploadedAt", top[fixtures.NEURON_V1])
        self.assertIn("mtime", top["README.txt"])
        r = get("/api/buckets/acme/cache/tree?recursive=true&limit=5")
        self.assertEqual(len(r.json()), 5)
        self.assertTrue(LINK_RE.search(r.h("Link")))
        r = get("/api/buckets/acme/cache/tree/%s?recursive=true" % q(fixtures.NEURON_V1))
        files = sorted(e["path"] for e in r.json() if e["type"] == "file")
        self.assertEqual(files, sorted(p for p in b["files"] if p.startswith(fixtures.NEURON_V1 + "/")))
        mod = fixtures.NEURON_V1 + "/MODULE_1111+d41d8cd9"
        r = get("/api/buckets/acme/cache/tree/" + q(mod))
        self.assertEqual(sorted(e["path"].rsplit("/", 1)[1] for e in r.json()),
                         ["compile_flags.json", "model.done", "model.hlo_module.pb", "model.neff"])
        # raw key prefix: listing a file path also lists '#1' siblings
        r = get("/api/buckets/acme/cache/tree/registry/1.manifest")
        self.assertEqual(sorted(e["path"] for e in r.json()), ["registry/1.manifest", "registry/1.manifest#1"])
        r = request("POST", HUB.url + "/api/buckets/acme/cache/paths-info", headers={"Content-Type": "application/json"},
                    body=json.dumps({"paths": [mod + "/model.neff", "nope", "registry/1.manifest#1", mod]}))
        got = {e["path"]: e for e in r.json()}
        self.assertEqual(set(got), {mod + "/model.neff", "registry/1.manifest#1"})
        self.assertEqual(got[mod + "/model.neff"]["size"], b["files"][mod + "/model.neff"]["size"])
        # resolve -> CDN
        for p in (mod + "/model.neff", "registry/1.manifest#1"):
            fx = b["files"][p]
            r = request("HEAD", HUB.url + "/buckets/acme/cache/resolve/" + urllib.parse.quote(p, safe=""))
            self.assertEqual(r.status, 302)
            self.assertEqual(r.h("X-Linked-Size"), str(fx["size"]))
            self.assertEqual(r.h("Content-Length"), str(fx["size"]))
            self.assertEqual(r.h("X-Xet-Hash"), fx["xetHash"])
            loc = r.h("Location")
            self.assertTrue(loc.startswith(HUB.cdn_url + "/xet/" + fx["xetHash"]))
            r = request("GET", loc)
            self.assertEqual(r.body, slurp(fx["disk"]))
            r = request("GET", loc, headers={"Range": "bytes=0-3"})
            self.assertEqual((r.status, len(r.body)), (206, min(4, fx["size"])))
        r = get("/buckets/acme/cache/resolve/nope")
        self.assertEqual((r.status, r.h("X-Error-Code")), (404, "EntryNotFound"))
        self.assertEqual(get("/api/buckets/acme/none").h("X-Error-Code"), "RepoNotFound")


class WritesAndLog(unittest.TestCase):
    def test_writes_are_logged(self):
        HUB.clear_log()
        r = request("POST", HUB.url + "/api/models/acme/tiny/commit/main", headers={"Content-Type": "application/x-ndjson"},
                    body=b'{"key":"header","value":{"summary":"x"}}\n')
        self.assertEqual(r.status, 401)  # anonymous writes are refused
        r = request("POST", HUB.url + "/api/models/acme/tiny/paths-info/main", headers={"Content-Type": "application/json"},
                    body=b'{"paths":["config.json"]}')
        self.assertEqual(r.status, 200)
        r = request("DELETE", HUB.url + "/api/buckets/acme/cache")
        self.assertEqual(r.status, 501)
        r = request("PUT", HUB.url + "/some/upload/url", body=b"x" * 100000)
        self.assertEqual(r.status, 501)
        w = HUB.writes()
        self.assertEqual([(e["method"], e["path"]) for e in w],
                         [("POST", "/api/models/acme/tiny/commit/main"), ("DELETE", "/api/buckets/acme/cache"),
                          ("PUT", "/some/upload/url")])
        HUB.clear_log()

    def test_log_fields(self):
        HUB.clear_log()
        request("GET", HUB.url + "/acme/tiny/resolve/main/" + q(F["paths"]["unicode"]) + "?x=1",
                headers={"Range": "bytes=0-4", "User-Agent": "hfshim-test/1", **bearer(F["tokens"]["good"])})
        get("/_test/ping")
        reqs = HUB.requests()
        self.assertEqual(len(reqs), 1)
        e = reqs[0]
        self.assertEqual((e["listener"], e["method"], e["status"], e["range"], e["auth"], e["bytes"], e["ua"], e["query"]),
                         ("hub", "GET", 206, "bytes=0-4", True, 5, "hfshim-test/1", "x=1"))
        self.assertEqual(e["path"], "/acme/tiny/resolve/main/" + q(F["paths"]["unicode"]))
        self.assertIsInstance(e["t"], float)
        HUB.clear_log()


def ndjson(*lines):
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def b64(data):
    import base64

    return base64.b64encode(data).decode()


class Writes(unittest.TestCase):
    """preupload, LFS batch + CDN PUT + verify, NDJSON commit, 412, refusals (hub_write.py)."""

    n = 0

    def new_repo(self):
        Writes.n += 1
        rid = "acme/w-%d-%d" % (os.getpid(), Writes.n)
        sha = HUB.create_repo("model", rid, from_id="acme/tiny", from_rev="main")
        return rid, sha

    def post(self, path, obj, tok="good", ctype="application/json", raw=None):
        h = {"Content-Type": ctype}
        if tok:
            h.update(bearer(F["tokens"][tok]))
        return request("POST", HUB.url + path, headers=h, body=raw if raw is not None else json.dumps(obj).encode())

    def commit(self, rid, *ops, parent=None, rev="main", tok="good", summary="test commit"):
        hdr = {"summary": summary, "description": ""}
        if parent:
            hdr["parentCommit"] = parent
        return self.post("/api/models/%s/commit/%s" % (rid, rev), None, tok, "application/x-ndjson",
                         ndjson({"key": "header", "value": hdr}, *ops))

    def test_preupload(self):
        rid, head = self.new_repo()
        files = [
            {"path": "notes.txt", "sample": b64(b"hello\n"), "size": 6},
            {"path": "blob.dat", "sample": b64(bytes(range(256)) * 2), "size": 4096},
            {"path": "w/x.bin", "sample": b64(b"text in a .bin"), "size": 14},
            {"path": "huge.txt", "sample": b64(b"a" * 512), "size": 11 * 1024 * 1024},
            {"path": "empty.bin", "sample": "", "size": 0},
            {"path": "utf8.txt", "sample": b64("é".encode() * 300), "size": 1000},  # sample cut mid-character
            {"path": "README.md", "sample": b64(b"# x\n"), "size": 4},
            {"path": "model.safetensors", "sample": b64(b"\0" * 8), "size": 9},
        ]
        r = self.post("/api/models/%s/preupload/main" % rid, {"files": files})
        self.assertEqual(r.status, 200, r.body)
        got = {f["path"]: f for f in r.json()["files"]}
        self.assertEqual(r.json()["commitOid"], head)
        self.assertEqual({p: f["uploadMode"] for p, f in got.items()},
                         {"notes.txt": "regular", "blob.dat": "lfs", "w/x.bin": "lfs", "huge.txt": "lfs",
                          "empty.bin": "regular", "utf8.txt": "regular", "README.md": "regular",
                          "model.safetensors": "lfs"})
        self.assertEqual(got["README.md"]["oid"], tiny("README.md")["oid"])
        self.assertEqual(got["model.safetensors"]["oid"], tiny("model.safetensors")["sha256"])
        self.assertNotIn("oid", got["notes.txt"])
        self.assertEqual(self.post("/api/models/%s/preupload/main" % rid, {"files": files}, tok="other").status, 403)
        self.assertEqual(self.post("/api/models/%s/preupload/main" % rid, {"files": files}, tok=None).status, 401)
        self.assertEqual(self.post("/api/models/%s/preupload/nope" % rid, {"files": files}).h("X-Error-Code"),
                         "RevisionNotFound")

    def test_lfs_upload_and_commit(self):
        HUB.clear_log()
        rid, head = self.new_repo()
        big = os.urandom(300 * 1024)
        oid = hashlib.sha256(big).hexdigest()
        batch = {"operation": "upload", "transfers": ["basic", "multipart"], "hash_algo": "sha256",
                 "objects": [{"oid": oid, "size": len(big)}, {"oid": tiny("model.safetensors")["sha256"],
                                                              "size": tiny("model.safetensors")["size"]}],
                 "ref": {"name": "main"}}
        r = self.post("/%s.git/info/lfs/objects/batch" % rid, batch, ctype="application/vnd.git-lfs+json")
        self.assertEqual(r.status, 200, r.body)
        objs = r.json()["objects"]
        self.assertNotIn("actions", objs[1])  # the Hub has it already
        up, verify = objs[0]["actions"]["upload"]["href"], objs[0]["actions"]["verify"]["href"]
        self.assertTrue(up.startswith(HUB.cdn_url + "/upload/" + oid), up)
        self.assertTrue(verify.startswith(HUB.url + "/"), verify)
        # the CDN refuses the token and wrong bytes, takes the right ones
        self.assertEqual(request("PUT", up, body=big, headers=bearer(F["tokens"]["good"])).status, 403)
        self.assertEqual(request("PUT", up, body=big[:-1] + b"x").status, 400)
        self.assertEqual(request("PUT", up.replace("sig=", "sig=0"), body=big).status, 403)
        self.assertEqual(self.post(verify[len(HUB.url):], {"oid": oid, "size": len(big)}).status, 404)
        self.assertEqual(request("PUT", up, body=big).status, 200)
        self.assertEqual(self.post(verify[len(HUB.url):], {"oid": oid, "size": len(big)}).status, 200)
        r = self.post("/%s.git/info/lfs/objects/batch" % rid, batch, ctype="application/vnd.git-lfs+json")
        self.assertNotIn("actions", r.json()["objects"][0])
        # one commit: inline file, LFS file, deleted file and folder
        r = self.commit(rid,
                        {"key": "file", "value": {"content": b64(b"new text\n"), "path": "new/n.txt", "encoding": "base64"}},
                        {"key": "lfsFile", "value": {"path": "weights/added.bin", "algo": "sha256", "oid": oid, "size": len(big)}},
                        {"key": "deletedFile", "value": {"path": "README.md"}},
                        {"key": "deletedFolder", "value": {"path": "a"}},
                        {"key": "file", "value": {"content": "utf-8 text", "path": "config.json", "encoding": "utf-8"}},
                        parent=head)
        self.assertEqual(r.status, 200, r.body)
        new = r.json()["commitOid"]
        self.assertTrue(r.json()["success"])
        self.assertRegex(new, "^[0-9a-f]{40}$")
        self.assertTrue(r.json()["commitUrl"].endswith("/%s/commit/%s" % (rid, new)))
        self.assertEqual(HUB.head("model", rid), new)
        self.assertEqual(get("/api/models/%s" % rid).json()["sha"], new)
        self.assertEqual(get("/%s/resolve/main/new/n.txt" % rid).body, b"new text\n")
        self.assertEqual(get("/%s/resolve/main/config.json" % rid).body, b"utf-8 text")
        loc = request("HEAD", HUB.url + "/%s/resolve/%s/weights/added.bin" % (rid, new)).h("Location")
        self.assertEqual(request("GET", loc).body, big)
        self.assertEqual(get("/%s/resolve/main/README.md" % rid).status, 404)
        self.assertEqual(get("/%s/resolve/main/a/top.txt" % rid).status, 404)
        self.assertEqual(get("/%s/resolve/%s/README.md" % (rid, head)).status, 200)  # the old commit stays
        paths = {e["path"] for e in get("/api/models/%s/tree/main?recursive=true" % rid).json()}
        self.assertIn("weights/added.bin", paths)
        self.assertNotIn("a", paths)
        files = HUB.files_at("model", rid, new)
        self.assertTrue(files["weights/added.bin"]["lfs"])
        self.assertEqual(HUB.read_at("model", rid, new, "new/n.txt"), b"new text\n")
        # a stale parent: 412; no parent: accepted
        r = self.commit(rid, {"key": "deletedFile", "value": {"path": "config.json"}}, parent=head)
        self.assertEqual(r.status, 412)
        self.assertEqual(r.json()["error"], "A commit has happened since. Please refresh and try again.")
        r = self.commit(rid, {"key": "deletedFile", "value": {"path": "config.json"}})
        self.assertEqual(r.status, 200)
        self.assertEqual(HUB.commits("model", rid)[-2:], [new, r.json()["commitOid"]])
        writes = [(e["listener"], e["method"]) for e in HUB.writes()]
        self.assertIn(("cdn", "PUT"), writes)
        self.assertEqual([e for e in HUB.requests("cdn") if e["method"] == "PUT" and e["auth"] and e["status"] != 403], [])
        # the hub keeps pushed commits across a reload
        HUB.reload()
        self.assertEqual(get("/%s/resolve/%s/new/n.txt" % (rid, new)).body, b"new text\n")
        self.assertEqual(HUB.head("model", rid), r.json()["commitOid"])

    def test_commit_errors(self):
        rid, head = self.new_repo()
        f = {"key": "file", "value": {"content": b64(b"x"), "path": "x.txt", "encoding": "base64"}}
        cases = [
            (self.commit(rid, f, tok="other"), 403),
            (self.commit(rid, f, tok=None), 401),
            (self.commit(rid, f, rev=head), 400),  # commits go to branches only
            (self.commit(rid, f, rev="nope"), 404),
            (self.commit(rid, {"key": "deletedFile", "value": {"path": "nope.txt"}}), 404),
            (self.commit(rid, {"key": "deletedFolder", "value": {"path": "nope"}}), 404),
            (self.commit(rid, {"key": "lfsFile", "value": {"path": "y.bin", "algo": "sha256", "oid": "0" * 64, "size": 1}}), 422),
            (self.commit(rid, {"key": "file", "value": {"content": b64(b"x"), "path": "../x", "encoding": "base64"}}), 400),
            (self.commit(rid, {"key": "file", "value": {"content": b64(b"x"), "path": "a", "encoding": "base64"}}), 400),
            (self.commit(rid, {"key": "file", "value": {"content": b64(b"x"), "path": "README.md/x", "encoding": "base64"}}), 400),
            (self.commit(rid, {"key": "file", "value": {"content": b64(b"x" * (10 * 1024 * 1024 + 1)), "path": "big.txt"}}), 400),
            (self.commit(rid, {"key": "copyFile", "value": {"path": "z"}}), 400),
            (self.commit(rid, f, parent="zz"), 400),
            (self.post("/api/models/%s/commit/main" % rid, None, ctype="application/x-ndjson",
                       raw=ndjson({"key": "file", "value": f["value"]})), 400),
        ]
        self.assertEqual([r.status for r, _ in cases], [want for _, want in cases], [r.body[:200] for r, _ in cases])
        self.assertEqual(HUB.head("model", rid), head)  # nothing was committed

    def test_bucket_writes_refused(self):
        r = self.post("/api/buckets/acme/cache/batch", None, ctype="application/x-ndjson",
                      raw=ndjson({"type": "addFile", "path": "x.neff", "xetHash": "0" * 64, "mtime": 1}))
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json()["failed"][0]["path"], "x.neff")
        self.assertIn("Xet", r.json()["failed"][0]["error"])
        r = request("GET", HUB.url + "/api/buckets/acme/cache/xet-write-token", headers=bearer(F["tokens"]["good"]))
        self.assertEqual(r.status, 501)
        self.assertIn("Xet", r.h("X-Error-Message"))
        self.assertEqual(self.post("/api/buckets/acme/cache/batch", None, tok="other", raw=b"").status, 403)


class Control(unittest.TestCase):
    def test_set_ref_add_commit_reload(self):
        t = F["repos"]["acme/tiny"]
        try:
            HUB.set_ref("model", "acme/tiny", "main", t["commits"]["A"])
            self.assertEqual(get("/api/models/acme/tiny").json()["sha"], t["commits"]["A"])
            self.assertEqual(get("/acme/tiny/resolve/main/" + F["paths"]["big"]).status, 404)
        finally:
            HUB.set_ref("model", "acme/tiny", "main", t["commits"]["B"])
        self.assertEqual(get("/api/models/acme/tiny").json()["sha"], t["commits"]["B"])
        scratch = os.path.join(HUB.root, ".scratch-%d" % os.getpid())
        os.makedirs(os.path.join(scratch, "sub"))
        try:
            with open(os.path.join(scratch, "sub", "new.txt"), "wb") as fh:
                fh.write(b"new content\n")
            sha = hashlib.sha1(b"scratch").hexdigest()
            HUB.add_commit("model", "acme/tiny", sha, os.path.basename(scratch), ref="scratch", title="Scratch")
            self.assertEqual(get("/api/models/acme/tiny/revision/scratch").json()["sha"], sha)
            self.assertEqual(get("/acme/tiny/resolve/scratch/sub/new.txt").body, b"new content\n")
            r = get("/api/models/acme/tiny/tree/scratch/sub?expand=true").json()
            self.assertEqual(r[0]["lastCommit"]["title"], "Scratch")
            HUB.reload()  # back to repos.json: the scratch branch is gone
            self.assertEqual(get("/api/models/acme/tiny/revision/scratch").status, 404)
            self.assertEqual(get("/api/models/acme/tiny").json()["sha"], t["commits"]["B"])
        finally:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


class Faults(unittest.TestCase):
    def tearDown(self):
        HUB.clear_faults()

    def test_status_faults(self):
        path = "/api/models/acme/tiny/revision/main"
        HUB.fault("/revision/main", "500", count=2)
        self.assertEqual(get(path).status, 500)
        self.assertEqual(get(path).status, 500)
        self.assertEqual(get(path).status, 200)
        HUB.fault("/revision/main", "429", retry_after=7)
        r = get(path)
        self.assertEqual((r.status, r.h("Retry-After"), r.h("RateLimit")), (429, "7", '"api";r=0;t=7'))
        HUB.fault("/revision/main", "503", retry_after=2)
        r = get(path)
        self.assertEqual((r.status, r.h("Retry-After")), (503, "2"))
        HUB.fault("/revision/main", "garbage")
        r = get(path)
        self.assertEqual(r.status, 200)
        self.assertRaises(ValueError, r.json)
        self.assertEqual(get(path).status, 200)

    def test_reset_truncate_slow(self):
        path = "/acme/tiny/resolve/main/" + F["paths"]["text3m"]
        HUB.fault("docs/large", "reset")
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                                socket.error)):
            get(path)
        HUB.fault("docs/large", "truncate")
        with self.assertRaises(http.client.IncompleteRead):
            get(path)
        HUB.fault("docs/large", "slow", delay=0.5)
        t = time.time()
        r = get(path)
        self.assertGreaterEqual(time.time() - t, 0.5)
        self.assertEqual(r.status, 200)
        # CDN faults, scoped by listener
        loc = request("HEAD", HUB.url + "/acme/tiny/resolve/main/model.safetensors").h("Location")
        HUB.fault("/lfs/", "503", listener="cdn")
        self.assertEqual(request("GET", loc).status, 503)
        self.assertEqual(request("GET", loc).status, 200)
        HUB.fault("/lfs/", "truncate", listener="cdn")
        with self.assertRaises(http.client.IncompleteRead):
            request("GET", loc)

    def test_hostile_answers(self):
        path = "/acme/tiny/resolve/main/" + F["paths"]["text3m"]
        whole = get(path).body
        HUB.fault("docs/large", "ignore_range")
        r = get(path, headers={"Range": "bytes=10-19"})
        self.assertEqual((r.status, r.body), (200, whole))
        self.assertEqual(get(path, headers={"Range": "bytes=10-19"}).status, 206)
        HUB.fault("docs/large", "redirect", location="file:///etc/passwd")
        r = get(path)
        self.assertEqual((r.status, r.h("Location")), (302, "file:///etc/passwd"))
        HUB.fault("docs/large", "drip", delay=0.05)
        t = time.time()
        r = get(path, headers={"Range": "bytes=0-9"})
        self.assertEqual(r.body, whole[:10])
        self.assertGreaterEqual(time.time() - t, 0.45)
        tree = "/api/models/acme/tiny/tree/main?recursive=true"
        n = len(get(tree).json())
        HUB.fault("/tree/", "inject", entries=[{"type": "file", "path": 5}, 7])
        got = get(tree).json()
        self.assertEqual((len(got), got[-2:]), (n + 2, [{"type": "file", "path": 5}, 7]))
        HUB.fault("/tree/", "endless", count=2, entries=[])
        links = set()
        for _ in range(2):
            r = get(tree + "&cursor=whatever")
            self.assertEqual(r.json(), [])
            links.add(r.h("Link"))
        self.assertEqual(len(links), 2, links)
        self.assertTrue(all('rel="next"' in x and "cursor=endless" in x for x in links), links)

    def test_latency(self):
        path = "/api/models/acme/tiny/revision/main"
        loc = request("HEAD", HUB.url + "/acme/tiny/resolve/main/model.safetensors").h("Location")
        HUB.set_delay(150)
        for url in (HUB.url + path, loc):
            t = time.time()
            self.assertEqual(request("GET", url).status, 200)
            self.assertGreaterEqual(time.time() - t, 0.15, url)
        HUB.set_delay(0, cdn_base="http://127.0.0.1:9")
        self.assertTrue(request("HEAD", HUB.url + "/acme/tiny/resolve/main/model.safetensors")
                        .h("Location").startswith("http://127.0.0.1:9/lfs/"))
        HUB.clear_faults()  # latency and redirect target back to the start
        self.assertEqual(request("HEAD", HUB.url + "/acme/tiny/resolve/main/model.safetensors").h("Location"), loc)
        t = time.time()
        get(path)
        self.assertLess(time.time() - t, 0.15)


def main():
    prog = unittest.main(exit=False, verbosity=2 if "-v" in sys.argv else 1)
    res = prog.result
    bad = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    print("hub: %d passed, %d failed" % (res.testsRun - bad - len(res.skipped), bad))
    return 1 if bad or res.testsRun == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
