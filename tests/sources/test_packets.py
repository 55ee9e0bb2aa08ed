"""Packet-definition files: the shipped example loads, and every mistake is reported with its
file, packet and parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.packets import (
    DefinitionError,
    example_definitions_path,
    load_definitions,
    load_example_definitions,
    parse_definitions,
)

TIME = {"coarse_bytes": 4, "fine_bytes": 2, "epoch": "2000-01-01T00:00:00Z"}


def _doc(*params: dict, **packet: object) -> dict:
    return {
        "time": TIME,
        "packets": [{"name": "P", "apid": 0x10, **packet, "parameters": list(params)}],
    }


def _problems(doc: dict) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_definitions(doc, source="defs.yaml")
    assert str(info.value).startswith("defs.yaml: ")
    return info.value.problems


def test_example_definitions_load():
    assert example_definitions_path().is_file()
    defs = load_example_definitions()
    assert [p.name for p in defs] == ["NAV_STATE", "PROPULSION", "POWER", "EVENT"]
    assert defs.n_parameters == 33
    nav = defs[0x100]
    assert nav.secondary_header and nav.crc and nav.length == 75
    assert nav.data_offset == 12
    assert defs["EVENT"].time is None
    speed = nav.parameter("ground_speed")
    assert speed.bit_offset_in_packet % 8 == 6  # a float on an odd bit offset
    ticks = nav.parameter("clock_ticks")
    assert ticks.bit_offset_in_packet % 8 + ticks.bits > 64  # spread over 9 bytes
    prop = defs["PROPULSION"]
    assert prop.parameter("chamber_pressure").endian == "little"
    assert prop.parameter("turbopump_speed").endian == "big"
    assert prop.parameter("engine_state").label(15) == "ABORT"
    assert float(prop.parameter("nozzle_temperature").calibrate(10)) == pytest.approx(
        273.15 + 5.0 + 1e-3
    )


def test_offsets_follow_on_and_length_is_derived():
    defs = parse_definitions(
        _doc(
            {"name": "a", "bits": 3},
            {"name": "b", "bits": 7},
            {"name": "c", "bits": 16, "offset": 40},
            crc=True,
        )
    )
    p = defs["P"]
    assert [q.offset for q in p.parameters] == [0, 3, 40]
    assert p.length == 6 + 7 + 2  # header, 56 bits of data, CRC
    assert parse_definitions(_doc({"name": "a", "bits": 8}, length=30))["P"].length == 30


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ({"name": "x", "bits": 70}, "parameter 'x': bits: must be an integer 1..64, got 70"),
        ({"name": "x", "type": "float", "bits": 16}, "a float is 32 or 64 bits"),
        ({"name": "x", "type": "int", "bits": 1}, "a signed integer needs at least 2 bits"),
        (
            {"name": "x", "bits": 16, "offset": 4, "endian": "little"},
            "a little-endian field must be whole bytes on a byte boundary",
        ),
        ({"name": "x", "bits": 8, "endian": "middle"}, "endian: must be 'big' or 'little'"),
        ({"name": "x", "type": "double", "bits": 8}, "type: must be uint, int or float"),
        ({"name": "x", "bits": 8, "scale": 2}, "unknown key 'scale'"),
        ({"name": "x", "bits": 8, "calibration": [0, 1]}, "calibration: must be {polynomial"),
        ({"name": "x", "bits": 8, "calibration": {"polynomial": [1.0]}}, "constant polynomial"),
        ({"name": "x", "bits": 8, "calibration": {"polynomial": ["a", 1]}}, "finite numbers"),
        ({"name": "x", "bits": 2, "enum": {4: "FOUR"}}, "key 4 is not a raw value a 2-bit uint"),
        ({"name": "x", "type": "float", "bits": 32, "enum": {0: "Z"}}, "only integer parameters"),
        (
            {"name": "x", "bits": 8, "enum": {0: "Z"}, "calibration": {"polynomial": [0, 2]}},
            "cannot also have a calibration",
        ),
        ({"name": "bad name!", "bits": 8}, "name: must be a name"),
        ({"name": "x", "bits": 8, "offset": -1}, "offset: must be a bit offset >= 0"),
    ],
)
def test_parameter_problems_are_named(param: dict, message: str):
    problems = _problems(_doc(param))
    assert len(problems) == 1, problems
    assert problems[0].startswith("packet 'P' (APID 0x10): ")
    assert message in problems[0]


def test_packet_problems_are_all_reported_at_once():
    doc = {
        "packets": [
            {
                "name": "A",
                "apid": 0x10,
                "secondary_header": True,
                "parameters": [
                    {"name": "x", "bits": 16},
                    {"name": "y", "bits": 8, "offset": 8},
                    {"name": "x", "bits": 8},
                ],
            },
            {"name": "A", "apid": 0x10, "parameters": [{"name": "z", "bits": 8}], "lenght": 9},
            {"name": "I", "apid": 0x7FF, "parameters": [{"name": "z", "bits": 8}]},
            {"name": "S", "apid": 0x11, "length": 7, "parameters": [{"name": "z", "bits": 16}]},
            {"name": "E", "apid": 0x12, "parameters": []},
        ],
        "colour": "blue",
    }
    problems = _problems(doc)
    text = "\n".join(problems)
    expected = [
        "unknown top-level key 'colour'",
        "packet 'A' (APID 0x10): secondary_header is true but the file has no valid 'time'",
        "packet 'A' (APID 0x10): parameter 'y': bits 8..15 overlap parameter 'x' (bits 0..15)",
        "packet 'A' (APID 0x10): parameter 'x': name used twice in this packet",
        "packet 'A' (APID 0x10): unknown key 'lenght'",
        "packet 'I' (APID 0x7ff): apid: must be an integer 0..0x7FE",
        "packet 'S' (APID 0x11): length: 7 bytes is too short",
        "packet 'E' (APID 0x12): parameters: must be a non-empty list",
    ]
    for e in expected:
        assert e in text, f"{e!r} not in\n{text}"


def test_duplicate_apids_and_names():
    doc = {
        "packets": [
            {"name": "A", "apid": 1, "parameters": [{"name": "z", "bits": 8}]},
            {"name": "A", "apid": 1, "parameters": [{"name": "z", "bits": 8}]},
        ]
    }
    text = "\n".join(_problems(doc))
    assert "packet 'A': name used by another packet" in text
    assert "APID 0x1 already used by packet 'A'" in text


def test_time_section_problems():
    doc = _doc({"name": "x", "bits": 8}, secondary_header=True)
    doc["time"] = {"format": "cds", "coarse_bytes": 5, "fine_bytes": 4, "epoch": "yesterday"}
    text = "\n".join(_problems(doc))
    for e in (
        "only 'cuc' is supported",
        "coarse_bytes: must be an integer 1..4",
        "fine_bytes: must be an integer 0..3",
        "epoch: not an ISO-8601 UTC instant",
    ):
        assert e in text


def test_yaml_files(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(
        "packets:\n  - name: HK\n    apid: 0x20\n    parameters:\n"
        "      - {name: a, type: uint, bits: 12}\n"
    )
    assert load_definitions(good)["HK"].apid == 0x20
    broken = tmp_path / "broken.yaml"
    broken.write_text("packets:\n  - name: HK\n    apid: [0x20\n")
    with pytest.raises(DefinitionError, match=r"(?s)broken.yaml: .*not valid YAML at line \d+"):
        load_definitions(broken)
    with pytest.raises(StarbrainError, match="cannot read packet definitions"):
        load_definitions(tmp_path / "missing.yaml")
    with pytest.raises(DefinitionError, match="must be a mapping"):
        parse_definitions(["not", "a", "mapping"])
