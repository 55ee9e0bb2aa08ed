"""Shared builders for the conjunction and avoidance tests: independent brute-force screening
(python-sgp4's C++ SGP4 on a fine grid, all pairs) and constructed head-on encounters."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import torch
from scipy.optimize import minimize_scalar
from sgp4.api import SatrecArray

from starbrain.core import timeconv
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.physics.sgp4 import Sgp4Elements, satrecs_from_elements, sgp4_init, sgp4_propagate
from starbrain.sources.generators.constellation import WalkerShell, generate, generate_preset
from starbrain.sources.generators.debris import generate_debris

EPOCH = np.datetime64("2026-01-01T00:00:00", "ns")
MAX_RELATIVE_SPEED_KMPS = 16.0
_ELEMENT_FIELDS = [f.name for f in fields(Sgp4Elements)]


@dataclass
class Event:
    i: int  # rows of the screened table, i < j
    j: int
    t_s: float  # seconds after start
    miss_km: float


def brute_force(
    table: pa.Table, start: np.datetime64, span_s: float, threshold_km: float, step_s: float = 2.0
) -> list[Event]:
    """Every local minimum of the distance under the threshold, for every pair.

    python-sgp4 (C++) positions every ``step_s``; all pairwise distances at every step; grid
    local minima below ``threshold + 16 km/s * step / 2`` are refined by bounded Brent
    minimisation of the distance (python-sgp4 again) on the two neighbouring steps.
    """
    sats = satrecs_from_elements(Sgp4Elements.from_table(table, device="cpu"))
    off = np.arange(0.0, span_s + step_s / 2, step_s)
    jd, fr = timeconv.datetime64_to_jd(start + (off * 1e9).astype("timedelta64[ns]"))
    err, r, _ = SatrecArray(sats).sgp4(jd, fr)
    assert (err == 0).all()
    rt = torch.from_numpy(np.ascontiguousarray(r.transpose(1, 0, 2)))  # (T, n, 3)
    n, n_t = len(sats), len(off)
    upper = torch.ones(n, n, dtype=torch.bool).triu(1)
    limit = threshold_km + MAX_RELATIVE_SPEED_KMPS * step_s / 2
    cands: list[tuple[int, int, int]] = []
    block = max(4, 8_000_000 // (n * n))
    for a in range(1, n_t - 1, block):
        lo, hi = a - 1, min(n_t, a + block + 1)
        d = torch.cdist(rt[lo:hi], rt[lo:hi], compute_mode="donot_use_mm_for_euclid_dist")
        kk, ii, jj = torch.nonzero((d[1:-1] < limit) & upper, as_tuple=True)
        kk = kk + 1
        is_min = (d[kk, ii, jj] <= d[kk - 1, ii, jj]) & (d[kk, ii, jj] < d[kk + 1, ii, jj])
        kk, ii, jj = kk[is_min], ii[is_min], jj[is_min]
        cands += zip(ii.tolist(), jj.tolist(), (kk + lo).tolist(), strict=True)
    events = []
    for i, j, k in cands:

        def dist(x: float, i: int = i, j: int = j) -> float:
            _, ri, _ = sats[i].sgp4(jd[0], fr[0] + x / 86400.0)
            _, rj, _ = sats[j].sgp4(jd[0], fr[0] + x / 86400.0)
            return float(np.linalg.norm(np.subtract(ri, rj)))

        res = minimize_scalar(
            dist, bounds=(off[k - 1], off[k + 1]), method="bounded", options={"xatol": 1e-6}
        )
        if res.fun < threshold_km:
            events.append(Event(i, j, float(res.x), float(res.fun)))
    return events


def population(n_debris: int = 2000, starlink_rows: slice | None = None) -> pa.Table:
    starlink = generate_preset("starlink-gen1", epoch=EPOCH)
    if starlink_rows is not None:
        starlink = starlink.slice(starlink_rows.start, starlink_rows.stop - starlink_rows.start)
    return pa.concat_tables([starlink, generate_debris(n_debris, epoch=EPOCH)])


def head_on_pairs(
    when_s: np.ndarray,
    altitude_km: np.ndarray,
    inclination_deg: np.ndarray,
    raan_deg: np.ndarray,
    arg_lat_deg: np.ndarray,
    radial_offset_km: np.ndarray,
    first_norad: int = 250_001,
) -> pa.Table:
    """Pairs of near-circular objects in one orbital plane flown in opposite directions
    (inclinations i and 180 - i, nodes 180 degrees apart), the second placed to meet the
    first at ``EPOCH + when_s`` where the first is at argument of latitude ``arg_lat_deg``, its
    altitude raised by ``radial_offset_km`` (about the miss distance). Relative speed ~15 km/s.

    Rows 2k and 2k + 1 are pair k; catalogue numbers from ``first_norad``.
    """
    m = len(when_s)
    shells = []
    for k in range(m):
        alt, inc, raan = float(altitude_km[k]), float(inclination_deg[k]), float(raan_deg[k])
        shells.append(WalkerShell(alt, inc, 1, 1, phasing=0, raan0_deg=raan, name=f"A{k}"))
        shells.append(
            WalkerShell(
                alt + float(radial_offset_km[k]), 180.0 - inc, 1, 1, phasing=0,
                raan0_deg=(raan + 180.0) % 360.0, name=f"B{k}",
            )
        )  # fmt: skip
    table = generate(shells, epoch=EPOCH, first_norad=first_norad, prefix="HEADON")
    el = Sgp4Elements.from_table(table, device="cpu")
    # phase each A so that it is at the chosen argument of latitude at its meeting time,
    # then each B so that it is closest to A then (grid over the mean anomaly, then finer grids)
    ma = np.degrees(el.mo.numpy()).copy()
    a_rows, b_rows = np.arange(0, 2 * m, 2), np.arange(1, 2 * m, 2)
    t_min = np.repeat(when_s / 60.0, 2)
    no = el.no_kozai.numpy()
    # the two planes regress in opposite senses (J2): offset B's node so they coincide at t
    state = sgp4_init(el)
    assert state.near is not None and state.near_index.numel() == 2 * m
    node_rate = np.empty(2 * m)
    node_rate[state.near_index.numpy()] = state.near.nodedot.numpy()  # rad/min
    raan = np.array(table.column("ra_of_asc_node_deg").to_numpy(), dtype=np.float64)
    raan[b_rows] = np.mod(
        raan[a_rows] + 180.0 + np.degrees((node_rate[a_rows] - node_rate[b_rows]) * when_s / 60),
        360.0,
    )
    table = table.set_column(
        table.schema.get_field_index("ra_of_asc_node_deg"), "ra_of_asc_node_deg", pa.array(raan)
    )
    ma[a_rows] = np.mod(arg_lat_deg - 90.0 - np.degrees(no[a_rows] * when_s / 60.0), 360.0)
    r_a = _positions(table, ma, t_min)[a_rows]
    el_b = Sgp4Elements.from_table(table.take(b_rows), device="cpu")
    best = np.mod(ma[b_rows], 360.0)
    for width, n_grid in ((360.0, 721), (1.0, 201), (0.01, 201), (1e-4, 201)):
        grid = best[:, None] + np.linspace(-width / 2, width / 2, n_grid)[None, :]  # (m, g)
        fields_ = {f: getattr(el_b, f).repeat_interleave(n_grid) for f in _ELEMENT_FIELDS}
        fields_["mo"] = torch.as_tensor(np.radians(np.mod(grid, 360.0)).reshape(-1))
        t = torch.as_tensor(np.repeat(when_s / 60.0, n_grid)[:, None])
        with torch.no_grad():
            r, _, _ = sgp4_propagate(sgp4_init(Sgp4Elements(**fields_)), t)
        d = np.linalg.norm(r[:, 0].numpy().reshape(m, n_grid, 3) - r_a[:, None, :], axis=2)
        best = grid[np.arange(m), np.argmin(d, axis=1)]
    ma[b_rows] = np.mod(best, 360.0)
    table = table.set_column(
        table.schema.get_field_index("mean_anomaly_deg"), "mean_anomaly_deg", pa.array(ma)
    )
    return pa.Table.from_arrays(table.columns, schema=ELEMENTS_SCHEMA)


def _positions(table: pa.Table, mean_anomaly_deg: np.ndarray, t_min: np.ndarray) -> np.ndarray:
    t = table.set_column(
        table.schema.get_field_index("mean_anomaly_deg"),
        "mean_anomaly_deg",
        pa.array(np.mod(mean_anomaly_deg, 360.0)),
    )
    state = sgp4_init(Sgp4Elements.from_table(t, device="cpu"))
    with torch.no_grad():
        r, _, err = sgp4_propagate(state, torch.as_tensor(t_min[:, None]))
    assert (err == 0).all()
    return r[:, 0].numpy()


def refine_pair(table: pa.Table, i: int, j: int, start: np.datetime64, t_s: float) -> Event:
    """Closest approach of rows i and j near ``t_s`` (seconds after start), by python-sgp4."""
    sats = satrecs_from_elements(Sgp4Elements.from_table(table, device="cpu"))
    jd, fr = timeconv.datetime64_to_jd(np.array([start]))

    def dist(x: float) -> float:
        _, ri, _ = sats[i].sgp4(jd[0], fr[0] + x / 86400.0)
        _, rj, _ = sats[j].sgp4(jd[0], fr[0] + x / 86400.0)
        return float(np.linalg.norm(np.subtract(ri, rj)))

    res = minimize_scalar(
        dist, bounds=(t_s - 30.0, t_s + 30.0), method="bounded", options={"xatol": 1e-7}
    )
    return Event(i, j, float(res.x), float(res.fun))
