"""A short client for the control channel of `sscard emulate --control PORT`.

    bench = BenchClient(port)
    bench.insert(0, "gen3"); bench.insert(1, "psam")
    bench.mute(0, at=4)                       # for ever; seconds=5 for a while
    ... run the program under test ...
    assert bench.apdus(0)[0].startswith("00A4")
    bench.wait_event(lambda e: e["event"] == "fault", timeout=10)
    bench.stop()

Any language can do the same: one JSON object per line over TCP (sscard/emulator/control.py).
"""

from __future__ import annotations

import json
import socket
import time

from sscard.errors import SscardError


class BenchError(SscardError):
    """The bench refused a request."""


class BenchClient:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 120.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rwb")
        self._next_event = 0

    def request(self, **request) -> dict:
        """Send one request; its answer (BenchError if the bench refused it)."""
        self._file.write(json.dumps(request).encode() + b"\n")
        self._file.flush()
        line = self._file.readline()
        if not line:
            raise BenchError("the bench closed the control connection")
        answer = json.loads(line)
        if not answer.pop("ok"):
            raise BenchError(answer["error"])
        return answer

    # --- steps (see sscard/emulator/scenario.py) ----------------------------------------

    def step(self, action: str, **fields) -> None:
        self.request(action=action, **fields)

    def insert(self, slot: int, persona: str) -> None:
        self.step("insert", slot=slot, persona=persona)

    def remove(self, slot: int) -> None:
        self.step("remove", slot=slot)

    def swap(self, slot: int, persona: str) -> None:
        self.step("swap", slot=slot, persona=persona)

    def reset(self, slot: int) -> None:
        self.step("reset", slot=slot)

    def mute(self, slot: int, at: int, seconds: float | None = None) -> None:
        self.step("mute", slot=slot, at=at, **({} if seconds is None else {"seconds": seconds}))

    def pull(self, slot: int, at: int) -> None:
        self.step("pull", slot=slot, at=at)

    def answer(self, slot: int, at: int, sw: str) -> None:
        self.step("answer", slot=slot, at=at, sw=sw)

    def slow(self, ms: int, slot: int | None = None, bit_rate: int = 0) -> None:
        """Every answer `ms` later, plus the bytes at `bit_rate` bit/s (0: bytes are free)."""
        self.step("slow", ms=ms, bit_rate=bit_rate, **({} if slot is None else {"slot": slot}))

    def signal(self, name: str) -> None:
        self.request(action="signal", name=name)

    # --- queries -------------------------------------------------------------------------

    def status(self) -> list[dict]:
        return self.request(action="status")["slots"]

    def apdus(self, slot: int) -> list[str]:
        """The APDUs (hex) the card in `slot` received since its insertion."""
        return self.request(action="apdus", slot=slot)["apdus"]

    def events(self, since: int = 0) -> list[dict]:
        return self.request(action="events", since=since)["events"]

    def wait_event(self, match, timeout: float = 30.0) -> dict:
        """The first event after the last one this client waited for that `match(event)` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.request(action="events", since=self._next_event)
            for n, event in enumerate(answer["events"]):
                if match(event):
                    self._next_event += n + 1
                    return event
            self._next_event = answer["next"]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no such bench event within {timeout:g} s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.request(action="stop")

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> BenchClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
