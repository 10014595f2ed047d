"""APDUs, bytes and in-process time of one identity read, per persona.

    .venv/bin/python bench/identity_read.py [--repeat N]

Counts come from the session (every exchange on the wire, GET RESPONSEs and
re-sends included).  Time is reported as a ratio against a baseline measured in
the same process: the same number of raw `execute` calls on the emulator, so the
ratio is the reader's own overhead (spec lookups, decoding, findings) and does
not depend on how fast the machine is.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time

from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import list_personas
from sscard.errors import SscardError
from sscard.transport.emulated import EmulatorTransport


def one_read(persona: str):
    card = SocialSecurityCard.from_persona(persona)
    with Card(EmulatorTransport(card, persona)) as c:
        try:
            identity = c.read_identity(today=_dt.date(2026, 11, 22))
            outcome = identity.holder_status.value
        except SscardError as e:
            outcome = type(e).__name__
        s = c.session
        return outcome, s.apdu_count, s.bytes_sent, s.bytes_received


def replay_raw(persona: str, apdus: list[bytes]) -> None:
    card = SocialSecurityCard.from_persona(persona)
    for apdu in apdus:
        card.execute(apdu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    print(f"{'persona':<16}{'outcome':<20}{'APDUs':>6}{'sent':>7}{'received':>10}{'ratio':>8}")
    for persona in list_personas():
        outcome, apdus, sent, received = one_read(persona)
        # baseline: the same exchanges sent straight to the emulator
        recorded: list[bytes] = []
        card = SocialSecurityCard.from_persona(persona)

        class Spy(EmulatorTransport):
            def transmit(self, apdu, recorded=recorded):
                recorded.append(bytes(apdu))
                return super().transmit(apdu)

        with Card(Spy(card, persona)) as c:
            try:
                c.read_identity()
            except SscardError:
                pass
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            replay_raw(persona, recorded)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            one_read(persona)
        full = time.perf_counter() - t0
        print(f"{persona:<16}{outcome:<20}{apdus:>6}{sent:>7}{received:>10}{full / base:>8.2f}")


if __name__ == "__main__":
    main()
