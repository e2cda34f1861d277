// A rectification request (补齐补正) pushed by the room during the call: the phone says so at
// once and shows the items to put right below it, without a reload.
import { formatTime } from "../shared/i18n.js";

/** `show(kind, key, params)` puts up the page's banner; `reload()` loads the case again. */
export async function rectificationPushed(message, show, reload) {
  const key = message.call_ends ? "rect_pushed_call_ends" : "rect_pushed";
  show("warn", key, { n: message.items.length, when: formatTime(message.deadline) });
  try {
    await reload();
  } catch {
    // the banner stands; the next load shows the items
  }
}
