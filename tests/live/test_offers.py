"""An SDP offer aiortc could not apply is refused with one clear error, before any peer."""

from __future__ import annotations

import pytest

from server.live.offers import check_offer
from signaling.media import MediaError
from tests.reliability.signaling_fuzz import SDP_OFFER


def test_a_complete_offer_passes() -> None:
    check_offer(SDP_OFFER)


@pytest.mark.parametrize("length", [5, 40, 120, 300, 520, 700])
def test_a_truncated_offer_is_refused(length: int) -> None:
    with pytest.raises(MediaError):
        check_offer(SDP_OFFER[:length])


def test_an_offer_without_fingerprints_is_refused() -> None:
    bare = "\r\n".join(line for line in SDP_OFFER.split("\r\n") if "fingerprint" not in line)
    with pytest.raises(MediaError, match="DTLS"):
        check_offer(bare)
