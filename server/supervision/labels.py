"""The words of the rating (好差评) people see: the five levels and the reasons of a bad one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from server.cases.states import Label

# Score 1–5 as the five levels of the 好差评 system; 1–2 is a bad rating (差评).
SCORE_LABELS: Mapping[int, Label] = MappingProxyType(
    {
        5: Label("非常满意", "very satisfied"),
        4: Label("满意", "satisfied"),
        3: Label("基本满意", "fairly satisfied"),
        2: Label("不满意", "dissatisfied"),
        1: Label("非常不满意", "very dissatisfied"),
    }
)

# Why a rating is bad: one or more of these, plus the applicant's own words.
BAD_REASONS: Mapping[str, Label] = MappingProxyType(
    {
        "slow": Label("办理时间太长", "it took too long"),
        "appointment": Label("预约不方便、等待久", "hard to get an appointment"),
        "attitude": Label("工作人员态度不好", "the staff were unfriendly"),
        "unclear": Label("要求没讲清楚", "what was needed was not explained"),
        "video": Label("视频通话不顺畅", "the video call did not work well"),
        "result": Label("对结果有异议", "I disagree with the result"),
        "other": Label("其他（请在下方说明）", "something else (please say below)"),
    }
)
OTHER_REASON = "other"

SOURCE_LABELS: Mapping[str, Label] = MappingProxyType(
    {
        "rating": Label("差评", "bad rating"),
        "complaint": Label("投诉", "complaint"),
        "phone": Label("电话回访不满意", "dissatisfied on the follow-up call"),
    }
)
