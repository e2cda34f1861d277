// All user-facing text, zh-CN (default) and English; the choice is kept in localStorage.
const LANG_KEY = "ci.lang";

const TEXTS = {
  app_title: ["云踏勘 · 申请人", "Cloud inspection · Applicant"],
  switch_lang: ["English", "中文"],
  large_text_on: ["大字模式", "Large text"],
  large_text_off: ["标准字号", "Normal text"],
  loading: ["正在加载…", "Loading…"],
  case_number: ["案件编号", "Case number"],
  site: ["踏勘地址", "Site address"],
  status: ["当前状态", "Current status"],
  timeline: ["办理进度", "Progress"],
  step_received: ["已受理", "Received"],
  step_assigned: ["已分派踏勘人员", "Inspectors assigned"],
  step_scheduled: ["已预约时间", "Time booked"],
  step_in_progress: ["视频踏勘中", "Video inspection"],
  step_review: ["意见起草与审核", "Opinion drafted and reviewed"],
  step_issued: ["已出具踏勘意见", "Opinion issued"],
  note_rescheduling: ["您已申请改约，请等待新的可选时间。", "You asked to rebook; new times will be offered."],
  note_rectification: ["需要补齐补正，请按通知上传整改材料。", "Some items need fixing; follow the notice to upload proof."],
  note_offline: ["本案转为线下踏勘，工作人员将与您联系。", "This case moved to an on-site inspection; staff will contact you."],
  note_cancelled: ["本案已撤销。", "This case was cancelled."],
  note_closed: ["本案已办结。", "This case is closed."],
  appointment: ["预约踏勘时间", "Book the inspection time"],
  appointment_at: ["已约定时间：{when}", "Booked for: {when}"],
  no_slots: ["踏勘人员尚未提供可选时间，请留意短信通知。", "No times offered yet; watch for a text message."],
  pick_slot: ["请选择一个时间（北京时间）：", "Choose a time (Beijing time):"],
  confirm_slot: ["确认预约", "Confirm this time"],
  slot_confirmed: ["预约成功：{when}", "Booked: {when}"],
  choose_slot_first: ["请先选择一个时间。", "Choose a time first."],
  reschedule: ["申请改约", "Ask to rebook"],
  reschedule_reason: ["改约原因（至少 2 个字）", "Reason for rebooking (at least 2 characters)"],
  reschedule_sent: ["改约申请已提交，请等待新的时间。", "Your request was sent; new times will follow."],
  guide: ["准备指南", "Preparation guide"],
  guide_intro: ["踏勘前请按指南准备好场地和材料。", "Prepare the premises and papers as the guide says."],
  open_guide: ["查看准备指南", "Open the guide"],
  download_pdf: ["下载 PDF", "Download PDF"],
  guide_frame: ["准备指南内容", "Guide content"],
  check: ["通话前检测", "Pre-call check"],
  check_intro: [
    "我们将请求使用摄像头和麦克风，用于检查画面和声音是否正常。浏览器会弹出提示，请点“允许”。检测画面不会被录制或上传。",
    "We will ask to use your camera and microphone to check picture and sound. Your browser will ask; tap “Allow”. Nothing is recorded or uploaded during the check.",
  ],
  start_check: ["开始检测", "Start the check"],
  camera_ok: ["摄像头和麦克风正常", "Camera and microphone work"],
  network_testing: ["正在测试网络…", "Testing the network…"],
  network_result: ["网络往返时间约 {ms} 毫秒", "Network round trip about {ms} ms"],
  network_good: ["网络良好，可以进行视频踏勘。", "Your network is good for the video inspection."],
  network_fair: ["网络一般，通话中请尽量不要走动到信号差的地方。", "Your network is fair; avoid moving to spots with poor signal."],
  network_weak: ["信号较弱，请靠近窗口或切换到 Wi-Fi。", "The signal is weak; move near a window or switch to Wi-Fi."],
  network_failed: ["无法连接服务器，请检查网络后重试。", "Cannot reach the server; check your network and retry."],
  camera_preview: ["摄像头预览", "Camera preview"],
  camera_denied: [
    "无法使用摄像头或麦克风：权限被拒绝。请在浏览器设置中允许本网站使用摄像头和麦克风（微信中：点右上角“…”→“设置”或在手机“设置→微信→相机/麦克风”中开启），然后刷新本页。",
    "The camera or microphone was blocked. Allow this site to use them in your browser settings (in WeChat: tap “…” at the top right → Settings, or phone Settings → WeChat → Camera/Microphone), then reload this page.",
  ],
  camera_missing: ["没有找到可用的摄像头，请换一部手机或关闭占用摄像头的其他应用。", "No usable camera found; close other apps using it or try another phone."],
  camera_unsupported: ["此浏览器不支持视频通话，请用手机自带浏览器或微信打开链接。", "This browser cannot make video calls; open the link in your phone's browser or WeChat."],
  link_invalid: [
    "此链接已失效或已被撤销，请联系受理窗口重新获取链接。",
    "This link has expired or was revoked; ask the service window for a new link.",
  ],
  no_token: ["链接不完整，请从短信中重新打开完整链接。", "The link is incomplete; open the full link from your text message again."],
  offline: ["网络已断开，恢复后将自动继续。", "You are offline; we will carry on when the network returns."],
  call: ["视频踏勘", "Video inspection"],
  call_not_yet: ["预约时间到后，在此进入视频踏勘。", "Join the video inspection here at the booked time."],
  join_call: ["进入视频踏勘", "Join the video inspection"],
  leave_call: ["结束通话", "Leave the call"],
  call_connecting: ["正在连接…", "Connecting…"],
  call_connected: ["已连线，请按踏勘人员的指示拍摄。", "Connected; point the camera as the inspectors ask."],
  call_reconnecting: ["正在重新连接…", "Reconnecting…"],
  call_replaced: ["您已在另一台设备上进入通话，本页面已断开。", "You joined the call on another device; this page was disconnected."],
  call_not_joinable: ["现在还不能进入通话：案件尚未到预约或踏勘阶段。", "You cannot join yet: the case is not booked or in progress."],
  call_ended: ["通话已结束。", "The call has ended."],
  media_error: [
    "音视频服务暂时不可用，踏勘人员暂时看不到画面。请保持本页打开，或稍后重新进入。通话前检测仍可使用。",
    "The video service is unavailable right now, so the inspectors cannot see you yet. Keep this page open or rejoin later. The pre-call check still works.",
  ],
  server_error: ["服务器提示：{message}", "Server says: {message}"],
  now_inspecting: ["踏勘人员正在查看", "The inspectors are looking at"],
  switch_camera: ["切换摄像头", "Switch camera"],
  mute: ["静音", "Mute"],
  unmute: ["取消静音", "Unmute"],
  torch_on: ["打开闪光灯", "Torch on"],
  torch_off: ["关闭闪光灯", "Torch off"],
  share_location: ["共享位置", "Share location"],
  location_reason: [
    "踏勘人员需要确认您在申请地址现场，将在通话期间每 30 秒发送一次您的位置，通话结束后停止。",
    "The inspectors must confirm you are at the site address: your location is sent every 30 s during the call and stops when it ends.",
  ],
  location_on: ["正在共享位置（精度约 {m} 米）", "Sharing location (accurate to about {m} m)"],
  location_denied: ["无法获取位置。请在浏览器设置中允许定位，或告诉踏勘人员您的地址。", "Location is unavailable; allow it in browser settings or tell the inspectors your address."],
  messages: ["消息", "Messages"],
  no_messages: ["暂无消息。", "No messages yet."],
  retry: ["重试", "Retry"],
};

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
const listeners = new Set();

export const getLang = () => lang;

export function t(key, params = {}) {
  const entry = TEXTS[key];
  if (!entry) return key;
  const text = entry[lang === "en" ? 1 : 0];
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ""));
}

/** Fill every [data-i18n] element's text (and [data-i18n-label] aria-labels) below `root`. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem(LANG_KEY, lang);
  applyI18n();
  for (const listener of listeners) listener(lang);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/** A time in Asia/Shanghai, whatever the phone's own time zone. */
export function formatTime(iso) {
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai",
    month: "short",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(new Date(iso));
}
