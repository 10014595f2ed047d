"""Identity reads and `status` on a model of a real card's wire, through pcscd + vpcd.

    .venv/bin/python bench/wire_bench.py [--rounds N] [--per-apdu-ms MS] [--bit-rate BPS]

The emulator sits behind vpcd in a private pcscd and holds every answer back as long as the
exchange takes on a card (sscard.emulator.wire.WireModel: 15 ms of card time per APDU plus
every command and answer byte at 9600 bit/s, 11 bit times a byte).  In one run, for each
card, three readers take turns round after round (their order rotates, so none gains from
going first):

  sscard     the library's identity read (sscard.open + Card.read_identity + close)
  vendor     the vendors' published 17-APDU sequence, a plain pyscard script
             (bench/vendor_sequence.py)
  floor      SELECT SSSE + one READ RECORD range by SFI per file, a plain pyscard script
             (bench/floor_sequence.py): nothing reads an identity in fewer exchanges

Cards: gen2 (free EF06), gen3 (EF06 needs a key: EF05 only) and gen2-no-range (refuses the
range form: it has no 3-APDU floor; sscard is held to the vendor sequence plus one APDU).
Each time is the median over the rounds; ratios are medians of the per-round ratios.
Then `sscard status` of a used bank card (bank-used): before (the per-item identity read,
e-cash and logs, as `status` read until it learnt the range form) and now (default), and
now with --logs.  Needs pcscd and vsmartcard-vpcd (bash .ci/setup.sh installs them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import floor_sequence  # noqa: E402
import vendor_sequence  # noqa: E402

from sscard.emulator import SocialSecurityCard  # noqa: E402
from sscard.emulator.vpcd import VpcdLink  # noqa: E402
from sscard.emulator.wire import WireModel  # noqa: E402
from sscard.testing import pcscd as private_pcscd  # noqa: E402

READER = "Virtual PCD 00 00"
CARDS = ("gen2", "gen3", "gen2-no-range")


def inserted(persona: str, port: int, wire: WireModel):
    """A persona in the reader behind the wire model, for the duration of a block."""
    link = VpcdLink(SocialSecurityCard.from_persona(persona), port=port, wire=wire)
    return private_pcscd.card_inserted(link, READER)


def read_sscard() -> tuple[int, int]:
    import sscard

    with sscard.open(READER) as card:
        card.read_identity()
        s = card.session
        return s.apdu_count, s.bytes_sent + s.bytes_received


def read_script(module) -> tuple[int, int]:
    from smartcard.System import readers

    reader = next(r for r in readers() if str(r) == READER)
    connection = reader.createConnection()
    connection.connect()
    try:
        log = module.read(connection)
    finally:
        connection.disconnect()
    return len(log), sum(len(a) + len(r) for a, r in log)


READERS = {
    "sscard": read_sscard,
    "vendor": lambda: read_script(vendor_sequence),
    "floor": lambda: read_script(floor_sequence),
}


def bench_card(persona: str, port: int, wire: WireModel, rounds: int) -> dict:
    """{reader: (apdus, bytes, [seconds per round])}; the floor absent where refused."""
    names = list(READERS)
    with inserted(persona, port, wire):
        try:
            read_script(floor_sequence)
        except RuntimeError:  # the card refuses the range form: no floor to measure
            names.remove("floor")
        results = {name: [None, None, []] for name in names}
        for n in range(rounds):
            order = names[n % len(names) :] + names[: n % len(names)]
            for name in order:
                t0 = time.perf_counter()
                apdus, size = READERS[name]()
                results[name][2].append(time.perf_counter() - t0)
                results[name][:2] = apdus, size
    return results


def bench_status(port: int, wire: WireModel, rounds: int) -> dict:
    """`status` of bank-used: before (per-item identity, e-cash and logs), now, now --logs."""
    import sscard
    from sscard.status import read_status

    def before(card):
        card.session.record_ranges = False  # the identity read as it was: item by item
        return card.operation(lambda: read_status(card.session, logs=True), read_only=True)

    runs = {
        "before": before,
        "now": lambda card: card.read_status(),
        "now --logs": lambda card: card.read_status(logs=True),
    }
    out = {name: [None, None, []] for name in runs}
    with inserted("bank-used", port, wire):
        for n in range(rounds):
            names = list(runs)
            for name in names[n % 3 :] + names[: n % 3]:
                t0 = time.perf_counter()
                with sscard.open(READER) as card:
                    status = runs[name](card)
                    s = card.session
                out[name][2].append(time.perf_counter() - t0)
                out[name][:2] = s.apdu_count, s.bytes_sent + s.bytes_received
                assert status.ssse_verdict.code == "usable"
    return out


def ratio(times: list[float], base: list[float]) -> float:
    return statistics.median(t / b for t, b in zip(times, base, strict=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--per-apdu-ms", type=float, default=15.0)
    ap.add_argument("--bit-rate", type=int, default=9600)
    args = ap.parse_args()
    if not private_pcscd.stack_available():
        sys.exit("pcscd and vsmartcard-vpcd are needed (bash .ci/setup.sh)")
    wire = WireModel(args.per_apdu_ms, args.bit_rate)
    with private_pcscd.in_this_process() as pcscd:
        print(f"wire model: {wire}; {args.rounds} rounds, alternated")
        print(
            f"{'card':<15}{'reader':<8}{'APDUs':>6}{'bytes':>7}{'median s':>10}"
            f"{'/ floor':>9}{'/ vendor':>10}"
        )
        for persona in CARDS:
            r = bench_card(persona, pcscd.port, wire, args.rounds)
            for name, (apdus, size, times) in r.items():
                to_floor = f"{ratio(times, r['floor'][2]):.2f}" if "floor" in r else "—"
                to_vendor = f"{ratio(times, r['vendor'][2]):.2f}"
                print(
                    f"{persona:<15}{name:<8}{apdus:>6}{size:>7}{statistics.median(times):>10.3f}"
                    f"{to_floor:>9}{to_vendor:>10}"
                )
        st = bench_status(pcscd.port, wire, args.rounds)
        for name, (apdus, size, times) in st.items():
            print(
                f"{'status':<15}{name:<11}{apdus:>6}{size:>7}{statistics.median(times):>10.3f}"
                f"  ({ratio(times, st['before'][2]):.2f} of before)"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
