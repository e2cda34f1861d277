// What the applicant sees around the case (GET /cases/{id}/progress): progress in words, the
// inspectors with their badge numbers, whom to call, the result after closure, and the
// complaint form (投诉). Its texts are the page's (applicant/texts.js).
import { api, ApiError } from "../shared/api.js";
import { applyI18n, formatTime, getLang, pick, t } from "../shared/i18n.js";

const $ = (id) => document.getElementById(id);
const ac = { caseId: null, view: null, onError: () => {} };

function line(text, className = "") {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function phoneLink(number) {
  const a = document.createElement("a");
  a.href = `tel:${number.replace(/[^0-9+]/g, "")}`;
  a.textContent = number;
  return a;
}

function labelled(key, number) {
  const p = document.createElement("p");
  p.append(`${t(key)}：`, phoneLink(number));
  return p;
}

function renderInspectors(view) {
  const list = $("progress-inspectors");
  list.replaceChildren(
    ...view.inspectors.map((i) => {
      const li = document.createElement("li");
      const role = t(i.position === "lead" ? "inspector_lead" : "inspector_second");
      li.append(`${role}：${i.name}`);
      if (i.badge_number) li.append(`（${t("badge_number")} ${i.badge_number}）`);
      return li;
    }),
  );
  $("progress-no-inspectors").hidden = view.inspectors.length > 0;
}

function renderResult(view) {
  const card = $("result-card");
  card.hidden = !view.result;
  if (!view.result) return;
  const r = view.result;
  $("result-outcome").textContent = pick(r.outcome_zh, r.outcome_en);
  $("result-number").textContent = t("result_number", { no: r.decision_no, on: r.decided_on });
}

function renderComplaints(view) {
  $("complaint-list").replaceChildren(
    ...view.complaints.map((c) => {
      const li = document.createElement("li");
      li.append(line(c.text), line(t("complaint_filed_at", { when: formatTime(c.created_at) }), "muted"));
      li.append(line(c.handled ? t("complaint_answer", { text: c.answer }) : t("complaint_pending"), c.handled ? "ok" : "muted"));
      return li;
    }),
  );
}

export function renderAftercare() {
  const view = ac.view;
  for (const id of ["progress-card", "complaint-card"]) $(id).hidden = !view;
  if (!view) return void ($("result-card").hidden = true);
  applyI18n($("progress-card"));
  applyI18n($("complaint-card"));
  applyI18n($("result-card"));
  $("progress-words").textContent = pick(view.progress_zh, view.progress_en);
  renderInspectors(view);
  $("progress-contacts").replaceChildren(
    labelled("contact_phone", view.contact_phone),
    labelled("consult_phone", view.bureau.consult_phone),
    labelled("complaint_phone", view.bureau.complaint_phone),
  );
  renderResult(view);
  renderComplaints(view);
}

export async function loadAftercare(caseId) {
  ac.caseId = caseId;
  ac.view = await api(`/api/v1/cases/${caseId}/progress`).catch((error) => {
    ac.onError(error);
    return null;
  });
  renderAftercare();
}

async function sendComplaint(event) {
  event.preventDefault();
  const text = $("complaint-text").value.trim();
  const button = $("complaint-send");
  button.disabled = true;
  try {
    await api(`/api/v1/cases/${ac.caseId}/complaints`, { method: "POST", body: { text } });
    $("complaint-text").value = "";
    $("complaint-message").textContent = t("complaint_sent");
    await loadAftercare(ac.caseId);
  } catch (error) {
    $("complaint-message").textContent = error instanceof ApiError ? error.text(getLang()) : t("rect_network");
  } finally {
    button.disabled = false;
  }
}

export function wireAftercare({ onError }) {
  ac.onError = onError;
  $("complaint-form").addEventListener("submit", sendComplaint);
}
