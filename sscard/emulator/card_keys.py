"""The emulated card's own keys, diversified from the published test root keys
(test_keys.toml) with the card's region code and ATR, as an issuer personalises a card."""

from __future__ import annotations

import functools
import os

from sscard.crypto import Algorithm, algorithm_from_id, derive_card_key
from sscard.errors import SpecError
from sscard.spec.loader import Fields, read_toml

TEST_KEYS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_keys.toml")


@functools.cache
def test_root_keys() -> dict[str, dict[str, bytes]]:
    """key name -> algorithm identifier -> root key."""
    top = Fields(read_toml(TEST_KEYS), "test_keys.toml")
    keys = Fields(top.get("keys", dict), "test_keys.toml [keys]")
    out = {}
    for name in list(keys.table):
        per_algorithm = Fields(keys.get(name, dict), f"test_keys.toml [keys.{name}]")
        out[name] = {code: per_algorithm.hex(code) for code in list(per_algorithm.table)}
        per_algorithm.done()
    keys.done()
    top.done()
    return out


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
    roots = test_root_keys()
    try:
        return algorithm, {
            name: derive_card_key(algorithm, by_alg[algorithm.code], region, atr)
            for name, by_alg in roots.items()
            if algorithm.code in by_alg
        }
    except KeyError as e:
        raise SpecError(f"test_keys.toml: {e}") from None
