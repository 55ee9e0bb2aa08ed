"""Telemetry from recorded packet files: which definitions a file was made with, and replay
through a ``PacketDecoder`` as fast as possible or paced by packet time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from starbrain.core.errors import StarbrainError
from starbrain.sources.telemetry.ccsds import DecodeStats, PacketDecoder
from starbrain.sources.telemetry.packets import (
    IDLE_APID,
    PRIMARY_HEADER_BYTES,
    PacketSet,
    bundled_definitions,
    load_definitions,
    load_example_definitions,
)
from starbrain.sources.transport.policy import packet_set
from starbrain.sources.transport.stream import Sink

__all__ = [
    "DefinitionsChoice",
    "definitions_sidecar",
    "replay",
    "replay_file",
    "resolve_definitions",
    "scan_apids",
]


# -- which definitions a file was made with ----------------------------------------------------
def definitions_sidecar(path: str | Path) -> Path:
    """Where a packet file records the definitions it was written with: ``FILE.definitions.yaml``
    (``starbrain telemetry simulate`` writes one)."""
    path = Path(path)
    return path.with_name(path.name + ".definitions.yaml")


def _apid_list(apids: Iterable[int]) -> str:
    return ", ".join(f"{a:#x}" for a in sorted(apids)) or "none"


def scan_apids(path: str | Path, max_bytes: int = 4 << 20) -> dict[int, int]:
    """Packets per APID in the first ``max_bytes`` of a packet file, walking the primary headers
    by their length fields (idle packets left out); stops at the first header that is not a
    version-0 Space Packet header."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes)
    except OSError as exc:
        raise StarbrainError(f"cannot read telemetry file {path}: {exc.strerror}") from exc
    counts: dict[int, int] = {}
    p, n = 0, len(data)
    while p + PRIMARY_HEADER_BYTES <= n and data[p] >> 5 == 0:
        apid = (data[p] << 8 | data[p + 1]) & 0x7FF
        if apid != IDLE_APID:
            counts[apid] = counts.get(apid, 0) + 1
        p += (data[p + 4] << 8 | data[p + 5]) + 7
    return counts


@dataclass(frozen=True, slots=True)
class DefinitionsChoice:
    """The packet definitions chosen for a file, and a sentence saying how they were chosen."""

    definitions: PacketSet
    how: str
    apids: dict[int, int]  # packets per APID seen at the start of the file (scan_apids)
    tried: tuple[str, ...] = ()  # the definition sets considered


def resolve_definitions(
    path: str | Path, definitions: PacketSet | str | Path | None = None
) -> DefinitionsChoice:
    """The definitions to replay ``path`` with: those given; else the file's recorded ones
    (``definitions_sidecar``); else the bundled set that defines the most of the packets seen
    at the start of the file (``scan_apids``), the example launcher when none defines any."""
    path = Path(path)
    apids = scan_apids(path)
    if definitions is not None:
        defs = packet_set(definitions)
        name = str(definitions) if not isinstance(definitions, PacketSet) else defs.source
        return DefinitionsChoice(defs, f"definitions {name or defs.name}", apids, (defs.name,))
    sidecar = definitions_sidecar(path)
    if sidecar.is_file():
        defs = load_definitions(sidecar)
        return DefinitionsChoice(
            defs, f"definitions {defs.name or sidecar.name}, recorded in {sidecar}", apids
        )
    sets = {name: load_definitions(p) for name, p in bundled_definitions().items()}
    covered = {name: sum(n for a, n in apids.items() if a in d.by_apid) for name, d in sets.items()}
    best = max(covered, key=lambda k: covered[k]) if covered else ""
    if not best or covered[best] == 0:
        defs = load_example_definitions()
        why = (
            f"no bundled set defines APIDs {_apid_list(apids)} seen in the file"
            if apids
            else "no packet header found at the start of the file"
        )
        return DefinitionsChoice(
            defs, f"definitions {defs.name} (the default: {why})", apids, tuple(sets)
        )
    defs = sets[best]
    missing = sorted(a for a in apids if a not in defs.by_apid)
    how = f"definitions {best} (bundled; it defines APIDs {_apid_list(defs.by_apid)}, " + (
        "every APID seen in the file)" if not missing else f"not {_apid_list(missing)})"
    )
    return DefinitionsChoice(defs, how, apids, tuple(sets))


# -- file replay ----------------------------------------------------------------------------------
def _read_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    try:
        f = path.open("rb")
    except OSError as exc:
        raise StarbrainError(f"cannot read telemetry file {path}: {exc.strerror}") from exc
    with f:
        while chunk := f.read(chunk_bytes):
            yield chunk


def _times(batch: pa.RecordBatch) -> np.ndarray:
    return batch.column("time").cast(pa.int64()).to_numpy()


def replay_file(
    path: str | Path,
    decoder: PacketDecoder,
    *,
    chunk_bytes: int = 1 << 20,
    realtime: bool = False,
    speed: float = 1.0,
    tick_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[pa.RecordBatch]:
    """Decoded batches of a recorded packet file, read in ``chunk_bytes`` chunks.

    As fast as possible by default. ``realtime=True`` paces the output by packet time (``speed``
    times real time): rows are released in ``tick_s`` windows of packet time, each at the wall
    time its window ends. Packets without a time code carry the replay time and are released at
    once. The decoder's ``stats`` count what was read.
    """
    path = Path(path)
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    if not realtime:
        for chunk in _read_chunks(path, chunk_bytes):
            yield from decoder.feed(chunk)
        yield from decoder.flush()
        return

    tick_ns = max(1, int(tick_s * 1e9))
    untimed = {p.apid for p in decoder.definitions.packets if not p.secondary_header}
    t_ref: int | None = None
    wall_ref = 0.0

    def paced(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal t_ref, wall_ref
        slices: list[tuple[int, int, pa.RecordBatch]] = []
        for k, batch in enumerate(batches):
            if batch.num_rows == 0:
                continue
            if batch.column("apid")[0].as_py() in untimed:
                yield batch
                continue
            t = _times(batch)
            if np.any(np.diff(t) < 0):
                order = np.argsort(t, kind="stable")
                batch, t = batch.take(pa.array(order)), t[order]
            if t_ref is None:
                t_ref, wall_ref = int(t[0]), clock()
            window = (t - t_ref) // tick_ns
            cuts = np.concatenate(([0], np.flatnonzero(np.diff(window)) + 1, [len(t)]))
            for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
                slices.append((int(window[a]), k, batch.slice(a, b - a)))
        slices.sort(key=lambda s: (s[0], s[1]))
        for w, _, piece in slices:
            due = wall_ref + (w + 1) * tick_ns / 1e9 / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            yield piece

    for chunk in _read_chunks(path, min(chunk_bytes, 1 << 16)):
        yield from paced(decoder.feed(chunk))
    yield from paced(decoder.flush())


def replay(
    path: str | Path,
    definitions: PacketSet | str | Path | None = None,
    *,
    sink: Sink | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    layout: Literal["long", "wide"] = "long",
    max_errors: int = 100,
) -> DecodeStats:
    """Replay a packet file through the decoder, handing each batch to ``sink`` (for the CLI:
    ``starbrain telemetry replay FILE [--definitions YAML] [--realtime] [--speed X]``; a sink
    that appends to the store, or prints). Without ``definitions`` they are chosen by
    ``resolve_definitions``. Returns the decoding statistics."""
    defs = (
        packet_set(definitions)
        if definitions is not None
        else resolve_definitions(path).definitions
    )
    decoder = PacketDecoder(defs, source=str(path), layout=layout, max_errors=max_errors)
    for batch in replay_file(path, decoder, realtime=realtime, speed=speed):
        if sink is not None:
            sink(batch)
    return decoder.stats
