// Offline outbox for on-site work: verdicts and photos wait in IndexedDB until the server confirms
// them. Replay runs in order when the network returns (the `online` event, a timer, or a new
// action), stops at the first network failure and retries with backoff. A record is removed only
// after the server answered (the verdict PUT, or the upload's finalize), so a reload or a crash
// loses nothing; replaying is harmless (verdicts keep the latest per inspector, uploads are
// idempotent by the record's client id).
import { api, getToken } from "./api.js";
import { onLangChange, t } from "./i18n.js";
import { errorText, h } from "./ui.js";

const DB_NAME = "ci-console-outbox";
const STORE = "actions";
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;
const TRANSIENT = new Set([408, 425, 429]);
const RETRY_REASONS = new Set(["in_progress", "not_uploaded"]);

let dbPromise = null;
let lastSeq = 0;
let running = null;
let again = false;
let retryMs = RETRY_MIN_MS;
let timer = null;
let used = false; // the badge shows once this page queued or found something
const results = new Map(); // record id -> "sent" | ApiError (refused for good)
const failures = []; // refused records, shown under the badge

// --- IndexedDB -------------------------------------------------------------------------------------

function openDb() {
  dbPromise ||= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

/** Run `fn(store)` (synchronous IDB requests) in one transaction; resolves once it committed. */
async function transact(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    let value;
    tx.oncomplete = () => resolve(value);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
    fn(tx.objectStore(STORE), (v) => (value = v));
  });
}

/** Every queued record, oldest first. */
export async function queued() {
  const all = await transact("readonly", (store, done) => {
    store.getAll().onsuccess = (event) => done(event.target.result);
  });
  return all.sort((a, b) => a.seq - b.seq);
}

const save = (record) => transact("readwrite", (store) => store.put(record));

/** Remove a record only if it is still the one that was sent (a later tap may have replaced it). */
const confirm = (record) =>
  transact("readwrite", (store) => {
    store.get(record.key).onsuccess = (event) => {
      const stored = event.target.result;
      if (stored && stored.id === record.id) store.delete(record.key);
    };
  });

function nextSeq() {
  lastSeq = Math.max(Date.now(), lastSeq + 1);
  return lastSeq;
}

// --- queueing --------------------------------------------------------------------------------------

/** Queue one inspector's verdict: the last value per (case, item) replaces a queued earlier one. */
export function queueVerdict(owner, caseId, itemId, body) {
  return submit({ key: `verdict:${owner}:${caseId}:${itemId}`, kind: "verdict", owner, caseId, itemId, body });
}

/** Queue an on-site photo (a Blob) with its SHA-256 and the GPS fix, if any, taken with it. */
export async function queuePhoto(owner, caseId, itemIds, blob, gps) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const contentType = (blob.type || "image/jpeg").toLowerCase();
  const id = crypto.randomUUID();
  return submit({ key: `photo:${id}`, id, kind: "photo", owner, caseId, itemIds, blob, contentType, size: blob.size, sha256, gps, capturedAt: new Date().toISOString() });
}

/** Save durably, then try to send now; "sent", "queued", or the server's refusal (an ApiError). */
async function submit(record) {
  record.id ||= crypto.randomUUID();
  record.seq = nextSeq();
  await save(record);
  used = true;
  await flush();
  const result = results.get(record.id);
  return result === undefined ? "queued" : result;
}

/** The device's position for a photo: null when refused, unavailable or slow. */
export function position(timeoutMs = 8_000) {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lng: p.coords.longitude, accuracy_m: p.coords.accuracy, at: new Date(p.timestamp).toISOString() }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 60_000 },
    );
  });
}

// --- replay ----------------------------------------------------------------------------------------

/** Refused for good: a 4xx a retry cannot change (invalid, forbidden, file refused…); status 0
 * is a network failure (api.js), 5xx/401/429 and 409 "busy" are worth retrying. */
function isFinal(error) {
  const status = error && error.status;
  if (!status || status >= 500 || status === 401 || TRANSIENT.has(status)) return false;
  return !(status === 409 && RETRY_REASONS.has(error.reason));
}

async function sendVerdict(record) {
  const path = `/api/v1/cases/${record.caseId}/checklist/items/${record.itemId}/verdict`;
  await api(path, { method: "PUT", body: record.body });
}

async function sendPhoto(record) {
  const base = `/api/v1/cases/${record.caseId}/uploads`;
  const body = { idempotency_key: record.id, purpose: "onsite", item_ids: record.itemIds, content_type: record.contentType, size: record.size, sha256: record.sha256 };
  const upload = await api(base, { method: "POST", body });
  if (upload.status !== "pending") return upload; // finalized (or refused) by an earlier replay
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.form.fields)) form.append(name, value);
  form.append("file", record.blob);
  // Storage is another origin: the answer is opaque, so finalize is what confirms the file arrived.
  await fetch(upload.form.url, { method: "POST", body: form, mode: "no-cors" });
  return api(`${base}/${upload.id}/finalize`, { method: "POST" });
}

async function replayOnce() {
  const pending = await queued();
  if (!pending.length) return true;
  if (!getToken()) return false; // wait for a login; nothing is sent under no one's name
  let me;
  try {
    me = await api("/api/v1/auth/me");
  } catch {
    return false;
  }
  for (const record of pending) {
    if (record.owner !== me.id) continue; // another inspector's work on this device waits for them
    try {
      await (record.kind === "photo" ? sendPhoto(record) : sendVerdict(record));
      results.set(record.id, "sent");
      await confirm(record);
    } catch (error) {
      if (!isFinal(error)) return false;
      results.set(record.id, error);
      failures.push({ record, error });
      await confirm(record);
    }
    window.dispatchEvent(new CustomEvent("ci:outbox-sent", { detail: { caseId: record.caseId } }));
  }
  return true;
}

/** Replay the queue now (one replay at a time); true when nothing of this user's is left. */
export function flush() {
  if (running) {
    again = true;
    return running;
  }
  running = replay().finally(() => {
    running = null;
    if (again) flush(); // asked for while the last pass was finishing
  });
  return running;
}

async function replay() {
  let ok = false;
  try {
    do {
      again = false;
      ok = navigator.onLine !== false && (await replayOnce());
    } while (again && ok);
  } catch {
    ok = false;
  }
  schedule(ok);
  await updateBadge();
  return ok;
}

function schedule(ok) {
  clearTimeout(timer);
  retryMs = ok ? RETRY_MIN_MS : Math.min(retryMs * 2, RETRY_MAX_MS);
  queued().then((left) => {
    if (left.length) timer = setTimeout(flush, ok ? RETRY_MIN_MS * 5 : retryMs);
  });
}

// --- the badge -------------------------------------------------------------------------------------

const badge = h("div", { id: "outbox", class: "outbox", role: "status", "aria-live": "polite", hidden: true });

async function updateBadge() {
  const count = (await queued()).length;
  if (count) used = true;
  badge.hidden = !used;
  badge.classList.toggle("waiting", count > 0);
  badge.replaceChildren(
    h("span", { id: "outbox-count" }, count ? t("outbox_waiting", { n: count }) : t("outbox_all_sent")),
    ...failures.map(({ record, error }) => h("span", { class: "outbox-failed", role: "alert" }, t("outbox_refused", { item: record.itemId || record.itemIds.join(", ") }), " ", errorText(error))),
  );
}

function mount() {
  const host = document.querySelector("header .actions") || document.body;
  host.prepend(badge);
  updateBadge();
  flush();
}

window.addEventListener("online", () => {
  retryMs = RETRY_MIN_MS;
  flush();
});
window.addEventListener("offline", () => updateBadge());
onLangChange(() => updateBadge());
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
