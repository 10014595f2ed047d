"""`Card`: one connected card and what can be read from it."""

from __future__ import annotations

import datetime as _dt
from typing import Callable

from sscard.results import Identity
from sscard.session import CardSession
from sscard.spec import Spec
from sscard.transport.base import Transport


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

    def read_identity(self, *, today: _dt.date | None = None) -> Identity:
        """Read the social security application: issuer data always, holder data when readable."""
        from sscard.ssse import read_identity
        return read_identity(self.session, today=today)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Card:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
