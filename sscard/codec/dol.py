"""Data object lists (EMV Book 3 §5.4; JR/T 0025): tag ‖ one-byte length, repeated, no values.

The one DOL parser of sscard: the PBOC spec (typical PDOLs, log formats), the `dol` value
format, the bank reader (PDOL 9F38, log formats 9F4F / DF4F) and the emulator all use it.
Building the data a DOL asks for is the bank reader's job (sscard.bank.dol).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sscard.codec.tlv import read_tag
from sscard.errors import DecodeError


class DolEntry(NamedTuple):
    tag: int
    length: int

    @property
    def constructed(self) -> bool:
        first = self.tag >> (8 * ((self.tag.bit_length() - 1) // 8))
        return bool(first & 0x20)


def parse_dol(raw: bytes, base: int = 0) -> tuple[DolEntry, ...]:
    """The entries of a data object list; a bad tag or a multi-byte length is a DecodeError
    at its offset."""
    raw = bytes(raw)
    out, pos = [], 0
    while pos < len(raw):
        if raw[pos] == 0xFF:
            raise DecodeError("invalid tag byte FF in a data object list", offset=base + pos)
        tag, pos = read_tag(raw, pos, base)
        if pos >= len(raw):
            raise DecodeError(
                f"tag {tag:X} has no length in the data object list", offset=base + pos
            )
        if raw[pos] & 0x80:
            raise DecodeError(
                f"length {raw[pos]:02X} of tag {tag:X} is not a one-byte length", offset=base + pos
            )
        out.append(DolEntry(tag, raw[pos]))
        pos += 1
    return tuple(out)


def encode_dol(entries: Iterable[tuple[int, int]]) -> bytes:
    return b"".join(t.to_bytes((t.bit_length() + 7) // 8, "big") + bytes((n,)) for t, n in entries)
