"""The card's state, per application: `sscard status` and `Card.read_status()`.

For the social security application (SSSE) and for the bank (UnionPay PBOC) application:
absent, ready, application blocked (SSSE 9303 / bank 6283), card blocked (6A81), expired
(dates), PIN tries (SSSE: the empty VERIFY, which spends nothing; bank: GET DATA 9F17,
never a VERIFY), and for the bank a usage hint (ATC, last online ATC, log).

What the chip cannot say is said plainly: whether the bank activated the account
(金融功能激活) and whether the social security bureau enabled the card (社保功能启用)
are back-end facts (docs/card-facts.md#card-status, #bank-states).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from enum import StrEnum

from sscard import errors
from sscard.bank.crosscheck import CrossCheck, Outcome, cross_check
from sscard.bank.reader import ATC_MAX, read_bank
from sscard.bank.results import BankReading, RecordsStatus
from sscard.errors import ExitCode
from sscard.results import AppState, Finding
from sscard.session import CardSession
from sscard.spec.messages import text
from sscard.ssse.results import Identity, Layout

# What the chip cannot tell (the bank's activation, the bureau's enablement), where to ask,
# and what a holder must hear when the chip's state calls for it (the questions people bring
# to a kiosk): apdu_specs/messages.toml [not_on_chip.*] and [advice.*].
NOT_ON_CHIP = {"BANK_ACTIVATION": "bank_activation", "SSC_ENABLEMENT": "ssc_enablement"}


def __getattr__(name: str) -> tuple[str, str]:
    """BANK_ACTIVATION and SSC_ENABLEMENT, (en, zh), read from the catalogue when asked."""
    if name in NOT_ON_CHIP:
        return text(f"not_on_chip.{NOT_ON_CHIP[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


IDENTITY_CHECKS = ("id_number", "name")  # a mismatch here gets its own exit code


@dataclass(frozen=True)
class PinState:
    tries_left: int | None
    blocked: bool
    source: str  # "verify" (empty VERIFY) | "get_data 9F17" | "none"
    required: bool = True  # False: the empty VERIFY answered 9000 (no PIN set, or verified)


class VerdictCode(StrEnum):
    """One application's state in a word (`sscard status`, the JSON's `verdict.code`)."""

    USABLE = "usable"
    READY = "ready"  # the bank application: present and not blocked; nothing more is known
    EXPIRED = "expired"
    PIN_BLOCKED = "pin_blocked"
    ATC_EXHAUSTED = "atc_exhausted"
    APPLICATION_BLOCKED = "application_blocked"
    CARD_BLOCKED = "card_blocked"
    ABSENT = "absent"


BLOCKED = (
    VerdictCode.CARD_BLOCKED,
    VerdictCode.APPLICATION_BLOCKED,
    VerdictCode.PIN_BLOCKED,
    VerdictCode.ATC_EXHAUSTED,
)


@dataclass(frozen=True)
class Verdict:
    code: VerdictCode
    en: str
    zh: str


@dataclass(frozen=True)
class SsseState:
    state: AppState
    select_sw: str | None
    identity: Identity | None  # None unless the application could be read
    expired: bool | None
    pin: PinState


@dataclass(frozen=True)
class Cost:
    """What reading one application cost on the wire (GET RESPONSEs and re-sends included)."""

    apdus: int
    bytes: int  # command and response bytes, status words included


@dataclass(frozen=True)
class Status:
    """Everything `sscard status` reports; see the `sscard.status/1` JSON schema."""

    atr: str
    ssse: SsseState
    ssse_verdict: Verdict
    bank: BankReading
    bank_verdict: Verdict
    bank_expired: bool | None
    cross_checks: tuple[CrossCheck, ...]
    findings: tuple[Finding, ...] = field(default=())
    ssse_cost: Cost = Cost(0, 0)
    bank_cost: Cost = Cost(0, 0)

    @property
    def identity_mismatch(self) -> bool:
        """The bank application names another person: its ID number (9F61) or name
        (5F20/9F0B) differs from the social security application's."""
        return any(
            c.outcome is Outcome.MISMATCH and c.item in IDENTITY_CHECKS for c in self.cross_checks
        )

    @property
    def advice(self) -> tuple[tuple[str, str, str], ...]:
        """(code, en, zh) of each piece of advice the state calls for."""
        codes = []
        verdicts = (self.ssse_verdict.code, self.bank_verdict.code)
        if VerdictCode.CARD_BLOCKED in verdicts:
            codes.append("card_blocked")
        if self.ssse_verdict.code in (VerdictCode.APPLICATION_BLOCKED, VerdictCode.PIN_BLOCKED):
            codes.append("ssse_blocked")
        if self.bank_verdict.code in (
            VerdictCode.APPLICATION_BLOCKED,
            VerdictCode.PIN_BLOCKED,
            VerdictCode.ATC_EXHAUSTED,
        ):
            codes.append("bank_blocked")
        if (
            self.bank.state is AppState.READY
            and self.bank.used is False
            and self.bank_verdict.code is VerdictCode.READY
        ):
            codes.append("new_bank_account")
        return tuple((c, *text(f"advice.{c}")) for c in codes)

    @property
    def exit_code(self) -> int:
        """0 usable; 5 not a social security card; 6 blocked (card, an application or a
        PIN, or a bank application whose ATC ran out); 15 not blocked, but the bank
        application's ID number or name is not the holder's; 13 none of these, but an
        application is expired."""
        codes = (self.ssse_verdict.code, self.bank_verdict.code)
        if self.ssse.state is AppState.ABSENT:
            return ExitCode.NOT_SSC
        if any(c in BLOCKED for c in codes):
            return ExitCode.CARD_BLOCKED
        if self.identity_mismatch:
            return ExitCode.MISMATCH
        if VerdictCode.EXPIRED in codes:
            return ExitCode.EXPIRED
        return ExitCode.OK


def _verdict(code: VerdictCode, text_key: str | None = None) -> Verdict:
    """The verdict `code` with its text: apdu_specs/messages.toml [verdict.CODE], or the
    entry `text_key` for a case with a text of its own."""
    return Verdict(code, *text(text_key or f"verdict.{code.value}"))


def read_status(
    session: CardSession,
    *,
    bank_records: bool = False,
    logs: bool = False,
    today: _dt.date | None = None,
) -> Status:
    """The verdicts and what they rest on.  What no verdict uses is read only when asked:
    the bank records (`bank_records`: one GPO) and the bank usage data (`logs`: e-cash
    amounts, transaction and load logs)."""
    today = today or _dt.date.today()
    start = _counters(session)
    ssse = _ssse_state(session, today)
    middle = _counters(session)
    bank = read_bank(session, records=bank_records, usage=logs, today=today)
    end = _counters(session)
    checks, cross_findings = cross_check(ssse.identity, bank, today)
    bank_expired = None
    if bank.records is not None and bank.records.expiry_date is not None:
        bank_expired = bank.records.expiry_date < today
    findings = (ssse.identity.findings if ssse.identity else ()) + bank.findings + cross_findings
    return Status(
        session.atr.hex().upper(),
        ssse,
        _ssse_verdict(ssse),
        bank,
        _bank_verdict(bank, bank_expired),
        bank_expired,
        checks,
        tuple(findings),
        ssse_cost=Cost(middle[0] - start[0], middle[1] - start[1]),
        bank_cost=Cost(end[0] - middle[0], end[1] - middle[1]),
    )


def _counters(session: CardSession) -> tuple[int, int]:
    return session.apdu_count, session.bytes_sent + session.bytes_received


def _ssse_state(session: CardSession, today: _dt.date) -> SsseState:
    from sscard.ssse import pin
    from sscard.ssse.reader import read_identity

    no_pin = PinState(None, False, "none")
    try:
        identity = read_identity(session, today=today)
    except errors.ApplicationBlocked as e:
        return SsseState(AppState.APPLICATION_BLOCKED, f"{e.sw:04X}", None, None, no_pin)
    except errors.CardBlocked as e:
        return SsseState(AppState.CARD_BLOCKED, f"{e.sw:04X}", None, None, no_pin)
    except errors.NotSocialSecurityCard:
        return SsseState(AppState.ABSENT, None, None, None, no_pin)
    expiry = identity.issuer.expiry_date
    expired = None if expiry is None else expiry < today
    select_sw = "9000" if identity.layout is Layout.SSSE else None
    try:  # the SSSE (or the MF of a Shanghai-style card) is still the current DF
        tries = pin.query_tries(session, select=False, layout=identity.layout)
    except errors.NotOffered:  # the MF of a Shanghai-style card keeps no PIN
        return SsseState(AppState.READY, select_sw, identity, expired, no_pin)
    pin_state = PinState(tries.tries_left, tries.blocked, "verify", tries.required)
    return SsseState(AppState.READY, select_sw, identity, expired, pin_state)


def _ssse_verdict(ssse: SsseState) -> Verdict:
    if ssse.state is not AppState.READY:
        return _verdict(VerdictCode(ssse.state.value))
    if ssse.expired:
        return _verdict(VerdictCode.EXPIRED)
    if ssse.pin.blocked:
        return _verdict(VerdictCode.PIN_BLOCKED)
    return _verdict(VerdictCode.USABLE)


def _bank_verdict(bank: BankReading, expired: bool | None) -> Verdict:
    if bank.state is not AppState.READY:
        return _verdict(VerdictCode(bank.state.value))
    # SELECT still answers 9000 at ATC 65535, but every GPO is refused: blocked in effect
    if bank.counters.atc is not None and bank.counters.atc >= ATC_MAX:
        return _verdict(VerdictCode.ATC_EXHAUSTED)
    if expired:
        return _verdict(VerdictCode.EXPIRED)
    if bank.counters.pin_tries_left == 0:
        return _verdict(VerdictCode.PIN_BLOCKED)
    if expired is None:  # only the records (GPO) give the expiry date: never call it usable
        if bank.records_status is RecordsStatus.NOT_REQUESTED:
            return _verdict(VerdictCode.READY, "verdict.ready_without_records")
        return _verdict(VerdictCode.READY, "verdict.ready_no_expiry")
    return _verdict(VerdictCode.READY)
