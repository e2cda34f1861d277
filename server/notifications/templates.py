"""Message texts (zh-CN with an English alternative), keyed by template code. Pure: no I/O.

Parameter values are shared by both languages (case numbers, times as shown in Asia/Shanghai);
a value that must differ by language is passed twice, e.g. ``conclusion_zh``/``conclusion_en``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX_ZH = "【云踏勘】"
PREFIX_EN = "[Cloud Inspection] "


class TemplateError(ValueError):
    """An unknown template code, or parameters a template needs are missing."""


def _fields(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


@dataclass(frozen=True, slots=True)
class Template:
    code: str
    zh: str
    en: str

    @property
    def params(self) -> frozenset[str]:
        return _fields(self.zh) | _fields(self.en)


@dataclass(frozen=True, slots=True)
class Rendered:
    template: str
    text_zh: str
    text_en: str


def _t(code: str, zh: str, en: str) -> Template:
    return Template(code, PREFIX_ZH + zh, PREFIX_EN + en)


_ALL = [
    # to the applicant
    _t(
        "case_assigned",
        "您好，您的踏勘申请（案件编号{case_number}）已受理并安排踏勘人员，"
        "工作人员将尽快与您预约视频踏勘时间，请保持电话畅通。",
        "Your inspection request (case {case_number}) has been accepted and inspectors have "
        "been assigned. Staff will contact you soon to book the video inspection.",
    ),
    _t(
        "case_assigned_link",
        "您好，您的踏勘申请（案件编号{case_number}）已受理并安排踏勘人员。请用手机打开 {url} "
        "查看进度、选择视频踏勘时间，无需安装软件；案件结束后{days}天内仍可用它查看结果和评价。"
        "请勿将链接转发他人。",
        "Your inspection request (case {case_number}) has been accepted and inspectors have been "
        "assigned. Open {url} on your phone to follow it and book the video inspection (no app "
        "is needed); it keeps working for {days} days after the case ends, to see the outcome "
        "and rate us. Do not share it.",
    ),
    _t(
        "applicant_link",
        "您好，案件{case_number}的云踏勘新链接：{url}。之前的链接已停用。请用手机打开，"
        "无需安装软件；案件结束后{days}天内仍可使用。请勿将链接转发他人。",
        "Your new cloud inspection link for case {case_number}: {url}. Earlier links no longer "
        "work. Open it on your phone (no app is needed); it keeps working for {days} days after "
        "the case ends. Do not share it.",
    ),
    _t(
        "appointment_proposed",
        "您好，案件{case_number}拟定于{time}进行视频踏勘，请通过踏勘链接确认或另选时间。",
        "The video inspection of case {case_number} is proposed for {time}. Please confirm "
        "or choose another time through your inspection link.",
    ),
    _t(
        "appointment_confirmed",
        "您好，案件{case_number}的视频踏勘时间已确定为{time}。"
        "请提前阅读准备指南，并在开始前10分钟完成摄像头和网络检测。",
        "The video inspection of case {case_number} is booked for {time}. Please read the "
        "preparation guide and run the camera and network check 10 minutes before.",
    ),
    _t(
        "appointment_changed",
        "您好，案件{case_number}的视频踏勘时间已由{old_time}调整为{time}，原因：{reason}。"
        "给您带来不便，敬请谅解。",
        "The video inspection of case {case_number} has moved from {old_time} to {time} "
        "(reason: {reason}). We apologise for the inconvenience.",
    ),
    _t(
        "appointment_reminder",
        "您好，案件{case_number}的视频踏勘将于{time}开始，请准时通过踏勘链接进入。",
        "The video inspection of case {case_number} starts at {time}. Please join on time "
        "through your inspection link.",
    ),
    _t(
        "switched_onsite",
        "您好，案件{case_number}将改为由踏勘人员到现场核查，原因：{reason}。"
        "原定的视频踏勘时间取消，工作人员会另行与您约定上门时间，请保持电话畅通。",
        "The inspection of case {case_number} will now be done by inspectors visiting the "
        "site (reason: {reason}). Any booked video inspection is cancelled; staff will "
        "contact you to agree a visit time.",
    ),
    _t(
        "rectification_requested",
        "您好，案件{case_number}经踏勘有{items}项需要补齐补正，"
        "请于{deadline}前通过踏勘链接逐项上传整改照片。",
        "The inspection of case {case_number} found {items} item(s) to rectify. Please upload "
        "photos of each item through your inspection link before {deadline}.",
    ),
    _t(
        "rectification_reminder",
        "您好，案件{case_number}的补齐补正材料将于{deadline}截止，请尽快上传。",
        "The rectification of case {case_number} is due by {deadline}; please upload it soon.",
    ),
    _t(
        "opinion_issued_applicant",
        "您好，案件{case_number}的电子踏勘意见书已出具，踏勘结论：{conclusion_zh}。"
        "审批结果请留意受理窗口的后续通知。",
        "The electronic inspection opinion for case {case_number} has been issued; "
        "conclusion: {conclusion_en}. The service window will tell you the approval decision.",
    ),
    _t(
        "case_closed",
        "您好，您的申请（案件编号{case_number}）已办结：{outcome_zh}（决定书编号{decision_no}）。"
        "欢迎通过踏勘链接对本次踏勘服务进行评价。",
        "Your application (case {case_number}) is complete: {outcome_en} (decision no. "
        "{decision_no}). Please rate our inspection service through your inspection link.",
    ),
    # to staff
    _t(
        "case_withdrawn",
        "案件{case_number}的申请人已撤回申请，案件已结束，未进行的预约一并取消。原因：{reason}",
        "The applicant of case {case_number} withdrew the application; the case has ended and "
        "any pending appointment is cancelled. Reason: {reason}",
    ),
    _t(
        "inspector_assigned",
        "您已被抽取为案件{case_number}的{position_zh}，踏勘地点：{address}。请及时与申请人预约。",
        "You have been drawn as the {position_en} of case {case_number} at {address}. "
        "Please book a time with the applicant.",
    ),
    _t(
        "cosign_requested",
        "案件{case_number}的踏勘意见书草稿已由主办踏勘人员签名，等待您会签，请及时处理。",
        "The draft inspection opinion for case {case_number} has been signed by the lead "
        "inspector and awaits your co-signature.",
    ),
    _t(
        "rectification_submitted",
        "案件{case_number}的申请人已提交第{round}轮补齐补正材料（{items}项），请及时复核。",
        "The applicant of case {case_number} has submitted rectification round {round} "
        "({items} item(s)); please review it.",
    ),
    _t(
        "review_requested",
        "案件{case_number}的踏勘意见书已提交审核，请及时处理。",
        "The inspection opinion for case {case_number} awaits your review.",
    ),
    _t(
        "opinion_issued_window",
        "案件{case_number}（申请人：{applicant_name}）的电子踏勘意见书已出具，"
        "踏勘结论：{conclusion_zh}，请据此办理审批。",
        "The electronic inspection opinion for case {case_number} (applicant: "
        "{applicant_name}) has been issued; conclusion: {conclusion_en}. "
        "Please proceed with the approval.",
    ),
    _t(
        "sla_yellow",
        "黄牌预警：案件{case_number}将于{due}到期，请抓紧办理。",
        "Yellow card: case {case_number} is due at {due}; please act soon.",
    ),
    _t(
        "sla_red",
        "红牌警告：案件{case_number}已于{due}超期，请立即处理并说明原因。",
        "Red card: case {case_number} became overdue at {due}; act now and record the reason.",
    ),
    _t(
        "supervision_order",
        "督办：案件{case_number}已于{due}超期，已生成督办单，请督促主办踏勘人员说明原因并答复处理措施。",
        "Supervision order: case {case_number} became overdue at {due}. Please have the lead "
        "inspector record the reason and answer with the measures taken.",
    ),
    _t(
        "supervision_order_escalated",
        "督办升级：案件{case_number}的督办单超过{days}个工作日未答复，已升级至第{level}级，请督促办理。",
        "Supervision order escalated: the order on case {case_number} was not answered within "
        "{days} working day(s) and is now at level {level}; please see to it.",
    ),
    _t(
        "special_procedure_requested",
        "案件{case_number}申请启动特别程序（{kind_zh}），原因：{reason}。请审批。",
        "A special procedure ({kind_en}) is requested on case {case_number} (reason: "
        "{reason}); please approve or decline it.",
    ),
    _t(
        "bad_rating",
        "差评提醒：案件{case_number}的申请人评价为{score}分，请回访并填写处理情况。",
        "Bad rating: the applicant of case {case_number} rated the service {score}/5; "
        "please follow up and record the outcome.",
    ),
    _t(
        "no_show",
        "案件{case_number}预约于{time}的视频踏勘，申请人未按时进入，请联系申请人重新预约。",
        "The applicant did not join the video inspection of case {case_number} booked for "
        "{time}; please contact them to rebook.",
    ),
]

TEMPLATES: Mapping[str, Template] = {t.code: t for t in _ALL}


def get(code: str) -> Template:
    try:
        return TEMPLATES[code]
    except KeyError:
        raise TemplateError(f"unknown notification template {code!r}") from None


def render(code: str, params: Mapping[str, Any]) -> Rendered:
    """Both texts of ``code``; every parameter the template uses must be given."""
    template = get(code)
    missing = sorted(template.params - params.keys())
    if missing:
        raise TemplateError(
            f"template {code!r} needs parameter(s) {', '.join(missing)}; "
            f"given: {', '.join(sorted(params)) or 'none'}"
        )
    values = {k: str(v) for k, v in params.items()}
    return Rendered(code, template.zh.format_map(values), template.en.format_map(values))


# The applicant's link carries its access token: once a message has left (or finally failed),
# the outbox keeps the message without it, so the table never holds a working link for longer
# than the sending takes.
SECRET_PARAMS = frozenset({"url"})
REMOVED = "[链接已发出，不再保存 / link sent, not kept]"


def without_secrets(code: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The row's params and texts with every secret parameter removed; None if it has none."""
    if not SECRET_PARAMS & params.keys():
        return None
    kept = {key: REMOVED if key in SECRET_PARAMS else value for key, value in params.items()}
    shown = render(code, kept)
    return {"params": kept, "text_zh": shown.text_zh, "text_en": shown.text_en}
