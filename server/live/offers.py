"""Refuse an SDP offer that aiortc could not apply, before a peer connection is made for it.

aiortc's parser answers bad input with whatever it hits first (AssertionError, IndexError,
KeyError, ValueError), and ``setRemoteDescription`` fails with an AttributeError on a media
section that has no DTLS fingerprint. Checked here, every such offer becomes one ``MediaError``
(the client's ``media_error``) instead of a traceback and a half-built peer.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from signaling.media import MediaError


def check_offer(sdp: str) -> None:
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:
        raise MediaError("the SDP offer could not be read") from exc
    if not description.media:
        raise MediaError("the SDP offer has no media section")
    for media in description.media:
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise MediaError("an SDP media section has no ICE username fragment or password")
        if media.dtls is None or not media.dtls.fingerprints:
            raise MediaError("an SDP media section has no DTLS fingerprint and role")
