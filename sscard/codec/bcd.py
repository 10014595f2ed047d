"""BCD (two decimal digits a byte): the one digit walker of every numeric value format.

Used by the social security cn items and dates (sscard.codec.fields) and by the PBOC n,
cn, date, time and amount formats (sscard.codec.pboc_formats).  Two layouts exist:

right-justified (n)        every nibble is a digit:           "000123" <- 00 01 23
left-justified (cn)        digits, then F nibbles as padding: "6212"   <- 62 12 FF

Strict: a nibble A–E (or F where no padding is allowed) and a digit after F padding are
DecodeErrors at the offset of the byte holding them, never a guess.
"""

from __future__ import annotations

from sscard.errors import DecodeError


def decode_digits(raw: bytes, base: int = 0, *, f_padding: bool) -> str:
    """The digits of `raw` ("" when it is all padding); `f_padding`: trailing F nibbles are
    padding (cn), else every nibble must be a digit (n)."""
    text = bytes(raw).hex()
    digits = text.rstrip("f") if f_padding else text
    if digits.isdigit() or not digits:  # the common case: no bad nibble, no inner F
        return digits
    _raise_first_error(bytes(raw), base, f_padding)
    raise AssertionError("unreachable: a value that is not digits has a first bad nibble")


def _raise_first_error(raw: bytes, base: int, f_padding: bool) -> None:
    padding = False
    for i, byte in enumerate(raw):
        for nibble in (byte >> 4, byte & 0x0F):
            if nibble == 0xF and f_padding:
                padding = True
            elif nibble > 9:
                raise DecodeError(f"invalid BCD nibble {nibble:X}", offset=base + i)
            elif padding:
                raise DecodeError("digit after F padding", offset=base + i)


def encode_digits(digits: str, length: int, *, f_padding: bool) -> bytes:
    """`length` bytes holding `digits`: left-justified and F-padded (cn), or right-justified
    and 0-padded (n).  The caller checks that `digits` are decimal and fit."""
    width = 2 * length
    return bytes.fromhex(digits.ljust(width, "F") if f_padding else digits.rjust(width, "0"))
