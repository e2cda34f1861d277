// Notices: the caller's in-app messages (GET /api/v1/feed), and on a case page the delivery
// record of every message on every channel (GET /api/v1/cases/{id}/notifications), each with
// its state in words: 已排队 / 已发送 / 发送失败：原因 / 仅站内.
import { api } from "../shared/api.js";
import { formatDateTime, getLang, t } from "../shared/i18n.js";
import { h, section } from "./ui.js";

const OPERATORS = new Set(["dispatcher", "admin"]);

const inLang = (row, field) => (getLang() === "en" ? row[`${field}_en`] : row[`${field}_zh`]);

function table(head, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "notices" },
      h("thead", {}, h("tr", {}, head.map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, rows),
    ),
  );
}

/** The "消息 / Notices" page: newest first, each linking to its case. */
export async function renderNotices(root) {
  const items = await api("/api/v1/feed");
  const rows = items.map((item) =>
    h(
      "tr",
      { dataset: { template: item.template } },
      h("td", {}, formatDateTime(item.created_at)),
      h("td", {}, inLang(item, "text")),
      h("td", {}, item.case_id ? h("a", { href: `#/case/${item.case_id}` }, t("notice_open_case")) : ""),
    ),
  );
  root.append(
    h("h2", { class: "page-title" }, t("nav_notices")),
    items.length
      ? table(["notice_time", "notice_text", "case"], rows)
      : h("p", { class: "muted", id: "no-notices" }, t("no_notices")),
  );
}

function stateCell(row) {
  return h("span", { class: `delivery delivery-${row.state}`, dataset: { state: row.state } }, inLang(row, "state"));
}

/** The case page's "通知发送记录" section; operators only (the endpoint says the same). */
export async function caseNoticesSection(kase, ctx) {
  if (!OPERATORS.has(ctx.me.role)) return null;
  const rows = await api(`/api/v1/cases/${kase.id}/notifications`);
  const body = rows.length
    ? table(
        ["notice_time", "notice_recipient", "notice_channel", "notice_text", "notice_state"],
        rows.map((row) =>
          h(
            "tr",
            { dataset: { channel: row.channel, template: row.template } },
            h("td", {}, formatDateTime(row.created_at)),
            h("td", {}, t(`audience_${row.audience}`), row.audience === "role" ? ` · ${t(`role_${row.recipient}`)}` : ""),
            h("td", {}, inLang(row, "channel")),
            h("td", {}, inLang(row, "text")),
            h("td", {}, stateCell(row)),
          ),
        ),
      )
    : h("p", { class: "muted" }, t("no_notices"));
  return section("case_notices", body);
}
