"""The console's REST API and WebSocket, served by uvicorn on a loopback port.

Positions are checked against Skyfield (``EarthSatellite`` on python-sgp4's C++ SGP4, ITRS and
WGS-84 with the same bundled Earth-orientation data): the API rounds latitude and longitude to
1e-3 degree and altitude to 0.1 km, so those are the tolerances. Passes are checked against the
planner called directly over the same window; everything else checks the contract: status
codes, JSON error bodies, bounds, the token and the same-origin rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from starbrain.console.app import create_app, serve
from starbrain.console.settings import (
    MAX_NORAD_PER_REQUEST,
    ConsoleSettings,
    check_bind,
    is_loopback,
)
from starbrain.core.errors import StarbrainError
from tests.console.conftest import EPOCH, FIRST_NORAD, N_SATS, TOKEN, serve_app

websockets_sync = pytest.importorskip("websockets.sync.client")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

T_REF = "2026-11-25T06:00:00Z"
LAT_TOL_DEG = 1.5e-3  # rounding to 1e-3 plus the frames' agreement with Skyfield
ALT_TOL_KM = 0.06


@pytest.fixture(scope="module")
def base_url(store_file: Path) -> Iterator[str]:
    settings = ConsoleSettings(store_path=store_file, token=None, max_pass_work=20_000.0)
    with serve_app(create_app(settings=settings)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def token_url(store_file: Path) -> Iterator[str]:
    with serve_app(create_app(store_file, token=TOKEN)) as url:
        yield url


def ws_url(base: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + "/ws/live" + (f"?{query}" if query else "")


def assert_error(response: httpx.Response, status: int, fragment: str = "") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert fragment in body["message"], body["message"]
    return body


# ------------------------------------------------------------------------- health, catalogue


def test_health(client: httpx.Client, store_file: Path) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["objects"] == N_SATS and body["element_sets"] == N_SATS
    assert body["store"] == str(store_file) and body["auth"] is False


def test_catalog_summary_and_pages(client: httpx.Client) -> None:
    body = client.get("/api/catalog", params={"limit": 10, "offset": 5}).json()
    summary = body["summary"]
    assert summary["objects"] == N_SATS
    assert summary["newest_epoch"] == f"{EPOCH}.000Z"
    shells = {s["label"]: s["count"] for s in summary["shells"]}
    assert sorted(shells.values()) == [12, 30]
    assert any("53.0°" in label for label in shells)
    assert summary["recent_loads"][0]["source"] == "generated:test"
    assert body["total"] == N_SATS and len(body["objects"]) == 10
    assert [o["norad_id"] for o in body["objects"]] == list(
        range(FIRST_NORAD + 5, FIRST_NORAD + 15)
    )
    first = body["objects"][0]
    assert 540 < first["perigee_km"] < first["apogee_km"] < 560
    assert first["period_min"] == pytest.approx(95.6, abs=0.2)


def test_catalog_filters(client: httpx.Client) -> None:
    by_name = client.get("/api/catalog", params={"search": "sim b-"}).json()
    assert by_name["total"] == 12 and all("B-" in o["name"] for o in by_name["objects"])
    by_number = client.get("/api/catalog", params={"search": str(FIRST_NORAD + 3)}).json()
    assert [o["norad_id"] for o in by_number["objects"]] == [FIRST_NORAD + 3]
    shell = by_name["objects"][0]["shell"]
    assert client.get("/api/catalog", params={"shell": shell}).json()["total"] == 12
    assert client.get("/api/catalog", params={"offset": 1000}).json()["objects"] == []


def test_catalog_object(client: httpx.Client) -> None:
    body = client.get(f"/api/catalog/{FIRST_NORAD}").json()
    assert body["norad_id"] == FIRST_NORAD and body["name"] == "SIM A-P1-01"
    assert body["history_epochs"] == [f"{EPOCH}.000Z"]
    assert body["inclination_deg"] == 53.0
    assert_error(client.get("/api/catalog/1"), 404, "NORAD 1")
    assert_error(client.get("/api/catalog/0"), 422, "norad")
    assert_error(client.get("/api/catalog/abc"), 422, "norad")


def test_catalog_validation(client: httpx.Client) -> None:
    assert_error(client.get("/api/catalog", params={"limit": 0}), 422, "'limit'")
    assert_error(client.get("/api/catalog", params={"limit": 5000}), 422, "'limit'")
    assert_error(client.get("/api/catalog", params={"search": "x" * 65}), 422, "'search'")


# ------------------------------------------------------------------------- positions


def _skyfield_geodetic(store_file: Path, norad: list[int], t_iso: str) -> np.ndarray:
    """(lat_deg, lon_deg, alt_km) per object from Skyfield at a UTC time."""
    import datetime as dt

    from skyfield.api import EarthSatellite, wgs84

    from starbrain.physics import frames
    from starbrain.physics.sgp4 import Sgp4Elements, satrecs_from_elements
    from starbrain.store.database import Store

    with Store(store_file, read_only=True) as store:
        table = store.current_elements(norad)
    ts = frames.timescale()
    t = ts.from_datetime(dt.datetime.fromisoformat(t_iso.replace("Z", "+00:00")))
    satrecs = satrecs_from_elements(Sgp4Elements.from_table(table, device="cpu"), norad)
    out = []
    for s in satrecs:
        pos = wgs84.geographic_position_of(EarthSatellite.from_satrec(s, ts).at(t))
        out.append((pos.latitude.degrees, pos.longitude.degrees, pos.elevation.km))
    return np.array(out)


def test_positions_match_skyfield(client: httpx.Client, store_file: Path) -> None:
    ids = [FIRST_NORAD, FIRST_NORAD + 17, FIRST_NORAD + 35]
    body = client.get("/api/positions", params={"norad": ids, "time": T_REF}).json()
    assert body["norad_id"] == ids and body["time"] == "2026-11-25T06:00:00.000Z"
    assert body["sgp4_error"] == [0, 0, 0]
    ref = _skyfield_geodetic(store_file, ids, T_REF)
    np.testing.assert_allclose(body["lat_deg"], ref[:, 0], atol=LAT_TOL_DEG)
    dlon = (np.array(body["lon_deg"]) - ref[:, 1] + 180) % 360 - 180
    np.testing.assert_allclose(dlon, 0, atol=LAT_TOL_DEG)
    np.testing.assert_allclose(body["alt_km"], ref[:, 2], atol=ALT_TOL_KM)


def test_positions_all_and_pages(client: httpx.Client) -> None:
    every = client.get("/api/positions", params={"time": T_REF}).json()
    assert every["count"] == N_SATS and len(every["lat_deg"]) == N_SATS
    assert sorted(set(every["shell"])) == [0, 1]
    # geodetic latitude exceeds the 53 deg inclination by up to ~0.2 deg (Earth's flattening)
    lat_a = [lat for lat, s in zip(every["lat_deg"], every["shell"], strict=True) if s == 0]
    assert len(lat_a) == 30 and max(abs(x) for x in lat_a) < 53.3
    page = client.get("/api/positions", params={"time": T_REF, "offset": 40, "limit": 5}).json()
    assert page["norad_id"] == every["norad_id"][40:]
    assert page["lat_deg"] == every["lat_deg"][40:]
    now = client.get("/api/positions").json()  # default time: now
    assert now["count"] == N_SATS


def test_positions_validation(client: httpx.Client) -> None:
    get = client.get
    assert_error(get("/api/positions", params={"time": "yesterday"}), 422, "'time'")
    assert_error(get("/api/positions", params={"time": "2200-01-01T00:00Z"}), 422, "between")
    assert_error(get("/api/positions", params={"norad": 5}), 404, "NORAD 5")
    assert_error(get("/api/positions", params={"norad": -3}), 422, "'norad'")
    too_many = list(range(1, MAX_NORAD_PER_REQUEST + 2))
    assert_error(get("/api/positions", params={"norad": too_many}), 422, "'norad'")
    assert_error(get("/api/positions", params={"limit": 10**6}), 422, "'limit'")


def test_groundtrack(client: httpx.Client, store_file: Path) -> None:
    params = {"minutes": 30, "step_s": 600, "start": T_REF}
    body = client.get(f"/api/groundtrack/{FIRST_NORAD}", params=params).json()
    assert body["time"] == [f"2026-11-25T06:{m:02d}:00.000Z" for m in (0, 10, 20, 30)]
    assert body["lat_deg"][0] == pytest.approx(
        _skyfield_geodetic(store_file, [FIRST_NORAD], T_REF)[0, 0], abs=LAT_TOL_DEG
    )
    assert all(545 < a < 570 for a in body["alt_km"])
    get = client.get
    path = f"/api/groundtrack/{FIRST_NORAD}"
    assert_error(get(path, params={"minutes": 20_000, "step_s": 1}), 422, "points")
    assert_error(get(path, params={"minutes": 15 * 1440}), 422, "'minutes'")
    assert_error(get(path, params={"step_s": 0.5}), 422, "'step_s'")
    assert_error(get("/api/groundtrack/7"), 404, "NORAD 7")


# ------------------------------------------------------------------------- passes


def test_stations(client: httpx.Client) -> None:
    names = [s["name"] for s in client.get("/api/stations").json()["stations"]]
    assert "Svalbard" in names


def test_passes_match_planner(client: httpx.Client, store_file: Path) -> None:
    from starbrain.planners.passes import GroundStation, find_passes, sgp4_propagator
    from starbrain.store.database import Store

    params = {"station": ["Svalbard", "Here:-33.9,18.4,10"], "hours": 6, "from": T_REF}
    body = client.get("/api/passes", params={**params, "limit": 5}).json()
    assert [s["name"] for s in body["stations"]] == ["Svalbard", "Here"]
    assert body["satellites"] == N_SATS and body["start"] == "2026-11-25T06:00:00.000Z"
    with Store(store_file, read_only=True) as store:
        table = store.current_elements()
    stations = [
        GroundStation("Svalbard", 78.23, 15.39, 0.5),
        GroundStation("Here", -33.9, 18.4, 0.01),
    ]
    ref = find_passes(
        sgp4_propagator(table), table.column("norad_id").to_numpy(), stations,
        np.datetime64("2026-11-25T06:00"), np.datetime64("2026-11-25T12:00"),
        min_elevation_deg=10.0,
    )  # fmt: skip
    assert body["total"] == len(ref) > 5 and body["truncated"] is True
    assert len(body["passes"]) == 5
    rises = [p["rise"] or p["culminate"] for p in body["passes"]]
    assert rises == sorted(rises)
    first = body["passes"][0]
    assert first["name"].startswith("SIM ") and 10.0 <= first["max_elevation_deg"] <= 90.0


def test_passes_subset_and_default_stations(client: httpx.Client) -> None:
    body = client.get(
        "/api/passes", params={"norad": [FIRST_NORAD, FIRST_NORAD + 31], "hours": 24}
    ).json()
    assert body["satellites"] == 2 and len(body["stations"]) == 3
    assert {p["norad_id"] for p in body["passes"]} <= {FIRST_NORAD, FIRST_NORAD + 31}


def test_passes_validation(client: httpx.Client) -> None:
    get = client.get
    assert_error(get("/api/passes", params={"hours": 400}), 422, "'hours'")
    assert_error(get("/api/passes", params={"hours": 0}), 422, "'hours'")
    assert_error(get("/api/passes", params={"min_elevation": 95}), 422, "'min_elevation'")
    assert_error(get("/api/passes", params={"station": "Atlantis"}), 422, "NAME:LAT,LON")
    assert_error(get("/api/passes", params={"station": "X:91,0"}), 422, "latitude")
    assert_error(get("/api/passes", params={"station": ["A:1,2"] * 9}), 422, "'station'")
    assert_error(get("/api/passes", params={"station": ["A:1,2", "A:3,4"]}), 422, "distinct")
    assert_error(get("/api/passes", params={"from": "not a time"}), 422, "'from'")
    # 42 satellites x 3 stations x 200 h is over this server's budget of 20,000
    assert_error(get("/api/passes", params={"hours": 200}), 422, "too much work")


# ------------------------------------------------------------------------- Mars


def test_mars_windows(client: httpx.Client) -> None:
    body = client.get("/api/mars/windows", params={"from": 2028, "to": 2028}).json()
    assert body["from_year"] == 2028 and {w["type"] for w in body["windows"]} == {1, 2}
    best = min(body["windows"], key=lambda w: w["c3_km2_s2"])
    assert best["launch"].startswith("2028-") and best["launch"].endswith("Z")
    assert 7.0 < best["c3_km2_s2"] < 12.0
    get = client.get
    assert_error(get("/api/mars/windows", params={"from": 2030, "to": 2028}), 422, "before")
    assert_error(get("/api/mars/windows", params={"from": 1901, "to": 2040}), 422, "30 years")
    assert_error(get("/api/mars/windows", params={"from": 1800}), 422, "'from'")


def test_mars_porkchop(client: httpx.Client) -> None:
    body = client.get("/api/mars/porkchop", params={"window": 2028, "step_days": 8}).json()
    n_l, n_a = len(body["launch"]), len(body["arrival"])
    assert n_l > 5 and n_a > 5
    for key in ("c3_km2_s2", "vinf_arr_kms", "tof_days", "dv_total_kms"):
        assert len(body[key]) == n_l and all(len(row) == n_a for row in body[key])
    c3 = np.array([[np.nan if v is None else v for v in row] for row in body["c3_km2_s2"]])
    assert np.isfinite(c3).sum() > n_l * n_a // 2
    assert body["best_type1"]["c3_km2_s2"] == pytest.approx(np.nanmin(c3), rel=0.5)
    assert_error(client.get("/api/mars/porkchop", params={"window": 2027}), 404, "2027")
    assert_error(client.get("/api/mars/porkchop", params={"step_days": 0.1}), 422, "step_days")


# ------------------------------------------------------------------------- errors, docs, static


def test_errors_are_json(client: httpx.Client) -> None:
    assert_error(client.get("/api/nothing"), 404, "/api/nothing")
    assert_error(client.post("/api/health"), 405, "POST")


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in (
        "/api/health",
        "/api/catalog",
        "/api/catalog/{norad}",
        "/api/positions",
        "/api/groundtrack/{norad}",
        "/api/passes",
        "/api/stations",
        "/api/mars/windows",
        "/api/mars/porkchop",
    ):
        assert path in spec["paths"], path
    hours = next(
        p for p in spec["paths"]["/api/passes"]["get"]["parameters"] if p["name"] == "hours"
    )
    assert hours["schema"]["maximum"] == 336
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_static_console(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "starbrain console" in page.text
    js = client.get("/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert page.headers["x-content-type-options"] == "nosniff"


# ------------------------------------------------------------------------- safety


def test_host_and_origin_checks(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as c:
        assert_error(c.get("/api/health", headers={"Host": "evil.example"}), 400, "host")
        assert c.get("/api/health", headers={"Host": "localhost:1234"}).status_code == 200
        assert_error(
            c.get("/api/health", headers={"Origin": "http://evil.example"}), 403, "cross-origin"
        )
        assert c.get("/api/health", headers={"Origin": base_url}).status_code == 200
    with pytest.raises(InvalidStatus) as denied:
        websockets_sync.connect(ws_url(base_url), origin="http://evil.example")
    assert denied.value.response.status_code == 403


def test_token_required(token_url: str) -> None:
    with httpx.Client(base_url=token_url) as c:
        body = assert_error(c.get("/api/health"), 401, "no token")
        assert body["error"] == "unauthorized"
        assert_error(c.get("/api/health", headers={"Authorization": "Bearer nope"}), 401, "wrong")
        assert_error(c.get("/"), 401)  # static files too
        assert_error(c.get("/api/openapi.json"), 401)
        ok = c.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["auth"] is True
        page = c.get("/", params={"token": TOKEN})  # first page load: the cookie is set
        assert page.status_code == 200
        assert "HttpOnly" in page.headers["set-cookie"]
        assert c.get("/js/app.js").status_code == 200  # now authorised by the cookie
        spec = c.get("/api/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    with pytest.raises(InvalidStatus) as denied:
        websockets_sync.connect(ws_url(token_url))
    assert denied.value.response.status_code == 401
    with websockets_sync.connect(ws_url(token_url, f"token={TOKEN}&interval_s=0.5")) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "hello"


def test_binding_rules(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(StarbrainError, match="without a token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(StarbrainError, match="without a token"):
        serve(host="0.0.0.0", port=8765, store_path=tmp_path / "s.duckdb")
    with pytest.raises(StarbrainError, match="at least 16"):
        create_app(tmp_path / "s.duckdb", token="short")


# ------------------------------------------------------------------------- WebSocket


def test_live_updates(base_url: str) -> None:
    url = ws_url(base_url, f"interval_s=0.5&speed=60&start={T_REF}")
    with websockets_sync.connect(url, max_size=None) as ws:
        hello = json.loads(ws.recv(timeout=30))
        assert hello["type"] == "hello" and hello["count"] == N_SATS
        assert hello["interval_s"] == 0.5 and len(hello["shells"]) == 2
        frames = [json.loads(ws.recv(timeout=30)) for _ in range(3)]
        assert [f["seq"] for f in frames] == [1, 2, 3]
        assert all(f["type"] == "positions" and f["count"] == N_SATS for f in frames)
        assert None not in frames[0]["lat_deg"]
        times = [np.datetime64(f["time"][:-1]) for f in frames]
        step_s = np.diff(times).astype("timedelta64[ms]").astype(float) / 1e3
        assert np.all(step_s > 20) and np.all(step_s < 90)  # ~0.5 s x 60
        assert frames[0]["time"].startswith("2026-11-25T06:00")
        ws.send(json.dumps({"speed": 0, "time": "2026-11-26T00:00:00Z"}))
        frame = json.loads(ws.recv(timeout=30))
        while frame["speed"] != 0:
            frame = json.loads(ws.recv(timeout=30))
        assert frame["time"].startswith("2026-11-26T00:00:00")
        ws.send("{not json")
        msg = json.loads(ws.recv(timeout=30))
        while msg["type"] != "error":
            msg = json.loads(ws.recv(timeout=30))
        assert "json" in msg["message"].lower()


def test_live_subset(base_url: str) -> None:
    with websockets_sync.connect(ws_url(base_url, f"norad={FIRST_NORAD}&interval_s=0.5")) as ws:
        assert json.loads(ws.recv(timeout=30))["count"] == 1
        frame = json.loads(ws.recv(timeout=30))
        assert frame["norad_id"] == [FIRST_NORAD]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("interval_s=0.01", "interval_s"), ("speed=-1", "speed"), ("norad=9", "NORAD 9")],
)
def test_live_rejects_bad_parameters(base_url: str, query: str, fragment: str) -> None:
    with websockets_sync.connect(ws_url(base_url, query)) as ws:
        msg = json.loads(ws.recv(timeout=30))
        assert msg["type"] == "error" and fragment in msg["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_live_survives_client_disconnects(base_url: str, client: httpx.Client) -> None:
    for _ in range(3):
        with websockets_sync.connect(ws_url(base_url, "interval_s=0.5")) as ws:
            ws.recv(timeout=30)
    time.sleep(0.2)
    assert client.get("/api/health").status_code == 200


def test_serve_runs_uvicorn_and_redacts_the_token(store_file: Path) -> None:
    """``serve()`` as ``starbrain serve`` will call it: a real process on a loopback port."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "from starbrain.console.app import serve; "
        f"serve(port={port}, token={TOKEN!r}, store_path={str(store_file)!r})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"{url}/api/health", params={"token": TOKEN}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve() did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["objects"] == N_SATS
        assert httpx.get(f"{url}/api/health").status_code == 401
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"open http://127.0.0.1:{port}/" in err
    assert "GET /api/health?token=***" in err + out  # the access log line, redacted
    assert TOKEN not in err + out
