"""Where authentication cryptograms come from.

A key source answers two questions for one card: the cryptogram for EXTERNAL AUTHENTICATE
(RKSSSE, which opens EF06 on generation-3 cards) and the answer a genuine card must give to
INTERNAL AUTHENTICATE (IRK).  Software root keys are for labs and tests; a PSAM or a platform
HSM does the same in production (the card key never leaves them).

Keys come from a key file or an environment variable, never from the command line, and are
never logged, printed or put in exception text (repr shows no key).
"""

from __future__ import annotations

import os
from typing import NamedTuple, Protocol

from sscard import errors
from sscard.crypto import Algorithm, authentication_data, derive_card_key

ENV_FILE = "SSCARD_KEYS_FILE"  # path of a key file
ENV_INLINE = "SSCARD_KEYS"  # the key file's content itself
TEST = "test"  # the published test root keys of the emulator


class AuthContext(NamedTuple):
    """What a key source needs to know about the card."""

    algorithm: Algorithm
    region: str  # 卡识别码 first 6 digits
    atr: bytes


class KeySource(Protocol):
    description: str
    rk_reference: int  # card-side key reference of RKSSSE in EXTERNAL AUTHENTICATE (P2)

    def external_cryptogram(self, card: AuthContext, challenge: bytes, original: bytes) -> bytes:
        """8 bytes proving RKSSSE over the card's challenge (the process factor)."""

    def internal_expected(self, card: AuthContext, random: bytes, original: bytes) -> bytes | None:
        """What a genuine card answers to INTERNAL AUTHENTICATE; None if this source cannot tell."""


class SoftwareKeys:
    """Root keys held in memory: RKSSSE and IRK per algorithm identifier."""

    def __init__(
        self, roots: dict[str, dict[str, bytes]], description: str, rk_reference: int = 0x0A
    ) -> None:
        self._roots = roots
        self.description = description
        self.rk_reference = rk_reference

    def __repr__(self) -> str:  # never the keys
        return f"SoftwareKeys({self.description!r})"

    def _card_key(self, name: str, card: AuthContext) -> bytes | None:
        root = self._roots.get(name, {}).get(card.algorithm.code)
        return (
            None if root is None else derive_card_key(card.algorithm, root, card.region, card.atr)
        )

    def external_cryptogram(self, card: AuthContext, challenge: bytes, original: bytes) -> bytes:
        key = self._card_key("RKSSSE", card)
        if key is None:
            raise errors.InvalidArgument(
                f"the key source '{self.description}' has no RKSSSE key for algorithm "
                f"{card.algorithm.code}"
            )
        return authentication_data(card.algorithm, key, challenge, original)

    def internal_expected(self, card: AuthContext, random: bytes, original: bytes) -> bytes | None:
        key = self._card_key("IRK", card)
        return None if key is None else authentication_data(card.algorithm, key, random, original)


def _read_key_file(path: str) -> str:
    """A regular file of at most MAX_KEY_FILE bytes (never a FIFO or a device)."""
    from sscard import inputs
    from sscard.crypto.key_file import MAX_KEY_FILE

    return inputs.read_text_file(path, limit=MAX_KEY_FILE, what="the key file")


def load_keys(choice: str | None) -> SoftwareKeys | None:
    """A key source: `choice` is a key file path or "test"; None falls back to the environment
    (SSCARD_KEYS_FILE, then SSCARD_KEYS), and to no keys at all."""
    if choice != TEST and not (choice or os.environ.get(ENV_FILE) or os.environ.get(ENV_INLINE)):
        return None  # no keys: the key-file parser (and tomllib) is not even imported
    from sscard.crypto.key_file import parse_key_file, published_roots

    if choice == TEST:
        return SoftwareKeys(published_roots(), "published TEST keys")
    path = choice or os.environ.get(ENV_FILE)
    if path:
        return SoftwareKeys(
            parse_key_file(_read_key_file(path), "key file"), f"key file {os.path.basename(path)}"
        )
    inline = os.environ.get(ENV_INLINE)
    if inline:
        return SoftwareKeys(parse_key_file(inline, ENV_INLINE), ENV_INLINE)
    return None
