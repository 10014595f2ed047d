"""Checks of what the social security application holds: reported as findings, never
silently fixed."""

from __future__ import annotations

import datetime as _dt

from sscard.codec import card_number as card_number_codec
from sscard.codec import gb11643
from sscard.codec.card_id import MOHRSS_RID
from sscard.findings import finding
from sscard.results import Finding
from sscard.ssse.results import CardIdentification, HolderInfo, IssuerInfo


def check_issuer(issuer: IssuerInfo, today: _dt.date) -> list[Finding]:
    out = []
    if issuer.card_number_check is False:
        out.append(finding("card_number_check", "card_number"))
    if issuer.expiry_date is not None and issuer.expiry_date < today:
        out.append(finding("card_expired", "expiry_date"))
    cid = issuer.card_identification
    if isinstance(cid, CardIdentification) and cid.rid != MOHRSS_RID:
        out.append(finding("card_rid", "card_identification"))
    return out


def check_holder(holder: HolderInfo, today: _dt.date) -> list[Finding]:
    number = holder.social_security_number
    if number is None:
        return []
    result = gb11643.check_id_number(number, today=today)
    if not result.valid:
        # problem codes only: never the number itself
        return [finding("id_number_invalid", "social_security_number", ", ".join(result.problems))]
    out = []
    if holder.birth_date is not None and result.birth_date != holder.birth_date:
        out.append(finding("birth_date_mismatch", "birth_date"))
    if holder.sex.code in ("1", "2") and result.sex != holder.sex.code:
        out.append(finding("sex_mismatch", "sex"))
    return out


def card_number_check(number: str | None) -> bool | None:
    return None if number is None else card_number_codec.card_number_check(number)
