"""Typed, immutable results of reading the social security application."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from enum import StrEnum

from sscard.results import Coded, Finding


class Layout(StrEnum):
    """Where the card keeps its social security data."""

    SSSE = "ssse"  # the social security application, selected by name (the normal card)
    MF = "mf"  # EF05 directly under the MF, no application name (Shanghai-style)


class Authenticity(StrEnum):
    """Whether the card proved itself (INTERNAL AUTHENTICATE, checked with a key source)."""

    YES = "yes"
    NO = "no"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class CardIdentification:
    """卡识别码: region code ‖ RID ‖ serial ‖ authentication code, as raw hex."""

    hex: str
    region: str
    rid: str
    serial: str
    auth_code: str


@dataclass(frozen=True)
class IssuerInfo:
    """EF05 发卡机构数据."""

    card_identification: CardIdentification | None
    card_type: Coded
    spec_version: str | None
    initialising_institution: str | None
    issue_date: _dt.date | None
    expiry_date: _dt.date | None
    card_number: str | None
    card_number_check: bool | None  # None: not checkable (not 9 characters)


@dataclass(frozen=True)
class HolderInfo:
    """EF06 持卡人基本信息."""

    social_security_number: str | None
    name: str | None  # 姓名 + 姓名扩展, as a reader must present it
    name_record: str | None  # tag 09 alone
    name_extension: str | None  # tag 4E (gen 2/3)
    sex: Coded
    ethnicity: Coded
    birthplace: str | None
    birth_date: _dt.date | None


class HolderStatus(StrEnum):
    READ = "read"  # EF06 read completely
    LOCKED = "locked"  # needs a key (RKSSSE on gen 3) the caller did not provide
    ABSENT = "absent"  # the card has no EF06 (e.g. Shanghai-style layout)


@dataclass(frozen=True)
class Identity:
    """What the social security application tells about the card and its holder."""

    atr: str
    historical_bytes: str | None  # of the parsed ATR; None when the ATR does not parse
    layout: Layout
    algorithm: Coded
    generation: int | None  # 1, 2, 3 from the spec version; None if unrecognised
    issuer: IssuerInfo
    holder: HolderInfo | None
    holder_status: HolderStatus
    holder_locked_by: str | None  # key that protects EF06 when locked
    findings: tuple[Finding, ...] = field(default=())
    authentic: Authenticity = Authenticity.NOT_CHECKED
    # keys of the items the spec requires on this card (its generation and layout) that are
    # absent or empty: apdu_specs/ssse.toml `required`, sscard.ssse.completeness
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """EF06 read, and every item the spec requires on this card holds a value."""
        return self.holder_status is HolderStatus.READ and not self.missing
