"""apdu_specs/messages.toml: the bilingual texts sscard shows (findings, verdicts, what the
chip cannot tell, advice, cross-check outcomes, the errors' default texts), in one catalogue.

Read on the first text asked for, not when sscard starts, and validated then like every
spec file: every entry has a non-empty `en` and `zh` and nothing else (a finding also its
`severity`); a `{name}` in a text is a plain name the code fills in.
"""

from __future__ import annotations

import _thread
import os
from collections.abc import Mapping

from sscard import errors
from sscard.spec.loader import Fields, read_toml, spec_dir

FILE = "messages.toml"
SECTIONS = ("finding", "verdict", "not_on_chip", "advice", "cross_check", "error")
SEVERITIES = {"info", "warning"}


class Message:
    """One entry: its English and Chinese text (a plain class: this module is imported on
    the read path, where a dataclass would cost more start-up time than the read)."""

    __slots__ = ("en", "zh", "severity")

    def __init__(self, en: str, zh: str, severity: str | None = None) -> None:
        self.en, self.zh = en, zh
        self.severity = severity  # findings only: info | warning

    def __repr__(self) -> str:
        return f"Message(en={self.en!r}, zh={self.zh!r}, severity={self.severity!r})"

    def format(self, **fields: object) -> tuple[str, str]:
        """(en, zh) with the `{name}`s filled in (a name not given is a KeyError)."""
        return self.en.format(**fields), self.zh.format(**fields)


def _text(f: Fields, key: str) -> str:
    import string  # only when the catalogue is read

    text: str = f.get(key, str)
    if not text.strip():
        raise errors.SpecError(f"{f.where}: '{key}' is empty")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise errors.SpecError(f"{f.where}: '{key}' has an unpaired brace") from None
    for _literal, name, spec, conversion in parsed:
        if name is not None and (not name.isidentifier() or spec or conversion):
            raise errors.SpecError(f"{f.where}: '{key}' fills in {{{name}}}: only plain names")
    return text


def parse_messages(doc: Mapping[str, object], where: str = FILE) -> dict[str, Message]:
    """Every entry as "section.key" -> Message, or a SpecError naming the entry."""
    top = Fields(doc, where)
    out: dict[str, Message] = {}
    for section in SECTIONS:
        entries = Fields(top.get(section, dict, {}), f"{where} [{section}]")
        for key in list(entries.table):
            f = Fields(entries.get(key, dict), f"{where} [{section}.{key}]")
            severity = f.choice("severity", SEVERITIES) if section == "finding" else None
            out[f"{section}.{key}"] = Message(_text(f, "en"), _text(f, "zh"), severity)
            f.done()
        entries.done()
    top.done()
    return out


_catalogues: dict[str | None, Mapping[str, Message]] = {}
_catalogues_lock = _thread.allocate_lock()


def catalogue(directory: str | None = None) -> Mapping[str, Message]:
    """The catalogue in `directory` (default: the installed apdu_specs/), read once, even
    when several threads ask for it first at once (functools.cache does not lock)."""
    found = _catalogues.get(directory)
    if found is None:
        with _catalogues_lock:
            found = _catalogues.get(directory)
            if found is None:
                path = os.path.join(directory or spec_dir(), FILE)
                found = _catalogues[directory] = parse_messages(read_toml(path))
    return found


def message(key: str) -> Message:
    """The entry "section.key"; a key the catalogue lacks is a SpecError."""
    found = catalogue().get(key)
    if found is None:
        raise errors.SpecError(f"{FILE}: no entry {key!r}")
    return found


def text(key: str, /, **fields: object) -> tuple[str, str]:
    """(en, zh) of the entry "section.key", its `{name}`s filled in from `fields`."""
    return message(key).format(**fields)
