"""A small table of world cities (name, WGS-84 latitude and longitude) for routing between them.

Coordinates are city-centre coordinates as given in each city's Wikipedia infobox (GeoHack,
WGS-84), rounded to 1e-4 degree (about 10 m). The cities Hypatia (Kassing et al., IMC 2020)
uses for its example pairs carry Hypatia's own values (its satgenpy top-100 cities table, as
quoted in ``snkas/hypatia``'s integration tests) so that the comparisons use the same end
points: Rio de Janeiro, Saint Petersburg, Manila and Dalian. All at height 0 (on the ellipsoid);
a few tens of metres of height change a path by less than a metre.
"""

from __future__ import annotations

from collections.abc import Mapping

from starbrain.planners.passes import GroundStation, parse_station

__all__ = ["CITIES", "city"]

CITIES: dict[str, GroundStation] = {
    c.name.lower(): c
    for c in (
        GroundStation("Tokyo", 35.6895, 139.6917),
        GroundStation("New York", 40.7128, -74.0060),
        GroundStation("London", 51.5074, -0.1278),
        GroundStation("Paris", 48.8566, 2.3522),
        GroundStation("Moscow", 55.7558, 37.6173),
        GroundStation("Saint Petersburg", 59.929858, 30.326228),
        GroundStation("Rio de Janeiro", -22.902780, -43.207500),
        GroundStation("Manila", 14.6042, 120.9822),
        GroundStation("Dalian", 38.913811, 121.602322),
        GroundStation("Istanbul", 41.0082, 28.9784),
        GroundStation("Nairobi", -1.2921, 36.8219),
        GroundStation("Sydney", -33.8688, 151.2093),
        GroundStation("Los Angeles", 34.0522, -118.2437),
        GroundStation("Chicago", 41.8781, -87.6298),
        GroundStation("Zhengzhou", 34.7466, 113.6253),
        GroundStation("Luanda", -8.8390, 13.2894),
        GroundStation("Singapore", 1.3521, 103.8198),
        GroundStation("Johannesburg", -26.2041, 28.0473),
        GroundStation("Sao Paulo", -23.5505, -46.6333),
        GroundStation("Mumbai", 19.0760, 72.8777),
        GroundStation("Delhi", 28.6139, 77.2090),
        GroundStation("Beijing", 39.9042, 116.4074),
        GroundStation("Seoul", 37.5665, 126.9780),
        GroundStation("Frankfurt", 50.1109, 8.6821),
        GroundStation("Zurich", 47.3769, 8.5417),
        GroundStation("Buenos Aires", -34.6037, -58.3816),
        GroundStation("Lagos", 6.5244, 3.3792),
        GroundStation("Cairo", 30.0444, 31.2357),
        GroundStation("San Francisco", 37.7749, -122.4194),
        GroundStation("Seattle", 47.6062, -122.3321),
    )
}
# Other spellings people type
_ALIASES = {
    "st. petersburg": "saint petersburg",
    "st petersburg": "saint petersburg",
    "sankt-peterburg": "saint petersburg",
    "nyc": "new york",
    "new york city": "new york",
    "rio": "rio de janeiro",
    "são paulo": "sao paulo",
    "zürich": "zurich",
}


def city(spec: str, known: Mapping[str, GroundStation] | None = None) -> GroundStation:
    """A city from :data:`CITIES` by name (any case, a few aliases), or ``NAME:LAT,LON[,ALT_M]``.

    Raises ``ValueError`` with a sentence for the user when it is neither.
    """
    table = dict(CITIES if known is None else known)
    key = spec.strip().lower()
    key = _ALIASES.get(key, key)
    if key in table:
        return table[key]
    try:
        return parse_station(spec)
    except ValueError:
        names = ", ".join(c.name for c in table.values())
        raise ValueError(
            f"{spec!r} is neither a known city ({names}) nor NAME:LAT,LON[,ALT_M] "
            '(degrees, metres), e.g. "Zurich:47.3769,8.5417"'
        ) from None
