// Each verdict click is saved or visibly fails, never lost: the writes of one item go one after
// another (a later click waits for the earlier one, so the server stores them in click order),
// through the offline outbox (offline.js). Each item shows 保存中 / 已保存 / 保存失败 (with a
// retry) or, without a network, "saved on this device" until the outbox sends it. A button is
// pressed (aria-pressed) for the stored or kept value only; a click on its way is "pending".
import { queueVerdict } from "./offline.js";
import { t } from "../shared/i18n.js";
import { errorText, h } from "./ui.js";

const OUTCOME = { sent: "saved", queued: "queued" };

export class VerdictWrites {
  /** `changed(itemId)` is called whenever an item's save state changes. */
  constructor(owner, caseId, changed) {
    this.owner = owner;
    this.caseId = caseId;
    this.changed = changed;
    this.tails = new Map(); // item id → the promise of its last queued write
    this.states = new Map(); // item id → { state, body, error, click }
    this.clicks = 0;
  }

  /** Queue `body` as my verdict on `itemId`; resolves with "sent", "queued" or the refusal. */
  save(itemId, body) {
    const click = ++this.clicks;
    this.set(itemId, { state: "saving", body, error: null, click });
    const tail = (this.tails.get(itemId) || Promise.resolve()).then(() => this.send(itemId, body, click));
    this.tails.set(itemId, tail);
    return tail;
  }

  async send(itemId, body, click) {
    let result;
    try {
      result = await queueVerdict(this.owner, this.caseId, itemId, body);
    } catch (error) {
      result = error; // the device's storage refused: nothing was kept
    }
    // Only the latest click of the item speaks for it; an earlier one's outcome is history.
    if (this.states.get(itemId)?.click === click) {
      const state = OUTCOME[result] || "failed";
      this.set(itemId, { state, body, error: state === "failed" ? result : null, click });
    }
    return result;
  }

  set(itemId, state) {
    this.states.set(itemId, state);
    this.changed(itemId);
  }

  /** The value of a click being saved or refused (shown as pending, not yet pressed). */
  pendingValue(itemId) {
    const state = this.states.get(itemId);
    return state && (state.state === "saving" || state.state === "failed") ? state.body.value : undefined;
  }

  /** The item's save line (empty when nothing was clicked on this page). */
  view(itemId) {
    const state = this.states.get(itemId);
    const line = h("p", { class: "save-state small", "aria-live": "polite", dataset: { state: state ? state.state : "" } });
    if (!state || state.state === "queued") return line; // the queued note says it (inspector.js)
    if (state.state !== "failed") {
      line.textContent = t(`save_${state.state}`);
      return line;
    }
    const retry = h("button", { type: "button", class: "secondary save-retry" }, t("save_retry"));
    retry.addEventListener("click", () => this.save(itemId, state.body));
    line.setAttribute("role", "alert");
    line.replaceChildren(t("save_failed", { error: errorText(state.error) }), " ", retry);
    return line;
  }
}
