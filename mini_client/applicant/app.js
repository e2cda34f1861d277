// The applicant's phone page: case status, appointment, guide, pre-call check, live call.
import "./texts.js"; // first: the page's texts are in the dictionary before anything shows
import { api, ApiError, can, getToken, loadToken, toError } from "../shared/api.js";
import { applyI18n, formatTime, getLang, onLangChange, setLang, t } from "../shared/i18n.js";
import { openCamera } from "../shared/webrtc.js";
import { rerenderCall, wireCall } from "./call.js";
import { hideFollowup, loadFollowup, renderFollowup, wireFollowup } from "./followup.js";
import { renderWithdraw, wireWithdraw } from "./withdraw.js";

const $ = (id) => document.getElementById(id);
const LARGE_KEY = "ci.largeText";
// What a call needs upstream: the phone's video (~400 kbit/s at the lowest useful quality)
// plus its audio and overhead. The check says so in words below it.
const CALL_UPLINK_KBPS = 500;
const PROBE_BYTES = 256 * 1024;
const PROBES = 2;
const PROBE_LIMIT_MS = 8000;
const STEPS = ["received", "assigned", "scheduled", "in_progress", "review", "issued", "closed"];
const STEP_OF_STATE = {
  received: 0, assigned: 1, scheduled: 2, rescheduling: 2, offline_pending: 2, in_progress: 3,
  rectification_requested: 3, rectification_submitted: 3, drafted: 4, awaiting_cosign: 4,
  under_review: 4, issued: 5, closed: 6, cancelled: -1,
};
const NOTE_OF_STATE = {
  rescheduling: "note_rescheduling", rectification_requested: "note_rectification",
  rectification_submitted: "note_rectification", offline_pending: "note_offline",
  cancelled: "note_cancelled", closed: "note_closed",
};
const JOINABLE = new Set(["scheduled", "in_progress"]);

const state = { caseId: null, case: null, appointment: null, items: {}, stream: null, call: null };

// --- messages a person can act on -----------------------------------------------------------

let bannerKey = null;
function showBanner(kind, keyOrError, params) {
  const el = $("banner");
  bannerKey = { kind, keyOrError, params };
  el.className = `banner ${kind}`;
  el.textContent =
    keyOrError instanceof ApiError ? keyOrError.text(getLang()) : t(keyOrError, params);
  el.hidden = false;
}
function clearBanner() {
  bannerKey = null;
  $("banner").hidden = true;
}
function showError(error) {
  if (error instanceof ApiError && error.linkInvalid) return linkInvalid();
  showBanner("error", error instanceof ApiError ? error : "network_failed");
}
function linkInvalid() {
  showBanner("error", "link_invalid");
  $("loading").hidden = true;
  for (const id of ["case-card", "appointment-card", "guide-card", "call-card", "feed-card", "withdraw-card"]) {
    $(id).hidden = true;
  }
  hideFollowup();
}
function cameraAdvice(error) {
  if (error.name === "NotAllowedError" || error.name === "SecurityError") return "camera_denied";
  if (error.name === "NotFoundError" || error.name === "OverconstrainedError") return "camera_missing";
  if (error.name === "NotSupportedError") return "camera_unsupported";
  return "camera_missing";
}

// --- case and timeline ----------------------------------------------------------------------

function renderCase() {
  const c = state.case;
  $("case-number").textContent = c.number;
  $("case-site").textContent = c.site_address;
  const step = STEP_OF_STATE[c.state] ?? 0;
  $("case-state").textContent = step >= 0 ? t(`step_${STEPS[step]}`) : t("note_cancelled");
  $("timeline").replaceChildren(
    ...STEPS.map((name, i) => {
      const li = document.createElement("li");
      li.textContent = t(`step_${name}`);
      li.className = i < step ? "done" : i === step ? "current" : "";
      if (i === step) li.setAttribute("aria-current", "step");
      return li;
    }),
  );
  const note = NOTE_OF_STATE[c.state];
  $("timeline-note").hidden = !note;
  if (note) $("timeline-note").textContent = t(note);
  const joinable = JOINABLE.has(c.state);
  $("join-call").disabled = !joinable || Boolean(state.call);
  renderWithdraw({ ...c, id: state.caseId });
}

async function loadCase() {
  state.case = await api(`/api/v1/cases/${state.caseId}`);
  renderCase();
  if (state.appointment) renderAppointment(); // its buttons follow the case's listed actions
}

/** Rectification, opinion and rating, as the case's state calls for; errors go to the banner. */
async function loadAfterCall() {
  try {
    await loadFollowup({ ...state.case, id: state.caseId });
  } catch (error) {
    showError(error);
  }
}

// --- appointment ----------------------------------------------------------------------------

function renderAppointment() {
  const a = state.appointment;
  if (!a) return;
  $("appointment-current").textContent = a.appointment
    ? t("appointment_at", { when: formatTime(a.appointment.starts_at) })
    : a.open_slots.length ? "" : t("no_slots");
  $("slot-form").hidden = a.open_slots.length === 0 || !can(state.case, "schedule");
  $("slots").replaceChildren(
    ...a.open_slots.map((slot) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "slot", value: slot.id });
      const end = new Intl.DateTimeFormat("zh-CN", {
        timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false,
      }).format(new Date(slot.ends_at));
      label.append(input, `${formatTime(slot.starts_at)} – ${end}`);
      return label;
    }),
  );
  $("reschedule-form").hidden = !a.appointment || !can(state.case, "request_reschedule");
}

async function loadAppointment() {
  state.appointment = await api(`/api/v1/cases/${state.caseId}/appointment`);
  renderAppointment();
}

async function confirmSlot(event) {
  event.preventDefault();
  const chosen = document.querySelector("input[name=slot]:checked");
  if (!chosen) return void ($("appointment-message").textContent = t("choose_slot_first"));
  try {
    const slot = await api(`/api/v1/cases/${state.caseId}/appointment`, {
      method: "POST", body: { slot_id: chosen.value },
    });
    $("appointment-message").textContent = t("slot_confirmed", { when: formatTime(slot.starts_at) });
    await Promise.all([loadAppointment(), loadCase()]);
  } catch (error) {
    showError(error);
  }
}

async function askReschedule(event) {
  event.preventDefault();
  try {
    await api(`/api/v1/cases/${state.caseId}/appointment/reschedule`, {
      method: "POST", body: { reason: $("reschedule-reason").value.trim() },
    });
    $("appointment-message").textContent = t("reschedule_sent");
    await Promise.all([loadAppointment(), loadCase()]);
  } catch (error) {
    showError(error);
  }
}

// --- guide ----------------------------------------------------------------------------------

async function openGuide() {
  try {
    const lang = getLang() === "en" ? "en" : "zh";
    const html = await api(`/api/v1/cases/${state.caseId}/guide?lang=${lang}`, { as: "text" });
    const frame = $("guide-frame");
    frame.srcdoc = html; // sandboxed: no scripts, no same-origin access
    frame.hidden = false;
  } catch (error) {
    showError(error);
  }
}

async function downloadPdf() {
  try {
    const lang = getLang() === "en" ? "en" : "zh";
    const blob = await api(`/api/v1/cases/${state.caseId}/guide.pdf?lang=${lang}`, { as: "blob" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `guide-${state.case.number}.pdf`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } catch (error) {
    showError(error);
  }
}

// --- pre-call check -------------------------------------------------------------------------

function addResult(key, params, kind = "ok") {
  const li = document.createElement("li");
  li.textContent = `${kind === "ok" ? "✔" : "⚠"} ${t(key, params)}`;
  li.className = kind;
  li.dataset.key = key;
  $("check-results").append(li);
}

async function ensureCamera() {
  if (!state.stream) state.stream = await openCamera("environment");
  return state.stream;
}

async function measureRoundTrip() {
  const times = [];
  for (let i = 0; i < 4; i++) {
    const started = performance.now();
    const response = await fetch(`/healthz?probe=${Date.now()}-${i}`, { cache: "no-store" });
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]);
}

/**
 * Upload speed in kbit/s: the best of PROBES timed uploads of a blob the server reads and
 * discards. The time includes the request's round trip, so the figure errs low (a fast link
 * reads slower than it is, a slow one barely: 256 KB at 500 kbit/s take 4 s). A probe slower
 * than PROBE_LIMIT_MS is stopped: the answer is then an upper bound (`below`).
 */
async function measureUplink() {
  const blob = new Blob([new Uint8Array(PROBE_BYTES)], { type: "application/octet-stream" });
  const url = `/api/v1/cases/${state.caseId}/uplink-probe`;
  let best = 0;
  for (let i = 0; i < PROBES; i++) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), PROBE_LIMIT_MS);
    const started = performance.now();
    let response;
    try {
      response = await fetch(url, {
        method: "POST", body: blob, cache: "no-store", signal: abort.signal,
        headers: { Authorization: `Bearer ${getToken()}`, "Content-Type": "application/octet-stream" },
      });
    } catch (error) {
      if (error.name !== "AbortError") throw error;
      return { kbps: Math.round((PROBE_BYTES * 8) / PROBE_LIMIT_MS), below: true };
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) throw await toError(response);
    await response.json();
    const elapsed = Math.max(performance.now() - started, 1);
    best = Math.max(best, (PROBE_BYTES * 8) / elapsed); // bits per ms = kbit/s
  }
  return { kbps: Math.round(best), below: false };
}

async function checkNetwork() {
  addResult("network_testing", {}, "info");
  try {
    const ms = await measureRoundTrip();
    const { kbps, below } = await measureUplink();
    $("check-results").lastChild.remove();
    addResult("network_result", { ms });
    const slow = below || kbps < CALL_UPLINK_KBPS;
    const key = below ? "uplink_below" : slow ? "uplink_slow" : "uplink_result";
    addResult(key, { kbps, need: CALL_UPLINK_KBPS }, slow ? "warn" : "ok");
    const weak = slow || ms > 600;
    const fair = ms > 250 || kbps < 2 * CALL_UPLINK_KBPS;
    addResult(weak ? "network_weak" : fair ? "network_fair" : "network_good", {}, weak ? "warn" : "ok");
  } catch (error) {
    $("check-results").lastChild.remove();
    if (error instanceof ApiError && error.status !== 0) addResult("uplink_refused", { message: error.text(getLang()) }, "warn");
    else addResult("network_failed", {}, "warn");
  }
}

async function runCheck() {
  $("start-check").disabled = true;
  $("check-results").replaceChildren();
  try {
    const stream = await ensureCamera();
    const video = $("check-preview");
    video.srcObject = stream;
    video.hidden = false;
    addResult("camera_ok");
  } catch (error) {
    addResult(cameraAdvice(error), {}, "warn");
    showBanner("error", cameraAdvice(error));
  }
  await checkNetwork();
  $("start-check").disabled = false;
}

// --- messages -------------------------------------------------------------------------------

async function loadFeed() {
  try {
    const items = await api("/api/v1/feed");
    const mine = items.filter((m) => !m.case_id || m.case_id === state.caseId).slice(0, 10);
    $("feed").replaceChildren(
      ...(mine.length ? mine : [null]).map((m) => {
        const li = document.createElement("li");
        li.textContent = m ? `${formatTime(m.created_at)} · ${getLang() === "en" ? m.text_en : m.text_zh}` : t("no_messages");
        return li;
      }),
    );
    $("feed-card").hidden = false;
  } catch {
    $("feed-card").hidden = true;
  }
}

// --- start ----------------------------------------------------------------------------------

function setLargeText(on) {
  document.body.classList.toggle("large-text", on);
  localStorage.setItem(LARGE_KEY, on ? "1" : "0");
  const button = $("text-toggle");
  button.dataset.i18n = on ? "large_text_off" : "large_text_on";
  button.setAttribute("aria-pressed", String(on));
  button.textContent = t(button.dataset.i18n);
}

function rerender() {
  if (state.case) renderCase();
  renderAppointment();
  rerenderCall();
  if (bannerKey) showBanner(bannerKey.kind, bannerKey.keyOrError, bannerKey.params);
  if (state.caseId) loadFeed();
  renderFollowup();
}

function wire() {
  $("lang-toggle").addEventListener("click", () => setLang(getLang() === "en" ? "zh" : "en"));
  $("text-toggle").addEventListener("click", () => setLargeText(!document.body.classList.contains("large-text")));
  $("slot-form").addEventListener("submit", confirmSlot);
  $("reschedule-form").addEventListener("submit", askReschedule);
  $("open-guide").addEventListener("click", openGuide);
  $("download-pdf").addEventListener("click", downloadPdf);
  $("start-check").addEventListener("click", runCheck);
  const onRectification = () => loadCase().then(loadAfterCall);
  wireCall({ state, showBanner, clearBanner, linkInvalid, cameraAdvice, ensureCamera, onEnded: renderCase, onRectification });
  window.addEventListener("offline", () => showBanner("warn", "offline"));
  window.addEventListener("online", () => bannerKey && bannerKey.keyOrError === "offline" && clearBanner());
  onLangChange(rerender);
  wireWithdraw({ onError: showError, onChanged: async () => Promise.all([loadCase(), loadAppointment()]) });
  wireFollowup({
    onError: showError,
    onChanged: async () => {
      await loadCase();
      await loadAfterCall();
    },
  });
}

async function main() {
  applyI18n();
  wire();
  setLargeText(localStorage.getItem(LARGE_KEY) === "1");
  if (!loadToken()) {
    $("loading").hidden = true;
    return showBanner("error", "no_token");
  }
  try {
    const me = await api("/api/v1/auth/me");
    state.caseId = me.case_id;
    await loadCase(); // first: the booking buttons follow the actions it lists
    await loadAppointment();
  } catch (error) {
    $("loading").hidden = true;
    return showError(error);
  }
  $("loading").hidden = true;
  for (const id of ["case-card", "appointment-card", "guide-card", "check-card", "call-card"]) {
    $(id).hidden = false;
  }
  await loadAfterCall();
  loadFeed();
}

main();
