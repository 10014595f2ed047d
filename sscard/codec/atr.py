"""The answer to reset (ATR), parsed as ISO/IEC 7816-3 §8 defines it, never sliced.

    TS  T0  (TAi TBi TCi TDi)…  T1…TK  [TCK]

TS is 3B (direct convention) or 3F (inverse); T0's high nibble says which of TA1, TB1, TC1,
TD1 follow and its low nibble is K, the number of historical bytes; each TDi announces a
protocol (low nibble) and the interface bytes of the next group (high nibble).  TCK is
present exactly when a protocol other than T=0 is announced (any TDi with T ≠ 0, T=15
included); it makes the XOR of T0…TCK zero.  A contactless card seen through PC/SC gets
an ATR the reader builds (PC/SC part 3: `3B 8n 80 01` + n historical bytes + TCK), which
parses the same way.

Strict: a cut ATR, bytes after the last one announced, a wrong TCK or a bad TS is a
DecodeError with the byte offset.
"""

from __future__ import annotations

from typing import NamedTuple

from sscard.errors import DecodeError

MAX_LENGTH = 33  # TS + 32 (ISO/IEC 7816-3 §8.2.1)
CONVENTIONS = {0x3B: "direct", 0x3F: "inverse"}
_GROUP = ("TA", "TB", "TC", "TD")  # bits 5, 6, 7, 8 of T0 / TDi, in this order


class Atr(NamedTuple):
    raw: bytes
    convention: str  # direct | inverse
    interface: tuple[tuple[str, int], ...]  # ("TA1", 0x11), ("TD1", 0x81), … in order
    protocols: tuple[int, ...]  # announced by TD1, TD2, …; (0,) when there is no TD1
    historical: bytes
    tck: int | None  # None: absent (T=0 only)

    @property
    def offers_only_t0(self) -> bool:
        return set(self.protocols) == {0}

    def interface_byte(self, name: str) -> int | None:
        return next((value for n, value in self.interface if n == name), None)


def parse_atr(raw: bytes) -> Atr:
    raw = bytes(raw)
    if len(raw) < 2:
        raise DecodeError(f"an ATR has at least TS and T0, not {len(raw)} bytes", offset=0)
    if len(raw) > MAX_LENGTH:
        raise DecodeError(
            f"an ATR has at most {MAX_LENGTH} bytes, not {len(raw)}", offset=MAX_LENGTH
        )
    if raw[0] not in CONVENTIONS:
        raise DecodeError(f"TS {raw[0]:02X} is neither 3B nor 3F", offset=0)
    k = raw[1] & 0x0F
    presence = raw[1] >> 4
    interface: list[tuple[str, int]] = []
    protocols: list[int] = []
    pos, group = 2, 1
    while True:
        td = None
        for bit, name in enumerate(_GROUP):
            if not presence & (1 << bit):
                continue
            if pos >= len(raw):
                raise DecodeError(f"the ATR is cut before {name}{group}", offset=pos)
            interface.append((f"{name}{group}", raw[pos]))
            if name == "TD":
                td = raw[pos]
            pos += 1
        if td is None:
            break
        protocols.append(td & 0x0F)
        presence, group = td >> 4, group + 1
    if not protocols:
        protocols.append(0)  # no TD1: T=0 is implied (§8.2.3)
    tck_present = any(t != 0 for t in protocols)
    end = pos + k
    if end > len(raw):
        raise DecodeError(
            f"T0 announces {k} historical bytes; the ATR is cut after {len(raw) - pos}",
            offset=len(raw),
        )
    historical = raw[pos:end]
    tck = None
    if tck_present:
        if end >= len(raw):
            raise DecodeError(
                "the ATR announces a protocol other than T=0 but has no TCK", offset=end
            )
        tck = raw[end]
        check = 0
        for byte in raw[1 : end + 1]:
            check ^= byte
        if check:
            raise DecodeError(f"wrong TCK {tck:02X} (expected {tck ^ check:02X})", offset=end)
        end += 1
    if end != len(raw):
        raise DecodeError(f"{len(raw) - end} bytes after the end of the ATR", offset=end)
    return Atr(raw, CONVENTIONS[raw[0]], tuple(interface), tuple(protocols), historical, tck)


def with_tck(body: bytes) -> bytes:
    """`body` (TS … last historical byte) followed by its TCK."""
    check = 0
    for byte in bytes(body)[1:]:
        check ^= byte
    return bytes(body) + bytes((check,))
