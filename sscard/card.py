"""`Card`: one connected card and what can be read from it."""

from __future__ import annotations

import datetime as _dt
from typing import Callable, TypeVar

from sscard import errors

from sscard.results import Identity
from sscard.session import CardSession
from sscard.spec import Spec
from sscard.transport.base import Transport

T = TypeVar("T")


class Card:
    """A connected card.  Use as a context manager; `close()` releases the reader."""

    def __init__(self, transport: Transport, *, spec: Spec | None = None,
                 trace: Callable[[str], None] | None = None) -> None:
        self.transport = transport
        self.session = CardSession(transport, spec, trace)

    @property
    def description(self) -> str:
        return self.transport.description

    @property
    def atr(self) -> bytes:
        return self.transport.atr

    def read_identity(self, *, today: _dt.date | None = None, keys=None) -> Identity:
        """Read the social security application: issuer data always, holder data when readable.

        `keys` (a sscard.keysource key source) authenticates the card: `Identity.authentic`,
        and on generation-3 cards the holder data behind RKSSSE.  A read with keys may send an
        EXTERNAL AUTHENTICATE, which spends a try when it fails, so it is not repeated after a
        card reset; a read without keys is.
        """
        from sscard.ssse import read_identity
        return self.operation(lambda: read_identity(self.session, today=today, keys=keys),
                              read_only=keys is None)

    def pin_tries(self):
        """The PIN tries left (an empty VERIFY: spends nothing).  See sscard.pin."""
        from sscard import pin
        return self.operation(lambda: pin.query_tries(self.session), read_only=True)

    def verify_pin(self, value: str, *, floor: int = 1, force_last_try: bool = False):
        """Verify the PIN once, refusing when the tries left are at or below `floor`."""
        from sscard import pin
        return self.operation(lambda: pin.verify(self.session, value, floor=floor,
                                                 force_last_try=force_last_try), read_only=False)

    def change_pin(self, old: str, new: str, *, floor: int = 1,
                   force_last_try: bool = False) -> None:
        """Change the PIN once (old ‖ FF ‖ new), guarded like verify_pin()."""
        from sscard import pin
        self.operation(lambda: pin.change(self.session, old, new, floor=floor,
                                          force_last_try=force_last_try), read_only=False)

    def read_status(self, *, bank_records: bool = False, today: _dt.date | None = None):
        """The state of the social security and bank applications (sscard.status.Status).

        Without `bank_records` nothing on the card changes and the read is repeated after a
        card reset like any read.  With it, one GET PROCESSING OPTIONS is sent to the bank
        application, which increments its transaction counter (ATC): never repeated."""
        from sscard.status import read_status
        return self.operation(lambda: read_status(self.session, bank_records=bank_records,
                                                  today=today), read_only=not bank_records)

    def read_bank(self, *, records: bool = False, today: _dt.date | None = None):
        """The bank (UnionPay PBOC) application alone (sscard.bank.results.BankReading);
        `records=True` sends one GPO (ATC + 1), as read_status(bank_records=True)."""
        from sscard.bank.reader import read_bank
        return self.operation(lambda: read_bank(self.session, records=records, today=today),
                              read_only=not records)

    def probe(self) -> str:
        """Whether the card answers as a social security card (see sscard.ssse.probe)."""
        from sscard.ssse import probe
        return self.operation(lambda: probe(self.session), read_only=True)

    def operation(self, fn: Callable[[], T], *, read_only: bool) -> T:
        """Run one logical operation in one transaction.

        If another program resets the card meanwhile, a read-only operation is run once
        more from the start (reconnect, everything re-selected: the reset dropped all
        security state); an operation that sends VERIFY or changes the card never is.
        """
        for attempt in (1, 2):
            try:
                with self.transport.transaction():
                    return fn()
            except errors.CardReset:
                if not read_only or attempt == 2:
                    raise
                self.transport.recover_from_reset()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Card:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
