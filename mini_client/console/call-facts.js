// What the inspector reads beside the live picture, refreshed every second: the phone's GPS
// distance to the site (with its accuracy and age), the connection quality per participant from
// this console's RTCPeerConnection.getStats(), and the recording state with its elapsed time.
import { t } from "../shared/i18n.js";
import { h } from "./ui.js";

const EARTH_M = 6_371_000;

/** Great-circle distance in metres (display only: the server's evidence check stays the rule). */
export function distanceM(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

const seconds = (ms) => Math.max(0, Math.round(ms / 1000));

/** "mm:ss" (or "h:mm:ss") of an elapsed time. */
export function clock(ms) {
  const total = seconds(ms);
  const hh = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** The phone's last GPS fix as the room reported it, against the case's site. */
export class GpsView {
  constructor(kase) {
    this.site = kase.site_lat != null && kase.site_lng != null ? { lat: kase.site_lat, lng: kase.site_lng } : null;
    this.fix = null;
    this.el = h("p", { id: "call-gps", class: "call-fact", "aria-live": "off" }, t("gps_none"));
  }

  report(message) {
    this.fix = { lat: message.latitude, lng: message.longitude, accuracy: message.accuracy_m, at: Date.now() };
    this.render();
  }

  render() {
    const fix = this.fix;
    if (!fix) return this.el.replaceChildren(t("gps_none"));
    const accuracy = fix.accuracy == null ? t("gps_accuracy_unknown") : t("gps_accuracy", { m: Math.round(fix.accuracy) });
    const age = t("gps_age", { s: seconds(Date.now() - fix.at) });
    const distance = this.site ? t("gps_distance", { m: Math.round(distanceM(fix, this.site)) }) : t("gps_no_site");
    this.el.dataset.distance = this.site ? String(Math.round(distanceM(fix, this.site))) : "";
    this.el.replaceChildren(h("strong", {}, t("gps_label")), " ", distance, " · ", accuracy, " · ", age);
  }
}

/** Recording: the media server records every published track from the moment media flows. */
export class RecordingView {
  constructor() {
    this.since = null;
    this.el = h("p", { id: "call-recording", class: "call-fact", hidden: true });
  }

  start() {
    if (this.since === null) this.since = Date.now();
    this.render();
  }

  stop() {
    this.since = null;
    this.render();
  }

  render() {
    this.el.hidden = this.since === null;
    if (this.since !== null) this.el.replaceChildren(h("span", { class: "rec-dot", "aria-hidden": "true" }), t("recording", { elapsed: clock(Date.now() - this.since) }));
  }
}

/** Bytes and packet counters of one RTP stream between two getStats() samples. */
function rate(now, before, key) {
  if (!before) return null;
  const ms = now.timestamp - before.timestamp;
  return ms > 0 ? ((now[key] - before[key]) * 8) / ms : null; // kbit/s
}

function lossPercent(now, before) {
  if (!before) return null;
  const lost = (now.packetsLost || 0) - (before.packetsLost || 0);
  const received = (now.packetsReceived || 0) - (before.packetsReceived || 0);
  return lost + received > 0 ? (100 * Math.max(0, lost)) / (lost + received) : 0;
}

/**
 * Connection quality per participant, as this console sees it: the applicant's picture and voice
 * (inbound on the first two transceivers), the other inspector's voice (the third), my voice
 * (outbound) and the round trip of my link to the media server.
 */
export class QualityView {
  constructor() {
    this.previous = new Map();
    this.el = h("ul", { id: "call-quality", class: "call-fact small" });
  }

  async sample(pc, names) {
    if (!pc || pc.connectionState === "closed") return this.el.replaceChildren();
    const stats = await pc.getStats();
    const mids = new Map(pc.getTransceivers().map((tr, i) => [tr.mid, i]));
    const rows = new Map();
    let rtt = null;
    for (const s of stats.values()) {
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
      if (s.type !== "inbound-rtp" && s.type !== "outbound-rtp") continue;
      const before = this.previous.get(s.id);
      this.previous.set(s.id, s);
      const index = mids.get(s.mid);
      const who = s.type === "outbound-rtp" ? names.me : index === 2 ? names.inspectors : names.applicant;
      const row = rows.get(who) || { kbps: 0, loss: null };
      const kbps = rate(s, before, s.type === "inbound-rtp" ? "bytesReceived" : "bytesSent");
      if (kbps !== null) row.kbps += kbps;
      if (s.type === "inbound-rtp") row.loss = Math.max(row.loss ?? 0, lossPercent(s, before) ?? 0);
      rows.set(who, row);
    }
    const rttText = rtt === null ? t("quality_unknown") : `${Math.round(rtt)} ms`;
    this.el.dataset.rtt = rtt === null ? "" : String(Math.round(rtt));
    this.el.replaceChildren(
      ...[...rows.entries()].map(([who, row]) =>
        h("li", { class: "quality-row" }, t("quality_row", { who, kbps: Math.round(row.kbps), loss: row.loss === null ? "–" : row.loss.toFixed(1), rtt: rttText })),
      ),
    );
  }
}
