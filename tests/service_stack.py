"""`sscard serve` in a child process against a private pcscd + vpcd, for tests and benchmarks.

The service is a separate process bound to the private pcscd's socket (PCSCLITE_CSOCK_NAME);
the test process only inserts emulated cards (vpcd's TCP port) and talks HTTP/WebSocket to the
service on 127.0.0.1, so it never makes a PC/SC call of its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

from pcsc_stack import READERS, PrivatePcscd, wait_state_in_child

SSCARD = os.path.join(os.path.dirname(sys.executable), "sscard")


class Service:
    """One `sscard serve --port 0 ARGS…` process; its stderr (the log) is kept in a file."""

    def __init__(self, daemon: PrivatePcscd, *args: str, env: dict | None = None) -> None:
        self.daemon = daemon
        self.args = args
        self.env = env or {}
        self.log_file = tempfile.NamedTemporaryFile(
            prefix="sscard-serve-", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> Service:
        self.proc = subprocess.Popen(
            [SSCARD, "serve", "--port", "0", *self.args],
            env={**self.daemon.client_env(), **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"sscard serve exited ({self.proc.returncode}): {self.log()}")
            time.sleep(0.02)
        raise TimeoutError(f"sscard serve did not start: {self.log()}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def log(self) -> str:
        with open(self.log_file.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM by PID; the exit code (0 for a clean stop)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired as timed_out:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(
                    f"sscard serve did not stop on SIGTERM: {self.log()}"
                ) from timed_out
        rc = self.proc.returncode
        self.proc = None
        return rc

    def cleanup(self) -> None:
        self.log_file.close()
        os.unlink(self.log_file.name)


# `sscard serve` with test keys and bank records allowed: what most tests read through
KEYED = ("--keys", "test", "--allow-bank-records")


def serving(daemon: PrivatePcscd, *args: str):
    """The body of a fixture: `yield from serving(daemon, ARGS…)` gives a started service and
    stops it afterwards (it must stop cleanly)."""
    service = Service(daemon, *args).start()
    yield service
    assert service.stop() == 0, service.log()
    service.cleanup()


def sscard(daemon: PrivatePcscd, *args: str) -> subprocess.CompletedProcess:
    """`sscard ARGS…` (the installed command) against `daemon`, its output captured as text."""
    return subprocess.run(
        [SSCARD, *args], env=daemon.client_env(), capture_output=True, text=True, timeout=60
    )


class Slots:
    """Insert and remove emulated cards in the vpcd slots of `daemon`, waiting for pcscd to
    register each change (removals wait for pcscd's event counter, see pcsc_stack)."""

    def __init__(self, daemon: PrivatePcscd) -> None:
        self.daemon = daemon
        self.links: dict[int, tuple] = {}

    def insert(self, persona_or_card, slot: int = 0, **link_options):
        from sscard.emulator import SocialSecurityCard
        from sscard.emulator.vpcd import VpcdLink

        self.remove(slot)
        card = (
            SocialSecurityCard.from_persona(persona_or_card)
            if isinstance(persona_or_card, str)
            else persona_or_card
        )
        link = VpcdLink(card, port=self.daemon.port + slot, **link_options).insert()
        counter = wait_state_in_child(self.daemon, READERS[slot], True)
        self.links[slot] = (link, counter)
        return link

    def remove(self, slot: int = 0, wait: bool = True) -> None:
        entry = self.links.pop(slot, None)
        if entry is None:
            return
        link, counter = entry
        link.remove()
        if wait:
            wait_state_in_child(self.daemon, READERS[slot], False, after=counter)

    def remove_all(self) -> None:
        for slot in list(self.links):
            self.remove(slot)


def upgrade(port: int, *, host: str | None = None, origin: str | None = None) -> str:
    """A raw WebSocket upgrade request; the status line and headers of the answer (so a test
    can send any Host and Origin, which WebSocket clients set by themselves)."""
    import socket

    lines = [
        "GET / HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


class EventStream:
    """A /v1/events listener on its own thread; `next()` gives the parsed events in order."""

    def __init__(self, service: Service, query: str = "", origin: str | None = None) -> None:
        import queue

        import httpx

        self.events: queue.Queue = queue.Queue()
        headers = {"Origin": origin} if origin else {}
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._response = self._client.send(
            self._client.build_request("GET", f"{service.base}/v1/events{query}", headers=headers),
            stream=True,
        )
        self.status = self._response.status_code
        self.headers = self._response.headers
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import json

        kind, data = None, []
        try:
            for line in self._response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and kind is not None:
                    self.events.put((kind, json.loads("\n".join(data))))
                    kind, data = None, []
        except Exception:  # closed by close(), or by the service
            pass
        self.events.put(None)

    def next(self, timeout: float = 20.0):
        """(kind, payload) of the next event; None when the stream ended."""
        return self.events.get(timeout=timeout)

    def next_of(self, kinds: set[str], timeout: float = 20.0):
        """The next event of one of `kinds`, with the events skipped on the way."""
        skipped = []
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.01, deadline - time.monotonic()))
            if item is None or item[0] in kinds:
                return item, skipped
            skipped.append(item)

    def close(self) -> None:
        import socket

        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:  # wakes the reading thread now, not at the next keepalive
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._response.close()
        self._client.close()
        self._thread.join(10)


def require_service_dependencies() -> None:
    """Skip a module whose venv predates the `service` extra (pip install -e '.[test]' again);
    CI, which installs it through .ci/setup.sh, fails instead."""
    import importlib.util

    import pytest

    missing = [
        m
        for m in ("fastapi", "uvicorn", "httpx", "websockets", "schemathesis")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the service and test extras ({', '.join(missing)})")
        pytest.skip(
            f"not installed: {', '.join(missing)} (pip install -e '.[test]')",
            allow_module_level=True,
        )
