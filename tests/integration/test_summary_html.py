"""The HTML summary page: pure checks of the markup, then the page in a real headless browser."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from rules.summary.html import html
from tests.support import REPO, require
from tests.support.png import decode as png_decode
from tests.support.summaries import RANKING, sizes_by_model, two_models

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# What this machine's chromium needs to run headless, and to stay off the network.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,2000",
]


# The page in a real browser: what a person would see, measured through the live DOM.


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        require(f"no {' or '.join(missing)} (Debian packages chromium and chromium-driver)")
    tmp = tmp_path_factory.mktemp("summary-html")
    page = tmp / "summary.html"
    page.write_text(html(two_models()), encoding="utf-8")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # to see every request
    # A driver path of our own keeps the client from looking for (or downloading) one.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get(page.as_uri())
        yield driver
    finally:
        driver.quit()


def _boxes(driver: WebDriver, selector: str) -> list[dict[str, float]]:
    boxes: list[dict[str, float]] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.getBoundingClientRect().toJSON())",
        selector,
    )
    return boxes


@pytest.mark.browser
def test_browser_tables_render(browser: WebDriver) -> None:
    for model, sizes in sizes_by_model(two_models()).items():
        table = browser.find_element(By.CSS_SELECTOR, f"#model-{model} table.variants")
        assert table.size["width"] > 300 and table.size["height"] > 0
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == len(sizes) and all(r.size["height"] > 10 for r in rows)


@pytest.mark.browser
def test_browser_bars_match_sizes(browser: WebDriver) -> None:
    for model, sizes in sizes_by_model(two_models()).items():
        widths = [b["width"] for b in _boxes(browser, f"#model-{model} svg.size-bars rect.bar")]
        assert len(widths) == len(sizes) and min(widths) > 0
        for width, size in zip(widths, sizes, strict=True):
            assert abs(width - max(widths) * size / max(sizes)) <= 1.5, (model, widths, sizes)


@pytest.mark.browser
def test_browser_points_inside_their_chart(browser: WebDriver) -> None:
    pairs: list[list[dict[str, float]]] = browser.execute_script(
        "return [...document.querySelectorAll('svg.accuracy-chart circle.point')].map(c =>"
        " [c.getBoundingClientRect().toJSON(), c.ownerSVGElement.getBoundingClientRect().toJSON()])"
    )
    assert len(pairs) == 3
    for point, chart in pairs:
        assert point["width"] > 0 and chart["width"] > 0 and chart["height"] > 0
        assert chart["left"] - 0.5 <= point["left"] and point["right"] <= chart["right"] + 0.5
        assert chart["top"] - 0.5 <= point["top"] and point["bottom"] <= chart["bottom"] + 0.5
    assert not browser.find_elements(By.CSS_SELECTOR, "#model-flex svg.accuracy-chart")
    assert browser.find_element(By.CSS_SELECTOR, "#model-flex .no-chart").is_displayed()


@pytest.mark.browser
def test_browser_op_bars_inside_their_chart(browser: WebDriver) -> None:
    pairs: list[list[dict[str, float]]] = browser.execute_script(
        "return [...document.querySelectorAll('svg.ops-chart rect, svg.ops-chart text')].map(e =>"
        " [e.getBoundingClientRect().toJSON(), e.ownerSVGElement.getBoundingClientRect().toJSON()])"
    )
    bars = _boxes(browser, "#model-digits svg.ops-chart rect.op-bar")
    assert len(bars) == len(RANKING.ops) and min(b["width"] for b in bars) > 0
    assert len(pairs) > len(bars)
    for box, chart in pairs:
        assert chart["left"] - 0.5 <= box["left"] and box["right"] <= chart["right"] + 0.5
        assert chart["top"] - 0.5 <= box["top"] and box["bottom"] <= chart["bottom"] + 0.5


@pytest.mark.browser
def test_browser_made_no_requests(browser: WebDriver) -> None:
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    # Resource timing records http(s) loads only; the browser's log has file:// ones too.
    log = cast(Any, browser).get_log("performance")  # Chrome's driver has it; the stubs do not
    events = [json.loads(e["message"])["message"] for e in log]
    sent = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    assert browser.current_url in sent
    assert sent[sent.index(browser.current_url) + 1 :] == []  # nothing after the page itself


BAR = (0x5B, 0x8F, 0xD6)  # .bar, .op-bar (html.py's stylesheet)
BREACHED = (0xD1, 0x24, 0x2F)  # .bar.breach, .op-bar.off-scale
TEXT = (0x1F, 0x23, 0x28)


@pytest.mark.browser
def test_browser_screenshot(browser: WebDriver) -> None:
    """A full-page screenshot, kept as a test artifact for a person to look at, and read back:
    the page is drawn (text, tables, charts), and every bar has its colour where the DOM puts it."""
    out = Path(os.environ.get("TFLITE_BUILD_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    out.mkdir(parents=True, exist_ok=True)
    width, height = browser.execute_script(  # the page itself, not the empty window below it
        "return [document.documentElement.scrollWidth,"
        " Math.ceil(document.body.getBoundingClientRect().bottom) + 24]"
    )
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )  # fmt: skip
    png = out / "summary.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    image = png_decode(png.read_bytes())
    assert (image.width, image.height) == (width, height)
    colours = image.colours()
    white = colours.get((0xFF, 0xFF, 0xFF), 0)
    assert white < 0.97 * width * height, "the page is (nearly) blank"
    assert len(colours) > 100 and colours.get(TEXT, 0) > 1000  # antialiased text in its colour
    bars: list[dict[str, Any]] = browser.execute_script(
        "return [...document.querySelectorAll('svg.size-bars rect.bar, svg.ops-chart rect.op-bar')]"
        ".map(e => ({...e.getBoundingClientRect().toJSON(), cls: e.getAttribute('class')}))"
    )
    assert browser.execute_script("return [window.scrollX, window.scrollY]") == [0, 0]
    expected = {BAR: 0.0, BREACHED: 0.0}
    for bar in bars:
        colour = BREACHED if {"breach", "off-scale"} & set(bar["cls"].split()) else BAR
        x, y = int(bar["left"] + bar["width"] / 2), int(bar["top"] + bar["height"] / 2)
        assert image.pixel(x, y) == colour, bar
        expected[colour] += bar["width"] * bar["height"]
    # One bar of each colour at least (digits/int8 is over budget), and their pixels are there:
    # every bar is painted whole, in its colour (antialiased edges aside).
    assert all(area > 0 for area in expected.values()), expected
    for colour, area in expected.items():
        assert colours.get(colour, 0) >= 0.8 * area, (colour, area)
