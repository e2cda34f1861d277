// Reviewer views: cases awaiting review first, then the case with its content in view (checklist
// with verdicts and photos, rectification rounds, recordings, the draft PDF) and approve / send back.
import { caseList } from "./case-list.js";
import { t } from "../shared/i18n.js";
import { opinionSection, reopenedItems } from "./opinion.js";
import { recordingsSection } from "./recordings.js";
import { checklistReview, reviewContent } from "./review-content.js";
import { h, section } from "./ui.js";

export async function renderReviewerHome(root) {
  const [awaiting, reviewed] = await Promise.all([
    caseList({ id: "awaiting-review", fixed: { state: "under_review", sort: "due" }, filters: false, emptyKey: "nothing_to_review" }),
    caseList({ id: "reviewed-list" }),
  ]);
  root.append(h("h2", { class: "page-title" }, t("nav_review")), section("awaiting_review", awaiting), section("reviewed_cases", reviewed));
}

export async function reviewerCaseSections(kase, ctx) {
  if (kase.state === "under_review") return [...(await reviewContent(kase, ctx, { pickable: true })), await opinionSection(kase, ctx)];
  // Sent back (with the lead again) or issued: what was decided, and the items being redone.
  const reopened = kase.state === "drafted" ? await reopenedItems(kase.id) : [];
  return [await checklistReview(kase, { reopened }), await recordingsSection(kase), await opinionSection(kase, ctx)];
}
