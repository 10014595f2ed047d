"""`sscard emulate` (the test bench) in the background, for the tests that drive PC/SC host
programs through it: its JSON event lines as they come, and a small pyscard host program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from helpers import SSCARD

# a PC/SC host program: sends APDUs (argv[2:]) to the reader argv[1], one JSON line per answer
HOST = """
import json, sys
from smartcard.System import readers
from smartcard.Exceptions import SmartcardException
reader = next(r for r in readers() if str(r) == sys.argv[1])
connection = reader.createConnection()
connection.connect()
for apdu in sys.argv[2:]:
    try:
        data, sw1, sw2 = connection.transmit(list(bytes.fromhex(apdu)))
        answer = {"sw": f"{sw1:02X}{sw2:02X}", "data": bytes(data).hex().upper()}
        print(json.dumps(answer), flush=True)
    except SmartcardException as e:
        print(json.dumps({"error": type(e).__name__}), flush=True)
        sys.exit(3)
"""

_RUNNING: list[subprocess.Popen] = []


def stop_leftover_benches() -> None:
    """After each test (tests/pcsc/conftest.py): a bench a failed test left running is stopped
    by its PID (it removes its cards)."""
    while _RUNNING:
        proc = _RUNNING.pop()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


class Emulate:
    """`sscard emulate …` in the background; its events as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*SSCARD, "emulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _RUNNING.append(self.proc)
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.ready = self.wait_for("ready")
        self.env = dict(os.environ, PCSCLITE_CSOCK_NAME=self.ready["socket"])

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "<exit>"})
            self._cond.notify_all()

    def wait_for(self, event: str, timeout: float = 30, **fields) -> dict:
        def find():
            return next(
                (
                    e
                    for e in self.events
                    if e["event"] == event and all(e.get(k) == v for k, v in fields.items())
                ),
                None,
            )

        with self._cond:
            self._cond.wait_for(
                lambda: find() or any(e["event"] == "<exit>" for e in self.events), timeout
            )
            result = find()
        stderr = self.proc.stderr.read() if self.proc.poll() is not None else ""
        assert result, f"no {event} {fields} in {self.events}; stderr: {stderr}"
        return result

    def host(self, slot: int, *apdus: str) -> tuple[int, list[dict]]:
        done = subprocess.run(
            [sys.executable, "-c", HOST, self.ready["readers"][slot], *apdus],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]

    def finish(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout)
        self._thread.join(5)
        self.proc.stderr.close()
        return rc

    def kinds(self, slot: int) -> list[str]:
        return [
            e["event"] if e["event"] != "fault" else f"fault:{e['fault']}"
            for e in self.events
            if e.get("slot") == slot
        ]
