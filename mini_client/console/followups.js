// Supervisors (dispatcher, admin): the phone follow-up of closed cases (一事一评电话回访) and the
// follow-ups of bad ratings, complaints and dissatisfied calls, answered (整改反馈) then closed.
import { api } from "../shared/api.js";
import { formatDateTime, pick, t } from "../shared/i18n.js";
import { busy, field, h, section } from "./ui.js";

function radios(name, options) {
  return h(
    "fieldset",
    { class: "radios" },
    options.map(([value, key]) => h("label", {}, h("input", { type: "radio", name, value }), " ", t(key))),
  );
}

function chosen(form, name) {
  const input = form.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

/** The form recording one call's outcome; `done` reloads the page's lists. */
function callForm(row, done) {
  const words = h("textarea", { rows: 2, maxlength: 2000 });
  const out = h("div", { "aria-live": "polite" });
  const send = h("button", { type: "submit" }, t("call_record"));
  const form = h(
    "form",
    { class: "call-form", dataset: { caseId: row.case_id } },
    radios(`reached-${row.case_id}`, [["yes", "call_reached"], ["no", "call_not_reached"]]),
    radios(`satisfied-${row.case_id}`, [["yes", "call_satisfied"], ["no", "call_dissatisfied"]]),
    field("call_words", words),
    out,
    h("div", { class: "row" }, send),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reached = chosen(form, `reached-${row.case_id}`);
    const satisfied = chosen(form, `satisfied-${row.case_id}`);
    const body = { reached: reached === "yes", words: words.value.trim() };
    if (reached === "yes" && satisfied) body.satisfied = satisfied === "yes";
    const result = await busy(send, out, () =>
      api(`/api/v1/cases/${row.case_id}/phone-follow-up`, { method: "POST", body }),
    );
    if (result) await done();
  });
  return form;
}

function lastCall(call) {
  if (!call) return "";
  const how = call.reached ? t(call.satisfied ? "call_satisfied" : "call_dissatisfied") : t("call_not_reached");
  return `${formatDateTime(call.called_at)} · ${how}${call.words ? ` · ${call.words}` : ""}`;
}

function phoneTable(list, done) {
  if (!list.cases.length) return h("p", { class: "muted" }, t("phone_none"));
  const head = ["case_number", "applicant", "phone_number", "closed_at", "result", "call_status", "call_last", "call_outcome"];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "cases phone-follow-ups" },
      h("thead", {}, h("tr", {}, head.map((k) => h("th", { scope: "col" }, t(k))))),
      h(
        "tbody",
        {},
        list.cases.map((row) =>
          h(
            "tr",
            { dataset: { caseId: row.case_id, status: row.status } },
            h("td", {}, h("a", { href: `#/case/${row.case_id}` }, row.case_number)),
            h("td", {}, row.applicant_name),
            h("td", {}, h("a", { href: `tel:${row.applicant_phone}` }, row.applicant_phone)),
            h("td", {}, formatDateTime(row.closed_at_local)),
            h("td", {}, pick(row.outcome_zh, row.outcome_en)),
            h("td", { class: "call-status" }, pick(row.status_zh, row.status_en)),
            h("td", {}, lastCall(row.last_call)),
            h("td", {}, row.status === "done" ? "" : callForm(row, done)),
          ),
        ),
      ),
    ),
  );
}

function answerForm(f, done) {
  const answer = h("textarea", { rows: 2, maxlength: 2000 }, f.answer);
  const by = h("input", { type: "text", maxlength: 100, value: f.answered_by });
  const out = h("div", { "aria-live": "polite" });
  const send = h("button", { type: "submit" }, t("follow_up_answer_send"));
  const form = h("form", { class: "answer-form" }, field("follow_up_answer", answer), field("follow_up_answered_by", by), out, h("div", { class: "row" }, send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { answer: answer.value.trim(), answered_by: by.value.trim() };
    if (await busy(send, out, () => api(`/api/v1/follow-ups/${f.id}/answer`, { method: "POST", body }))) await done();
  });
  return form;
}

function closeForm(f, done) {
  const note = h("textarea", { rows: 2, maxlength: 2000 });
  const out = h("div", { "aria-live": "polite" });
  const send = h("button", { type: "submit", class: "secondary" }, t("follow_up_close"));
  const form = h("form", { class: "close-form" }, field("follow_up_note", note), out, h("div", { class: "row" }, send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { note: note.value.trim() };
    if (await busy(send, out, () => api(`/api/v1/follow-ups/${f.id}/close`, { method: "POST", body }))) await done();
  });
  return form;
}

function followUpCard(f, done) {
  const what = [pick(f.source_zh, f.source_en)];
  if (f.score) what.push(t("follow_up_score", { score: f.score }));
  if (f.reasons.length) what.push(f.reasons.map((r) => pick(r.zh, r.en)).join("、"));
  const open = f.status === "open";
  return h(
    "article",
    { class: "card follow-up", dataset: { followUpId: f.id, status: f.status } },
    h("h3", {}, h("a", { href: `#/case/${f.case_id}` }, f.case_number), " · ", what.join(" · ")),
    f.comment ? h("blockquote", {}, f.comment) : null,
    h("p", { class: "muted" }, t("follow_up_opened", { when: formatDateTime(f.opened_at) })),
    f.answered ? h("p", { class: "ok-text answer" }, t("follow_up_answered", { text: f.answer, by: f.answered_by })) : null,
    open ? answerForm(f, done) : null,
    open && f.answered ? closeForm(f, done) : null,
    open && !f.answered ? h("p", { class: "muted" }, t("follow_up_answer_first")) : null,
    open ? null : h("p", { class: "muted" }, t("follow_up_closed", { when: formatDateTime(f.closed_at), note: f.note })),
  );
}

export async function renderFollowUps(root) {
  const status = h(
    "select",
    { id: "phone-status" },
    [["", "phone_all"], ["to_call", "phone_to_call"], ["not_reached", "phone_not_reached"], ["done", "phone_done"]].map(
      ([value, key]) => h("option", { value }, t(key)),
    ),
  );
  const showClosed = h("input", { type: "checkbox", id: "show-closed" });
  const phoneBox = h("div", { id: "phone-list" });
  const followBox = h("div", { id: "follow-up-list" });
  const load = async () => {
    const query = status.value ? `?status=${status.value}` : "";
    const [phones, follows] = await Promise.all([
      api(`/api/v1/phone-follow-ups${query}`),
      api(`/api/v1/follow-ups${showClosed.checked ? "" : "?status=open"}`),
    ]);
    phoneBox.replaceChildren(
      h("p", { class: "muted" }, t("phone_share", { pct: Math.round(phones.share * 100), total: phones.total })),
      phoneTable(phones, load),
    );
    followBox.replaceChildren(
      ...(follows.length ? follows.map((f) => followUpCard(f, load)) : [h("p", { class: "muted" }, t("follow_up_none"))]),
    );
  };
  status.addEventListener("change", load);
  showClosed.addEventListener("change", load);
  await load();
  root.replaceChildren(
    section("phone_title", field("call_status", status), phoneBox),
    section("follow_up_title", h("label", {}, showClosed, " ", t("follow_up_show_closed")), followBox),
  );
}
