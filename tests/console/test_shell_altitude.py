"""The console's shell altitudes and ISL rule are the constellation's and the router's (issue #13).

References and tolerances:

* Altitude is defined by :mod:`starbrain.sources.generators.constellation`: SGP4's mean semi-major
  axis minus
  the WGS-72 radius. A shell generated at 570 km must be labelled 570 km, not the 572.05 km a
  two-body semi-major axis minus the WGS-84 radius gives (560 km: not 563.0 km). Checked against
  python-sgp4's own initialisation (``Satrec.twoline2rv``: ``satrec.a`` is SGP4's mean semi-major
  axis in Earth radii, Vallado's code) within 1 m, and against what the generator was asked for
  within 1 m (the mean motion is rounded to 1e-8 rev/day in the TLE columns).
* The ISL visibility rule (``routing.isl_up``) equals the straight-segment clearance computed
  directly (closest point of the segment to the Earth's centre at least 80 km above 6378.135 km)
  on random pairs, away from the boundary by 1 mm.
"""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.console.fleet import _build_fleet, classify_shells
from starbrain.sources.generators.constellation import (
    PRESETS,
    generate,
    generate_preset,
    kozai_mean_motion,
    mean_altitude_km,
)


def test_mean_altitude_is_sgp4s_semi_major_axis_minus_wgs72() -> None:
    from sgp4.api import WGS72, Satrec

    from starbrain.sources.catalogs.tle import format_tle

    table = generate_preset("starlink-gen1")
    pick = np.linspace(0, table.num_rows - 1, 40).round().astype(int)
    sub = table.take(pick)
    alt = mean_altitude_km(
        sub["mean_motion_rev_per_day"].to_numpy(),
        np.radians(sub["inclination_deg"].to_numpy()),
        sub["eccentricity"].to_numpy(),
    )
    lines = format_tle(sub)
    for k in range(sub.num_rows):
        l1, l2 = (ln for ln in lines[2 * k : 2 * k + 2])
        sat = Satrec.twoline2rv(l1, l2, WGS72)
        assert alt[k] == pytest.approx((sat.a - 1.0) * 6378.135, abs=1e-3)
    asked = {s.name: s.altitude_km for s in PRESETS["starlink-gen1"]}
    names = [n.split(" ")[1].split("-")[0] for n in sub["object_name"].to_pylist()]
    np.testing.assert_allclose(alt, [asked[n] for n in names], rtol=0, atol=1e-3)
    # the inverse of kozai_mean_motion on arbitrary orbits
    rng = np.random.default_rng(5)
    h = rng.uniform(200.0, 2000.0, 50)
    inc = rng.uniform(0.0, np.pi, 50)
    e = rng.uniform(0.0, 0.05, 50)
    np.testing.assert_allclose(mean_altitude_km(kozai_mean_motion(h, inc, e), inc, e), h,
                               rtol=0, atol=1e-6)  # fmt: skip
    assert np.isnan(mean_altitude_km([0.0], [0.9], [0.0])).all()


def test_shells_are_labelled_with_the_generated_altitude() -> None:
    table = generate_preset("starlink-gen1")
    fleet = _build_fleet(table, table.num_rows, "cpu")
    got = {(s.inclination_deg, s.altitude_km) for s in fleet.shells}
    assert got == {(53.0, 550.0), (53.2, 540.0), (70.0, 570.0), (97.6, 560.0)}, got
    labels = {s.label for s in fleet.shells}
    assert "570 km · 70.0°" in labels and "560 km · 97.6°" in labels
    # without eccentricities (circular shells) the same
    _, shells = classify_shells(table["inclination_deg"], table["mean_motion_rev_per_day"])
    assert {(s.inclination_deg, s.altitude_km) for s in shells} == got


def test_walker_layout_recovers_the_generated_shell() -> None:
    from starbrain.planners.routing_networks import NotWalkerError, walker_layout
    from starbrain.sources.generators.constellation import WalkerShell

    shell = WalkerShell(570.0, 70.0, 6, 5, phasing=2, name="S")
    table = generate([shell], epoch="2024-07-05")
    rng = np.random.default_rng(2)
    perm = rng.permutation(table.num_rows)
    found = walker_layout(table.take(perm), "shell 7")
    assert (found.shell.planes, found.shell.per_plane, found.shell.phasing) == (6, 5, 2)
    assert found.shell.altitude_km == pytest.approx(570.0, abs=1e-3)
    assert found.shell.inclination_deg == pytest.approx(70.0, abs=1e-9)
    # generator order up to where slot 0 is: the same +Grid links as the generated shell's
    rows = perm[found.index]
    isl = found.isl
    got = {
        frozenset(p) for p in zip(rows[isl[:, 0]].tolist(), rows[isl[:, 1]].tolist(), strict=True)
    }
    want = {frozenset(p) for p in found.isl.tolist()}
    assert got == want and len(got) == 2 * table.num_rows
    with pytest.raises(NotWalkerError, match="fewer than two"):
        walker_layout(table.slice(0, 1))
    with pytest.raises(NotWalkerError, match="planes hold"):
        walker_layout(table.slice(0, 7))


def test_isl_up_is_the_segment_clearance() -> None:
    from starbrain.planners.routing import isl_up

    rng = np.random.default_rng(9)
    n = 20_000
    dirs = rng.normal(size=(2, n, 3))
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    r_a = dirs[0] * rng.uniform(6500.0, 8000.0, (n, 1))
    r_b = dirs[1] * rng.uniform(6500.0, 8000.0, (n, 1))
    d = r_b - r_a
    s = np.clip(-np.sum(r_a * d, axis=1) / np.sum(d * d, axis=1), 0.0, 1.0)
    closest = np.linalg.norm(r_a + s[:, None] * d, axis=1)
    clearance = closest - (6378.135 + 80.0)
    far = np.abs(clearance) > 1e-6
    assert far.sum() > 0.99 * n and 0.1 < (clearance > 0).mean() < 0.9
    np.testing.assert_array_equal(isl_up(r_a, r_b)[far], (clearance > 0)[far])
    r_a[0] = np.nan
    assert not isl_up(r_a[:1], r_b[:1])[0]


def test_catalog_perigee_and_apogee_are_sgp4s_altp_and_alta() -> None:
    """The catalogue table's perigee/apogee heights use the shells' convention: python-sgp4's
    ``Satrec.altp``/``alta`` (SGP4's mean semi-major axis times 1 -/+ e, less one WGS-72 radius),
    within 1 m, on eccentric orbits too. The two-body WGS-84 heights they replace were 2 km off."""
    from sgp4.api import WGS72, Satrec

    from starbrain.console.fleet import perigee_apogee_km
    from starbrain.sources.catalogs.tle import format_tle

    table = generate_preset("starlink-gen1").slice(0, 30)
    ecc = np.linspace(0.0, 0.2, table.num_rows)
    table = table.set_column(
        table.schema.get_field_index("eccentricity"), "eccentricity", [ecc.astype(np.float64)]
    )
    perigee, apogee = perigee_apogee_km(
        table["mean_motion_rev_per_day"].to_numpy(), table["inclination_deg"].to_numpy(), ecc
    )
    lines = format_tle(table)
    for k in range(table.num_rows):
        sat = Satrec.twoline2rv(lines[2 * k], lines[2 * k + 1], WGS72)
        assert perigee[k] == pytest.approx(sat.altp * 6378.135, abs=1e-3)
        assert apogee[k] == pytest.approx(sat.alta * 6378.135, abs=1e-3)
