"""Every service's /docs and /redoc load from the service itself: no CDN, so they work offline."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from warren.cli._project import load_project
from warren.runtime import create_app

SERVICES = load_project(Path(__file__).parent).services


@pytest.mark.parametrize("name", SERVICES)
async def test_the_docs_pages_and_their_assets_come_from_the_service(name: str) -> None:
    [service] = [s for s in load_project(Path(__file__).parent).build() if s.name == name]
    transport = httpx.ASGITransport(app=create_app(service))  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        pages = {path: await http.get(path) for path in ("/docs", "/redoc")}
        for page in pages.values():
            assert page.status_code == 200
            assert "cdn" not in page.text.lower()
        scripts = ["/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"]
        for script in scripts:
            assert any(script in page.text for page in pages.values())
            asset = await http.get(script)
            assert asset.status_code == 200
            assert len(asset.content) > 100_000
