// Photo quality flagged at capture (blurred, too dark, overexposed; measured by the server) and
// the taker's choice to keep the photo or retake it. One component for the phone and the
// console: the reason in the server's words, and the choice recorded beside the photo (the
// photo itself never changes).
import { api, ApiError } from "./api.js";
import { getLang, pick, t } from "./i18n.js";

/** The flag's reasons in the current language, or "" when the photo was not flagged. */
export function qualityReason(evidence) {
  const quality = evidence && evidence.quality;
  if (!quality || !quality.flagged) return "";
  return quality.issues.map((i) => pick(i.message_zh, i.message_en)).join("；");
}

/** A short note for lists: the reason, and what was decided if anything. */
export function qualityNote(evidence) {
  const reason = qualityReason(evidence);
  if (!reason) return "";
  const decision = evidence.quality.decision;
  return decision ? `${reason}（${t(`quality_${decision.decision}_done`)}）` : reason;
}

const node = (tag, className, text) => {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text) el.textContent = text;
  return el;
};

/**
 * The flag with "keep" and "retake" buttons; `onRetake()` runs once a retake is recorded (take
 * or choose another photo). Null when the photo was not flagged.
 */
export function qualityPrompt(caseId, evidence, { onRetake = () => {} } = {}) {
  const reason = qualityReason(evidence);
  if (!reason) return null;
  const box = node("div", "banner warn quality-flag");
  box.setAttribute("role", "status");
  box.dataset.evidence = evidence.id;
  box.append(node("p", "quality-reason", `${t("quality_flagged")}${reason}`));
  const out = node("p", "quality-out small");
  const decided = (decision) => {
    box.dataset.decision = decision;
    buttons.remove();
    out.textContent = t(`quality_${decision}_done`);
  };
  const buttons = node("div", "row");
  for (const decision of ["keep", "retake"]) {
    const button = node("button", decision === "keep" ? "secondary quality-keep" : "quality-retake", t(`quality_${decision}`));
    button.type = "button";
    button.addEventListener("click", async () => {
      for (const b of buttons.children) b.disabled = true;
      try {
        await api(`/api/v1/cases/${caseId}/evidence/${evidence.id}/quality-decision`, { method: "POST", body: { decision } });
        decided(decision);
        if (decision === "retake") onRetake();
      } catch (error) {
        out.textContent = error instanceof ApiError ? error.text(getLang()) : t("quality_network");
        for (const b of buttons.children) b.disabled = false;
      }
    });
    buttons.append(button);
  }
  box.append(buttons, out);
  if (evidence.quality.decision) decided(evidence.quality.decision.decision);
  return box;
}
