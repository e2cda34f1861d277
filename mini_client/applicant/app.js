// The applicant's phone page: case status, appointment, guide, pre-call check, live call.
import "./texts.js"; // first: the page's texts are in the dictionary before anything shows
import { api, ApiError, getToken, loadToken } from "../shared/api.js";
import { applyI18n, formatTime, getLang, onLangChange, setLang, t } from "../shared/i18n.js";
import { Signaling } from "../shared/signaling.js";
import { openCamera, Peer, phoneTransceivers, setMuted, setTorch, torchSupported } from "../shared/webrtc.js";
import { hideFollowup, loadFollowup, renderFollowup, wireFollowup } from "./followup.js";
import { rectificationPushed } from "./rect-push.js";
import { renderWithdraw, wireWithdraw } from "./withdraw.js";

const $ = (id) => document.getElementById(id);
const LARGE_KEY = "ci.largeText";
const LOCATION_EVERY_MS = 30000;
const STEPS = ["received", "assigned", "scheduled", "in_progress", "review", "issued"];
const STEP_OF_STATE = {
  received: 0, assigned: 1, scheduled: 2, rescheduling: 2, offline_pending: 2, in_progress: 3,
  rectification_requested: 3, rectification_submitted: 3, drafted: 4, awaiting_cosign: 4,
  under_review: 4, issued: 5, closed: 5, cancelled: -1,
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
  $("slot-form").hidden = a.open_slots.length === 0;
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
  $("reschedule-form").hidden = !a.appointment || a.state !== "scheduled";
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
  addResult("network_testing", {}, "info");
  try {
    const ms = await measureRoundTrip();
    $("check-results").lastChild.remove();
    addResult("network_result", { ms });
    const downlink = navigator.connection && navigator.connection.downlink;
    // downlink (Mbit/s) is a coarse browser estimate: only trust it when it is very low.
    const weak = ms > 600 || (downlink > 0 && downlink < 0.5);
    const fair = ms > 250;
    addResult(weak ? "network_weak" : fair ? "network_fair" : "network_good", {}, weak ? "warn" : "ok");
  } catch {
    $("check-results").lastChild.remove();
    addResult("network_failed", {}, "warn");
  }
  $("start-check").disabled = false;
}

// --- live call ------------------------------------------------------------------------------

function setCallStatus(key) {
  state.callStatus = key;
  $("call-status").textContent = t(key);
}

function showCurrentItem(itemId) {
  const box = $("current-item");
  const item = itemId && state.items[itemId];
  box.hidden = !itemId;
  if (!itemId) return;
  const title = item ? (getLang() === "en" ? item.title_en || item.title : item.title) : itemId;
  const label = document.createElement("small");
  label.textContent = t("now_inspecting");
  box.replaceChildren(label, title);
  box.dataset.itemId = itemId;
}

async function loadItems() {
  try {
    const checklist = await api(`/api/v1/cases/${state.caseId}/checklist`);
    state.items = Object.fromEntries(checklist.items.map((item) => [item.id, item]));
  } catch {
    state.items = {};
  }
}

function startPeer(call, iceServers) {
  if (call.peer) call.peer.close();
  call.peer = new Peer((m) => call.signaling.send(m), {
    iceServers: iceServers || [],
    transceivers: phoneTransceivers(state.stream),
    restartIceOnFailure: true, // a phone walks from Wi-Fi to 4G
  });
  call.peer.addEventListener("track", ({ detail }) => {
    const audio = document.createElement("audio");
    audio.autoplay = true;
    audio.srcObject = detail.stream; // the phone receives audio only
    $("remote-audio").append(audio);
  });
  call.peer.offer().catch(() => showBanner("warn", "media_error"));
}

function onSignal(call, message) {
  if (message.type === "joined") {
    clearBanner();
    setCallStatus("call_connected");
    showCurrentItem(message.current_item);
    startPeer(call, message.ice_servers);
  } else if (message.type === "current_item_changed") {
    showCurrentItem(message.item_id);
  } else if (message.type === "rectification_requested") {
    rectificationPushed(message, showBanner, () => loadCase().then(loadAfterCall));
  } else if (message.type === "error") {
    const key = message.code === "media_error" ? "media_error" : null;
    if (key) showBanner("warn", key);
    else showBanner("warn", "server_error", { message: getLang() === "en" ? message.message_en : message.message_zh });
  } else if (call.peer) {
    call.peer.handle(message).catch(() => showBanner("warn", "media_error"));
  }
}

const FATAL_KEYS = { 4001: "call_replaced", 4003: "call_not_joinable", 4401: "link_invalid", 1008: "link_invalid" };

async function joinCall() {
  try {
    await ensureCamera();
  } catch (error) {
    return showBanner("error", cameraAdvice(error));
  }
  await loadItems();
  const signaling = new Signaling(state.caseId, getToken());
  const call = { signaling, peer: null, torch: false, muted: false, watch: null, lastFix: null };
  state.call = call;
  $("call-view").hidden = false;
  $("join-call").disabled = true;
  $("call-preview").srcObject = state.stream;
  $("torch").hidden = !torchSupported(state.stream);
  setCallStatus("call_connecting");
  signaling.addEventListener("message", ({ detail }) => onSignal(call, detail));
  signaling.addEventListener("reconnecting", () => setCallStatus("call_reconnecting"));
  signaling.addEventListener("fatal", ({ detail }) => {
    const key = FATAL_KEYS[detail.code] || "call_ended";
    if (detail.code === 4401) return linkInvalid();
    if (detail.code === 4010) return endCall(false); // ended for all: the banner says why
    showBanner("error", key);
    endCall(false);
  });
  signaling.start();
}

function endCall(sendLeave = true) {
  const call = state.call;
  if (!call) return;
  if (sendLeave) call.signaling.stop();
  if (call.peer) call.peer.close();
  if (call.watch !== null) navigator.geolocation.clearWatch(call.watch);
  clearInterval(call.locationTimer);
  state.call = null;
  $("call-view").hidden = true;
  $("remote-audio").replaceChildren();
  renderCase();
}

async function switchCamera() {
  const current = state.stream.getVideoTracks()[0];
  const facing = current.getSettings().facingMode === "user" ? "environment" : "user";
  const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { exact: facing } } })
    .catch(() => navigator.mediaDevices.getUserMedia({ video: true }));
  const [track] = fresh.getVideoTracks();
  state.stream.removeTrack(current);
  current.stop();
  state.stream.addTrack(track);
  if (state.call && state.call.peer) await state.call.peer.replaceVideo(track);
  $("torch").hidden = !torchSupported(state.stream);
}

function toggleMute() {
  const call = state.call;
  call.muted = !call.muted;
  setMuted(state.stream, call.muted);
  $("mute").dataset.i18n = call.muted ? "unmute" : "mute";
  $("mute").setAttribute("aria-pressed", String(call.muted));
  applyI18n($("call-view"));
  call.signaling.send({ type: "mute", audio: !call.muted, video: true });
}

async function toggleTorch() {
  const call = state.call;
  try {
    await setTorch(state.stream, !call.torch);
    call.torch = !call.torch;
    $("torch").dataset.i18n = call.torch ? "torch_off" : "torch_on";
    $("torch").setAttribute("aria-pressed", String(call.torch));
    applyI18n($("call-view"));
  } catch {
    $("torch").hidden = true;
  }
}

function shareLocation() {
  const call = state.call;
  if (!call || !navigator.geolocation) return void ($("location-status").textContent = t("location_denied"));
  const send = () => {
    if (!call.lastFix) return;
    const { latitude, longitude, accuracy } = call.lastFix.coords;
    call.signaling.send({ type: "location", latitude, longitude, accuracy_m: accuracy });
  };
  call.watch = navigator.geolocation.watchPosition(
    (fix) => {
      const first = !call.lastFix;
      call.lastFix = fix;
      $("location-status").textContent = t("location_on", { m: Math.round(fix.coords.accuracy) });
      if (first) send();
    },
    () => ($("location-status").textContent = t("location_denied")),
    { enableHighAccuracy: true, maximumAge: 10000 },
  );
  call.locationTimer = setInterval(send, LOCATION_EVERY_MS);
  $("share-location").disabled = true;
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
  if (state.callStatus && state.call) setCallStatus(state.callStatus);
  if (state.call) showCurrentItem($("current-item").hidden ? null : $("current-item").dataset.itemId);
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
  $("join-call").addEventListener("click", joinCall);
  $("leave-call").addEventListener("click", () => endCall(true));
  $("switch-camera").addEventListener("click", () => switchCamera().catch((e) => showBanner("error", cameraAdvice(e))));
  $("mute").addEventListener("click", toggleMute);
  $("torch").addEventListener("click", toggleTorch);
  $("share-location").addEventListener("click", shareLocation);
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
    await Promise.all([loadCase(), loadAppointment()]);
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
