"""/api/docs and /api/redoc work without internet: every asset they load is the app's own."""

from __future__ import annotations

import re

import httpx
import pytest

PAGES = ["/api/docs", "/api/redoc"]
ASSET_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


def referenced_urls(html: str) -> list[str]:
    """Every src/href and every quoted URL handed to the page's script."""
    attributes = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    in_script = re.findall(
        r"""(?:url|oauth2RedirectUrl|spec-url)\s*[:=]\s*['"]([^'"]+)['"]""", html
    )
    return attributes + in_script


@pytest.mark.parametrize("page", PAGES)
async def test_docs_page_loads_only_same_origin_assets(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    urls = referenced_urls(response.text)
    assert urls, "the page references no assets at all"
    foreign = [url for url in urls if not url.startswith("/")]
    assert not foreign, f"{page} loads from other hosts: {foreign}"
    assert "fonts.googleapis" not in response.text
    assert "cdn." not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("page", PAGES)
async def test_every_docs_asset_is_served_with_its_type(
    client: httpx.AsyncClient, page: str
) -> None:
    html = (await client.get(page)).text
    assets = [u for u in referenced_urls(html) if u.rsplit(".", 1)[-1] in ("js", "css", "png")]
    assert assets
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200, url
        wanted = ASSET_TYPES["." + url.rsplit(".", 1)[-1]]
        assert response.headers["content-type"].split(";")[0] in wanted, url
        assert len(response.content) > 1000, url


async def test_the_docs_pages_are_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/api/docs") or p == "/api/redoc"]
