"""Typed, immutable results both applications share (the social security application:
sscard.ssse.results; the bank application: sscard.bank.results)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Coded:
    """A coded value with its meaning (None when the code table does not know it)."""

    code: str | None
    en: str | None = None
    zh: str | None = None


@dataclass(frozen=True)
class Finding:
    """What looks wrong on a card, in both languages; reported, never silently fixed."""

    code: str
    severity: str  # info | warning
    field: str | None
    en: str
    zh: str


class AppState(StrEnum):
    """What SELECT told about an application (docs/card-facts.md#card-status, #bank-states)."""

    ABSENT = "absent"  # 6A82 / not listed anywhere
    READY = "ready"  # selected with 9000
    APPLICATION_BLOCKED = "application_blocked"  # SSSE 9303, bank 6283
    CARD_BLOCKED = "card_blocked"  # 6A81
