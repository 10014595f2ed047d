"""How logs name a card without saying whose it is.

A log line must let an operator follow one card through a day of kiosk events, yet a
log file is not a place for a card number or an ID number, and a masked value
(`A*******4`) both leaks part of the number and collides between cards.  So logs carry a
*card reference*: a keyed hash (HMAC-SHA-256) of the card identification code (卡识别码,
unique per card) and the ATR.  Without the key nobody can go from a reference back to a
card, or test a guessed card number against it.

The key comes from $SSCARD_LOG_KEY (any text; set it on every process of a site so that
their references agree); without it a random key is drawn once per process, so references
then match only within that process.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

ENV_KEY = "SSCARD_LOG_KEY"
REF_PREFIX = "card:"
REF_HEX_CHARS = 16  # 64 bits: no collisions among a country's cards in practice

_process_key = secrets.token_bytes(32)


def _key() -> bytes:
    configured = os.environ.get(ENV_KEY)
    if configured:
        return hashlib.sha256(b"sscard log key\x00" + configured.encode("utf-8")).digest()
    return _process_key


def card_ref(card_identification: str | None, atr: bytes | str | None = None) -> str:
    """`card:` + 16 hex characters naming this card in logs; the same card gives the same
    reference under the same key.  Either part may be missing (a card whose EF05 could not be
    read is named by its ATR alone)."""
    if isinstance(atr, bytes):
        atr = atr.hex()
    message = f"{(card_identification or '').upper()}|{(atr or '').upper()}".encode(
        "ascii", "replace"
    )
    digest = hmac.new(_key(), b"sscard card ref/1\x00" + message, hashlib.sha256).hexdigest()
    return REF_PREFIX + digest[:REF_HEX_CHARS]


def identity_ref(identity) -> str:
    """The card reference of a read `sscard.ssse.results.Identity`."""
    cid = identity.issuer.card_identification
    return card_ref(cid.hex if cid else None, identity.atr)
