"""GET PROCESSING OPTIONS: the command data built from the card's PDOL, and the response.

GPO starts a transaction in the card (ATC + 1; at 65535 the application dies), so the
reader sends it only when asked, at most once per read (docs/card-facts.md#gpo).  The
terminal values (apdu_specs/pboc.toml `reader_value`) make a contact debit/credit read: no
e-cash path (9F7A = 00), no SM (DF69 = 00), amount 0, CNY in China; plus today's date and
a random unpredictable number.  Any other tag the PDOL asks for is sent as zeros.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import NamedTuple

from sscard.bank.afl import AflEntry, parse_afl
from sscard.bank.dol import DolEntry, build_dol_data
from sscard.bank.fci import value_offset
from sscard.codec.tlv import Tlv, encode_ber, parse_ber
from sscard.errors import DecodeError

T_FORMAT1, T_FORMAT2, T_AIP, T_AFL, T_COMMAND_TEMPLATE = 0x80, 0x77, 0x82, 0x94, 0x83


def terminal_values(pboc, today: _dt.date, unpredictable: bytes | None = None) -> dict[int, bytes]:
    """The reader's values for PDOL tags: `reader_value` of apdu_specs/pboc.toml, plus the
    two that change per transaction (today's date, a random unpredictable number)."""
    out = {t: o.reader_value for t, o in pboc.tags.items() if o.reader_value is not None}
    out[0x9A] = bytes.fromhex(today.strftime("%y%m%d"))
    out[0x9F37] = unpredictable if unpredictable is not None else os.urandom(4)
    return out


def command_data(
    pdol: tuple[DolEntry, ...] | None,
    pboc,
    aid: bytes,
    today: _dt.date,
    unpredictable: bytes | None = None,
) -> bytes:
    """The GPO data field: 83 L <PDOL values> (83 00 without a PDOL).  A tag this
    application's scheme does not define (UnionPay tags on another RID) is sent as zeros."""

    def format_of(tag: int) -> str | None:
        obj = pboc.tag(tag, aid=aid)
        return obj.format if obj is not None else None

    data = build_dol_data(pdol or (), terminal_values(pboc, today, unpredictable), format_of)
    return encode_ber(T_COMMAND_TEMPLATE, data)


class GpoResponse(NamedTuple):
    aip: bytes
    afl: tuple[AflEntry, ...]
    other: tuple[Tlv, ...]  # format 2: everything besides 82 and 94 (e.g. 9F36)


def parse_response(data: bytes) -> GpoResponse:
    tlvs = parse_ber(data)
    if len(tlvs) != 1:
        raise DecodeError("GPO response is not one template", offset=0)
    top = tlvs[0]
    if top.tag == T_FORMAT1:
        if len(top.value) < 2:
            raise DecodeError("GPO format 1 response has no AIP", offset=top.offset)
        return GpoResponse(top.value[:2], parse_afl(top.value[2:], value_offset(top) + 2), ())
    if top.tag == T_FORMAT2 and top.children is not None:
        aip, afl = top.find(T_AIP), top.find(T_AFL)
        if aip is None or len(aip.value) != 2:
            raise DecodeError("GPO format 2 response has no valid AIP (82)", offset=top.offset)
        entries = parse_afl(afl.value, value_offset(afl)) if afl is not None else ()
        other = tuple(t for t in top.children if t.tag not in (T_AIP, T_AFL))
        return GpoResponse(aip.value, entries, other)
    raise DecodeError(f"GPO response template {top.tag:X} is neither 80 nor 77", offset=top.offset)
