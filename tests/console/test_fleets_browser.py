"""The other fleets' console panels in Debian's chromium (Playwright), on a store filled by the
demo's fleet writers: each panel is opened, its canvases drew (pixels vary; the points drawn
per line are those the API returned) and the numbers it shows are the API's. Skipped like
``test_browser.py`` when chromium or playwright is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from starbrain.console.app import create_app
from tests.console.conftest import serve_app
from tests.console.fleet_store import fleet_store_file
from tests.console.test_browser import ARTIFACTS, browser_context, page, png_pixels

__all__ = ["browser_context", "fleet_store_file", "page"]  # fixtures, for pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fleets_url(fleet_store_file: Path) -> Iterator[str]:
    with serve_app(create_app(fleet_store_file, token=None)) as url:
        yield url


def open_tab(page: Any, url: str, tab: str, ready: str) -> None:
    page.goto(f"{url}/")
    page.wait_for_function("window.starbrain && window.starbrain.ready")
    page.click(f"button[data-tab={tab}]")
    page.wait_for_function(ready)


def drawn(page: Any, canvas: str) -> list[int]:
    return page.evaluate(f"document.querySelector('{canvas}').drawn")


def assert_painted(page: Any, canvas: str, name: str) -> None:
    shot = page.locator(canvas).screenshot(path=str(ARTIFACTS / f"console-{name}.png"))
    assert png_pixels(shot).std() > 10.0, f"{canvas} is blank"


def test_vehicles_panel(page: Any, fleets_url: str) -> None:
    open_tab(page, fleets_url, "vehicles", "window.starbrain.vehicles")
    api = httpx.get(f"{fleets_url}/api/vehicles/track", params={"vehicle_id": "bmw-320i"}).json()
    assert drawn(page, "#veh-track") == [len(api["logs"][0]["x_m"])]
    assert_painted(page, "#veh-track", "vehicles-track")
    err = page.evaluate("window.starbrain.vehicles.error")
    cells = page.locator("#veh-error tbody tr").first.locator("td").all_text_contents()
    assert cells[3] == f"{err['rows'][0]['position_rmse_m']:.3f}"
    assert page.locator("#veh-error tbody tr").count() == len(err["rows"]) == 6  # 3 horizons x 2
    lane = page.evaluate("window.starbrain.vehicles.lane.run")
    assert drawn(page, "#veh-lane") == [len(lane["x_m"])]
    assert "11.0 m/s entry" in (page.text_content("#veh-lane-note") or "")
    assert_painted(page, "#veh-lane", "vehicles-lane")
    page.screenshot(path=str(ARTIFACTS / "console-vehicles.png"))


def test_arm_panel(page: Any, fleets_url: str) -> None:
    open_tab(page, fleets_url, "arm", "window.starbrain.arm")
    s = page.evaluate("window.starbrain.arm.series")
    n = len(s["time"])
    measured = sum(v is not None for v in s["tau_meas_1_nm"])
    assert drawn(page, "#arm-torque") == [n, measured, n, measured]
    assert_painted(page, "#arm-torque", "arm-torque")
    assert drawn(page, "#arm-drawing")[1] == 3  # base, elbow, tool
    page.eval_on_selector(
        "#arm-time", "el => { el.value = '50'; el.dispatchEvent(new Event('input')); }"
    )
    assert f"q1 {s['q1_rad'][50] * 57.29577951308232:.1f}°" in (
        page.text_content("#arm-time-label") or ""
    )
    assert_painted(page, "#arm-drawing", "arm-drawing")
    err = page.evaluate("window.starbrain.arm.error")
    assert page.locator("#arm-error tbody tr").count() == len(err["rows"]) == 3


def test_compute_panel(page: Any, fleets_url: str) -> None:
    open_tab(page, fleets_url, "compute", "window.starbrain.compute")
    site = page.evaluate("window.starbrain.compute.site")
    assert drawn(page, "#cmp-power") == [site["total"], site["total"]]  # 60 samples, stride 1
    assert drawn(page, "#cmp-temp") == [60, 60, 60]
    plan = page.evaluate("window.starbrain.compute.plan")
    assert drawn(page, "#cmp-schedule") == [len(plan["time_s"]), 2]
    text = page.text_content("#cmp-plan") or ""
    assert f"{plan['summary']['energy_mwh']:.1f} MWh" in text and "0 deadline misses" in text
    for c in ("#cmp-power", "#cmp-temp", "#cmp-schedule"):
        assert_painted(page, c, f"compute-{c[5:]}")
    assert page.locator("#cmp-jobs tbody tr").count() == 25


def test_posts_panel(page: Any, fleets_url: str) -> None:
    open_tab(page, fleets_url, "posts", "window.starbrain.posts")
    bursts = page.evaluate("window.starbrain.posts.bursts.bursts")
    assert page.locator("#posts-bursts tbody tr").count() == len(bursts) == 4
    assert drawn(page, "#posts-timeline") == [4, 4, 4, 4]
    assert_painted(page, "#posts-timeline", "posts-timeline")
    assert "383 posts stored" in (page.text_content("#posts-summary") or "")
    page.fill("#posts-q", "engine shutdown")
    page.click("#posts-search-form button[type=submit]")
    page.wait_for_function("window.starbrain.postSearch")
    api = httpx.get(f"{fleets_url}/api/posts/search", params={"q": "engine shutdown"}).json()
    items = page.locator("#posts-hits li")
    assert items.count() == len(api["hits"]) == 10
    assert api["hits"][0]["text"] in (items.first.text_content() or "")
    page.screenshot(path=str(ARTIFACTS / "console-posts.png"))
