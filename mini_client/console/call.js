// The live call beside the checklist: the phone's picture (pinned, full screen on demand) and
// voices, our microphone, snapshots, the phone's GPS, connection quality, the recording state,
// and what the room pushes (the other inspector's verdicts, a rectification request).
import { api, getToken } from "../shared/api.js";
import { toPicture } from "../shared/picture.js";
import { qualityPrompt } from "../shared/quality.js";
import { Signaling } from "../shared/signaling.js";
import { openMic, Peer, setMuted, staffTransceivers } from "../shared/webrtc.js";
import { pick, t } from "../shared/i18n.js";
import { GpsView, QualityView, RecordingView } from "./call-facts.js";
import "./texts-workspace.js";
import { h, section } from "./ui.js";

const CALL_ENDED = 4010; // the lead ended the call for everyone (signaling CloseCode.call_ended)
const TICK_MS = 1000;

let live = null; // this page's joined call: it outlives re-renders of its case's page

/** The joined call of `caseId` on this page, if any (the case page keeps showing it). */
export function liveCall(caseId) {
  return live && live.caseId === caseId && live.signaling ? live : null;
}

/** The call panel of the case page: the one already joined, else a new one. */
export function callPanel(kase, ctx, checklist) {
  const call = liveCall(kase.id) || new Call(kase);
  live = call;
  call.adopt(checklist, ctx);
  return call.panel;
}

class Call {
  constructor(kase) {
    this.kase = kase;
    this.caseId = kase.id;
    this.signaling = this.peer = this.mic = this.timer = null;
    this.myId = null; // my participant id in the room: the snapshots I asked for are mine to judge
    this.participants = new Map();
    this.players = new Map(); // remote audio track id → its one <audio> element
    this.currentItem = null;
    this.gps = new GpsView(kase);
    this.recording = new RecordingView();
    this.quality = new QualityView();
    this.build();
  }

  build() {
    this.video = h("video", { id: "call-video", autoplay: true, playsinline: true, muted: true, "aria-label": t("phone_picture") });
    // Taken out of the page and put back by a re-render: a detached video pauses; keep it live.
    this.video.addEventListener("pause", () => this.signaling && this.video.play().catch(() => {}));
    this.full = h("button", { type: "button", id: "call-fullscreen", class: "secondary small-button" }, t("fullscreen"));
    this.full.addEventListener("click", () => this.toggleFullscreen());
    this.stage = h("div", { class: "call-stage" }, this.video, this.full);
    document.addEventListener("fullscreenchange", () => (this.full.textContent = t(document.fullscreenElement === this.stage ? "exit_fullscreen" : "fullscreen")));
    this.audio = h("div", { id: "call-audio", hidden: true });
    this.status = h("p", { id: "call-status", role: "status" }, t("call_idle"));
    this.people = h("ul", { id: "call-people", class: "muted small" });
    this.notice = h("div", { id: "call-notice", "aria-live": "polite" });
    this.snapOut = h("div", { id: "snapshot-out", "aria-live": "polite" });
    this.snapQuality = h("div", { id: "snapshot-quality" }); // my last snapshot, if flagged
    this.join = h("button", { type: "button", id: "join-call" }, t("join_call"));
    this.leave = h("button", { type: "button", id: "leave-call", class: "secondary", hidden: true }, t("leave_call"));
    this.mute = h("button", { type: "button", id: "mute", class: "secondary", hidden: true, "aria-pressed": "false" }, t("mute"));
    this.snap = h("button", { type: "button", id: "snapshot", hidden: true }, t("take_snapshot"));
    this.join.addEventListener("click", () => this.start());
    this.leave.addEventListener("click", () => this.stop("call_left"));
    this.mute.addEventListener("click", () => this.toggleMute());
    this.snap.addEventListener("click", () => this.snapshot());
    // "Show me here": a click on the phone's picture marks the same spot on the phone's screen.
    this.video.style.cursor = "crosshair";
    this.video.addEventListener("click", (event) => this.point(event));
    const controls = h("div", { class: "row" }, this.join, this.mute, this.snap, this.leave);
    // Pinned while the checklist scrolls (console.css): the picture and what the call needs.
    const pinned = h("div", { class: "call-pinned" }, this.stage, this.status, controls, this.notice, this.snapOut, this.snapQuality, this.recording.el, this.gps.el);
    const body = h("div", { class: "call" }, pinned, this.audio, this.quality.el, this.people);
    this.panel = section("live_call", body);
    this.panel.classList.add("call-card");
  }

  /** Bind to the checklist of the page now shown (a new one after every re-render). */
  adopt(checklist, ctx) {
    this.checklist = checklist;
    if (this.signaling) {
      checklist.live = (itemId) => this.signaling.send({ type: "current_item", item_id: itemId });
      if (this.currentItem) checklist.setCurrent(this.currentItem);
    }
    // Leaving the case's page ends the call; re-rendering the same page keeps it.
    ctx.onCleanup(() => {
      if (!location.hash.startsWith(`#/case/${this.caseId}`)) this.stop();
    });
  }

  say(key, params) {
    this.status.textContent = t(key, params);
  }

  renderPeople() {
    this.people.replaceChildren(...[...this.participants.values()].map((p) => h("li", {}, `${p.display_name} · ${t(`kind_${p.kind}`)}`)));
  }

  async start() {
    this.join.disabled = true;
    this.say("call_connecting");
    this.mic = await openMic();
    if (!this.mic) this.say("mic_unavailable");
    const signaling = (this.signaling = new Signaling(this.caseId, getToken()));
    signaling.addEventListener("message", ({ detail }) => this.onMessage(detail));
    signaling.addEventListener("reconnecting", () => this.say("call_reconnecting"));
    signaling.addEventListener("fatal", ({ detail }) => {
      this.stop();
      if (detail.code === CALL_ENDED) this.say("call_ended_for_all");
      else this.say("call_refused", { code: detail.code });
    });
    signaling.start();
    this.checklist.live = (itemId) => signaling.send({ type: "current_item", item_id: itemId });
    this.join.hidden = true;
    this.join.disabled = false;
    this.leave.hidden = this.mute.hidden = this.snap.hidden = false;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(sayKey) {
    if (this.signaling) this.signaling.stop();
    if (this.peer) this.peer.close();
    if (this.mic) for (const track of this.mic.getTracks()) track.stop();
    clearInterval(this.timer);
    this.signaling = this.peer = this.mic = this.timer = null;
    if (this.checklist) this.checklist.live = null;
    this.participants.clear();
    this.renderPeople();
    this.video.srcObject = null;
    this.players.clear();
    this.audio.replaceChildren();
    this.recording.stop();
    this.quality.el.replaceChildren();
    this.snapQuality.replaceChildren();
    this.join.hidden = false;
    this.leave.hidden = this.mute.hidden = this.snap.hidden = true;
    if (sayKey) this.say(sayKey);
  }

  tick() {
    this.gps.render();
    this.recording.render();
    const names = { me: t("me"), applicant: t("kind_applicant"), inspectors: t("other_inspector") };
    if (this.peer) this.quality.sample(this.peer.pc, names).catch(() => {});
  }

  /** One element per remote track: the picture in the video, each voice in its own audio. */
  onTrack({ track }) {
    if (track.kind === "video") {
      this.video.srcObject = new MediaStream([track]);
      return;
    }
    if (this.players.has(track.id)) return; // renegotiation announces a track again
    const player = h("audio", { autoplay: true, dataset: { track: track.id } });
    player.srcObject = new MediaStream([track]);
    this.players.set(track.id, player);
    this.audio.append(player);
    track.addEventListener("ended", () => {
      player.remove();
      this.players.delete(track.id);
    });
  }

  openPeer(message) {
    if (this.peer) this.peer.close();
    this.players.clear();
    this.audio.replaceChildren();
    const peer = (this.peer = new Peer((m) => this.signaling.send(m), { iceServers: message.ice_servers || [], transceivers: staffTransceivers(this.mic) }));
    peer.addEventListener("track", ({ detail }) => this.onTrack(detail));
    peer.addEventListener("state", ({ detail }) => {
      this.say(detail === "connected" ? "call_connected" : "call_state", { state: detail });
    });
    return peer.offer();
  }

  async onMessage(message) {
    switch (message.type) {
      case "joined":
        this.myId = message.participant_id;
        this.showRecording(Boolean(message.recording));
        this.participants = new Map(message.participants.map((p) => [p.participant_id, p]));
        this.renderPeople();
        if (message.current_item) this.setCurrent(message.current_item);
        await this.openPeer(message);
        this.say("call_joined");
        break;
      case "participant_joined":
        this.participants.set(message.participant.participant_id, message.participant);
        this.renderPeople();
        break;
      case "participant_left":
        this.participants.delete(message.participant_id);
        this.renderPeople();
        break;
      case "current_item_changed":
        this.setCurrent(message.item_id);
        break;
      case "recording": // the room records while the applicant and an inspector are both in
        this.showRecording(message.on);
        break;
      case "location_reported":
        this.gps.report(message);
        break;
      case "verdict_stored":
        this.checklist.remoteVerdict(message);
        break;
      case "rectification_requested":
        this.notice.replaceChildren(h("div", { class: "banner warn", role: "status" }, t(message.call_ends ? "rect_pushed_call_ends" : "rect_pushed_call_stays", { n: message.items.length })));
        break;
      case "snapshot_result":
        this.snapshotResult(message);
        break;
      case "error":
        this.snapOut.replaceChildren(h("div", { class: "banner error", role: "alert" }, pick(message.message_zh, message.message_en)));
        this.snap.disabled = false;
        break;
      default:
        if (this.peer) await this.peer.handle(message).catch(() => this.say("call_state", { state: "negotiation error" }));
    }
  }

  setCurrent(itemId) {
    this.currentItem = itemId;
    this.checklist.setCurrent(itemId);
  }

  snapshotResult(message) {
    if (message.ok) document.dispatchEvent(new CustomEvent("ci:snapshot-filed", { detail: message }));
    const text = message.ok ? t("snapshot_filed", { item: message.item_id || t("no_item") }) : t("snapshot_failed", { error: message.error || "" });
    this.snapOut.replaceChildren(h("div", { class: `banner ${message.ok ? "ok" : "error"}` }, text));
    this.snap.disabled = false;
    if (message.ok && message.requested_by === this.myId) this.showQuality(message.snapshot_id);
  }

  /** A snapshot I took that the server flagged (blurred, dark, overexposed): keep or retake. */
  async showQuality(snapshotId) {
    const rows = await api(`/api/v1/cases/${this.caseId}/evidence?kind=snapshot`).catch(() => []);
    const row = rows.find((r) => r.id === snapshotId);
    const prompt = row && qualityPrompt(this.caseId, row, { onRetake: () => this.snapshot() });
    this.snapQuality.replaceChildren(...(prompt ? [prompt] : []));
  }

  showRecording(on) {
    if (on) this.recording.start();
    else this.recording.stop();
  }

  point(event) {
    const video = this.video;
    const spot = this.signaling && video.videoWidth ? toPicture(video, event.clientX, event.clientY) : null;
    if (spot) this.signaling.send({ type: "point", x: spot.x, y: spot.y });
  }

  toggleMute() {
    const muted = this.mute.getAttribute("aria-pressed") !== "true";
    if (this.mic) setMuted(this.mic, muted);
    this.mute.setAttribute("aria-pressed", String(muted));
    this.mute.textContent = t(muted ? "unmute" : "mute");
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (this.stage.requestFullscreen) this.stage.requestFullscreen().catch(() => {});
  }

  snapshot() {
    const current = this.checklist.current;
    if (!current) {
      this.snapOut.replaceChildren(h("div", { class: "banner warn" }, t("choose_item_first")));
      return;
    }
    this.snap.disabled = true;
    const requestId = `snap-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    if (!this.signaling.send({ type: "snapshot_request", request_id: requestId, item_id: current })) this.snap.disabled = false;
    this.snapOut.replaceChildren(h("div", { class: "banner" }, t("snapshot_taking", { item: current })));
  }
}
