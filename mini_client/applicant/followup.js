// After the call: rectification (补齐补正) uploads, the issued opinion, and the rating (好差评).
// Its texts are the page's (applicant/texts.js).
import { api, ApiError, can } from "../shared/api.js";
import { applyI18n, formatTime, getLang, pick, t } from "../shared/i18n.js";
import { qualityPrompt } from "../shared/quality.js";
import { randomHex, refusal, sha256Hex, takenAt, uploadFile } from "../shared/upload.js";
import { loadAftercare, renderAftercare, wireAftercare } from "./aftercare.js";

const OPINION_STATES = new Set(["issued", "closed"]);
const KEY_PREFIX = "ci.rect.key";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

const fs = {
  caseId: null,
  caseState: null,
  onError: () => {},
  onChanged: async () => {},
  round: null,
  items: {}, // item id → { state, pct, message }
  opinion: null,
  rating: null,
};

// --- rectification --------------------------------------------------------------------------

/** One key per round + item + file content, kept so a retry after a reload is the same upload. */
function idempotencyKey(itemId, sha256) {
  const name = `${KEY_PREFIX}.${fs.caseId}.${fs.round.id}.${itemId}.${sha256}`;
  let key = localStorage.getItem(name);
  if (!key) {
    key = `ra.${randomHex(12)}`;
    localStorage.setItem(name, key);
  }
  return key;
}

function setItem(itemId, patch) {
  fs.items[itemId] = { ...(fs.items[itemId] || { state: "todo", pct: 0 }), ...patch };
  renderItemState(itemId);
  renderSubmit();
}

async function uploadPhoto(itemId, file) {
  if (!file) return;
  const round = fs.round;
  try {
    setItem(itemId, { state: "hashing", pct: 0, message: "" });
    showQuality(itemId, null);
    const sha256 = await sha256Hex(file);
    const announcement = {
      idempotency_key: idempotencyKey(itemId, sha256),
      purpose: "rectification",
      item_ids: [itemId],
      content_type: file.type || "image/jpeg",
      size: file.size,
      sha256,
      captured_at: takenAt(file),
    };
    const done = await uploadFile(fs.caseId, announcement, file, {
      onStage: (stage, pct) => setItem(itemId, { state: stage, pct }),
      wanted: () => fs.round === round,
    });
    if (done) setItem(itemId, { state: "done", pct: 100 });
    if (done) showQuality(itemId, done.evidence);
  } catch (error) {
    // A refusal (now or before) or any other answer: the server's words; else the network.
    const message = error instanceof ApiError ? error.text(getLang()) : t("rect_network");
    setItem(itemId, { state: "failed", message });
  }
}

function itemBox(itemId) {
  return document.querySelector(`#rect-items [data-item-id="${CSS.escape(itemId)}"]`);
}

/** A photo the server flagged (blurred, too dark, overexposed): keep it, or retake it. */
function showQuality(itemId, evidence) {
  const slot = itemBox(itemId)?.querySelector(".rect-quality");
  if (!slot) return;
  const retake = () => {
    setItem(itemId, { state: "todo", pct: 0 }); // set aside: this item needs another photo
    itemBox(itemId)?.querySelector("input[type=file]")?.click();
  };
  const prompt = evidence ? qualityPrompt(fs.caseId, evidence, { onRetake: retake }) : null;
  slot.replaceChildren(...(prompt ? [prompt] : []));
}

function itemStateText(item) {
  if (item.state === "uploading") return t("rect_state_uploading", { pct: item.pct || 0 });
  if (item.state === "failed") return t("rect_state_failed", { message: item.message || "" });
  return t(`rect_state_${item.state}`);
}

function renderItemState(itemId) {
  const box = document.querySelector(`#rect-items [data-item-id="${CSS.escape(itemId)}"]`);
  if (!box) return;
  const item = fs.items[itemId] || { state: "todo", pct: 0 };
  box.dataset.state = item.state;
  const bar = box.querySelector("progress");
  bar.value = item.state === "done" ? 100 : item.pct || 0;
  bar.hidden = item.state === "todo" || item.state === "failed";
  const status = box.querySelector(".rect-status");
  status.textContent = itemStateText(item);
  status.className = `rect-status ${item.state}`;
  box.querySelector("input[type=file]").disabled = ["hashing", "uploading", "checking"].includes(item.state);
}

function renderSubmit() {
  const round = fs.round;
  const button = $("rect-submit");
  if (!round) return;
  const open = round.status === "open";
  button.hidden = !open;
  button.disabled = !round.items.every((i) => fs.items[i.item_id]?.state === "done");
}

function renderRound() {
  const card = $("rect-card");
  const round = fs.round;
  card.hidden = !round;
  if (!round) return;
  applyI18n(card);
  $("rect-deadline").textContent = t("rect_deadline", { when: formatTime(round.deadline) });
  $("rect-items").replaceChildren(
    ...round.items.map((item, index) => {
      const inputId = `rect-file-${index}`;
      const urls = Object.values(item.failure_photo_urls || {});
      const photos = urls.length
        ? urls.map((url) => el("img", { src: url, alt: t("rect_original"), className: "rect-original", loading: "lazy" }))
        : [el("p", { className: "muted", textContent: t("rect_no_original") })];
      const input = el("input", {
        type: "file", id: inputId, accept: "image/*", capture: "environment", className: "rect-file",
      });
      input.addEventListener("change", () => {
        uploadPhoto(item.item_id, input.files[0]);
        input.value = "";
      });
      const box = el(
        "li",
        { className: "rect-item", dataset: { itemId: item.item_id } },
        el("p", { className: "rect-instruction", textContent: item.instruction }),
        el("small", { className: "muted", textContent: t("rect_original") }),
        ...photos,
        el("label", { htmlFor: inputId, className: "button rect-take", textContent: t("rect_take_photo") }),
        input,
        el("progress", { max: 100, value: 0, hidden: true }),
        el("p", { className: "rect-status", role: "status" }),
        el("div", { className: "rect-quality" }),
      );
      return box;
    }),
  );
  for (const item of round.items) renderItemState(item.item_id);
  renderSubmit();
}

async function loadRound() {
  const rounds = await api(`/api/v1/cases/${fs.caseId}/rectification`);
  const open = rounds.filter((r) => r.status === "open").pop() || null;
  if (open && (!fs.round || fs.round.id !== open.id)) fs.items = {};
  fs.round = open;
  if (!open) return;
  // What is already done survives a reload: the round's photos and the finalized uploads.
  const uploads = await api(`/api/v1/cases/${fs.caseId}/uploads`).catch(() => []);
  const since = new Date(open.requested_at).getTime();
  for (const item of open.items) {
    const current = fs.items[item.item_id];
    if (current && current.state !== "todo") continue;
    const mine = uploads.filter(
      (u) => u.purpose === "rectification" && u.item_ids.includes(item.item_id)
        && new Date(u.created_at).getTime() >= since,
    );
    const done = item.photo_evidence_ids.length > 0 || mine.some((u) => u.status === "finalized");
    const last = mine[mine.length - 1];
    if (done) fs.items[item.item_id] = { state: "done", pct: 100 };
    else if (last && last.status === "rejected" && last.rejection) {
      fs.items[item.item_id] = { state: "failed", message: refusal(last.rejection).text(getLang()) };
    } else fs.items[item.item_id] = { state: "todo", pct: 0 };
  }
}

async function submitRound() {
  $("rect-submit").disabled = true;
  $("rect-message").textContent = "";
  try {
    await api(`/api/v1/cases/${fs.caseId}/rectification/submit`, { method: "POST" });
    fs.round = null;
    $("rect-card").hidden = true;
    $("rect-done").hidden = false;
    await fs.onChanged();
  } catch (error) {
    $("rect-message").textContent = error instanceof ApiError ? error.text(getLang()) : t("rect_network");
    renderSubmit();
  }
}

// --- opinion --------------------------------------------------------------------------------

function conclusionText(opinion) {
  const c = opinion.content && opinion.content.conclusion;
  if (c && (c.text_zh || c.text_en)) return getLang() === "en" ? c.text_en || c.text_zh : c.text_zh;
  const key = `conclusion_text_${opinion.conclusion}`;
  return t(key) === key ? opinion.conclusion : t(key);
}

function renderOpinion() {
  const card = $("opinion-card");
  card.hidden = !fs.opinion;
  if (!fs.opinion) return;
  applyI18n(card);
  $("opinion-conclusion").textContent = t("opinion_conclusion", { text: conclusionText(fs.opinion) });
  $("opinion-issued").textContent = fs.opinion.issued_at
    ? t("opinion_issued_at", { when: formatTime(fs.opinion.issued_at) })
    : "";
}

async function downloadOpinion() {
  try {
    const blob = await api(`/api/v1/cases/${fs.caseId}/opinion/pdf`, { as: "blob" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `踏勘意见书-${fs.caseNumber || fs.caseId}-v${fs.opinion.version}.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } catch (error) {
    fs.onError(error);
  }
}

// --- rating ---------------------------------------------------------------------------------

function renderRating() {
  const card = $("rating-card");
  const r = fs.rating;
  card.hidden = !r || (!r.can_rate && !r.rated);
  if (card.hidden) return;
  applyI18n(card);
  $("rating-form").hidden = r.rated || !r.can_rate;
  $("rating-thanks").hidden = !r.rated;
  $("rating-scores").replaceChildren(
    ...[1, 2, 3, 4, 5].map((score) => {
      const input = el("input", { type: "radio", name: "score", value: String(score) });
      input.addEventListener("change", showReasons);
      return el("label", { className: "score" }, input, t(`score_${score}`));
    }),
  );
  $("rating-reasons").replaceChildren(
    ...(r.bad_reasons || []).map((reason) => {
      const input = el("input", { type: "checkbox", name: "reason", value: reason.code });
      return el("label", { className: "reason" }, input, pick(reason.zh, reason.en));
    }),
  );
  showReasons();
}

/** A bad rating (1–2) asks why: the reasons show once such a score is chosen. */
function showReasons() {
  const chosen = document.querySelector("#rating-scores input[name=score]:checked");
  $("rating-reasons-set").hidden = !chosen || Number(chosen.value) > 2;
}

async function sendRating(event) {
  event.preventDefault();
  const chosen = document.querySelector("#rating-scores input[name=score]:checked");
  if (!chosen) return void ($("rating-message").textContent = t("rating_choose"));
  const score = Number(chosen.value);
  const reasons = score > 2 ? [] : [...document.querySelectorAll("#rating-reasons input:checked")].map((i) => i.value);
  if (score <= 2 && !reasons.length) return void ($("rating-message").textContent = t("rating_reason_needed"));
  const button = $("rating-send");
  button.disabled = true;
  try {
    await api(`/api/v1/cases/${fs.caseId}/rating`, {
      method: "POST",
      body: { score, reasons, comment: $("rating-comment").value.trim() },
    });
    $("rating-message").textContent = "";
  } catch (error) {
    $("rating-message").textContent = error instanceof ApiError ? error.text(getLang()) : t("rect_network");
  } finally {
    button.disabled = false;
  }
  // Whether it went through or had already been sent, show what the server now holds.
  fs.rating = await api(`/api/v1/cases/${fs.caseId}/rating`).catch(() => fs.rating);
  renderRating();
}

// --- entry points ---------------------------------------------------------------------------

export function renderFollowup() {
  applyI18n($("rect-done"));
  renderRound();
  renderOpinion();
  renderRating();
  renderAftercare();
}

/** Load what applies to the case's state and show it; safe to call again after a change. */
export async function loadFollowup(caseData) {
  fs.caseId = caseData.id;
  fs.caseNumber = caseData.number;
  fs.caseState = caseData.state;
  const jobs = [];
  if (can(caseData, "submit_rectification")) jobs.push(loadRound());
  else fs.round = null;
  $("rect-done").hidden = caseData.state !== "rectification_submitted";
  if (OPINION_STATES.has(caseData.state)) {
    jobs.push(api(`/api/v1/cases/${fs.caseId}/opinion`).then((o) => (fs.opinion = o)).catch(() => (fs.opinion = null)));
  } else fs.opinion = null;
  if (caseData.state === "closed") {
    jobs.push(api(`/api/v1/cases/${fs.caseId}/rating`).then((r) => (fs.rating = r)).catch(() => (fs.rating = null)));
  } else fs.rating = null;
  jobs.push(loadAftercare(fs.caseId));
  await Promise.all(jobs);
  renderFollowup();
}

export function wireFollowup({ onError, onChanged }) {
  fs.onError = onError;
  fs.onChanged = onChanged;
  $("rect-submit").addEventListener("click", submitRound);
  $("opinion-download").addEventListener("click", downloadOpinion);
  $("rating-form").addEventListener("submit", sendRating);
  wireAftercare({ onError });
}

export function hideFollowup() {
  const ids = ["rect-card", "rect-done", "opinion-card", "rating-card", "progress-card", "result-card", "complaint-card"];
  for (const id of ids) $(id).hidden = true;
}
