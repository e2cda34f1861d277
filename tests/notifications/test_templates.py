"""Every message template renders in Chinese and English; a missing parameter is refused."""

from __future__ import annotations

import pytest

from server.notifications.templates import PREFIX_EN, PREFIX_ZH, TEMPLATES, TemplateError, render

REQUIRED = {
    "case_assigned",
    "appointment_proposed",
    "appointment_confirmed",
    "appointment_changed",
    "rectification_requested",
    "rectification_reminder",
    "opinion_issued_applicant",
    "opinion_issued_window",
    "sla_yellow",
    "sla_red",
}


def _params(code: str) -> dict[str, str]:
    return {name: f"<{name}>" for name in TEMPLATES[code].params}


def test_the_issue_s_templates_exist() -> None:
    assert REQUIRED <= TEMPLATES.keys()


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_template_renders_in_chinese_and_english(code: str) -> None:
    params = _params(code)
    rendered = render(code, params)
    assert rendered.text_zh.startswith(PREFIX_ZH)
    assert rendered.text_en.startswith(PREFIX_EN)
    for text in (rendered.text_zh, rendered.text_en):
        assert "{" not in text
        assert "}" not in text
    for name, value in params.items():
        assert value in rendered.text_zh + rendered.text_en, name
    assert any("\u4e00" <= ch <= "\u9fff" for ch in rendered.text_zh)
    assert rendered.text_en.isascii()


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_each_language_uses_the_case_number(code: str) -> None:
    rendered = render(code, _params(code))
    assert "<case_number>" in rendered.text_zh
    assert "<case_number>" in rendered.text_en


def test_missing_parameter_is_refused_with_its_name() -> None:
    params = _params("appointment_changed")
    del params["reason"]
    with pytest.raises(TemplateError, match="reason"):
        render("appointment_changed", params)


def test_unknown_template_is_refused() -> None:
    with pytest.raises(TemplateError, match="no_such_template"):
        render("no_such_template", {})


def test_values_are_inserted_verbatim_not_formatted_again() -> None:
    rendered = render("sla_red", {"case_number": "{0}", "due": "2026-03-05 14:30"})
    assert "{0}" in rendered.text_zh
