// One case: its facts and SLA clock, then the sections the caller's role works with.
import { api, can } from "../shared/api.js";
import { dispatcherCaseSections } from "./dispatcher.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { inspectorCaseSections } from "./inspector.js";
import { matterLabel } from "./matters.js";
import { caseNoticesSection } from "./notices.js";
import { reviewerCaseSections } from "./review.js";
import { busy, field, h, section, stateLabel } from "./ui.js";
import { windowCaseSections } from "./window.js";

const SECTIONS = {
  dispatcher: dispatcherCaseSections,
  admin: dispatcherCaseSections,
  inspector: inspectorCaseSections,
  reviewer: reviewerCaseSections,
  window: windowCaseSections,
};

function onsiteSection(kase) {
  if (!can(kase, "switch_offline")) return null;
  const reason = h("textarea", { rows: 2, required: true, minlength: 2, maxlength: 500, name: "onsite-reason" });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "secondary", id: "switch-onsite" }, t("switch_onsite"));
  const form = h("form", { id: "switch-onsite-form" }, h("p", { class: "muted" }, t("switch_onsite_hint")), field("switch_onsite_reason", reason), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!window.confirm(t("confirm_switch_onsite"))) return;
    const body = { reason: reason.value.trim() };
    const done = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/switch-onsite`, { method: "POST", body }), t("switched_onsite"));
    if (done) window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  return h("details", { class: "card" }, h("summary", {}, t("switch_onsite")), form);
}

async function clockOf(caseId) {
  try {
    return await api(`/api/v1/cases/${caseId}/clock`);
  } catch {
    return null; // no clock yet (or not visible): the case facts still show
  }
}

function facts(kase, clock) {
  const pairs = [
    ["case_number", kase.number],
    ["state", h("span", { class: `state state-${kase.state}`, id: "case-state" }, stateLabel(kase.state))],
    ["application_no", kase.application_no],
    ["applicant", `${kase.applicant_name} · ${kase.applicant_phone}`],
    ["site_address", kase.site_address],
    ["matters", matterLabel(kase.matters)],
    ["mode", t(`mode_${kase.mode}`)],
    ["sla_class", t(`sla_${kase.sla_class}`)],
  ];
  if (clock) {
    pairs.push([
      "due_at",
      h(
        "span",
        { class: `clock card-${clock.card}`, id: "clock" },
        clock.due_at ? formatDateTime(clock.due_at) : t("clock_paused"),
        " · ",
        t(`card_${clock.card}`),
      ),
    ]);
  }
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
}

export async function renderCase(root, ctx, caseId) {
  const [kase, clock] = await Promise.all([api(`/api/v1/cases/${caseId}`), clockOf(caseId)]);
  root.append(
    h("p", {}, h("a", { href: "#/" }, `← ${t("back")}`)),
    h("h2", { class: "page-title", id: "case-title" }, `${t("case")} ${kase.number}`),
    section("case_facts", facts(kase, clock)),
  );
  const build = SECTIONS[ctx.me.role];
  if (build) {
    const parts = await build(kase, ctx);
    root.append(...parts.filter(Boolean));
  }
  const onsite = onsiteSection(kase);
  if (onsite) root.append(onsite);
  const notices = await caseNoticesSection(kase, ctx);
  if (notices) root.append(notices);
}
