// Dispatcher views: incoming cases and intake, the draw, replacement, applicant links, the board.
import { api, can } from "../shared/api.js";
import { caseList } from "./case-list.js";
import { loadMatters } from "./matters.js";
import { formatDateTime, pick, t } from "../shared/i18n.js";
import { busy, field, h, section, stateLabel } from "./ui.js";


/** staff id → inspector (display name, organisation, load). */
export async function inspectorIndex() {
  const pool = await api("/api/v1/inspectors");
  return new Map(pool.map((p) => [p.staff_id, p]));
}

const nameOf = (pool, id) => (pool.get(id) ? pool.get(id).display_name : id);

const EMAIL_ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/; // as server/cases/schemas.py ApplicantIn.email

/** Matter codes from what was typed or picked: catalogue names (or codes), comma separated. */
function matterCodes(text, matters) {
  const byName = new Map(matters.flatMap((m) => [[m.name, m.code], [m.name_en, m.code], [m.code, m.code]]));
  const parts = text.split(/[,，、;；]+/).map((part) => part.trim()).filter(Boolean);
  return parts.flatMap((part) => (byName.has(part) ? [byName.get(part)] : part.split(/\s+/)));
}

function intakeForm(matters) {
  const input = (name, attrs = {}) => h("input", { type: "text", name, ...attrs });
  const kind = h(
    "select",
    { name: "kind" },
    h("option", { value: "company" }, t("applicant_company")),
    h("option", { value: "person" }, t("applicant_person")),
  );
  const choose = (name, values) =>
    h("select", { name }, h("option", { value: "" }, t("by_matter_default")), values.map((v) => h("option", { value: v }, t(`${name}_${v}`))));
  const fields = {
    application_no: input("application_no", { required: true, pattern: "[A-Za-z0-9_.\\-/]{3,64}" }),
    name: input("applicant_name", { required: true }),
    phone: input("applicant_phone", { required: true, inputmode: "tel" }),
    email: input("applicant_email", { type: "email", autocomplete: "off", maxlength: 254 }),
    id_no: input("id_no"),
    address: input("address", { required: true }),
    matters: input("matters", { required: true, list: "matter-codes" }),
    mode: choose("mode", ["online_video", "offline_onsite", "rectification"]),
    sla_class: choose("sla", ["simple", "general", "reinspection", "complex"]),
  };
  // A mistyped address is stopped here, in words, before anything is sent.
  fields.email.addEventListener("input", () => {
    const value = fields.email.value.trim();
    fields.email.setCustomValidity(!value || EMAIL_ADDRESS.test(value) ? "" : t("email_hint"));
  });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "intake-submit" }, t("create_case"));
  const form = h(
    "form",
    { id: "intake-form", class: "grid-form" },
    field("application_no", fields.application_no),
    field("applicant_kind", kind),
    field("applicant_name", fields.name),
    field("applicant_phone", fields.phone),
    field("applicant_email", fields.email),
    field("id_no", fields.id_no),
    field("site_address", fields.address),
    field("matters", fields.matters, t("matters_hint")),
    h(
      "datalist",
      { id: "matter-codes" },
      matters.map((m) => h("option", { value: m.name, label: m.code })),
    ),
    field("mode", fields.mode),
    field("sla_class", fields.sla_class),
    h("div", { class: "wide" }, out, h("div", { class: "row" }, submit)),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      application_no: fields.application_no.value.trim(),
      applicant: { kind: kind.value, name: fields.name.value.trim(), phone: fields.phone.value.trim(), email: fields.email.value.trim(), id_no: fields.id_no.value.trim() },
      site: { address: fields.address.value.trim() },
      matters: matterCodes(fields.matters.value, matters),
    };
    if (fields.mode.value) body.mode = fields.mode.value;
    if (fields.sla_class.value) body.sla_class = fields.sla_class.value;
    const created = await busy(submit, out, () => api("/api/v1/cases", { method: "POST", body }));
    if (created) location.hash = `#/case/${created.id}`;
  });
  return form;
}

export async function renderDispatcherHome(root) {
  const matters = await loadMatters();
  const [incoming, all] = await Promise.all([
    caseList({ id: "incoming-list", fixed: { state: "received", sort: "created" }, filters: false, emptyKey: "no_incoming" }),
    caseList({ id: "all-cases", inspectors: true }),
  ]);
  root.append(
    h("h2", { class: "page-title" }, t("dispatcher_home")),
    section("incoming_cases", incoming),
    section("intake", intakeForm(matters)),
    section("all_cases", all),
  );
}

// --- one case: the draw, replacement, link, cancel ------------------------------------------------

function drawResult(draw, pool) {
  const person = (id) => nameOf(pool, id);
  const reason = pick(draw.reason_zh, draw.reason_en);
  return h(
    "div",
    { class: "draw-result", id: "draw-result" },
    draw.pair
      ? h("p", { class: "pair" }, h("strong", {}, t("drawn_pair")), " ", t("lead"), "：", person(draw.pair[0]), "；", t("second"), "：", person(draw.pair[1]))
      : h("div", { class: "banner warn", role: "alert" }, t("draw_failed")),
    h("p", { class: "draw-reason" }, h("strong", {}, t("draw_reason")), " ", reason),
    h("p", { class: "muted small" }, t("draw_seed"), " ", h("code", {}, draw.seed)),
    h("h3", {}, t("eligible"), ` (${draw.eligible.length})`),
    h(
      "ul",
      { class: "eligible" },
      draw.eligible.map((c) =>
        h("li", {}, `${person(c.inspector_id)} · ${c.organisation || "-"} · ${t("open_cases", { n: pool.get(c.inspector_id) ? pool.get(c.inspector_id).open_cases : "?" })} · ${t("weight", { w: Number(c.weight).toFixed(2) })}`),
      ),
    ),
    h("h3", {}, t("excluded"), ` (${draw.excluded.length})`),
    draw.excluded.length
      ? h(
          "ul",
          { class: "excluded" },
          draw.excluded.map((e) =>
            h("li", {}, `${person(e.inspector_id)} · ${e.reasons.map((r) => t(`exclusion_${r}`)).join("、")}${e.detail ? ` (${e.detail})` : ""}`),
          ),
        )
      : h("p", { class: "muted" }, t("none")),
  );
}

/** The case's pair on the page; after a draw, the state badge follows (received → assigned). */
function showAssigned(line, pool, pair, { badge = true } = {}) {
  line.classList.remove("muted");
  line.replaceChildren(t("lead"), "：", nameOf(pool, pair[0]), "；", t("second"), "：", nameOf(pool, pair[1] || "-"));
  const state = document.getElementById("case-state");
  if (badge && state) {
    state.className = "state state-assigned";
    state.textContent = stateLabel("assigned");
  }
}

function assignmentSection(kase, pool) {
  const out = h("div", { "aria-live": "polite" });
  const result = h("div");
  const drawButton = h("button", { type: "button", id: "draw" }, t(kase.inspector_ids.length ? "redraw" : "run_draw"));
  drawButton.addEventListener("click", async () => {
    const draw = await busy(drawButton, out, () => api(`/api/v1/cases/${kase.id}/draw`, { method: "POST" }));
    if (!draw) return;
    const fresh = await inspectorIndex();
    result.replaceChildren(drawResult(draw, fresh));
    if (draw.pair) showAssigned(current, fresh, draw.pair);
  });
  const history = h("details", {}, h("summary", {}, t("draw_history")));
  history.addEventListener("toggle", async () => {
    if (!history.open || history.dataset.loaded) return;
    history.dataset.loaded = "1";
    const draws = await api(`/api/v1/cases/${kase.id}/draws`);
    history.append(...draws.map((d) => drawResult(d, pool)));
    for (const el of history.querySelectorAll("#draw-result")) el.removeAttribute("id");
  });
  const current = h("p", { id: "current-pair", class: "muted" }, t("not_assigned"));
  if (kase.inspector_ids.length) showAssigned(current, pool, kase.inspector_ids, { badge: false });
  const drawRow = can(kase, "assign") ? h("div", { class: "row" }, drawButton) : null;
  return section("assignment", current, drawRow, out, result, history);
}

function replaceSection(kase, pool) {
  if (!can(kase, "replace_inspector")) return null;
  const leaving = h("select", { name: "leaving" }, kase.inspector_ids.map((id) => h("option", { value: id }, nameOf(pool, id))));
  const chosen = h(
    "select",
    { name: "chosen" },
    h("option", { value: "" }, t("draw_replacement")),
    [...pool.values()].filter((p) => p.active && !kase.inspector_ids.includes(p.staff_id)).map((p) => h("option", { value: p.staff_id }, `${p.display_name} · ${p.organisation}`)),
  );
  const reason = h("textarea", { name: "reason", rows: 2, required: true, minlength: 2 });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "replace-submit" }, t("replace"));
  const form = h("form", { id: "replace-form" }, field("leaving", leaving), field("replacement", chosen), field("replace_reason", reason), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { leaving: leaving.value, reason: reason.value.trim() };
    if (chosen.value) body.chosen = chosen.value;
    const done = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/replace-inspector`, { method: "POST", body }), (r) => r.message_zh || t("replaced"));
    if (done) setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 800);
  });
  return section("replace_inspector", form);
}

function linkSection(kase) {
  const out = h("div", { "aria-live": "polite", id: "link-out" });
  const button = h("button", { type: "button", id: "issue-link" }, t("issue_link"));
  const resend = h("button", { type: "button", id: "resend-link", class: "secondary" }, t("resend_link"));
  button.addEventListener("click", async () => {
    const link = await busy(button, out, () => api(`/api/v1/cases/${kase.id}/links`, { method: "POST" }));
    if (link) showLink(out, link, t("link_once"));
  });
  resend.addEventListener("click", async () => {
    if (!window.confirm(t("confirm_resend_link"))) return;
    const link = await busy(resend, out, () => api(`/api/v1/cases/${kase.id}/links/resend`, { method: "POST" }));
    if (link) showLink(out, link, t("link_resent"));
  });
  return section("applicant_link", h("p", { class: "muted" }, t("link_hint")), h("div", { class: "row" }, button, resend), out);
}

function showLink(out, link, banner) {
  const url = h("input", { type: "text", readonly: true, id: "link-url", value: link.url });
  const copy = h("button", { type: "button", class: "secondary" }, t("copy"));
  copy.addEventListener("click", async () => {
    url.select();
    try {
      await navigator.clipboard.writeText(link.url);
      copy.textContent = t("copied");
    } catch {
      copy.textContent = t("copy_manually");
    }
  });
  out.replaceChildren(h("div", { class: "banner warn" }, banner), field("applicant_link", url), h("div", { class: "row" }, copy));
}

function cancelSection(kase) {
  if (!can(kase, "cancel")) return null;
  const reason = h("textarea", { rows: 2, required: true, minlength: 2 });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "danger" }, t("cancel_case"));
  const form = h("form", {}, field("cancel_reason", reason), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!window.confirm(t("confirm_cancel"))) return;
    const done = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/cancel`, { method: "POST", body: { reason: reason.value.trim() } }), t("cancelled"));
    if (done) window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  return h("details", { class: "card" }, h("summary", {}, t("cancel_case")), form);
}

export async function dispatcherCaseSections(kase) {
  const pool = await inspectorIndex();
  return [assignmentSection(kase, pool), replaceSection(kase, pool), linkSection(kase), cancelSection(kase)];
}

// --- the supervision board -------------------------------------------------------------------------

function cardTotals(cards) {
  return h(
    "div",
    { class: "card-totals", id: "card-totals" },
    ["none", "yellow", "red"].map((c) => h("div", { class: `tally card-${c}`, dataset: { card: c } }, h("span", { class: "n" }, String(cards[c])), h("span", {}, t(`card_${c}`)))),
  );
}

function statesTable(states) {
  const rows = states.filter((s) => s.total > 0);
  if (!rows.length) return h("p", { class: "muted" }, t("no_cases"));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ["state", "total", "card_none", "card_yellow", "card_red"].map((k) => h("th", { scope: "col" }, t(k))))),
      h(
        "tbody",
        {},
        rows.map((s) =>
          h("tr", {}, h("th", { scope: "row" }, pick(s.label_zh, s.label_en)), h("td", {}, s.total), h("td", {}, s.none), h("td", { class: s.yellow ? "card-yellow" : null }, s.yellow), h("td", { class: s.red ? "card-red" : null }, s.red)),
        ),
      ),
    ),
  );
}

function specialList(special) {
  if (!special || !special.cases.length) return h("p", { class: "muted", id: "special-procedures" }, t("no_special_procedures"));
  const list = h(
    "ul",
    { class: "flagged" },
    special.cases.map((c) =>
      h("li", {}, h("a", { href: `#/case/${c.case_id}` }, c.case_number), ` · ${pick(c.kind_zh, c.kind_en)} · ${c.reason} · `, t("special_since", { when: formatDateTime(c.since) })),
    ),
  );
  return h("div", { id: "special-procedures", dataset: { total: special.total } }, h("p", { class: "muted" }, t("special_total", { n: special.total })), list);
}

export async function renderBoard(root) {
  root.append(h("h2", { class: "page-title" }, t("nav_board")));
  const board = await api("/api/v1/board");
  const overdue = board.overdue.length
    ? h(
        "ul",
        { id: "overdue", class: "flagged" },
        board.overdue.map((o) =>
          h("li", { class: "card-red" }, h("a", { href: `#/case/${o.case_id}` }, o.number), ` · ${pick(o.state_zh, o.state_en)} · `, t("overdue_by", { minutes: o.overdue_minutes }), o.paused ? ` · ${t("paused")}` : ""),
        ),
      )
    : h("p", { class: "muted", id: "overdue" }, t("no_overdue"));
  const unassigned = board.unassigned.length
    ? h(
        "ul",
        { id: "unassigned", class: "flagged" },
        board.unassigned.map((u) =>
          h("li", { class: u.draw_failed ? "card-yellow" : null }, h("a", { href: `#/case/${u.case_id}` }, u.number), ` · ${formatDateTime(u.created_at)} · `, pick(u.reason_zh, u.reason_en)),
        ),
      )
    : h("p", { class: "muted", id: "unassigned" }, t("no_unassigned"));
  root.append(
    h("p", { class: "muted" }, t("generated_at", { when: formatDateTime(board.generated_at) }), " · ", t("total_cases", { n: board.total_cases })),
    section("cards", cardTotals(board.cards)),
    section("overdue", overdue),
    section("special_procedures", specialList(board.special_procedures)),
    section("unassigned", unassigned),
    section("by_state", statesTable(board.states)),
  );
}
