// Supervision orders (督办单): the department head answers them, the lead inspector records why
// the case ran over; the head (or an admin) also decides on special procedures (特别程序) named to
// them. Dispatchers see the orders without forms.
import { api } from "../shared/api.js";
import { formatDateTime, pick, t } from "../shared/i18n.js";
import { busy, field, h, section } from "./ui.js";

const ANSWERING = ["head", "admin"];
const ENDING = ["head", "admin", "dispatcher"];

function reload() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

function facts(order) {
  return h(
    "p",
    { class: "muted" },
    t("order_due", { when: order.due_at ? formatDateTime(order.due_at) : "-" }),
    " · ",
    t("order_opened", { when: formatDateTime(order.opened_at) }),
    " · ",
    t("order_responsible", { name: order.responsible_name || "-" }),
    order.level ? h("strong", { class: "warn-text" }, " · ", t("order_level", { level: order.level })) : null,
  );
}

function reasonForm(order) {
  const reason = h("textarea", { rows: 3, required: true, maxlength: 2000, name: "reason" });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, t("order_save_reason"));
  const form = h("form", { class: "order-reason" }, field("order_reason", reason), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { reason: reason.value.trim() };
    const done = await busy(submit, out, () => api(`/api/v1/supervision-orders/${order.id}/reason`, { method: "POST", body }));
    if (done) reload();
  });
  return form;
}

function answerForm(order) {
  const measures = h("textarea", { rows: 3, required: true, maxlength: 2000, name: "measures" });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, t("order_answer"));
  const form = h("form", { class: "order-answer" }, field("order_measures", measures), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { measures: measures.value.trim() };
    const done = await busy(submit, out, () => api(`/api/v1/supervision-orders/${order.id}/answer`, { method: "POST", body }));
    if (done) reload();
  });
  return form;
}

function orderCard(order, me) {
  const open = order.status === "open";
  const reason = order.overdue_reason
    ? h("p", { class: "order-reason-text" }, h("strong", {}, t("order_reason"), "："), order.overdue_reason)
    : h("p", { class: "muted" }, t("order_no_reason"));
  const answer = order.answer ? h("p", {}, h("strong", {}, t("order_measures"), "："), order.answer, " · ", formatDateTime(order.answered_at)) : null;
  let form = null;
  if (open && me.role === "inspector" && !order.overdue_reason) form = reasonForm(order);
  else if (open && ANSWERING.includes(me.role)) form = answerForm(order);
  return h(
    "li",
    { class: `card order ${open ? "card-red" : ""}`, dataset: { orderId: order.id, status: order.status } },
    h("h3", {}, h("a", { href: `#/case/${order.case_id}` }, order.case_number), " · ", pick(order.status_zh, order.status_en)),
    facts(order),
    reason,
    answer,
    form,
  );
}

function orderList(orders, me, emptyKey) {
  if (!orders.length) return h("p", { class: "muted" }, t(emptyKey));
  return h("ul", { class: "orders" }, orders.map((o) => orderCard(o, me)));
}

function decideButtons(procedure) {
  const out = h("span", { "aria-live": "polite" });
  const decide = (verb, cls) => {
    const button = h("button", { type: "button", class: cls }, t(`procedure_${verb}`));
    button.addEventListener("click", async () => {
      const done = await busy(button, out, () => api(`/api/v1/special-procedures/${procedure.id}/${verb}`, { method: "POST", body: {} }));
      if (done) reload();
    });
    return button;
  };
  return h("div", { class: "row" }, decide("approve", null), decide("decline", "secondary"), out);
}

async function approvals(me) {
  if (!ANSWERING.includes(me.role)) return null;
  const asked = (await api("/api/v1/special-procedures?status=requested")).filter((p) => p.approver_id === me.id);
  const body = asked.length
    ? h(
        "ul",
        { id: "procedure-approvals" },
        asked.map((p) =>
          h(
            "li",
            { dataset: { procedureId: p.id } },
            h("a", { href: `#/case/${p.case_id}` }, p.case_number),
            ` · ${pick(p.kind_zh, p.kind_en)} · ${p.reason}`,
            decideButtons(p),
          ),
        ),
      )
    : h("p", { class: "muted", id: "procedure-approvals" }, t("no_procedure_approvals"));
  return section("procedure_approvals", h("p", { class: "muted" }, t("procedure_hint")), body);
}

function endButton(procedure) {
  const out = h("span", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "secondary" }, t("procedure_end"));
  button.addEventListener("click", async () => {
    if (!window.confirm(t("confirm_procedure_end"))) return;
    const done = await busy(button, out, () => api(`/api/v1/special-procedures/${procedure.id}/end`, { method: "POST", body: {} }));
    if (done) reload();
  });
  return h("div", { class: "row" }, button, out);
}

async function running(me) {
  if (!ENDING.includes(me.role)) return null;
  const active = await api("/api/v1/special-procedures?status=active");
  const body = active.length
    ? h(
        "ul",
        { id: "procedures-running" },
        active.map((p) =>
          h(
            "li",
            { dataset: { procedureId: p.id } },
            h("a", { href: `#/case/${p.case_id}` }, p.case_number),
            ` · ${pick(p.kind_zh, p.kind_en)} · ${p.reason} · `,
            t("special_since", { when: formatDateTime(p.started_at) }),
            endButton(p),
          ),
        ),
      )
    : h("p", { class: "muted", id: "procedures-running" }, t("no_special_procedures"));
  return section("special_procedures", body);
}

export async function renderOrders(root, { me }) {
  const orders = await api("/api/v1/supervision-orders");
  const open = orders.filter((o) => o.status === "open");
  const closed = orders.filter((o) => o.status !== "open").reverse();
  root.append(
    h("h2", { class: "page-title" }, t("nav_orders")),
    h("p", { class: "muted" }, t(me.role === "inspector" ? "orders_hint_inspector" : "orders_hint")),
    section("orders_open", orderList(open, me, "no_open_orders")),
  );
  const [decisions, procedures] = await Promise.all([approvals(me), running(me)]);
  if (decisions) root.append(decisions);
  if (procedures) root.append(procedures);
  root.append(section("orders_closed", orderList(closed, me, "no_closed_orders")));
}
