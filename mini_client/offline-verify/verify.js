/* Offline verification of an opinion's evidence root (RFC 6962 Merkle tree, SHA-256).
 * Pure functions on window.OfflineVerify; the page wiring at the bottom. No network. */
(function () {
  "use strict";
  const enc = new TextEncoder();

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function concat(prefix, ...parts) {
    const size = 1 + parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(size);
    out[0] = prefix;
    let at = 1;
    for (const part of parts) { out.set(part, at); at += part.length; }
    return out;
  }
  function split(n) { let k = 1; while (k * 2 < n) k *= 2; return k; }

  async function subtree(hashes) {
    if (hashes.length === 1) return hashes[0];
    const k = split(hashes.length);
    return sha256(concat(1, await subtree(hashes.slice(0, k)), await subtree(hashes.slice(k))));
  }

  /* The root (hex) of leaves [{kind, id, sha256}] in the order given. */
  async function rootOf(leaves) {
    if (leaves.length === 0) return hex(await sha256(new Uint8Array(0)));
    const hashes = [];
    for (const leaf of leaves) {
      hashes.push(await sha256(concat(0, enc.encode(`${leaf.kind}\t${leaf.id}\t${leaf.sha256}`))));
    }
    return hex(await subtree(hashes));
  }

  function orderProblems(entries) {
    const out = [];
    for (let i = 1; i < entries.length; i++) {
      const a = [entries[i - 1].kind, entries[i - 1].id], b = [entries[i].kind, entries[i].id];
      if (a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1])) out.push(`${b[0]}/${b[1]}`);
    }
    return out;
  }

  function parseQr(text) {
    const at = text.indexOf("#");
    if (at < 0) throw new Error("二维码内容没有证据根 / the QR content carries no evidence root");
    const fields = new URLSearchParams(text.slice(at + 1).trim());
    if (fields.get("v") !== "1") throw new Error("二维码版本不支持 / unsupported QR version");
    return { opinion: fields.get("o") || "", root: fields.get("r") || "", twin: fields.get("h") || "" };
  }

  /* files: Map path -> Uint8Array (paths relative to the bundle folder); qrText optional.
   * Returns {ok, root, checked, matched, problems}. */
  async function verify(files, qrText) {
    const problems = [];
    const twinBytes = files.get("opinion.json");
    if (!twinBytes) return { ok: false, problems: ["缺少 opinion.json / opinion.json is missing"] };
    const twinHash = hex(await sha256(twinBytes));
    const twin = JSON.parse(new TextDecoder().decode(twinBytes));
    const evidence = twin.evidence_root;
    if (!evidence) return { ok: false, problems: ["意见书没有证据根 / the opinion has no evidence root"] };
    const root = await rootOf(evidence.leaves);
    if (root !== evidence.root) problems.push(`证据根与叶子不符 / the root does not recompute (${root})`);
    if (qrText && qrText.trim()) {
      try {
        const qr = parseQr(qrText.trim());
        if (qr.root !== evidence.root) problems.push(`二维码中的证据根不符 / the QR's root differs: ${qr.root}`);
        if (qr.twin !== twinHash) problems.push(`二维码中的内容哈希不符 / the QR's twin hash differs: ${qr.twin}`);
        if (qr.opinion !== twin.opinion_id) problems.push(`二维码中的意见书编号不符 / the QR's opinion id differs: ${qr.opinion}`);
      } catch (err) { problems.push(String(err.message || err)); }
    }
    let checked = 0, matched = 0;
    const manifestBytes = files.get("manifest.json");
    if (manifestBytes) {
      const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
      const entries = manifest.entries || [];
      for (const name of orderProblems(entries)) problems.push(`清单顺序被改动 / manifest entry out of order: ${name}`);
      const paths = new Map(entries.map((e) => [`${e.kind}/${e.id}`, e.path]));
      for (const leaf of evidence.leaves) {
        const name = `${leaf.kind}/${leaf.id}`;
        checked++;
        const path = paths.get(name);
        const body = path && (files.get(path) || files.get(path.split("/").pop()));
        if (!body) { problems.push(`缺少对象 / missing object: ${name} (${path || "—"})`); continue; }
        const actual = hex(await sha256(body));
        if (actual !== leaf.sha256) { problems.push(`对象被改动 / changed object: ${name} (${path})`); continue; }
        matched++;
      }
    }
    return { ok: problems.length === 0, root: evidence.root, twinHash, checked, matched, problems };
  }

  window.OfflineVerify = { rootOf, verify, parseQr, orderProblems };

  /* --- the page --- */
  function relative(file) {
    const path = file.webkitRelativePath || file.name;
    const parts = path.split("/");
    return parts.length > 1 && file.webkitRelativePath ? parts.slice(1).join("/") : path;
  }
  async function collect() {
    const files = new Map();
    for (const input of [document.getElementById("folder"), document.getElementById("files")]) {
      for (const file of input.files || []) {
        files.set(relative(file), new Uint8Array(await file.arrayBuffer()));
      }
    }
    return files;
  }
  function show(result) {
    const box = document.getElementById("result");
    box.textContent = "";
    const verdict = document.createElement("p");
    verdict.className = result.ok ? "ok" : "bad";
    verdict.id = "verdict";
    verdict.textContent = result.ok ? "通过 / VALID" : "未通过 / NOT VALID";
    box.appendChild(verdict);
    const facts = document.createElement("p");
    facts.textContent = result.root
      ? `证据根 / Evidence root: ${result.root} · 对象 / Objects: ${result.matched}/${result.checked}`
      : "";
    box.appendChild(facts);
    const list = document.createElement("ul");
    list.id = "problems";
    for (const problem of result.problems) {
      const item = document.createElement("li");
      item.textContent = problem;
      list.appendChild(item);
    }
    box.appendChild(list);
  }
  const button = document.getElementById("check");
  if (button) {
    button.addEventListener("click", async () => {
      try { show(await verify(await collect(), document.getElementById("qr").value)); }
      catch (err) { show({ ok: false, problems: [String(err.message || err)] }); }
    });
  }
})();
