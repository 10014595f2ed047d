"""Cross-checks between the social security application and the bank application.

Each check ends as `match`, `mismatch` or `not_done` (with the reason: EF06 locked on a
generation-3 card without keys, bank records not read, a field not personalised, a
non-ID-card document type…).  A mismatch is also a warning finding: never silent.
A blank bank name (spaces, zeros, the recommended " /") means "not personalised", not
a mismatch (pboc.md §3.1, §9.2).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from sscard.bank.results import BankReading, RecordsStatus
from sscard.codec import gb11643
from sscard.findings import finding
from sscard.results import Finding
from sscard.ssse.results import HolderStatus, Identity

ID_CARD = "00"  # 9F62: 身份证


@dataclass(frozen=True)
class CrossCheck:
    item: str  # id_number | id_type | name | expiry
    outcome: str  # match | mismatch | not_done
    en: str
    zh: str


def _not_done(item: str, en: str, zh: str) -> CrossCheck:
    return CrossCheck(item, "not_done", en, zh)


def _holder_missing(identity: Identity | None) -> tuple[str, str] | None:
    if identity is None:
        return ("the social security application could not be read", "社会保障应用无法读取")
    if identity.holder_status is HolderStatus.LOCKED:
        return (
            f"holder data (EF06) is locked: it needs {identity.holder_locked_by or 'a key'}",
            "持卡人信息（EF06）受密钥保护，未能读取",
        )
    if identity.holder_status is HolderStatus.ABSENT or identity.holder is None:
        return ("the card has no holder data (EF06)", "卡中无持卡人信息（EF06）")
    return None


def _bank_missing(bank: BankReading | None) -> tuple[str, str] | None:
    if bank is None or bank.aid is None:
        return ("no bank application", "无金融应用")
    if bank.records_status is RecordsStatus.NOT_READ:
        return (
            f"bank application {bank.state.value.replace('_', ' ')}: its records were not read "
            "(no GPO sent)",
            "金融应用已锁定或不可用，未读取记录（未发送获取处理选项）",
        )
    if bank.records_status is RecordsStatus.WITHHELD:
        return (
            "no GPO sent: the bank application's transaction counter (ATC) is unknown or "
            "at its end, so its records were not read",
            "应用交易计数器（ATC）未知或已到上限，未发送获取处理选项，未读取记录",
        )
    if bank.records_status is RecordsStatus.REFUSED:
        return (
            "the bank application refused GPO (6985): its records were not read",
            "金融应用拒绝获取处理选项（6985），未读取记录",
        )
    if bank.records_status is RecordsStatus.NOT_REQUESTED:
        return (
            "bank records not read (use --bank-records)",
            "未读取金融应用记录（需 --bank-records）",
        )
    if bank.records is None:
        return ("bank records could not be read", "金融应用记录无法读取")
    return None


def _normal_name(text: str | None) -> str | None:
    if text is None:
        return None
    text = "".join(text.split())
    return None if text in ("", "/") else text


def cross_check(
    identity: Identity | None, bank: BankReading | None, today: _dt.date
) -> tuple[tuple[CrossCheck, ...], tuple[Finding, ...]]:
    checks: list[CrossCheck] = []
    findings: list[Finding] = []
    holder_gap, bank_gap = _holder_missing(identity), _bank_missing(bank)
    records = bank.records if bank_gap is None else None

    # --- ID number: EF06 social security number vs 9F61 (when 9F62 says ID card) --------
    if bank_gap:
        checks.append(_not_done("id_number", *bank_gap))
    elif not bank.unionpay:
        checks.append(
            _not_done(
                "id_number",
                "not a UnionPay application: 9F61 has another meaning",
                "非银联应用，9F61 含义不同",
            )
        )
    elif records.id_number is None:
        checks.append(
            _not_done(
                "id_number",
                "the bank application holds no ID number (9F61)",
                "金融应用未写入证件号码（9F61）",
            )
        )
    else:
        if records.id_type.code != ID_CARD:
            checks.append(
                _not_done(
                    "id_number",
                    f"the bank's document type (9F62) is "
                    f"{records.id_type.code or 'absent'}, not an ID card",
                    "金融应用证件类型不是身份证",
                )
            )
        elif holder_gap:
            checks.append(_not_done("id_number", *holder_gap))
        else:
            number = identity.holder.social_security_number
            same = number is not None and records.id_number.upper() == number.upper()
            checks.append(
                CrossCheck(
                    "id_number",
                    "match" if same else "mismatch",
                    "social security number and the bank's ID number (9F61) "
                    + ("agree" if same else "differ"),
                    "社会保障号码与金融应用证件号码" + ("一致" if same else "不一致"),
                )
            )
            if not same:
                findings.append(finding("bank_id_mismatch", "bank.id_number"))
        if records.id_type.code == ID_CARD:
            result = gb11643.check_id_number(records.id_number, today=today)
            if not result.valid:
                findings.append(
                    finding("bank_id_invalid", "bank.id_number", ", ".join(result.problems))
                )
    if (
        records is not None
        and bank.unionpay
        and (records.id_number is None) != (records.id_type.code is None)
    ):
        findings.append(finding("bank_id_type_pair", "bank.id_type"))

    # --- name: EF06 name vs 5F20 / 9F0B ------------------------------------------------
    if bank_gap:
        checks.append(_not_done("name", *bank_gap))
    else:
        bank_names = [
            n for n in (_normal_name(records.name), _normal_name(records.name_extended)) if n
        ]
        if not bank_names:
            checks.append(
                _not_done(
                    "name",
                    "the bank application's name (5F20/9F0B) is blank: not personalised",
                    "金融应用未写入姓名（5F20/9F0B 为空）",
                )
            )
        elif holder_gap:
            checks.append(_not_done("name", *holder_gap))
        else:
            name = _normal_name(identity.holder.name)
            candidates = set(bank_names) | {"".join(bank_names)}
            if name is not None and name.isascii() != all(n.isascii() for n in bank_names):
                checks.append(
                    _not_done(
                        "name",
                        "the names are in different scripts (Chinese characters and Latin letters)",
                        "姓名书写方式不同（汉字与拼音）",
                    )
                )
            else:
                same = name in candidates
                checks.append(
                    CrossCheck(
                        "name",
                        "match" if same else "mismatch",
                        "holder name and the bank's name " + ("agree" if same else "differ"),
                        "持卡人姓名与金融应用姓名" + ("一致" if same else "不一致"),
                    )
                )
                if not same:
                    findings.append(finding("bank_name_mismatch", "bank.name"))

    # --- expiry: EF05 tag 06 vs 5F24 ---------------------------------------------------
    card_expiry = identity.issuer.expiry_date if identity is not None else None
    if bank_gap:
        checks.append(_not_done("expiry", *bank_gap))
    elif records.expiry_date is None:
        checks.append(
            _not_done(
                "expiry",
                "the bank application holds no expiry date (5F24)",
                "金融应用无有效期（5F24）",
            )
        )
    elif card_expiry is None:
        checks.append(
            _not_done(
                "expiry",
                "the card's expiry date (EF05) is not available",
                "无法读取卡片有效期（EF05）",
            )
        )
    else:
        # 5F24 is the last day of a month (YYMMDD, the month's end by EMV practice) while
        # EF05 names a day: the same card expiry is the same year and month
        same = (card_expiry.year, card_expiry.month) == (
            records.expiry_date.year,
            records.expiry_date.month,
        )
        checks.append(
            CrossCheck(
                "expiry",
                "match" if same else "mismatch",
                "card and bank application expiry dates " + ("agree" if same else "differ"),
                "卡片有效期与金融应用有效期" + ("一致" if same else "不一致"),
            )
        )
        if not same:
            findings.append(finding("expiry_differs", "bank.expiry_date"))
    if records is not None:
        if records.expiry_date is not None and records.expiry_date < today:
            findings.append(finding("bank_expired", "bank.expiry_date"))
        if records.effective_date is not None and records.effective_date > today:
            findings.append(finding("bank_not_yet_effective", "bank.effective_date"))
    return tuple(checks), tuple(findings)
