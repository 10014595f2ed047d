"""The in-process emulator as a transport: the mock reader of the tests and the demo card."""

from __future__ import annotations

import contextlib

from sscard import errors


class EmulatorTransport:
    """Talks to an in-process emulated card (sscard.emulator)."""

    def __init__(self, card, description: str = "emulator") -> None:
        self.card = card
        self.description = description
        self._open = True
        card.power_up()

    @classmethod
    def from_persona(cls, persona: str, **options) -> EmulatorTransport:
        from sscard.emulator import SocialSecurityCard

        card = SocialSecurityCard.from_persona(persona, **options)
        return cls(card, f"emulator: {persona}")

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def transmit(self, apdu: bytes) -> bytes:
        if not self._open:
            raise errors.CardRemoved("the emulated card was closed")
        return self.card.execute(bytes(apdu))

    def transaction(self):
        return contextlib.nullcontext()

    def recover_from_reset(self) -> bytes:
        return self.card.reset()

    def close(self) -> None:
        if self._open:
            self._open = False
            self.card.power_down()

    def __enter__(self) -> EmulatorTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
