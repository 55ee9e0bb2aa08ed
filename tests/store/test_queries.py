"""starbrain.store.queries: "current conjunctions" defined once, and the other layers' reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from starbrain.store import queries
from starbrain.store.database import Store
from tests.store.screenings import (
    CURRENT,
    FIRST,
    SECOND,
    hours,
    keys,
    screening,
    two_screenings,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    path = two_screenings(tmp_path / "store.duckdb")
    return Store(path)


def test_current_conjunctions_of_two_screenings_that_disagree(store: Store) -> None:
    current = queries.latest_conjunctions(store)
    assert current.schema == store.stream("conjunctions").schema
    assert keys(current) == CURRENT
    # ordered by TCA
    tca = current["tca"].cast(pa.timestamp("ns")).cast(pa.int64()).to_pylist()
    assert tca == sorted(tca)
    refined = current.filter(pa.compute.equal(current["norad_id_1"], 300))
    assert refined["miss_distance_km"].to_pylist() == [1.8]
    store.close()


def test_the_filters_never_change_what_is_current(store: Store) -> None:
    only = queries.latest_conjunctions(store, norad_id=200)
    assert {k[:3] for k in keys(only)} == {k[:3] for k in CURRENT if 200 in k[:2]}
    close = queries.latest_conjunctions(store, max_miss_km=1.0)
    assert {(k[0], k[1]) for k in keys(close)} == {(100, 200), (500, 600)}
    # the 2 h row (miss 1 km) is not current, whatever the filter
    assert len(close) == 2
    probable = queries.latest_conjunctions(store, min_pc=1e-3 / 2.9)
    assert {(k[0], k[1]) for k in keys(probable)} == {(100, 200), (300, 400), (500, 600)}
    store.close()


def test_a_narrower_threshold_does_not_retire_what_it_could_not_see(tmp_path: Path) -> None:
    path = two_screenings(tmp_path / "s.duckdb")
    with Store(path) as store:
        # a third screening of the same span but a 1 km threshold, pair order swapped
        third = screening([(900, 1000, 12.0, 0.2)], screened_h=7.0, span_h=(1.0, 23.0),
                          threshold_km=1.0)  # fmt: skip
        store.append("conjunctions", third)
        got = {k[:2] for k in keys(queries.latest_conjunctions(store))}
        # 300/400 (1.8 km) and 700/800 (3 km) lie beyond 1 km: the third could not see them
        assert got == {(100, 200), (300, 400), (500, 600), (700, 800), (900, 1000)}
        # a fourth, 5 km threshold, finds only 400/300 (swapped) at a TCA 60 s later
        fourth = screening([(400, 300, 5.0 + 63 / 3600, 1.5)], screened_h=8.0,
                           span_h=(1.0, 23.0))  # fmt: skip
        store.append("conjunctions", fourth)
        got4 = keys(queries.latest_conjunctions(store))
        assert {k[:2] for k in got4} == {(100, 200), (400, 300), (500, 600)}


def test_the_tca_tolerance_joins_one_encounter_across_overlapping_spans(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        # A first screening ends at 1 h with a TCA just inside it; the second starts at
        # 1 h + 30 s and finds the same encounter 40 s later (beyond the first's span)
        store.append("conjunctions", screening([(1, 2, 1.0 - 10 / 3600, 1.0)], screened_h=-1.0,
                                               span_h=(0.0, 1.0)))  # fmt: skip
        store.append("conjunctions", screening([(1, 2, 1.0 + 30 / 3600, 1.0)], screened_h=0.0,
                                               span_h=(1.0 + 20 / 3600, 2.0)))  # fmt: skip
        one = queries.latest_conjunctions(store)
        assert len(one) == 1 and one["screened_at"][0].as_py().hour == 0
        two = queries.latest_conjunctions(store, tca_tolerance_s=30.0)
        assert len(two) == 2  # 40 s apart: two encounters at a 30 s tolerance
        with pytest.raises(ValueError, match="tca_tolerance_s"):
            queries.latest_conjunctions(store, tca_tolerance_s=-1.0)


def test_no_screening_stored_is_an_empty_table(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        empty = queries.latest_conjunctions(store)
        assert empty.num_rows == 0 and empty.schema == store.stream("conjunctions").schema


def test_one_conjunction_is_its_newest_row(store: Store) -> None:
    tca_ns = int(hours(2.0).astype(np.int64))
    row = queries.conjunction(store, 100, 200, tca_ns)
    assert row.num_rows == 1 and row["miss_distance_km"][0].as_py() == 1.0
    assert queries.conjunction(store, 200, 100, tca_ns).num_rows == 0
    assert queries.conjunction(store, 100, 200, tca_ns + 1).num_rows == 0
    store.close()


def test_has_table_and_the_loop_tables(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        assert queries.has_table(store, "conjunctions")
        assert not queries.has_table(store, queries.LOOP_STATE_TABLE)
        queries.ensure_loop_tables(store)
        assert queries.has_table(store, queries.LOOP_STATE_TABLE)
        t = np.datetime64("2026-11-25T06:30:00.123456789", "ns")
        queries.save_loop_task(store, "catalog", t)
        queries.save_loop_task(store, "catalog", t + np.timedelta64(60, "s"))
        assert queries.loop_done_until(store) == {"catalog": t + np.timedelta64(60, "s")}
        tasks = queries.loop_tasks(store).to_pylist()
        assert tasks == [
            {"task": "catalog", "done_until_ns": int((t + np.timedelta64(60, "s")).astype(int)),
             "runs": 2}
        ]  # fmt: skip
        assert queries.loop_events(store).num_rows == 0


def test_first_and_second_are_what_the_docstring_says() -> None:
    """The fixture itself: the second screening drops one pair and refines one TCA."""
    assert len(FIRST) == 4 and len(SECOND) == 2
    assert {r[:2] for r in FIRST} - {r[:2] for r in SECOND} == {(100, 200), (500, 600)}


def test_a_recorded_screening_that_found_nothing_retires_what_it_covered(store: Store) -> None:
    queries.record_screening(
        store, start=hours(4.0), stop=hours(11.0), threshold_km=5.0, screened_at=hours(7.0),
        n_conjunctions=0, source="test",
    )  # fmt: skip
    got = {k[:2] for k in keys(queries.latest_conjunctions(store))}
    # 300/400 at 5 h and 700/800 at 10 h lie in [4 h, 11 h]: gone; 0.5 h and 23.5 h stay
    assert got == {(100, 200), (500, 600)}
    with pytest.raises(ValueError, match="threshold_km"):
        queries.record_screening(
            store, start=hours(0), stop=hours(1), threshold_km=0.0, screened_at=hours(8),
            n_conjunctions=0,
        )  # fmt: skip
    store.close()
