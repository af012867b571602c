"""The service's API pages (``/docs``, ``/redoc``) work offline: every file they load is
served by the service itself (from the fastapi-offline wheel), none from a CDN.

One test reads the HTML in-process; the other opens ``/docs`` in Debian's chromium (see
test_app.py) with every request that leaves loopback aborted, and waits for Swagger UI to
draw the service's operations.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from servers import free_port, live_server
from test_app import CHROMIUM_ARGS
from test_app import chromium as chromium  # the fixture (apt-get installs it)

from digits.runtime.modelfile import ModelInfo

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""", re.IGNORECASE)
WAIT_MS = 60_000


class _Links(HTMLParser):
    """The ``src``/``href`` of each ``<script>``/``<link>``: [(tag, rel, url)]."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag == "script" else values.get("href")
        if tag in ("script", "link") and url:
            self.links.append((tag, values.get("rel") or "", url))


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("", "data", "blob"):
        return not parts.netloc  # a path on this server, or inline data
    return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK


class _StubPredictor:
    """Enough of a Predictor for `create_app` (the pages never predict)."""

    model_path = Path("stub.tflite")
    info = ModelInfo(sha256="0" * 64)
    class_names = None


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from digits.apps.service import create_app

    with TestClient(create_app(predictor=_StubPredictor())) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_files(client, page):
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    outside = [url for url in URL.findall(html) if not _is_local(url)]
    assert outside == [], f"{page} refers outside the service: {outside}"
    parser = _Links()
    parser.feed(html)
    scripts = [url for tag, _, url in parser.links if tag == "script"]
    styles = [url for tag, rel, url in parser.links if tag == "link" and "stylesheet" in rel]
    assert scripts and (styles or page == "/redoc"), parser.links  # ReDoc inlines its CSS
    for url in scripts + styles:
        assert _is_local(url), url
        asset = client.get(urljoin(page, url))
        kind = asset.headers.get("content-type", "")
        assert asset.status_code == 200, (url, asset.status_code)
        assert ("javascript" if url in scripts else "text/css") in kind, (url, kind)
        assert len(asset.content) > 10_000, (url, len(asset.content))  # the real bundle
    assert client.get("/openapi.json").status_code == 200
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and not [u for u in URL.findall(redirect.text)]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """``python -m digits serve`` on a free loopback port; its URL once /health answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("docs") / "server.log"
    command = ["-m", "digits", "serve", "--port", str(port)]
    with live_server(command, port, "/health", log) as (url, _):
        yield url


def test_swagger_ui_renders_in_chromium_without_network(chromium, service, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    spec = httpx.get(service + "/openapi.json").json()["paths"]
    assert "post" in spec["/predict"] and "post" in spec["/read"]
    aborted: list[tuple[str, str]] = []  # (resource type, URL) of requests off loopback
    errors: list[str] = []  # loopback answers >= 400

    def only_loopback(route) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            aborted.append((route.request.resource_type, route.request.url))
            route.abort("internetdisconnected")

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.route("**/*", only_loopback)
            page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
            page.goto(service + "/docs")
            for path, methods in spec.items():  # one block per operation, drawn by Swagger UI
                for method in methods:
                    selector = f".opblock-{method} .opblock-summary-path[data-path='{path}']"
                    try:
                        page.locator(selector).wait_for(state="visible")
                    except playwright_api.TimeoutError:
                        pytest.fail(f"no {method} {path}; aborted {aborted}, errors {errors}")
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)  # to debug
        finally:
            browser.close()
    assert aborted == [], f"/docs asked for files outside loopback: {aborted}"
    assert errors == [], errors
