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


KEY_NAMES = ("IRK", "RKSSSE")  # the keys an identity read uses
ALGORITHM_CODES = ("01", "02", "03")
MAX_KEY_FILE = 64 * 1024


def parse_key_file(text: str, where: str) -> dict[str, dict[str, bytes]]:
    """[keys.NAME] "alg id" = "hex" tables, strictly checked.  An error names only what is
    known to be no secret (the key names and algorithm identifiers above): in a malformed
    file any other word may be a key typed in the wrong place."""
    from sscard import inputs

    if len(text) > MAX_KEY_FILE:
        raise errors.InvalidArgument(
            f"{where} is larger than {MAX_KEY_FILE // 1024} KiB: not a key file"
        )
    doc = inputs.parse_toml(text, where, invalid=f"{where} is not a valid key file (TOML)")
    layout = (
        f"{where}: a key file holds only [keys.NAME] tables (NAME: "
        f'{", ".join(KEY_NAMES)}) of "algorithm id" = "32 hex digits" lines '
        f"(algorithm id: {', '.join(ALGORITHM_CODES)})"
    )
    keys = doc.get("keys")
    if set(doc) != {"keys"} or not isinstance(keys, dict):
        raise errors.InvalidArgument(layout)
    out = {}
    for name, per_algorithm in keys.items():
        if name not in KEY_NAMES or not isinstance(per_algorithm, dict):
            raise errors.InvalidArgument(layout)
        out[name] = {}
        for code, value in per_algorithm.items():
            if code not in ALGORITHM_CODES:
                raise errors.InvalidArgument(layout)
            try:
                key = bytes.fromhex(value) if isinstance(value, str) else b""
            except ValueError:
                key = b""
            if len(key) != 16:
                raise errors.InvalidArgument(
                    f'{where}: [keys.{name}] "{code}" must be 32 hex digits (16 bytes)'
                )
            out[name][code] = key
    return out


def _read_key_file(path: str) -> str:
    """A regular file of at most MAX_KEY_FILE bytes (never a FIFO or a device)."""
    from sscard import inputs

    return inputs.read_text_file(path, limit=MAX_KEY_FILE, what="the key file")


def _test_keys_path() -> str:
    # the emulator's data file, found without importing the emulator
    import importlib.util

    package = importlib.util.find_spec("sscard.emulator")
    return os.path.join(list(package.submodule_search_locations)[0], "test_keys.toml")


def load_keys(choice: str | None) -> SoftwareKeys | None:
    """A key source: `choice` is a key file path or "test"; None falls back to the environment
    (SSCARD_KEYS_FILE, then SSCARD_KEYS), and to no keys at all."""
    if choice == TEST:
        with open(_test_keys_path(), encoding="utf-8") as f:
            return SoftwareKeys(parse_key_file(f.read(), "test keys"), "published TEST keys")
    path = choice or os.environ.get(ENV_FILE)
    if path:
        return SoftwareKeys(
            parse_key_file(_read_key_file(path), "key file"), f"key file {os.path.basename(path)}"
        )
    inline = os.environ.get(ENV_INLINE)
    if inline:
        return SoftwareKeys(parse_key_file(inline, ENV_INLINE), ENV_INLINE)
    return None
