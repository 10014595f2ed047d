"""Findings: what looks wrong on a card (either application), reported, never silently fixed.

Their texts and severities are in apdu_specs/messages.toml ([finding.CODE])."""

from __future__ import annotations

from dataclasses import dataclass

from sscard.results import Finding


@dataclass(frozen=True)
class CardStatusFinding(Finding):
    """A finding caused by a card's answer, with its status word as 4 hex digits (e.g.
    "63C2" after a failed EXTERNAL AUTHENTICATE), for interfaces that report it."""

    sw: str


def finding(
    code: str, field: str | None = None, detail: str | None = None, sw: int | None = None
) -> Finding:
    from sscard.spec.messages import message  # a read without findings never loads it

    entry = message(f"finding.{code}")
    severity, en, zh = entry.severity or "warning", entry.en, entry.zh
    if detail:
        en = f"{en}: {detail}"
        zh = f"{zh}：{detail}"
    if sw is not None:
        return CardStatusFinding(code, severity, field, en, zh, f"{sw:04X}")
    return Finding(code, severity, field, en, zh)
