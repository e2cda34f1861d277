// The opinion (踏勘意见书) as each role works with it: draft, sign, co-sign, review, read the PDF.
import { api, can } from "../shared/api.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { draftPreview, pickedItems } from "./review-content.js";
import { banner, busy, errorText, field, h, section } from "./ui.js";

const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

/** The checklist items a reviewer's send-back reopened for the lead (none when not sent back). */
export async function reopenedItems(caseId) {
  const opinion = await currentOpinion(caseId).catch(() => null);
  return opinion ? opinion.reopened_items || [] : [];
}

async function currentOpinion(caseId) {
  try {
    return await api(`/api/v1/cases/${caseId}/opinion`);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

/** Fetch the signed PDF with the staff token and open it (a link stays if pop-ups are blocked). */
export function pdfButton(caseId, id = "open-pdf") {
  const out = h("span", { class: "pdf-out", "aria-live": "polite" });
  const button = h("button", { type: "button", id, class: "secondary" }, t("open_pdf"));
  button.addEventListener("click", async () => {
    const blob = await busy(button, out, () => api(`/api/v1/cases/${caseId}/opinion/pdf`, { as: "blob" }));
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    out.replaceChildren(h("a", { href: url, target: "_blank", rel: "noopener", class: "pdf-link" }, t("pdf_ready")));
    window.open(url, "_blank", "noopener");
  });
  return h("span", { class: "pdf" }, button, " ", out);
}

/** Export the evidence bundle (zip) for offline verification and offer it as a download. */
export function bundleButton(caseId, caseNumber, id = "export-bundle") {
  const out = h("span", { class: "bundle-out", "aria-live": "polite" });
  const button = h("button", { type: "button", id, class: "secondary" }, t("export_bundle"));
  button.addEventListener("click", async () => {
    const blob = await busy(button, out, () => api(`/api/v1/cases/${caseId}/opinion/bundle`, { as: "blob" }));
    if (!blob) return;
    const link = h("a", { href: URL.createObjectURL(blob), download: `踏勘证据包-${caseNumber}.zip`, class: "bundle-link" }, t("bundle_ready"));
    out.replaceChildren(link);
  });
  return h("span", { class: "bundle" }, button, " ", out);
}

function action(labelKey, id, run, { danger = false } = {}) {
  const out = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", id, class: danger ? "danger" : null }, t(labelKey));
  button.addEventListener("click", async () => {
    const done = await busy(button, out, run);
    if (done) reload();
  });
  return h("div", {}, h("div", { class: "row" }, button), out);
}

function textAction(labelKey, fieldKey, id, run) {
  const text = h("textarea", { rows: 3, required: true, id: `${id}-text` });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id, class: "secondary" }, t(labelKey));
  const form = h("form", {}, field(fieldKey, text), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await busy(submit, out, () => run(text.value.trim()));
    if (done) reload();
  });
  return form;
}

/** A signing step: the signer confirms with their login password (checked by the server). */
function signForm(labelKey, id, run) {
  const password = h("input", { type: "password", id: `${id}-password`, autocomplete: "current-password", required: true });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id }, t(labelKey));
  const form = h("form", { class: "sign-form" }, h("p", { class: "muted" }, t("sign_confirm_hint")), field("sign_password", password), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await busy(submit, out, () => run(password.value));
    password.value = "";
    if (done) reload();
  });
  return form;
}

function sendBackForm(base) {
  return textAction("send_back", "send_back_comments", "send-back", (comments) => {
    const items = pickedItems();
    if (!items.length) return Promise.reject({ text: () => t("send_back_pick_items") });
    return api(`${base}/send-back`, { method: "POST", body: { comments, items } });
  });
}

function summary(opinion) {
  const rows = [
    ["opinion_status", h("span", { id: "opinion-status" }, t(`opinion_${opinion.status}`))],
    ["version", `v${opinion.version}`],
    ["conclusion", h("span", { id: "opinion-conclusion" }, t(`conclusion_${opinion.conclusion}`))],
    ["verification_code", h("code", {}, opinion.verification_code)],
  ];
  if (opinion.issued_at) rows.push(["issued_at", formatDateTime(opinion.issued_at)]);
  if (opinion.acknowledged_at) rows.push(["acknowledged_at", formatDateTime(opinion.acknowledged_at)]);
  if (opinion.reopened_items?.length) rows.push(["reopened_items", h("span", { id: "reopened-items" }, opinion.reopened_items.join("、"))]);
  return h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
}

function comments(opinion) {
  if (!opinion.review_comments.length) return null;
  return h(
    "div",
    { class: "comments", id: "review-comments" },
    h("h3", {}, t("review_comments")),
    h("ul", {}, opinion.review_comments.map((c) => h("li", {}, `${formatDateTime(c.at)} · ${t(`comment_${c.kind}`)}：${c.text}`, c.items ? ` （${t("reopened_items")}：${c.items.join("、")}）` : ""))),
  );
}

function inspectorActions(kase, me, opinion) {
  const base = `/api/v1/cases/${kase.id}/opinion`;
  const post = (step, body) => api(`${base}/${step}`, { method: "POST", body });
  const parts = [];
  if (can(kase, "submit_draft")) {
    parts.push(action(opinion ? "redraft_opinion" : "draft_opinion", "draft-opinion", () => post("draft")));
    if (opinion && opinion.status === "draft") parts.push(action("submit_opinion", "submit-opinion", () => post("submit")));
  }
  if (can(kase, "co_sign")) {
    parts.push(draftPreview(kase));
    parts.push(signForm("cosign", "cosign", (password) => post("cosign", { password })));
    parts.push(h("details", {}, h("summary", {}, t("decline")), textAction("decline", "decline_reason", "decline", (reason) => post("decline", { reason }))));
  }
  if (!parts.length && !opinion) parts.push(h("p", { class: "muted" }, t("opinion_not_yet")));
  return parts;
}

function reviewerActions(kase) {
  if (!can(kase, "approve")) return [];
  const base = `/api/v1/cases/${kase.id}/opinion`;
  return [
    signForm("approve", "approve", (password) => api(`${base}/approve`, { method: "POST", body: { password } })),
    h("details", { id: "send-back-box" }, h("summary", {}, t("send_back")), h("p", { class: "muted" }, t("send_back_hint")), sendBackForm(base)),
  ];
}

export async function opinionSection(kase, ctx) {
  let opinion;
  try {
    opinion = await currentOpinion(kase.id);
  } catch (error) {
    const box = h("div");
    banner(box, "error", errorText(error));
    return section("opinion", box);
  }
  const role = ctx.me.role;
  const body = [opinion ? summary(opinion) : null, opinion ? comments(opinion) : null];
  if (role === "inspector") body.push(...inspectorActions(kase, ctx.me, opinion));
  if (role === "reviewer") body.push(...reviewerActions(kase));
  if (opinion && ["issued", "superseded"].includes(opinion.status)) body.push(h("div", { class: "row" }, pdfButton(kase.id)));
  return section("opinion", h("div", { id: "opinion" }, body));
}
