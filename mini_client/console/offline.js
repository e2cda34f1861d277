// Offline outbox for on-site work: verdicts and photos wait in IndexedDB until the server confirms
// them. Replay runs in order when the network returns (the `online` event, a timer, or a new
// action), stops at the first network failure and retries with backoff. A record is removed only
// after the server answered (the verdict PUT, or the upload's finalize), so a reload or a crash
// loses nothing; replaying is harmless (verdicts keep the latest per inspector, uploads are
// idempotent by the record's client id). A photo carries the phone's GPS fix taken with it and
// the time it was taken (not the time it is uploaded): the server dates it by that when the file
// has no EXIF capture time.
//
// Without signal the console must still open and show the case: the service worker (sw.js,
// registered here) keeps the app shell, and the answers the on-site inspector reads (the last
// case opened: its facts, appointment, clock, checklist, rectification rounds, opinion; and
// the matters list) are kept in IndexedDB and given back by shared/api.js when the network is
// gone, with a clear notice over the page.
import { ApiError, api, getToken, setReadKeeper } from "../shared/api.js";
import { sha256Hex, takenAt, uploadFile } from "../shared/upload.js";
import { onLangChange, t } from "../shared/i18n.js";
import { errorText, h } from "./ui.js";

const OUTBOX = { db: "ci-console-outbox", store: "actions" };
const KEPT = { db: "ci-console-reads", store: "reads" };
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;
const TRANSIENT = new Set([408, 425, 429]);
const RETRY_REASONS = new Set(["in_progress", "not_uploaded"]);

const databases = new Map();
let lastSeq = 0;
let running = null;
let again = false;
let retryMs = RETRY_MIN_MS;
let timer = null;
let used = false; // the badge shows once this page queued or found something
const results = new Map(); // record id -> "sent" | ApiError (refused for good)
const failures = []; // refused records, shown under the badge

// --- IndexedDB -------------------------------------------------------------------------------------

function openDb({ db, store }) {
  if (!databases.has(db)) {
    const opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(db, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(store, { keyPath: "key" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    databases.set(db, opening);
  }
  return databases.get(db);
}

/** Run `fn(store)` (synchronous IDB requests) in one transaction; resolves once it committed. */
async function transact(mode, fn, where = OUTBOX) {
  const db = await openDb(where);
  return new Promise((resolve, reject) => {
    const tx = db.transaction(where.store, mode);
    let value;
    tx.oncomplete = () => resolve(value);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
    fn(tx.objectStore(where.store), (v) => (value = v));
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

/** Queue an on-site photo (a Blob) with its SHA-256, the GPS fix, if any, and the time taken. */
export async function queuePhoto(owner, caseId, itemIds, blob, gps) {
  const capturedAt = takenAt(blob); // read first: hashing a large photo takes a moment
  const sha256 = await sha256Hex(blob);
  const contentType = (blob.type || "image/jpeg").toLowerCase();
  const id = crypto.randomUUID();
  return submit({ key: `photo:${id}`, id, kind: "photo", owner, caseId, itemIds, blob, contentType, size: blob.size, sha256, gps, capturedAt });
}

/** Save durably, then try to send now; "sent", "queued", or the server's refusal (an ApiError). */
async function submit(record) {
  record.id ||= crypto.randomUUID();
  record.seq = nextSeq();
  await save(record);
  used = true;
  // A replay already under way may have read the queue before this record was saved, and end
  // without it: wait for the pass that sends it (or for a network failure: then it waits here).
  for (let pass = 0; pass < 3 && !results.has(record.id); pass += 1) {
    if (!(await flush())) break;
  }
  const result = results.get(record.id);
  return result === undefined ? "queued" : result;
}

/** The device's position for a photo: null when refused, unavailable, slow or unusable. */
export function position(timeoutMs = 8_000) {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => {
        const fix = { lat: p.coords.latitude, lng: p.coords.longitude, accuracy_m: p.coords.accuracy, at: new Date(p.timestamp).toISOString() };
        resolve(reported(fix) ? fix : null);
      },
      () => resolve(null),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 60_000 },
    );
  });
}

const MAX_ACCURACY_M = 50_000; // the server's bound: a coarser fix says nothing about the site

/** A fix as the upload announcement carries it; null for one the server would refuse. */
function reported(fix) {
  if (!fix || !fix.at) return null;
  const { lat, lng, accuracy_m: accuracy } = fix;
  if (![lat, lng, accuracy].every(Number.isFinite)) return null;
  if (Math.abs(lat) > 90 || Math.abs(lng) > 180 || (lat === 0 && lng === 0)) return null;
  if (accuracy <= 0 || accuracy > MAX_ACCURACY_M) return null;
  return { latitude: lat, longitude: lng, accuracy_m: accuracy, fixed_at: fix.at };
}

// --- replay ----------------------------------------------------------------------------------------

/** Refused for good: a 4xx a retry cannot change (invalid, forbidden, file refused…). Status 0
 * is a network failure (shared/api.js), a file that never left the device has none
 * (shared/upload.js); those, 5xx/401/429 and 409 "busy" are worth retrying. */
function isFinal(error) {
  const status = error && error.status;
  if (!status || status >= 500 || status === 401 || TRANSIENT.has(status)) return false;
  return !(status === 409 && RETRY_REASONS.has(error.reason));
}

async function sendVerdict(record) {
  const path = `/api/v1/cases/${record.caseId}/checklist/items/${record.itemId}/verdict`;
  await api(path, { method: "PUT", body: record.body });
}

/** Send a queued photo (shared/upload.js): a refusal, now or by an earlier replay, is final. */
function sendPhoto(record) {
  const announcement = { idempotency_key: record.id, purpose: "onsite", item_ids: record.itemIds, content_type: record.contentType, size: record.size, sha256: record.sha256 };
  const fix = reported(record.gps);
  if (fix) announcement.position = fix;
  if (record.capturedAt) announcement.captured_at = record.capturedAt;
  return uploadFile(record.caseId, announcement, record.blob);
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
    const sent = { caseId: record.caseId, kind: record.kind, itemIds: record.itemIds || [] };
    window.dispatchEvent(new CustomEvent("ci:outbox-sent", { detail: sent }));
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

// --- reads kept for offline use ------------------------------------------------------------------
// Only what the on-site inspector needs is kept: the last case opened (other cases' copies are
// dropped), per inspector (never shown to another login), no tokens or evidence links, and
// the logout button forgets all of it. Queued verdicts are shown over the kept checklist.

// Staff answers only: none of these carries a token or a presigned link (rectification rounds
// carry photo links for the applicant alone).
const KEPT_CASE = /^\/api\/v1\/cases\/([\w-]+)(?:\/(clock|appointment|checklist|opinion|rectification))?$/;
const KEPT_OTHER = new Set(["/api/v1/matters"]);
const CASE_LIST = "/api/v1/cases";
const GONE = new Set([401, 403, 404]); // the case itself refused: forget its copy

let showingKept = false; // the page shows copies kept on this device

/** Which kept answer a GET path is: { caseId, part } (part "" = the case), or null. */
function keptPath(path) {
  if (KEPT_OTHER.has(path)) return { caseId: null, part: "" };
  const match = path.match(KEPT_CASE);
  return match ? { caseId: match[1], part: match[2] || "" } : null;
}

/** The inspector whose copies are read and written, or null (not logged in, not an inspector). */
function reader() {
  if (!getToken()) return null;
  try {
    const me = JSON.parse(sessionStorage.getItem("console.me") || "null");
    return me && me.role === "inspector" ? me.id : null;
  } catch {
    return null;
  }
}

const readKey = (owner, path) => `${owner} ${path}`;

/** After each GET answer (shared/api.js): keep the chosen ones, the answer or a 404 (e.g. no opinion). */
function keep(path, answer) {
  const what = keptPath(path);
  // The page's main answer came from the server again: what it shows is no longer the copy.
  if (path === CASE_LIST || (what && what.caseId && !what.part)) setShowingKept(false);
  const owner = reader();
  if (!owner || !what) return;
  const failed = answer instanceof ApiError;
  if (failed && GONE.has(answer.status) && !what.part && what.caseId) return forgetCase(owner, what.caseId);
  if (failed && answer.status !== 404) return;
  const record = { key: readKey(owner, path), owner, path, caseId: what.caseId, part: what.part, savedAt: new Date().toISOString() };
  if (failed) record.error = { status: answer.status, code: answer.code, reason: answer.reason, zh: answer.zh, en: answer.en };
  else record.answer = answer;
  transact(
    "readwrite",
    (store) => {
      if (record.caseId) {
        store.getAll().onsuccess = (event) => {
          for (const old of event.target.result) if (old.owner === owner && old.caseId && old.caseId !== record.caseId) store.delete(old.key);
        };
      }
      store.put(record);
    },
    KEPT,
  ).catch(() => {}); // a full or blocked storage only costs the offline copy
}

function forgetCase(owner, caseId) {
  transact(
    "readwrite",
    (store) => {
      store.getAll().onsuccess = (event) => {
        for (const old of event.target.result) if (old.owner === owner && old.caseId === caseId) store.delete(old.key);
      };
    },
    KEPT,
  ).catch(() => {});
}

/** Forget every kept answer on this device (the queued work stays: it is not sent yet). */
export function forgetReads() {
  return transact("readwrite", (store) => store.clear(), KEPT).catch(() => {});
}

async function keptRecords(owner) {
  const all = await transact("readonly", (store, done) => (store.getAll().onsuccess = (event) => done(event.target.result)), KEPT);
  return all.filter((record) => record.owner === owner);
}

/** Without a network (shared/api.js): the kept answer for a GET path, or undefined. */
async function recall(path) {
  const owner = reader();
  const what = keptPath(path);
  if (!owner || (!what && path !== CASE_LIST)) return undefined;
  let answer;
  try {
    const records = await keptRecords(owner);
    if (path === CASE_LIST) {
      answer = records.filter((r) => r.caseId && !r.part && r.answer).map((r) => r.answer);
      if (!answer.length) return undefined;
    } else {
      const record = records.find((r) => r.path === path);
      if (!record) return undefined;
      if (record.error) answer = new ApiError(record.error);
      else answer = what.part === "checklist" ? await withQueued(record.answer, owner, what.caseId) : record.answer;
    }
  } catch {
    return undefined; // no storage: the network error stands
  }
  setShowingKept(true);
  if (answer instanceof ApiError) throw answer;
  return answer;
}

/** The kept checklist with this inspector's queued verdicts in place of the kept ones. */
async function withQueued(checklist, owner, caseId) {
  const waiting = (await queued()).filter((r) => r.kind === "verdict" && r.owner === owner && r.caseId === caseId);
  if (!waiting.length) return checklist;
  const items = checklist.items.map((item) => {
    const record = waiting.find((r) => r.itemId === item.id);
    if (!record) return item;
    const mine = item.verdicts.find((v) => v.inspector_id === owner);
    const others = item.verdicts.filter((v) => v.inspector_id !== owner);
    return { ...item, verdicts: [...others, { ...mine, ...record.body, inspector_id: owner, queued: true }] };
  });
  return { ...checklist, items };
}

setReadKeeper({ keep, recall });

// --- the offline notice ------------------------------------------------------------------------

const notice = h("div", { id: "offline-state", class: "banner warn", role: "status", hidden: true });

function setShowingKept(value) {
  if (showingKept === value) return;
  showingKept = value;
  updateNotice();
}

function updateNotice() {
  const offline = navigator.onLine === false;
  notice.hidden = !offline && !showingKept;
  notice.dataset.state = showingKept ? (offline ? "kept" : "kept-online") : "offline";
  if (notice.hidden) return notice.replaceChildren();
  if (showingKept && !offline) {
    // Back online: the page still shows the device's copy until it is loaded again.
    const reload = h("button", { type: "button", class: "secondary", id: "offline-reload" }, t("offline_reload"));
    reload.addEventListener("click", () => window.dispatchEvent(new HashChangeEvent("hashchange")));
    return notice.replaceChildren(t("offline_back_online"), " ", reload);
  }
  notice.replaceChildren(t(showingKept ? "offline_showing_kept" : "offline_no_signal"));
}

// --- the app shell -----------------------------------------------------------------------------

/** The service worker that keeps the console's files for opening it without signal (sw.js). */
function registerShell() {
  if (!("serviceWorker" in navigator)) return;
  const scope = new URL("./", import.meta.url).pathname;
  navigator.serviceWorker.register(new URL("./sw.js", import.meta.url), { scope, updateViaCache: "none" }).catch(() => {
    // No service worker here (a private window, an insecure origin): the console works online.
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
  const main = document.getElementById("main");
  if (main) main.prepend(notice);
  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", forgetReads);
  registerShell();
  updateNotice();
  updateBadge();
  flush();
}

window.addEventListener("online", () => {
  retryMs = RETRY_MIN_MS;
  updateNotice();
  flush();
});
window.addEventListener("offline", () => {
  updateNotice();
  updateBadge();
});
onLangChange(() => {
  updateNotice();
  updateBadge();
});
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
