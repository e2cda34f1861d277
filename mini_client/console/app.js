// Staff console: login, then a view per role (dispatcher, inspector, reviewer, window staff).
import "./texts.js"; // first: the console's texts are in the dictionary before any view loads
import { api, getToken, setToken, useTokenStore } from "../shared/api.js";
import { applyI18n, getLang, onLangChange, setLang, t } from "../shared/i18n.js";
import { banner, busy, errorText, field, h } from "./ui.js";
import { renderBoard, renderDispatcherHome } from "./dispatcher.js";
import { renderFollowUps } from "./followups.js";
import { renderInspectorHome } from "./inspector.js";
import { renderCase } from "./case.js";
import { renderNotices } from "./notices.js";
import { loadMatters } from "./matters.js";
import { renderOrders } from "./orders.js";
import { renderReviewerHome } from "./review.js";
import { renderWindowHome } from "./window.js";

const NOTICES = ["#/notices", "nav_notices"];
const NAV = {
  dispatcher: [["#/", "nav_cases"], ["#/board", "nav_board"], ["#/orders", "nav_orders"], ["#/follow-ups", "nav_follow_ups"], NOTICES],
  admin: [["#/", "nav_cases"], ["#/board", "nav_board"], ["#/orders", "nav_orders"], ["#/follow-ups", "nav_follow_ups"], NOTICES],
  head: [["#/", "nav_orders"], NOTICES],
  inspector: [["#/", "nav_my_cases"], ["#/orders", "nav_orders"], NOTICES],
  reviewer: [["#/", "nav_review"], ["#/board", "nav_board"], NOTICES],
  window: [["#/", "nav_opinions"], NOTICES],
};

const HOME = {
  dispatcher: renderDispatcherHome,
  admin: renderDispatcherHome,
  head: renderOrders,
  inspector: renderInspectorHome,
  reviewer: renderReviewerHome,
  window: renderWindowHome,
};

// The staff token lives in sessionStorage: one tab, one login. (No module reads it before this
// runs: they all ask for it only once a request is made.)
useTokenStore("ci.console.token", sessionStorage);

const view = document.getElementById("view");
const bannerBox = document.getElementById("banner");
let me = null;
let cleanup = null;

function renderNav() {
  const nav = document.getElementById("nav");
  const links = me ? NAV[me.role] || [] : [];
  const here = location.hash || "#/";
  nav.replaceChildren(
    ...links.map(([href, key]) =>
      h("a", { href, "aria-current": here === href ? "page" : null }, t(key)),
    ),
  );
  document.getElementById("who").textContent = me
    ? `${me.display_name || ""} · ${t(`role_${me.role}`)}`
    : "";
  document.getElementById("logout").hidden = !me;
}

function loginView() {
  const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const out = h("div", { id: "login-message", "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "login-submit" }, t("login"));
  const form = h(
    "form",
    { id: "login-form", class: "card narrow", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, t("login_title")),
    field("username", username),
    field("password", password),
    out,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await busy(submit, out, () =>
      api("/api/v1/auth/login", {
        method: "POST",
        body: { username: username.value.trim(), password: password.value },
      }),
    );
    if (!result) return;
    setToken(result.token);
    await start();
  });
  view.replaceChildren(form);
  username.focus();
}

function route() {
  const hash = location.hash || "#/";
  const match = hash.match(/^#\/case\/([\w-]+)/);
  if (match) return (root, ctx) => renderCase(root, ctx, match[1]);
  if (hash.startsWith("#/board")) return renderBoard;
  if (hash.startsWith("#/notices")) return renderNotices;
  if (hash.startsWith("#/orders")) return renderOrders;
  if (hash.startsWith("#/follow-ups")) return renderFollowUps;
  return HOME[me.role] || ((root) => root.replaceChildren(h("p", {}, t("no_view_for_role"))));
}

// Renders overlap (a hash change while the previous view still loads): only the newest may
// show its view, and a stale one ends what it started instead of replacing a newer page.
let rendering = 0;

async function render() {
  const mine = ++rendering;
  if (cleanup) cleanup();
  cleanup = null;
  bannerBox.replaceChildren();
  renderNav();
  if (!me) {
    loginView();
    return;
  }
  view.replaceChildren(h("p", { class: "muted" }, t("loading")));
  await loadMatters();
  const root = h("div", { class: "page" });
  let ending = null;
  const onCleanup = (fn) => (ending = fn);
  try {
    const result = await route()(root, { me, onCleanup });
    if (typeof result === "function") ending = result;
    if (mine !== rendering) return ending && ending();
    cleanup = ending;
    view.replaceChildren(root);
  } catch (error) {
    if (mine !== rendering) return ending && ending();
    cleanup = ending;
    view.replaceChildren(root);
    banner(bannerBox, "error", errorText(error));
  }
}

async function start() {
  me = null;
  if (getToken()) {
    try {
      me = await api("/api/v1/auth/me");
      if (me.kind !== "staff") throw new Error("not staff");
      sessionStorage.setItem("console.me", JSON.stringify(me));
    } catch (err) {
      // Without a network the login may still be good: keep it (and the offline queue's
      // owner) and carry on with the last known identity; only a refusal logs out.
      const cached = sessionStorage.getItem("console.me");
      if (err && err.status === 0 && cached) {
        me = JSON.parse(cached);
      } else {
        setToken(null);
        sessionStorage.removeItem("console.me");
        me = null;
      }
    }
  }
  await render();
}

document.getElementById("lang-toggle").addEventListener("click", () => setLang(getLang() === "en" ? "zh" : "en"));
document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("/api/v1/auth/logout", { method: "POST" });
  } catch {
    // The token is forgotten here either way.
  }
  setToken(null);
  location.hash = "#/";
  await start();
});
window.addEventListener("ci:logged-out", () => {
  setToken(null);
  me = null;
  render().then(() => banner(bannerBox, "warn", t("session_expired")));
});
window.addEventListener("hashchange", render);
onLangChange(render); // setLang has filled the page's fixed texts
applyI18n();
start();
