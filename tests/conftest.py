from __future__ import annotations

import datetime as _dt
import signal
import tomllib
from pathlib import Path

import pytest

from sscard import errors
from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.transport.emulated import EmulatorTransport

# Tests send a real Ctrl-C (SIGINT) to the programs they start.  A shell that runs a job in the
# background starts it with SIGINT ignored, children inherit that, and a Python child then never
# raises KeyboardInterrupt.  A handler here (not an ignore) is reset to the default in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# sscard's own PC/SC tests use the bench it ships (-p sscard.testing in pyproject.toml)
pytest_plugins = ["pytester"]

PERSONA_DIR = Path(__file__).resolve().parents[1] / "sscard" / "emulator" / "personas"
TODAY = _dt.date(2026, 11, 22)  # fixed, so expiry findings do not depend on the day tests run


def persona_toml(name: str) -> dict:
    """The persona file as plain TOML: an oracle independent of reader and emulator code."""
    with open(PERSONA_DIR / f"{name}.toml", "rb") as f:
        return tomllib.load(f)


class FaultyTransport:
    """Wraps a transport; `fault(index, apdu, response)` may replace a response or raise."""

    def __init__(self, inner, fault):
        self.inner = inner
        self.fault = fault
        self.description = inner.description
        self.sent: list[bytes] = []

    @property
    def atr(self):
        return self.inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        index = len(self.sent)
        self.sent.append(apdu)
        response = self.inner.transmit(apdu)
        replaced = self.fault(index, apdu, response)
        return response if replaced is None else replaced

    def transaction(self):
        return self.inner.transaction()

    def recover_from_reset(self):
        self.recovered = getattr(self, "recovered", 0) + 1
        return self.inner.recover_from_reset()

    def close(self):
        self.inner.close()


class RecordingTransport(FaultyTransport):
    def __init__(self, inner):
        super().__init__(inner, lambda *a: None)
        self.exchanges: list[tuple[bytes, bytes]] = []

    def transmit(self, apdu):
        response = super().transmit(apdu)
        self.exchanges.append((apdu, response))
        return response


def emulator(persona: str, **options) -> EmulatorTransport:
    return EmulatorTransport(
        SocialSecurityCard.from_persona(persona, **options), f"emulator: {persona}"
    )


def read(transport, trace=None):
    with Card(transport, trace=trace) as card:
        return card.read_identity(today=TODAY), card.session


@pytest.fixture
def no_reader(monkeypatch):
    """Make sscard.open() behave as on a machine without readers."""
    import sscard

    def fail(*args, **kwargs):
        raise errors.NoReader()

    monkeypatch.setattr(sscard, "open", fail)
