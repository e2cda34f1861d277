// Ending the inspection and rectification (补齐补正): conclude, the request, the rounds, the review.
import { api, can } from "../shared/api.js";
import { formatDateTime, pick, t } from "../shared/i18n.js";
import { qualityNote } from "../shared/quality.js";
import "./texts-workspace.js";
import { banner, busy, errorText, h, section, stateLabel } from "./ui.js";

const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
const DEADLINE_DAYS = 3;
const DEADLINE_TIME = "18:00";
const NEXT_STEP = { pass: "conclude_then_draft", fail: "conclude_then_draft_fail", needs_onsite: "conclude_then_onsite" };

// What the last conclude / request / review did, shown once when the case page reloads into the
// case's new state: { caseId, text }.
let flash = null;

function takeFlash(caseId) {
  const shown = flash && flash.caseId === caseId ? h("div", { class: "banner ok", role: "status", id: "rect-flash" }, flash.text) : null;
  flash = null;
  return shown;
}

// --- deadline in Beijing time ------------------------------------------------------------------

/** "2026-05-01T18:00" typed in the console means Beijing time: sent with its +08:00 offset. */
export const withShanghaiOffset = (local) => `${local}:00+08:00`;

/** The default deadline: in DEADLINE_DAYS days at DEADLINE_TIME, Beijing time. */
function defaultDeadline() {
  const later = new Date(Date.now() + DEADLINE_DAYS * 86_400_000);
  const day = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(later);
  return `${day}T${DEADLINE_TIME}`;
}

// --- concluding the inspection -------------------------------------------------------------------

function itemTitle(checklist, itemId) {
  const item = checklist.data.items.find((i) => i.id === itemId);
  return item ? `${itemId} ${pick(item.title, item.title_en)}` : itemId;
}

function failNotes(checklist, itemId) {
  const item = checklist.data.items.find((i) => i.id === itemId);
  const notes = item ? item.verdicts.filter((v) => v.value === "fail" && v.note).map((v) => v.note) : [];
  return [...new Set(notes)].join("；");
}

function concludeButton(kase, out) {
  const button = h("button", { type: "button", id: "conclude" }, t("conclude_inspection"));
  button.addEventListener("click", async () => {
    const done = await busy(button, out, () => api(`/api/v1/cases/${kase.id}/inspection/conclude`, { method: "POST" }));
    if (!done) return;
    flash = { caseId: kase.id, text: t("concluded", { conclusion: t(`conclusion_${done.conclusion}`), state: stateLabel(done.state) }) };
    reload();
  });
  return button;
}

function requestItem(checklist, itemId) {
  const chosen = h("input", { type: "checkbox", class: "rect-choose", checked: true, value: itemId });
  const instruction = h("textarea", { rows: 2, class: "rect-instruction", maxlength: 2000, placeholder: t("rect_instruction_hint"), "aria-label": t("rect_instruction_for", { item: itemId }) });
  instruction.value = failNotes(checklist, itemId);
  return h(
    "fieldset",
    { class: "rect-request-item", dataset: { item: itemId } },
    h("legend", {}, h("label", {}, chosen, " ", itemTitle(checklist, itemId))),
    h("label", {}, t("rect_instruction")),
    instruction,
  );
}

function readRequest(form) {
  const items = [...form.querySelectorAll(".rect-request-item")]
    .filter((box) => box.querySelector(".rect-choose").checked)
    .map((box) => ({ item_id: box.dataset.item, instruction: box.querySelector(".rect-instruction").value.trim() }));
  if (!items.length) return { problem: t("rect_choose_items") };
  const blank = items.find((i) => !i.instruction);
  if (blank) return { problem: t("rect_instruction_missing", { item: blank.item_id }) };
  const local = form.querySelector("#rect-deadline").value;
  if (!local) return { problem: t("rect_deadline_missing") };
  const endCall = form.querySelector("input[name=rect-call]:checked")?.value === "end";
  return { body: { deadline: withShanghaiOffset(local), items, end_call: endCall } };
}

/** The lead's choice for the live call: keep it open (default) or end it for everyone. */
function callChoice() {
  const option = (value, key, checked) => h("label", { class: "choice" }, h("input", { type: "radio", name: "rect-call", value, id: `rect-call-${value}`, checked }), " ", t(key));
  return h("fieldset", { class: "rect-call-choice" }, h("legend", {}, t("rect_call_choice")), option("keep", "rect_call_keep", true), option("end", "rect_call_end", false));
}

function requestForm(kase, checklist, itemIds) {
  const deadline = h("input", { type: "datetime-local", id: "rect-deadline", required: true, step: 900, value: defaultDeadline() });
  const out = h("div", { "aria-live": "polite", id: "rect-request-out" });
  const submit = h("button", { type: "submit", id: "rect-request" }, t("rect_request"));
  const form = h(
    "form",
    { id: "rect-request-form", novalidate: true },
    h("h3", {}, t("rect_request_title")),
    ...itemIds.map((id) => requestItem(checklist, id)),
    h("label", { for: "rect-deadline" }, t("rect_deadline")),
    deadline,
    h("small", { class: "muted" }, t("rect_deadline_hint")),
    callChoice(),
    out,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { problem, body } = readRequest(form);
    if (problem) return banner(out, "error", problem);
    const opened = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/rectification`, { method: "POST", body }));
    if (!opened) return;
    flash = { caseId: kase.id, text: t("rect_requested", { n: opened.items.length, when: formatDateTime(opened.deadline) }) };
    reload();
  });
  return form;
}

function reasonList(conclusion) {
  const reasons = conclusion.reasons.filter((r) => r.kind !== "rectifiable_failure");
  if (!reasons.length) return null;
  return h("ul", { class: "small" }, reasons.map((r) => h("li", {}, pick(r.message_zh, r.message_en))));
}

function concludeBody(kase, lead, checklist, out) {
  const conclusion = checklist.data.conclusion;
  if (!conclusion) return [h("p", { class: "muted" }, t("conclusion_unknown"))];
  const value = conclusion.value;
  const head = h("p", { id: "conclude-preview" }, h("strong", {}, t("conclusion_preview")), " ", h("span", { class: `conclusion c-${value}` }, t(`conclusion_${value}`)));
  if (value === "incomplete") return [head, h("p", { class: "banner warn" }, t("conclude_blocked")), reasonList(conclusion)];
  if (!lead) return [head, h("p", { class: "muted", id: "conclude-by-lead" }, t("conclude_by_lead"))];
  if (value === "pass_after_rectification") return [head, h("p", {}, t("conclude_rectify_first")), requestForm(kase, checklist, conclusion.rectification_items)];
  return [head, h("p", {}, t(NEXT_STEP[value])), reasonList(conclusion), h("div", { class: "row" }, concludeButton(kase, out))];
}

/** Conclude (结束踏勘), or request rectification when only rectifiable items failed. */
export function concludeSection(kase, ctx, checklist) {
  const lead = can(kase, "conclude");
  const body = h("div", { id: "conclude-body" });
  const out = h("div", { "aria-live": "polite", id: "conclude-out" });
  const refresh = h("button", { type: "button", class: "secondary", id: "conclude-refresh" }, t("conclude_refresh"));
  refresh.addEventListener("click", () => busy(refresh, out, () => checklist.load()));
  let shown = null; // re-drawn only when the outcome changes, so a half-typed request survives
  const draw = () => {
    const c = checklist.data && checklist.data.conclusion;
    const key = c ? `${c.value}|${c.rectification_items.join(",")}|${c.reasons.length}` : "";
    if (key === shown) return;
    shown = key;
    body.replaceChildren(...concludeBody(kase, lead, checklist, out).filter(Boolean));
  };
  checklist.onChange(draw);
  draw();
  return section("conclude_title", h("p", { class: "muted small" }, t("conclude_hint")), body, out, h("div", { class: "row" }, refresh));
}

// --- the rounds ----------------------------------------------------------------------------------

/** Evidence download links, fetched once per page (each fetch is an audited read). */
class Photos {
  constructor(caseId, evidence) {
    this.caseId = caseId;
    this.rows = new Map(evidence.map((e) => [e.id, e]));
    this.urls = new Map();
  }

  url(id) {
    if (!this.urls.has(id)) this.urls.set(id, api(`/api/v1/cases/${this.caseId}/evidence/${id}/url`));
    return this.urls.get(id);
  }

  caption(id) {
    const row = this.rows.get(id);
    if (!row) return "";
    const where = row.position && row.position.distance_m != null ? ` · ${t("distance_m", { m: Math.round(row.position.distance_m) })}` : "";
    const flag = qualityNote(row) ? ` · ${qualityNote(row)}` : "";
    return `${formatDateTime(row.captured_at)}${where}${flag}`;
  }

  view(id, altKey) {
    const holder = h("a", { class: "thumb-link", target: "_blank", rel: "noopener", dataset: { evidence: id } });
    const figure = h("figure", { class: "thumb" }, holder, h("figcaption", { class: "muted small" }, this.caption(id)));
    this.url(id).then(
      (signed) => {
        holder.href = signed.url;
        const video = signed.content_type.startsWith("video/");
        holder.append(video ? h("video", { src: signed.url, controls: true, preload: "metadata" }) : h("img", { src: signed.url, alt: t(altKey, { id }) }));
      },
      (error) => holder.replaceWith(h("span", { class: "warn-text small", role: "alert" }, errorText(error))),
    );
    return figure;
  }

  group(ids, titleKey, altKey, cls) {
    const items = ids.length ? ids.map((id) => this.view(id, altKey)) : [h("p", { class: "muted small" }, t("no_photos"))];
    return h("div", { class: `photo-group ${cls}` }, h("h5", {}, t(titleKey)), h("div", { class: "thumbs" }, items));
  }
}

function reviewLine(kase, review) {
  const who = t(review.by === kase.inspector_ids[0] ? "lead" : review.by === kase.inspector_ids[1] ? "second" : "other_staff");
  const verdict = review.accepted ? t("rect_accepted") : t("rect_rejected");
  const reason = review.reason ? ` — ${review.reason}` : "";
  return h("li", { class: review.accepted ? "ok-text" : "warn-text", dataset: { by: review.by } }, t("rect_review_line", { who, verdict, reason, when: formatDateTime(review.at) }));
}

function reviews(kase, item) {
  const byId = new Map(item.reviews.map((r) => [r.by, r]));
  const lines = kase.inspector_ids.slice(0, 2).map((id, i) => {
    const review = byId.get(id);
    return review ? reviewLine(kase, review) : h("li", { class: "muted" }, t("rect_not_reviewed", { who: t(i ? "second" : "lead") }));
  });
  return h("ul", { class: "rect-reviews" }, lines);
}

function reviewControls(kase, round, item, redraw) {
  const reason = h("textarea", { rows: 2, class: "reject-reason", maxlength: 2000, "aria-label": t("reject_reason_for", { item: item.item_id }) });
  const out = h("div", { "aria-live": "polite", class: "review-out" });
  const accept = h("button", { type: "button", class: "accept mark-pass" }, t("rect_accept"));
  const reject = h("button", { type: "button", class: "reject secondary" }, t("rect_reject"));
  const send = (button, accepted) => async () => {
    const body = { accepted, reason: accepted ? "" : reason.value.trim() };
    const path = `/api/v1/cases/${kase.id}/rectification/items/${encodeURIComponent(item.item_id)}/review`;
    const updated = await busy(button, out, () => api(path, { method: "POST", body }));
    if (!updated) return;
    if (updated.status !== "submitted") {
      flash = { caseId: kase.id, text: t(updated.status === "verified" ? "rect_round_verified" : "rect_round_rejected", { n: updated.number }) };
      reload(); // the case moved on (drafting, or a new round): show it
      return;
    }
    redraw(updated);
  };
  accept.addEventListener("click", send(accept, true));
  reject.addEventListener("click", send(reject, false));
  return h("div", { class: "review-controls" }, h("div", { class: "row" }, accept), h("label", {}, t("reject_reason")), reason, h("div", { class: "row" }, reject), out);
}

/** What the round views share: the case, who is looking, photo links, item titles. */
function itemView({ kase, ctx, photos, titles }, round, item, redraw) {
  const reviewing = round.status === "submitted" && can(kase, "verify_rectification");
  return h(
    "li",
    { class: "rect-item", dataset: { item: item.item_id } },
    h("h4", {}, h("span", { class: "item-id" }, item.item_id), " ", titles.get(item.item_id) || ""),
    h("p", { class: "rect-instruction-text" }, item.instruction),
    h(
      "div",
      { class: "compare" },
      photos.group(item.failure_evidence_ids, "rect_before", "rect_before_alt", "before"),
      photos.group(item.photo_evidence_ids, "rect_after", "rect_after_alt", "after"),
    ),
    reviews(kase, item),
    reviewing ? reviewControls(kase, round, item, redraw) : null,
  );
}

const RESULT_KIND = { verified: "ok", rejected: "warn", expired: "warn", open: "", submitted: "" };

function roundFacts(round) {
  const rows = [
    ["rect_requested_at", formatDateTime(round.requested_at)],
    ["rect_deadline", t("in_beijing_time", { when: formatDateTime(round.deadline) })],
    ["rect_submitted_at", round.submitted_at ? formatDateTime(round.submitted_at) : t("rect_not_submitted")],
  ];
  if (round.decided_at) rows.push(["rect_decided_at", formatDateTime(round.decided_at)]);
  return h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
}

function roundView(view, round) {
  const box = h("article", { class: "round", dataset: { round: round.number, status: round.status } });
  const draw = (r) => {
    box.dataset.status = r.status;
    const result = ["verified", "rejected"].includes(r.status) ? h("p", { class: `banner ${RESULT_KIND[r.status]}` }, t(`rect_result_${r.status}`)) : "";
    box.replaceChildren(
      h("h3", {}, t("rect_round", { n: r.number }), " ", h("span", { class: `state round-status ${RESULT_KIND[r.status] || ""}` }, t(`rect_status_${r.status}`))),
      roundFacts(r),
      result,
      h("ol", { class: "rect-items" }, r.items.map((item) => itemView(view, r, item, draw))),
    );
  };
  draw(round);
  return box;
}

async function evidenceList(caseId) {
  try {
    return await api(`/api/v1/cases/${caseId}/evidence?kind=snapshot&kind=photo`); // not the recording
  } catch {
    return []; // captions only; the photos themselves still load one by one
  }
}

async function itemTitles(caseId) {
  try {
    const checklist = await api(`/api/v1/cases/${caseId}/checklist`);
    return new Map(checklist.items.map((i) => [i.id, pick(i.title, i.title_en)]));
  } catch {
    return new Map(); // the ids still say which item
  }
}

/** Every rectification round, newest first; a submitted round is reviewed item by item. */
export async function rectificationSection(kase, ctx) {
  const note = takeFlash(kase.id);
  let rounds;
  try {
    rounds = await api(`/api/v1/cases/${kase.id}/rectification`);
  } catch (error) {
    const box = h("div");
    banner(box, "error", errorText(error));
    return section("rectification", note, box);
  }
  if (!rounds.length) return note ? h("div", { id: "rectification" }, note) : null;
  const [evidence, titles] = await Promise.all([evidenceList(kase.id), itemTitles(kase.id)]);
  const view = { kase, ctx, photos: new Photos(kase.id, evidence), titles };
  const [latest, ...older] = [...rounds].reverse();
  return section("rectification", h("div", { id: "rectification" }, note, roundView(view, latest), earlierRounds(view, older)));
}

/** Earlier rounds folded away; their photos are fetched (and the reads audited) only when opened. */
function earlierRounds(view, rounds) {
  if (!rounds.length) return null;
  const box = h("details", { class: "earlier-rounds" }, h("summary", {}, t("rect_earlier", { n: rounds.length })));
  box.addEventListener("toggle", () => {
    if (box.open && box.children.length === 1) box.append(...rounds.map((r) => roundView(view, r)));
  });
  return box;
}
