"""sscard on the real PC/SC stack (private pcscd + vpcd + the emulator), measured in one run.

    .venv/bin/python bench/pcsc_bench.py [--apdus N]

1. APDUs and bytes per identity read (gen 2, gen 3 EF05-only), through pcscd.
2. Per-APDU overhead of the sscard transport + session versus raw pyscard `transmit`
   on the same connection: small blocks of both loops interleaved in ABBA order; the
   result is the median of the ratios of neighbouring blocks.
(Process start → first APDU: bench/start_bench.py.)

Needs pcscd and vsmartcard-vpcd (bash .ci/setup.sh installs them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from sscard.testing import pcscd as private_pcscd

READER = "Virtual PCD 00 00"


def identity_counts(persona: str) -> tuple[int, int, int, str]:
    import sscard

    with inserted(persona):
        with sscard.open(READER) as card:
            identity = card.read_identity()
            s = card.session
            return s.apdu_count, s.bytes_sent, s.bytes_received, identity.holder_status.value


def inserted(persona: str, **kwargs):
    """A card in the reader for the duration of a block; waits until pcscd has registered
    both the insertion and the removal (see sscard.testing.pcscd.wait_state)."""
    from sscard.emulator import SocialSecurityCard
    from sscard.emulator.vpcd import VpcdLink

    link = VpcdLink(SocialSecurityCard.from_persona(persona), port=PORT, **kwargs)
    return private_pcscd.card_inserted(link, READER)


def overhead(apdus: int) -> tuple[float, float, float]:
    """Median seconds per APDU: raw pyscard, sscard session; and their ratio."""
    import sscard

    command = bytes.fromhex("00A4020002EF05")
    with inserted("gen2"):
        with sscard.open(READER) as card:
            session = card.session
            raw = card.transport._connection  # the pyscard connection sscard itself uses
            session.send("select_by_name", data=session.spec.ssse.name, le=0)
            raw_times, ours = [], []
            block = 20

            def time_raw():
                t0 = time.perf_counter()
                for _ in range(block):
                    raw.transmit(list(command))
                raw_times.append((time.perf_counter() - t0) / block)

            def time_ours():
                t0 = time.perf_counter()
                for _ in range(block):
                    session.send("select_child_ef", data=b"\xef\x05")
                ours.append((time.perf_counter() - t0) / block)

            # ABBA order, so that whichever loop runs first in a pair gains nothing
            for n in range(max(1, apdus // (2 * block))):
                first, second = (time_raw, time_ours) if n % 2 == 0 else (time_ours, time_raw)
                first()
                second()
    r, o = statistics.median(raw_times), statistics.median(ours)
    # the median of the ratios of neighbouring blocks: robust to the VM's drifting speed
    return r, o, statistics.median(b / a for a, b in zip(raw_times, ours, strict=False))


def main() -> None:
    global PORT
    ap = argparse.ArgumentParser()
    ap.add_argument("--apdus", type=int, default=8000)
    args = ap.parse_args()
    if not private_pcscd.stack_available():
        sys.exit("pcscd and vsmartcard-vpcd are needed (bash .ci/setup.sh)")
    with private_pcscd.in_this_process() as pcscd:
        PORT = pcscd.port
        for persona in ("gen2", "gen3"):
            apdus, sent, received, status = identity_counts(persona)
            print(
                f"identity read {persona}: {apdus} APDUs, {sent} bytes sent, "
                f"{received} bytes received (holder {status})"
            )
        raw, ours, ratio = overhead(args.apdus)
        print(
            f"per APDU: raw pyscard {raw * 1e6:.0f} µs, sscard {ours * 1e6:.0f} µs, "
            f"overhead {100 * (ratio - 1):+.1f} %"
        )


PORT = 0

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
