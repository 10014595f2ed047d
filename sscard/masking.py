"""How personal values are shown when not revealed: every style, for both applications (the
style is named per item in apdu_specs/ssse.toml and per tag in apdu_specs/pboc.toml).

id           110***********1233   first 3 and last 4 characters
name         测**                  first character
date         1990-**-**           year only
region       11****               province only
card_id      110100D156000005**** region and RID; serial and authentication code hidden
card_number  A*******4            first and last character
pan          622202******1234     first 6 and last 4 digits (10 or fewer: all hidden)
hidden       ***                  nothing, not even the length
"""

from __future__ import annotations

import datetime as _dt


def _keep(text: str, head: int, tail: int) -> str:
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]


_STYLES = {
    "id": lambda t: _keep(t, 3, 4),
    "name": lambda t: _keep(t, 1, 0),
    "region": lambda t: _keep(t, 2, 0),
    "card_id": lambda t: _keep(t, 16, 0),
    "card_number": lambda t: _keep(t, 1, 1),
    "pan": lambda t: _keep(t, 6, 4) if len(t) > 10 else "*" * len(t),
    "hidden": lambda t: "***",
}
STYLES = frozenset({*_STYLES, "date"})


def mask(style: str, value: str | _dt.date | None) -> str | None:
    if value is None:
        return None
    if style == "date":
        year = value.year if isinstance(value, _dt.date) else str(value)[:4]
        return f"{year}-**-**"
    return _STYLES[style](str(value))
