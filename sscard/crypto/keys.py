"""Key diversification, session keys and authentication data
(docs/card-facts.md#key-diversification, #authentication).

Card keys are diversified from a root key in three levels — province, city, card — with
8-byte factors; a session key comes from the card key and a random (the card's last GET
CHALLENGE for EXTERNAL AUTHENTICATE); the authentication data is the original data
encrypted with the session key.
"""

from __future__ import annotations

from sscard import errors
from sscard.crypto.ciphers import Algorithm, encrypt_ecb

ZHEJIANG = "33"  # SC-RW §10.3: this province's city factor uses 4 digits


def _region(region: str) -> str:
    if not (isinstance(region, str) and len(region) == 6 and region.isdigit()):
        raise errors.InvalidArgument("a region code is 6 digits")
    return region


def province_factor(region: str) -> bytes:
    """Level 1: the first two digits of the region code ‖ "0000sh" (ASCII)."""
    return _region(region)[:2].encode("ascii") + b"0000sh"


def city_factor(region: str) -> bytes:
    """Level 2: the six digits ‖ "sx"; Zhejiang (33…): the first four digits ‖ "00sx"."""
    region = _region(region)
    if region.startswith(ZHEJIANG):
        return region[:4].encode("ascii") + b"00sx"
    return region.encode("ascii") + b"sx"


def card_factor(atr: bytes) -> bytes:
    """Level 3: the ATR's historical bytes T6–TD (SPEC-P9 §7.3.3), found by parsing the ATR
    (apdu_specs/atr.toml, sscard.codec.atr): an ATR announcing T=1, and every contactless
    one, ends with TCK, so they are not its last 8 bytes.  DecodeError for an ATR that
    does not parse or has too few historical bytes."""
    from sscard.spec import load_spec  # here: the spec is loaded once, and only when keys are used

    return load_spec().atr.card_factor(atr)


def diversify(algorithm: Algorithm, key: bytes, factor: bytes) -> bytes:
    """One level: 3DES: E(K, f) ‖ E(K, ¬f); SM4: E(K, f ‖ ¬f) as one block."""
    if len(factor) != 8:
        raise errors.InvalidArgument(f"a diversification factor has 8 bytes, not {len(factor)}")
    inverted = bytes(b ^ 0xFF for b in factor)
    if algorithm.block == 8:
        return encrypt_ecb(algorithm, key, factor) + encrypt_ecb(algorithm, key, inverted)
    return encrypt_ecb(algorithm, key, factor + inverted)


def derive_card_key(algorithm: Algorithm, root_key: bytes, region: str, atr: bytes) -> bytes:
    """Root key → province → city → card (three levels)."""
    key = diversify(algorithm, root_key, province_factor(region))
    key = diversify(algorithm, key, city_factor(region))
    return diversify(algorithm, key, card_factor(atr))


def session_key(algorithm: Algorithm, card_key: bytes, random: bytes) -> bytes:
    """8-byte blocks: E(K, random8) — a single-DES key; 16-byte blocks: E(K, random8 ‖ 00×8)."""
    if len(random) not in (4, 8, 16):
        raise errors.InvalidArgument(
            f"a session-key random has 4, 8 or 16 bytes, not {len(random)}"
        )
    if algorithm.block == 8:
        return encrypt_ecb(algorithm, card_key, bytes(random[:8]).ljust(8, b"\x00"))
    return encrypt_ecb(algorithm, card_key, bytes(random).ljust(16, b"\x00"))


def authentication_data(
    algorithm: Algorithm, card_key: bytes, random: bytes, original: bytes
) -> bytes:
    """The 8 bytes a card (INTERNAL) or a terminal (EXTERNAL AUTHENTICATE) proves itself with.

    `random` is the process factor (for EXTERNAL AUTHENTICATE: the card's last GET CHALLENGE),
    `original` the 8 bytes of original data sent alongside.  8-byte blocks: DES(session key,
    original); 16-byte blocks: E(session key, original ‖ 00×8), then left 8 XOR right 8.
    """
    if len(original) != 8:
        raise errors.InvalidArgument(f"the original data has 8 bytes, not {len(original)}")
    key = session_key(algorithm, card_key, random)
    if algorithm.block == 8:
        return encrypt_ecb(algorithm, key, bytes(original))
    block = encrypt_ecb(algorithm, key, bytes(original) + bytes(8))
    return bytes(a ^ b for a, b in zip(block[:8], block[8:], strict=False))
