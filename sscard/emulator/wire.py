"""A model of a real card's wire, for benchmarks and slow-card scenarios.

A contact social security card runs T=0 at the default 9600 bit/s (ATR `3B6D0000…`, no
TA1): about 870 bytes a second (11 bit times a character), plus 5–30 ms of processing for
every APDU.  On such a card the exchanges, not the host, decide how long a read takes, so a
benchmark on the emulator is only meaningful when each answer takes as long as it would
on the card.  `VpcdLink(card, wire=WireModel(...))` holds every answer back by
`seconds(command, response)` before vpcd sees it; `WireModel(per_apdu_ms=D, bit_rate=0)`
slows every answer by D ms and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

BITS_PER_CHARACTER = 11  # start bit, 8 data bits, parity, stop bit / guard time (ISO 7816-3)


@dataclass(frozen=True)
class WireModel:
    per_apdu_ms: float = 15.0  # the card's processing time for one command
    bit_rate: int = 9600  # bit/s on the wire; 0: bytes cost nothing

    def __post_init__(self) -> None:
        if self.per_apdu_ms < 0 or self.bit_rate < 0:
            raise ValueError("a wire model needs per_apdu_ms >= 0 and bit_rate >= 0")

    def byte_seconds(self, count: int) -> float:
        """Time `count` bytes take on the wire."""
        return count * BITS_PER_CHARACTER / self.bit_rate if self.bit_rate else 0.0

    def seconds(self, command: bytes, response: bytes) -> float:
        """How long one exchange takes on the card: processing + command and answer bytes."""
        return self.per_apdu_ms / 1000 + self.byte_seconds(len(command) + len(response))

    def __str__(self) -> str:
        rate = f"{self.bit_rate} bit/s" if self.bit_rate else "bytes free"
        return f"{self.per_apdu_ms:g} ms per APDU, {rate}"
