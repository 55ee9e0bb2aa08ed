"""The demo that ``make run`` runs: the loop on embedded defaults, summarised on the terminal.

Today it builds the Starlink Gen1 catalogue (no network needed), stores it, exports it as TLE and
OMM, reloads the export to prove the round trip, and prints a summary. Later stages of the loop
(propagation, passes, conjunctions, models) add their steps here as they land.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from starbrain import timeconv
from starbrain.config import settings
from starbrain.sources.catalog import load_catalog
from starbrain.sources.constellation import PRESETS, generate_preset
from starbrain.sources.omm import write_omm
from starbrain.sources.tle import format_tle
from starbrain.store.database import Store

__all__ = ["run_demo"]


def _shell_summary(table: pa.Table, preset: str) -> Table:
    out = Table(title=f"{preset}: {table.num_rows} satellites")
    for col in ("shell", "sats", "planes x per plane", "alt km", "incl °", "period min"):
        out.add_column(col, justify="right")
    names = table.column("object_name").to_pylist()
    shell_of = np.array([n.split()[1].split("-")[0] for n in names])
    n_rev = table.column("mean_motion_rev_per_day").to_numpy()
    for shell in PRESETS[preset]:
        sel = shell_of == shell.name
        out.add_row(
            shell.name,
            str(int(sel.sum())),
            f"{shell.planes} x {shell.per_plane}",
            f"{shell.altitude_km:.0f}",
            f"{shell.inclination_deg:.1f}",
            f"{1440.0 / n_rev[sel].mean():.2f}",
        )
    return out


def run_demo(console: Console, preset: str = "starlink-gen1") -> dict[str, float]:
    """Run the demo, printing as it goes; returns the step timings in seconds."""
    cfg = settings()
    timings: dict[str, float] = {}
    epoch = timeconv.utc_now().astype("datetime64[D]")
    console.rule(f"[bold]starbrain demo[/]: {preset} on {epoch}")

    t = time.perf_counter()
    table = generate_preset(preset, epoch=epoch)
    timings["generate"] = time.perf_counter() - t
    console.print(f"generated {table.num_rows} element sets in {timings['generate']:.2f} s")

    out_dir = cfg.data_dir / "catalogues"
    out_dir.mkdir(parents=True, exist_ok=True)
    tle_path = out_dir / f"{preset}.tle"
    omm_path = out_dir / f"{preset}.json"
    t = time.perf_counter()
    tle_path.write_text("\n".join(format_tle(table, names=True)) + "\n")
    omm_path.write_text(write_omm(table, "json"))
    reloaded = load_catalog(tle_path)
    timings["export+reload"] = time.perf_counter() - t
    same = (
        reloaded.n_good == table.num_rows
        and not reloaded.errors
        and all(
            pc.all(pc.equal(reloaded.table.column(c), table.column(c))).as_py()
            for c in (
                "norad_id",
                "epoch",
                "mean_motion_rev_per_day",
                "inclination_deg",
                "ra_of_asc_node_deg",
                "mean_anomaly_deg",
                "eccentricity",
            )
        )
    )
    console.print(
        f"wrote {tle_path} and {omm_path}; reloaded the TLE file: {reloaded.n_good} valid, "
        f"{len(reloaded.errors)} bad, values {'identical' if same else '[red]DIFFERENT[/]'}",
        highlight=False,
    )

    t = time.perf_counter()
    with Store(cfg.db_path) as store:
        added = store.append("elements", reloaded.table, source=str(tle_path))
        n_objects = store.count("elements", current=True)
        n_sets = store.count("elements")
    timings["store"] = time.perf_counter() - t
    console.print(
        f"store {cfg.db_path}: {added.n_new} new element sets ({added.n_duplicate} already "
        f"stored); {n_objects} objects, {n_sets} element sets in all",
        highlight=False,
    )
    console.print(_shell_summary(table, preset))
    console.print(
        "next: [bold]starbrain catalog show[/], "
        "[bold]starbrain catalog export --format omm-json[/], "
        "[bold]starbrain catalog load FILE|URL[/]"
    )
    return timings
