"""The package's types are part of what it ships (PEP 561)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_type_marker_ships_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert (ROOT / "sscard" / "py.typed").is_file()
    assert "py.typed" in config["package-data"]["sscard"]
