"""What sscard's tests share: the persona oracle, the fixed day, transports that inject faults,
an emulated card behind one, the CLI run in-process, and raw APDUs to the emulator.

Tests import from here (`from helpers import …`); conftest.py holds only pytest hooks and
fixtures.  The private pcscd stack for the tests in tests/pcsc/ is in pcsc_stack.py.
"""

from __future__ import annotations

import datetime as _dt
import io
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from hypothesis import HealthCheck, settings

from sscard.card import Card
from sscard.cli.main import run
from sscard.crypto import Algorithm, authentication_data, derive_card_key
from sscard.emulator import SocialSecurityCard
from sscard.transport.emulated import EmulatorTransport

ROOT = Path(__file__).resolve().parents[1]
PERSONA_DIR = ROOT / "sscard" / "emulator" / "personas"
TODAY = _dt.date(2026, 11, 22)  # fixed, so expiry findings do not depend on the day tests run
# `sscard` in a child process: this interpreter and this source tree, no console script needed
SSCARD = [sys.executable, "-c", "import sys; from sscard.cli.main import main; main(sys.argv[1:])"]

# fault(index, apdu, response): a replacement response, None to pass the card's answer, or raise
Fault = Callable[[int, bytes, bytes], bytes | None]


def persona_toml(name: str) -> dict:
    """The persona file as plain TOML: an oracle independent of reader and emulator code."""
    with open(PERSONA_DIR / f"{name}.toml", "rb") as f:
        return tomllib.load(f)


def no_fault(index: int, apdu: bytes, response: bytes) -> None:
    return None


class FaultyTransport:
    """Wraps a transport; `fault(index, apdu, response)` may replace a response or raise."""

    def __init__(self, inner, fault: Fault):
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
        super().__init__(inner, no_fault)
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


def expected_ireadcardbas(persona: str) -> str:
    """The iReadCardBas string built from the persona file alone."""
    raw = persona_toml(persona)
    ef05, ef06 = raw["ef05"], raw["ef06"]
    cid = ef05["card_identification"].upper()
    fields = [
        cid[:6],
        ef06["social_security_number"],
        ef05["card_number"][:9],
        cid,
        ef06["name"] + ef06.get("name_extension", ""),
        raw["atr_historical"].upper(),
        ef05["spec_version"],
        str(ef05["issue_date"]).replace("-", ""),
        str(ef05["expiry_date"]).replace("-", ""),
        "000000000000",
        "",
    ]
    return "".join(f"{f}|" for f in fields)


class Emulated(NamedTuple):
    card: Card
    transport: FaultyTransport  # .sent: every APDU the card was sent
    emulated: SocialSecurityCard  # the card's own state (tries left, counters)


def card_of(persona: str, fault: Fault | None = None, **overrides) -> Emulated:
    """A Card on the in-process emulator of `persona` (a name or a persona file; `overrides` go
    to the persona), every exchange through a FaultyTransport with `fault`."""
    emulated = SocialSecurityCard.from_persona(persona, **overrides)
    transport = FaultyTransport(EmulatorTransport(emulated, str(persona)), fault or no_fault)
    return Emulated(Card(transport), transport, emulated)


def cli(capsys, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `sscard args…` in this process: (exit code, standard output, standard error);
    `stdin` is what the command reads from its standard input (a PIN, a file)."""
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = run(list(args))
    finally:
        sys.stdin = saved
    out, err = capsys.readouterr()
    return code, out, err


def derandomized(max_examples: int) -> settings:
    """Hypothesis settings for a fuzz test: the same examples on every run and machine (no
    example database), no deadline, `max_examples` at most."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def run_sscard(*args: str, env: dict | None = None, timeout: float = 60):
    """`sscard ARGS…` in a child process (SSCARD), its output captured as text."""
    return subprocess.run(
        [*SSCARD, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def write_scenario(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    """A scenario file of the test bench (`sscard emulate --scenario`), dedented."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the platform HSM of the two-step read ---------------------------------------------------

TEST_KEYS = ROOT / "sscard" / "emulator" / "test_keys.toml"
ROOTS = tomllib.loads(TEST_KEYS.read_text("utf-8"))["keys"]


def hsm(step1_line: str, *, spoil_internal=False, spoil_external=False) -> str:
    """A platform HSM: the pKey for a Step 1 string, from the string alone — an independent
    oracle that computes with sscard.crypto from the published test root keys read straight from
    test_keys.toml, never through the key sources or the emulator's own keys."""
    items = step1_line.split("|")
    assert len(items) == 9 and items[8] == ""  # 8 items, each followed by "|"
    region, historical, alg = items[0], bytes.fromhex(items[1]), items[2]
    algorithm = {"01": Algorithm.DES3, "03": Algorithm.SM4}[alg]

    # the HSM gets the historical bytes, not the ATR: the T=0 ATR around them (3B 6x 00 00)
    # has the card factor (historical bytes T6…TD) where any ATR has it
    atr = bytes((0x3B, 0x60 | len(historical), 0, 0)) + historical

    def card_key(name):  # province → city → card
        return derive_card_key(algorithm, bytes.fromhex(ROOTS[name][alg]), region, atr)

    def flip(b: bytes, spoil: bool) -> bytes:
        return bytes([b[0] ^ 0x01]) + b[1:] if spoil else b

    internal = flip(
        authentication_data(
            algorithm, card_key("IRK"), bytes.fromhex(items[4]), bytes.fromhex(items[5])
        ),
        spoil_internal,
    )
    pkey = internal.hex().upper() + items[5] + "|"
    if items[6]:
        external = flip(
            authentication_data(
                algorithm, card_key("RKSSSE"), bytes.fromhex(items[6]), bytes.fromhex(items[7])
            ),
            spoil_external,
        )
        pkey += external.hex().upper() + items[7]
    return pkey + "|"


# --- raw APDUs to an emulated card, in hex ----------------------------------------------------


def tx(card: SocialSecurityCard, apdu: str) -> tuple[str, str]:
    """Send hex, get (data hex, SW hex), both upper case."""
    r = card.execute(bytes.fromhex(apdu))
    return r[:-2].hex().upper(), r[-2:].hex().upper()


def ok(card: SocialSecurityCard, apdu: str) -> str:
    """The data of an answer that must be 9000."""
    data, status = tx(card, apdu)
    assert status == "9000", f"{apdu} -> {status}"
    return data


def sw(card: SocialSecurityCard, apdu: str, data_with: tuple[str, ...] = ("9000", "61")) -> str:
    """The status word of `apdu`; data may come only with a status that starts with one of
    `data_with` (a card answers an error without data)."""
    data, status = tx(card, apdu)
    if not status.startswith(data_with):
        assert data == "", f"{apdu}: error {status} came with data"
    return status
