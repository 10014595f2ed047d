"""Cross-checks between the social security application and the bank application.

Each check ends as `match`, `mismatch` or `not_done` (with the reason: EF06 locked on a
generation-3 card without keys, bank records not read, a field not personalised, a
non-ID-card document type…).  A mismatch is also a warning finding: never silent.
A blank bank name (spaces, zeros, the recommended " /") means "not personalised", not
a mismatch (docs/card-facts.md#identity-cross-check).  The texts are in
apdu_specs/messages.toml [cross_check.*].
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from sscard.bank.results import BankReading, BankRecords, RecordsStatus
from sscard.codec import gb11643
from sscard.findings import finding
from sscard.results import Finding
from sscard.spec.messages import text
from sscard.ssse.results import HolderInfo, HolderStatus, Identity

ID_CARD = "00"  # 9F62: 身份证


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_DONE = "not_done"


@dataclass(frozen=True)
class CrossCheck:
    item: str  # id_number | id_type | name | expiry
    outcome: Outcome
    en: str
    zh: str


class Gap(NamedTuple):
    """Why a check could not be done."""

    en: str
    zh: str


Checked = tuple[CrossCheck, tuple[Finding, ...]]  # a check and the findings it raised


def _not_done(item: str, gap: Gap) -> Checked:
    return CrossCheck(item, Outcome.NOT_DONE, gap.en, gap.zh), ()


def _compared(item: str, same: bool, texts: tuple[str, str], mismatch: Finding) -> Checked:
    """`texts`: the catalogue keys of "agree" and "differ"; a mismatch raises `mismatch`."""
    agree, differ = texts
    check = CrossCheck(
        item, Outcome.MATCH if same else Outcome.MISMATCH, *text(agree if same else differ)
    )
    return check, () if same else (mismatch,)


def _holder_of(identity: Identity | None) -> HolderInfo | Gap:
    if identity is None:
        return Gap(*text("cross_check.ssse_unreadable"))
    if identity.holder_status is HolderStatus.LOCKED:
        return Gap(*text("cross_check.ef06_locked", locked_by=identity.holder_locked_by or "a key"))
    if identity.holder_status is HolderStatus.ABSENT or identity.holder is None:
        return Gap(*text("cross_check.ef06_absent"))
    return identity.holder


def _records_of(bank: BankReading | None) -> BankRecords | Gap:
    if bank is None or bank.aid is None:
        return Gap(*text("cross_check.no_bank_application"))
    if bank.records_status is RecordsStatus.NOT_READ:
        return Gap(*text("cross_check.bank_not_read", state=bank.state.value.replace("_", " ")))
    if bank.records_status is RecordsStatus.WITHHELD:
        return Gap(*text("cross_check.bank_withheld"))
    if bank.records_status is RecordsStatus.REFUSED:
        return Gap(*text("cross_check.bank_refused"))
    if bank.records_status is RecordsStatus.NOT_REQUESTED:
        return Gap(*text("cross_check.bank_not_requested"))
    if bank.records is None:
        return Gap(*text("cross_check.bank_unreadable"))
    return bank.records


def _normal_name(text: str | None) -> str | None:
    if text is None:
        return None
    text = "".join(text.split())
    return None if text in ("", "/") else text


def cross_check(
    identity: Identity | None, bank: BankReading | None, today: _dt.date
) -> tuple[tuple[CrossCheck, ...], tuple[Finding, ...]]:
    """The three checks (ID number, name, expiry) and every finding, in that order."""
    holder, records = _holder_of(identity), _records_of(bank)
    unionpay = bank is not None and bank.unionpay
    card_expiry = identity.issuer.expiry_date if identity is not None else None
    id_number, id_found = _check_id_number(holder, records, unionpay)
    name, name_found = _check_name(holder, records)
    expiry, expiry_found = _check_expiry(card_expiry, records)
    findings = (
        *id_found,
        *_bank_id_findings(records, unionpay, today),
        *name_found,
        *expiry_found,
        *_bank_date_findings(records, today),
    )
    return (id_number, name, expiry), findings


def _check_id_number(
    holder: HolderInfo | Gap, records: BankRecords | Gap, unionpay: bool
) -> Checked:
    """EF06 social security number vs 9F61, when 9F62 says ID card."""
    item = "id_number"
    if isinstance(records, Gap):
        return _not_done(item, records)
    if not unionpay:
        return _not_done(item, Gap(*text("cross_check.not_unionpay")))
    if records.id_number is None:
        return _not_done(item, Gap(*text("cross_check.no_id_number")))
    if records.id_type.code != ID_CARD:
        id_type = records.id_type.code or "absent"
        return _not_done(item, Gap(*text("cross_check.not_id_card", id_type=id_type)))
    if isinstance(holder, Gap):
        return _not_done(item, holder)
    number = holder.social_security_number
    return _compared(
        item,
        number is not None and records.id_number.upper() == number.upper(),
        ("cross_check.id_number_agree", "cross_check.id_number_differ"),
        finding("bank_id_mismatch", "bank.id_number"),
    )


def _bank_id_findings(
    records: BankRecords | Gap, unionpay: bool, today: _dt.date
) -> tuple[Finding, ...]:
    """The bank's ID number on its own: a valid ID card number, and 9F61 and 9F62 in pairs."""
    if isinstance(records, Gap) or not unionpay:
        return ()
    found = []
    if records.id_number is not None and records.id_type.code == ID_CARD:
        result = gb11643.check_id_number(records.id_number, today=today)
        if not result.valid:
            found.append(finding("bank_id_invalid", "bank.id_number", ", ".join(result.problems)))
    if (records.id_number is None) != (records.id_type.code is None):
        found.append(finding("bank_id_type_pair", "bank.id_type"))
    return tuple(found)


def _check_name(holder: HolderInfo | Gap, records: BankRecords | Gap) -> Checked:
    """EF06 name vs 5F20 / 9F0B."""
    item = "name"
    if isinstance(records, Gap):
        return _not_done(item, records)
    bank_names = [n for n in (_normal_name(records.name), _normal_name(records.name_extended)) if n]
    if not bank_names:
        return _not_done(item, Gap(*text("cross_check.name_blank")))
    if isinstance(holder, Gap):
        return _not_done(item, holder)
    name = _normal_name(holder.name)
    if name is not None and name.isascii() != all(n.isascii() for n in bank_names):
        return _not_done(item, Gap(*text("cross_check.name_scripts")))
    return _compared(
        item,
        name in set(bank_names) | {"".join(bank_names)},
        ("cross_check.name_agree", "cross_check.name_differ"),
        finding("bank_name_mismatch", "bank.name"),
    )


def _check_expiry(card_expiry: _dt.date | None, records: BankRecords | Gap) -> Checked:
    """EF05 tag 06 vs 5F24."""
    item = "expiry"
    if isinstance(records, Gap):
        return _not_done(item, records)
    if records.expiry_date is None:
        return _not_done(item, Gap(*text("cross_check.no_bank_expiry")))
    if card_expiry is None:
        return _not_done(item, Gap(*text("cross_check.no_card_expiry")))
    # 5F24 is the last day of a month (YYMMDD, the month's end by EMV practice) while EF05
    # names a day: the same card expiry is the same year and month
    bank_expiry = records.expiry_date
    return _compared(
        item,
        (card_expiry.year, card_expiry.month) == (bank_expiry.year, bank_expiry.month),
        ("cross_check.expiry_agree", "cross_check.expiry_differ"),
        finding("expiry_differs", "bank.expiry_date"),
    )


def _bank_date_findings(records: BankRecords | Gap, today: _dt.date) -> tuple[Finding, ...]:
    """The bank application past its expiry, or not yet effective."""
    if isinstance(records, Gap):
        return ()
    found = []
    if records.expiry_date is not None and records.expiry_date < today:
        found.append(finding("bank_expired", "bank.expiry_date"))
    if records.effective_date is not None and records.effective_date > today:
        found.append(finding("bank_not_yet_effective", "bank.effective_date"))
    return tuple(found)
