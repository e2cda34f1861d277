// Window staff: issued opinions, the signed PDF, its public verification, acknowledging receipt.
import { api } from "../shared/api.js";
import { formatDateTime, getLang, t } from "../shared/i18n.js";
import { bundleButton, opinionSection, pdfButton } from "./opinion.js";
import { banner, busy, errorText, h, section } from "./ui.js";

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
    h("td", {}, o.case_number, h("br"), h("small", { class: "muted" }, o.application_no)),
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

export async function windowCaseSections(kase, ctx) {
  return [await opinionSection(kase, ctx)];
}
