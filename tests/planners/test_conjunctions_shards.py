"""Sharded screening (time shards in this process and on a real local Ray), ``Sgp4State.select``
and the world-model propagator.

References and tolerances:

* Sharded against unsharded screening of the same population: the same conjunctions; TCA within
  10 us and miss within 1 um (both converge on the same SGP4 minimum; the shards only chunk the
  grid differently).
* Head-on encounters (``conjunction_helpers.head_on_pairs``) placed on and next to the shard
  boundaries: each found exactly once, TCA within 1 ms and miss within 1 m of python-sgp4's
  (C++) closest approach found by Brent's method (``refine_pair``).
* ``Sgp4State.select``: propagating the selected state gives bit for bit what ``sgp4_init`` of
  the selected elements gives, on the official SGP4 verification TLEs (near-earth and deep
  space, shipped by python-sgp4), with repeats and a shuffled order.
* World model: an untrained model (its output layer is zero, so the residual is exactly zero)
  registered in a real DuckDB store screens like SGP4: the same conjunctions, TCA within 1 ms,
  miss within 1 mm. A model whose residual is not zero: every reported TCA is a minimum of the
  distance computed with ``OrbitWorldModel.forward`` itself (the public API, evaluated object by
  object), the reported miss equals that distance within 1 mm, and the TCAs move away from
  SGP4's.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from starbrain.physics.sgp4 import Sgp4Elements, sgp4_init, sgp4_propagate
from starbrain.planners.conjunctions import screen_conjunctions
from starbrain.planners.propagator import (
    Sgp4Propagator,
    WorldModelPropagator,
    _forward_grouped,
    resolve_propagator,
)
from starbrain.sources.catalogs.tle import parse_tle
from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.sources.generators.debris import generate_debris
from tests.planners.conjunction_helpers import EPOCH, head_on_pairs, refine_pair

SPAN = np.timedelta64(6, "h")


@pytest.fixture(scope="module")
def crowd() -> pa.Table:
    """165 objects with ~170 conjunctions in 6 h: two planes of a 53 degree Walker shell five
    planes apart (crossing at 2.6 km/s), one plane of each 97.6 degree shell and debris whose
    perigee-apogee band crosses them (the construction of ``test_conjunctions.subset``)."""
    shells = generate(
        [
            WalkerShell(550.0, 53.0, 72, 22, phasing=1, name="S1"),
            WalkerShell(560.0, 97.6, 6, 58, phasing=1, name="S4"),
            WalkerShell(560.0, 97.6, 4, 43, phasing=1, name="S5"),
        ],
        epoch=EPOCH,
    )
    names = np.array(shells.column("object_name").to_pylist())
    keep = np.array([n.startswith(("SIM S1-P01-", "SIM S1-P06-", "SIM S4-P1-", "SIM S5-P1-"))
                     for n in names])  # fmt: skip
    debris = generate_debris(6000, epoch=EPOCH)
    n = np.asarray(debris.column("mean_motion_rev_per_day").to_numpy())
    e = np.asarray(debris.column("eccentricity").to_numpy())
    a = (398600.8 / (n * 2 * np.pi / 86400) ** 2) ** (1 / 3)
    crossing = np.nonzero((a * (1 - e) < 6378.135 + 575) & (a * (1 + e) > 6378.135 + 530))[0]
    return pa.concat_tables([shells.filter(pa.array(keep)), debris.take(crossing[:20])])


def _same(a, b, tca_ns: int, miss_km: float) -> None:
    np.testing.assert_array_equal(a.norad_id_1, b.norad_id_1)
    np.testing.assert_array_equal(a.norad_id_2, b.norad_id_2)
    assert len(a) == len(b)
    if len(a):
        assert np.max(np.abs((a.tca - b.tca).astype(np.int64))) <= tca_ns
        assert np.max(np.abs(a.miss_km - b.miss_km)) <= miss_km


@pytest.fixture(scope="module")
def unsharded(crowd: pa.Table):
    return screen_conjunctions(crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0)


# ---------------------------------------------------------------------------------------------
# Shards


@pytest.mark.parametrize("shards", [2, 5])
def test_shards_give_the_same_conjunctions(crowd, unsharded, shards: int) -> None:
    assert len(unsharded) >= 100  # enough encounters for the comparison to mean something
    sharded = screen_conjunctions(crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0, shards=shards)
    assert sharded.stats.n_shards == shards and unsharded.stats.n_shards == 1
    _same(sharded, unsharded, 10_000, 1e-9)


def test_shards_with_primaries(crowd, unsharded) -> None:
    ids = np.asarray(crowd["norad_id"].to_numpy())[[0, 7, 140]]
    sharded = screen_conjunctions(
        crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0, primaries=ids, shards=3
    )
    whole = screen_conjunctions(crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0, primaries=ids)
    _same(sharded, whole, 10_000, 1e-9)
    mine = np.isin(unsharded.norad_id_1, ids) | np.isin(unsharded.norad_id_2, ids)
    assert len(sharded) == int(mine.sum()) > 0


def test_encounters_on_shard_boundaries_are_found_once() -> None:
    # 360 steps of 60 s in 4 shards own steps [0, 90), [90, 180), [180, 271), [271, 361)
    edges_s = np.array([90, 180, 271]) * 60.0
    when = np.concatenate([edges_s, edges_s - 30.0, edges_s + 29.999, edges_s - 60.0 + 1e-3])
    m = len(when)
    rng = np.random.default_rng(3)
    pairs = head_on_pairs(
        when,
        rng.uniform(400.0, 1200.0, m),
        rng.uniform(10.0, 170.0, m),
        rng.uniform(0.0, 360.0, m),
        rng.uniform(0.0, 360.0, m),
        rng.uniform(0.5, 3.0, m),
    )
    found = screen_conjunctions(pairs, EPOCH, EPOCH + SPAN, threshold_km=5.0, shards=4)
    assert found.stats.n_shards == 4
    t_found = (found.tca - EPOCH).astype(np.int64) / 1e9
    for k, t_k in enumerate(when):
        truth = refine_pair(pairs, 2 * k, 2 * k + 1, EPOCH, t_k)
        assert truth.miss_km < 4.0
        hit = np.nonzero(
            (found.index_1 == 2 * k) & (found.index_2 == 2 * k + 1) & (np.abs(t_found - t_k) < 60)
        )[0]
        assert len(hit) == 1, f"encounter at {t_k} s found {len(hit)} times"
        assert abs(t_found[hit[0]] - truth.t_s) < 1e-3
        assert abs(found.miss_km[hit[0]] - truth.miss_km) < 1e-3


def test_bad_shard_count_is_an_error(crowd) -> None:
    with pytest.raises(ValueError, match="shards must be at least 1"):
        screen_conjunctions(crowd, EPOCH, EPOCH + SPAN, shards=0)


@pytest.mark.slow
def test_ray_local_equals_in_process(crowd, unsharded) -> None:
    from starbrain.cluster import ray_available

    if not ray_available():
        pytest.skip("ray is not installed")
    on_ray = screen_conjunctions(
        crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0, shards=3, ray_address="local"
    )
    here = screen_conjunctions(crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0, shards=3)
    assert on_ray.stats.n_shards == 3
    _same(on_ray, here, 0, 0.0)  # the same code on the same shards: identical numbers
    _same(on_ray, unsharded, 10_000, 1e-9)


# ---------------------------------------------------------------------------------------------
# Sgp4State.select


def test_state_select_equals_fresh_init(sgp4_ver_text: str) -> None:
    table = parse_tle(sgp4_ver_text).table
    el = Sgp4Elements.from_table(table, device="cpu")
    state = sgp4_init(el)
    assert len(state.near_index) and len(state.deep_index)  # both groups are exercised
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(el))[:20]
    idx = np.concatenate([idx, idx[:3], state.deep_index[:2].numpy()])  # repeats, deep space
    sub = Sgp4Elements(**{k: v[torch.as_tensor(idx)] for k, v in el.__dict__.items()})
    t = torch.linspace(0.0, 1440.0, 7, dtype=torch.float64)
    with torch.no_grad():
        r1, v1, e1 = sgp4_propagate(state.select(idx), t)
        r2, v2, e2 = sgp4_propagate(sgp4_init(sub), t)
    np.testing.assert_array_equal(e1.numpy(), e2.numpy())
    np.testing.assert_array_equal(r1.numpy(), r2.numpy())
    np.testing.assert_array_equal(v1.numpy(), v2.numpy())
    assert state.select(np.zeros(0, np.int64)).n_sat == 0


# ---------------------------------------------------------------------------------------------
# The world model as propagator


@pytest.fixture
def store(store_path):
    from starbrain.store.database import Store

    with Store(store_path) as s:
        yield s


def _model(bias_seed: int | None):
    from starbrain.models.orbit_model import OrbitWorldModel

    model = OrbitWorldModel()
    if bias_seed is not None:
        last = model.mlp[-1]
        gen = torch.Generator().manual_seed(bias_seed)
        with torch.no_grad():
            last.bias.copy_(torch.randn(last.bias.shape, generator=gen) * 3.0)
    return model.eval()


def test_sgp4_when_no_model_is_registered(store) -> None:
    prop = resolve_propagator(store, None)
    assert isinstance(prop, Sgp4Propagator) and prop.name == "sgp4"
    from starbrain.core.errors import StarbrainError

    with pytest.raises(StarbrainError, match="no world model"):
        resolve_propagator(store, "latest")


def test_zero_residual_model_screens_like_sgp4(store, crowd, unsharded) -> None:
    from starbrain.models.registry import register_model

    register_model(store, "zero", _model(None))
    prop = resolve_propagator(store, None)  # the latest registered model
    assert isinstance(prop, WorldModelPropagator) and "zero" in prop.name
    assert isinstance(resolve_propagator(store, "sgp4"), Sgp4Propagator)
    found = screen_conjunctions(crowd, EPOCH, EPOCH + SPAN, threshold_km=10.0, propagator=prop)
    assert prop.vectorised  # forward takes per-object times
    assert "zero" in found.stats.propagator
    _same(found, unsharded, 1_000_000, 1e-6)


def test_per_object_times_match_forward_object_by_object() -> None:
    model = _model(5)
    table = generate_debris(6, epoch=EPOCH)
    el = Sgp4Elements.from_table(table, device="cpu")
    t = torch.as_tensor(np.random.default_rng(1).uniform(0.0, 5000.0, (6, 4)))
    t[:2] = t[0]  # two objects with the same times: one group of the fallback
    with torch.no_grad():
        r, v = model(el, t)  # one row of times per object
        rg, vg = _forward_grouped(model, el, t)  # the exact fallback, forward per group
        np.testing.assert_allclose(rg.numpy(), r.numpy(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(vg.numpy(), v.numpy(), rtol=0, atol=1e-12)
        for i in range(6):
            one = Sgp4Elements(**{k: x[i : i + 1] for k, x in el.__dict__.items()})
            ri, vi = model(one, t[i])
            np.testing.assert_allclose(r[i].numpy(), ri[0].numpy(), rtol=0, atol=1e-9)
            np.testing.assert_allclose(v[i].numpy(), vi[0].numpy(), rtol=0, atol=1e-12)


def test_model_residual_moves_the_conjunctions(store, crowd, unsharded) -> None:
    from starbrain.models.registry import register_model

    model = _model(11)
    register_model(store, "perturbed", model)
    prop = resolve_propagator(store, "perturbed")
    start = EPOCH + np.timedelta64(2, "D")  # the residual grows with the time since epoch
    found = screen_conjunctions(crowd, start, start + SPAN, threshold_km=10.0, propagator=prop)
    assert isinstance(prop, WorldModelPropagator) and prop.vectorised  # the fast path ran
    prior = screen_conjunctions(crowd, start, start + SPAN, threshold_km=10.0)
    assert len(found) >= 10 and len(prior) >= 10
    el = Sgp4Elements.from_table(crowd, device="cpu")
    ep = np.asarray(crowd["epoch"].to_numpy()).astype("datetime64[ns]")
    dt = np.array([-0.05, 0.0, 0.05])  # s

    def distance(i: int, j: int, tca: np.datetime64) -> np.ndarray:
        out = []
        for k in (i, j):
            t_min = ((tca - ep[k]).astype(np.int64) / 1e9 + dt) / 60.0
            one = Sgp4Elements(**{f: x[k : k + 1] for f, x in el.__dict__.items()})
            with torch.no_grad():
                r, _ = model(one, torch.as_tensor(t_min))
            out.append(r[0].numpy())
        return np.linalg.norm(out[1] - out[0], axis=1)

    for n in range(0, len(found), max(1, len(found) // 8)):
        d = distance(int(found.index_1[n]), int(found.index_2[n]), found.tca[n])
        assert abs(d[1] - found.miss_km[n]) < 1e-6
        assert d[1] <= d[0] and d[1] <= d[2]  # a minimum of the model's distance
    # the same encounters, moved: match by pair and TCA within 10 min
    t_f = found.tca.astype(np.int64)
    shifts = []
    for n in range(len(prior)):
        m = np.nonzero(
            (found.norad_id_1 == prior.norad_id_1[n])
            & (found.norad_id_2 == prior.norad_id_2[n])
            & (np.abs(t_f - prior.tca[n].astype(np.int64)) < 600e9)
        )[0]
        if len(m):
            shifts.append(abs(int(t_f[m[0]] - prior.tca[n].astype(np.int64))) / 1e9)
    assert len(shifts) >= len(prior) // 2
    assert np.median(shifts) > 0.01  # seconds: the residual changes the geometry
