// What the phone knows about a photo that its upload carries along.

/**
 * When a photo was taken, as an ISO time with its offset: the file's own time (the camera writes
 * the file at the moment of capture), never later than now; now for a Blob without one.
 */
export function takenAt(blob, now = Date.now()) {
  const written = blob && blob.lastModified;
  const when = Number.isFinite(written) && written > 0 ? Math.min(written, now) : now;
  return new Date(when).toISOString();
}
