// The one upload client: a photo from the applicant's phone (rectification) or from the
// console on site goes the same way — hash, announce, post the file to storage, finalize — and
// a refusal reads the same on both: an ApiError carrying the server's zh/en `detail` (for a
// file refused at finalize, or found refused when announced again), shown to the person as is.
import { api, ApiError } from "./api.js";

/**
 * When a photo was taken, as an ISO time with its offset: the file's own time (the camera writes
 * the file at the moment of capture), never later than now; now for a Blob without one.
 */
export function takenAt(blob, now = Date.now()) {
  const written = blob && blob.lastModified;
  const when = Number.isFinite(written) && written > 0 ? Math.min(written, now) : now;
  return new Date(when).toISOString();
}

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** A file's SHA-256 as lowercase hex (what the announcement declares). */
export async function sha256Hex(blob) {
  return hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
}

/** Random hex for keys (`bytes` random bytes). */
export const randomHex = (bytes) => hex(crypto.getRandomValues(new Uint8Array(bytes)).buffer);

/** An upload the server refused earlier (its `rejection`), as the refusal finalize answered then. */
export function refusal(rejection) {
  return new ApiError({
    status: 422,
    code: "file_refused",
    reason: rejection.reason,
    zh: rejection.message_zh,
    en: rejection.message_en,
  });
}

// What the phone reports about a photo that the server may find impossible (a wrong clock, a
// placeholder fix): the field each refusal names, dropped before announcing the photo again.
const DROPPED_ON = { bad_position: "position", bad_captured_at: "captured_at" };

/** Announce a file; what the device reports that the server refuses must not cost the photo. */
export async function announce(caseId, announcement) {
  const url = `/api/v1/cases/${caseId}/uploads`;
  const body = { ...announcement };
  for (;;) {
    try {
      return await api(url, { method: "POST", body });
    } catch (error) {
      const field = error instanceof ApiError ? DROPPED_ON[error.reason] : undefined;
      if (!field || !(field in body)) throw error;
      delete body[field]; // each retry drops one field: at most three announcements
    }
  }
}

/**
 * POST the presigned form, telling `onProgress(percent)`; falls back to an opaque POST when the
 * store does not answer CORS (finalize tells whether the file arrived). Throws a plain Error
 * (not an ApiError) when the file could not be sent at all.
 */
export function postForm(form, blob, onProgress = () => {}) {
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  body.append("file", blob);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
    });
    xhr.addEventListener("load", () => resolve(xhr.status));
    xhr.addEventListener("error", async () => {
      try {
        await fetch(form.url, { method: "POST", body, mode: "no-cors" });
        resolve(0);
      } catch {
        reject(new Error("the file did not reach the store"));
      }
    });
    xhr.send(body);
  });
}

/**
 * One file, start to finish: announce, send, finalize. `onStage(stage, percent)` hears
 * "uploading" (with progress) and "checking"; `wanted()` false once announced stops there (the
 * page moved on; resolves to null). Resolves to the finalized upload; an upload refused now or
 * before throws its refusal (an ApiError), so does any other answer of the server; a file that
 * never left the device throws a plain Error.
 */
export async function uploadFile(caseId, announcement, blob, { onStage = () => {}, wanted = () => true } = {}) {
  const upload = await announce(caseId, announcement);
  if (!wanted()) return null;
  if (upload.status === "finalized") return upload; // an earlier try got through
  if (upload.status === "rejected") throw refusal(upload.rejection);
  onStage("uploading", 0);
  await postForm(upload.form, blob, (percent) => onStage("uploading", percent));
  onStage("checking", 100);
  return api(`/api/v1/cases/${caseId}/uploads/${upload.id}/finalize`, { method: "POST" });
}
