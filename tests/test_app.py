"""Real-browser test of the Streamlit app (app.py): draw a digit and upload images in
Debian's chromium, driven by Playwright, and take a screenshot: into pytest's tmp_path, or
into reports/figures/app.png (the README's) when ``DIGITS_WRITE_FIGURES=1`` (``make figures``).

Playwright cannot download browsers here, so the test installs Debian's ``chromium``
with apt-get when ``/usr/bin/chromium`` is missing, and points Playwright at it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from servers import free_port, live_server

from digits.runtime.modelfile import atomic_write_bytes

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
README_SCREENSHOT = ROOT / "reports" / "figures" / "app.png"
WAIT_MS = 120_000  # the machine may be busy: TensorFlow loads, Streamlit reruns


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get when it is missing."""
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            "apt-get update && apt-get install -y chromium",
            shell=True,
            check=False,
            capture_output=True,
            timeout=900,
        )
    if not CHROMIUM.exists():
        pytest.skip("chromium is missing and could not be installed with apt-get")
    return CHROMIUM


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """``streamlit run app.py`` on a free loopback port; its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "streamlit.log"
    command = ["-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false"]
    with live_server(command, port, "/_stcore/health", log) as (url, _):
        yield url


@pytest.fixture
def page(chromium, app_url, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.set_default_timeout(WAIT_MS)
        page.goto(app_url)
        try:
            yield page
        finally:
            page.screenshot(path=str(tmp_path / "last.png"), full_page=True)  # to debug
            browser.close()


def stroke(page, points: list[tuple[float, float]], steps: int = 15) -> None:
    """Draw one stroke through ``points`` (canvas pixels): mouse down, move in steps, up."""
    # In streamlit-drawable-canvas 0.13 the canvas layers sit in a shadow root; Playwright's
    # CSS locators pierce open shadow roots. Fabric.js listens on the upper canvas.
    box = page.locator("canvas.upper-canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for (xa, ya), (xb, yb) in zip(points, points[1:]):
        for k in range(1, steps + 1):
            page.mouse.move(x0 + xa + (xb - xa) * k / steps, y0 + ya + (yb - ya) * k / steps)
    page.mouse.up()


def answers(page, source: str, count: int = 1) -> list[str]:
    """The big digits shown for ``source`` once ``count`` of them are on the page."""
    selector = f".digit-answer[data-source={source}]"
    page.wait_for_function(
        f"document.querySelectorAll('{selector}').length >= {count}", timeout=WAIT_MS
    )
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def settle(page) -> None:
    """Wait until the app has finished its rerun (no running indicator, images loaded)."""
    page.wait_for_function(
        "!document.querySelector('[data-testid=stStatusWidget]')"
        " && [...document.querySelectorAll('img')].every(i => i.complete)",
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(500)


def open_number_mode(page) -> None:
    """Switch to Number mode and wait for *its* canvas (twice as wide as Draw's).

    Draw's canvas is still on the page while the app reruns: a stroke drawn before the
    rerun ends lands on it, and no number is ever shown (a busy machine made this race)."""
    page.get_by_text("Number", exact=True).click()
    page.get_by_text("Write a number on one line", exact=False).first.wait_for()
    canvas = page.locator("canvas.upper-canvas")
    for _ in range(WAIT_MS // 250):
        # Both canvases can be there at once: read every width in one call (not strict)
        widths = canvas.evaluate_all("all => all.map(c => c.getBoundingClientRect().width)")
        if len(widths) == 1 and widths[0] > 1.5 * 280:
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError("Number mode's canvas did not appear")
    settle(page)


def test_draw_clear_and_upload(page, tmp_path):
    page.wait_for_selector("canvas.upper-canvas")
    page.wait_for_timeout(500)
    stroke(page, [(60, 60), (220, 60), (140, 240)])  # a 7
    assert answers(page, "draw") == ["7"]
    page.wait_for_function("document.querySelectorAll('[data-testid=stImage]').length >= 2")
    settle(page)
    # The committed screenshot is rewritten only on purpose (make figures).
    write_readme = os.environ.get("DIGITS_WRITE_FIGURES") == "1"
    screenshot = README_SCREENSHOT if write_readme else tmp_path / "app.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(screenshot, page.screenshot(full_page=True))

    page.get_by_role("button", name="Clear").click()  # one tap: an empty canvas, no answer
    page.wait_for_function("!document.querySelector('.digit-answer')")
    page.wait_for_selector("canvas.upper-canvas")
    page.wait_for_timeout(500)
    stroke(page, [(140, 40), (140, 240)])  # a 1
    assert answers(page, "draw") == ["1"]

    page.get_by_text("Upload", exact=True).click()
    files = [ROOT / "digit_examples" / "3_a.png", ROOT / "digit_examples" / "8_b.jpg"]
    page.locator("input[type=file]").set_input_files([*map(str, files), str(ROOT / "README.md")])
    assert answers(page, "upload", count=2) == ["3", "8"]
    page.get_by_text("could not be read").first.wait_for()  # README.md: a clear message


def test_number_mode(page):
    pytest.importorskip("digits.read", reason="the number reader (digits.read) is not here")
    open_number_mode(page)
    stroke(page, [(100, 30), (100, 180)])  # 1
    page.wait_for_selector(".number-answer")
    stroke(page, [(300, 40), (440, 40), (360, 190)])  # 7
    page.wait_for_function(
        "document.querySelector('.number-answer')?.innerText.trim() === '17'", timeout=WAIT_MS
    )
    page.get_by_text("7: ", exact=False).first.wait_for()  # each digit's confidence
    settle(page)


def _ellipse(cx, cy, rx, ry, start, end, n=40) -> list[tuple[float, float]]:
    angles = np.radians(np.linspace(start, end, n))
    return [(cx + rx * np.sin(a), cy - ry * np.cos(a)) for a in angles]


#: "2026" in two pen strokes whose digits touch: a 2 whose base runs into the 0 (drawn on
#: without lifting the pen), and a 2 whose base runs into the 6.
JOINED_2026 = [
    [(25, 60), (45, 32), (75, 28), (98, 45), (98, 75), (40, 170), (130, 172)]
    + _ellipse(165, 102, 38, 70, 200, 560)[1:],
    [(225, 60), (245, 32), (275, 28), (298, 45), (298, 75), (240, 170), (335, 172)]
    + [(440, 30), (400, 45), (368, 85), (352, 130), (360, 168), (392, 182), (425, 170)]
    + [(437, 138), (418, 110), (384, 106), (360, 128)],
]


def test_number_mode_reads_touching_digits(page):
    open_number_mode(page)
    for points in JOINED_2026:
        stroke(page, points, steps=4)
        page.wait_for_selector(".number-answer")
    page.wait_for_function(
        "document.querySelector('.number-answer')?.innerText.trim() === '2026'", timeout=WAIT_MS
    )
    settle(page)


@pytest.fixture
def main_module_kept(monkeypatch):
    """AppTest runs app.py as ``__main__`` and leaves it there: a later test whose code
    spawns processes (digits batch) would have each child run the app. Put it back."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


def test_app_script_runs_and_offers_the_models(main_module_kept):
    """Fast check without a browser (AppTest cannot draw on the canvas)."""
    from streamlit.testing.v1 import AppTest

    from digits.paths import MODEL_PATH, MODELS_DIR

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception
    assert app.radio[0].options[:3] == ["Draw", "Upload", "Camera"]
    expected = [
        label
        for label, path in [
            ("LiteRT float", MODELS_DIR / "digits_float32.tflite"),
            ("LiteRT int8", MODELS_DIR / "digits_int8.tflite"),
            ("Keras (.h5)", MODEL_PATH),
        ]
        if path.is_file()
    ]
    assert app.sidebar.selectbox[0].options == expected
    for label in expected[1:]:  # each other model loads and the page still renders
        app.sidebar.selectbox[0].select(label).run()
        assert not app.exception and not app.error
