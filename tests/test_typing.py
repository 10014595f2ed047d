"""The package's types are part of what it ships (PEP 561)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from sscard.bank.crosscheck import Outcome
from sscard.bank.results import RecordsStatus, Selection
from sscard.results import AppState
from sscard.ssse.results import Authenticity, HolderStatus, Layout
from sscard.ssse.select import Probe
from sscard.status import VerdictCode

ROOT = Path(__file__).resolve().parents[1]


def test_the_type_marker_ships_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert (ROOT / "sscard" / "py.typed").is_file()
    assert "py.typed" in config["package-data"]["sscard"]


@pytest.mark.parametrize(
    "enum",
    [
        Layout,
        Authenticity,
        Selection,
        VerdictCode,
        Outcome,
        AppState,
        HolderStatus,
        RecordsStatus,
        Probe,
    ],
)
def test_tri_states_print_and_serialise_as_their_words(enum):
    # the JSON documents and the printed views show these words: an enum must not change them
    for member in enum:
        assert isinstance(member, str)
        assert json.dumps({"v": member}) == json.dumps({"v": member.value})
        assert f"{member}" == str(member) == member.value
        assert member == member.value
