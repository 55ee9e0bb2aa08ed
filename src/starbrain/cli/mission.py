"""``starbrain landing`` and ``starbrain ascent``: powered descent and launch ascent."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from starbrain.cli._common import _vector, app, console, err_console
from starbrain.core.errors import StarbrainError

landing_app = typer.Typer(
    help="Powered-descent guidance (lossless convexification).", no_args_is_help=True
)
ascent_app = typer.Typer(help="Launch-vehicle ascent optimisation.", no_args_is_help=True)
app.add_typer(landing_app, name="landing")
app.add_typer(ascent_app, name="ascent")


class LanderPreset(StrEnum):
    mars_2007 = "mars-2007"
    blackmore_2010 = "blackmore-2010"


@landing_app.command("solve")
def landing_solve(
    r0: Annotated[
        str, typer.Option(help="Initial position x,y,z (m); x is altitude.")
    ] = "1500,500,2000",
    v0: Annotated[str, typer.Option(help="Initial velocity (m/s).")] = "-75,0,100",
    target: Annotated[str, typer.Option(help="Landing site y,z (m).")] = "0,0",
    objective: Annotated[
        str, typer.Option(help="min-fuel, or min-error (Blackmore 2010).")
    ] = "min-fuel",
    tf: Annotated[
        float | None, typer.Option(help="Fixed time of flight (s); default: optimised.")
    ] = None,
    vehicle: Annotated[
        LanderPreset, typer.Option(help="Lander parameters.")
    ] = LanderPreset.mars_2007,
    glide_slope_deg: Annotated[
        float, typer.Option(help="Glide-slope angle above the surface (deg); 0: none.")
    ] = 4.0,
    max_tilt_deg: Annotated[
        float | None, typer.Option(help="Thrust pointing limit from vertical.")
    ] = None,
    intervals: Annotated[int, typer.Option(help="Time intervals of the discretisation.")] = 55,
    out: Annotated[Path, typer.Option(help="Directory for landing.json and the plots.")] = Path(
        "landing-out"
    ),
) -> None:
    """Fuel-optimal (or landing-error-optimal) powered descent as SOCPs, re-simulated in 3-DOF."""
    import dataclasses
    import math

    from starbrain.planners.landing import (
        BLACKMORE_2010_LANDER,
        MARS_LANDER_2007,
        solve_landing,
    )
    from starbrain.report.landing import write_landing_outputs

    if objective not in ("min-fuel", "min-error"):
        raise StarbrainError("--objective must be min-fuel or min-error")
    if not 5 <= intervals <= 400:
        raise StarbrainError("--intervals must be between 5 and 400")
    if not 0 <= glide_slope_deg < 90:
        raise StarbrainError("--glide-slope-deg must lie in [0, 90) degrees (0: no glide slope)")
    config = MARS_LANDER_2007 if vehicle is LanderPreset.mars_2007 else BLACKMORE_2010_LANDER
    config = dataclasses.replace(
        config,
        glide_slope_rad=None if glide_slope_deg == 0 else math.radians(glide_slope_deg),
        max_tilt_rad=None if max_tilt_deg is None else math.radians(max_tilt_deg),
    )
    with err_console.status("solving (line search over the time of flight)"):
        result = solve_landing(
            _vector(r0, 3, "--r0"),
            _vector(v0, 3, "--v0"),
            config,
            target_m=_vector(target, 2, "--target"),
            objective=objective.replace("-", "_"),  # type: ignore[arg-type]
            tf_s=tf,
            n_intervals=intervals,
        )
    paths = write_landing_outputs(result, out)
    console.print(
        f"{result.status}: fuel {result.fuel_kg:.2f} kg, time of flight {result.tf_s:.2f} s, "
        f"landing error {result.landing_error_m:.2f} m, relaxation gap "
        f"{float(result.relaxation_gap_n):.1e} N, re-simulated landing off by "
        f"{float(result.resim_position_error_m):.3f} m ({result.n_solves} SOCP solves)",
        highlight=False,
    )
    console.print("wrote " + ", ".join(map(str, paths)), highlight=False)
    if result.status != "optimal":
        raise StarbrainError(f"no feasible landing: {result.status}")


@ascent_app.command("optimize")
def ascent_optimize(
    target_alt_km: Annotated[
        float, typer.Option(help="Target circular orbit altitude (km).")
    ] = 200.0,
    latitude_deg: Annotated[float, typer.Option(help="Launch latitude (deg).")] = 28.5,
    vertical_rise_s: Annotated[
        float, typer.Option(help="Vertical rise before pitch-over (s).")
    ] = 10.0,
    q_max_kpa: Annotated[float | None, typer.Option(help="Dynamic-pressure limit (kPa).")] = None,
    max_aoa_deg: Annotated[float | None, typer.Option(help="Angle-of-attack limit (deg).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for ascent.json and the plots.")] = Path(
        "ascent-out"
    ),
) -> None:
    """Maximum-payload two-stage ascent (Falcon-9-like) to a circular orbit (direct collocation)."""
    import math

    from starbrain.planners.ascent import optimize_ascent
    from starbrain.report.ascent import write_ascent_outputs

    if not 150 <= target_alt_km <= 2000:
        raise StarbrainError("--target-alt-km must be between 150 and 2000")
    with err_console.status("optimising (direct collocation)"):
        result = optimize_ascent(
            target_alt_m=target_alt_km * 1e3,
            latitude_rad=math.radians(latitude_deg),
            vertical_rise_s=vertical_rise_s,
            q_max_pa=None if q_max_kpa is None else q_max_kpa * 1e3,
            max_aoa_rad=None if max_aoa_deg is None else math.radians(max_aoa_deg),
        )
    paths = write_ascent_outputs(result, out)
    o = result.orbit_resim
    console.print(
        f"payload {result.payload_kg / 1e3:.2f} t, staging {result.staging_time_s:.1f} s, burnout "
        f"{result.final_time_s:.1f} s; re-flown orbit {o.perigee_alt_m / 1e3:.2f} x "
        f"{o.apogee_alt_m / 1e3:.2f} km; max q {result.max_q_pa / 1e3:.1f} kPa",
        highlight=False,
    )
    console.print("wrote " + ", ".join(map(str, paths)), highlight=False)
    if not result.success:
        raise StarbrainError("the ascent optimisation did not converge")
