"""The emulated card's own keys, diversified from the published test root keys
(test_keys.toml) with the card's region code and ATR, as an issuer personalises a card."""

from __future__ import annotations

from sscard.crypto import Algorithm, algorithm_from_id, derive_card_key
from sscard.crypto.key_file import TEST_KEYS, published_roots
from sscard.errors import SpecError

__all__ = ["TEST_KEYS", "card_keys"]


def card_keys(
    algorithm_code: bytes, region: str, atr: bytes
) -> tuple[Algorithm, dict[str, bytes]] | None:
    """(algorithm, key name -> card key), or None when the card has no usable algorithm
    (no FCI identifier, or SSF33, which no public library implements)."""
    if not algorithm_code:
        return None
    algorithm, _ = algorithm_from_id(algorithm_code.hex().upper())
    if algorithm is Algorithm.SSF33:
        return None
    roots = published_roots()
    try:
        return algorithm, {
            name: derive_card_key(algorithm, by_alg[algorithm.code], region, atr)
            for name, by_alg in roots.items()
            if algorithm.code in by_alg
        }
    except KeyError as e:
        raise SpecError(f"test_keys.toml: {e}") from None
