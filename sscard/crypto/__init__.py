"""Cryptography of the social security card (LD/T 32.4; docs/card-facts.md#authentication):
the block ciphers come from the `cryptography` package; here are only the card's rules for
using them."""

from sscard.crypto.ciphers import (
    Algorithm,
    algorithm_from_id,
    decrypt_ecb,
    encrypt_cbc,
    encrypt_ecb,
)
from sscard.crypto.keys import (
    authentication_data,
    card_factor,
    city_factor,
    derive_card_key,
    diversify,
    province_factor,
    session_key,
)
from sscard.crypto.mac import mac

__all__ = [
    "Algorithm",
    "algorithm_from_id",
    "authentication_data",
    "card_factor",
    "city_factor",
    "decrypt_ecb",
    "derive_card_key",
    "diversify",
    "encrypt_cbc",
    "encrypt_ecb",
    "mac",
    "province_factor",
    "session_key",
]
