"""The bench's control channel: scenario steps as JSON, one object per line, over TCP on loopback.

Request (one line):  {"action": "insert", "slot": 0, "persona": "gen3"}  — any scenario step,
or one of the control actions:
  {"action": "status"}                      the slots: persona, APDU count, armed faults
  {"action": "apdus", "slot": 0}            the APDUs (hex) the slot's card received since insertion
  {"action": "events", "since": 0}         the bench's events from number `since` on, and `next`
  {"action": "signal", "name": "go"}        release a `wait` step waiting for this signal
  {"action": "stop"}                        remove the cards and end `sscard emulate`
Answer (one line): {"ok": true, ...} or {"ok": false, "error": "..."}.
Steps run one at a time, in the order they arrive; a `wait` answers when it is over.
"""

from __future__ import annotations

import json
import socketserver
import threading

from sscard.emulator.bench import Bench
from sscard.emulator.scenario import parse_step
from sscard.errors import SscardError

MAX_LINE = 64 * 1024
MAX_EVENTS = 100_000
LOOPBACK = "127.0.0.1"


class EventLog:
    """The bench's events, numbered, the last MAX_EVENTS kept for `events` requests."""

    def __init__(self, sink=None) -> None:
        self.sink = sink
        self._lock = threading.Lock()
        self._events: list[dict] = []
        self._dropped = 0

    def __call__(self, event: dict) -> None:
        with self._lock:
            self._events.append(event)
            if len(self._events) > MAX_EVENTS:
                del self._events[: len(self._events) - MAX_EVENTS]
                self._dropped += 1
        if self.sink is not None:
            self.sink(event)

    def since(self, number: int) -> tuple[list[dict], int]:
        with self._lock:
            first = self._dropped
            start = max(number - first, 0)
            return list(self._events[start:]), first + len(self._events)


class ControlServer:
    def __init__(self, bench: Bench, events: EventLog, port: int = 0) -> None:
        self.bench = bench
        self.events = events
        self.stopped = threading.Event()
        bench.has_control = True
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while not outer.stopped.is_set():
                    line = self.rfile.readline(MAX_LINE + 1)
                    if not line:
                        return
                    if len(line) > MAX_LINE:
                        self._answer({"ok": False, "error": "request too long"})
                        return
                    self._answer(outer.handle_line(line))

            def _answer(self, answer: dict) -> None:
                self.wfile.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
                self.wfile.flush()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((LOOPBACK, port), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="bench-control", daemon=True
        )

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def handle_line(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not a JSON object"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "not a JSON object"}
        try:
            return {"ok": True, **self.handle(request)}
        except (SscardError, TimeoutError, RuntimeError, ValueError) as e:
            return {"ok": False, "error": str(e)}

    def handle(self, request: dict) -> dict:
        action = request.get("action")
        bench = self.bench
        extra = set(request) - {"action", "slot", "since", "name"}
        if action == "status":
            return {"slots": bench.status()}
        if action == "apdus":
            slot = request.get("slot")
            if (
                not isinstance(slot, int)
                or isinstance(slot, bool)
                or not 0 <= slot < len(bench.slots)
                or extra
            ):
                raise ValueError("apdus needs a 'slot' of this bench")
            return {"apdus": [a.hex().upper() for a in bench.slots[slot].apdus()]}
        if action == "events":
            since = request.get("since", 0)
            if not isinstance(since, int) or isinstance(since, bool) or since < 0 or extra:
                raise ValueError("events takes a 'since' number")
            events, following = self.events.since(since)
            return {"events": events, "next": following}
        if action == "signal":
            name = request.get("name")
            if not isinstance(name, str) or not name.strip() or len(request) != 2:
                raise ValueError("signal needs a 'name'")
            bench.signal(name)
            return {}
        if action == "stop":
            self.stopped.set()
            return {}
        step = parse_step(request, "control step")
        bench.check([step], None, "control")
        bench.run_step(step)
        return {}
