// Withdrawing the application (撤回申请) before the opinion is issued: open the form, give a
// reason, confirm. Its texts are the page's (applicant/texts.js).
import { api, can } from "../shared/api.js";
import { t } from "../shared/i18n.js";

const MIN_REASON = 2;

const $ = (id) => document.getElementById(id);
const ws = { caseId: null, onError: () => {}, onChanged: async () => {} };

function setOpen(open) {
  $("withdraw-form").hidden = !open;
  $("withdraw-open").hidden = open;
  if (open) $("withdraw-reason").focus();
}

async function submitWithdraw(event) {
  event.preventDefault();
  const reason = $("withdraw-reason").value.trim();
  const message = $("withdraw-message");
  if (reason.length < MIN_REASON) {
    message.textContent = t("withdraw_need_reason");
    return;
  }
  const button = $("withdraw-confirm");
  button.disabled = true;
  try {
    await api(`/api/v1/cases/${ws.caseId}/withdraw`, { method: "POST", body: { reason } });
    setOpen(false);
    message.textContent = t("withdraw_done");
    await ws.onChanged();
  } catch (error) {
    ws.onError(error);
  } finally {
    button.disabled = false;
  }
}

/** Once, at start: ``onError`` shows a refusal, ``onChanged`` reloads the case. */
export function wireWithdraw({ onError, onChanged }) {
  ws.onError = onError;
  ws.onChanged = onChanged;
  $("withdraw-open").addEventListener("click", () => setOpen(true));
  $("withdraw-back").addEventListener("click", () => setOpen(false));
  $("withdraw-form").addEventListener("submit", submitWithdraw);
}

/** Show the card only while the case can still be withdrawn. */
export function renderWithdraw(kase) {
  ws.caseId = kase.id;
  const open = can(kase, "withdraw"); // the API lists it while the case can still be withdrawn
  $("withdraw-card").hidden = !open;
  if (!open) $("withdraw-form").hidden = true;
}
