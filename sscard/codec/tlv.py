"""BER-TLV (ISO 7816-4 / EMV) and the social security card's simple record TLV.

Strict on purpose: a length running past the buffer, a cut-off tag or an
indefinite length is a DecodeError with the byte offset, never a silent
truncation.  Offsets are absolute (`base` + position in `data`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.errors import DecodeError

MAX_DEPTH = 16  # constructed nesting: real FCIs are 3 deep
MAX_TAG_BYTES = 3


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    offset: int  # absolute offset of the first tag byte
    children: tuple[Tlv, ...] | None = None  # None for primitive objects

    def find(self, tag: int) -> Tlv | None:
        return next((c for c in self.children or () if c.tag == tag), None)

    def find_path(self, *tags: int) -> Tlv | None:
        node: Tlv | None = self
        for tag in tags:
            node = node.find(tag) if node is not None else None
        return node


def read_tag(data: bytes, pos: int, base: int = 0) -> tuple[int, int]:
    """(tag, position after it) of the BER tag at `pos`; errors carry the byte offset."""
    first = data[pos]
    if first == 0x00:
        raise DecodeError("invalid tag 00 (padding is not accepted)", offset=base + pos)
    tag, end = first, pos + 1
    if first & 0x1F == 0x1F:
        while True:
            if end >= len(data):
                raise DecodeError("tag cut off by the end of data", offset=base + pos)
            if end - pos >= MAX_TAG_BYTES:
                raise DecodeError(f"tag longer than {MAX_TAG_BYTES} bytes", offset=base + pos)
            byte = data[end]
            tag = (tag << 8) | byte
            end += 1
            if not byte & 0x80:
                break
    return tag, end


def _read_length(data: bytes, pos: int, base: int) -> tuple[int, int]:
    if pos >= len(data):
        raise DecodeError("length missing at the end of data", offset=base + pos)
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    if first == 0x80:
        raise DecodeError("indefinite length is not allowed", offset=base + pos)
    count = first & 0x7F
    if count > 3:
        raise DecodeError(f"length field of {count} bytes is not supported", offset=base + pos)
    if pos + 1 + count > len(data):
        raise DecodeError("length cut off by the end of data", offset=base + pos)
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def parse_ber(
    data: bytes, base: int = 0, _depth: int = 0, *, padding: bool = False
) -> tuple[Tlv, ...]:
    """`padding=True` skips 00 bytes before, between and after objects, at every level, as
    EMV Book 3 Annex B allows in payment templates; the default rejects them (the social
    security records have no such rule)."""
    if _depth > MAX_DEPTH:
        raise DecodeError(f"TLV nested deeper than {MAX_DEPTH} levels", offset=base)
    data = bytes(data)
    out = []
    pos = 0
    while pos < len(data):
        if padding and data[pos] == 0x00:
            pos += 1
            continue
        start = pos
        tag, pos = read_tag(data, pos, base)
        length_at = pos
        length, pos = _read_length(data, pos, base)
        if pos + length > len(data):
            raise DecodeError(
                f"value of tag {tag:X} ({length} bytes) runs past the end of data",
                offset=base + length_at,
            )
        value = data[pos : pos + length]
        first_tag_byte = tag >> (8 * ((tag.bit_length() - 1) // 8))
        children = (
            parse_ber(value, base + pos, _depth + 1, padding=padding)
            if first_tag_byte & 0x20
            else None
        )
        out.append(Tlv(tag, value, base + start, children))
        pos += length
    return tuple(out)


def encode_ber(tag: int, value: bytes) -> bytes:
    if tag <= 0:
        raise DecodeError("invalid tag")
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    else:
        size = (n.bit_length() + 7) // 8
        if size > 3:
            raise DecodeError("value too long for a TLV")
        length = bytes((0x80 | size,)) + n.to_bytes(size, "big")
    return tag_bytes + length + bytes(value)


def parse_record(data: bytes, base: int = 0) -> tuple[Tlv, ...]:
    """Records as the card returns them: tag (1 byte) | length (1 byte) | value, back to back."""
    data = bytes(data)
    out = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        if tag == 0x00:
            raise DecodeError("invalid record tag 00", offset=base + pos)
        if pos + 1 >= len(data):
            raise DecodeError(f"record {tag:02X} has no length byte", offset=base + pos)
        length = data[pos + 1]
        if pos + 2 + length > len(data):
            raise DecodeError(
                f"record {tag:02X} value ({length} bytes) runs past the end of data",
                offset=base + pos + 1,
            )
        out.append(Tlv(tag, data[pos + 2 : pos + 2 + length], base + pos))
        pos += 2 + length
    return tuple(out)


def encode_record(tag: int, value: bytes) -> bytes:
    if not 1 <= tag <= 0xFF:
        raise DecodeError(f"record tag {tag} out of range")
    if len(value) > 0xFF:
        raise DecodeError(f"record value of {len(value)} bytes is longer than 255")
    return bytes((tag, len(value))) + bytes(value)
