"""ARCHITECTURE.md's walk-through, run: a new EF06 item takes its `[[file.item]]` in
apdu_specs/ssse.toml and a field of `HolderInfo`, nothing else.  The reader fills the field,
the emulator serves the item, a generated persona holds it, the text view labels it, the
JSON document carries it and a personal item is masked, all from the spec."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path

import pytest
from helpers import TODAY, RecordingTransport

from sscard import Card, errors
from sscard.cli import render
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona_new import new_persona
from sscard.spec.loader import build_spec, spec_dir
from sscard.ssse import reader
from sscard.ssse.results import HolderInfo
from sscard.transport.emulated import EmulatorTransport

# 1. the TOML: a hypothetical item after 出生日期, in generations 2 and 3
NATIONALITY = """
[[file.item]]
tag = "0E"
key = "nationality"
length = 3
encoding = "an"
charset = "ascii"
alphabet = "[A-Z]"
generations = [2, 3]
{privacy}
en = "Nationality"
zh = "国籍"
examples = [{{ hex = "0E03434E48", decoded = "CHN" }}]
"""


# 2. the field of HolderInfo (here a subclass standing in for the edited class)
@dataclass(frozen=True)
class HolderWithNationality(HolderInfo):
    nationality: str | None = None


@pytest.fixture(params=["public", "personal"])
def new_item(request, tmp_path, monkeypatch):
    for f in Path(spec_dir()).glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    privacy = 'privacy = "personal"\nmask = "name"' if request.param == "personal" else ""
    ssse = tmp_path / "ssse.toml"
    text = ssse.read_text(encoding="utf-8")
    anchor = "# Transparent files"
    assert anchor in text
    ssse.write_text(
        text.replace(anchor, NATIONALITY.format(privacy=privacy) + "\n" + anchor, 1),
        encoding="utf-8",
    )
    monkeypatch.setattr(reader, "HolderInfo", HolderWithNationality)
    return build_spec(str(tmp_path)), request.param


def test_a_new_ef06_item_is_read_shown_and_masked_from_the_spec(new_item, tmp_path):
    spec, privacy = new_item
    persona = tmp_path / "nationality.toml"
    persona.write_text(new_persona(2, "440305", 1, bank="none", spec=spec), encoding="utf-8")
    assert 'nationality = "CHN"' in persona.read_text(encoding="utf-8")  # from the example

    card = SocialSecurityCard.from_persona(persona, spec=spec)
    transport = RecordingTransport(EmulatorTransport(card, "nationality"))
    with Card(transport, spec=spec) as c:
        identity = c.read_identity(today=TODAY)
    assert identity.complete and identity.holder.nationality == "CHN"
    assert len(transport.sent) == 3  # still SELECT + one range read per file
    assert transport.sent[2][-1] == 0x5B + 5  # EF06's Le grew by the new record (0E 03 …)

    revealed = render.to_document(spec, identity, reveal=True, source={"description": "t"})
    assert list(revealed["holder"])[-2:] == ["birth_date", "nationality"]
    assert revealed["holder"]["nationality"] == "CHN"
    text = render.to_text(spec, revealed)
    assert "Nationality / 国籍" in text and "CHN" in text

    hidden = render.to_document(spec, identity, reveal=False, source={"description": "t"})
    masked = render.masked(spec, identity).holder.nationality
    if privacy == "personal":
        assert hidden["holder"]["nationality"] != "CHN" and masked != "CHN"
        assert "CHN" not in json.dumps(hidden, ensure_ascii=False)
    else:
        assert hidden["holder"]["nationality"] == "CHN" and masked == "CHN"


def test_an_item_without_its_result_field_is_a_spec_error(new_item, tmp_path, monkeypatch):
    """The TOML edited but not HolderInfo: a typed error naming the item, not a TypeError."""
    spec, _ = new_item
    monkeypatch.setattr(reader, "HolderInfo", HolderInfo)
    persona = tmp_path / "nationality.toml"
    persona.write_text(new_persona(2, "440305", 1, bank="none", spec=spec), encoding="utf-8")
    card = SocialSecurityCard.from_persona(persona, spec=spec)
    with Card(EmulatorTransport(card, "nationality"), spec=spec) as c:
        with pytest.raises(errors.SpecError, match="fields of HolderInfo differ: nationality$"):
            c.read_identity(today=TODAY)


def test_a_result_field_without_its_item_is_a_spec_error():
    """An item taken out of the TOML but not out of HolderInfo: named, typed."""
    fields = {f.name: None for f in dataclass_fields(HolderInfo) if f.name != "birthplace"}
    with pytest.raises(errors.SpecError, match="fields of HolderInfo differ: birthplace$"):
        reader._result(HolderInfo, fields)
