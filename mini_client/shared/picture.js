// Where a spot of a <video>'s picture is on the screen, whatever its object-fit (contain
// letterboxes the picture, cover crops it): used to point ("show me here") with coordinates
// that are fractions of the picture itself (0..1 from its left and top edges), so the
// inspector's screen and the phone's agree in portrait and landscape.

/** The picture's box inside the element, in CSS pixels from the element's top-left corner. */
export function pictureBox(video) {
  const width = video.clientWidth;
  const height = video.clientHeight;
  const vw = video.videoWidth || width;
  const vh = video.videoHeight || height;
  const fit = getComputedStyle(video).objectFit;
  let scale;
  if (fit === "fill") return { left: 0, top: 0, width, height };
  if (fit === "cover") scale = Math.max(width / vw, height / vh);
  else if (fit === "none") scale = 1;
  else scale = Math.min(width / vw, height / vh); // contain (a video's default), scale-down
  if (fit === "scale-down") scale = Math.min(scale, 1);
  const w = vw * scale;
  const h = vh * scale;
  return { left: (width - w) / 2, top: (height - h) / 2, width: w, height: h };
}

/** A click on the element → the spot of the picture, or null outside it (the black bars). */
export function toPicture(video, clientX, clientY) {
  const rect = video.getBoundingClientRect();
  const box = pictureBox(video);
  const x = (clientX - rect.left - box.left) / box.width;
  const y = (clientY - rect.top - box.top) / box.height;
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return null;
  return { x, y };
}

/** A spot of the picture → where it is in the element (CSS pixels), and whether it is shown. */
export function fromPicture(video, x, y) {
  const box = pictureBox(video);
  const left = box.left + x * box.width;
  const top = box.top + y * box.height;
  const shown = left >= 0 && top >= 0 && left <= video.clientWidth && top <= video.clientHeight;
  return { left, top, shown };
}
