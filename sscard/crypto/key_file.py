"""The one parser of root-key files: a user's key file (`sscard read --keys FILE`,
$SSCARD_KEYS_FILE, $SSCARD_KEYS) and the published test roots (test_keys.toml) that both
the emulator's cards and `--keys test` use.

    [keys.RKSSSE]          # a key name
    "01" = "32 hex digits" # algorithm identifier (FCI 9F0C/86) = root key

Strictly checked; an error names only what is known to be no secret (the key names and
algorithm identifiers): in a malformed file any other word may be a key typed in the
wrong place, so the file's text is never quoted.
"""

from __future__ import annotations

import functools
import os
import tomllib

from sscard import errors

KEY_NAMES = ("IRK", "RKSSSE")  # the keys an identity read uses
ALGORITHM_CODES = ("01", "02", "03")
KEY_LENGTH = 16
MAX_KEY_FILE = 64 * 1024
# PUBLISHED test roots, shipped with the emulator; found without importing it
TEST_KEYS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "emulator", "test_keys.toml")

RootKeys = dict[str, dict[str, bytes]]  # key name -> algorithm identifier -> root key


def parse_key_file(
    text: str, where: str, error: type[errors.SscardError] = errors.InvalidArgument
) -> RootKeys:
    """[keys.NAME] "alg id" = "hex" tables; anything else is `error`."""
    if len(text) > MAX_KEY_FILE:
        raise error(f"{where} is larger than {MAX_KEY_FILE // 1024} KiB: not a key file")
    try:
        doc = tomllib.loads(text)
    except ValueError:  # TOMLDecodeError, or int() past its digit limit inside tomllib
        raise error(f"{where} is not a valid key file (TOML)") from None
    except RecursionError:
        raise error(f"{where} is nested too deeply") from None
    layout = (
        f"{where}: a key file holds only [keys.NAME] tables (NAME: "
        f'{", ".join(KEY_NAMES)}) of "algorithm id" = "32 hex digits" lines '
        f"(algorithm id: {', '.join(ALGORITHM_CODES)})"
    )
    keys = doc.get("keys")
    if set(doc) != {"keys"} or not isinstance(keys, dict):
        raise error(layout)
    out: RootKeys = {}
    for name, per_algorithm in keys.items():
        if name not in KEY_NAMES or not isinstance(per_algorithm, dict):
            raise error(layout)
        out[name] = {}
        for code, value in per_algorithm.items():
            if code not in ALGORITHM_CODES:
                raise error(layout)
            try:
                key = bytes.fromhex(value) if isinstance(value, str) else b""
            except ValueError:
                key = b""
            if len(key) != KEY_LENGTH:
                raise error(f'{where}: [keys.{name}] "{code}" must be 32 hex digits (16 bytes)')
            out[name][code] = key
    return out


@functools.cache
def _published_roots() -> RootKeys:
    with open(TEST_KEYS, encoding="utf-8") as f:
        return parse_key_file(f.read(), "test_keys.toml", errors.SpecError)


def published_roots() -> RootKeys:
    """The published test roots of test_keys.toml (a copy: the parsed file is kept)."""
    return {name: dict(by_algorithm) for name, by_algorithm in _published_roots().items()}
