"""Typed, immutable results of reading the bank (UnionPay PBOC) application."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from enum import StrEnum

from sscard.results import AppState, Coded, Finding


class Selection(StrEnum):
    """How the bank application was found."""

    PSE = "pse"  # the contact directory (1PAY.SYS.DDF01)
    PPSE = "ppse"  # the contactless directory (2PAY.SYS.DDF01)
    AID_LIST = "aid_list"  # SELECT of each AID the spec lists
    NONE = "none"  # not found


class RecordsStatus(StrEnum):
    NOT_REQUESTED = "not_requested"  # no GPO sent (the default: it changes the card)
    READ = "read"
    REFUSED = "refused"  # GPO answered 6985: nothing read
    NOT_READ = "not_read"  # the application is blocked or absent: no GPO sent
    WITHHELD = "withheld"  # ATC unknown or at 65534+: a GPO could end the application


@dataclass(frozen=True)
class BankCandidate:
    """A payment application the card lists (PSE / PPSE) or answers for (AID list)."""

    aid: str
    label: str | None
    preferred_name: str | None
    priority: int | None
    source: Selection  # never NONE


@dataclass(frozen=True)
class Transaction:
    """One transaction-log record (record 1 is the most recent)."""

    number: int
    date: _dt.date | None
    time: _dt.time | None
    amount: int | None  # minor units (fen)
    amount_other: int | None
    currency: str | None  # ISO 4217 numeric, e.g. "0156"
    country: str | None
    merchant: str | None
    type: Coded  # 9C, e.g. "00" purchase, "31" balance inquiry
    atc: int | None
    fields: tuple[tuple[str, object], ...]  # every field as logged (tag hex, value)


@dataclass(frozen=True)
class Load:
    """One load-log (圈存) record: a change of the e-cash balance."""

    number: int
    date: _dt.date | None
    time: _dt.time | None
    balance_before: int
    balance_after: int
    changed_tag: str  # the data object the load wrote, e.g. "9F79"
    merchant: str | None
    atc: int | None
    fields: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class Counters:
    """GET DATA answers; None when the card does not give the object (6A88)."""

    atc: int | None  # 9F36
    last_online_atc: int | None  # 9F13
    pin_tries_left: int | None  # 9F17 (offline PIN; 0 = blocked)


@dataclass(frozen=True)
class ElectronicCash:
    """电子现金 amounts, minor units of the application currency (UnionPay only)."""

    balance: int | None  # 9F79
    balance_limit: int | None  # 9F77
    single_limit: int | None  # 9F78
    reset_threshold: int | None  # 9F6D


@dataclass(frozen=True)
class BankRecords:
    """What the AFL records hold (only after GPO, see `sscard status --bank-records`)."""

    pan: str | None  # 5A
    pan_sequence: str | None  # 5F34
    expiry_date: _dt.date | None  # 5F24
    effective_date: _dt.date | None  # 5F25
    name: str | None  # 5F20, None when blank (not personalised)
    name_extended: str | None  # 9F0B
    id_number: str | None  # 9F61 (UnionPay only)
    id_type: Coded  # 9F62 (UnionPay only)
    aip: str
    afl: tuple[tuple[int, int, int, int], ...]  # (SFI, first, last, ODA records)
    tags: tuple[str, ...]  # every tag the records held, in reading order
    currency: str | None = None  # 9F42 application currency, ISO 4217 numeric


@dataclass(frozen=True)
class BankReading:
    state: AppState
    select_sw: str | None  # SW of SELECT of the application; None when nothing was selected
    selection: Selection
    candidates: tuple[BankCandidate, ...]
    aid: str | None
    unionpay: bool  # RID A000000333: UnionPay meanings of 9F61/9F62/9F79… apply
    label: str | None = None
    preferred_name: str | None = None
    language: str | None = None
    pdol: str | None = None  # hex of 9F38
    counters: Counters = Counters(None, None, None)
    electronic_cash: ElectronicCash | None = None
    currency: str | None = None
    log_format: str | None = None  # hex of 9F4F
    transactions: tuple[Transaction, ...] = ()
    log_records: int | None = None  # 9F4D count; None: the card keeps no log
    loads: tuple[Load, ...] = ()
    records_status: RecordsStatus = RecordsStatus.NOT_REQUESTED
    records: BankRecords | None = None
    gpo_sent: bool = False
    findings: tuple[Finding, ...] = field(default=())
    usage_read: bool = True  # False: e-cash amounts and logs were not asked for

    @property
    def used(self) -> bool | None:
        """Has the application ever started a transaction?  A hint, not proof either way
        (the counters are read before any GPO of this read)."""
        if self.counters.atc is not None:
            return self.counters.atc > 0 or bool(self.transactions)
        if self.transactions:
            return True
        return None
