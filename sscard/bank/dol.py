"""Data object lists (PDOL 9F38, log formats 9F4F / DF4F): parsing, and building the
value field a DOL asks for by the rules of JR/T 0025.4 §5.3 (pboc.md §2.2).

A DOL is tag + one-byte length, repeated, with no values.  Building its data:
  unknown, constructed or unavailable tag → that many 00 bytes;
  value longer than asked  → n values lose their leftmost bytes, others their rightmost;
  value shorter than asked → n values are left-padded with 00, cn right-padded with FF,
                             others right-padded with 00.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

from sscard.errors import DecodeError

MAX_DOL_DATA = 252  # the value of a GPO 83 template must fit a short APDU with its header
# formats (apdu_specs/pboc.toml) that are numeric n in the DOL sense: right-justified BCD
NUMERIC_FORMATS = frozenset({"n", "date", "time", "amount"})


class DolEntry(NamedTuple):
    tag: int
    length: int

    @property
    def constructed(self) -> bool:
        first = self.tag >> (8 * ((self.tag.bit_length() - 1) // 8))
        return bool(first & 0x20)


def read_tag(data: bytes, pos: int, base: int = 0) -> tuple[int, int]:
    """(tag, position after it); BER rules, at most 3 bytes."""
    first = data[pos]
    if first in (0x00, 0xFF):
        raise DecodeError(f"invalid tag byte {first:02X} in a data object list", offset=base + pos)
    tag, end = first, pos + 1
    if first & 0x1F == 0x1F:
        while True:
            if end >= len(data):
                raise DecodeError("tag cut off by the end of the list", offset=base + pos)
            if end - pos >= 3:
                raise DecodeError("tag longer than 3 bytes", offset=base + pos)
            byte = data[end]
            tag = (tag << 8) | byte
            end += 1
            if not byte & 0x80:
                break
    return tag, end


def parse_dol(data: bytes, base: int = 0) -> tuple[DolEntry, ...]:
    data = bytes(data)
    out = []
    pos = 0
    while pos < len(data):
        tag, pos = read_tag(data, pos, base)
        if pos >= len(data):
            raise DecodeError(f"tag {tag:X} has no length in the data object list",
                              offset=base + pos)
        length = data[pos]
        if length & 0x80:
            raise DecodeError(f"length {length:02X} of tag {tag:X} is not a one-byte length",
                              offset=base + pos)
        out.append(DolEntry(tag, length))
        pos += 1
    return tuple(out)


def data_length(dol: tuple[DolEntry, ...]) -> int:
    return sum(e.length for e in dol)


def fit(value: bytes, length: int, fmt: str | None) -> bytes:
    """Cut or pad one value to the length the DOL asks for."""
    if len(value) > length:
        return value[len(value) - length:] if fmt in NUMERIC_FORMATS else value[:length]
    missing = length - len(value)
    if fmt in NUMERIC_FORMATS:
        return bytes(missing) + value
    if fmt == "cn":
        return value + b"\xFF" * missing
    return value + bytes(missing)


def build_dol_data(dol: tuple[DolEntry, ...], values: Mapping[int, bytes],
                   format_of: Callable[[int], str | None]) -> bytes:
    """The concatenated values for `dol`; `format_of(tag)` is the tag's format or None
    when the tag is unknown (then zeros are sent, whatever `values` holds)."""
    total = data_length(dol)
    if total > MAX_DOL_DATA:
        raise DecodeError(f"the data object list asks for {total} bytes, more than "
                          f"{MAX_DOL_DATA}")
    out = bytearray()
    for entry in dol:
        fmt = format_of(entry.tag)
        value = values.get(entry.tag)
        if entry.constructed or fmt is None or value is None:
            out += bytes(entry.length)
        else:
            out += fit(value, entry.length, fmt)
    return bytes(out)
