"""Citizen identity numbers (GB 11643-1999): check character, birth date, region.

`check_id_number` never raises: it reports problems as short codes, so a card
whose number fails a check is still read and the finding shown.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"  # ISO 7064 MOD 11-2, indexed by the weighted sum mod 11
# province-level codes (GB/T 2260), plus 83 used on residence permits for Taiwan residents
PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
    }
)
EARLIEST_BIRTH = _dt.date(1850, 1, 1)


def check_character(body17: str) -> str:
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise ValueError("the body of an ID number is 17 digits")
    return CHECK[sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=False)) % 11]


@dataclass(frozen=True)
class IdNumberCheck:
    valid: bool
    problems: tuple[str, ...]
    region: str | None
    birth_date: _dt.date | None
    sex: str | None  # "1" male (odd 17th digit), "2" female — the card's sex codes


def check_id_number(text: str, today: _dt.date | None = None) -> IdNumberCheck:
    today = today or _dt.date.today()
    if not isinstance(text, str) or len(text) != 18:
        return IdNumberCheck(False, ("length",), None, None, None)
    body, last = text[:17], text[17]
    if not (body.isascii() and body.isdigit()) or last not in "0123456789X":
        return IdNumberCheck(False, ("characters",), None, None, None)
    problems = []
    if check_character(body) != last:
        problems.append("check_character")
    birth = None
    try:
        birth = _dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        pass
    if birth is None or not EARLIEST_BIRTH <= birth <= today:
        problems.append("birth_date")
        birth = None
    if int(body[:2]) not in PROVINCES:
        problems.append("region")
    sex = "1" if int(body[16]) % 2 else "2"
    return IdNumberCheck(not problems, tuple(problems), body[:6], birth, sex)


def make_id_number(region6: str, birth: _dt.date, seq3: str) -> str:
    body = f"{region6}{birth:%Y%m%d}{seq3}"
    return body + check_character(body)
