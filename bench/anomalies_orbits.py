"""Issue #19, orbits: manoeuvres and decay the orbit model did not predict, in a catalogue's
element sets (``models.anomaly.orbits``, simulated by ``models.anomaly.orbit_sim``).

Three disjoint simulated LEO catalogues (``sample_leo_elements``, 400-1,200 km, 20 days, about
two element sets per object a day, 6-h truth steps, a daily density change common to all
objects, fit errors in every published set): the prior's sigma is calibrated on the first
(nominal), every detector's threshold on the second (nominal), and everything is scored on the
third, whose objects carry one fault each or none: ``burn_along_track`` (0.05-1 m/s,
log-uniform, either sign), ``burn_cross_track`` (0.5-2 m/s), ``ep_raise`` (0.1-0.5 m/s per day
for 3 days), ``drag_storm`` (drag x3 for a day) and ``ballistic_change`` (drag x3 for good),
the two drag kinds on objects at 400-600 km; nominal objects include low ones decaying
naturally (which the model predicts). No detector sees a fault before the test.

Methods: ``residual`` (SGP4 from the previous set against the next, over the calibrated sigma,
``models.anomaly.residual``'s thresholds); ``robust-z`` and ``isolation-forest`` on each
object's raw element history (mean motion, eccentricity, inclination, unwrapped RAAN; rolling
window 5 sets; threshold the largest calibration score, robust z at least 6); ``limits`` on raw
element changes between consecutive sets (semi-major axis km/day, inclination, eccentricity)
outside the calibration range widened by 10 %. Event-wise scoring (``models.anomaly.events``)
per fault kind; delay from the fault's start to the first overlapping event, in hours and in
element sets (1 = the first set after the fault started). Online cost: one catalogue update of
``--online-objects`` (10,000) objects, new set against previous, in one batched call; median
and p99 over 30 updates, per update and per element set.

    OMP_NUM_THREADS=1 .venv/bin/python bench/anomalies_orbits.py [--format md|json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from starbrain.models.anomaly.baselines import IsolationForestScorer, RobustZScorer
from starbrain.models.anomaly.events import event_scores, merge_intervals, runs
from starbrain.models.anomaly.orbit_sim import CatalogConfig, OrbitFault, simulate_catalog
from starbrain.models.anomaly.orbits import (
    element_changes,
    fit_orbit_detector,
    orbit_streams,
    score_update,
)
from starbrain.models.truth import sample_leo_elements

METHODS = ("residual", "robust-z", "isolation-forest", "limits")
KINDS = ("burn_along_track", "burn_cross_track", "ep_raise", "drag_storm", "ballistic_change")
WINDOW = 5
Z_MIN = 6.0
ALT = (400.0, 1200.0)


def _fault(kind: str, rng: np.random.Generator) -> OrbitFault:
    start = float(rng.integers(5 * 4, 14 * 4)) / 4.0  # on the 6-h grid, days 5-14
    sign = float(rng.choice([-1.0, 1.0]))
    if kind == "burn_along_track":
        return OrbitFault(kind, start, sign * 10 ** rng.uniform(np.log10(0.05), 0.0))
    if kind == "burn_cross_track":
        return OrbitFault(kind, start, sign * rng.uniform(0.5, 2.0))
    if kind == "ep_raise":
        return OrbitFault(kind, start, rng.uniform(0.1, 0.5), 3.0)
    return OrbitFault(kind, start, 3.0, 1.0 if kind == "drag_storm" else 0.0)


def test_catalog(per_kind: int, n_nominal: int, seed: int = 3) -> tuple[pa.Table, pa.Table]:
    """The test catalogue's history and labels: ``per_kind`` objects per fault kind, then
    ``n_nominal`` nominal objects (NORAD ids from 320001)."""
    rng = np.random.default_rng(seed)
    parts, faults, first = [], {}, 320_001
    for kind in KINDS:
        alt = (400.0, 600.0) if kind in ("drag_storm", "ballistic_change") else ALT
        parts.append(sample_leo_elements(per_kind, seed=seed + len(parts), alt_km=alt,
                                         first_norad=first))  # fmt: skip
        for i in range(per_kind):
            faults[first - 320_001 + i] = _fault(kind, rng)
        first += per_kind
    parts.append(sample_leo_elements(n_nominal, seed=seed + 10, alt_km=ALT, first_norad=first))
    return simulate_catalog(pa.concat_tables(parts), faults, CatalogConfig(seed=seed))


def _raw(history: pa.Table) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """NORAD id -> (epochs ns (n,), raw elements (n, 4))."""
    t = history.sort_by([("norad_id", "ascending"), ("epoch", "ascending")])
    norad = t["norad_id"].to_numpy()
    cols = ("mean_motion_rev_per_day", "eccentricity", "inclination_deg", "ra_of_asc_node_deg")
    x = np.stack([t[c].to_numpy() for c in cols], 1)
    ns = t["epoch"].cast(pa.int64()).to_numpy()
    starts = np.flatnonzero(np.r_[True, norad[1:] != norad[:-1]])
    out = {}
    for a, b in zip(starts, np.r_[starts[1:], len(norad)], strict=True):
        xi = x[a:b].copy()
        xi[:, 3] = np.degrees(np.unwrap(np.radians(xi[:, 3])))
        out[str(norad[a])] = (ns[a:b], xi)
    return out


def _intervals(t: np.ndarray, flags: np.ndarray) -> list[tuple[float, float]]:
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return merge_intervals([(float(t[a]), float(t[b]) + dt) for a, b in runs(flags)], 2 * dt)


def _by_object(norad: np.ndarray, t: np.ndarray, flags: np.ndarray) -> dict[str, list]:
    out: dict[str, list] = {}
    for o in np.unique(norad):
        m = norad == o
        out[str(o)] = _intervals(t[m], flags[m])
    return out


def fit_baselines(cal: pa.Table) -> dict[str, Any]:
    raw = list(_raw(cal).values())
    xs = [x for _, x in raw if len(x) > WINDOW + 2]
    masks = [np.ones(len(x), bool) for x in xs]
    rz = RobustZScorer(WINDOW).fit(xs, masks)
    rz_thr = np.maximum(Z_MIN, np.max([rz.score(x).max(0) for x in xs], 0))
    iso = IsolationForestScorer(WINDOW).fit(xs, masks)
    iso_thr = float(max(iso.score(x)[0].max() for x in xs))
    ch, _, _ = element_changes(cal)
    ch = np.abs(ch[np.isfinite(ch).all(1)])
    return {"rz": rz, "rz_thr": rz_thr, "iso": iso, "iso_thr": iso_thr,
            "hi": 1.1 * ch.max(0)}  # fmt: skip


def detect(test: pa.Table, sigma: Any, scorer: Any, base: dict[str, Any]) -> dict[str, dict]:
    """method -> NORAD id -> merged event intervals (ns, as floats)."""
    out: dict[str, dict] = {m: {} for m in METHODS}
    for s in orbit_streams(test, sigma):
        ev = [(float(e.start_ns), float(e.end_ns)) for e in scorer.events(s)]
        out["residual"][s.object_id] = merge_intervals(ev)
    for obj, (t, x) in _raw(test).items():
        tf = t.astype(np.float64)
        out["robust-z"][obj] = _intervals(tf, (base["rz"].score(x) > base["rz_thr"]).any(1))
        out["isolation-forest"][obj] = _intervals(tf, base["iso"].score(x)[0] > base["iso_thr"])
    ch, norad, t_ns = element_changes(test)
    out["limits"] = _by_object(norad, t_ns.astype(np.float64), (np.abs(ch) > base["hi"]).any(1))
    return out


def _delay(labs: list, pred: list, epochs: np.ndarray) -> tuple[list, list]:
    hours, sets = [], []
    for a, b in labs:
        hit = [p for p in pred if p[0] <= b and a <= p[1]]
        if hit:
            first = min(p[0] for p in hit)
            hours.append(max(0.0, first - a) / 3.6e12)
            sets.append(int(((epochs > a) & (epochs <= first)).sum()))
    return hours, sets


def evaluate(test: pa.Table, labels: pa.Table, det: dict[str, dict]) -> list[dict[str, Any]]:
    raw = _raw(test)
    lab: dict[str, list] = {}
    for r in labels.to_pylist():
        lab.setdefault(r["object_id"], []).append(r)
    rows = []
    for m in METHODS:
        for kind in KINDS:
            tp = fp = fn = 0
            hours: list[float] = []
            sets: list[int] = []
            for obj, rs in lab.items():
                mine = [(r["start"].value, r["end"].value) for r in rs if r["kind"] == kind]
                if not mine:
                    continue
                pred = det[m].get(obj, [])
                sc = event_scores(mine, pred)
                tp, fp, fn = tp + sc.tp, fp + sc.fp, fn + sc.fn
                h, s = _delay(mine, pred, raw[obj][0] if obj in raw else np.zeros(0))
                hours, sets = hours + h, sets + s
            rows.append({"kind": kind, "method": m, "precision": tp / (tp + fp) if tp + fp else 0.0,
                         "recall": tp / (tp + fn) if tp + fn else 0.0, "tp": tp, "fp": fp, "fn": fn,
                         "delay_h": statistics.median(hours) if hours else None,
                         "delay_sets": statistics.median(sets) if sets else None})  # fmt: skip
        nominal = [o for o in raw if o not in lab]
        days = sum((raw[o][0][-1] - raw[o][0][0]) / 8.64e13 for o in nominal)
        rows.append({"kind": "nominal", "method": m, "objects": len(nominal), "object_days": days,
                     "false_alarms": sum(len(det[m].get(o, [])) for o in nominal)})  # fmt: skip
    return rows


def along_by_magnitude(labels: pa.Table, det: dict[str, dict]) -> list[dict[str, Any]]:
    """Residual detector's recall on along-track burns by |delta-v| band (m/s)."""
    out = []
    rows = [r for r in labels.to_pylist() if r["kind"] == "burn_along_track"]
    for lo, hi in ((0.05, 0.1), (0.1, 0.3), (0.3, 1.0001)):
        sel = [r for r in rows if lo <= abs(r["magnitude"]) < hi]
        det_r = det["residual"]
        hit = sum(event_scores([(r["start"].value, r["end"].value)],
                               det_r.get(r["object_id"], [])).tp for r in sel)  # fmt: skip
        out.append({"band_mps": f"{lo:g}-{min(hi, 1):g}", "n": len(sel), "detected": hit})
    return out


def online_cost(sigma: Any, scorer: Any, n_obj: int, repeats: int = 30) -> dict[str, float]:
    """Wall time of one catalogue update (``n_obj`` new sets against their previous ones)."""
    from starbrain.models.fitting import elements_from_state
    from starbrain.physics.sgp4 import Sgp4Elements, sgp4_propagate

    prev = Sgp4Elements.from_table(sample_leo_elements(n_obj, seed=9, alt_km=ALT), device="cpu")
    r, v, _ = sgp4_propagate(prev, torch.tensor([720.0], dtype=torch.float64))
    new = elements_from_state(r[:, 0], v[:, 0], prev.jdsatepoch.numpy(),
                              prev.jdsatepochF.numpy() + 0.5, prev.bstar.numpy())  # fmt: skip
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        score_update(prev, new, sigma, scorer)
        times.append(time.perf_counter() - t0)
    med, p99 = statistics.median(times), float(np.percentile(times, 99))
    return {"objects": n_obj, "update_median_ms": med * 1e3, "update_p99_ms": p99 * 1e3,
            "per_set_median_us": med / n_obj * 1e6,
            "per_set_p99_us": p99 / n_obj * 1e6}  # fmt: skip


def run(n_cal: int, per_kind: int, n_nominal: int, n_online: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    sig_h, _ = simulate_catalog(sample_leo_elements(n_cal, seed=1, alt_km=ALT), {},
                                CatalogConfig(seed=1))  # fmt: skip
    cal_h, _ = simulate_catalog(sample_leo_elements(n_cal, seed=2, alt_km=ALT, first_norad=310_001),
                                {}, CatalogConfig(seed=2))  # fmt: skip
    test, labels = test_catalog(per_kind, n_nominal)
    sim_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sigma, scorer = fit_orbit_detector(sig_h, cal_h)
    base = fit_baselines(cal_h)
    det = detect(test, sigma, scorer, base)
    rows = evaluate(test, labels, det)
    thr = scorer.threshold.round(2).tolist()
    example = next((e.message() for s in orbit_streams(test, sigma) for e in scorer.events(s)),
                   None)  # fmt: skip
    return {"rows": rows, "along_by_magnitude": along_by_magnitude(labels, det),
            "cost": online_cost(sigma, scorer, n_online), "simulate_s": sim_s,
            "score_s": time.perf_counter() - t0, "example_alert": example,
            "threshold_sigma": dict(zip(scorer.channels, thr, strict=True)),
            "sets": {"sigma": sig_h.num_rows, "calibration": cal_h.num_rows,
                     "test": test.num_rows}}  # fmt: skip


def markdown(res: dict[str, Any]) -> str:
    lines = ["| fault kind | method | precision | recall | TP/FP/FN | median delay (h) | (sets) |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in res["rows"]:
        if r["kind"] != "nominal":
            dh = "-" if r["delay_h"] is None else f"{r['delay_h']:.1f}"
            ds = "-" if r["delay_sets"] is None else f"{r['delay_sets']:g}"
            counts = f"{r['tp']}/{r['fp']}/{r['fn']}"
            lines.append(f"| {r['kind']} | {r['method']} | {r['precision']:.2f} | "
                         f"{r['recall']:.2f} | {counts} | {dh} | {ds} |")  # fmt: skip
    lines += ["", "| method | false alarms on held-out nominal objects | objects | object-days |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for r in res["rows"]:
        if r["kind"] == "nominal":
            lines.append(f"| {r['method']} | {r['false_alarms']} | {r['objects']} | "
                         f"{r['object_days']:.0f} |")  # fmt: skip
    band = ", ".join(f"{b['band_mps']} m/s {b['detected']}/{b['n']}"
                     for b in res["along_by_magnitude"])  # fmt: skip
    c = res["cost"]
    lines += ["", f"residual, along-track burns detected by |dv|: {band}",
              f"online: {c['objects']} objects per update, median {c['update_median_ms']:.1f} ms "
              f"(p99 {c['update_p99_ms']:.1f} ms) = {c['per_set_median_us']:.1f} us per element "
              f"set (p99 {c['per_set_p99_us']:.1f} us)",
              f"thresholds (sigma): {res['threshold_sigma']}", f"element sets: {res['sets']}",
              f"simulate {res['simulate_s']:.0f} s, fit + score {res['score_s']:.0f} s",
              f"example alert: {res['example_alert']}"]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration-objects", type=int, default=500)
    ap.add_argument("--per-kind", type=int, default=60)
    ap.add_argument("--nominal-objects", type=int, default=200)
    ap.add_argument("--online-objects", type=int, default=10_000)
    ap.add_argument("--format", choices=("md", "json"), default="md")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = run(a.calibration_objects, a.per_kind, a.nominal_objects, a.online_objects)
    print(json.dumps(res, indent=1, default=float) if a.format == "json" else markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
