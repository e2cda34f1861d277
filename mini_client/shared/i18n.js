// The one i18n module: user-facing text in zh-CN (default) with the English alternative, the
// language choice (kept in localStorage), and times shown in Asia/Shanghai. Each page's own
// texts (applicant/texts.js, console/texts.js) are merged into this one dictionary; every
// lookup goes through `t`.
const LANG_KEY = "ci.lang";

// Texts both pages use alike; a page's own texts may word a key differently for that page.
const TEXTS = {
  switch_lang: ["English", "中文"],
  loading: ["正在加载…", "Loading…"],
  case_number: ["案件编号", "Case number"],
  call_connecting: ["正在连接…", "Connecting…"],
  mute: ["静音", "Mute"],
  unmute: ["取消静音", "Unmute"],
  // photo quality flagged at capture (shared/quality.js)
  quality_flagged: ["照片质量提示：", "Photo quality: "],
  quality_keep: ["保留这张", "Keep this photo"],
  quality_retake: ["重拍", "Retake"],
  quality_keep_done: ["已决定保留", "kept as it is"],
  quality_retake_done: ["已决定重拍", "set aside for a retake"],
  quality_network: ["网络异常，决定未保存，请重试。", "Network problem: the choice was not saved; try again."],
};

/** Merge a page's texts (`key: [zh, en]`) into the dictionary; a page's wording wins. */
export function addTexts(texts) {
  Object.assign(TEXTS, texts);
}

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
const listeners = new Set();

export const getLang = () => lang;

/** Of a zh/en pair the server sent, the one in the current language (else the other). */
export const pick = (zh, en) => (lang === "en" ? en || zh : zh || en);

export function t(key, params = {}) {
  const entry = TEXTS[key];
  if (!entry) return key;
  const text = entry[lang === "en" ? 1 : 0];
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ""));
}

/** `root` itself (when it matches) and every element below it that matches `selector`. */
function matching(root, selector) {
  const below = [...root.querySelectorAll(selector)];
  return root.matches && root.matches(selector) ? [root, ...below] : below;
}

/**
 * Fill [data-i18n] texts (the page's <title> too, when it has one), [data-i18n-label]
 * aria-labels and [data-i18n-placeholder] placeholders from `root` down.
 */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of matching(root, "[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of matching(root, "[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
  for (const el of matching(root, "[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem(LANG_KEY, lang);
  applyI18n();
  for (const listener of listeners) listener(lang);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

const locale = () => (lang === "en" ? "en-GB" : "zh-CN");

/** A time in Asia/Shanghai, whatever the phone's own time zone (weekday, no year). */
export function formatTime(iso) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: "Asia/Shanghai",
    month: "short",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(new Date(iso));
}

/** A date and time in Asia/Shanghai with the year, whatever the PC's own time zone. */
export function formatDateTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(new Date(iso));
}
