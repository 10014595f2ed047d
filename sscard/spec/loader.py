"""Load apdu_specs/*.toml (standard-library tomllib) into the immutable model.

Validation is strict: an unknown key, a missing key, a wrong type or an item
without examples is a SpecError naming the file and the item, so a typo in the
spec cannot silently change behaviour.
"""

from __future__ import annotations

import _thread
import datetime as _dt
import importlib.util
import os
from collections.abc import Mapping
from typing import Any

from sscard import errors, inputs
from sscard.spec import model as m

ENCODINGS = {"cn", "an", "b"}
CHARSETS = {"ascii", "gbk"}
FORMATS = {"digits", "date"}
PRIVACY = {"public", "personal"}
MASKS = {"id", "name", "date", "region", "card_id", "card_number"}
CATEGORIES = {"ok", "warning", "more_data", "retry_le", "error"}
STRUCTURES = {"records", "transparent"}
GENERATIONS = (1, 2, 3)
LAYOUTS = {"ssse", "mf"}  # the SSSE selected by name | EF05 directly under the MF (Shanghai)


def spec_dir() -> str:
    """apdu_specs/ as installed: sscard/apdu_specs in the wheel, the top-level folder in a
    checkout.

    Found with find_spec and os.path: importlib.resources and pathlib would cost more start-up
    time than reading the whole spec.
    """
    try:
        found = importlib.util.find_spec("sscard.apdu_specs")
    except ModuleNotFoundError:
        found = None
    if found is not None and found.submodule_search_locations:
        return list(found.submodule_search_locations)[0]
    # a source tree that was not installed: the folder next to the package
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "apdu_specs"
    )


_specs: dict[str | None, m.Spec] = {}
_specs_lock = _thread.allocate_lock()


def load_spec(directory: str | None = None) -> m.Spec:
    """The spec in `directory` (default: the installed apdu_specs/), made once per folder,
    even when several threads ask for it first at once.

    The one entry point: the SSSE, PBOC and PSAM parts are read on first access (see Spec)."""
    spec = _specs.get(directory)
    if spec is None:
        # not functools.cache: it does not lock, so threads that missed it together would
        # each build a Spec of their own
        with _specs_lock:
            spec = _specs.get(directory)
            if spec is None:
                spec = _specs[directory] = build_spec(directory)
    return spec


def build_spec(directory: str | None = None) -> m.Spec:
    """A fresh Spec read from `directory` (load_spec keeps one per folder)."""
    base = directory or spec_dir()

    def read(name: str) -> dict[str, Any]:
        return read_toml(os.path.join(base, name))

    return m.Spec(
        status_words=_status_words(read("status_words.toml")),
        commands=_commands(read("commands.toml")),
        code_tables=_code_tables(read("code_tables.toml")),
        atr=_atr(read("atr.toml")),
        base=base,
    )


def load_ssse(base: str, tables: Mapping[str, m.CodeTable]) -> m.Application:
    """ssse.toml (Spec.ssse reads it on first access); its items name code tables."""
    return _application(read_toml(os.path.join(base, "ssse.toml")), tables)


MAX_TOML = 1024 * 1024  # a spec, persona, scenario or PSAM file; the largest today: 30 KB


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A spec, persona, scenario or PSAM file: a regular file of at most MAX_TOML bytes
    (never a FIFO or a device), any failure a SpecError (see sscard.inputs)."""
    name = os.path.basename(path)
    text = inputs.read_text_file(path, limit=MAX_TOML, what=name, error=errors.SpecError)
    return inputs.parse_toml(text, name, errors.SpecError)


class Fields:
    """Checked access to one TOML table: every key must be consumed or declared optional."""

    def __init__(self, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise errors.SpecError(f"{where}: expected a table")
        self.table = table
        self.where = where
        self.used: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise errors.SpecError(f"{self.where}: missing key '{key}'")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise errors.SpecError(f"{self.where}: '{key}' has the wrong type")
        return value

    def choice(self, key: str, allowed: set[str], default: Any = ...) -> Any:
        value = self.get(key, str, default)
        if value is not default and value not in allowed:
            raise errors.SpecError(
                f"{self.where}: '{key}' = {value!r} is not one of {sorted(allowed)}"
            )
        return value

    def hex(self, key: str, length: int | None = None, default: Any = ...) -> Any:
        text = self.get(key, str, default)
        if text is default:
            return default
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise errors.SpecError(f"{self.where}: '{key}' is not hex") from None
        if length is not None and len(raw) != length:
            raise errors.SpecError(f"{self.where}: '{key}' must be {length} bytes")
        return raw

    def done(self) -> None:
        unknown = set(self.table) - self.used
        if unknown:
            raise errors.SpecError(f"{self.where}: unknown key(s) {sorted(unknown)}")


def examples(f: Fields, errors_allowed: bool = False) -> tuple[m.Example, ...]:
    raw = f.get("examples", list)
    if not raw:
        raise errors.SpecError(f"{f.where}: at least one example is required")
    out = []
    for n, entry in enumerate(raw):
        e = Fields(entry, f"{f.where} example {n}")
        hex_text = e.get("hex", str)
        try:
            bytes.fromhex(hex_text)
        except ValueError:
            raise errors.SpecError(f"{e.where}: 'hex' is not hex") from None
        if "error" in e.table:  # an answer the decoder must reject, with part of its message
            if not errors_allowed:
                raise errors.SpecError(f"{e.where}: error examples are not supported here")
            error, decoded = e.get("error", str), None
        else:
            error, decoded = None, e.get("decoded", (str, int, dict, list, _dt.date, _dt.time))
        e.done()
        out.append(m.Example(hex_text.upper(), decoded, error))
    if all(x.error is not None for x in out):
        raise errors.SpecError(f"{f.where}: at least one example must decode")
    return tuple(out)


def _status_words(doc: dict[str, Any]) -> m.StatusWordTable:
    top = Fields(doc, "status_words.toml")
    entries = []
    for n, raw in enumerate(top.get("sw", list)):
        f = Fields(raw, f"status_words.toml sw[{n}]")
        pattern = f.get("pattern", str)
        if len(pattern) != 4 or any(c not in "0123456789abcdefABCDEFxX" for c in pattern):
            raise errors.SpecError(f"{f.where}: bad pattern {pattern!r}")
        error = f.get("error", str)
        if error:
            try:
                errors.error_class(error)
            except KeyError:
                raise errors.SpecError(f"{f.where}: unknown error class {error!r}") from None
        value = int("".join("0" if c in "xX" else c for c in pattern), 16)
        mask = int("".join("0" if c in "xX" else "F" for c in pattern), 16)
        entries.append(
            m.StatusWord(
                pattern=pattern.upper().replace("X", "x"),
                category=f.choice("category", CATEGORIES),
                error=error,
                tries=f.get("tries", bool, False),
                en=f.get("en", str),
                zh=f.get("zh", str),
                examples=examples(f),
                value_bits=value,
                mask_bits=mask,
            )
        )
        f.done()
    top.done()
    return m.StatusWordTable.of(tuple(entries))


def _byte_or_var(f: Fields, key: str) -> int | None:
    text = f.get(key, str)
    if text == "var":
        return None
    raw: bytes = f.hex(key, 1)
    return raw[0]


def _commands(doc: dict[str, Any]) -> m.CommandSet:
    top = Fields(doc, "commands.toml")
    commands: dict[str, m.Command] = {}
    for n, raw in enumerate(top.get("command", list)):
        f = Fields(raw, f"commands.toml command[{n}]")
        name = f.get("name", str)
        f.where = f"commands.toml {name}"
        case = f.get("case", int)
        if case not in (1, 2, 3, 4):
            raise errors.SpecError(f"{f.where}: case must be 1..4")
        cmd = m.Command(
            name=name,
            en=f.get("en", str),
            zh=f.get("zh", str),
            cla=f.hex("cla", 1)[0],
            ins=f.hex("ins", 1)[0],
            p1=_byte_or_var(f, "p1"),
            p2=_byte_or_var(f, "p2"),
            sfi_in_p2=f.get("sfi_in_p2", bool, False),
            case=case,
            sensitive=f.get("sensitive", bool, False),
            spends_try=f.get("spends_try", bool, False),
            changes_card=f.get("changes_card", bool, False),
            examples=examples(f),
            secret_response=f.get("secret_response", bool, False),
        )
        if cmd.sfi_in_p2 and cmd.p2 is None:
            raise errors.SpecError(f"{f.where}: sfi_in_p2 needs a fixed P2 base")
        if name in commands:
            raise errors.SpecError(f"{f.where}: duplicate command name")
        f.done()
        commands[name] = cmd
    top.done()
    return m.CommandSet(m.frozen_map(commands))


def _code_tables(doc: dict[str, Any]) -> Mapping[str, m.CodeTable]:
    tables = {}
    for key, raw in doc.items():
        f = Fields(raw, f"code_tables.toml [{key}]")
        tables[key] = code_table(f, key, value_codec(f))
        f.done()
    return m.frozen_map(tables)


def code_table(f: Fields, key: str, codec: m.ValueCodec | None = None) -> m.CodeTable:
    """The entries, names and examples of one code table (social security or PBOC)."""
    entries = {}
    for n, entry in enumerate(f.get("entries", list)):
        e = Fields(entry, f"{f.where} entry {n}")
        code = e.get("code", str)
        entries[code] = m.CodeEntry(code, e.get("en", str), e.get("zh", str))
        e.done()
    return m.CodeTable(
        key, f.get("en", str), f.get("zh", str), m.frozen_map(entries), examples(f), codec
    )


def value_codec(f: Fields, length_required: bool = True) -> m.ValueCodec:
    encoding = f.choice("encoding", ENCODINGS)
    charset = f.choice("charset", CHARSETS, "ascii")
    fmt = f.choice("format", FORMATS, "digits")
    if "charset" in f.table and encoding != "an":
        raise errors.SpecError(f"{f.where}: charset applies to encoding an only")
    if "format" in f.table and encoding != "cn":
        raise errors.SpecError(f"{f.where}: format applies to encoding cn only")
    length = f.get("length", int) if length_required else f.get("length", int, None)
    if fmt == "date" and length != 4:
        raise errors.SpecError(f"{f.where}: a date is 4 bytes")
    alphabet = f.get("alphabet", str, None)
    if alphabet is not None:
        if encoding != "an":
            raise errors.SpecError(f"{f.where}: alphabet applies to encoding an only")
        _check_alphabet(alphabet, f.where)
    return m.ValueCodec(length, encoding, charset, fmt, alphabet)


def _check_alphabet(alphabet: str, where: str) -> None:
    """One regular-expression character class ("[0-9X]", "[^|]"), matching one character."""
    import re

    try:
        compiled = re.compile(alphabet)
    except re.error:
        raise errors.SpecError(
            f"{where}: alphabet {alphabet!r} is not a regular expression"
        ) from None
    if not (
        alphabet.startswith("[")
        and alphabet.endswith("]")
        and compiled.groups == 0
        and not compiled.fullmatch("")
        and not compiled.fullmatch("ab")
    ):
        raise errors.SpecError(f'{where}: alphabet must be one character class such as "[0-9X]"')


def _values(f: Fields, tables: Mapping[str, m.CodeTable]) -> str | None:
    name: str | None = f.get("values", str, None)
    if name is not None and name not in tables:
        raise errors.SpecError(f"{f.where}: unknown code table {name!r}")
    return name


def _application(doc: dict[str, Any], tables: Mapping[str, m.CodeTable]) -> m.Application:
    top = Fields(doc, "ssse.toml")
    a = Fields(top.get("application", dict), "ssse.toml [application]")
    app_key, name = a.get("key", str), a.hex("name")
    app_en, app_zh, app_examples = a.get("en", str), a.get("zh", str), examples(a)
    a.done()

    fci = []
    for n, raw in enumerate(top.get("fci", list)):
        f = Fields(raw, f"ssse.toml fci[{n}]")
        key = f.get("key", str)
        f.where = f"ssse.toml fci {key}"
        path = _fci_path(f)
        fci.append(
            m.FciItem(
                key,
                path,
                value_codec(f, length_required=False),
                _values(f, tables),
                f.get("en", str),
                f.get("zh", str),
                examples(f),
            )
        )
        f.done()
    _check_fci_paths(fci)

    files: dict[str, m.ElementaryFile] = {}
    for n, raw in enumerate(top.get("file", list)):
        ef = _file(Fields(raw, f"ssse.toml file[{n}]"), tables)
        if ef.key in files or any(ef.fid == o.fid or ef.sfi == o.sfi for o in files.values()):
            raise errors.SpecError(f"ssse.toml file {ef.key}: duplicate key, FID or SFI")
        files[ef.key] = ef
    top.done()
    return m.Application(
        app_key, name, app_en, app_zh, app_examples, tuple(fci), m.frozen_map(files)
    )


def _fci_path(f: Fields) -> tuple[int, ...]:
    """Tags from the FCI template (6F) down to the item, each 1 to 3 bytes of hex."""
    raw = f.get("path", list)
    hex_digits = "0123456789abcdefABCDEF"
    if not raw or not all(
        isinstance(t, str) and len(t) in (2, 4, 6) and all(c in hex_digits for c in t) for t in raw
    ):
        raise errors.SpecError(f"{f.where}: path must list tags of 1 to 3 bytes in hex")
    return tuple(int(t, 16) for t in raw)


def _check_fci_paths(fci: list[m.FciItem]) -> None:
    """Unique keys, and no item inside another item's value: the FCI can be built from them."""
    for n, item in enumerate(fci):
        for other in fci[:n]:
            if item.key == other.key:
                raise errors.SpecError(f"ssse.toml fci {item.key}: duplicate key")
            shorter = min(len(item.path), len(other.path))
            if item.path[:shorter] == other.path[:shorter]:
                raise errors.SpecError(
                    f"ssse.toml fci {item.key}: its path and that of {other.key} "
                    "hold one inside the other"
                )


def _generations(f: Fields) -> tuple[int, ...]:
    generations = tuple(f.get("generations", list, list(GENERATIONS)))
    if not generations or any(g not in GENERATIONS for g in generations):
        raise errors.SpecError(f"{f.where}: generations must be within {GENERATIONS}")
    return generations


def _file(f: Fields, tables: Mapping[str, m.CodeTable]) -> m.ElementaryFile:
    key = f.get("key", str)
    f.where = f"ssse.toml file {key}"
    generations = _generations(f)
    # read access is given for exactly the generations holding the file
    access_raw = Fields(f.get("read_access", dict), f"{f.where} read_access")
    access = {g: access_raw.get(f"gen{g}", str) for g in generations}
    access_raw.done()
    structure = f.choice("structure", STRUCTURES, "records")
    sfi = f.get("sfi", int)
    if not 1 <= sfi <= 30:
        raise errors.SpecError(f"{f.where}: sfi must be 1..30")
    items: list[m.DataItem] = []
    size, privacy = 0, "public"
    if structure == "records":
        for k, item_raw in enumerate(f.get("item", list)):
            items.append(_item(Fields(item_raw, f"{f.where} item[{k}]"), tables))
        tags = [i.tag for i in items]
        if len(set(tags)) != len(tags):
            raise errors.SpecError(f"{f.where}: duplicate tag")
        if any(set(i.generations) - set(generations) for i in items):
            raise errors.SpecError(f"{f.where}: an item is held by a generation the file is not")
        _check_joins(items, f.where)
        if "size" in f.table or "privacy" in f.table:
            raise errors.SpecError(
                f"{f.where}: size and privacy apply to transparent files "
                "(a record file's privacy is its items')"
            )
    else:
        if "item" in f.table:
            raise errors.SpecError(f"{f.where}: a transparent file has no items")
        size = f.get("size", int)
        if not 1 <= size <= 0x7FFF:  # READ BINARY offsets have 15 bits
            raise errors.SpecError(f"{f.where}: size must be 1..0x7FFF")
        privacy = f.choice("privacy", PRIVACY)
    ef = m.ElementaryFile(
        key=key,
        fid=int.from_bytes(f.hex("fid", 2), "big"),
        sfi=sfi,
        en=f.get("en", str),
        zh=f.get("zh", str),
        read_access=m.frozen_map(access),
        items=tuple(items),
        structure=structure,
        size=size,
        privacy=privacy,
        generations=generations,
    )
    f.done()
    return ef


def _check_joins(items: list[m.DataItem], where: str) -> None:
    """An item joins an earlier text item of its file that joins nothing and that no other
    item joins: the joined value is the two texts, one after the other."""
    for n, item in enumerate(items):
        if item.joins is None:
            continue
        target = next((i for i in items[:n] if i.key == item.joins), None)
        if target is None or target.joins is not None:
            raise errors.SpecError(
                f"{where}: item {item.key} joins {item.joins!r}, not an earlier item that "
                "joins nothing"
            )
        if item.codec.encoding != "an" or target.codec.encoding != "an":
            raise errors.SpecError(f"{where}: item {item.key} and the item it joins must be text")
        if item.values is not None or target.values is not None:
            raise errors.SpecError(
                f"{where}: item {item.key} and the item it joins must be text, not codes"
            )
        # the joined value is shown and masked as the earlier item: the same rule for both
        if (item.privacy, item.mask) != (target.privacy, target.mask):
            raise errors.SpecError(
                f"{where}: item {item.key} must have the privacy and mask of {target.key}"
            )
        if not set(item.generations) <= set(target.generations):
            raise errors.SpecError(
                f"{where}: item {item.key} is held by a generation {target.key} is not"
            )
        if sum(i.joins == item.joins for i in items) > 1:
            raise errors.SpecError(f"{where}: more than one item joins {item.joins!r}")


def _required(f: Fields, generations: tuple[int, ...]) -> Mapping[int, frozenset[str]]:
    """required = {genN = [layouts]}: only generations holding the item, only known layouts."""
    raw = Fields(f.get("required", dict, {}), f"{f.where} required")
    required = {}
    for g in generations:
        layouts = raw.get(f"gen{g}", list, [])
        if any(layout not in LAYOUTS for layout in layouts) or len(set(layouts)) != len(layouts):
            raise errors.SpecError(f"{raw.where}: gen{g} must list layouts among {sorted(LAYOUTS)}")
        if layouts:
            required[g] = frozenset(layouts)
    raw.done()  # a generation that does not hold the item cannot require it
    return m.frozen_map(required)


def _item(f: Fields, tables: Mapping[str, m.CodeTable]) -> m.DataItem:
    tag = f.hex("tag", 1)[0]
    key = f.get("key", str)
    f.where = f"ssse.toml item {key}"
    generations = _generations(f)
    privacy = f.choice("privacy", PRIVACY, "public")
    mask = f.choice("mask", MASKS, None)
    if (privacy == "personal") != (mask is not None):
        raise errors.SpecError(f"{f.where}: a personal item needs a mask, a public one none")
    values = _values(f, tables)
    if values is not None and privacy == "personal":
        # a coded value is shown with its meaning and no mask style hides that: not personal
        raise errors.SpecError(f"{f.where}: a personal item cannot name a code table (values)")
    codec = value_codec(f)
    if codec.encoding == "an" and codec.alphabet is None:
        # every text item says which characters it may hold: the rest is a decode error
        raise errors.SpecError(f"{f.where}: an item of encoding an needs an alphabet")
    item = m.DataItem(
        tag=tag,
        key=key,
        codec=codec,
        generations=generations,
        values=values,
        privacy=privacy,
        mask=mask,
        en=f.get("en", str),
        zh=f.get("zh", str),
        examples=examples(f, errors_allowed=True),
        required=_required(f, generations),
        joins=f.get("joins", str, None),
    )
    f.done()
    return item


def _atr(doc: dict[str, Any]) -> m.AtrLayout:
    top = Fields(doc, "atr.toml")
    f = Fields(top.get("atr", dict), "atr.toml [atr]")
    count = f.get("historical_bytes", int)
    factor = f.get("card_factor", list)
    if not 1 <= count <= 15:  # K is one nibble
        raise errors.SpecError(f"{f.where}: historical_bytes must be 1..15")
    if (
        len(factor) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in factor)
        or not 1 <= factor[0] <= factor[1] <= count
    ):
        raise errors.SpecError(
            f"{f.where}: card_factor must be [first, last] within the historical bytes"
        )
    layout = m.AtrLayout(count, (factor[0], factor[1]), examples(f, errors_allowed=True))
    f.done()
    top.done()
    return layout
