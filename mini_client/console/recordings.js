// The call's recording for staff: per track, its segments and gaps, and the whole track as one file.
import { api } from "../shared/api.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { busy, h, section } from "./ui.js";

/** "applicant.video" → "申请人 · 视频"; "inspector0.audio" → "踏勘人员 1 · 音频". */
function trackLabel(trackId, kind) {
  const [who] = trackId.split(".");
  const seat = who.match(/^inspector(\d)$/);
  const person = seat ? t("track_inspector", { n: Number(seat[1]) + 1 }) : t("track_applicant");
  return `${person} · ${t(kind === "video" ? "track_video" : "track_audio")}`;
}

function seconds(track) {
  return track.entries.filter((e) => e.type === "segment").reduce((sum, e) => sum + (e.seconds || 0), 0);
}

function gapText(track) {
  const gaps = track.entries.filter((e) => e.type === "gap");
  if (!gaps.length) return t("recording_no_gaps");
  const longest = Math.max(...gaps.map((g) => g.seconds || 0));
  return t("recording_gaps", { n: gaps.length, s: longest.toFixed(1) });
}

/** Fetch the remuxed file (the API needs the staff token), then offer it to save and play. */
function downloadButton(kase, track) {
  const out = h("div", { class: "recording-out", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "secondary download-recording" }, t("recording_download"));
  button.addEventListener("click", async () => {
    const path = `/api/v1/cases/${kase.id}/recordings/${encodeURIComponent(track.track_id)}.webm`;
    const blob = await busy(button, out, () => api(path, { as: "blob" }));
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    const name = `${kase.number}-${track.track_id}.webm`;
    const player = track.kind === "video" ? h("video", { src: url, controls: true, preload: "metadata", class: "recording-player" }) : h("audio", { src: url, controls: true, preload: "metadata" });
    out.replaceChildren(h("a", { href: url, download: name, class: "recording-link" }, t("recording_save", { name })), player);
  });
  return h("div", {}, button, out);
}

function trackRow(kase, track) {
  return h(
    "tr",
    { dataset: { track: track.track_id } },
    h("td", {}, trackLabel(track.track_id, track.kind)),
    h("td", {}, t("recording_size", { segments: track.segments, s: seconds(track).toFixed(1) })),
    h("td", { class: "gaps" }, gapText(track)),
    h("td", {}, downloadButton(kase, track)),
  );
}

/** Shown once a call has been recorded; nothing before that, or to staff who may not see it. */
export async function recordingsSection(kase) {
  let listing;
  try {
    listing = await api(`/api/v1/cases/${kase.id}/recordings`);
  } catch {
    return null;
  }
  if (!listing.tracks.length) return null;
  const first = listing.tracks.flatMap((track) => track.entries).map((e) => e.started_at).sort()[0];
  const head = ["recording_track", "recording_length", "recording_breaks", "recording_file"];
  return section(
    "recordings",
    h("p", { class: "muted" }, t("recordings_hint", { when: formatDateTime(first) })),
    h(
      "div",
      { class: "table-wrap" },
      h("table", { id: "recordings" }, h("thead", {}, h("tr", {}, head.map((k) => h("th", { scope: "col" }, t(k))))), h("tbody", {}, listing.tracks.map((track) => trackRow(kase, track)))),
    ),
  );
}
