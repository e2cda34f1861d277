// The phone's full-screen call: the camera picture fills the screen; the item being inspected,
// its guidance, who is connected and whether the call is recorded overlay it; large controls.
// The server says when the call is recorded (while an inspector and the applicant are both
// in) and where an inspector points; this page only shows what it is told.
import { api, getToken } from "../shared/api.js";
import { applyI18n, getLang, t } from "../shared/i18n.js";
import { fromPicture } from "../shared/picture.js";
import { Signaling } from "../shared/signaling.js";
import { rectificationPushed } from "./rect-push.js";
import { Peer, phoneTransceivers, setMuted, setTorch, torchSupported } from "../shared/webrtc.js";

const $ = (id) => document.getElementById(id);
const LOCATION_EVERY_MS = 30000;
const POINT_SHOWN_MS = 3000;
const FATAL_KEYS = { 4001: "call_replaced", 4003: "call_not_joinable", 4401: "link_invalid", 1008: "link_invalid" };

let page = null; // what app.js lends us: state, banners, the camera
let call = null; // the call in progress

// --- what the screen shows ------------------------------------------------------------------

function setStatus(key) {
  call.status = key;
  $("call-status").textContent = t(key);
}

function inspectorsIn() {
  return [...call.people.values()].some((p) => p.kind === "inspector");
}

/** "Waiting for the inspectors" until one is in the call, then "connected". */
function showPresence() {
  if (call.status === "call_reconnecting" || call.status === "call_connecting") return;
  setStatus(inspectorsIn() ? "call_connected" : "call_waiting");
}

function renderPeople() {
  const others = [...call.people.values()].filter((p) => p.participant_id !== call.me);
  $("call-people").replaceChildren(
    ...others.map((p) => {
      const li = document.createElement("li");
      li.textContent = `${p.display_name || t(`kind_${p.kind}`)} · ${t(`kind_${p.kind}`)}`;
      li.dataset.kind = p.kind;
      return li;
    }),
  );
}

const twoDigits = (n) => String(n).padStart(2, "0");

function renderRecording() {
  const on = call.recordingSince !== null;
  $("call-recording").hidden = !on;
  if (!on) return;
  const seconds = Math.max(0, Math.floor((Date.now() - call.recordingSince) / 1000));
  const hours = Math.floor(seconds / 3600);
  const clock = `${twoDigits(Math.floor(seconds / 60) % 60)}:${twoDigits(seconds % 60)}`;
  $("call-elapsed").textContent = hours ? `${hours}:${clock}` : clock;
}

function setRecording(on) {
  if (on === (call.recordingSince !== null)) return;
  call.recordingSince = on ? Date.now() : null;
  clearInterval(call.recordingTimer);
  if (on) call.recordingTimer = setInterval(renderRecording, 1000);
  renderRecording();
}

function showCurrentItem(itemId) {
  const box = $("current-item");
  call.itemId = itemId || null;
  box.hidden = !itemId;
  if (!itemId) return;
  const item = page.state.items[itemId];
  const en = getLang() === "en";
  const label = document.createElement("small");
  label.textContent = t("now_inspecting");
  const title = document.createElement("strong");
  title.textContent = item ? (en ? item.title_en || item.title : item.title) : itemId;
  const parts = [label, title];
  if (item && item.guidance) {
    const guidance = document.createElement("p");
    guidance.className = "item-guidance";
    guidance.textContent = item.guidance;
    parts.push(guidance);
  }
  box.replaceChildren(...parts);
  box.dataset.itemId = itemId;
}

/** Put the marker on spot (x, y) of the picture; at the screen's edge if that is cropped. */
function placePoint(x, y) {
  const marker = $("point-marker");
  const video = $("call-preview");
  const spot = fromPicture(video, x, y);
  marker.style.left = `${Math.min(Math.max(spot.left, 0), video.clientWidth)}px`;
  marker.style.top = `${Math.min(Math.max(spot.top, 0), video.clientHeight)}px`;
  marker.classList.toggle("off-edge", !spot.shown);
  Object.assign(marker.dataset, { x: String(x), y: String(y) });
}

/** A marker where the inspector points, on the same spot of the picture, for a few seconds. */
function showPoint(x, y) {
  const marker = $("point-marker");
  placePoint(x, y);
  marker.hidden = false;
  marker.classList.remove("pulse");
  void marker.offsetWidth; // restart the animation for a new point
  marker.classList.add("pulse");
  clearTimeout(call.pointTimer);
  call.pointTimer = setTimeout(() => (marker.hidden = true), POINT_SHOWN_MS);
}

// --- signaling ------------------------------------------------------------------------------

async function loadItems() {
  try {
    const checklist = await api(`/api/v1/cases/${page.state.caseId}/checklist`);
    page.state.items = Object.fromEntries(checklist.items.map((item) => [item.id, item]));
  } catch {
    page.state.items = {};
  }
}

function startPeer(iceServers) {
  if (call.peer) call.peer.close();
  call.peer = new Peer((m) => call.signaling.send(m), {
    iceServers: iceServers || [],
    transceivers: phoneTransceivers(page.state.stream),
    restartIceOnFailure: true, // a phone walks from Wi-Fi to 4G
  });
  call.peer.addEventListener("track", ({ detail }) => {
    const audio = document.createElement("audio");
    audio.autoplay = true;
    audio.srcObject = detail.stream; // the phone receives audio only
    $("remote-audio").append(audio);
  });
  call.peer.offer().catch(() => page.showBanner("warn", "media_error"));
}

function onJoined(message) {
  page.clearBanner();
  call.me = message.participant_id;
  call.people = new Map(message.participants.map((p) => [p.participant_id, p]));
  call.status = "call_joined";
  showPresence();
  renderPeople();
  setRecording(Boolean(message.recording));
  showCurrentItem(message.current_item);
  startPeer(message.ice_servers);
}

function onSignal(message) {
  switch (message.type) {
    case "joined":
      return onJoined(message);
    case "participant_joined":
      call.people.set(message.participant.participant_id, message.participant);
      renderPeople();
      return showPresence();
    case "participant_left":
      call.people.delete(message.participant_id);
      renderPeople();
      return showPresence();
    case "recording":
      return setRecording(message.on);
    case "point":
      return showPoint(message.x, message.y);
    case "current_item_changed":
      return showCurrentItem(message.item_id);
    case "rectification_requested":
      return rectificationPushed(message, page.showBanner, page.onRectification);
    case "error":
      if (message.code === "media_error") return page.showBanner("warn", "media_error");
      return page.showBanner("warn", "server_error", { message: getLang() === "en" ? message.message_en : message.message_zh });
    default:
      if (call.peer) call.peer.handle(message).catch(() => page.showBanner("warn", "media_error"));
  }
}

// --- joining and leaving --------------------------------------------------------------------

export async function joinCall() {
  try {
    await page.ensureCamera();
  } catch (error) {
    return page.showBanner("error", page.cameraAdvice(error));
  }
  await loadItems();
  const signaling = new Signaling(page.state.caseId, getToken());
  call = {
    signaling, peer: null, torch: false, muted: false, watch: null, lastFix: null, me: null,
    people: new Map(), status: null, recordingSince: null, recordingTimer: null, pointTimer: null, itemId: null,
  };
  page.state.call = call;
  $("call-view").hidden = false;
  document.body.classList.add("in-call");
  $("join-call").disabled = true;
  $("call-preview").srcObject = page.state.stream;
  $("torch").hidden = !torchSupported(page.state.stream);
  setRecording(false);
  renderPeople();
  showCurrentItem(null);
  setStatus("call_connecting");
  signaling.addEventListener("message", ({ detail }) => onSignal(detail));
  signaling.addEventListener("reconnecting", () => {
    setStatus("call_reconnecting");
    setRecording(false); // told again at the rejoin
  });
  signaling.addEventListener("fatal", ({ detail }) => {
    if (detail.code === 4401) {
      endCall(false);
      return page.linkInvalid();
    }
    if (detail.code === 4010) return endCall(false); // ended for all: the banner says why
    page.showBanner("error", FATAL_KEYS[detail.code] || "call_ended");
    endCall(false);
  });
  signaling.start();
}

export function endCall(sendLeave = true) {
  if (!call) return;
  if (sendLeave) call.signaling.stop();
  if (call.peer) call.peer.close();
  if (call.watch !== null) navigator.geolocation.clearWatch(call.watch);
  clearInterval(call.locationTimer);
  clearInterval(call.recordingTimer);
  clearTimeout(call.pointTimer);
  call = null;
  page.state.call = null;
  $("call-view").hidden = true;
  $("point-marker").hidden = true;
  document.body.classList.remove("in-call");
  $("remote-audio").replaceChildren();
  page.onEnded();
}

// --- controls -------------------------------------------------------------------------------

async function switchCamera() {
  const stream = page.state.stream;
  const current = stream.getVideoTracks()[0];
  const facing = current.getSettings().facingMode === "user" ? "environment" : "user";
  const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { exact: facing } } })
    .catch(() => navigator.mediaDevices.getUserMedia({ video: true }));
  const [track] = fresh.getVideoTracks();
  stream.removeTrack(current);
  current.stop();
  stream.addTrack(track);
  if (call && call.peer) await call.peer.replaceVideo(track);
  $("torch").hidden = !torchSupported(stream);
}

function toggleMute() {
  call.muted = !call.muted;
  setMuted(page.state.stream, call.muted);
  $("mute").dataset.i18n = call.muted ? "unmute" : "mute";
  $("mute").setAttribute("aria-pressed", String(call.muted));
  applyI18n($("call-view"));
  call.signaling.send({ type: "mute", audio: !call.muted, video: true });
}

async function toggleTorch() {
  try {
    await setTorch(page.state.stream, !call.torch);
    call.torch = !call.torch;
    $("torch").dataset.i18n = call.torch ? "torch_off" : "torch_on";
    $("torch").setAttribute("aria-pressed", String(call.torch));
    applyI18n($("call-view"));
  } catch {
    $("torch").hidden = true;
  }
}

function shareLocation() {
  const here = call;
  if (!here || !navigator.geolocation) return void ($("location-status").textContent = t("location_denied"));
  const send = () => {
    if (!here.lastFix) return;
    const { latitude, longitude, accuracy } = here.lastFix.coords;
    here.signaling.send({ type: "location", latitude, longitude, accuracy_m: accuracy });
  };
  here.watch = navigator.geolocation.watchPosition(
    (fix) => {
      const first = !here.lastFix;
      here.lastFix = fix;
      $("location-status").textContent = t("location_on", { m: Math.round(fix.coords.accuracy) });
      if (first) send();
    },
    () => ($("location-status").textContent = t("location_denied")),
    { enableHighAccuracy: true, maximumAge: 10000 },
  );
  here.locationTimer = setInterval(send, LOCATION_EVERY_MS);
  $("share-location").disabled = true;
}

/** Texts again after a language switch. */
export function rerenderCall() {
  if (!call) return;
  if (call.status) setStatus(call.status);
  renderPeople();
  showCurrentItem(call.itemId);
}

/**
 * `deps`: { state, showBanner, clearBanner, linkInvalid, cameraAdvice, ensureCamera, onEnded,
 *   onRectification }
 * from the page, which keeps the case, the camera stream and the banner.
 */
export function wireCall(deps) {
  page = deps;
  $("join-call").addEventListener("click", joinCall);
  $("leave-call").addEventListener("click", () => endCall(true));
  $("switch-camera").addEventListener("click", () => switchCamera().catch((e) => page.showBanner("error", page.cameraAdvice(e))));
  $("mute").addEventListener("click", toggleMute);
  $("torch").addEventListener("click", toggleTorch);
  $("share-location").addEventListener("click", shareLocation);
  window.addEventListener("resize", () => {
    const marker = $("point-marker");
    if (call && !marker.hidden) placePoint(Number(marker.dataset.x), Number(marker.dataset.y));
  });
}
