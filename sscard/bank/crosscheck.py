"""Cross-checks between the social security application and the bank application.

Each check ends as `match`, `mismatch` or `not_done` (with the reason: EF06 locked on a
generation-3 card without keys, bank records not read, a field not personalised, a
non-ID-card document type…).  A mismatch is also a warning finding: never silent.
A blank bank name (spaces, zeros, the recommended " /") means "not personalised", not
a mismatch (docs/card-facts.md#identity-cross-check).
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


def _compared(item: str, same: bool, en: str, zh: str, mismatch: Finding) -> Checked:
    """`en` and `zh` name the two values compared; a mismatch raises `mismatch`."""
    check = CrossCheck(
        item,
        Outcome.MATCH if same else Outcome.MISMATCH,
        en + ("agree" if same else "differ"),
        zh + ("一致" if same else "不一致"),
    )
    return check, () if same else (mismatch,)


def _holder_of(identity: Identity | None) -> HolderInfo | Gap:
    if identity is None:
        return Gap("the social security application could not be read", "社会保障应用无法读取")
    if identity.holder_status is HolderStatus.LOCKED:
        return Gap(
            f"holder data (EF06) is locked: it needs {identity.holder_locked_by or 'a key'}",
            "持卡人信息（EF06）受密钥保护，未能读取",
        )
    if identity.holder_status is HolderStatus.ABSENT or identity.holder is None:
        return Gap("the card has no holder data (EF06)", "卡中无持卡人信息（EF06）")
    return identity.holder


def _records_of(bank: BankReading | None) -> BankRecords | Gap:
    if bank is None or bank.aid is None:
        return Gap("no bank application", "无金融应用")
    if bank.records_status is RecordsStatus.NOT_READ:
        return Gap(
            f"bank application {bank.state.value.replace('_', ' ')}: its records were not read "
            "(no GPO sent)",
            "金融应用已锁定或不可用，未读取记录（未发送获取处理选项）",
        )
    if bank.records_status is RecordsStatus.WITHHELD:
        return Gap(
            "no GPO sent: the bank application's transaction counter (ATC) is unknown or "
            "at its end, so its records were not read",
            "应用交易计数器（ATC）未知或已到上限，未发送获取处理选项，未读取记录",
        )
    if bank.records_status is RecordsStatus.REFUSED:
        return Gap(
            "the bank application refused GPO (6985): its records were not read",
            "金融应用拒绝获取处理选项（6985），未读取记录",
        )
    if bank.records_status is RecordsStatus.NOT_REQUESTED:
        return Gap(
            "bank records not read (use --bank-records)",
            "未读取金融应用记录（需 --bank-records）",
        )
    if bank.records is None:
        return Gap("bank records could not be read", "金融应用记录无法读取")
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
        return _not_done(
            item,
            Gap(
                "not a UnionPay application: 9F61 has another meaning", "非银联应用，9F61 含义不同"
            ),
        )
    if records.id_number is None:
        return _not_done(
            item,
            Gap("the bank application holds no ID number (9F61)", "金融应用未写入证件号码（9F61）"),
        )
    if records.id_type.code != ID_CARD:
        return _not_done(
            item,
            Gap(
                f"the bank's document type (9F62) is {records.id_type.code or 'absent'}, "
                "not an ID card",
                "金融应用证件类型不是身份证",
            ),
        )
    if isinstance(holder, Gap):
        return _not_done(item, holder)
    number = holder.social_security_number
    return _compared(
        item,
        number is not None and records.id_number.upper() == number.upper(),
        "social security number and the bank's ID number (9F61) ",
        "社会保障号码与金融应用证件号码",
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
        return _not_done(
            item,
            Gap(
                "the bank application's name (5F20/9F0B) is blank: not personalised",
                "金融应用未写入姓名（5F20/9F0B 为空）",
            ),
        )
    if isinstance(holder, Gap):
        return _not_done(item, holder)
    name = _normal_name(holder.name)
    if name is not None and name.isascii() != all(n.isascii() for n in bank_names):
        return _not_done(
            item,
            Gap(
                "the names are in different scripts (Chinese characters and Latin letters)",
                "姓名书写方式不同（汉字与拼音）",
            ),
        )
    return _compared(
        item,
        name in set(bank_names) | {"".join(bank_names)},
        "holder name and the bank's name ",
        "持卡人姓名与金融应用姓名",
        finding("bank_name_mismatch", "bank.name"),
    )


def _check_expiry(card_expiry: _dt.date | None, records: BankRecords | Gap) -> Checked:
    """EF05 tag 06 vs 5F24."""
    item = "expiry"
    if isinstance(records, Gap):
        return _not_done(item, records)
    if records.expiry_date is None:
        return _not_done(
            item,
            Gap("the bank application holds no expiry date (5F24)", "金融应用无有效期（5F24）"),
        )
    if card_expiry is None:
        return _not_done(
            item,
            Gap("the card's expiry date (EF05) is not available", "无法读取卡片有效期（EF05）"),
        )
    # 5F24 is the last day of a month (YYMMDD, the month's end by EMV practice) while EF05
    # names a day: the same card expiry is the same year and month
    bank_expiry = records.expiry_date
    return _compared(
        item,
        (card_expiry.year, card_expiry.month) == (bank_expiry.year, bank_expiry.month),
        "card and bank application expiry dates ",
        "卡片有效期与金融应用有效期",
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
