"""Records named by the AFL: 70 templates, merged into one tag → value map.

Which record holds which tag differs between issuers (docs/card-facts.md#afl-and-records),
so every record is read and merged.  A tag met twice keeps its first value and is reported;
records of SFI 11–30 are proprietary (not TLV) and are not merged.  00 bytes around the objects are
padding (EMV Book 3 Annex B) and are skipped.
"""

from __future__ import annotations

from typing import NamedTuple

from sscard.bank.fci import value_offset
from sscard.codec.tlv import Tlv, parse_ber
from sscard.errors import DecodeError

T_RECORD = 0x70
TLV_SFI_MAX = 10


class Element(NamedTuple):
    tag: int
    value: bytes
    sfi: int
    record: int
    offset: int  # of the value within its record


class RecordSet(NamedTuple):
    elements: tuple[Element, ...]  # first occurrence of each tag, in reading order
    duplicates: tuple[int, ...]  # tags met more than once

    def get(self, tag: int) -> Element | None:
        return next((e for e in self.elements if e.tag == tag), None)


def _primitives(nodes: tuple[Tlv, ...]):
    for node in nodes:
        if node.children is None:
            yield node
        else:
            yield from _primitives(node.children)


def parse_record(data: bytes, sfi: int, number: int) -> tuple[Element, ...]:
    tlvs = parse_ber(data, padding=True)
    if len(tlvs) != 1 or tlvs[0].tag != T_RECORD or tlvs[0].children is None:
        raise DecodeError(f"record {number} of SFI {sfi} is not one 70 template", offset=0)
    return tuple(
        Element(t.tag, t.value, sfi, number, value_offset(t)) for t in _primitives(tlvs[0].children)
    )


def merge(records: list[tuple[Element, ...]]) -> RecordSet:
    seen: dict[int, Element] = {}
    duplicates: list[int] = []
    for elements in records:
        for e in elements:
            if e.tag in seen:
                if e.tag not in duplicates:
                    duplicates.append(e.tag)
                continue
            seen[e.tag] = e
    return RecordSet(tuple(seen.values()), tuple(duplicates))
