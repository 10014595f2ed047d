"""The transport seam: everything above it speaks APDU bytes, nothing below knows the card."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """A connected card.  `transmit` takes a command APDU and returns data + SW1 SW2.

    Implementations raise only `sscard.errors` exceptions (card removed, reader gone,
    ...) and never interpret status words: that is the session's job, in one place.
    """

    description: str  # what the user sees: reader name, "emulator: gen2", ...

    @property
    def atr(self) -> bytes: ...

    def transmit(self, apdu: bytes) -> bytes: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Exclusive access for one logical operation (a PC/SC transaction)."""

    def recover_from_reset(self) -> bytes:
        """Reconnect after the card was reset under us; raises if it is another card."""

    def close(self) -> None: ...
