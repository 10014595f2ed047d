"""Start time: process start → the first APDU at the card, in one run, alternated.

    .venv/bin/python bench/start_bench.py [--rounds N] [--importtime]

Six programs start in turn, N rounds, against a private pcscd + vpcd with the emulated
card gen2 in the reader (sscard.testing.stack):

- floor: `python -c pass`, start → exit (the interpreter's floor);
- import click: `python -c "import click"` ended by os._exit (no interpreter teardown, which
  the floor has too): what click alone costs any CLI built on it, before it parses an option;
- pyscard: bench/floor_sequence.py, a plain pyscard script (start → its first APDU);
- click+pyscard: the least a click CLI on pyscard does (import click, parse `-r`, connect,
  send SELECT through pyscard's low-level layer): the floor of any CLI on sscard's stack;
- library: `import sscard; sscard.open(reader).read_identity()` (start → first APDU);
- cli: the installed `sscard read -r reader` (start → first APDU).

Medians, and the ratios to the floor and to the pyscard script.  The card's answer time is
the emulator's (well under a millisecond).  Run it on an installed sscard (`pip install .`,
as .ci/setup.sh does): an editable install adds a path hook to every start.

--importtime prints, for one `sscard read`, the modules imported before the first APDU
with their cumulative import time (python -X importtime), largest first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sscard.testing.pcscd import missing_reason, stack_available
from sscard.testing.stack import BenchStack

HERE = Path(__file__).resolve().parent
SSCARD = str(Path(sys.executable).with_name("sscard"))  # the console script, as users run it
LIBRARY = "import sys, sscard\nwith sscard.open(sys.argv[1]) as c:\n    c.read_identity()\n"
# the least any click CLI on pyscard does before its first APDU: import click, parse the
# reader option, connect and send SELECT SSSE through pyscard's low-level layer
CLICK_PYSCARD = """
import click

@click.command()
@click.option("-r", "--reader", required=True)
def read(reader):
    from smartcard import scard
    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _, card, protocol = scard.SCardConnect(
        context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    select_ssse = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
    scard.SCardTransmit(card, protocol, list(select_ssse))
    scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
    scard.SCardReleaseContext(context)

read()
"""


class FirstApdu:
    """The arrival time of the first APDU the card receives after `arm()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: float | None = None
        self._armed = False

    def arm(self) -> None:
        with self._lock:
            self._at, self._armed = None, True

    def __call__(self, event: dict) -> None:
        if event.get("event") != "apdu":
            return
        now = time.perf_counter()
        with self._lock:
            if self._armed and self._at is None:
                self._at = now

    @property
    def arrived(self) -> bool:
        with self._lock:
            return self._at is not None

    def seconds_since(self, t0: float) -> float:
        with self._lock:
            if self._at is None:
                raise RuntimeError("the program sent no APDU")
            return self._at - t0


def programs(reader: str) -> dict[str, list[str]]:
    return {
        "floor": [sys.executable, "-c", "pass"],
        "import click": [sys.executable, "-c", "import os, click; os._exit(0)"],
        "pyscard": [sys.executable, str(HERE / "floor_sequence.py"), reader],
        "click+pyscard": [sys.executable, "-c", CLICK_PYSCARD, "-r", reader],
        "library": [sys.executable, "-c", LIBRARY, reader],
        "cli": [SSCARD, "read", "-r", reader],
    }


TO_EXIT = ("floor", "import click")  # timed start → exit: they send no APDU


def run_once(name: str, argv: list[str], env: dict, first: FirstApdu) -> float:
    if name in TO_EXIT:
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, cwd=tempfile.gettempdir(), check=True)
        return time.perf_counter() - t0
    first.arm()
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL, check=True)
    return first.seconds_since(t0)


def import_profile(reader: str, env: dict, first: FirstApdu, top: int) -> None:
    """`sscard read` once under -X importtime; the modules imported before the first APDU."""
    first.arm()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [SSCARD, "read", "-r", reader],
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    before: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:  # bounded by the process: it exits after one read
        if not first.arrived:  # stderr is unbuffered: lines read later came after the APDU
            before.append(line.rstrip("\n"))
    proc.wait(60)
    took = first.seconds_since(t0) * 1000
    print(f"`sscard read` under -X importtime: first APDU after {took:.0f} ms")
    rows = []
    for line in before:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and name.startswith(" ") and not name.startswith("   "):
            rows.append((int(cumulative), name.strip()))  # top-level imports only
    for micros, name in sorted(rows, reverse=True)[:top]:
        print(f"  {micros / 1000:6.1f} ms  {name}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--importtime", action="store_true")
    args = ap.parse_args()
    if not stack_available():
        sys.exit(missing_reason())
    stack = BenchStack(slots=1).start()
    try:
        first = FirstApdu()
        stack.log.sink = first
        slot = stack.readers[0]
        slot.insert("gen2")
        env = {**os.environ, **stack.env}
        names = programs(slot.name)
        times: dict[str, list[float]] = {name: [] for name in names}
        for n in range(args.rounds):
            order = list(names.items())
            for name, argv in order if n % 2 == 0 else reversed(order):
                times[name].append(run_once(name, argv, env, first))
        # the median, and the minimum (noise on a shared machine only ever adds time)
        for label, pick in (("median", statistics.median), ("minimum", min)):
            floor, pyscard = pick(times["floor"]), pick(times["pyscard"])
            print(f"start → first APDU, {label} of {args.rounds} alternated rounds")
            for name, samples in times.items():
                m = pick(samples)
                print(
                    f"  {name:13} {m * 1000:6.1f} ms   {m / floor:5.2f}× the interpreter floor"
                    f"   {m / pyscard:5.2f}× the pyscard script"
                )
        if args.importtime:
            import_profile(slot.name, env, first, top=25)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
