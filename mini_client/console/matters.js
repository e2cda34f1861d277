// Matter codes (CY, NY…) shown as their names; the catalogue list is loaded once per page.
import { api } from "../shared/api.js";
import { getLang } from "../shared/i18n.js";

let byCode = new Map();
let loading = null;

export function loadMatters() {
  loading ??= api("/api/v1/matters")
    .then((matters) => {
      byCode = new Map(matters.map((m) => [m.code, m]));
      return matters;
    })
    .catch(() => {
      loading = null; // offline or refused: codes are shown until the next try
      return [];
    });
  return loading;
}

export function matterLabel(codes) {
  const en = getLang() === "en";
  const names = codes.map((code) => {
    const matter = byCode.get(code);
    return matter ? (en ? matter.name_en : matter.name) : code;
  });
  return names.join(en ? ", " : "、");
}
