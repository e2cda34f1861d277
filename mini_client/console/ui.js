// Small DOM helpers shared by the console's views: element builder, banners, busy buttons.
import { getLang, t } from "../shared/i18n.js";

/** `h("button", {class: "x", onclick}, "text", child)`: text children are never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An error's message in the current language, with what the person can do about it. */
export function errorText(error) {
  if (error && typeof error.text === "function") {
    const message = error.text(getLang());
    if (error.status === 403) return `${message} ${t("hint_forbidden")}`;
    if (error.status === 404) return `${message} ${t("hint_not_found")}`;
    return message;
  }
  return t("unexpected_error");
}

export function banner(target, kind, text) {
  target.replaceChildren(h("div", { class: `banner ${kind}`, role: kind === "error" ? "alert" : "status" }, text));
}

/** Run `task` with the button disabled; show its error (or `done` text) in `out`. */
export async function busy(button, out, task, done) {
  button.disabled = true;
  if (out) out.replaceChildren();
  try {
    const result = await task();
    if (out && done) banner(out, "ok", typeof done === "function" ? done(result) : done);
    return result;
  } catch (error) {
    if (out) banner(out, "error", errorText(error));
    else throw error;
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function field(labelKey, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), input, hint ? h("small", { class: "muted" }, hint) : null);
}

export function section(titleKey, ...children) {
  const id = `h-${titleKey}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, t(titleKey)), ...children);
}

/** A state code (`under_review`) as words. */
export function stateLabel(state) {
  return t(`state_${state}`) === `state_${state}` ? state : t(`state_${state}`);
}
