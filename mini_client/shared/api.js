// The one API client for every page: bearer token, problem+json → ApiError (the server's
// zh/en `detail` a person can act on), GET retries with backoff, and, for the console's offline
// mode, a keeper of GET answers. Each page says once where its token lives (`useTokenStore`).
const APPLICANT_TOKEN_KEY = "ci.applicant.token";

export class ApiError extends Error {
  constructor({ status = 0, code = "network", reason = "", zh, en }) {
    super(en || zh || "request failed");
    Object.assign(this, { status, code, reason, zh, en });
  }
  text(lang) {
    return lang === "en" ? this.en || this.zh : this.zh || this.en;
  }
  get linkInvalid() {
    return this.status === 401;
  }
}

// --- the token ---------------------------------------------------------------------------------

let token = null;
let store = { key: null, places: [] };

/**
 * Where this page keeps its token: `key` in the first of `places` (Storage objects) that
 * takes it. The staff login lives in sessionStorage (one tab, one login); the applicant's link
 * in localStorage, else sessionStorage. Reads the kept token now.
 */
export function useTokenStore(key, ...places) {
  store = { key, places };
  token = null;
  for (const place of places) {
    token = place.getItem(key);
    if (token) break;
  }
  return token;
}

export const getToken = () => token;

/** Keep (or, with null, forget) the page's token. */
export function setToken(value) {
  token = value;
  for (const place of store.places) {
    if (!value) {
      place.removeItem(store.key);
      continue;
    }
    try {
      place.setItem(store.key, value);
      return;
    } catch {
      // full or refused (a private window): the next place
    }
  }
}

/** The applicant's link token: from the URL fragment (never sent to the server), else kept. */
export function loadToken() {
  useTokenStore(APPLICANT_TOKEN_KEY, localStorage, sessionStorage);
  const fromHash = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
  if (fromHash) {
    setToken(fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return token;
}

// --- answers kept for offline use ----------------------------------------------------------------

// Chosen GET answers are kept on the device and given back when the network is gone (the
// console's offline on-site mode, console/offline.js): `keep(path, answer)` after each JSON
// answer (an ApiError for a refusal), `recall(path)` without a network (undefined when nothing
// was kept).
let keeper = null;
export const setReadKeeper = (value) => (keeper = value);

// --- requests ----------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const NETWORK_ERROR = {
  zh: "网络连接失败，请检查网络后重试。",
  en: "The network request failed; check your connection and try again.",
};

/** A problem+json answer as an ApiError carrying the server's zh/en message. */
export async function toError(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  return new ApiError({
    status: response.status,
    code: body.code || `http_${response.status}`,
    reason: body.reason || "",
    zh: body.detail || `请求失败（${response.status}）。`,
    en: body.detail_en || body.title || `Request failed (${response.status}).`,
  });
}

/** fetch, with GETs retried `retries` times with backoff on network errors; null when all failed. */
async function send(path, init, retries) {
  const attempts = init.method === "GET" ? retries + 1 : 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt) await sleep(500 * 2 ** (attempt - 1));
    try {
      return await fetch(path, init);
    } catch {
      // weak 4G drops requests: try again
    }
  }
  return null;
}

/**
 * Call the API. `as`: "json" (default), "text", "blob" or "response". GETs are retried
 * `retries` times on network errors: weak 4G drops requests; a page with kept answers (the
 * console) falls back on them at once instead. A 401 while logged in tells the page
 * (`ci:logged-out`).
 */
export async function api(path, { method = "GET", body, as = "json", retries = keeper ? 0 : 3 } = {}) {
  const headers = { Accept: "application/json, text/html, application/pdf" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const kept = method === "GET" && as === "json" && keeper;
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" };
  const response = await send(path, init, retries);
  if (!response) {
    const answer = kept ? await keeper.recall(path) : undefined;
    if (answer !== undefined) return answer;
    throw new ApiError(NETWORK_ERROR);
  }
  if (!response.ok) {
    const error = await toError(response);
    if (response.status === 401 && token) window.dispatchEvent(new CustomEvent("ci:logged-out"));
    if (kept) keeper.keep(path, error);
    throw error;
  }
  if (as === "response") return response;
  if (as === "text") return response.text();
  if (as === "blob") return response.blob();
  const answer = response.status === 204 ? null : await response.json();
  if (kept) keeper.keep(path, answer);
  return answer;
}

/** May the caller take this case action now? The API lists the caller's actions on each case
 * (``actions``, server/cases/permissions.py); a page shows an action's button only then. */
export const can = (kase, action) => Array.isArray(kase?.actions) && kase.actions.includes(action);
