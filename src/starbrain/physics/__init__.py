"""Analytic and numerical models: SGP4, frames, force models, integrators, Lambert."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    # SGP4 / SDP4 (PyTorch, batched, differentiable)
    "Sgp4Elements": ("sgp4", "Sgp4Elements"),
    "Sgp4State": ("sgp4", "Sgp4State"),
    "SGP4_ERRORS": ("sgp4", "SGP4_ERRORS"),
    "sgp4_init": ("sgp4", "sgp4_init"),
    "sgp4_propagate": ("sgp4", "sgp4_propagate"),
    "propagate_sgp4": ("sgp4", "propagate"),
    "satrecs_from_elements": ("sgp4", "satrecs_from_elements"),
    # frames and the Earth
    "teme_to_itrf": ("frames", "teme_to_itrf"),
    "itrf_to_teme": ("frames", "itrf_to_teme"),
    "teme_to_gcrs": ("frames", "teme_to_gcrs"),
    "topocentric": ("frames", "topocentric"),
    "earth_orientation": ("frames", "earth_orientation"),
    "timescale": ("frames", "timescale"),
    "geodetic_to_itrf": ("earth", "geodetic_to_itrf"),
    "itrf_to_geodetic": ("earth", "itrf_to_geodetic"),
    # interplanetary
    "LambertSolution": ("lambert", "LambertSolution"),
    "solve_lambert": ("lambert", "solve_lambert"),
    "solve_lambert_all": ("lambert", "solve_lambert_all"),
    "max_revolutions": ("lambert", "max_revolutions"),
    "heliocentric_state": ("ephemeris", "heliocentric_state"),
    "heliocentric_state_at": ("ephemeris", "heliocentric_state_at"),
    "de421_coverage": ("ephemeris", "de421_coverage"),
    "MU_SUN_KM3_S2": ("ephemeris", "MU_SUN_KM3_S2"),
    # numerical propagation (Cowell, batched DOP853)
    "propagate_numerical": ("numerical", "propagate_numerical"),
    "NumericalResult": ("numerical", "NumericalResult"),
    "ForceModel": ("forces", "ForceModel"),
    "Spacecraft": ("forces", "Spacecraft"),
    "IntegratorOptions": ("integrators", "IntegratorOptions"),
    "dop853_batch": ("integrators", "dop853_batch"),
    # vehicles
    "simulate_lander": ("lander", "simulate_lander"),
    "mass_flow_coefficient": ("lander", "mass_flow_coefficient"),
    "Stage": ("launch_vehicle", "Stage"),
    "LaunchVehicle": ("launch_vehicle", "LaunchVehicle"),
    "planar_orbit": ("launch_vehicle", "planar_orbit"),
    "PlanarOrbit": ("launch_vehicle", "PlanarOrbit"),
    # launch telemetry simulator
    "Anomaly": ("flight_sim", "Anomaly"),
    "Flight": ("flight_sim", "Flight"),
    "FlightConfig": ("flight_sim", "FlightConfig"),
    "simulate_flight": ("flight_sim", "simulate_flight"),
    "random_anomalies": ("flight_sim", "random_anomalies"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
