"""One parser for root-key files (sscard.crypto.key_file): the user's key files and the
published test roots the emulator's cards and `--keys test` share."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sscard import errors
from sscard.auth.keysource import load_keys
from sscard.crypto.key_file import TEST_KEYS, parse_key_file, published_roots
from sscard.emulator import card_keys

SHIPPED = Path(__file__).resolve().parents[1] / "sscard" / "emulator" / "test_keys.toml"


def test_the_published_roots_are_the_shipped_file():
    assert Path(TEST_KEYS).resolve() == SHIPPED and Path(card_keys.TEST_KEYS) == Path(TEST_KEYS)
    raw = tomllib.loads(SHIPPED.read_text("utf-8"))["keys"]  # the oracle: plain TOML
    expected = {name: {c: bytes.fromhex(k) for c, k in by.items()} for name, by in raw.items()}
    assert published_roots() == expected
    assert load_keys("test")._roots == expected  # `--keys test` reads the same roots


def test_the_published_roots_cannot_be_changed_by_a_caller():
    published_roots()["IRK"]["01"] = bytes(16)
    assert published_roots()["IRK"]["01"] != bytes(16)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[keys.XYZ]\n"01" = "00"', "holds only"),
        ('[keys.IRK]\n"09" = "' + "00" * 16 + '"', "holds only"),
        ('[keys.IRK]\n"01" = "SECRETSECRET"', r'\[keys.IRK\] "01" must be 32 hex digits'),
        ("keys = [", "is not a valid key file"),
    ],
)
def test_one_parser_many_error_kinds(text, message):
    for error in (errors.InvalidArgument, errors.SpecError):
        with pytest.raises(error, match=message) as raised:
            parse_key_file(text, "where", error)
        assert "SECRET" not in str(raised.value)
