// Window staff: issued opinions, the signed PDF, its public verification, acknowledging receipt,
// and the licensing decision that closes the case (办结).
import { api, can } from "../shared/api.js";
import { formatDateTime, getLang, t } from "../shared/i18n.js";
import { bundleButton, opinionSection, pdfButton } from "./opinion.js";
import { banner, busy, errorText, field, h, section, stateLabel } from "./ui.js";

/** A problem as /verify words it ("中文 / English"): the part in the page's language. */
function problemText(problem) {
  const cut = problem.indexOf(" / ");
  if (cut < 0) return problem;
  return getLang() === "en" ? problem.slice(cut + 3) : problem.slice(0, cut);
}

/** The stored PDF's signature as /verify checked it: verdict, PAdES level, timestamp, problems. */
function signatureView(signature) {
  if (!signature) return h("div", { class: "signature-check warn-text", dataset: { ok: "false" } }, t("signature_unknown"));
  const ok = Boolean(signature.ok);
  let stamp = t("signature_no_timestamp");
  if (signature.timestamp_time_beijing) {
    const validity = t(signature.timestamp_valid ? "timestamp_valid" : "timestamp_invalid");
    stamp = t("signature_timestamp", { when: signature.timestamp_time_beijing, validity });
  }
  const facts = [signature.level ? t("signature_level", { level: signature.level }) : t("signature_no_level"), stamp];
  return h(
    "div",
    { class: "signature-check", dataset: { ok: String(ok), level: signature.level || "" } },
    h("strong", { class: `signature-verdict ${ok ? "ok-text" : "warn-text"}` }, t(ok ? "signature_valid" : "signature_invalid")),
    " ",
    h("span", { class: "signature-facts" }, facts.join(" · ")),
    signature.signer ? h("small", { class: "signature-signer muted" }, h("br"), t("signature_signer", { signer: signature.signer })) : null,
    signature.problems && signature.problems.length
      ? h("ul", { class: "signature-problems warn-text", role: "alert" }, signature.problems.map((p) => h("li", {}, problemText(p))))
      : null,
  );
}

function verifyButton(opinion) {
  const out = h("div", { class: "verify-out", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "secondary verify" }, t("verify"));
  button.addEventListener("click", async () => {
    try {
      button.disabled = true;
      const result = await fetch(`/verify/${encodeURIComponent(opinion.verification_code)}`, { headers: { Accept: "application/json" } });
      if (!result.ok) throw new Error(String(result.status));
      const v = await result.json();
      const text = v.current ? t("verify_current") : t("verify_superseded", { code: v.superseded_by || "-" });
      const hashOk = v.pdf_sha256 === opinion.pdf_sha256 && v.content_hash === opinion.content_hash;
      out.replaceChildren(
        h("span", { class: v.current && hashOk ? "ok-text" : "warn-text" }, text, " ", hashOk ? t("hash_matches") : t("hash_differs")),
        signatureView(v.signature),
        h("a", { href: `/verify/${encodeURIComponent(opinion.verification_code)}.html`, target: "_blank", rel: "noopener" }, t("verify_page")),
      );
    } catch {
      out.replaceChildren(h("span", { class: "warn-text", role: "alert" }, t("verify_failed")));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", {}, button, out);
}

function acknowledgeButton(opinion, cell) {
  if (opinion.acknowledged_at) return h("span", { class: "ok-text" }, t("acknowledged_at_time", { when: formatDateTime(opinion.acknowledged_at) }));
  const out = h("span", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "acknowledge" }, t("acknowledge"));
  button.addEventListener("click", async () => {
    const done = await busy(button, out, () => api(`/api/v1/opinions/${opinion.id}/acknowledge`, { method: "POST" }));
    if (done) cell.replaceChildren(h("span", { class: "ok-text" }, t("acknowledged_at_time", { when: formatDateTime(done.acknowledged_at) })));
  });
  return h("span", {}, button, " ", out);
}

function opinionRow(o) {
  const ackCell = h("td", { class: "ack" });
  ackCell.append(acknowledgeButton(o, ackCell));
  return h(
    "tr",
    { dataset: { opinionId: o.id, caseNumber: o.case_number } },
    h("td", {}, h("a", { href: `#/case/${o.case_id}` }, o.case_number), h("br"), h("small", { class: "muted" }, o.application_no)),
    h("td", {}, o.applicant),
    h("td", {}, o.matters.join("、")),
    h("td", {}, h("span", { class: `conclusion c-${o.conclusion}` }, t(`conclusion_${o.conclusion}`)), o.version > 1 ? ` (v${o.version})` : ""),
    h("td", {}, o.issued_at ? formatDateTime(o.issued_at) : "-"),
    h("td", {}, pdfButton(o.case_id, `open-pdf-${o.id}`), h("br"), verifyButton(o), h("br"), bundleButton(o.case_id, o.case_number, `export-bundle-${o.id}`)),
    ackCell,
  );
}

export async function renderWindowHome(root) {
  const out = h("div", { "aria-live": "polite" });
  root.append(h("h2", { class: "page-title" }, t("nav_opinions")), out);
  let opinions = [];
  try {
    opinions = await api("/api/v1/opinions");
  } catch (error) {
    banner(out, "error", errorText(error));
    return;
  }
  const head = ["case_number", "applicant", "matters", "conclusion", "issued_at", "documents", "receipt"];
  const table = opinions.length
    ? h(
        "div",
        { class: "table-wrap" },
        h("table", { id: "opinions" }, h("thead", {}, h("tr", {}, head.map((k) => h("th", { scope: "col" }, t(k))))), h("tbody", {}, opinions.map(opinionRow))),
      )
    : h("p", { class: "muted", id: "opinions" }, t("no_opinions"));
  root.append(section("issued_opinions", h("p", { class: "muted" }, t("window_hint")), table));
}

/** Today on the Beijing calendar (YYYY-MM-DD), whatever the desk's own zone. */
function beijingToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

function decisionView(d) {
  const pairs = [
    ["decision_outcome", h("strong", { class: d.outcome === "granted" ? "ok-text" : "warn-text" }, t(`outcome_${d.outcome}`))],
    ["decision_no", d.decision_no],
    ["decided_on", d.decided_on],
    ["decision_recorded_at", formatDateTime(d.recorded_at)],
  ];
  if (d.note) pairs.push(["decision_note", d.note]);
  return h("dl", { class: "facts", id: "decision", dataset: { outcome: d.outcome } }, pairs.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
}

function decisionForm(kase, body) {
  const today = beijingToday();
  const outcome = h(
    "select",
    { name: "outcome", id: "decision-outcome" },
    ["granted", "refused"].map((o) => h("option", { value: o }, t(`outcome_${o}`))),
  );
  const number = h("input", { name: "decision_no", id: "decision-no", maxlength: 64, "aria-required": "true", autocomplete: "off" });
  const day = h("input", { name: "decided_on", id: "decided-on", type: "date", value: today, max: today, required: true });
  const note = h("textarea", { name: "note", id: "decision-note", rows: 2, maxlength: 500 });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "record-decision" }, t("record_decision"));
  const form = h("form", { id: "decision-form" }, field("decision_outcome", outcome), field("decision_no", number), field("decided_on", day), field("decision_note", note), submit, out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!number.value.trim()) {
      banner(out, "error", t("decision_missing_no"));
      return;
    }
    const payload = { outcome: outcome.value, decision_no: number.value.trim(), decided_on: day.value, note: note.value.trim() };
    const done = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/decision`, { method: "POST", body: payload }));
    if (!done) return;
    const state = document.getElementById("case-state");
    if (state) state.replaceChildren(stateLabel(done.case_state));
    const ok = h("div", {});
    banner(ok, "ok", t("decision_recorded"));
    body.replaceChildren(ok, decisionView(done));
  });
  return form;
}

/** The licensing decision: a form on an issued case, the recorded decision on a closed one. */
async function decisionSection(kase) {
  const body = h("div", { id: "decision-body" });
  if (can(kase, "close")) {
    body.append(h("p", { class: "muted" }, t("decision_hint")), decisionForm(kase, body));
  } else if (kase.state === "closed") {
    try {
      body.append(decisionView(await api(`/api/v1/cases/${kase.id}/decision`)));
    } catch (error) {
      banner(body, "error", errorText(error));
    }
  } else {
    return null;
  }
  return section("decision_title", body);
}

export async function windowCaseSections(kase, ctx) {
  return [await opinionSection(kase, ctx), await decisionSection(kase)];
}
