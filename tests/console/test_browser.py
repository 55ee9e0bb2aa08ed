"""The web console in a real browser: Debian's chromium driven by Playwright against uvicorn on a
loopback port.

Checks that the page loads without script errors, that the globe canvas is drawn (its pixels
vary: a blank canvas is one colour), that a passes query fills the table, that live frames
arrive over the WebSocket (the page's frame counter increments) and that the porkchop plot is
drawn. Screenshots go to ``tests/console/artifacts/`` (git-ignored; ``STARBRAIN_TEST_ARTIFACTS``
overrides it). Skipped when /usr/bin/chromium or the playwright package is missing
(``scripts/install-debian-deps.sh`` installs chromium; never ``playwright install``).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from starbrain.console.app import VENDOR_DIR, create_app
from tests.console.conftest import N_SATS, TOKEN, serve_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("STARBRAIN_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (scripts/install-debian-deps.sh)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)


def png_pixels(data: bytes) -> np.ndarray:
    """A PNG screenshot -> RGB array (h, w, 3): with Pillow when installed, else decoded here."""
    try:
        import io

        from PIL import Image
    except ImportError:
        return _decode_png(data)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (as browsers' screenshots are); slow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        cur = np.zeros(stride, np.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 255
        else:  # Sub, Average, Paeth depend on the left neighbour: go pixel by pixel
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 255
        out[y], prev = cur, cur
    return out.reshape(height, width, channels)[..., :3].astype(np.uint8)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")  # fresh user-data-dir
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def console_url(store_file: Path) -> Iterator[str]:
    with serve_app(create_app(store_file)) as url:
        yield url


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    page.errors = errors
    yield page
    page.close()
    assert not errors, f"script errors in the page: {errors}"


def frames(page: Any) -> int:
    return int(page.text_content("#live-frames") or 0)


def test_console_loads_and_globe_is_drawn(page: Any, console_url: str) -> None:
    page.goto(f"{console_url}/")
    assert page.title() == "starbrain console"
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.wait_for_function("window.starbrain.frames >= 1")
    page.wait_for_timeout(500)  # a few animation frames
    renderer = page.evaluate("window.starbrain.renderer")
    if (VENDOR_DIR / "three" / "three.module.js").is_file():
        assert renderer == "webgl"
    else:
        assert renderer == "2d"
    assert page.text_content("#stat-objects") == str(N_SATS)
    shot = page.locator("#globe").screenshot(path=str(ARTIFACTS / "console-globe.png"))
    page.screenshot(path=str(ARTIFACTS / "console.png"))
    pixels = png_pixels(shot)
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    assert pixels.std() > 10.0, "the globe canvas is blank"
    assert len(colours) > 200, f"the globe canvas has only {len(colours)} colours"
    # satellites are drawn in their shells' colours: the first shell's cyan is in the picture
    cyan = (pixels[..., 2] > 180) & (pixels[..., 1] > 150) & (pixels[..., 0] < 150)
    assert cyan.sum() > 5, "no satellite of the first shell is visible"


def test_live_updates_arrive(page: Any, console_url: str) -> None:
    page.goto(f"{console_url}/")
    page.wait_for_function("window.starbrain && window.starbrain.frames >= 1")
    first = frames(page)
    t_first = page.text_content("#sim-time")
    page.wait_for_function(
        f"Number(document.querySelector('#live-frames').textContent) >= {first + 2}"
    )
    assert frames(page) >= first + 2
    assert page.text_content("#live-status") == "live"
    assert page.text_content("#sim-time") != t_first


def test_passes_query_shows_rows(page: Any, console_url: str) -> None:
    page.goto(f"{console_url}/")
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.click("button[data-tab=passes]")
    page.fill("#passes-hours", "3")
    page.fill("#custom-station", "Cape Town:-33.92,18.42,10")
    page.click("#passes-submit")
    page.wait_for_selector("#passes-table tbody tr")
    rows = page.locator("#passes-table tbody tr")
    assert rows.count() > 0
    assert "passes of" in (page.text_content("#passes-summary") or "")
    assert "Cape Town" in (page.text_content("#globe-labels") or "")
    rows.first.click()  # selects the satellite: details and ground track
    page.wait_for_selector("#selection:not([hidden])")
    assert "NORAD" in (page.text_content("#selection-body") or "")
    page.screenshot(path=str(ARTIFACTS / "console-passes.png"))


def test_porkchop_is_drawn(page: Any, console_url: str) -> None:
    page.goto(f"{console_url}/")
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.eval_on_selector("#porkchop-step", "el => (el.value = '4')")  # coarse grid: faster
    page.click("button[data-tab=mars]")
    page.wait_for_function("window.starbrain.porkchopData")
    page.wait_for_selector("#windows-table tbody tr td:nth-child(7)")
    shot = page.locator("#porkchop").screenshot(path=str(ARTIFACTS / "console-porkchop.png"))
    assert png_pixels(shot).std() > 10.0, "the porkchop canvas is blank"
    page.screenshot(path=str(ARTIFACTS / "console-mars.png"))


def test_token_in_url_authorises_the_page(browser_context: Any, store_file: Path) -> None:
    browser_context.clear_cookies()
    with serve_app(create_app(store_file, token=TOKEN)) as url:
        page = browser_context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            denied = page.goto(f"{url}/")
            assert denied.status == 401
            page.goto(f"{url}/?token={TOKEN}")
            page.wait_for_function("window.starbrain && window.starbrain.frames >= 1")
            assert "token" not in page.url  # removed from the address bar
            assert page.text_content("#stat-objects") == str(N_SATS)
        finally:
            page.close()


# -- the live loop's panels, over a store the loop filled (conftest.make_loop_store) --------------
@pytest.fixture(scope="module")
def loop_console(loop_store_file: Path) -> Iterator[tuple[str, Any]]:
    from starbrain.loop.publish import Bus

    app = create_app(loop_store_file)
    app.state.bus = Bus()  # as under `starbrain run`: loop messages go out over /ws/live
    with serve_app(app) as url:
        yield url, app.state.bus


def test_clicking_a_conjunction_shows_its_details(page: Any, loop_console: tuple[str, Any]) -> None:
    url, _ = loop_console
    page.goto(f"{url}/")
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.click("button[data-tab=conjunctions]")
    page.wait_for_selector("#conj-table tbody tr")
    row = page.locator("#conj-table tbody tr").first
    first_id = row.locator("td").first.text_content()
    row.click()
    page.wait_for_selector("#conj-detail:not([hidden])")
    text = page.text_content("#conj-detail") or ""
    for field in ("miss distance", "radial / in-track / cross-track", "TCA (UTC)",
                  "collision probability", "relative speed"):  # fmt: skip
        assert field in text, field
    assert f"NORAD {first_id}" in text
    assert page.evaluate("window.starbrain.conjunction.miss_distance_km") > 0
    page.screenshot(path=str(ARTIFACTS / "console-conjunction.png"))


def test_telemetry_chart_shows_the_anomaly(page: Any, loop_console: tuple[str, Any]) -> None:
    url, _ = loop_console
    page.goto(f"{url}/")
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.click("button[data-tab=telemetry]")
    page.wait_for_function("window.starbrain.series && window.starbrain.series.time.length > 0")
    assert page.input_value("#tm-parameter").endswith(":battery_temperature")
    assert page.evaluate("document.querySelector('#tm-chart').anomalyMarkers") == 1
    page.wait_for_selector("#tm-anomalies tbody tr")
    assert "battery-temperature-excursion" in (page.text_content("#tm-anomalies") or "")
    shot = page.locator("#tm-chart").screenshot(path=str(ARTIFACTS / "console-telemetry.png"))
    pixels = png_pixels(shot).astype(int)
    assert pixels.std() > 10.0, "the telemetry chart is blank"
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 120) & (pixels[..., 2] < 150)
    assert red.sum() > 10, "no anomaly marker drawn"
    page.screenshot(path=str(ARTIFACTS / "console-telemetry-tab.png"))


def test_loop_tab_lists_the_model_and_live_messages(
    page: Any, loop_console: tuple[str, Any]
) -> None:
    import time

    url, bus = loop_console
    page.goto(f"{url}/")
    page.wait_for_function("window.starbrain && window.starbrain.frames >= 1")
    page.click("button[data-tab=loop]")
    page.wait_for_function(
        "document.querySelector('#models-table').textContent.includes('loop-orbit')"
    )
    page.wait_for_function("document.querySelector('#loop-tasks').textContent.includes('06:35:00')")
    seen = int(page.text_content("#event-count") or 0)
    assert seen > 0  # the history from /api/loop
    message = {"subject": "starbrain.alerts", "sim_time": "2026-11-25T06:40:00.000Z",
               "kind": "conjunction", "message": "browser-test alert 4711"}  # fmt: skip
    deadline = time.monotonic() + 30
    while "4711" not in (page.text_content("#events") or ""):
        assert time.monotonic() < deadline, "the published message never reached the page"
        bus.publish(message)  # over the WebSocket, as the loop's publisher does
        page.wait_for_timeout(300)
    assert page.evaluate("window.starbrain.lastEvent.subject") == "starbrain.alerts"
    page.screenshot(path=str(ARTIFACTS / "console-loop.png"))


@pytest.fixture(scope="module")
def starlink_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.console.test_links_api import make_starlink_store

    path = make_starlink_store(tmp_path_factory.mktemp("browser-links") / "starlink.duckdb")
    with serve_app(create_app(path)) as url:
        yield url


def test_isl_links_and_route_are_drawn(page: Any, starlink_console: str) -> None:
    """Starlink shell 1 (72 x 22): all 3,168 +Grid links are drawn as line segments, and the
    London - New York route as one segment per hop, with its RTT in the links card."""
    import re

    page.goto(f"{starlink_console}/")
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.wait_for_function("window.starbrain.frames >= 1")
    page.wait_for_function("document.querySelector('#isl-shell').options.length > 0")
    page.check("#isl-toggle")
    page.wait_for_function("window.starbrain.islSegments > 0")
    assert page.evaluate("window.starbrain.islSegments") == 2 * 1584
    assert "3168 of 3168 links up" in (page.text_content("#isl-info") or "")
    page.check("#route-toggle")
    page.wait_for_function("window.starbrain.route !== null")
    route = page.evaluate("window.starbrain.route")
    assert route["connected"], "London - New York not connected over shell 1"
    assert page.evaluate("window.starbrain.routeSegments") == route["hops"]
    info = page.text_content("#route-info") or ""
    match = re.search(r"RTT (\d+\.\d\d) ms · (\d+) hops", info)
    assert match, f"no RTT shown: {info!r}"
    assert abs(float(match.group(1)) - route["rtt_ms"]) < 0.006
    assert 20.0 < route["rtt_ms"] < route["fibre_rtt_ms"]
    page.evaluate("window.starbrain.globe.lookAt(45, -40)")  # over the North Atlantic
    page.wait_for_timeout(700)
    shot = page.locator("#globe").screenshot(path=str(ARTIFACTS / "console-isl.png"))
    page.screenshot(path=str(ARTIFACTS / "console-isl-page.png"))
    pixels = png_pixels(shot)
    # the route's red (255, 42, 42): no shell colour has both green and blue this low
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 20, "the route is not drawn"
    # the layers follow the live frames: redrawn at the newest frame's simulated time
    seen = page.evaluate("window.starbrain.frames")
    page.wait_for_function(f"window.starbrain.frames > {seen}")
    page.wait_for_function("window.starbrain.linksTime === window.starbrain.simTime")
    # and the toggle removes the links again
    page.uncheck("#isl-toggle")
    page.wait_for_function("window.starbrain.islSegments === 0")
