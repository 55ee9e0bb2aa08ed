"""The debris-like population: reproducibility, catalogue numbers and the documented
distributions (cluster shares within 3 standard errors of a multinomial draw, perigees, e)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from starbrain.core.errors import StarbrainError
from starbrain.core.schemas.elements import ELEMENTS_SCHEMA
from starbrain.physics.sgp4 import Sgp4Elements, sgp4_init, sgp4_propagate
from starbrain.sources.generators.debris import DEBRIS_CLUSTERS, generate_debris

EPOCH = "2026-01-01T00:00:00"
R_WGS72_KM = 6378.135


@pytest.fixture(scope="module")
def debris():
    return generate_debris(6000, epoch=EPOCH)


def test_schema_numbers_and_reproducibility(debris) -> None:
    assert debris.schema.equals(ELEMENTS_SCHEMA)
    ids = np.asarray(debris["norad_id"].to_numpy())
    np.testing.assert_array_equal(ids, np.arange(300_001, 306_001))
    assert debris.equals(generate_debris(6000, epoch=EPOCH))
    other = generate_debris(6000, epoch=EPOCH, seed=1)
    assert not np.array_equal(debris["inclination_deg"].to_numpy(), other["inclination_deg"])
    with pytest.raises(StarbrainError, match="339999"):
        generate_debris(40_000, epoch=EPOCH)


def test_distributions(debris) -> None:
    el = Sgp4Elements.from_table(debris, device="cpu")
    state = sgp4_init(el)
    assert state.deep is None  # all LEO
    a_km = state.near.a0.numpy()[np.argsort(state.near_index.numpy())] * R_WGS72_KM
    e = np.asarray(debris["eccentricity"].to_numpy())
    inc = np.asarray(debris["inclination_deg"].to_numpy())
    perigee = a_km * (1 - e) - R_WGS72_KM
    assert perigee.min() > 295.0 and perigee.max() < 1505.0
    assert e.max() <= 0.05 and np.median(e) < 0.006
    n = len(inc)
    share = {
        "sso": np.mean((inc > 96.0) & (inc < 101.5)),
        "82deg": np.mean((inc > 81.0) & (inc < 84.5)),
        "74deg": np.mean((inc > 73.0) & (inc < 75.0)),
        "86deg": np.mean((inc > 85.4) & (inc < 87.4)),
    }
    weights = dict(DEBRIS_CLUSTERS)
    background = weights["background"] / 90.0  # uniform over 20-110 degrees
    widths = {"sso": 5.5, "82deg": 3.5, "74deg": 2.0, "86deg": 2.0}
    for name, got in share.items():
        want = weights[name] + background * widths[name]
        assert abs(got - want) < 3 * np.sqrt(want * (1 - want) / n) + 0.01, name
    # the sun-synchronous cluster regresses with the mean Sun (0.9856 deg/day)
    node_rate = np.degrees(state.near.nodedot.numpy()[np.argsort(state.near_index.numpy())])
    sso = (inc > 96.0) & (inc < 101.5)
    assert np.median(node_rate[sso] * 1440.0) == pytest.approx(0.9856, rel=0.03)


def test_propagates_for_a_week(debris) -> None:
    el = Sgp4Elements.from_table(debris, device="cpu")
    with torch.no_grad():
        _, _, err = sgp4_propagate(
            sgp4_init(el), torch.linspace(0, 7 * 1440, 8, dtype=torch.float64)
        )
    assert int((err != 0).sum()) == 0
