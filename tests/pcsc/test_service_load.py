"""A bounded load test of `sscard serve` on loopback, through pcscd + vpcd: 50 WebSocket
clients (compat iReadCardBas), HTTP clients and SSE listeners on two readers, 10,000 requests
in all.  No answer outside the documented ones ("busy" is one: 50 clients share a reader
whose queue holds 8), no leaked thread or connection, memory flat.  Bounded in count; the
time limits are deadlines against hangs, not measurements."""

from __future__ import annotations

from service_stack import require_service_dependencies

require_service_dependencies()

import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402
from pcsc_stack import READERS  # noqa: E402
from service_stack import EventStream, Service, Slots  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

WS_CLIENTS, WS_MESSAGES = 50, 100  # 5,000 compat messages (reader 0: iType 3)
HTTP_CLIENTS, HTTP_REQUESTS = 5, 1000  # 5,000 HTTP requests (identity on reader 1, others)
LISTENERS = 10
DEADLINE = 300  # seconds: a hang fails the test instead of stalling the suite


def resources(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    return {
        "rss_kb": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def settle(pid: int, baseline: dict, key: str, timeout: float = 30.0) -> int:
    """Wait (bounded) for a count to come back to its baseline: closed sockets and finished
    handlers go away a moment after the clients leave."""
    deadline = time.monotonic() + timeout
    while True:
        value = resources(pid)[key]
        if value <= baseline[key] or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_load_two_readers_websockets_http_and_listeners(daemon):
    slots = Slots(daemon)
    slots.insert("gen2", slot=0)
    slots.insert("gen2", slot=1)
    service = Service(daemon).start()
    pid = service.proc.pid
    answers: collections.Counter = collections.Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def count(key: str) -> None:
        with lock:
            answers[key] += 1

    def ws_client(messages: int) -> None:
        try:
            with connect(service.ws, open_timeout=30) as ws:
                for _ in range(messages):
                    ws.send(json.dumps({"function": "iReadCardBas", "iType": 3}))
                    reply = json.loads(ws.recv(timeout=60))
                    count(f"ws {reply['success']}")
        except Exception as e:  # any failure is reported below, with its kind
            failures.append(f"ws client: {type(e).__name__}: {e}")

    def http_client(requests: int) -> None:
        try:
            with httpx.Client(base_url=service.base, timeout=60) as client:
                for i in range(requests):
                    # one card read in ten (reader 1); the others list readers or health
                    path = ("/v1/identity?reader=1", "/v1/readers", "/v1/health")[
                        0 if i % 10 == 0 else 1 + i % 2
                    ]
                    r = client.get(path)
                    code = r.json()["error"]["code"] if r.status_code != 200 else ""
                    count(f"http {r.status_code} {code}".strip())
        except Exception as e:
            failures.append(f"http client: {type(e).__name__}: {e}")

    def run(ws_messages: int, http_requests: int) -> None:
        threads = [
            threading.Thread(target=ws_client, args=(ws_messages,)) for _ in range(WS_CLIENTS)
        ]
        threads += [
            threading.Thread(target=http_client, args=(http_requests,)) for _ in range(HTTP_CLIENTS)
        ]
        for t in threads:
            t.start()
        end = time.monotonic() + DEADLINE
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "load clients hung"

    try:
        run(4, 20)  # warm-up: imports, first connections, allocator pools
        idle = resources(pid)
        listeners = [EventStream(service) for _ in range(LISTENERS)]
        for listener in listeners:
            assert listener.status == 200 and listener.next()[0] == "state"
        answers.clear()

        t0 = time.monotonic()
        run(WS_MESSAGES, HTTP_REQUESTS)
        print(f"\nrun: {time.monotonic() - t0:.1f} s")
        loaded = resources(pid)
        assert not failures, failures[:5]
        assert sum(answers.values()) == WS_CLIENTS * WS_MESSAGES + HTTP_CLIENTS * HTTP_REQUESTS
        allowed = {"ws 1", "ws -11", "http 200", "http 429 busy"}
        assert set(answers) <= allowed, answers
        assert answers["ws 1"] > 0 and answers["http 200"] > HTTP_CLIENTS * HTTP_REQUESTS * 3 // 4

        # the listeners lived through it and still hear events
        slots.remove(1)
        for listener in listeners:
            (kind, event), _ = listener.next_of({"removed"})
            assert event["reader"] == READERS[1]
            listener.close()

        threads = settle(pid, idle, "threads")
        fds = settle(pid, idle, "fds")
        after = resources(pid)
        print(f"\nload: {dict(answers)}; idle {idle}; loaded {loaded}; after {after}")
        assert threads <= idle["threads"], (idle, after)  # no thread left behind
        assert fds <= idle["fds"], (idle, after)  # no connection left open
        # memory flat: 10,000 requests may not grow the service by more than a few MB
        assert after["rss_kb"] - idle["rss_kb"] < 8 * 1024, (idle, after)
        assert "internal error" not in service.log()
    finally:
        slots.remove_all()
        assert service.stop() == 0
        service.cleanup()
