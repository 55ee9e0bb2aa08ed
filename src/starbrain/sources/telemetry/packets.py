"""Packet definitions: the declarative YAML that says how to read each APID's CCSDS Space Packets.

A definition file names a time code (CCSDS Unsegmented Time Code, CCSDS 301.0-B-4 §3.2, carried at
the start of the secondary header) and a list of packets. Each packet has an APID, optional
secondary header and CRC-16-CCITT trailer, and parameters: any bit width 1..64 at any bit offset
in the user data field, big or little endian, unsigned / two's-complement signed integers or IEEE
754 floats, with an optional enumeration (raw value -> label), a polynomial calibration
(raw -> engineering value) and a unit. Engineering values of vehicle quantities are SI.

    time: {format: cuc, coarse_bytes: 4, fine_bytes: 2, epoch: "2000-01-01T00:00:00Z"}
    packets:
      - name: NAV
        apid: 0x100
        secondary_header: true
        crc: true
        parameters:
          - {name: altitude, type: float, bits: 64, unit: m}
          - {name: nav_mode, type: uint, bits: 3, enum: {0: IDLE, 1: COARSE, 2: FINE}}
          - {name: chamber_pressure, type: uint, bits: 16, endian: little,
             calibration: {polynomial: [-1.0e5, 152.6]}, unit: Pa}

``offset`` (bit offset from the start of the user data field, after the secondary header) may be
left out: a parameter then follows the one before it. Little-endian fields must be whole bytes
on byte boundaries (the only layout where "little endian" has one meaning). Every problem in a
file is reported at once, each naming the file, packet, parameter and what is wrong.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from starbrain.core.errors import StarbrainError

__all__ = [
    "IDLE_APID",
    "PRIMARY_HEADER_BYTES",
    "DefinitionError",
    "PacketDef",
    "PacketSet",
    "Parameter",
    "TimeCode",
    "bundled_definitions",
    "example_definitions_path",
    "load_definitions",
    "load_example_definitions",
    "parse_definitions",
]

PRIMARY_HEADER_BYTES = 6
CRC_BYTES = 2
IDLE_APID = 0x7FF  # CCSDS 133.0-B-2 §4.1.3.3.4.4: idle packets, never defined by users
MAX_PACKET_BYTES = PRIMARY_HEADER_BYTES + 65536  # the 16-bit length field counts data bytes - 1

ParamType = Literal["uint", "int", "float"]
Endian = Literal["big", "little"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_TOP_KEYS = {"name", "description", "version", "endian", "time", "packets"}
_TIME_KEYS = {"format", "coarse_bytes", "fine_bytes", "epoch", "leap_seconds"}
_PACKET_KEYS = {
    "name",
    "apid",
    "description",
    "type",
    "secondary_header",
    "crc",
    "length",
    "endian",
    "parameters",
}
_PARAM_KEYS = {
    "name",
    "type",
    "bits",
    "offset",
    "endian",
    "unit",
    "description",
    "enum",
    "calibration",
}


class DefinitionError(StarbrainError):
    """A packet-definition file that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(
            f"{source}: {n} problem{'s' if n != 1 else ''} in packet definitions:\n{lines}"
        )


@dataclass(frozen=True, slots=True)
class TimeCode:
    """CCSDS Unsegmented Time Code (CUC) with an implicit P-field, at the start of the secondary
    header: ``coarse_bytes`` of whole seconds then ``fine_bytes`` of binary fraction of a second,
    counted from ``epoch`` (a UTC instant). ``leap_seconds`` is subtracted to turn the count into
    UTC (37 for a TAI count since 1958 today, 18 for GPS time); it is a constant, not a table."""

    coarse_bytes: int = 4
    fine_bytes: int = 2
    epoch_ns: int = 0  # ns since 1970-01-01T00:00:00 UTC
    leap_seconds: int = 0
    epoch: str = "1970-01-01T00:00:00Z"

    @property
    def n_bytes(self) -> int:
        return self.coarse_bytes + self.fine_bytes

    @property
    def resolution_s(self) -> float:
        return 2.0 ** (-8 * self.fine_bytes)


@dataclass(frozen=True, slots=True)
class Parameter:
    """One field of a packet's user data. ``offset`` is in bits from the start of the user data
    field; ``byte_offset_in_packet`` and ``bit_offset_in_packet`` count from the first byte of the
    primary header. ``calibration`` holds polynomial coefficients ``c0, c1, ...`` with
    ``value = c0 + c1 * raw + c2 * raw**2 + ...``; empty means value = raw."""

    name: str
    type: ParamType
    bits: int
    offset: int
    endian: Endian = "big"
    unit: str | None = None
    description: str | None = None
    enum: Mapping[int, str] | None = None
    calibration: tuple[float, ...] = ()
    bit_offset_in_packet: int = 0

    @property
    def signed(self) -> bool:
        return self.type == "int"

    def raw_range(self) -> tuple[float, float]:
        """The smallest and largest raw value the field can hold."""
        if self.type == "uint":
            return 0, 2**self.bits - 1
        if self.type == "int":
            return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        return -math.inf, math.inf

    def calibrate(self, raw: Any) -> np.ndarray:
        """Engineering value(s) of raw value(s) as float64 (Horner's rule on the polynomial)."""
        x = np.asarray(raw, dtype=np.float64)
        if not self.calibration:
            return x.copy()
        value = np.full_like(x, self.calibration[-1])
        for c in reversed(self.calibration[:-1]):
            value = value * x + c
        return value

    def label(self, raw: int) -> str | None:
        """The enumeration label of a raw value, or None."""
        return None if self.enum is None else self.enum.get(int(raw))


@dataclass(frozen=True, slots=True)
class PacketDef:
    """One APID's packet layout. ``length`` is the whole packet in bytes: primary header,
    secondary header (the time code), user data and the 2-byte CRC trailer when ``crc``."""

    name: str
    apid: int
    parameters: tuple[Parameter, ...]
    length: int
    secondary_header: bool = False
    crc: bool = False
    packet_type: Literal["tm", "tc"] = "tm"
    description: str | None = None
    time: TimeCode | None = None  # the file's time code when secondary_header

    @property
    def data_offset(self) -> int:
        """Byte offset of the user data field from the start of the packet."""
        return PRIMARY_HEADER_BYTES + (
            self.time.n_bytes if self.secondary_header and self.time else 0
        )

    @property
    def header_key(self) -> int:
        """The first two header bytes every packet of this APID starts with (version 0)."""
        return (
            (1 if self.packet_type == "tc" else 0) << 12
            | int(self.secondary_header) << 11
            | self.apid
        )

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"packet {self.name!r} has no parameter {name!r}")


@dataclass(frozen=True)
class PacketSet:
    """Every packet of one definition file, looked up by APID."""

    packets: tuple[PacketDef, ...]
    name: str = ""
    source: str = ""
    time: TimeCode | None = None
    by_apid: dict[int, PacketDef] = field(init=False, repr=False, compare=False)
    parameter_names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_apid", {p.apid: p for p in self.packets})
        names: dict[str, None] = {}
        for p in self.packets:
            for q in p.parameters:
                names.setdefault(q.name, None)
        object.__setattr__(self, "parameter_names", tuple(names))

    def __getitem__(self, key: int | str) -> PacketDef:
        if isinstance(key, str):
            for p in self.packets:
                if p.name == key:
                    return p
            raise KeyError(f"no packet named {key!r} in {self.source or self.name}")
        return self.by_apid[key]

    def __iter__(self) -> Iterator[PacketDef]:
        return iter(self.packets)

    def __len__(self) -> int:
        return len(self.packets)

    @property
    def n_parameters(self) -> int:
        return sum(len(p.parameters) for p in self.packets)


# -- loading --------------------------------------------------------------------------------------
def example_definitions_path() -> Path:
    """The example launcher definitions shipped with starbrain."""
    ref = resources.files("starbrain.sources.telemetry").joinpath(
        "definitions/example_launcher.yaml"
    )
    return Path(str(ref))


def load_example_definitions() -> PacketSet:
    return load_definitions(example_definitions_path())


def bundled_definitions() -> dict[str, Path]:
    """The definition files shipped with starbrain, by set name (the file stem), sorted."""
    folder = resources.files("starbrain.sources.telemetry").joinpath("definitions")
    paths = sorted(Path(str(folder)).glob("*.yaml"))
    return {path.stem: path for path in paths}


def load_definitions(path: str | Path) -> PacketSet:
    """Read and validate a YAML packet-definition file; raises ``DefinitionError`` listing every
    problem (file, packet, parameter, what is wrong)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise StarbrainError(f"cannot read packet definitions {path}: {exc.strerror}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(str(path), [f"not valid YAML{where}: {problem}"]) from None
    return parse_definitions(doc, source=str(path))


def _epoch_ns(text: Any) -> int:
    from starbrain.core.timeconv import to_datetime64

    return int(np.asarray(to_datetime64(str(text))).astype("datetime64[ns]").astype(np.int64))


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def parse_definitions(doc: Any, source: str = "<definitions>") -> PacketSet:
    """Validate a definitions document (the YAML as Python objects) into a ``PacketSet``."""
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        raise DefinitionError(source, ["the file must be a mapping with a 'packets' list"])
    for k in doc:
        if k not in _TOP_KEYS:
            problems.append(f"unknown top-level key {k!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    default_endian = doc.get("endian", "big")
    if default_endian not in ("big", "little"):
        problems.append(f"endian: must be 'big' or 'little', got {default_endian!r}")
        default_endian = "big"

    time = _parse_time(doc.get("time"), problems)
    packets_doc = doc.get("packets")
    if not isinstance(packets_doc, list) or not packets_doc:
        problems.append("packets: must be a non-empty list of packets")
        packets_doc = []

    packets: list[PacketDef] = []
    seen_names: set[str] = set()
    seen_apids: dict[int, str] = {}
    for i, pdoc in enumerate(packets_doc):
        packet = _parse_packet(i, pdoc, time, default_endian, problems)
        if packet is None:
            continue
        where = f"packet {packet.name!r}"
        if packet.name in seen_names:
            problems.append(f"{where}: name used by another packet")
        seen_names.add(packet.name)
        if packet.apid in seen_apids:
            problems.append(
                f"{where}: APID {packet.apid:#x} already used by packet {seen_apids[packet.apid]!r}"
            )
        seen_apids[packet.apid] = packet.name
        packets.append(packet)

    if problems:
        raise DefinitionError(source, problems)
    return PacketSet(tuple(packets), name=str(doc.get("name", "")), source=source, time=time)


def _parse_time(tdoc: Any, problems: list[str]) -> TimeCode | None:
    if tdoc is None:
        return None
    if not isinstance(tdoc, Mapping):
        problems.append("time: must be a mapping (format, coarse_bytes, fine_bytes, epoch)")
        return None
    ok = True
    for k in tdoc:
        if k not in _TIME_KEYS:
            problems.append(f"time: unknown key {k!r} (known: {', '.join(sorted(_TIME_KEYS))})")
    if tdoc.get("format", "cuc") != "cuc":
        problems.append(f"time: format: only 'cuc' is supported, got {tdoc.get('format')!r}")
        ok = False
    coarse = tdoc.get("coarse_bytes", 4)
    fine = tdoc.get("fine_bytes", 2)
    if not _is_int(coarse) or not 1 <= coarse <= 4:
        problems.append(f"time: coarse_bytes: must be an integer 1..4, got {coarse!r}")
        ok = False
    if not _is_int(fine) or not 0 <= fine <= 3:
        problems.append(f"time: fine_bytes: must be an integer 0..3, got {fine!r}")
        ok = False
    leap = tdoc.get("leap_seconds", 0)
    if not _is_int(leap):
        problems.append(f"time: leap_seconds: must be an integer, got {leap!r}")
        ok = False
    epoch = tdoc.get("epoch", "1958-01-01T00:00:00Z")
    try:
        epoch_ns = _epoch_ns(epoch)
    except (ValueError, TypeError):
        problems.append(f"time: epoch: not an ISO-8601 UTC instant: {epoch!r}")
        ok = False
    if not ok:
        return None
    return TimeCode(coarse, fine, epoch_ns, leap, str(epoch))


def _unknown_keys(where: str, doc: Mapping, known: set[str], problems: list[str]) -> None:
    """One problem per key of ``doc`` that is not in ``known``."""
    for k in doc:
        if k not in known:
            problems.append(f"{where}: unknown key {k!r} (known: {', '.join(sorted(known))})")


def _parse_packet(
    i: int, pdoc: Any, time: TimeCode | None, default_endian: str, problems: list[str]
) -> PacketDef | None:
    """One entry of ``packets`` (``i`` counts from 0), or None after appending its problems."""
    if not isinstance(pdoc, Mapping):
        problems.append(f"packet #{i + 1}: must be a mapping, got {type(pdoc).__name__}")
        return None
    name = pdoc.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(
            f"packet #{i + 1}: name: must be a name (letters, digits, _ . -), got {name!r}"
        )
        name = f"#{i + 1}"
    apid: Any = pdoc.get("apid")
    apid_txt = f"{apid:#x}" if _is_int(apid) else repr(apid)
    where = f"packet {name!r} (APID {apid_txt})"
    n_before = len(problems)
    _unknown_keys(where, pdoc, _PACKET_KEYS, problems)
    if not _is_int(apid) or not 0 <= apid < IDLE_APID:
        problems.append(
            f"{where}: apid: must be an integer 0..0x7FE (0x7FF is the idle APID), got {apid_txt}"
        )
        apid = 0
    ptype, sec, crc, endian = _packet_flags(where, pdoc, time, default_endian, problems)
    data_offset = PRIMARY_HEADER_BYTES + (time.n_bytes if sec and time else 0)
    params = _parse_parameters(where, pdoc.get("parameters"), endian, data_offset, problems)
    length = _packet_length(where, pdoc, params, data_offset, crc, problems)
    if len(problems) > n_before:
        return None
    return PacketDef(
        name=name,
        apid=apid,
        parameters=tuple(params),
        length=length,
        secondary_header=sec,
        crc=crc,
        packet_type=ptype,
        description=pdoc.get("description"),
        time=time if sec else None,
    )


def _packet_flags(
    where: str, pdoc: Mapping, time: TimeCode | None, default_endian: str, problems: list[str]
) -> tuple[Any, bool, bool, str]:
    """A packet's type, secondary_header and crc flags and default endianness (type as given,
    endianness 'big' when invalid), appending the problems found."""
    ptype = pdoc.get("type", "tm")
    if ptype not in ("tm", "tc"):
        problems.append(f"{where}: type: must be 'tm' or 'tc', got {ptype!r}")
    sec = pdoc.get("secondary_header", False)
    crc = pdoc.get("crc", False)
    for key, val in (("secondary_header", sec), ("crc", crc)):
        if not isinstance(val, bool):
            problems.append(f"{where}: {key}: must be true or false, got {val!r}")
    sec, crc = bool(sec), bool(crc)
    if sec and time is None:
        problems.append(
            f"{where}: secondary_header is true but the file has no valid 'time' "
            "section saying how its time code reads"
        )
    endian = pdoc.get("endian", default_endian)
    if endian not in ("big", "little"):
        problems.append(f"{where}: endian: must be 'big' or 'little', got {endian!r}")
        endian = "big"
    return ptype, sec, crc, endian


def _parse_parameters(
    where: str, pdocs: Any, endian: str, data_offset: int, problems: list[str]
) -> list[Parameter]:
    """A packet's valid parameters (each following the one before it unless it has an offset),
    appending the problems of the others, duplicate names and overlapping fields."""
    if not isinstance(pdocs, list) or not pdocs:
        problems.append(f"{where}: parameters: must be a non-empty list")
        pdocs = []
    params: list[Parameter] = []
    names: set[str] = set()
    next_offset = 0
    for j, qdoc in enumerate(pdocs):
        param = _parse_parameter(where, j, qdoc, next_offset, endian, data_offset, problems)
        if param is None:
            continue
        if param.name in names:
            problems.append(f"{where}: parameter {param.name!r}: name used twice in this packet")
        names.add(param.name)
        params.append(param)
        next_offset = param.offset + param.bits

    # Overlapping fields are almost always a typo in an offset.
    ordered = sorted(params, key=lambda q: q.offset)
    for a, b in itertools.pairwise(ordered):
        if b.offset < a.offset + a.bits:
            problems.append(
                f"{where}: parameter {b.name!r}: bits {b.offset}.."
                f"{b.offset + b.bits - 1} overlap parameter {a.name!r} (bits "
                f"{a.offset}..{a.offset + a.bits - 1})"
            )
    return params


def _packet_length(
    where: str,
    pdoc: Mapping,
    params: list[Parameter],
    data_offset: int,
    crc: bool,
    problems: list[str],
) -> int:
    """The packet's ``length`` in bytes (default: the smallest that holds the headers, the
    parameters and the CRC), appending the problems found."""
    user_bits = max((q.offset + q.bits for q in params), default=8)
    minimum = data_offset + (user_bits + 7) // 8 + (CRC_BYTES if crc else 0)
    length = pdoc.get("length", minimum)
    if not _is_int(length):
        problems.append(f"{where}: length: must be an integer number of bytes, got {length!r}")
        length = minimum
    elif length < minimum:
        problems.append(
            f"{where}: length: {length} bytes is too short; the parameters, headers "
            f"and CRC need at least {minimum}"
        )
    elif length > MAX_PACKET_BYTES:
        problems.append(
            f"{where}: length: {length} bytes is more than a Space Packet can hold "
            f"({MAX_PACKET_BYTES})"
        )
    if length <= PRIMARY_HEADER_BYTES:
        problems.append(f"{where}: length: the packet data field must hold at least one byte")
    return length


def _parse_parameter(
    where: str,
    j: int,
    qdoc: Any,
    next_offset: int,
    default_endian: str,
    data_offset: int,
    problems: list[str],
) -> Parameter | None:
    """Parameter ``j`` (from 0) of packet ``where``, or None after appending its problems."""
    if not isinstance(qdoc, Mapping):
        problems.append(
            f"{where}: parameter #{j + 1}: must be a mapping, got {type(qdoc).__name__}"
        )
        return None
    name = qdoc.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(
            f"{where}: parameter #{j + 1}: name: must be a name (letters, digits, "
            f"_ . -), got {name!r}"
        )
        name = f"#{j + 1}"
    here = f"{where}: parameter {name!r}"
    n_before = len(problems)
    _unknown_keys(here, qdoc, _PARAM_KEYS, problems)
    ptype, bits, offset, endian = _parameter_layout(
        here, qdoc, next_offset, default_endian, problems
    )
    unit = qdoc.get("unit")
    if unit is not None and not isinstance(unit, str):
        problems.append(f"{here}: unit: must be a string, got {unit!r}")
    enum = qdoc.get("enum")
    if enum is not None:
        enum = _parse_enum(here, enum, ptype, bits, problems)
    cal = qdoc.get("calibration")
    calibration = () if cal is None else _parse_calibration(here, cal, problems)
    if enum is not None and calibration:
        problems.append(f"{here}: an enumerated parameter cannot also have a calibration")
    if len(problems) > n_before:
        return None
    return Parameter(
        name=name,
        type=ptype,
        bits=bits,
        offset=offset,
        endian=endian,
        unit=unit,
        description=qdoc.get("description"),
        enum=enum,
        calibration=calibration,
        bit_offset_in_packet=8 * data_offset + offset,
    )


def _parameter_layout(
    here: str, qdoc: Mapping, next_offset: int, default_endian: str, problems: list[str]
) -> tuple[Any, int, int, Any]:
    """A parameter's type, width (bits), bit offset in the user data and endianness, each
    replaced by a usable default when invalid, appending the problems found."""
    ptype = qdoc.get("type", "uint")
    if ptype not in ("uint", "int", "float"):
        problems.append(f"{here}: type: must be uint, int or float, got {ptype!r}")
        ptype = "uint"
    bits = qdoc.get("bits", 64 if ptype == "float" else None)
    if not _is_int(bits) or not 1 <= bits <= 64:
        problems.append(f"{here}: bits: must be an integer 1..64, got {bits!r}")
        bits = 8
    elif ptype == "float" and bits not in (32, 64):
        problems.append(f"{here}: bits: a float is 32 or 64 bits (IEEE 754), got {bits}")
    elif ptype == "int" and bits < 2:
        problems.append(f"{here}: bits: a signed integer needs at least 2 bits, got {bits}")
    offset = qdoc.get("offset", next_offset)
    if not _is_int(offset) or offset < 0:
        problems.append(
            f"{here}: offset: must be a bit offset >= 0 from the start of the user "
            f"data field, got {offset!r}"
        )
        offset = next_offset
    endian = qdoc.get("endian", default_endian)
    if endian not in ("big", "little"):
        problems.append(f"{here}: endian: must be 'big' or 'little', got {endian!r}")
        endian = "big"
    elif endian == "little" and (offset % 8 or bits % 8):
        problems.append(
            f"{here}: a little-endian field must be whole bytes on a byte boundary "
            f"(offset {offset}, bits {bits})"
        )
    return ptype, bits, offset, endian


def _parse_calibration(here: str, cal: Any, problems: list[str]) -> tuple[float, ...]:
    """The polynomial coefficients ``c0, c1, ...`` of a ``calibration`` entry (empty when
    invalid), appending the problems found."""
    if not isinstance(cal, Mapping) or set(cal) != {"polynomial"}:
        problems.append(
            f"{here}: calibration: must be {{polynomial: [c0, c1, ...]}} with "
            f"value = c0 + c1*raw + ..., got {cal!r}"
        )
        return ()
    coeffs = cal["polynomial"]
    if not isinstance(coeffs, list) or not coeffs or not all(_is_number(c) for c in coeffs):
        problems.append(
            f"{here}: calibration: polynomial: must be a non-empty list of "
            f"finite numbers, got {coeffs!r}"
        )
        return ()
    calibration = tuple(float(c) for c in coeffs)
    if len(calibration) == 1:
        problems.append(
            f"{here}: calibration: a constant polynomial throws the raw "
            "value away; give at least [c0, c1]"
        )
    return calibration


def _parse_enum(
    here: str, enum: Any, ptype: str, bits: int, problems: list[str]
) -> dict[int, str] | None:
    if ptype == "float":
        problems.append(f"{here}: enum: only integer parameters can be enumerated")
        return None
    if not isinstance(enum, Mapping) or not enum:
        problems.append(f"{here}: enum: must be a mapping of raw value to label, got {enum!r}")
        return None
    lo, hi = (0, 2**bits - 1) if ptype == "uint" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    out: dict[int, str] = {}
    for k, v in enum.items():
        if not _is_int(k) or not lo <= k <= hi:
            problems.append(
                f"{here}: enum: key {k!r} is not a raw value a {bits}-bit {ptype} "
                f"can hold ({lo}..{hi})"
            )
        elif not isinstance(v, str):
            problems.append(f"{here}: enum: label of {k} must be a string, got {v!r}")
        else:
            out[k] = v
    return out
