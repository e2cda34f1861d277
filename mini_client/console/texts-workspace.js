// Texts of the inspector's workspace during a live call (call.js, call-facts.js, saving.js),
// zh-CN first with the English alternative; merged into the one dictionary when loaded.
import { addTexts } from "../shared/i18n.js";

addTexts({
  fullscreen: ["全屏", "Full screen"],
  exit_fullscreen: ["退出全屏", "Exit full screen"],
  other_inspector: ["另一名踏勘人员", "The other inspector"],
  call_ended_for_all: ["主办踏勘人员已结束本次通话。", "The lead inspector ended the call for everyone."],
  gps_label: ["申请人位置：", "Applicant's position:"],
  gps_none: ["申请人位置：尚未收到（请申请人在手机上点“共享位置”）。", "Applicant's position: none yet (ask them to tap “Share location”)."],
  gps_distance: ["距场所约 {m} 米", "about {m} m from the site"],
  gps_no_site: ["本案未登记场所坐标，无法计算距离", "no site coordinates on file: no distance"],
  gps_accuracy: ["精度 ±{m} 米", "accuracy ±{m} m"],
  gps_accuracy_unknown: ["精度未知", "accuracy unknown"],
  gps_age: ["{s} 秒前", "{s} s ago"],
  recording: ["录像中 · 已录 {elapsed}", "Recording · {elapsed}"],
  quality_row: ["{who}：{kbps} kbps · 丢包 {loss}% · 往返 {rtt}", "{who}: {kbps} kbps · loss {loss}% · round trip {rtt}"],
  quality_unknown: ["未知", "unknown"],
  save_saving: ["保存中…", "Saving…"],
  save_saved: ["已保存", "Saved"],
  save_failed: ["保存失败：{error}", "Not saved: {error}"],
  save_retry: ["重试", "Retry"],
  rect_call_choice: ["当前通话", "The live call"],
  rect_call_keep: ["保持通话，申请人可继续按指示拍摄", "Keep the call open; the applicant can go on showing the site"],
  rect_call_end: ["结束全部人员的通话，并告知申请人补正要求", "End the call for everyone, telling the applicant about the request"],
  rect_pushed_call_ends: ["已发出 {n} 项补齐补正要求，通话随之结束。", "Rectification of {n} items requested; the call ends."],
  rect_pushed_call_stays: ["已发出 {n} 项补齐补正要求，通话继续。", "Rectification of {n} items requested; the call goes on."],
});
