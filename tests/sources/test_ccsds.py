"""CCSDS Space Packet decoding: reference headers, CRC check value, CUC time, exact round trips,
and every kind of malformed input counted while the good packets around it are all decoded."""

from __future__ import annotations

import binascii
import datetime as dt
import io
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import (
    TELEMETRY_SCHEMA,
    PacketDecoder,
    crc16_ccitt,
    crc16_ccitt_rows,
    cuc_decode,
    cuc_encode,
    decode,
    encode_packets,
    pack_primary_header,
    unpack_primary_header,
)
from starbrain.sources.telemetry.packets import (
    PacketSet,
    load_example_definitions,
    parse_definitions,
)
from tests.sources.telemetry_helpers import T0, Generated, generate, round_robin

RECEIVED = np.datetime64("2026-03-01T13:00:00", "ns")


@pytest.fixture(scope="module")
def defs() -> PacketSet:
    return load_example_definitions()


@pytest.fixture(scope="module")
def gen(defs: PacketSet) -> dict[int, Generated]:
    return generate(defs, 300, seed=7)


def _column(table: pa.Table, apid: int, name: str, col: str = "raw") -> np.ndarray:
    sub = table.filter(
        pc.and_(pc.equal(table["apid"], apid), pc.equal(table["parameter"].cast(pa.string()), name))
    )
    return sub[col].to_numpy()


def _assert_all_decoded(table: pa.Table, gen: dict[int, Generated], skip: dict | None = None):
    """Every generated packet (except ``skip[apid]`` row indices) decoded exactly."""
    skip = skip or {}
    for apid, g in gen.items():
        keep = np.ones(g.rows.shape[0], dtype=bool)
        keep[list(skip.get(apid, ()))] = False
        for q in g.packet.parameters:
            expected = np.asarray(g.raw[q.name], dtype=np.float64)[keep]
            got = _column(table, apid, q.name)
            np.testing.assert_array_equal(got, expected, err_msg=f"{g.packet.name}.{q.name}")
            np.testing.assert_array_equal(
                _column(table, apid, q.name, "value"),
                q.calibrate(expected),
                err_msg=f"{g.packet.name}.{q.name} engineering value",
            )


# -- reference layouts ----------------------------------------------------------------------------
def test_primary_header_matches_ccsds_133_layout():
    # CCSDS 133.0-B-2 §4.1.3: version(3) type(1) sec-hdr flag(1) APID(11) | sequence flags(2)
    # sequence count(14) | packet data length(16) = octets in the data field - 1.
    word0 = (0 << 13) | (0 << 12) | (1 << 11) | 0x1AB
    word1 = (0b11 << 14) | 0x2ABC
    expected = struct.pack(">HHH", word0, word1, 0x0010)
    assert expected == bytes.fromhex("09abeabc0010")
    got = pack_primary_header(0x1AB, 0x2ABC, 0x10, secondary_header=True)
    assert got == expected
    h = unpack_primary_header(expected)
    assert (h.version, h.packet_type, h.secondary_header, h.apid) == (0, 0, True, 0x1AB)
    assert (h.sequence_flags, h.sequence_count, h.data_length) == (3, 0x2ABC, 0x10)
    assert h.packet_length == 6 + 0x11
    tc = unpack_primary_header(pack_primary_header(0x7FE, 5, 0, packet_type=1, sequence_flags=1))
    assert (tc.packet_type, tc.apid, tc.sequence_flags, tc.secondary_header) == (1, 0x7FE, 1, False)
    with pytest.raises(ValueError, match="apid"):
        pack_primary_header(0x800, 0, 0)


def test_encoded_packet_matches_hand_built_bytes():
    defs = parse_definitions(
        {
            "time": {"coarse_bytes": 4, "fine_bytes": 2, "epoch": "2000-01-01T00:00:00Z"},
            "packets": [
                {
                    "name": "HK",
                    "apid": 0x123,
                    "secondary_header": True,
                    "crc": True,
                    "parameters": [
                        {"name": "a", "type": "uint", "bits": 16},
                        {"name": "b", "type": "int", "bits": 8},
                        {"name": "c", "type": "float", "bits": 32, "endian": "little"},
                        {"name": "d", "type": "uint", "bits": 3},
                        {"name": "e", "type": "int", "bits": 5},
                    ],
                }
            ],
        }
    )
    packet = defs["HK"]
    t = np.datetime64("2000-01-01T00:01:40.5", "ns")  # 100.5 s after the epoch
    rows = encode_packets(
        packet, [42], times=[t], raw={"a": 0x1234, "b": -2, "c": 1.5, "d": 5, "e": -3}
    )
    body = struct.pack(">IH", 100, 0x8000) + struct.pack(">Hb", 0x1234, -2)
    body += struct.pack("<f", 1.5) + bytes([(5 << 5) | (-3 & 0x1F)])
    length = 6 + len(body) + 2
    header = struct.pack(">HHH", (1 << 11) | 0x123, (3 << 14) | 42, length - 7)
    crc = binascii.crc_hqx(header + body, 0xFFFF)
    expected = header + body + struct.pack(">H", crc)
    assert packet.length == length
    assert rows.tobytes() == expected

    result = decode(expected, defs)
    assert result.stats.packets == 1 and not result.errors
    table = result.table
    assert table["raw"].to_pylist() == [0x1234, -2, 1.5, 5, -3]
    assert table["parameter"].cast(pa.string()).to_pylist() == ["a", "b", "c", "d", "e"]
    assert table["seq"].to_pylist() == [42] * 5
    assert table["time"][0].value == t.astype(np.int64)


def test_crc16_ccitt_check_value():
    # CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): published check value of "123456789".
    assert crc16_ccitt(b"123456789") == 0x29B1
    rows = np.frombuffer(b"123456789", dtype=np.uint8)[None, :]
    assert crc16_ccitt_rows(rows).tolist() == [0x29B1]
    rng = np.random.default_rng(3)
    many = rng.integers(0, 256, (50, 37), dtype=np.uint8)
    assert crc16_ccitt_rows(many).tolist() == [binascii.crc_hqx(r.tobytes(), 0xFFFF) for r in many]


def test_cuc_time_against_datetime_arithmetic(defs: PacketSet):
    tc = defs.time
    # TAI seconds since 1958 = UTC elapsed seconds + 37 leap seconds (the definition's constant).
    when = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    elapsed = int((when - dt.datetime(1958, 1, 1, tzinfo=dt.UTC)).total_seconds())
    coarse, fine = cuc_encode(np.array([np.datetime64("2026-03-01T12:00:00.25", "ns")]), tc)
    assert coarse.tolist() == [elapsed + 37]
    assert fine.tolist() == [0x4000]
    back = cuc_decode(coarse, fine, tc)
    assert back.astype("datetime64[ns]").tolist() == [
        np.datetime64("2026-03-01T12:00:00.25", "ns").tolist()
    ]
    # Any time rounds to the nearest 2**-16 s and decodes to within half of that.
    t = np.datetime64("2026-03-01T12:00:00", "ns") + np.arange(0, 10**9, 12_345_677)
    c, f = cuc_encode(t, tc)
    err = cuc_decode(c, f, tc) - t.astype(np.int64)
    assert np.abs(err).max() <= 0.5e9 / 65536 + 1
    np.testing.assert_array_equal(cuc_encode(cuc_decode(c, f, tc), tc)[1], f)
    with pytest.raises(ValueError, match="CUC"):
        cuc_encode(np.array([np.datetime64("1950-01-01", "ns")]), tc)


# -- round trips ----------------------------------------------------------------------------------
def test_round_trip_every_parameter_exact(defs: PacketSet, gen: dict[int, Generated]):
    stream = b"".join(round_robin(gen))
    result = decode(stream, defs, source="rt", receive_time=RECEIVED)
    st = result.stats
    assert st.n_errors == 0 and st.skipped_bytes == 0, result.errors
    assert st.packets == 4 * 300
    assert st.parameters == 300 * defs.n_parameters
    table = result.table
    assert table.schema.equals(TELEMETRY_SCHEMA)
    assert table.num_rows == st.parameters
    _assert_all_decoded(table, gen)
    for apid, g in gen.items():
        sub = table.filter(pc.equal(table["apid"], apid))
        times = sub["time"].cast(pa.int64()).to_numpy()[:: len(g.packet.parameters)]
        expected = (
            (g.times if g.times is not None else np.full(300, RECEIVED))
            .astype("datetime64[ns]")
            .astype(np.int64)
        )
        assert np.abs(times - expected).max() <= 8000  # CUC resolution 2**-16 s
        assert sub["seq"].to_numpy()[:: len(g.packet.parameters)].tolist() == list(range(300))


def test_decode_files_and_file_objects(defs: PacketSet, gen: dict[int, Generated], tmp_path):
    stream = b"".join(round_robin(gen))
    path = tmp_path / "tm.bin"
    path.write_bytes(stream)
    from_path = decode(path, defs, receive_time=RECEIVED)
    assert from_path.stats.source == str(path) and from_path.stats.packets == 1200
    with path.open("rb") as f:
        assert decode(f, defs, receive_time=RECEIVED).table.equals(from_path.table)
    assert decode(io.BytesIO(stream), defs, receive_time=RECEIVED).stats.packets == 1200
    with pytest.raises(StarbrainError, match="cannot read telemetry file"):
        decode(tmp_path / "nope.bin", defs)


def test_wide_layout_matches_long(defs: PacketSet, gen: dict[int, Generated]):
    stream = b"".join(round_robin(gen))
    wide = decode(stream, defs, layout="wide", receive_time=RECEIVED).tables
    assert set(wide) == {"NAV_STATE", "PROPULSION", "POWER", "EVENT"}
    nav = wide["NAV_STATE"]
    assert nav.column_names[:3] == ["time", "apid", "seq"]
    assert nav.schema.field("position_x").metadata == {b"unit": b"m"}
    for g in gen.values():
        for q in g.packet.parameters:
            expected = q.calibrate(np.asarray(g.raw[q.name], dtype=np.float64))
            np.testing.assert_array_equal(wide[g.packet.name][q.name].to_numpy(), expected)


def test_encode_from_engineering_values_and_labels(defs: PacketSet):
    prop = defs["PROPULSION"]
    n = 50
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 65535, n)
    values = {
        "chamber_pressure": counts * 250.0,  # linear: exact inverse
        "engine_state": np.array(["MAINSTAGE", "ABORT"] * 25),
        "nozzle_temperature": prop.parameter("nozzle_temperature").calibrate(
            np.arange(-25, 25)
        ),  # quadratic: Newton inverse, rounded to the count
        "thrust": np.linspace(-1e6, 1e6, n, dtype=np.float32),
    }
    t = T0 + np.arange(n).astype("timedelta64[s]")
    rows = encode_packets(prop, np.arange(n), times=t, values=values)
    table = decode(rows.tobytes(), defs).table
    np.testing.assert_array_equal(_column(table, 0x101, "chamber_pressure"), counts)
    np.testing.assert_array_equal(_column(table, 0x101, "engine_state"), [4, 15] * 25)
    np.testing.assert_array_equal(_column(table, 0x101, "nozzle_temperature"), np.arange(-25, 25))
    np.testing.assert_array_equal(_column(table, 0x101, "thrust", "value"), values["thrust"])
    with pytest.raises(ValueError, match="not one of its labels"):
        encode_packets(prop, [0], times=t[:1], values={"engine_state": ["BOOM"]})
    with pytest.raises(ValueError, match="do not fit"):
        encode_packets(prop, [0], times=t[:1], raw={"engine_state": [16]})


def test_streaming_any_chunking_gives_the_same_rows(defs: PacketSet, gen: dict[int, Generated]):
    stream = b"".join(round_robin(gen))
    whole = decode(stream, defs, receive_time=RECEIVED).table
    rng = np.random.default_rng(11)
    cuts = np.sort(rng.choice(np.arange(1, len(stream)), 400, replace=False))
    dec = PacketDecoder(defs)
    batches = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(stream)], strict=True):
        batches += dec.feed(memoryview(stream)[a:b], receive_time=RECEIVED)
        assert dec.pending_bytes < 75  # never more than one incomplete packet held back
    batches += dec.flush()
    assert dec.stats.n_errors == 0, dec.stats.errors
    assert dec.stats.bytes == len(stream)
    chunked = pa.Table.from_batches(batches, schema=TELEMETRY_SCHEMA)
    key = [("apid", "ascending"), ("seq", "ascending")]
    assert chunked.sort_by(key).equals(whole.sort_by(key))


def test_byte_by_byte_feeding(defs: PacketSet, gen: dict[int, Generated]):
    small = round_robin(gen)[:12]
    stream = b"".join(small)
    dec = PacketDecoder(defs)
    rows = sum(
        b.num_rows
        for k in range(len(stream))
        for b in dec.feed(stream[k : k + 1], receive_time=RECEIVED)
    )
    assert dec.flush() == []
    assert dec.stats.packets == 12 and dec.stats.n_errors == 0
    assert rows == 3 * (16 + 9 + 5 + 3)


# -- malformed input ------------------------------------------------------------------------------
def _stream_with(
    gen: dict[int, Generated], at: int, insert: bytes = b"", replace: bytes | None = None
) -> tuple[bytes, int]:
    """The round-robin stream with ``insert`` before packet ``at`` (or packet ``at`` replaced);
    returns the stream and the byte offset of the change."""
    packets = round_robin(gen)
    offset = sum(len(p) for p in packets[:at])
    if replace is not None:
        packets[at] = replace
    else:
        packets.insert(at, insert)
    return b"".join(packets), offset


def _only(stats, **expected):
    counters = (
        "unknown_apid",
        "bad_length",
        "bad_header",
        "crc",
        "seq_gaps",
        "truncated",
        "missing_packets",
        "idle_packets",
        "duplicates",
    )
    got = {c: getattr(stats, c) for c in counters}
    want = dict.fromkeys(counters, 0) | expected
    assert got == want, stats.errors


def test_unknown_apid_is_skipped(defs: PacketSet, gen: dict[int, Generated]):
    stranger = pack_primary_header(0x2AA, 0, 13) + bytes(range(14))
    stream, offset = _stream_with(gen, 101, insert=stranger)
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, unknown_apid=1)
    err = result.errors[0]
    assert (err.kind, err.offset, err.apid) == ("unknown_apid", offset, 0x2AA)
    assert result.stats.skipped_bytes == 20
    _assert_all_decoded(result.table, gen)


def test_idle_packets_are_not_errors(defs: PacketSet, gen: dict[int, Generated]):
    idle = pack_primary_header(0x7FF, 0, 9) + b"\xff" * 10
    stream, _ = _stream_with(gen, 7, insert=idle)
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, idle_packets=1)
    _assert_all_decoded(result.table, gen)


def test_bad_length_with_consistent_framing(defs: PacketSet, gen: dict[int, Generated]):
    # A POWER packet four bytes longer than its definition, its length field saying so.
    bad = bytearray(gen[0x102].rows[50].tobytes() + b"\0\0\0\0")
    bad[4:6] = (len(bad) - 7).to_bytes(2, "big")
    stream, offset = _stream_with(gen, 4 * 50 + 2, replace=bytes(bad))
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, bad_length=1, seq_gaps=1, missing_packets=1)
    bl = next(e for e in result.errors if e.kind == "bad_length")
    assert bl.offset == offset and bl.apid == 0x102
    assert "definition of POWER says 18" in bl.reason
    _assert_all_decoded(result.table, gen, skip={0x102: [50]})


def test_corrupt_length_field_resynchronises(defs: PacketSet, gen: dict[int, Generated]):
    bad = bytearray(gen[0x100].rows[77].tobytes())
    bad[4:6] = (999).to_bytes(2, "big")  # the length field lies; the bytes are all there
    stream, offset = _stream_with(gen, 4 * 77, replace=bytes(bad))
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, bad_length=1, seq_gaps=1, missing_packets=1)
    assert result.errors[0].offset == offset and "lost sync" in result.errors[0].reason
    assert result.stats.skipped_bytes == len(bad)
    _assert_all_decoded(result.table, gen, skip={0x100: [77]})


def test_header_flags_not_as_defined(defs: PacketSet, gen: dict[int, Generated]):
    bad = bytearray(gen[0x103].rows[9].tobytes())
    bad[0] |= 0x08  # EVENT packets have no secondary header; this one claims one
    stream, offset = _stream_with(gen, 4 * 9 + 3, replace=bytes(bad))
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, bad_header=1, seq_gaps=1, missing_packets=1)
    err = next(e for e in result.errors if e.kind == "bad_header")
    assert err.offset == offset and err.apid == 0x103 and "do not match EVENT" in err.reason
    _assert_all_decoded(result.table, gen, skip={0x103: [9]})


def test_garbage_between_packets(defs: PacketSet, gen: dict[int, Generated]):
    garbage = bytes([0xE7]) + bytes(range(100, 112))  # version 7: not a Space Packet
    stream, offset = _stream_with(gen, 33, insert=garbage)
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, bad_header=1)
    assert result.errors[0].offset == offset
    assert result.stats.skipped_bytes == 13
    _assert_all_decoded(result.table, gen)


def test_crc_failure_drops_only_that_packet(defs: PacketSet, gen: dict[int, Generated]):
    bad = bytearray(gen[0x101].rows[123].tobytes())
    bad[20] ^= 0x10
    stream, offset = _stream_with(gen, 4 * 123 + 1, replace=bytes(bad))
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, crc=1)  # received, so not a sequence gap
    err = result.errors[0]
    assert (err.kind, err.offset, err.apid, err.seq) == ("crc", offset, 0x101, 123)
    _assert_all_decoded(result.table, gen, skip={0x101: [123]})


def test_sequence_gaps_and_wraparound(defs: PacketSet):
    gen = generate(defs, 40, seed=2, first_seq=16384 - 20)  # counts wrap 16383 -> 0
    packets = round_robin(gen)
    drop = {4 * 10 + 1, 4 * 11 + 1, 4 * 12 + 1, 4 * 30 + 3}  # PROPULSION 10-12, EVENT 30
    stream = b"".join(p for k, p in enumerate(packets) if k not in drop)
    dec = PacketDecoder(defs)
    half = len(stream) // 2
    dec.feed(stream[:half], receive_time=RECEIVED)  # the gap check carries across calls
    dec.feed(stream[half:], receive_time=RECEIVED)
    dec.flush()
    _only(dec.stats, seq_gaps=2, missing_packets=4)
    gaps = sorted((e.apid, e.seq) for e in dec.stats.errors)
    assert gaps == [(0x101, (16384 - 20 + 13) % 16384), (0x103, (16384 - 20 + 31) % 16384)]
    assert dec.stats.packets == 160 - 4


def test_truncated_packet_at_end(defs: PacketSet, gen: dict[int, Generated]):
    packets = round_robin(gen)[:9]
    stream = b"".join(packets)[:-5]
    dec = PacketDecoder(defs, source="cut.bin")
    dec.feed(stream, receive_time=RECEIVED)
    assert dec.pending_bytes == len(packets[-1]) - 5  # held back, waiting for the rest
    dec.flush()
    _only(dec.stats, truncated=1)
    err = dec.stats.errors[0]
    assert err.offset == len(stream) - dec.stats.skipped_bytes
    assert str(err).startswith("cut.bin: byte ")
    assert dec.stats.packets == 8
    short = decode(b"\x01\x00\x00", defs)  # less than a header
    _only(short.stats, truncated=1)


def test_datagrams_each_carry_whole_packets(defs: PacketSet, gen: dict[int, Generated]):
    packets = round_robin(gen)[:20]
    datagrams = [b"".join(packets[k : k + 4]) for k in range(0, 20, 4)]
    datagrams[2] = datagrams[2][:-3]  # the last packet of this datagram is cut short
    dec = PacketDecoder(defs)
    table = pa.Table.from_batches(dec.feed_datagrams(datagrams, receive_time=RECEIVED))
    _only(dec.stats, truncated=1, seq_gaps=1, missing_packets=1)
    assert dec.stats.packets == 19
    assert table.num_rows == 5 * (16 + 9 + 5) + 4 * 3  # one EVENT packet lost


def test_error_list_is_capped_counters_are_not(defs: PacketSet, gen: dict[int, Generated]):
    packets = round_robin(gen)
    stranger = pack_primary_header(0x3AA, 0, 5) + bytes(6)
    stream = b"".join(p + stranger for p in packets)
    result = decode(stream, defs, max_errors=10, receive_time=RECEIVED)
    assert result.stats.unknown_apid == len(packets)
    assert len(result.errors) == 10
    _assert_all_decoded(result.table, gen)


@pytest.mark.parametrize("seed", range(6))
def test_random_corruption_never_raises(defs: PacketSet, gen: dict[int, Generated], seed: int):
    rng = np.random.default_rng(seed)
    stream = bytearray(b"".join(round_robin(gen)[:200]))
    for k in rng.integers(0, len(stream), 40):
        stream[k] = rng.integers(0, 256)
    dec = PacketDecoder(defs)
    for chunk in np.array_split(np.frombuffer(bytes(stream), dtype=np.uint8), 7):
        dec.feed(chunk.tobytes(), receive_time=RECEIVED)
    dec.flush()
    st = dec.stats
    assert 100 < st.packets <= 200
    assert st.n_errors > 0
    assert st.bytes == len(stream)


def test_pure_garbage_and_empty_input(defs: PacketSet):
    rng = np.random.default_rng(0)
    junk = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    result = decode(junk, defs)
    assert result.stats.packets <= 1  # a chance look-alike header at most
    assert result.stats.n_errors >= 1
    empty = decode(b"", defs)
    assert empty.stats.packets == 0 and empty.table.num_rows == 0


# -- packets of other definitions, repeats and late packets ---------------------------------------
def test_stream_of_undefined_apids_counts_every_packet(defs: PacketSet):
    """A stream made with other definitions (APIDs 0x200-0x202 here) is one unknown_apid per
    packet, not one for the whole stream; the decoder stays in sync through it."""
    other = parse_definitions(
        {
            "time": {"format": "cuc", "coarse_bytes": 4, "fine_bytes": 2},
            "packets": [
                {"name": f"P{k}", "apid": 0x200 + k, "secondary_header": True, "crc": True,
                 "parameters": [{"name": f"x{k}_{j}", "type": "float", "bits": 32}
                                for j in range(k + 1)]}
                for k in range(3)
            ],
        }
    )  # fmt: skip
    foreign = round_robin(generate(other, 200, seed=4))
    stream = b"".join(foreign)
    result = decode(stream, defs, receive_time=RECEIVED)
    _only(result.stats, unknown_apid=600)
    assert result.stats.skipped_bytes == len(stream) and result.stats.packets == 0
    assert {e.apid for e in result.errors} == {0x200, 0x201, 0x202}
    # chunked the same, and mixed with defined packets, every packet of both is accounted for
    mixed = b"".join(
        p + q for p, q in zip(round_robin(generate(defs, 150, seed=5)), foreign, strict=True)
    )
    dec = PacketDecoder(defs)
    for k in range(0, len(mixed), 777):
        dec.feed(mixed[k : k + 777], receive_time=RECEIVED)
    dec.flush()
    _only(dec.stats, unknown_apid=600)
    assert dec.stats.packets == 600


def test_repeated_stream_is_duplicates_not_gaps(defs: PacketSet, gen: dict[int, Generated]):
    """The same packets twice (a recording concatenated with itself, a re-sent burst): every
    timed packet the second time is a duplicate, dropped; no sequence gap, nothing missing.
    EVENT (0x103) has no packet time, so its repeats are late packets: gap events, 0 missing."""
    once = b"".join(round_robin(gen))
    twice = once + once[: len(once) // 2] + once[len(once) // 2 :]
    dec = PacketDecoder(defs)
    rows = sum(b.num_rows for k in range(0, len(twice), 5000)
               for b in dec.feed(twice[k : k + 5000], receive_time=RECEIVED))  # fmt: skip
    dec.flush()
    timed = [p for p in defs.packets if p.secondary_header]
    assert dec.stats.duplicates == 300 * len(timed)
    assert dec.stats.missing_packets == 0
    assert dec.stats.seq_gaps == 300  # EVENT: 300 late counts, each a gap event
    assert dec.stats.packets == 300 * 4 + 300
    assert rows == 300 * defs.n_parameters + 300 * len(defs[0x103].parameters)
    assert not any("packets missing" in e.reason for e in dec.stats.errors)


def test_late_packet_is_not_a_gap_of_16383(defs: PacketSet, gen: dict[int, Generated]):
    nav = gen[0x100].rows
    late = np.concatenate([nav[:10], nav[12:20], nav[5:6], nav[20:30]])  # 10, 11 lost; 5 again
    dec = PacketDecoder(defs)
    dec.feed(late.tobytes())
    dec.flush()
    _only(dec.stats, seq_gaps=1, missing_packets=2, duplicates=1)
    assert dec.stats.packets == 28
    # a packet with an earlier count and a new time: late, counted as a gap event, 0 missing
    moved = encode_packets(defs[0x100], [3], times=[T0 + np.timedelta64(10, "s")])
    dec = PacketDecoder(defs)
    dec.feed(np.concatenate([nav[:10], moved, nav[10:20]]).tobytes())
    _only(dec.stats, seq_gaps=1)
    assert dec.stats.packets == 21
    assert "late or repeated" in dec.stats.errors[0].reason
