// The live call beside the checklist: the phone's picture and voice, our microphone, snapshots.
import { api, getToken } from "../shared/api.js";
import { qualityPrompt } from "../shared/quality.js";
import { Signaling } from "../shared/signaling.js";
import { openMic, Peer, setMuted, staffTransceivers } from "../shared/webrtc.js";
import { pick, t } from "../shared/i18n.js";
import { toPicture } from "../shared/picture.js";
import { h, section } from "./ui.js";


export function callPanel(kase, ctx, checklist) {
  const video = h("video", { id: "call-video", autoplay: true, playsinline: true, muted: true, "aria-label": t("phone_picture") });
  const audio = h("div", { hidden: true });
  const status = h("p", { id: "call-status", role: "status" }, t("call_idle"));
  const people = h("ul", { id: "call-people", class: "muted small" });
  const snapOut = h("div", { id: "snapshot-out", "aria-live": "polite" });
  const snapQuality = h("div", { id: "snapshot-quality" }); // my last snapshot, if flagged
  const join = h("button", { type: "button", id: "join-call" }, t("join_call"));
  const leave = h("button", { type: "button", id: "leave-call", class: "secondary", hidden: true }, t("leave_call"));
  const mute = h("button", { type: "button", id: "mute", class: "secondary", hidden: true, "aria-pressed": "false" }, t("mute"));
  const snap = h("button", { type: "button", id: "snapshot", hidden: true }, t("take_snapshot"));
  let signaling = null;
  let peer = null;
  let mic = null;
  let myId = null; // my participant id in the room: the snapshots I asked for are mine to judge
  const participants = new Map();

  const say = (key, params) => (status.textContent = t(key, params));
  const renderPeople = () => people.replaceChildren(...[...participants.values()].map((p) => h("li", {}, `${p.display_name} · ${t(`kind_${p.kind}`)}`)));

  function stop() {
    if (signaling) signaling.stop();
    if (peer) peer.close();
    if (mic) for (const track of mic.getTracks()) track.stop();
    signaling = peer = mic = null;
    checklist.live = null;
    participants.clear();
    renderPeople();
    video.srcObject = null;
    audio.replaceChildren();
    join.hidden = false;
    leave.hidden = mute.hidden = snap.hidden = true;
  }

  async function onMessage(message) {
    switch (message.type) {
      case "joined":
        myId = message.participant_id;
        for (const p of message.participants) participants.set(p.participant_id, p);
        renderPeople();
        if (message.current_item) checklist.setCurrent(message.current_item);
        if (peer) peer.close();
        peer = new Peer((m) => signaling.send(m), { iceServers: message.ice_servers || [], transceivers: staffTransceivers(mic) });
        peer.addEventListener("track", ({ detail: { track, stream } }) => {
          if (track.kind === "video") video.srcObject = stream;
          else {
            const player = h("audio", { autoplay: true });
            player.srcObject = stream;
            audio.append(player);
          }
        });
        peer.addEventListener("state", ({ detail }) => say(detail === "connected" ? "call_connected" : "call_state", { state: detail }));
        await peer.offer();
        say("call_joined");
        break;
      case "participant_joined":
        participants.set(message.participant.participant_id, message.participant);
        renderPeople();
        break;
      case "participant_left":
        participants.delete(message.participant_id);
        renderPeople();
        break;
      case "current_item_changed":
        checklist.setCurrent(message.item_id);
        break;
      case "snapshot_result":
        if (message.ok) document.dispatchEvent(new CustomEvent("ci:snapshot-filed", { detail: message }));
        snapOut.replaceChildren(
          h("div", { class: `banner ${message.ok ? "ok" : "error"}` }, message.ok ? t("snapshot_filed", { item: message.item_id || t("no_item") }) : t("snapshot_failed", { error: message.error || "" })),
        );
        snap.disabled = false;
        if (message.ok && message.requested_by === myId) showQuality(message.snapshot_id);
        break;
      case "error":
        snapOut.replaceChildren(h("div", { class: "banner error", role: "alert" }, pick(message.message_zh, message.message_en)));
        snap.disabled = false;
        break;
      default:
        if (peer) await peer.handle(message).catch(() => say("call_state", { state: "negotiation error" }));
    }
  }

  /** A snapshot I took that the server flagged (blurred, dark, overexposed): keep or retake. */
  async function showQuality(snapshotId) {
    const rows = await api(`/api/v1/cases/${kase.id}/evidence?kind=snapshot`).catch(() => []);
    const row = rows.find((r) => r.id === snapshotId);
    const prompt = row && qualityPrompt(kase.id, row, { onRetake: () => snap.click() });
    snapQuality.replaceChildren(...(prompt ? [prompt] : []));
  }

  join.addEventListener("click", async () => {
    join.disabled = true;
    say("call_connecting");
    mic = await openMic();
    if (!mic) say("mic_unavailable");
    signaling = new Signaling(kase.id, getToken());
    signaling.addEventListener("message", ({ detail }) => onMessage(detail));
    signaling.addEventListener("reconnecting", () => say("call_reconnecting"));
    signaling.addEventListener("fatal", ({ detail }) => {
      stop();
      say("call_refused", { code: detail.code });
    });
    signaling.start();
    checklist.live = (itemId) => signaling.send({ type: "current_item", item_id: itemId });
    join.hidden = true;
    join.disabled = false;
    leave.hidden = mute.hidden = snap.hidden = false;
  });
  // "Show me here": a click on the phone's picture marks the same spot on the phone's screen.
  video.style.cursor = "crosshair";
  video.addEventListener("click", (event) => {
    const spot = signaling && video.videoWidth ? toPicture(video, event.clientX, event.clientY) : null;
    if (spot) signaling.send({ type: "point", x: spot.x, y: spot.y });
  });
  leave.addEventListener("click", () => {
    stop();
    say("call_left");
  });
  mute.addEventListener("click", () => {
    const muted = mute.getAttribute("aria-pressed") !== "true";
    if (mic) setMuted(mic, muted);
    mute.setAttribute("aria-pressed", String(muted));
    mute.textContent = t(muted ? "unmute" : "mute");
  });
  snap.addEventListener("click", () => {
    if (!checklist.current) {
      snapOut.replaceChildren(h("div", { class: "banner warn" }, t("choose_item_first")));
      return;
    }
    snap.disabled = true;
    const requestId = `snap-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    if (!signaling.send({ type: "snapshot_request", request_id: requestId, item_id: checklist.current })) snap.disabled = false;
    snapOut.replaceChildren(h("div", { class: "banner" }, t("snapshot_taking", { item: checklist.current })));
  });
  ctx.onCleanup(stop);
  return section(
    "live_call",
    h("div", { class: "call" }, video, audio, status, people, h("div", { class: "row" }, join, mute, snap, leave), snapOut, snapQuality),
  );
}
