"""The signaling protocol's parsing: typed messages in, structured errors for the rest."""

from __future__ import annotations

import json

import pytest

from signaling.messages import (
    MAX_SDP,
    Candidate,
    CurrentItem,
    ErrorCode,
    Join,
    Location,
    Offer,
    ProtocolError,
    dump,
    error,
    parse_client,
)


def code_of(text: str) -> ErrorCode:
    with pytest.raises(ProtocolError) as raised:
        parse_client(text)
    return raised.value.code


def test_parses_each_typed_message() -> None:
    assert parse_client('{"type":"join","token":"t"}') == Join(token="t")
    assert parse_client('{"type":"offer","sdp":"v=0"}') == Offer(sdp="v=0")
    assert parse_client('{"type":"candidate","candidate":null}') == Candidate(candidate=None)
    assert parse_client('{"type":"current_item","item_id":"A1"}') == CurrentItem(item_id="A1")
    located = parse_client('{"type":"location","latitude":31.2,"longitude":121.5}')
    assert isinstance(located, Location)


@pytest.mark.parametrize("text", ["not json", "[1,2]", '"join"', "{", "1e999999"])
def test_not_a_json_object_is_bad_json(text: str) -> None:
    assert code_of(text) is ErrorCode.bad_json


@pytest.mark.parametrize("text", ['{"type":"hack"}', "{}", '{"type":7}'])
def test_unknown_or_missing_type(text: str) -> None:
    assert code_of(text) is ErrorCode.unknown_type


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "join"},
        {"type": "join", "token": ""},
        {"type": "offer", "sdp": 5},
        {"type": "offer", "sdp": "x" * (MAX_SDP + 1)},
        {"type": "mute", "audio": "loud", "video": True},
        {"type": "location", "latitude": 91, "longitude": 0},
        {"type": "location", "latitude": "NaN", "longitude": 0},
        {"type": "candidate", "candidate": "c", "sdp_mline_index": -1},
        {"type": "leave", "extra": 1},
    ],
)
def test_wrong_fields_are_invalid(payload: dict[str, object]) -> None:
    assert code_of(json.dumps(payload)) is ErrorCode.invalid


def test_deep_nesting_is_refused_not_crashed() -> None:
    assert code_of("[" * 100_000 + "]" * 100_000) is ErrorCode.bad_json


def test_error_message_has_both_languages() -> None:
    rendered = json.loads(dump(error(ErrorCode.forbidden, about="current_item")))
    assert rendered["type"] == "error"
    assert rendered["code"] == "forbidden"
    assert rendered["message_zh"]
    assert rendered["message_en"]
    assert rendered["about"] == "current_item"
