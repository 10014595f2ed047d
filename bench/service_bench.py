"""`sscard serve` on the real PC/SC stack (private pcscd + vpcd + the emulator), one run.

    .venv/bin/python bench/service_bench.py [--reads N] [--starts N] [--insertions N]

1. Compat round trip: `iReadCardBas` over the WebSocket versus the same read in process
   (`sscard.open(reader).read_identity()` through the same pcscd, in a child process bound
   to it), blocks interleaved ABBA; the medians and their difference (target: ≤ 20 ms).
2. Insertion → events: card inserted into vpcd → `inserted` event, and `inserted` →
   `identity` event beyond the card's own read time (the in-process read of step 1).
3. Requests per second on one reader with an instant card (the emulator): /v1/identity
   sequential and with 4 clients (the reader's worker serialises them), /v1/health.
4. Service start: `sscard serve` process start → listening, against `sscard --version`
   (the CLI's own start) measured the same way.

Needs pcscd, vsmartcard-vpcd and the service extra (bash .ci/setup.sh installs them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pcsc_stack import (
    READERS,
    PrivatePcscd,
    stack_available,  # noqa: E402
    wait_readers_in_child,
    wait_state_in_child,
)
from service_stack import SSCARD, EventStream, Service, Slots  # noqa: E402

IN_PROCESS = """
import json, sys, time
import sscard
reader, n = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(n):
    t = time.perf_counter()
    with sscard.open(reader) as card:
        card.read_identity()
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps(times))
"""


def in_process_reads(daemon, n: int) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, READERS[0], str(n)],
        env=daemon.client_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def compat_reads(service, n: int) -> list[float]:
    from websockets.sync.client import connect

    times = []
    with connect(service.ws) as ws:
        for _ in range(n):
            t = time.perf_counter()
            ws.send(json.dumps({"function": "iReadCardBas", "iType": 1}))
            reply = json.loads(ws.recv(timeout=30))
            times.append((time.perf_counter() - t) * 1000)
            assert reply["success"] == "1", reply
    return times


def round_trip(daemon, service, reads: int) -> tuple[float, float]:
    compat, local = [], []
    block = max(1, reads // 4)
    for order in ("AB", "BA", "AB", "BA"):  # ABBA: drift on the shared machine cancels
        for which in order:
            if which == "A":
                compat += compat_reads(service, block)
            else:
                local += in_process_reads(daemon, block)
    c, l_ = statistics.median(compat), statistics.median(local)
    print(
        f"1. compat iReadCardBas round trip: median {c:.1f} ms over {len(compat)}; in-process "
        f"read through the same pcscd: median {l_:.1f} ms over {len(local)}; the service adds "
        f"{c - l_:+.1f} ms (target ≤ 20 ms)"
    )
    return c, l_


def insertions(daemon, service, slots, n: int, read_ms: float) -> None:
    from sscard.emulator import SocialSecurityCard
    from sscard.emulator.vpcd import VpcdLink

    to_inserted, beyond = [], []
    stream = EventStream(service)
    try:
        stream.next()
        for _ in range(n):
            slots.remove(0)
            link_card = SocialSecurityCard.from_persona("gen2")
            t0 = time.perf_counter()
            link = VpcdLink(link_card, port=daemon.port).insert()
            (kind, _e), _ = stream.next_of({"inserted"})
            t1 = time.perf_counter()
            (kind, _e), _ = stream.next_of({"identity", "error"})
            t2 = time.perf_counter()
            assert kind == "identity"
            to_inserted.append((t1 - t0) * 1000)
            beyond.append((t2 - t1) * 1000 - read_ms)
            counter = wait_state_in_child(daemon, READERS[0], True)
            link.remove()
            wait_state_in_child(daemon, READERS[0], False, after=counter)
            stream.next_of({"removed"})
    finally:
        stream.close()
    print(
        f"2. insertion → 'inserted' event: median {statistics.median(to_inserted):.0f} ms "
        f"(pcscd's presence poll and vpcd's accept dominate); 'inserted' → 'identity': "
        f"median {statistics.median(beyond):+.1f} ms beyond the card's read time "
        f"({read_ms:.1f} ms), over {n} insertions"
    )


def rate(service, path: str, clients: int, seconds: float = 3.0) -> float:
    import httpx

    count = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client():
        with httpx.Client(base_url=service.base, timeout=30) as c:
            while time.monotonic() < stop:
                r = c.get(path)
                assert r.status_code == 200, r.text
                with lock:
                    count[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return count[0] / (time.perf_counter() - t)


def start_times(daemon, n: int) -> None:
    serve, cli = [], []
    for _ in range(n):
        t = time.perf_counter()
        svc = Service(daemon).start()
        serve.append((time.perf_counter() - t) * 1000)
        svc.stop()
        svc.cleanup()
        t = time.perf_counter()
        subprocess.run([SSCARD, "--version"], capture_output=True, check=True)
        cli.append((time.perf_counter() - t) * 1000)
    s, c = statistics.median(serve), statistics.median(cli)
    print(
        f"4. service start → listening: median {s:.0f} ms; `sscard --version`: median "
        f"{c:.0f} ms; ratio {s / c:.1f}× (over {n} starts)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--insertions", type=int, default=10)
    args = parser.parse_args()
    if not stack_available():
        sys.exit("pcscd and vsmartcard-vpcd are needed (bash .ci/setup.sh)")
    daemon = PrivatePcscd().start()
    try:
        wait_readers_in_child(daemon)
        slots = Slots(daemon)
        slots.insert("gen2")
        service = Service(daemon).start()
        try:
            compat_reads(service, 10)  # warm-up
            _c, local = round_trip(daemon, service, args.reads)
            insertions(daemon, service, slots, args.insertions, local)
            slots.insert("gen2")
            seq = rate(service, "/v1/identity?reader=0", 1)
            par = rate(service, "/v1/identity?reader=0", 4)
            health = rate(service, "/v1/health", 4)
            print(
                f"3. one reader, instant card: /v1/identity {seq:.0f} req/s sequential, "
                f"{par:.0f} req/s with 4 clients (one worker serialises them); /v1/health "
                f"{health:.0f} req/s with 4 clients"
            )
        finally:
            service.stop()
            service.cleanup()
            slots.remove_all()
        start_times(daemon, args.starts)
    finally:
        daemon.stop()
        daemon.cleanup()


if __name__ == "__main__":
    main()
