"""Value formats of the PBOC / EMV data objects (JR/T 0025.5 annex A;
docs/card-facts.md#pboc-value-formats).

Each format turns a value field (no tag, no length) into a Python value and back:

b          raw bytes                      -> "9F7A01" style upper-case hex
n          BCD numeric, right-justified   -> all digits, leading zeros kept ("0156")
cn         BCD, left-justified, F-padded  -> the digits ("6212345678901234567")
an, ans    ASCII text (an: letters/digits only) -> str; trailing 00 padding is dropped
text       GBK text (ASCII is a subset)   -> str; trailing 00 padding is dropped
date       n6 YYMMDD                      -> datetime.date (YY 00-49 = 20YY, 50-99 = 19YY)
time       n6 HHMMSS                      -> datetime.time
amount     n12                            -> int, minor units (fen)
counter    unsigned big-endian binary     -> int
dol        tag + 1-byte length list       -> [{tag = "9F02", length = 6}, ...]
afl        4-byte entries                 -> [{sfi, first, last, offline}, ...]
log_entry  SFI + record count (2 bytes)   -> {sfi = 11, records = 10}
track2     PAN D YYMM service code discretionary, F-padded
                                          -> {pan, expiry = "YYMM", service_code, discretionary}
gpo_format1  AIP (2 bytes) + AFL          -> {aip = "7C00", afl = [...]}
template   constructed BER-TLV            -> handled by the model (children decoded by tag)

Decoding is strict: a bad nibble, a bad date or undecodable text is a DecodeError with
the byte offset, never a guess.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sscard.codec import bcd
from sscard.codec.dol import encode_dol, parse_dol
from sscard.codec.fields import decode_an
from sscard.errors import DecodeError

FORMATS = frozenset(
    {
        "b",
        "n",
        "cn",
        "an",
        "ans",
        "text",
        "date",
        "time",
        "amount",
        "counter",
        "dol",
        "afl",
        "log_entry",
        "track2",
        "gpo_format1",
        "template",
    }
)


def decode(fmt: str, raw: bytes, base: int = 0) -> Any:
    raw = bytes(raw)
    if fmt == "b":
        return raw.hex().upper()
    if fmt in ("n", "cn"):
        return bcd.decode_digits(raw, base, f_padding=fmt == "cn")
    if fmt in ("an", "ans", "text"):
        # the one text decoder (00 padding, the rule for card text): sscard.codec.fields
        decoded = decode_an(raw, "gbk" if fmt == "text" else "ascii", base) or ""
        if fmt == "an":  # letters and digits only
            bad = next((i for i, c in enumerate(decoded) if not c.isalnum()), None)
            if bad is not None:
                raise DecodeError(f"byte {raw[bad]:02X} is not an text", offset=base + bad)
        return decoded
    if fmt == "date":
        d = bcd.decode_digits(_fixed(raw, 3, base), base, f_padding=False)
        year = int(d[:2])
        try:
            return _dt.date(2000 + year if year < 50 else 1900 + year, int(d[2:4]), int(d[4:]))
        except ValueError:
            raise DecodeError("invalid calendar date", offset=base) from None
    if fmt == "time":
        d = bcd.decode_digits(_fixed(raw, 3, base), base, f_padding=False)
        try:
            return _dt.time(int(d[:2]), int(d[2:4]), int(d[4:]))
        except ValueError:
            raise DecodeError("invalid time of day", offset=base) from None
    if fmt == "amount":
        return int(bcd.decode_digits(_fixed(raw, 6, base), base, f_padding=False))
    if fmt == "counter":
        return int.from_bytes(raw, "big")
    if fmt == "dol":
        return [{"tag": f"{t:X}", "length": n} for t, n in parse_dol(raw, base)]
    if fmt == "afl":
        if not raw or len(raw) % 4:
            raise DecodeError("an AFL is a multiple of 4 bytes", offset=base)
        out = []
        for i in range(0, len(raw), 4):
            sfi_byte, first, last, offline = raw[i : i + 4]
            if (
                sfi_byte & 0x07
                or not 1 <= sfi_byte >> 3 <= 30
                or first == 0
                or last < first
                or offline > last - first + 1
            ):
                raise DecodeError("invalid AFL entry", offset=base + i)
            out.append({"sfi": sfi_byte >> 3, "first": first, "last": last, "offline": offline})
        return out
    if fmt == "log_entry":
        sfi, count = _fixed(raw, 2, base)
        return {"sfi": sfi, "records": count}
    if fmt == "track2":
        hexed = raw.hex().upper()
        if hexed.count("D") != 1:
            raise DecodeError("track 2 data needs one D separator", offset=base)
        pan, rest = hexed.rstrip("F").split("D")
        if not (pan.isdigit() and rest.isdigit() and len(rest) >= 7):
            raise DecodeError("invalid track 2 data", offset=base)
        return {
            "pan": pan,
            "expiry": rest[:4],
            "service_code": rest[4:7],
            "discretionary": rest[7:],
        }
    if fmt == "gpo_format1":
        if len(raw) < 6:
            raise DecodeError("format 1 needs an AIP and an AFL", offset=base)
        return {"aip": raw[:2].hex().upper(), "afl": decode("afl", raw[2:], base + 2)}
    raise DecodeError(f"format {fmt} has no value decoder")


def encode(fmt: str, value: Any, length: int | None = None) -> bytes:
    """Value bytes; `length` pads or checks to a fixed size (None = the natural size)."""
    if fmt == "b":
        raw = bytes.fromhex(value)
    elif fmt in ("n", "cn"):  # n: right-justified, 0-padded; cn: left-justified, F-padded
        _digits(value)
        size = length or (len(value) + 1) // 2  # bytes: the given length, else the natural one
        if len(value) > 2 * size:
            raise ValueError("numeric value too long")
        raw = bcd.encode_digits(value, size, f_padding=fmt == "cn")
    elif fmt in ("an", "ans", "text"):
        raw = value.encode("gbk" if fmt == "text" else "ascii")
        if decode(fmt, raw) != value:  # rejects NUL, control and non-an characters
            raise ValueError(f"not {fmt} text")
    elif fmt == "date":
        if not isinstance(value, _dt.date) or not 1950 <= value.year <= 2049:
            raise ValueError("a date from 1950 to 2049 is required")
        raw = bytes.fromhex(value.strftime("%y%m%d"))
    elif fmt == "time":
        if not isinstance(value, _dt.time):
            raise ValueError("a time of day is required")
        raw = bytes.fromhex(value.strftime("%H%M%S"))
    elif fmt == "amount":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**12:
            raise ValueError("an amount is 0 to 999999999999 minor units")
        raw = bytes.fromhex(f"{value:012d}")
    elif fmt == "counter":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError("a counter is a non-negative integer")
        raw = value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big")
    elif fmt == "dol":
        raw = encode_dol([(int(e["tag"], 16), e["length"]) for e in value])
    elif fmt == "afl":
        raw = b"".join(bytes((e["sfi"] << 3, e["first"], e["last"], e["offline"])) for e in value)
        decode("afl", raw)  # same checks both ways
    elif fmt == "log_entry":
        raw = bytes((value["sfi"], value["records"]))
    elif fmt == "track2":
        text = f"{value['pan']}D{value['expiry']}{value['service_code']}{value['discretionary']}"
        raw = bytes.fromhex(text + "F" * (len(text) % 2))
    elif fmt == "gpo_format1":
        raw = bytes.fromhex(value["aip"]) + encode("afl", value["afl"])
    else:
        raise ValueError(f"format {fmt} has no value encoder")
    if length is not None and len(raw) != length:
        if fmt in ("an", "ans", "text") and len(raw) < length:
            return raw.ljust(length, b"\x00")  # text is padded with 00 (JR/T 0025.4 §5.3)
        raise ValueError(f"value has {len(raw)} bytes, expected {length}")
    return raw


def _digits(value: Any) -> None:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError("digits required")


def _fixed(raw: bytes, n: int, base: int) -> bytes:
    if len(raw) != n:
        raise DecodeError(f"value has {len(raw)} bytes, expected {n}", offset=base)
    return raw
