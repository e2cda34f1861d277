// The table of cases every role's home page lists (dispatcher, inspector, reviewer).
import { formatDateTime, t } from "../shared/i18n.js";
import { matterLabel } from "./matters.js";
import { h, stateLabel } from "./ui.js";

/** The running time limit of a listed case (paged list rows carry `due_at` and `card`). */
function dueCell(c) {
  const card = c.card && c.card !== "none" ? h("span", { class: `card-flag card-${c.card}` }, t(`card_${c.card}`)) : null;
  return h("td", {}, formatDateTime(c.due_at) || "—", card ? " " : null, card);
}

/** Cases as a table, each number a link to the case; `emptyKey` says there are none;
 * `due` adds the time-limit column. */
export function caseTable(cases, { emptyKey = "no_cases", due = false } = {}) {
  if (!cases.length) return h("p", { class: "muted" }, t(emptyKey));
  const head = ["case_number", "application_no", "applicant", "matters", "state", "created_at", ...(due ? ["due_at"] : [])];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "cases" },
      h("thead", {}, h("tr", {}, head.map((k) => h("th", { scope: "col" }, t(k))))),
      h(
        "tbody",
        {},
        cases.map((c) =>
          h(
            "tr",
            { dataset: { caseId: c.id, state: c.state }, class: c.state === "received" ? "incoming" : null },
            h("td", {}, h("a", { href: `#/case/${c.id}` }, c.number)),
            h("td", {}, c.application_no),
            h("td", {}, c.applicant_name),
            h("td", {}, matterLabel(c.matters)),
            h("td", {}, h("span", { class: `state state-${c.state}` }, stateLabel(c.state))),
            h("td", {}, formatDateTime(c.created_at)),
            due ? dueCell(c) : null,
          ),
        ),
      ),
    ),
  );
}
