"""The social security card number (社会保障卡卡号, EF05 tag 07) and its check character.

V2.0 Appendix A: 8 characters (letters A=10 … Z=35), weights 3 7 9 10 5 8 4 2,
check = 11 − (Σ mod 11), 10 → X, 11 → 0.  Many real cards fail it, so this is
reported, never used to reject a card.
"""

from __future__ import annotations

WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def check_character(body8: str) -> str | None:
    if not isinstance(body8, str) or len(body8) != 8 or any(c not in _ALPHABET for c in body8):
        return None
    check = 11 - sum(_ALPHABET.index(c) * w for c, w in zip(body8, WEIGHTS, strict=False)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def card_number_check(number: str) -> bool | None:
    """True/False for a 9-character number; None when it cannot be checked."""
    if not isinstance(number, str) or len(number) != 9:
        return None
    expected = check_character(number[:8])
    return None if expected is None else expected == number[8]
