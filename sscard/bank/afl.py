"""Application file locator (AFL, tag 94 / GPO format 1): which records to read.

Four bytes per entry (docs/card-facts.md#afl-and-records): SFI << 3, first record, last
record, records taking part in offline data authentication.  An entry that cannot be real
(SFI 0 or above 30, low bits set, record 0, last before first, more ODA records than records)
is a DecodeError with its offset, never a guess; so is an AFL asking for more records
than any card holds.
"""

from __future__ import annotations

from typing import NamedTuple

from sscard.errors import DecodeError

MAX_RECORDS = 64  # real debit AFLs list about 10 records


class AflEntry(NamedTuple):
    sfi: int
    first: int
    last: int
    oda: int

    def records(self) -> range:
        return range(self.first, self.last + 1)


def parse_afl(data: bytes, base: int = 0) -> tuple[AflEntry, ...]:
    data = bytes(data)
    if len(data) % 4:
        raise DecodeError(f"AFL of {len(data)} bytes is not a multiple of 4", offset=base)
    out = []
    total = 0
    for pos in range(0, len(data), 4):
        b1, first, last, oda = data[pos : pos + 4]
        sfi = b1 >> 3
        if b1 & 0x07 or not 1 <= sfi <= 30:
            raise DecodeError(
                f"AFL entry names an impossible SFI (byte {b1:02X})", offset=base + pos
            )
        if first == 0 or last < first:
            raise DecodeError(
                f"AFL entry has an impossible record range {first}–{last}", offset=base + pos + 1
            )
        if oda > last - first + 1:
            raise DecodeError(
                f"AFL entry counts {oda} authentication records in a range of {last - first + 1}",
                offset=base + pos + 3,
            )
        total += last - first + 1
        if total > MAX_RECORDS:
            raise DecodeError(f"AFL asks for more than {MAX_RECORDS} records", offset=base + pos)
        out.append(AflEntry(sfi, first, last, oda))
    return tuple(out)
