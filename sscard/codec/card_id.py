"""卡识别码 (card identification code, EF05 tag 01): 16 raw bytes, reported as hex parts.

Typed cn in the spec but it holds hex digits (RID D156…, serials such as A2147242),
so it is never read as a decimal number.
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.errors import DecodeError

MOHRSS_RID = "D156000005"


@dataclass(frozen=True)
class CardIdParts:
    hex: str
    region: str  # issuing region code, 3 bytes
    rid: str  # registered application provider id, 5 bytes (D156000005)
    serial: str  # 4 bytes
    auth_code: str  # 4 bytes, a cryptogram over the rest (often FFFFFFFF)


def split_card_id(value: bytes, base: int = 0) -> CardIdParts:
    if len(value) != 16:
        raise DecodeError(f"card identification code has {len(value)} bytes, not 16", offset=base)
    h = bytes(value).hex().upper()
    return CardIdParts(h, h[:6], h[6:16], h[16:24], h[24:32])


def rid_ok(parts: CardIdParts) -> bool:
    return parts.rid == MOHRSS_RID
