// The case list in pages (GET /api/v1/cases/page): a search box, filters (state, matter by name,
// inspector, card, created days), sort, and paging; the server filters, counts and orders.
import { api } from "../shared/api.js";
import { addTexts, t } from "../shared/i18n.js";
import { caseTable } from "./case-table.js";
import { loadMatters } from "./matters.js";
import { errorText, h, stateLabel } from "./ui.js";

addTexts({
  list_search: ["搜索", "Search"],
  list_search_hint: ["案件编号、申请编号、申请人或地址", "Case number, application number, applicant or address"],
  list_state: ["状态", "State"],
  list_matter: ["事项", "Matter"],
  list_inspector: ["踏勘人员", "Inspector"],
  list_card: ["时限", "Time limit"],
  list_from: ["受理日期从", "Received from"],
  list_to: ["至", "to"],
  list_sort: ["排序", "Order"],
  list_any: ["全部", "All"],
  sort_created_desc: ["最新受理在前", "Newest first"],
  sort_created: ["最早受理在前", "Oldest first"],
  sort_due: ["办理时限最近在前", "Due soonest first"],
  list_apply: ["查询", "Search"],
  list_reset: ["清除条件", "Clear"],
  list_prev: ["上一页", "Previous"],
  list_next: ["下一页", "Next"],
  list_page_of: ["第 {page} / {pages} 页，共 {total} 件", "Page {page} of {pages}, {total} cases"],
  list_nothing: ["没有符合条件的案件。", "No case matches."],
  list_pager: ["翻页", "Pages"],
});

const STATES = [
  "received", "assigned", "scheduled", "rescheduling", "in_progress", "offline_pending",
  "rectification_requested", "rectification_submitted", "drafted", "awaiting_cosign",
  "under_review", "issued", "closed", "cancelled",
];
const CARDS = ["none", "yellow", "red"];
const SORTS = ["created_desc", "created", "due"];

function choice(name, options, labelOf) {
  return h(
    "select",
    { name },
    h("option", { value: "" }, t("list_any")),
    options.map((value) => h("option", { value }, labelOf(value))),
  );
}

function labelled(key, input) {
  const id = `${input.name}-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, t(key)), input);
}

async function inspectorOptions() {
  try {
    return await api("/api/v1/inspectors");
  } catch {
    return []; // a role that may not list inspectors: no such filter
  }
}

/** The filter form's inputs (matters by name from the catalogue, inspectors by name). */
async function filterInputs({ inspectors }) {
  const [matters, pool] = await Promise.all([loadMatters(), inspectors ? inspectorOptions() : []]);
  const names = new Map(matters.map((m) => [m.code, m.name]));
  const people = new Map(pool.map((p) => [p.staff_id, p.display_name]));
  const inputs = {
    q: h("input", { type: "search", name: "q", maxlength: 100, placeholder: t("list_search_hint") }),
    state: choice("state", STATES, stateLabel),
    matter: choice("matter", [...names.keys()], (code) => names.get(code)),
    card: choice("card", CARDS, (card) => t(`card_${card}`)),
    created_from: h("input", { type: "date", name: "created_from" }),
    created_to: h("input", { type: "date", name: "created_to" }),
    sort: h("select", { name: "sort" }, SORTS.map((s) => h("option", { value: s }, t(`sort_${s}`)))),
  };
  if (people.size) inputs.inspector = choice("inspector", [...people.keys()], (id) => people.get(id));
  return inputs;
}

function pager(body, page, onPage) {
  const pages = Math.max(1, Math.ceil(body.total / body.limit));
  const prev = h("button", { type: "button", class: "secondary", disabled: page <= 1 }, t("list_prev"));
  const next = h("button", { type: "button", class: "secondary", disabled: page >= pages }, t("list_next"));
  prev.addEventListener("click", () => onPage(page - 1));
  next.addEventListener("click", () => onPage(page + 1));
  return h(
    "nav",
    { class: "row pager", "aria-label": t("list_pager") },
    prev,
    h("span", { class: "page-of", "aria-live": "polite" }, t("list_page_of", { page, pages, total: body.total_capped ? `${body.total}+` : body.total })),
    next,
  );
}

/**
 * A paged, searchable case list. `fixed` are query parameters always sent (e.g. a state);
 * `filters: false` shows only the table and the pager; `inspectors` adds the inspector filter.
 */
export async function caseList({ id, fixed = {}, filters = true, inspectors = false, limit = 20, emptyKey = "list_nothing" } = {}) {
  const inputs = filters ? await filterInputs({ inspectors }) : {};
  const results = h("div", { class: "case-results", "aria-live": "polite" });
  const out = h("div");
  let page = 1;

  async function load() {
    const params = new URLSearchParams({ ...fixed, page: String(page), limit: String(limit) });
    for (const [name, input] of Object.entries(inputs)) {
      if (input.value.trim()) params.set(name, input.value.trim());
    }
    out.replaceChildren();
    try {
      const body = await api(`/api/v1/cases/page?${params}`);
      const table = caseTable(body.items, { emptyKey, due: true });
      const pages = body.total > body.limit || page > 1 ? pager(body, page, (p) => { page = p; load(); }) : null;
      results.replaceChildren(table, pages || "");
    } catch (error) {
      out.replaceChildren(h("div", { class: "banner error", role: "alert" }, errorText(error)));
    }
  }

  const parts = [];
  if (filters) {
    const reset = h("button", { type: "reset", class: "secondary" }, t("list_reset"));
    const form = h(
      "form",
      { class: "grid-form case-filters", role: "search" },
      h("div", { class: "field wide" }, h("label", { for: `${id}-q` }, t("list_search")), Object.assign(inputs.q, { id: `${id}-q` })),
      labelled("list_state", inputs.state),
      labelled("list_matter", inputs.matter),
      inputs.inspector ? labelled("list_inspector", inputs.inspector) : null,
      labelled("list_card", inputs.card),
      labelled("list_from", inputs.created_from),
      labelled("list_to", inputs.created_to),
      labelled("list_sort", inputs.sort),
      h("div", { class: "wide row" }, h("button", { type: "submit" }, t("list_apply")), reset),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      page = 1;
      load();
    });
    form.addEventListener("reset", () => setTimeout(() => { page = 1; load(); }));
    for (const name of ["state", "matter", "inspector", "card", "sort"]) {
      if (inputs[name]) inputs[name].addEventListener("change", () => { page = 1; load(); });
    }
    parts.push(form);
  }
  await load();
  return h("div", { id, class: "case-list" }, ...parts, out, results);
}
