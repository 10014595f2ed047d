"""Contents of the transparent EFs of an emulated card (EF07 fingerprint, EF08 photo).

A persona may give a file's bytes as hex (its [transparent] table); otherwise the file holds
a clearly synthetic pattern, deterministic per persona: never anyone's fingerprint or face,
yet different from offset to offset and from persona to persona, so that a reader joining
chunks at the wrong offset, or serving another card's file, cannot go unnoticed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sscard.errors import SpecError
from sscard.spec import Spec
from sscard.spec.loader import Fields
from sscard.spec.model import ElementaryFile

if TYPE_CHECKING:
    from sscard.emulator.persona import Persona

PADDING = b"\x00"  # what an issuer leaves after content shorter than the file
PHOTO_FILES = {"ef08"}  # framed as a JPEG, so that a viewer shows "broken image", not noise
JFIF_APP0 = bytes.fromhex("FFE000104A46494600010100000100010000")


def load_transparent(top: Fields, where: str) -> dict[str, bytes]:
    """The persona's [transparent] table: file key -> content (hex, never quoted in errors)."""
    table = Fields(top.get("transparent", dict, {}), f"{where} [transparent]")
    out = {key: table.hex(key) for key in list(table.table)}
    table.done()
    return out


def transparent_contents(spec: Spec, persona: Persona) -> dict[str, bytes]:
    """file key -> the whole content of each transparent EF this card holds."""
    where = f"persona {persona.name}: [transparent]"
    held = {
        key: ef
        for key, ef in spec.ssse.files.items()
        if ef.transparent and ef.held_by(persona.generation) and persona.layout == "ssse"
    }
    extra = sorted(set(persona.transparent) - set(held))
    if extra:
        raise SpecError(
            f"{where} has keys that are not transparent files of this card "
            f"(generation {persona.generation}, layout {persona.layout}): {extra}"
        )
    out = {}
    for key, ef in held.items():
        given = persona.transparent.get(key)
        if given is None:
            out[key] = synthetic_content(ef, persona.name)
        elif len(given) > ef.size:
            raise SpecError(f"{where} {key} holds at most {ef.size} bytes")
        else:
            out[key] = given + PADDING * (ef.size - len(given))
    return out


def synthetic_content(ef: ElementaryFile, persona_name: str) -> bytes:
    marker = f"sscard synthetic {ef.key} ({ef.en}) of persona {persona_name}: not a person's data"
    text = marker.encode("utf-8")
    if ef.key not in PHOTO_FILES:
        body = text + _stream(f"{persona_name}/{ef.key}", ef.size - len(text))
        return body[: ef.size]
    # SOI, JFIF APP0, a comment with the marker, a comment with pseudo-random bytes, EOI
    filler = _stream(f"{persona_name}/{ef.key}", ef.size // 2)
    photo = (
        b"\xff\xd8" + JFIF_APP0 + _segment(0xFFFE, text) + _segment(0xFFFE, filler) + b"\xff\xd9"
    )
    if len(photo) > ef.size:
        raise SpecError(f"{ef.key}: a file of {ef.size} bytes is too small for a synthetic photo")
    return photo + PADDING * (ef.size - len(photo))


def _segment(marker: int, payload: bytes) -> bytes:
    return marker.to_bytes(2, "big") + (len(payload) + 2).to_bytes(2, "big") + payload


def _stream(seed: str, length: int) -> bytes:
    """`length` pseudo-random bytes: SHA-256 in counter mode over the seed."""
    blocks = (
        hashlib.sha256(f"{seed}/{n}".encode()).digest() for n in range((max(length, 0) + 31) // 32)
    )
    return b"".join(blocks)[: max(length, 0)]
