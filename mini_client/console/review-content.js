// What the co-signer and the reviewer read before they sign: the checklist with both
// inspectors' verdicts and photos, the rectification rounds, the recordings, and the draft PDF
// (unsigned, marked 草稿 / DRAFT). The reviewer ticks the items to send back here.
import { api } from "../shared/api.js";
import { pick, t } from "../shared/i18n.js";
import { recordingsSection } from "./recordings.js";
import { rectificationSection } from "./rectification.js";
import { banner, busy, errorText, h, section } from "./ui.js";

const verdictText = (value) => (value ? t(`verdict_${value}`) : t("review_unmarked"));

function verdictCell(item) {
  const marks = item.verdicts.map((v) =>
    h("li", {}, `${t(`review_${v.position}`)}：${verdictText(v.value)}`, v.note ? ` · ${v.note}` : ""),
  );
  if (item.resolution) marks.push(h("li", {}, `${t("review_ruling")}：${verdictText(item.resolution.value)} · ${item.resolution.reason}`));
  return h("ul", { class: "small verdicts" }, marks);
}

/** One photo cited by the verdicts: its link is fetched (and the read audited) on demand. */
function photoLink(caseId, evidenceId) {
  const button = h("button", { type: "button", class: "secondary small photo-open", dataset: { evidence: evidenceId } }, t("review_photo"));
  const out = h("span", { "aria-live": "polite" });
  button.addEventListener("click", async () => {
    const signed = await busy(button, out, () => api(`/api/v1/cases/${caseId}/evidence/${evidenceId}/url`));
    if (signed) out.replaceChildren(h("a", { href: signed.url, target: "_blank", rel: "noopener" }, h("img", { src: signed.url, alt: t("review_photo"), class: "thumb", loading: "lazy" })));
  });
  return h("span", { class: "photo" }, button, out);
}

function itemRow(kase, item, { pickable, reopened }) {
  const refs = [...new Set([...(item.evidence_refs || []), ...item.verdicts.flatMap((v) => v.evidence_refs)])];
  const box = pickable ? h("input", { type: "checkbox", name: "send-back-item", value: item.id, "aria-label": `${t("review_redo")} ${item.id}` }) : null;
  return h(
    "tr",
    { dataset: { item: item.id }, class: reopened.includes(item.id) ? "reopened" : null },
    h("td", {}, box),
    h("td", {}, h("strong", {}, item.id), " ", pick(item.title, item.title_en), reopened.includes(item.id) ? h("span", { class: "badge" }, t("review_reopened")) : null),
    h("td", {}, verdictCell(item)),
    h("td", { class: "settled" }, verdictText(item.settled)),
    h("td", {}, refs.map((id) => photoLink(kase.id, id))),
  );
}

/** The checklist as read before signing; with `pickable`, a box per item for the send-back. */
export async function checklistReview(kase, { pickable = false, reopened = [] } = {}) {
  let checklist;
  try {
    checklist = await api(`/api/v1/cases/${kase.id}/checklist`);
  } catch (error) {
    const box = h("div");
    banner(box, "error", errorText(error));
    return section("review_checklist", box);
  }
  const head = ["review_redo", "review_item", "review_verdicts", "review_settled", "review_photos"].map((k) => h("th", {}, pickable || k !== "review_redo" ? t(k) : ""));
  const rows = checklist.items.filter((i) => !i.record_only || i.verdicts.length).map((i) => itemRow(kase, i, { pickable, reopened }));
  const table = h("table", { class: "review-checklist", id: "review-checklist" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows));
  return section("review_checklist", h("div", { class: "table-wrap" }, table));
}

/** The draft rendered as a PDF (unsigned, marked DRAFT), fetched with the staff token. */
export function draftPreview(kase) {
  const out = h("div", { id: "draft-preview", "aria-live": "polite" });
  const button = h("button", { type: "button", id: "show-preview", class: "secondary" }, t("review_preview"));
  button.addEventListener("click", async () => {
    const blob = await busy(button, out, () => api(`/api/v1/cases/${kase.id}/opinion/preview.pdf`, { as: "blob" }));
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    out.replaceChildren(
      h("iframe", { src: url, title: t("review_preview"), class: "pdf-preview", id: "preview-frame" }),
      h("a", { href: url, target: "_blank", rel: "noopener" }, t("pdf_ready")),
    );
  });
  return section("review_preview", h("p", { class: "muted" }, t("review_preview_hint")), h("div", { class: "row" }, button), out);
}

/** Everything a signer reads before signing, for the co-signer and the reviewer. */
export async function reviewContent(kase, ctx, options = {}) {
  return [
    await checklistReview(kase, options),
    await rectificationSection(kase, ctx),
    await recordingsSection(kase),
    draftPreview(kase),
  ];
}

/** The item ids ticked in the review checklist. */
export const pickedItems = () => [...document.querySelectorAll("input[name=send-back-item]:checked")].map((box) => box.value);
