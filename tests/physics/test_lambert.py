"""Izzo Lambert solver against pykep and lamberthub, and against the two-body motion it solves.

References (test-only, never imported by src/):
* pykep 3.0.1 (ESA, MPL-2.0): ``lambert_problem``, the C++ implementation by Izzo himself.
  The pykep 3.0.1 wheel lacks a data file that its package ``__init__`` opens, so the compiled
  ``pykep.core`` extension is loaded directly (see ``_pykep_core``).
* lamberthub 1.0.0 (J. Martinez Garrido; LICENSE file GPL-3.0): ``izzo2015``.

Random geometries come from a fixed seed; velocities must agree to 1e-9 relative wherever both
solvers report a solution, and both must find the same set of solutions.
"""

from __future__ import annotations

import ctypes
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from starbrain.physics.lambert import max_revolutions, solve_lambert, solve_lambert_all

RTOL = 1e-9


def _pykep_core() -> Any:
    """pykep's compiled core (``lambert_problem``) without running pykep/__init__.py."""
    spec = importlib.util.find_spec("pykep")
    if spec is None or spec.origin is None:
        pytest.skip("pykep is not installed (pip install pykep): reference Lambert solver")
    sos = sorted(Path(spec.origin).parent.glob("core*.so")) + sorted(
        Path(spec.origin).parent.glob("core*.pyd")
    )
    if not sos:
        pytest.skip("pykep's compiled core module was not found")
    flags = sys.getdlopenflags() if hasattr(sys, "getdlopenflags") else None
    try:
        # pykep's own __init__ does this: heyoka's JIT needs the symbols global.
        if flags is not None:
            sys.setdlopenflags(flags | ctypes.RTLD_GLOBAL)
        core_spec = importlib.util.spec_from_file_location("pykep.core", sos[0])
        assert core_spec is not None and core_spec.loader is not None
        core = importlib.util.module_from_spec(core_spec)
        core_spec.loader.exec_module(core)
    except Exception as exc:  # pragma: no cover - depends on the wheel
        pytest.skip(f"pykep's core could not be loaded: {exc}")
    finally:
        if flags is not None:
            sys.setdlopenflags(flags)
    return core


def _lamberthub_izzo() -> Any:
    try:
        from lamberthub import izzo2015
    except Exception as exc:
        pytest.skip(f"lamberthub is not importable (pip install lamberthub): {exc}")
    return izzo2015


def _geometries(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random r1, r2 (radii 0.3-3), times of flight 0.05-300 (log-uniform), mu = 1, with 30 %
    retrograde; enough time for up to ~45 revolutions at the long end."""
    rng = np.random.default_rng(seed)

    def dirs() -> np.ndarray:
        v = rng.normal(size=(n, 3))
        return v / np.linalg.norm(v, axis=1)[:, None]

    r1 = dirs() * 10 ** rng.uniform(-0.5, 0.5, n)[:, None]
    r2 = dirs() * 10 ** rng.uniform(-0.5, 0.5, n)[:, None]
    tof = 10 ** rng.uniform(math.log10(0.05), math.log10(300.0), n)
    prograde = rng.random(n) >= 0.3
    return r1, r2, tof, prograde


def _pykep_solutions(core: Any, r1, r2, tof, prograde, max_revs):  # type: ignore[no-untyped-def]
    n = len(tof)
    k = 2 * max_revs + 1
    v1 = np.full((n, k, 3), np.nan)
    v2 = np.full((n, k, 3), np.nan)
    for i in range(n):
        lp = core.lambert_problem(r1[i], r2[i], float(tof[i]), 1.0, not prograde[i], max_revs)
        a = np.asarray(lp.v0)
        b = np.asarray(lp.v1)
        v1[i, : len(a)] = a
        v2[i, : len(b)] = b
    return v1, v2


def _compare(sol: Any, ref_v1: np.ndarray, ref_v2: np.ndarray) -> tuple[float, int]:
    ref_ok = np.isfinite(ref_v1[..., 0])
    ok = np.asarray(sol.converged)
    mismatched = np.argwhere(ok != ref_ok)
    assert mismatched.size == 0, f"solution sets differ at (case, slot) {mismatched[:10].tolist()}"
    e1 = np.linalg.norm(sol.v1 - ref_v1, axis=-1) / np.linalg.norm(ref_v1, axis=-1)
    e2 = np.linalg.norm(sol.v2 - ref_v2, axis=-1) / np.linalg.norm(ref_v2, axis=-1)
    err = np.where(ok, np.maximum(e1, e2), 0.0)
    worst = float(err.max())
    assert worst < RTOL, f"max relative velocity error {worst:.3g} at {np.argmax(err)}"
    return worst, int(ok.sum())


def _check_against_pykep(n: int, seed: int, max_revs: int) -> None:
    core = _pykep_core()
    r1, r2, tof, pro = _geometries(n, seed)
    sol = solve_lambert_all(r1, r2, tof, 1.0, max_revs=max_revs, prograde=pro)
    ref_v1, ref_v2 = _pykep_solutions(core, r1, r2, tof, pro, max_revs)
    _, n_ok = _compare(sol, ref_v1, ref_v2)
    # Multi-revolution cases must actually be exercised.
    assert np.asarray(sol.converged)[:, 1:].sum() > n // 4
    assert n_ok > n


def test_matches_pykep_100k() -> None:
    """100,000 geometries x up to 5 revolutions (11 solution slots each); ~5 s."""
    _check_against_pykep(100_000, seed=20150102, max_revs=5)


def _check_against_lamberthub(n: int, seed: int, max_revs: int) -> None:
    izzo2015 = _lamberthub_izzo()
    r1, r2, tof, pro = _geometries(n, seed)
    sol = solve_lambert_all(r1, r2, tof, 1.0, max_revs=max_revs, prograde=pro)
    k = 2 * max_revs + 1
    ref_v1 = np.full((n, k, 3), np.nan)
    ref_v2 = np.full((n, k, 3), np.nan)
    for i in range(n):
        for j in range(k):
            m = (j + 1) // 2
            # Our slot order is (M, left), (M, right); lamberthub's low_path is the right branch.
            low = m == 0 or j % 2 == 0
            try:
                a, b = izzo2015(
                    1.0, r1[i], r2[i], float(tof[i]), M=m, prograde=bool(pro[i]), low_path=low
                )
            except ValueError:  # lamberthub raises when M revolutions do not fit
                continue
            ref_v1[i, j] = a
            ref_v2[i, j] = b
    _compare(sol, ref_v1, ref_v2)


def test_matches_lamberthub_2k() -> None:
    """lamberthub is a numba loop called once per solution: 2,000 geometries by default."""
    _check_against_lamberthub(2_000, seed=7, max_revs=2)


@pytest.mark.slow
def test_matches_lamberthub_100k() -> None:
    """100,000 geometries x (M=0, 1L, 1R, 2L, 2R); ~90 s."""
    _check_against_lamberthub(100_000, seed=8, max_revs=2)


def _two_body_rhs(t: float, s: np.ndarray) -> np.ndarray:
    r = s[:3]
    return np.concatenate([s[3:], -r / np.linalg.norm(r) ** 3])


def test_arcs_reach_the_target() -> None:
    """Integrating r1, v1 for the time of flight must land on r2 with velocity v2 (mu = 1);
    independent of any other Lambert code."""
    from scipy.integrate import solve_ivp

    r1, r2, tof, pro = _geometries(40, seed=3)
    tof = np.clip(tof, 0.05, 40.0)
    sol = solve_lambert_all(r1, r2, tof, 1.0, max_revs=2, prograde=pro)
    checked = 0
    for i, j in np.argwhere(sol.converged):
        s0 = np.concatenate([r1[i], sol.v1[i, j]])
        out = solve_ivp(_two_body_rhs, (0.0, tof[i]), s0, rtol=1e-12, atol=1e-13, method="DOP853")
        end = out.y[:, -1]
        assert np.linalg.norm(end[:3] - r2[i]) < 1e-7 * np.linalg.norm(r2[i])
        assert np.linalg.norm(end[3:] - sol.v2[i, j]) < 1e-7 * np.linalg.norm(sol.v2[i, j])
        # Prograde motion has angular momentum along +z, retrograde along -z.
        hz = np.cross(r1[i], sol.v1[i, j])[2]
        assert (hz > 0) == pro[i]
        checked += 1
    assert checked > 60


def test_km_units_and_broadcasting() -> None:
    """Earth-like heliocentric arc in km and km/s, broadcast over a (2, 3) batch of times."""
    mu = 1.32712440018e11
    r1 = np.array([1.496e8, 0.0, 0.0])
    r2 = np.array([0.0, 2.279e8, 1.0e6])
    tof = np.array([[150.0], [250.0]]) * 86400.0 + np.array([0.0, 5.0, 10.0]) * 86400.0
    sol = solve_lambert(r1, r2, tof, mu)
    assert sol.v1.shape == (2, 3, 3) and sol.converged.shape == (2, 3)
    assert np.all(sol.converged)
    speed = np.linalg.norm(sol.v1, axis=-1)
    assert np.all((25.0 < speed) & (speed < 45.0))  # km/s, near Earth's 29.8 km/s


def test_flags_instead_of_exceptions() -> None:
    r1 = np.array([[1.0, 0.0, 0.0]] * 5)
    r2 = np.array(
        [
            [0.0, 1.0, 0.0],  # fine
            [-1.0, 0.0, 0.0],  # 180 degrees: plane undefined
            [0.0, 1.0, 0.0],  # negative time of flight
            [0.0, 1.0, 0.0],  # 3 revolutions in too short a time
            [np.nan, 1.0, 0.0],  # bad input
        ]
    )
    tof = np.array([1.0, 1.0, -1.0, 2.0, 1.0])
    revs = np.array([0, 0, 0, 3, 0])
    sol = solve_lambert(r1, r2, tof, 1.0, revs=revs)
    assert sol.converged.tolist() == [True, False, False, False, False]
    assert np.all(np.isnan(sol.v1[1:])) and np.all(np.isfinite(sol.v1[0]))


def test_max_revolutions_matches_solution_count() -> None:
    r1, r2, tof, pro = _geometries(2_000, seed=11)
    m = max_revolutions(r1, r2, tof, 1.0, prograde=pro)
    sol = solve_lambert_all(r1, r2, tof, 1.0, max_revs=4, prograde=pro)
    n_multi = (np.asarray(sol.converged).sum(axis=1) - 1) // 2
    assert np.array_equal(np.minimum(m, 4), n_multi)


def test_branch_names_and_arrays_agree() -> None:
    r1, r2, tof, _ = _geometries(200, seed=12)
    tof = tof + 100.0  # at least one revolution fits for every geometry drawn here
    left = solve_lambert(r1, r2, tof, 1.0, revs=1, branch="left")
    right = solve_lambert(r1, r2, tof, 1.0, revs=1, branch="right")
    mixed = solve_lambert(r1, r2, tof, 1.0, revs=1, branch=np.arange(200) % 2 == 1)
    assert np.all(left.converged) and np.all(right.converged)
    assert np.all(left.x < right.x)
    np.testing.assert_array_equal(mixed.v1[::2], left.v1[::2])
    np.testing.assert_array_equal(mixed.v1[1::2], right.v1[1::2])
    with pytest.raises(ValueError, match="branch"):
        solve_lambert(r1, r2, tof, 1.0, branch="up")


# ----------------------------------------------------------------------------- PyTorch


def test_torch_matches_numpy() -> None:
    torch = pytest.importorskip("torch")
    r1, r2, tof, pro = _geometries(3_000, seed=5)
    ref = solve_lambert_all(r1, r2, tof, 1.0, max_revs=3, prograde=pro)
    got = solve_lambert_all(
        torch.tensor(r1), torch.tensor(r2), torch.tensor(tof), 1.0, max_revs=3,
        prograde=torch.tensor(pro),
    )  # fmt: skip
    assert isinstance(got.v1, torch.Tensor) and got.v1.dtype == torch.float64
    assert np.array_equal(got.converged.numpy(), ref.converged)
    ok = ref.converged
    err = np.abs(got.v1.numpy() - ref.v1)[ok].max() / np.abs(ref.v1[ok]).max()
    assert err < 1e-12


def test_torch_gradients_match_finite_differences() -> None:
    torch = pytest.importorskip("torch")
    r1, r2, tof, _ = _geometries(6, seed=9)
    tof = np.clip(tof, 0.5, 20.0)
    assert np.all(max_revolutions(r1, r2, tof + 80.0, 1.0) >= 1)
    for revs in (0, 1):
        t_r1 = torch.tensor(r1, requires_grad=True)
        t_tof = torch.tensor(tof + 80.0 * revs, requires_grad=True)
        t_mu = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        sol = solve_lambert(t_r1, torch.tensor(r2), t_tof, t_mu, revs=revs)
        assert bool(sol.converged.all())
        (sol.v1.sum() + 2.0 * sol.v2.sum()).backward()

        def f(a: np.ndarray, t: np.ndarray, mu: float, revs: int = revs) -> np.ndarray:
            s = solve_lambert(a, r2, t, mu, revs=revs)
            return s.v1.sum(-1) + 2.0 * s.v2.sum(-1)

        h = 1e-6
        t0 = tof + 80.0 * revs
        fd_t = (f(r1, t0 + h, 1.0) - f(r1, t0 - h, 1.0)) / (2 * h)
        np.testing.assert_allclose(t_tof.grad.numpy(), fd_t, rtol=1e-5, atol=1e-7)
        fd_mu = (f(r1, t0, 1.0 + h).sum() - f(r1, t0, 1.0 - h).sum()) / (2 * h)
        np.testing.assert_allclose(float(t_mu.grad), fd_mu, rtol=1e-5)
        for c in range(3):
            dr = np.zeros_like(r1)
            dr[:, c] = h
            fd_r = (f(r1 + dr, t0, 1.0) - f(r1 - dr, t0, 1.0)) / (2 * h)
            np.testing.assert_allclose(t_r1.grad.numpy()[:, c], fd_r, rtol=1e-5, atol=1e-7)


def test_torch_cuda_when_present() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    r1, r2, tof, pro = _geometries(1_000, seed=10)
    ref = solve_lambert_all(r1, r2, tof, 1.0, max_revs=2, prograde=pro)
    dev = torch.device("cuda")
    got = solve_lambert_all(
        torch.tensor(r1, device=dev), torch.tensor(r2, device=dev),
        torch.tensor(tof, device=dev), 1.0, max_revs=2, prograde=torch.tensor(pro, device=dev),
    )  # fmt: skip
    assert got.v1.device.type == "cuda"
    assert np.array_equal(got.converged.cpu().numpy(), ref.converged)
    ok = ref.converged
    assert np.allclose(got.v1.cpu().numpy()[ok], ref.v1[ok], rtol=1e-11, atol=0)
