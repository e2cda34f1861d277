// Console fetch wrapper: the staff token lives in sessionStorage (one tab, one login).
import { ApiError, NETWORK_ERROR, toError } from "../shared/api.js";

export { ApiError };

const TOKEN_KEY = "ci.console.token";
let token = sessionStorage.getItem(TOKEN_KEY);

export const getToken = () => token;

// Chosen GET answers are kept on the device and given back when the network is gone (the
// offline on-site mode, offline.js): `keep(path, answer)` after each answer, `recall(path)`
// without a network (undefined when nothing was kept).
let keeper = null;
export const setReadKeeper = (value) => (keeper = value);

export function setToken(value) {
  token = value;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Call the API with the staff token. `as`: "json" (default), "blob" or "response". */
export async function api(path, { method = "GET", body, as = "json" } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    const kept = method === "GET" && as === "json" && keeper ? await keeper.recall(path) : undefined;
    if (kept !== undefined) return kept;
    throw new ApiError(NETWORK_ERROR);
  }
  const keep = method === "GET" && as === "json" && keeper ? keeper.keep : () => {};
  if (!response.ok) {
    const error = await toError(response);
    if (response.status === 401 && token) window.dispatchEvent(new CustomEvent("ci:logged-out"));
    keep(path, error);
    throw error;
  }
  if (as === "response") return response;
  if (as === "blob") return response.blob();
  const answer = response.status === 204 ? null : await response.json();
  keep(path, answer);
  return answer;
}
