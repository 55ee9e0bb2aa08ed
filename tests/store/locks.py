"""A real second process holding a store's DuckDB lock (DuckDB locks the file per process, so a
thread of the test process cannot stand in for another starbrain process)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("locked", flush=True)
seconds = float(sys.argv[3])
if seconds > 0:
    time.sleep(seconds)
else:
    sys.stdin.read()
con.close()
print("released", flush=True)
"""


@contextmanager
def lock_held(
    path: Path, read_only: bool = False, seconds: float = 0.0
) -> Iterator[subprocess.Popen[str]]:
    """Another Python process opens ``path`` (for writing unless ``read_only``) and keeps it
    open until the block ends, or for ``seconds`` when given; yields once the lock is held."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), "ro" if read_only else "rw", str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
