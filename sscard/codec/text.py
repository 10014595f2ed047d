"""The one rule for text a card gives us: every character must show as itself.

Card text reaches terminals (`--reveal`), JSON documents, logs and the `|`-separated
iReadCardBas string, and a card is untrusted input.  So every text decoder (the social
security `an` items and the PBOC `an`, `ans` and `text` formats) applies this rule and
rejects, as a DecodeError with the byte offset, any character that a terminal or a viewer
could act on instead of showing:

* control characters (Unicode Cc): C0 (00–1F, ESC among them), DEL (7F), C1 (80–9F);
* format characters (Cf): bidi embeddings, overrides and isolates (U+202A–202E,
  U+2066–2069), marks (U+200E, U+200F, U+061C), zero-width characters, soft hyphen, BOM;
* surrogates, private-use and unassigned code points (Cs, Co, Cn);
* the line and paragraph separators U+2028, U+2029 (Zl, Zp).

Rejecting rather than escaping keeps one meaning for a value everywhere (human, JSON,
iReadCardBas, masked or not): a card that carries such text is a card that answers garbage.

Text is stored left-aligned and padded with 00 bytes in every format; `strip_padding` is the
one place that removes that padding.
"""

from __future__ import annotations

import unicodedata

from sscard.errors import DecodeError

_UNSAFE_SEPARATORS = frozenset({"Zl", "Zp"})


def unsafe_index(text: str) -> int | None:
    """Index of the first character the rule rejects, or None when the text is safe."""
    if text.isprintable():  # the common case, in C: no C* and no separator but the space
        return None
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] == "C" or category in _UNSAFE_SEPARATORS:
            return i
    return None  # only spaces such as U+3000 (ideographic space) made isprintable() false


def strip_padding(raw: bytes, base: int = 0) -> bytes:
    """Text without its trailing 00 padding (every text format pads with 00); a byte other
    than 00 after the padding began is a DecodeError at its offset."""
    end = raw.find(b"\x00")
    if end < 0:
        return raw
    tail = raw[end:]
    if tail.count(0) != len(tail):
        bad = end + next(i for i, b in enumerate(tail) if b)
        raise DecodeError("data after 00 padding", offset=base + bad)
    return raw[:end]


def describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_text(text: str, encoding: str, base: int = 0) -> str:
    """`text` when it is safe; else a DecodeError at the byte offset of the first bad
    character (`encoding`: how the text was stored, to turn its index into bytes)."""
    bad = unsafe_index(text)
    if bad is None:
        return text
    offset = base + len(text[:bad].encode(encoding))
    raise DecodeError(
        f"control or formatting character {describe(text[bad])} in text",
        offset=offset,
        zh=f"文本中有控制或格式字符 {describe(text[bad])}",
    )
