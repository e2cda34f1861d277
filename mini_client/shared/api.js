// Fetch wrapper for the API: bearer token, problem+json → ApiError, retries for GETs.
const TOKEN_KEY = "ci.applicant.token";
let token = null;

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

/** Take the token from the URL fragment (never sent to the server), else from storage. */
export function loadToken() {
  const fromHash = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
  if (fromHash) {
    token = fromHash;
    try {
      localStorage.setItem(TOKEN_KEY, token);
    } catch {
      sessionStorage.setItem(TOKEN_KEY, token);
    }
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    token = localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY);
  }
  return token;
}

export const getToken = () => token;

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

/**
 * Call the API. GETs are retried with backoff on network errors (weak 4G drops requests).
 * `as`: "json" (default), "text", "blob" or "response".
 */
export async function api(path, { method = "GET", body, as = "json", retries = 3 } = {}) {
  const headers = { Accept: "application/json, text/html, application/pdf" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const attempts = method === "GET" ? retries + 1 : 1;
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      if (attempt + 1 >= attempts) throw new ApiError(NETWORK_ERROR);
      await sleep(500 * 2 ** attempt);
      continue;
    }
    if (!response.ok) throw await toError(response);
    if (as === "response") return response;
    if (as === "text") return response.text();
    if (as === "blob") return response.blob();
    return response.status === 204 ? null : response.json();
  }
}
