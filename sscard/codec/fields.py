"""Value codecs of the card's data items: cn (BCD), an (ASCII or GBK text), dates, b.

Values have a fixed length; shorter data is left-aligned and padded (cn with F
nibbles, an with 00 bytes).  Decoding is strict and reports the byte offset of
the first bad byte; an all-padding value decodes to None ("absent").
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

from sscard.codec import bcd
from sscard.codec.text import check_text, strip_padding
from sscard.errors import DecodeError


def decode_cn(value: bytes, base: int = 0) -> str | None:
    return bcd.decode_digits(value, base, f_padding=True) or None


def encode_cn(digits: str | None, length: int) -> bytes:
    digits = digits or ""
    if not digits.isascii() or not (digits.isdigit() or digits == ""):
        raise DecodeError("cn value must be decimal digits")
    if len(digits) > 2 * length:
        raise DecodeError(f"cn value longer than {length} bytes")
    return bcd.encode_digits(digits, length, f_padding=True)


def decode_an(value: bytes, charset: str = "ascii", base: int = 0) -> str | None:
    text = strip_padding(bytes(value), base)
    if not text:
        return None
    if charset not in ("ascii", "gbk"):
        raise DecodeError(f"unknown charset {charset}")
    try:
        decoded = text.decode(charset)
    except UnicodeDecodeError as e:
        raise DecodeError(
            f"byte {text[e.start]:02X} is not {charset.upper()} text", offset=base + e.start
        ) from None
    return check_text(decoded, charset, base)  # the one rule for card text (sscard.codec.text)


@functools.cache
def _alphabet_re(alphabet: str) -> re.Pattern[str]:
    return re.compile(alphabet)


def check_alphabet(text: str, alphabet: str, charset: str, base: int = 0) -> str:
    """`text` when every character is in `alphabet` (a regular-expression character class
    such as "[0-9X]", declared per item in apdu_specs/); else a DecodeError at the byte
    offset of the first one outside it."""
    one = _alphabet_re(alphabet)
    for i, char in enumerate(text):
        if not one.fullmatch(char):
            raise DecodeError(
                f"character U+{ord(char):04X} is outside the item's alphabet {alphabet}",
                offset=base + len(text[:i].encode(charset)),
                zh=f"字符 U+{ord(char):04X} 不在该数据项允许的字符集 {alphabet} 内",
            )
    return text


def encode_an(text: str | None, length: int, charset: str = "ascii") -> bytes:
    if not text:
        return bytes(length)
    try:
        raw = text.encode("ascii" if charset == "ascii" else "gbk")
    except UnicodeEncodeError:
        raise DecodeError(f"text cannot be encoded as {charset}") from None
    if len(raw) > length:
        raise DecodeError(f"value longer than {length} bytes")
    if b"\x00" in raw:
        raise DecodeError("00 bytes are not allowed in text")
    check_text(text, charset)
    return raw.ljust(length, b"\x00")


def decode_date(value: bytes, base: int = 0) -> _dt.date | None:
    if len(value) != 4:
        raise DecodeError(f"a date has 4 bytes, not {len(value)}", offset=base)
    digits = decode_cn(value, base)
    if digits is None:
        return None
    if len(digits) != 8:
        raise DecodeError("incomplete date", offset=base)
    try:
        return _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise DecodeError("invalid calendar date", offset=base) from None


def encode_date(value: _dt.date | None) -> bytes:
    if value is None:
        return b"\xff" * 4
    if not isinstance(value, _dt.date):
        raise DecodeError("a date value is required")
    return bytes.fromhex(f"{value.year:04d}{value.month:02d}{value.day:02d}")


def decode_b(value: bytes) -> str:
    return bytes(value).hex().upper()


def encode_b(hex_text: str, length: int) -> bytes:
    try:
        raw = bytes.fromhex(hex_text)
    except (TypeError, ValueError):
        raise DecodeError("value is not hex") from None
    if length and len(raw) != length:
        raise DecodeError(f"value has {len(raw)} bytes, expected {length}")
    return raw
