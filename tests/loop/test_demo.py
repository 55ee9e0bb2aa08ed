"""The demo's Mars step: the next window found with one refined opportunity, not three years'."""

from __future__ import annotations

import numpy as np

from starbrain.loop.demo import next_mars_window
from starbrain.planners.transfers import windows_table


def test_next_mars_window_is_the_full_searchs_next_opportunity() -> None:
    # what the demo computed before: every opportunity of 2026-2028 refined, launches after
    # the epoch, the first opportunity's rows
    full = windows_table(2026, 2028)
    got = {}
    for epoch, n_rows in (("2026-12-07", 2), ("2026-11-05", 1)):
        ahead = [r for r in full if r["launch"] > epoch]
        expected = [r for r in ahead if r["opportunity"] == ahead[0]["opportunity"]]
        got[epoch] = next_mars_window(np.datetime64(epoch, "D"))
        assert got[epoch] == expected and len(got[epoch]) == n_rows, epoch
    # 2026-12-07: the 2028 opportunity (type II launch 2028-11-29, C3 9.0 km^2/s^2); on
    # 2026-11-05 the 2026 type II (launch 2026-10-31) is past, its type I (2026-11-14) is not
    (first,) = got["2026-11-05"]
    assert first["launch"].startswith("2026-11-14") and first["type"] == 1
    best = min(got["2026-12-07"], key=lambda r: r["c3_km2_s2"])
    assert best["launch"].startswith("2028-11-29") and abs(best["c3_km2_s2"] - 8.995) < 0.01
