// Reviewer views: cases awaiting review first, then the opinion with approve / send back.
import { api } from "../shared/api.js";
import { caseTable } from "./case-table.js";
import { t } from "../shared/i18n.js";
import { opinionSection } from "./opinion.js";
import { recordingsSection } from "./recordings.js";
import { h, section } from "./ui.js";

export async function renderReviewerHome(root) {
  const cases = await api("/api/v1/cases");
  root.append(
    h("h2", { class: "page-title" }, t("nav_review")),
    section("awaiting_review", h("div", { id: "awaiting-review" }, caseTable(cases.filter((c) => c.state === "under_review"), { emptyKey: "nothing_to_review" }))),
    section("reviewed_cases", caseTable(cases.filter((c) => c.state !== "under_review"))),
  );
}

export async function reviewerCaseSections(kase, ctx) {
  return [await recordingsSection(kase), await opinionSection(kase, ctx)];
}
