// Drives the official @huggingface/hub client against hfshim's test Hub server.
// Run through tests/js/run.py, which starts the hub and sets HUB_URL, CDN_URL and FACTS_JSON.
// One line per check; the last line is "N passed, N failed"; exit 1 on any failure.

import {
	listFiles,
	pathsInfo,
	fileDownloadInfo,
	downloadFile,
	modelInfo,
	datasetInfo,
	spaceInfo,
	fileExists,
	snapshotDownload,
	HubApiError,
} from "@huggingface/hub";
import { readFileSync, mkdtempSync, rmSync, realpathSync, lstatSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

const hubUrl = process.env.HUB_URL;
const cdnUrl = process.env.CDN_URL;
if (!hubUrl || !cdnUrl || !process.env.FACTS_JSON) {
	console.error("HUB_URL, CDN_URL and FACTS_JSON must be set (use tests/js/run.py)");
	process.exit(2);
}
const facts = JSON.parse(readFileSync(process.env.FACTS_JSON, "utf8"));
const P = facts.paths;
const T = facts.tokens;
const tiny = facts.repos["acme/tiny"];
const many = facts.repos["acme/many"];
const bucket = facts.buckets["acme/cache"];

let passed = 0;
let failed = 0;
async function check(name, fn) {
	const t0 = Date.now();
	try {
		await fn();
		passed++;
		console.log(`ok   ${name} (${Date.now() - t0} ms)`);
	} catch (e) {
		failed++;
		console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
	}
}
function assert(cond, msg) {
	if (!cond) throw new Error("assertion failed: " + msg);
}
function eq(got, want, msg) {
	const g = JSON.stringify(got);
	const w = JSON.stringify(want);
	if (g !== w) throw new Error(`${msg}: got ${g}, want ${w}`);
}
async function rejects(promise, status, msg) {
	try {
		await promise;
	} catch (e) {
		if (status !== undefined) {
			assert(e instanceof HubApiError, `${msg}: expected HubApiError, got ${e}`);
			eq(e.statusCode, status, `${msg}: status`);
		}
		return e;
	}
	throw new Error(`${msg}: expected a rejection`);
}
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const disk = (f) => readFileSync(f.disk);
async function collect(gen) {
	const out = [];
	for await (const x of gen) out.push(x);
	return out;
}
// a fetch that counts requests (to see pagination happen)
function countingFetch() {
	const f = async (url, init) => {
		f.urls.push(String(url));
		return fetch(url, init);
	};
	f.urls = [];
	return f;
}

// ---------------------------------------------------------------------------------------------
// listFiles
// ---------------------------------------------------------------------------------------------
await check("listFiles recursive over datasets/acme/many follows Link pagination", async () => {
	const f = countingFetch();
	const entries = await collect(listFiles({ repo: "datasets/acme/many", recursive: true, hubUrl, fetch: f }));
	const files = entries.filter((e) => e.type === "file");
	const dirs = entries.filter((e) => e.type === "directory");
	eq(files.length, 10000, "files");
	eq(new Set(files.map((e) => e.path)).size, 10000, "distinct files");
	eq(dirs.length, 100, "dirs");
	eq(f.urls.length, 11, "pages fetched");
	assert(f.urls.slice(1).every((u) => u.startsWith(hubUrl) && u.includes("cursor=")), "next URLs");
	const e = files.find((x) => x.path === "dir_042/file_4242.txt");
	eq(e.oid, many.files["dir_042/file_4242.txt"].oid, "oid");
	eq(e.size, many.files["dir_042/file_4242.txt"].size, "size");
});

await check("listFiles non-recursive on a subdirectory", async () => {
	const entries = await collect(listFiles({ repo: "acme/tiny", path: "a", hubUrl }));
	eq(
		entries.map((e) => [e.type, e.path]),
		[
			["directory", "a/b"],
			["file", "a/top.txt"],
		],
		"entries",
	);
});

await check("listFiles recursive on acme/tiny: files, directories, lfs and xetHash", async () => {
	const entries = await collect(listFiles({ repo: "acme/tiny", recursive: true, hubUrl }));
	const files = Object.fromEntries(entries.filter((e) => e.type === "file").map((e) => [e.path, e]));
	eq(Object.keys(files).sort(), Object.keys(tiny.files).sort(), "file paths");
	eq(
		entries.filter((e) => e.type === "directory").map((e) => e.path).sort(),
		[...tiny.dirs].sort(),
		"directory paths",
	);
	for (const [p, fx] of Object.entries(tiny.files)) {
		eq(files[p].size, fx.size, `${p} size`);
		eq(files[p].oid, fx.oid, `${p} oid`);
		if (fx.lfs) {
			eq(files[p].lfs, { oid: fx.sha256, size: fx.size, pointerSize: fx.pointerSize }, `${p} lfs`);
			eq(files[p].xetHash, fx.xetHash, `${p} xetHash`);
		} else {
			assert(files[p].lfs === undefined, `${p} not lfs`);
		}
	}
});

await check("listFiles with expand and at tag v1.0", async () => {
	const entries = await collect(listFiles({ repo: "acme/tiny", recursive: true, expand: true, hubUrl }));
	const st = entries.find((e) => e.path === P.safetensors);
	eq(st.lastCommit.id, tiny.commits.A, "lastCommit of a file unchanged since A");
	assert(!isNaN(Date.parse(st.lastCommit.date)), "lastCommit.date parses");
	const old = await collect(listFiles({ repo: "acme/tiny", recursive: true, revision: "v1.0", hubUrl }));
	eq(
		old.filter((e) => e.type === "file").map((e) => e.path).sort(),
		Object.keys(tiny.files_at[tiny.commits.A]).sort(),
		"files at v1.0",
	);
});

await check("listFiles on a bucket (buckets/acme/cache)", async () => {
	const entries = await collect(listFiles({ repo: "buckets/acme/cache", recursive: true, hubUrl }));
	const files = entries.filter((e) => e.type === "file");
	eq(files.map((e) => e.path).sort(), Object.keys(bucket.files).sort(), "bucket files");
	for (const e of files) {
		eq(e.xetHash, bucket.files[e.path].xetHash, `${e.path} xetHash`);
		eq(e.size, bucket.files[e.path].size, `${e.path} size`);
	}
	eq(
		entries.filter((e) => e.type === "directory").map((e) => e.path).sort(),
		[...bucket.dirs].sort(),
		"bucket dirs",
	);
	const top = await collect(listFiles({ repo: "buckets/acme/cache", hubUrl }));
	eq(top.length, 4, "top level entries");
});

await check("listFiles on a missing path and a private repo fail", async () => {
	await rejects(collect(listFiles({ repo: "acme/tiny", path: "nope", hubUrl })), 404, "missing path");
	await rejects(collect(listFiles({ repo: "acme/private", hubUrl })), 401, "private, anonymous");
	const ok = await collect(listFiles({ repo: "acme/private", hubUrl, accessToken: T.good }));
	eq(ok.map((e) => e.path).sort(), ["README.md", "secret.txt"], "private with token");
});

// ---------------------------------------------------------------------------------------------
// pathsInfo
// ---------------------------------------------------------------------------------------------
await check("pathsInfo with expand (JSON body)", async () => {
	const res = await pathsInfo({
		repo: "acme/tiny",
		paths: [P.config, P.big, "a/b", "missing.txt", P.unicode],
		expand: true,
		hubUrl,
	});
	const by = Object.fromEntries(res.map((e) => [e.path, e]));
	eq(Object.keys(by).sort(), [P.config, P.big, "a/b", P.unicode].sort(), "paths returned");
	eq(by[P.big].lfs, { oid: tiny.files[P.big].sha256, size: tiny.files[P.big].size, pointerSize: tiny.files[P.big].pointerSize }, "lfs");
	eq(by[P.big].size, tiny.files[P.big].size, "size is the real size");
	eq(by[P.config].oid, tiny.files[P.config].oid, "oid");
	eq(by["a/b"].type, "directory", "directory entry");
	assert(by[P.config].lastCommit.date instanceof Date && !isNaN(by[P.config].lastCommit.date), "lastCommit date");
	eq(by[P.config].lastCommit.id, tiny.commits.B, "config changed in B");
});

await check("pathsInfo at refs/pr/1 and on a bucket", async () => {
	const res = await pathsInfo({ repo: "acme/tiny", paths: [P.pr_note], revision: "refs/pr/1", hubUrl });
	eq(res.map((e) => e.path), [P.pr_note], "pr file");
	const neff = Object.keys(bucket.files).find((p) => p.endsWith("/model.neff"));
	const b = await pathsInfo({ repo: "buckets/acme/cache", paths: [neff, "nope"], hubUrl });
	eq(b.map((e) => [e.path, e.size, e.xetHash]), [[neff, bucket.files[neff].size, bucket.files[neff].xetHash]], "bucket");
});

// ---------------------------------------------------------------------------------------------
// fileDownloadInfo
// ---------------------------------------------------------------------------------------------
await check("fileDownloadInfo: regular file (size + quoted git oid etag)", async () => {
	for (const p of [P.config, P.spaces, P.unicode, P.text3m]) {
		const info = await fileDownloadInfo({ repo: "acme/tiny", path: p, hubUrl });
		eq(info.size, tiny.files[p].size, `${p} size`);
		eq(info.etag, `"${tiny.files[p].oid}"`, `${p} etag`);
		assert(info.xet === undefined, "no xet");
	}
});

await check("fileDownloadInfo: LFS file through the CDN redirect (etag = sha256)", async () => {
	for (const p of [P.big, P.safetensors]) {
		for (const accessToken of [undefined, T.good]) {
			const info = await fileDownloadInfo({ repo: "acme/tiny", path: p, hubUrl, accessToken });
			eq(info.size, tiny.files[p].size, `${p} size`);
			eq(info.etag, `"${tiny.files[p].sha256}"`, `${p} etag`);
			eq(info.etag.replace(/^W\//, "").replace(/"/g, ""), tiny.files[p].sha256, "normalised etag");
		}
	}
});

await check("fileDownloadInfo: raw LFS pointer, and a missing file is null", async () => {
	const info = await fileDownloadInfo({ repo: "acme/tiny", path: P.big, raw: true, hubUrl });
	eq(info.size, tiny.files[P.big].pointerSize, "pointer size");
	eq(info.etag, `"${tiny.files[P.big].oid}"`, "pointer etag");
	eq(await fileDownloadInfo({ repo: "acme/tiny", path: "missing.txt", hubUrl }), null, "missing");
});

// ---------------------------------------------------------------------------------------------
// downloadFile
// ---------------------------------------------------------------------------------------------
await check("downloadFile: regular files byte-for-byte (odd names included)", async () => {
	for (const p of [P.config, P.spaces, P.unicode, P.deep, P.text3m, P.readme]) {
		const blob = await downloadFile({ repo: "acme/tiny", path: p, hubUrl });
		const got = Buffer.from(await blob.arrayBuffer());
		assert(got.equals(disk(tiny.files[p])), `${p} bytes`);
	}
});

await check("downloadFile: LFS files via the CDN, byte-for-byte", async () => {
	for (const p of [P.safetensors, P.zip, P.medium]) {
		const blob = await downloadFile({ repo: "acme/tiny", path: p, hubUrl });
		const got = Buffer.from(await blob.arrayBuffer());
		assert(got.equals(disk(tiny.files[p])), `${p} bytes`);
	}
});

await check("downloadFile: 200 MiB LFS file with a token (token must not reach the CDN)", async () => {
	const blob = await downloadFile({ repo: "acme/tiny", path: P.big, hubUrl, accessToken: T.good });
	eq(blob.size, tiny.files[P.big].size, "size");
	const got = Buffer.from(await blob.arrayBuffer());
	eq(got.length, tiny.files[P.big].size, "length");
	eq(sha256(got), tiny.files[P.big].sha256, "sha256");
	// a slice is a Range request on the CDN
	const part = Buffer.from(await blob.slice(1000, 2000).arrayBuffer());
	assert(part.equals(got.subarray(1000, 2000)), "slice");
});

await check("downloadFile: raw pointer, other revisions, datasets, buckets", async () => {
	const ptr = await (await downloadFile({ repo: "acme/tiny", path: P.big, raw: true, hubUrl })).text();
	eq(ptr, tiny.files[P.big].pointer, "pointer");
	const a = await (await downloadFile({ repo: "acme/tiny", path: P.readme, revision: "v1.0", hubUrl })).text();
	assert(a.includes("Revision A"), "README at v1.0");
	const bySha = await (await downloadFile({ repo: "acme/tiny", path: P.readme, revision: tiny.commits.A, hubUrl })).text();
	eq(bySha, a, "README at sha A");
	const pr = await (await downloadFile({ repo: "acme/tiny", path: P.pr_note, revision: "refs/pr/1", hubUrl })).text();
	eq(pr, "added in pull request 1\n", "refs/pr/1");
	const ds = await (await downloadFile({ repo: "datasets/acme/many", path: "dir_042/file_4242.txt", hubUrl })).text();
	eq(ds, "dir_042/file_4242.txt\n", "dataset file");
	const sp = await (await downloadFile({ repo: "spaces/acme/space", path: "index.html", hubUrl })).text();
	assert(sp.includes("acme/space"), "space file");
	const neff = Object.keys(bucket.files).find((p) => p.endsWith("/model.neff"));
	const bb = Buffer.from(await (await downloadFile({ repo: "buckets/acme/cache", path: neff, hubUrl })).arrayBuffer());
	assert(bb.equals(disk(bucket.files[neff])), "bucket file bytes");
	eq(await downloadFile({ repo: "acme/tiny", path: "missing.txt", hubUrl }), null, "missing is null");
});

// ---------------------------------------------------------------------------------------------
// repo info, existence, access
// ---------------------------------------------------------------------------------------------
await check("modelInfo / datasetInfo / spaceInfo", async () => {
	const m = await modelInfo({ name: "acme/tiny", hubUrl, additionalFields: ["sha"] });
	eq([m.name, m.private, m.sha], ["acme/tiny", false, tiny.commits.B], "model");
	assert(m.updatedAt instanceof Date && !isNaN(m.updatedAt), "updatedAt");
	const old = await modelInfo({ name: "acme/tiny", hubUrl, revision: "v1.0", additionalFields: ["sha"] });
	eq(old.sha, tiny.commits.A, "model at v1.0");
	const d = await datasetInfo({ name: "acme/many", hubUrl, additionalFields: ["sha"] });
	eq([d.name, d.sha], ["acme/many", many.sha], "dataset");
	const s = await spaceInfo({ name: "acme/space", hubUrl, additionalFields: ["sha"] });
	eq([s.name, s.sha], ["acme/space", facts.repos["acme/space"].sha], "space");
	await rejects(modelInfo({ name: "acme/nope", hubUrl }), 401, "missing model");
	await rejects(modelInfo({ name: "acme/tiny", hubUrl, revision: "nope" }), 404, "missing revision");
});

await check("private repo: works with hf_good_token, fails without or with another token", async () => {
	await rejects(modelInfo({ name: "acme/private", hubUrl }), 401, "anonymous");
	const m = await modelInfo({ name: "acme/private", hubUrl, accessToken: T.good, additionalFields: ["sha"] });
	eq([m.private, m.sha], [true, facts.repos["acme/private"].sha], "with token");
	const blob = await downloadFile({ repo: "acme/private", path: "secret.txt", hubUrl, accessToken: T.good });
	eq(await blob.text(), "the private bytes\n", "private bytes");
	await rejects(downloadFile({ repo: "acme/private", path: "secret.txt", hubUrl }), 401, "anonymous download");
	await rejects(downloadFile({ repo: "acme/private", path: "secret.txt", hubUrl, accessToken: T.other }), 403, "other token");
	await rejects(modelInfo({ name: "acme/tiny", hubUrl, accessToken: T.invalid }), 401, "unknown token");
});

await check("gated repo: 401 anonymous, 403 without access, 200 with access", async () => {
	await rejects(downloadFile({ repo: "acme/gated", path: "config.json", hubUrl }), 401, "anonymous");
	await rejects(downloadFile({ repo: "acme/gated", path: "config.json", hubUrl, accessToken: T.other }), 403, "no access");
	const blob = await downloadFile({ repo: "acme/gated", path: "config.json", hubUrl, accessToken: T.good });
	assert((await blob.text()).includes("gated"), "gated bytes");
});

await check("fileExists (HEAD on raw/ and bucket resolve/)", async () => {
	eq(await fileExists({ repo: "acme/tiny", path: P.config, hubUrl }), true, "config");
	eq(await fileExists({ repo: "acme/tiny", path: P.big, hubUrl }), true, "big (raw pointer)");
	eq(await fileExists({ repo: "acme/tiny", path: "missing.txt", hubUrl }), false, "missing");
	eq(await fileExists({ repo: "acme/tiny", path: P.big, revision: "v1.0", hubUrl }), false, "big at v1.0");
	eq(await fileExists({ repo: "buckets/acme/cache", path: "README.txt", hubUrl }), true, "bucket file");
});

await check("snapshotDownload of acme/tiny@v1.0 into an HF cache layout", async () => {
	const cacheDir = mkdtempSync(join(tmpdir(), "hfshim-js-"));
	try {
		const snap = await snapshotDownload({ repo: "acme/tiny", revision: "v1.0", cacheDir, hubUrl });
		assert(snap.endsWith(join("snapshots", tiny.commits.A)), `snapshot folder ${snap}`);
		const folder = join(cacheDir, "models--acme--tiny");
		eq(readFileSync(join(folder, "refs", "v1.0"), "utf8"), tiny.commits.A, "refs/v1.0");
		for (const [p, fx] of Object.entries(tiny.files_at[tiny.commits.A])) {
			const link = join(snap, p);
			assert(lstatSync(link).isSymbolicLink(), `${p} is a symlink`);
			const target = realpathSync(link);
			eq(target, realpathSync(join(folder, "blobs", fx.etag)), `${p} blob named by etag`);
			assert(readFileSync(link).equals(disk(fx)), `${p} bytes`);
		}
	} finally {
		rmSync(cacheDir, { recursive: true, force: true });
	}
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
