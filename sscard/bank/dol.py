"""Data object lists (PDOL 9F38, log formats 9F4F / DF4F): building the value field a DOL
asks for by the rules of JR/T 0025.4 §5.3 (docs/card-facts.md#dol).  Parsing is
sscard.codec.dol's.

A DOL is tag + one-byte length, repeated, with no values.  Building its data:
  unknown, constructed or unavailable tag → that many 00 bytes;
  value longer than asked  → n values lose their leftmost bytes, others their rightmost;
  value shorter than asked → n values are left-padded with 00, cn right-padded with FF,
                             others right-padded with 00.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sscard.codec.dol import DolEntry, parse_dol
from sscard.errors import DecodeError

__all__ = ["MAX_DOL_DATA", "DolEntry", "build_dol_data", "data_length", "fit", "parse_dol"]

MAX_DOL_DATA = 252  # the value of a GPO 83 template must fit a short APDU with its header
# formats (apdu_specs/pboc.toml) that are numeric n in the DOL sense: right-justified BCD
NUMERIC_FORMATS = frozenset({"n", "date", "time", "amount"})


def data_length(dol: tuple[DolEntry, ...]) -> int:
    return sum(e.length for e in dol)


def fit(value: bytes, length: int, fmt: str | None) -> bytes:
    """Cut or pad one value to the length the DOL asks for."""
    if len(value) > length:
        return value[len(value) - length :] if fmt in NUMERIC_FORMATS else value[:length]
    missing = length - len(value)
    if fmt in NUMERIC_FORMATS:
        return bytes(missing) + value
    if fmt == "cn":
        return value + b"\xff" * missing
    return value + bytes(missing)


def build_dol_data(
    dol: tuple[DolEntry, ...], values: Mapping[int, bytes], format_of: Callable[[int], str | None]
) -> bytes:
    """The concatenated values for `dol`; `format_of(tag)` is the tag's format or None
    when the tag is unknown (then zeros are sent, whatever `values` holds)."""
    total = data_length(dol)
    if total > MAX_DOL_DATA:
        raise DecodeError(f"the data object list asks for {total} bytes, more than {MAX_DOL_DATA}")
    out = bytearray()
    for entry in dol:
        fmt = format_of(entry.tag)
        value = values.get(entry.tag)
        if entry.constructed or fmt is None or value is None:
            out += bytes(entry.length)
        else:
            out += fit(value, entry.length, fmt)
    return bytes(out)
