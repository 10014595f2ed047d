"""apdu_specs/psam.toml → the PSAM facts shared by the terminal side (sscard.auth.psam) and the
emulated PSAM: key environments by card algorithm, key ids and usages, the terminal number.

Read through `load_spec().psam` on first access, so reading a card without a PSAM pays nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from sscard import errors
from sscard.spec import model as m
from sscard.spec.loader import Fields, examples, read_toml, value_codec

LEVEL_SHIFT = 5  # usage byte: bits 8–6 = diversification levels, bits 5–1 = key type
TYPE_MASK = 0x1F


class PsamEnvironment(NamedTuple):
    key: str
    name: bytes  # selected by name (SELECT 00 A4 04 00)
    algorithms: tuple[str, ...]  # FCI algorithm codes its keys serve
    en: str
    zh: str
    examples: tuple[m.Example, ...]


class PsamKey(NamedTuple):
    name: str  # IRK, RKSSSE
    id: int  # P2 of DELIVERY SESSION KEY
    usage: int  # P1 of DELIVERY SESSION KEY
    card_reference: int | None  # P2 of the card's EXTERNAL AUTHENTICATE, where it applies
    en: str
    zh: str
    examples: tuple[m.Example, ...]

    @property
    def levels(self) -> int:
        return usage_levels(self.usage)

    @property
    def type(self) -> int:
        return self.usage & TYPE_MASK


class PsamFile(NamedTuple):
    fid: int
    sfi: int
    codec: m.ValueCodec
    en: str
    zh: str
    examples: tuple[m.Example, ...]


class PsamSpec(NamedTuple):
    terminal_number: PsamFile
    environments: tuple[PsamEnvironment, ...]
    keys: Mapping[str, PsamKey]

    def environment_for(self, algorithm_code: str) -> PsamEnvironment | None:
        return next((e for e in self.environments if algorithm_code in e.algorithms), None)

    def environment(self, key: str) -> PsamEnvironment:
        for e in self.environments:
            if e.key == key:
                return e
        raise KeyError(key)


def usage_levels(usage: int) -> int:
    return usage >> LEVEL_SHIFT


def load_psam(directory: str) -> PsamSpec:
    """psam.toml in `directory`; Spec.psam calls this once, on first access."""
    doc = read_toml(os.path.join(directory, "psam.toml"))
    top = Fields(doc, "psam.toml")

    t = Fields(top.get("terminal_number", dict), "psam.toml [terminal_number]")
    fid = int.from_bytes(t.hex("fid", 2), "big")
    sfi = t.get("sfi", int)
    if not 1 <= sfi <= 30:
        raise errors.SpecError(f"{t.where}: sfi must be 1..30")
    terminal = PsamFile(fid, sfi, value_codec(t), t.get("en", str), t.get("zh", str), examples(t))
    t.done()

    environments = []
    for n, raw in enumerate(top.get("environment", list)):
        f = Fields(raw, f"psam.toml environment[{n}]")
        key = f.get("key", str)
        f.where = f"psam.toml environment {key}"
        algorithms = tuple(f.get("algorithms", list))
        if not algorithms or not all(isinstance(a, str) and len(a) == 2 for a in algorithms):
            raise errors.SpecError(f"{f.where}: algorithms are two-digit codes")
        environments.append(
            PsamEnvironment(
                key, f.hex("name"), algorithms, f.get("en", str), f.get("zh", str), examples(f)
            )
        )
        f.done()
    served = [a for e in environments for a in e.algorithms]
    if len(served) != len(set(served)):
        raise errors.SpecError("psam.toml: an algorithm is served by two environments")

    keys = {}
    for n, raw in enumerate(top.get("key", list)):
        f = Fields(raw, f"psam.toml key[{n}]")
        name = f.get("name", str)
        f.where = f"psam.toml key {name}"
        reference = f.hex("card_reference", 1, None)
        key = PsamKey(
            name,
            f.hex("id", 1)[0],
            f.hex("usage", 1)[0],
            None if reference is None else reference[0],
            f.get("en", str),
            f.get("zh", str),
            examples(f),
        )
        if not 1 <= key.levels <= 3:
            raise errors.SpecError(f"{f.where}: the usage byte gives {key.levels} levels, not 1..3")
        if name in keys:
            raise errors.SpecError(f"{f.where}: duplicate key name")
        keys[name] = key
        f.done()
    top.done()
    return PsamSpec(terminal, tuple(environments), m.frozen_map(keys))
