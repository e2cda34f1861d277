// Inspector views: my cases and appointments, offering slots, starting, and the checklist.
import { api, can } from "../shared/api.js";
import { callPanel, liveCall } from "./call.js";
import { caseTable } from "./case-table.js";
import { formatDateTime, pick, t } from "../shared/i18n.js";
import { qualityNote } from "../shared/quality.js";
import { flush, position, queuePhoto } from "./offline.js";
import { opinionSection, reopenedItems } from "./opinion.js";
import { recordingsSection } from "./recordings.js";
import { concludeSection, rectificationSection } from "./rectification.js";
import { VerdictWrites } from "./saving.js";
import { banner, busy, errorText, field, h, section } from "./ui.js";

const VALUES = ["pass", "fail", "not_applicable"];
const FROZEN_STATES = ["received", "assigned", "scheduled", "rescheduling", "offline_pending", "cancelled"];
const ITEM_EVIDENCE = ["snapshot", "photo"]; // what a verdict can cite (recordings are the whole call)

export async function renderInspectorHome(root) {
  const cases = await api("/api/v1/cases");
  const appointments = await Promise.all(
    cases.map((c) => api(`/api/v1/cases/${c.id}/appointment`).catch(() => null)),
  );
  const upcoming = cases
    .map((c, i) => ({ c, a: appointments[i] && appointments[i].appointment }))
    .filter((x) => x.a)
    .sort((x, y) => x.a.starts_at.localeCompare(y.a.starts_at));
  root.append(
    h("h2", { class: "page-title" }, t("nav_my_cases")),
    section(
      "my_appointments",
      upcoming.length
        ? h(
            "ul",
            { id: "appointments" },
            upcoming.map(({ c, a }) => h("li", {}, h("a", { href: `#/case/${c.id}` }, c.number), ` · ${formatDateTime(a.starts_at)} – ${formatDateTime(a.ends_at)} · ${c.site_address}`)),
          )
        : h("p", { class: "muted", id: "appointments" }, t("no_appointments")),
    ),
    section("my_cases", caseTable(cases)),
  );
}

// --- appointment -----------------------------------------------------------------------------------

/** "2026-05-01T10:00" typed in the console means Beijing time, whatever the PC's zone. */
const shanghai = (local) => new Date(`${local}:00+08:00`).toISOString();

function slotRow() {
  const start = h("input", { type: "datetime-local", class: "slot-start", required: true, step: 900 });
  const minutes = h("select", { class: "slot-minutes" }, [30, 60, 90, 120].map((m) => h("option", { value: m, selected: m === 60 }, t("minutes", { n: m }))));
  return h("div", { class: "slot-row row" }, field("slot_start", start), field("slot_length", minutes));
}

function slotsForm(kase, after) {
  const rows = h("div", { id: "slot-rows" }, slotRow(), slotRow());
  const add = h("button", { type: "button", class: "secondary" }, t("add_slot"));
  add.addEventListener("click", () => rows.append(slotRow()));
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "offer-slots" }, t("offer_slots"));
  const form = h("form", { id: "slots-form" }, h("p", { class: "muted" }, t("slots_hint")), rows, h("div", { class: "row" }, add, submit), out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const slots = [...rows.querySelectorAll(".slot-row")]
      .filter((r) => r.querySelector(".slot-start").value)
      .map((r) => {
        const startsAt = shanghai(r.querySelector(".slot-start").value);
        const ms = Number(r.querySelector(".slot-minutes").value) * 60_000;
        return { starts_at: startsAt, ends_at: new Date(Date.parse(startsAt) + ms).toISOString() };
      });
    const done = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/slots`, { method: "POST", body: { slots } }), (r) => [t("slots_offered", { n: r.length }), r[0]?.warning_zh ? pick(r[0].warning_zh, r[0].warning_en) : ""].join(" "));
    if (done) after();
  });
  return form;
}

function rescheduleForm(kase, after) {
  const reason = h("textarea", { rows: 2, required: true, minlength: 2 });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "secondary" }, t("reschedule"));
  const form = h("form", {}, field("reschedule_reason", reason), out, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await busy(submit, out, () => api(`/api/v1/cases/${kase.id}/appointment/reschedule`, { method: "POST", body: { reason: reason.value.trim() } }));
    if (done) after();
  });
  return h("details", {}, h("summary", {}, t("reschedule")), form);
}

async function appointmentSection(kase, reload) {
  const appointment = await api(`/api/v1/cases/${kase.id}/appointment`);
  const body = h("div", { id: "appointment" });
  if (appointment.appointment) {
    const a = appointment.appointment;
    body.append(h("p", { class: "banner ok" }, t("appointment_agreed", { when: `${formatDateTime(a.starts_at)} – ${formatDateTime(a.ends_at)}` })));
  }
  if (appointment.open_slots.length) {
    body.append(
      h("p", {}, t("open_slots")),
      h("ul", { id: "open-slots" }, appointment.open_slots.map((s) => h("li", {}, `${formatDateTime(s.starts_at)} – ${formatDateTime(s.ends_at)}`))),
      h("p", { class: "muted" }, t("waiting_applicant")),
    );
  }
  if (can(kase, "schedule")) body.append(slotsForm(kase, reload));
  if (can(kase, "reschedule")) body.append(rescheduleForm(kase, reload));
  return section("appointment", body);
}

// --- start -------------------------------------------------------------------------------------

function startSection(kase, reload) {
  if (!can(kase, "start_inspection")) return null;
  const out = h("div", { "aria-live": "polite", id: "start-out" });
  const label = kase.state === "in_progress" ? "resume_inspection" : "start_inspection";
  const button = h("button", { type: "button", id: "start-inspection" }, t(label));
  button.addEventListener("click", async () => {
    const started = await busy(button, out, () => api(`/api/v1/cases/${kase.id}/inspection/start`, { method: "POST" }));
    if (!started) return;
    if (started.blocking) {
      out.replaceChildren(h("div", { class: "banner error", role: "alert" }, t("blocking_findings"), h("ul", {}, started.blocking_findings.map((f) => h("li", {}, pick(f.message_zh, f.message_en))))));
      return;
    }
    reload();
  });
  return section("inspection", h("div", { class: "row" }, button), out);
}

// --- the checklist -----------------------------------------------------------------------------

const valueLabel = (v) => t(`verdict_${v}`);

function verdictLine(verdict, who) {
  if (!verdict) return h("span", { class: "muted" }, `${who}：${t("not_marked")}`);
  return h("span", { class: `verdict v-${verdict.value}` }, `${who}：${valueLabel(verdict.value)}`, verdict.note ? ` — ${verdict.note}` : "");
}

class Checklist {
  constructor(kase, me) {
    this.kase = kase;
    this.me = me;
    this.isLead = kase.inspector_ids[0] === me.id;
    this.notes = new Map();
    this.root = h("div", { id: "checklist" });
    this.summary = h("div", { id: "checklist-summary", "aria-live": "polite" });
    this.out = h("div", { "aria-live": "polite", id: "checklist-message" });
    this.list = h("ol", { class: "items" });
    this.root.append(this.summary, this.out, this.list);
    this.current = null; // the item being inspected: snapshots are filed under it
    this.unsaved = undefined; // picked here, not yet seen saved in an answer from the server
    this.live = null; // set by the call panel: sends current_item through the room
    this.evidence = new Map(); // item id → ids of the snapshots and photos filed under it
    this.listeners = [];
    this.citing = []; // items whose offline photo arrived: my verdict there may now cite it
    this.writes = new VerdictWrites(me.id, kase.id, (itemId) => this.showSaving(itemId));
    this.loads = 0; // only the newest load may render: answers can arrive out of order
    // Work replayed from the offline outbox: show the server's view again (debounced). A photo
    // taken offline could not be cited by the verdict queued with it: cite it now (see attach).
    const onSent = (event) => {
      if (this.root.isConnected) this.shown = true;
      else if (this.shown) return window.removeEventListener("ci:outbox-sent", onSent);
      const { caseId, kind, itemIds } = event.detail;
      if (caseId !== this.kase.id) return;
      if (kind === "photo") this.citing.push(...itemIds);
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => this.afterReplay().catch(() => {}), 300);
    };
    window.addEventListener("ci:outbox-sent", onSent);
    // A snapshot filed under an item during the call: cite it (see attach).
    const onSnapshot = (event) => {
      if (!this.root.isConnected) {
        if (this.shown) document.removeEventListener("ci:snapshot-filed", onSnapshot);
        return;
      }
      this.shown = true;
      this.attach(event.detail.item_id).catch((error) => banner(this.out, "error", errorText(error)));
    };
    document.addEventListener("ci:snapshot-filed", onSnapshot);
  }

  /** Call `fn(data)` after every (re)load, e.g. to update the conclusion below the list. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  get editable() {
    return this.data && this.data.state === "in_progress";
  }

  /** In progress every item; after a send-back, the items it reopened, for the lead only. */
  canMark(item) {
    return this.editable || (this.data?.state === "drafted" && this.isLead && (this.reopened || []).includes(item.id));
  }

  async load() {
    const mine = ++this.loads;
    const [data, evidence] = await Promise.all([api(`/api/v1/cases/${this.kase.id}/checklist`), this.loadEvidence()]);
    if (mine !== this.loads) return; // a newer load is on its way with a fresher answer
    this.data = data;
    this.evidence = evidence;
    // An item picked here (or pushed by the room) is saved by the room a moment later: until an
    // answer shows it saved, an older answer must not move the snapshot target back.
    if (this.unsaved === undefined || this.unsaved === data.current_item) {
      this.unsaved = undefined;
      this.current = data.current_item;
    }
    this.render();
  }

  /** Snapshots and on-site photos per item (not the applicant's rectification photos). */
  async loadEvidence() {
    let rows;
    try {
      rows = await api(`/api/v1/cases/${this.kase.id}/evidence?${ITEM_EVIDENCE.map((k) => `kind=${k}`).join("&")}`);
    } catch {
      return this.evidence; // keep what we knew: the checklist itself still loads
    }
    const byItem = new Map();
    this.flagged = new Map(); // item id → notes on its photos flagged at capture
    for (const row of rows) {
      if (row.meta && row.meta.purpose === "rectification") continue; // the applicant's, not ours
      for (const itemId of row.item_ids) byItem.set(itemId, [...(byItem.get(itemId) || []), row.id]);
      const note = qualityNote(row);
      for (const itemId of note ? row.item_ids : []) this.flagged.set(itemId, [...(this.flagged.get(itemId) || []), note]);
    }
    return byItem;
  }

  /** My verdict's evidence: what it cited before plus every photo filed under the item. */
  refsFor(itemId, mine) {
    const refs = [...((mine && mine.evidence_refs) || []), ...(this.evidence.get(itemId) || [])];
    return [...new Set(refs)].slice(0, 30);
  }

  /**
   * A snapshot was filed under `itemId`: reload, and if my verdict there lacks a photo the
   * item requires, send it again citing the new photos, so the item settles without a re-click.
   */
  async attach(itemId) {
    await this.load();
    const item = itemId && this.data.items.find((i) => i.id === itemId);
    const mine = item && item.verdicts.find((v) => v.inspector_id === this.me.id);
    // A ruling holds only for the verdicts it ruled on: never replace those behind its back.
    if (!mine || !item.evidence_violation || item.resolution || !this.editable) return;
    await api(`/api/v1/cases/${this.kase.id}/checklist/items/${itemId}/verdict`, {
      method: "PUT",
      body: { value: mine.value, note: mine.note, evidence_refs: this.refsFor(itemId, mine) },
    });
    await this.load();
  }

  /** After the outbox replayed: cite newly uploaded photos where my verdict lacks one, reload. */
  async afterReplay() {
    const items = [...new Set(this.citing.splice(0))];
    for (const itemId of items) await this.attach(itemId);
    if (!items.length) await this.load();
  }

  setCurrent(itemId) {
    this.current = itemId;
    this.unsaved = itemId;
    for (const li of this.list.children) li.classList.toggle("current", li.dataset.item === itemId);
    document.dispatchEvent(new CustomEvent("ci:current-item", { detail: itemId }));
  }

  render() {
    const { counts, conclusion } = this.data;
    const disagreements = this.data.items.filter((i) => i.disagreement && !i.resolution).length;
    const parts = [
      counts ? h("p", {}, t("counts", { settled: counts.settled, total: counts.total, open: counts.open })) : null,
      disagreements ? h("p", { class: "banner warn", id: "disagreement-count" }, t("disagreements_open", { n: disagreements })) : null,
      conclusion ? h("p", { id: "conclusion" }, h("strong", {}, t("conclusion_preview")), " ", t(`conclusion_${conclusion.value}`)) : null,
      conclusion && conclusion.reasons.length ? h("ul", { class: "muted small" }, conclusion.reasons.map((r) => h("li", {}, pick(r.message_zh, r.message_en)))) : null,
    ];
    this.summary.replaceChildren(...parts.filter(Boolean)); // replaceChildren would print "null"
    this.renderItems();
    for (const fn of this.listeners) fn(this.data);
  }

  /** Replace only the items that changed, so a note being typed elsewhere keeps its focus. */
  renderItems() {
    const shown = new Map([...this.list.children].map((li) => [li.dataset.item, li]));
    for (const item of this.data.items) {
      const key = JSON.stringify([item, item.id === this.current, this.evidence.get(item.id) || [], this.canMark(item), this.writes.pendingValue(item.id)]);
      const old = shown.get(item.id);
      if (old && old.dataset.key === key) continue;
      const li = this.itemView(item);
      li.dataset.key = key;
      if (old) old.replaceWith(li);
      else this.list.append(li);
    }
  }

  /** Reload soon (several pushes or clicks in a row make one request). */
  reloadSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.load().catch(() => {}), 150);
  }

  /** The room pushed a stored verdict: the other inspector's is shown (mine reload by mark). */
  remoteVerdict(message) {
    if (this.root.isConnected && message.inspector_id !== this.me.id) this.reloadSoon();
  }

  /** An item's save state changed: its line, and the button of a click on its way. */
  showSaving(itemId) {
    const li = this.list.querySelector(`li.item[data-item="${itemId}"]`);
    if (!li) return;
    // "Kept on this device" holds again only once this click is kept (showQueued).
    if (this.writes.states.get(itemId)?.state === "saving") li.classList.remove("queued");
    const pending = this.writes.pendingValue(itemId);
    for (const b of li.querySelectorAll("button.mark")) b.classList.toggle("pending", b.dataset.value === pending);
    const line = li.querySelector(".save-state");
    if (line) line.replaceWith(this.writes.view(itemId));
  }

  itemView(item) {
    const mine = item.verdicts.find((v) => v.inspector_id === this.me.id);
    const other = item.verdicts.find((v) => v.inspector_id !== this.me.id);
    const otherWho = t(this.isLead ? "second" : "lead");
    const disputed = item.disagreement && !item.resolution;
    const photos = (this.evidence.get(item.id) || []).length;
    const flagged = (this.flagged && this.flagged.get(item.id)) || [];
    const li = h(
      "li",
      {
        class: ["item", disputed ? "disagreement" : "", item.id === this.current ? "current" : "", item.settled ? `settled-${item.settled}` : ""].join(" ").trim(),
        dataset: { item: item.id },
        "aria-labelledby": `title-${item.id}`,
      },
      h("h3", { id: `title-${item.id}` }, h("span", { class: "item-id" }, item.id), " ", pick(item.title, item.title_en), item.key ? h("span", { class: "tag" }, t("key_item")) : null),
      h("p", { class: "check" }, item.check),
      item.standard ? h("p", { class: "muted small" }, t("standard"), "：", item.standard) : null,
      h("p", { class: "verdicts" }, verdictLine(mine, t("me")), " · ", verdictLine(other, otherWho)),
      photos ? h("p", { class: "photo-count muted small" }, t("photos_filed", { n: photos })) : null,
      flagged.length ? h("p", { class: "quality-note warn-text small" }, t("photos_flagged", { n: flagged.length }), flagged.join("；")) : null,
      disputed ? h("p", { class: "banner warn disagreement-note", role: "status" }, t("disagreement_note")) : null,
      item.resolution ? h("p", { class: "resolution" }, t("resolved_as", { value: valueLabel(item.resolution.value), reason: item.resolution.reason })) : null,
      item.settled ? h("p", { class: "settled" }, t("settled_as"), " ", h("strong", {}, valueLabel(item.settled))) : null,
      item.evidence_violation ? h("p", { class: "banner warn evidence-problem" }, t(`evidence_${item.evidence_violation}`)) : null,
    );
    if (this.canMark(item) && !item.record_only) li.append(this.markControls(item, mine), this.writes.view(item.id));
    if (this.canMark(item) && this.isLead && disputed) li.append(this.resolutionForm(item));
    return li;
  }

  markControls(item, mine) {
    const note = h("textarea", { rows: 2, class: "note", "aria-label": t("note_for", { item: item.id }) });
    note.value = this.notes.has(item.id) ? this.notes.get(item.id) : (mine && mine.note) || "";
    note.addEventListener("input", () => this.notes.set(item.id, note.value));
    const pending = this.writes.pendingValue(item.id);
    const buttons = VALUES.map((value) => {
      const button = h("button", { type: "button", class: `mark mark-${value}${value === pending ? " pending" : ""}`, dataset: { value }, "aria-pressed": String(Boolean(mine && mine.value === value)) }, valueLabel(value));
      button.addEventListener("click", () => this.mark(item, value, note.value));
      return button;
    });
    const group = h("div", { class: "row", role: "group", "aria-label": t("my_verdict") }, buttons);
    if (!this.editable) return h("div", { class: "controls" }, group, field("note", note)); // reopened by a send-back
    const show = h("button", { type: "button", class: "secondary show-item", "aria-pressed": String(item.id === this.current) }, t("show_to_applicant"));
    show.addEventListener("click", () => this.show(item, show));
    const photo = h("input", { type: "file", accept: "image/*", capture: "environment", class: "take-photo" });
    const photoOut = h("div", { class: "photo-out", "aria-live": "polite" });
    photo.addEventListener("change", () => this.photo(item, photo, photoOut));
    return h(
      "div",
      { class: "controls" },
      group,
      field("note", note),
      h("div", { class: "row" }, show),
      h("p", { class: "muted small" }, t("photo_gps_reason")),
      field("take_photo", photo),
      photoOut,
    );
  }

  resolutionForm(item) {
    const value = h("select", { class: "resolution-value" }, VALUES.map((v) => h("option", { value: v }, valueLabel(v))));
    const reason = h("textarea", { rows: 2, class: "resolution-reason", required: true, minlength: 2 });
    const submit = h("button", { type: "submit", class: "resolve" }, t("resolve"));
    const form = h("form", { class: "resolution-form" }, h("h4", {}, t("lead_ruling")), field("ruling", value), field("ruling_reason", reason), h("div", { class: "row" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await this.save(submit, `/api/v1/cases/${this.kase.id}/checklist/items/${item.id}/resolution`, "POST", { value: value.value, reason: reason.value.trim() });
    });
    return form;
  }

  /** Queued behind the item's earlier clicks (saving.js): saved, visibly failed, or kept. */
  async mark(item, value, note) {
    const mine = item.verdicts.find((v) => v.inspector_id === this.me.id);
    const refs = this.refsFor(item.id, mine);
    const result = await this.writes.save(item.id, { value, note, evidence_refs: refs });
    if (result === "queued") return this.showQueued(item.id, value);
    if (result !== "sent") return;
    if (this.notes.get(item.id) === note) this.notes.delete(item.id);
    this.reloadSoon();
  }

  /** A verdict saved on the device only: pressed at once, marked as waiting to upload. */
  showQueued(itemId, value) {
    const li = this.list.querySelector(`li.item[data-item="${itemId}"]`);
    if (!li) return;
    for (const b of li.querySelectorAll("button.mark")) b.setAttribute("aria-pressed", String(b.dataset.value === value));
    li.classList.add("queued");
    const note = li.querySelector(".queued-note") || li.appendChild(h("p", { class: "queued-note muted small" }));
    note.textContent = `${t("me")}：${valueLabel(value)} · ${t("queued_offline")}`;
  }

  async photo(item, input, out) {
    const file = input.files && input.files[0];
    if (!file) return;
    input.disabled = true;
    try {
      const gps = await position();
      const result = await queuePhoto(this.me.id, this.kase.id, [item.id], file, gps);
      if (result !== "sent" && result !== "queued") throw result;
      const text = t(result === "sent" ? "photo_sent" : "photo_saved");
      banner(out, "ok", gps ? text : `${text} ${t("photo_no_gps")}`);
    } catch (error) {
      banner(out, "error", errorText(error));
    } finally {
      input.value = "";
      input.disabled = false;
    }
  }

  async save(button, path, method, body) {
    try {
      button.disabled = true;
      await api(path, { method, body });
      this.out.replaceChildren();
      await this.load();
    } catch (error) {
      banner(this.out, "error", errorText(error));
      button.disabled = false;
    }
  }

  async show(item, button) {
    try {
      button.disabled = true;
      // In a call the room sets it (saved and shown to everyone at once); otherwise the API.
      const live = this.live && this.live(item.id);
      if (!live) await api(`/api/v1/cases/${this.kase.id}/checklist/current`, { method: "PUT", body: { item_id: item.id } });
      this.setCurrent(item.id);
      for (const b of this.list.querySelectorAll(".show-item")) b.setAttribute("aria-pressed", String(b === button));
    } catch (error) {
      banner(this.out, "error", errorText(error));
    } finally {
      button.disabled = false;
    }
  }
}

export async function inspectorCaseSections(kase, ctx) {
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const parts = [await appointmentSection(kase, reload), startSection(kase, reload)];
  const rectification = await rectificationSection(kase, ctx);
  // While the applicant rectifies or the photos wait for review, that is the work: put it first.
  if (kase.state.startsWith("rectification_")) parts.push(rectification);
  if (!FROZEN_STATES.includes(kase.state)) {
    const checklist = new Checklist(kase, ctx.me);
    if (kase.state === "drafted") checklist.reopened = await reopenedItems(kase.id);
    await checklist.load();
    flush(); // work queued offline on this device goes now (its badge shows the progress)
    const workspace = h("div", { class: "workspace" });
    // A call joined before the case moved on (a rectification request keeping it open) stays.
    if (kase.state === "in_progress" || liveCall(kase.id)) workspace.append(callPanel(kase, ctx, checklist));
    workspace.append(section("checklist", checklist.root));
    parts.push(workspace);
    if (kase.state === "in_progress") parts.push(concludeSection(kase, ctx, checklist));
  }
  if (!kase.state.startsWith("rectification_")) parts.push(rectification);
  parts.push(await recordingsSection(kase), await opinionSection(kase, ctx));
  return parts;
}
