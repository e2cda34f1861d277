"""Opinion test fixtures: a sample opinion (30 items, 20 photos), dev signing material, and
the development TSA answering RFC 3161 over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.devtools.ca import ensure_dev_signing_material
from server.devtools.samples import sample_content, sample_photos
from server.devtools.tsa import DevTsaServer
from server.opinions.content import OpinionContent
from server.opinions.pdf import render_opinion_pdf
from server.opinions.signing import SigningMaterial, sign_pdf


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return sample_photos(20, size=(640, 480))


@pytest.fixture(scope="session")
def content(photos: dict[str, bytes]) -> OpinionContent:
    return sample_content(items=30, photos=photos)


@pytest.fixture(scope="session")
def pdf(content: OpinionContent, photos: dict[str, bytes]) -> bytes:
    return render_opinion_pdf(content, photos)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def material(data_dir: Path) -> SigningMaterial:
    return ensure_dev_signing_material(data_dir)


@pytest.fixture(scope="session")
def signed_pdf(pdf: bytes, material: SigningMaterial) -> bytes:
    return sign_pdf(pdf, material, reason="踏勘意见 / inspection opinion", location="示例市")


@pytest.fixture(scope="session")
def tsa(data_dir: Path, material: SigningMaterial) -> Iterator[DevTsaServer]:
    """The dev TSA, its certificate issued by the same dev CA as ``material``."""
    with DevTsaServer(data_dir) as server:
        yield server
