"""Real message brokers for the tests: Debian's nats-server (JetStream) and mosquitto, each started
on a free loopback port with its state in a temporary directory, killable and restartable on the
same port and state directory.

    with NatsServer(tmp_path / "nats") as srv:
        srv.url           # nats://127.0.0.1:PORT
        srv.kill()        # SIGKILL, as a crash
        srv.start()       # same port, same JetStream store directory

``skip_reason(binary)`` says why a test cannot run (the binary is not installed), for pytest.skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

NATS_SERVER = "nats-server"
MOSQUITTO = "mosquitto"
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")


def find_binary(name: str) -> str | None:
    """The broker's executable: on PATH, or in the sbin directories Debian puts it in."""
    found = shutil.which(name)
    if found:
        return found
    for d in _SBIN:
        p = Path(d) / name
        if p.is_file():
            return str(p)
    return None


def skip_reason(name: str) -> str | None:
    """None when ``name`` is installed, else a sentence for ``pytest.skip``."""
    if find_binary(name) is None:
        return f"{name} is not installed (apt-get install {name})"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class _Server:
    """A broker process on a fixed loopback port with a persistent state directory."""

    binary_name = ""

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        binary = find_binary(self.binary_name)
        if binary is None:
            raise RuntimeError(skip_reason(self.binary_name))
        self.binary = binary
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.state_dir / "server.log"
        self.starts = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout_s: float = 15.0) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        if self.running:
            return
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            log.close()
        self.starts += 1
        try:
            self.wait_ready(timeout_s)
        except Exception:
            self.kill()
            raise RuntimeError(f"{self.binary_name} did not start: {self.log_tail()}") from None

    def wait_ready(self, timeout_s: float = 15.0) -> None:
        wait_for_port(self.port, timeout_s, self.proc)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to save anything (a crash)."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM and wait: a clean shutdown."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self, *, crash: bool = True) -> None:
        """Kill (or stop, ``crash=False``) and start again on the same port and state."""
        if crash:
            self.kill()
        else:
            self.stop()
        self.start()

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class NatsServer(_Server):
    """nats-server with JetStream (file storage under ``state_dir/js``)."""

    binary_name = NATS_SERVER

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.state_dir / "js"),
        ]

    def wait_ready(self, timeout_s: float = 15.0) -> None:
        # The port opens before JetStream has recovered its streams; the log says when it has.
        wait_for_port(self.port, timeout_s, self.proc)
        deadline = time.monotonic() + timeout_s
        marker = "Server is ready"
        while self.log_tail(1 << 20).count(marker) < self.starts:
            if time.monotonic() > deadline:
                raise TimeoutError("nats-server did not report ready")
            time.sleep(0.05)


class MosquittoServer(_Server):
    """mosquitto with persistence (``state_dir/mosquitto.db``) saved after every change, as
    ``starbrain.sources.transport.policy`` recommends, so that it survives a SIGKILL."""

    binary_name = MOSQUITTO

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        conf = self.state_dir / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.state_dir}/",
                    "persistence_file mosquitto.db",
                    # Queue everything for a persistent session (the default keeps 1000).
                    "max_queued_messages 0",
                    # Save after every change, so that a SIGKILL loses at most what arrived in
                    # the last pass of mosquitto's loop (the publisher sends those again). Only
                    # queued messages count as changes, not those sent straight to a subscriber,
                    # so in-flight messages are capped: the tests' subscriptions collect 50.
                    "autosave_interval 1",
                    "autosave_on_changes true",
                    "max_inflight_messages 100",
                    # As root, mosquitto would switch to the "mosquitto" user, which cannot
                    # write to a test's temporary directory.
                    *(["user root"] if os.geteuid() == 0 else []),
                    "",
                ]
            )
        )
        return [self.binary, "-c", str(conf)]
