"""The UnionPay PBOC financial application, as declared in apdu_specs/pboc.toml.

How code reads it::

    from sscard.spec import load_spec
    pboc = load_spec().pboc                   # loaded on first use, then cached
    pboc.pse.name, pboc.ppse.name             # b"1PAY.SYS.DDF01", b"2PAY.SYS.DDF01"
    pboc.aids                                 # (Aid(key="debit", aid=b"\\xa0…", label=…), …)
    pboc.aid("debit").aid                     # by key
    pboc.aid_entry(bytes.fromhex("A000000333010101"))   # the Aid of a card AID, or None
    pboc.tag(0x9F79)                          # DataObject: .key .format .en .zh .personal .mask …
    pboc.tag(0x9F61, aid=selected_aid)  # None when that AID's scheme gives 9F61 another meaning
    pboc.tag(0x9F79).decode(b"\\x00\\x00\\x00\\x01\\x00\\x00")   # 10000 (minor units)
    pboc.decode(0x6F, fci_value)              # templates decode to {child tag hex: value}
    pboc.code_table("id_type").entries["00"].zh                 # "身份证"
    pboc.interface("contact").typical_pdol    # ((0x9F7A, 1), (0x9F02, 6), (0x5F2A, 2))
    pboc.log("transaction").decode_record(raw, format_dol)      # {"9A": date, "9F02": 1000, …}
    [t for t in pboc.tags.values() if "get_data" in t.where]    # what GET DATA may return

Loading is strict like the rest of sscard.spec: an unknown key, a wrong type, a format the
codec does not know, a personal item without a mask or an item without examples is a
SpecError naming the item.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from sscard import errors
from sscard.codec import pboc_formats as fmt
from sscard.codec import tlv
from sscard.codec.dol import parse_dol
from sscard.spec.loader import Fields, code_table, examples, read_toml
from sscard.spec.model import CodeTable, Example

SCOPES = frozenset({"emv", "unionpay"})
WHERE = frozenset({"directory", "fci", "gpo", "record", "get_data", "log", "terminal"})
PRIVACY = frozenset({"public", "personal"})
MASKS = frozenset({"pan", "id", "name", "hidden"})
INTERFACES = frozenset({"contact", "contactless"})


class Scheme(NamedTuple):
    key: str
    rid: bytes
    en: str
    zh: str
    examples: tuple[Example, ...]

    def owns(self, aid: bytes | None) -> bool:
        return aid is not None and bytes(aid).startswith(self.rid)


class Directory(NamedTuple):
    key: str  # pse | ppse
    name: bytes  # the DF name as sent in SELECT
    interface: str
    en: str
    zh: str
    examples: tuple[Example, ...]


class Interface(NamedTuple):
    key: str  # contact | contactless
    directory: str
    typical_pdol: tuple[tuple[int, int], ...]  # (tag, length)
    en: str
    zh: str
    examples: tuple[Example, ...]


class Aid(NamedTuple):
    key: str
    aid: bytes
    partial: bool  # a terminal-list prefix: matches every longer card AID it starts
    label: str  # the label (50) such applications usually carry
    en: str
    zh: str
    examples: tuple[Example, ...]

    def matches(self, card_aid: bytes) -> bool:
        return card_aid == self.aid or (self.partial and card_aid.startswith(self.aid))


class DataObject(NamedTuple):
    tag: int
    key: str
    format: str
    min_length: int
    max_length: int
    where: frozenset[str]
    scope: str  # emv | unionpay
    elsewhere: str  # what other schemes mean by this tag ("" when nothing known)
    privacy: str
    mask: str | None
    values: str | None  # code table key
    reader_value: bytes | None  # what a read-only reader puts in a PDOL
    en: str
    zh: str
    examples: tuple[Example, ...]

    @property
    def personal(self) -> bool:
        return self.privacy == "personal"

    @property
    def tag_hex(self) -> str:
        return f"{self.tag:X}"

    def decode(self, value: bytes, base: int = 0) -> Any:
        """The value field (no tag, no length) as a Python value; templates need Pboc.decode."""
        if self.format == "template":
            raise errors.DecodeError(f"{self.tag_hex} is a template: use Pboc.decode", offset=base)
        if not self.min_length <= len(value) <= self.max_length:
            raise errors.DecodeError(
                f"{self.tag_hex} has {len(value)} bytes, "
                f"expected {self.min_length}..{self.max_length}",
                offset=base,
            )
        return fmt.decode(self.format, value, base)

    def encode(self, value: Any, length: int | None = None) -> bytes:
        """Value bytes (natural length, or `length` for DOL/log fields: text is 00-padded)."""
        if length is None and self.format == "counter" and self.min_length == self.max_length:
            length = self.min_length  # a counter keeps its width (ATC 0011, not 11)
        raw = fmt.encode(self.format, value, length)
        if length is None and not self.min_length <= len(raw) <= self.max_length:
            raise ValueError(f"{self.tag_hex}: value of {len(raw)} bytes is out of range")
        return raw


class PrefixField(NamedTuple):
    key: str
    format: str
    length: int
    en: str
    zh: str


class Log(NamedTuple):
    key: str  # transaction | load
    entry_tag: int  # where the SFI and record count are (FCI BF0C)
    format_tag: int  # the DOL of the record, by GET DATA
    recommended_entry: dict[str, int]
    recommended_format: tuple[tuple[int, int], ...]
    prefix: tuple[PrefixField, ...]  # fixed fields before the DOL fields
    en: str
    zh: str
    examples: tuple[Example, ...]
    pboc: Any  # the Pboc this log belongs to (to decode its fields by tag)

    def record_length(self, dol: tuple[tuple[int, int], ...]) -> int:
        return sum(p.length for p in self.prefix) + sum(n for _, n in dol)

    def decode_record(
        self, raw: bytes, dol: Iterable[tuple[int, int]] | None = None
    ) -> dict[str, Any]:
        """{prefix key or tag hex: value}; a record whose length does not match is a DecodeError."""
        dol = self.recommended_format if dol is None else tuple(dol)
        if len(raw) != self.record_length(dol):
            raise errors.DecodeError(
                f"{self.key} log record has {len(raw)} bytes, its format needs "
                f"{self.record_length(dol)}",
                offset=0,
            )
        out: dict[str, Any] = {}
        pos = 0
        for p in self.prefix:
            out[p.key] = fmt.decode(p.format, raw[pos : pos + p.length], pos)
            pos += p.length
        for tag, n in dol:
            out[f"{tag:X}"] = self.pboc.decode_dol_value(tag, raw[pos : pos + n], pos)
            pos += n
        return out

    def encode_record(
        self, values: Mapping[str, Any], dol: Iterable[tuple[int, int]] | None = None
    ) -> bytes:
        dol = self.recommended_format if dol is None else tuple(dol)
        raw = b"".join(fmt.encode(p.format, values[p.key], p.length) for p in self.prefix)
        for tag, n in dol:
            raw += self.pboc.encode_dol_value(tag, values.get(f"{tag:X}"), n)
        return raw


class Pboc(NamedTuple):
    scheme: Scheme
    directories: Mapping[str, Directory]
    interfaces: Mapping[str, Interface]
    aids: tuple[Aid, ...]
    code_tables: Mapping[str, CodeTable]
    tags: Mapping[int, DataObject]
    logs: Mapping[str, Log]

    @property
    def pse(self) -> Directory:
        return self.directories["pse"]

    @property
    def ppse(self) -> Directory:
        return self.directories["ppse"]

    def interface(self, key: str) -> Interface:
        return self.interfaces[key]

    def aid(self, key: str) -> Aid:
        return next(a for a in self.aids if a.key == key)

    def aid_entry(self, card_aid: bytes) -> Aid | None:
        """The exact entry of a card AID, else the partial entry it falls under, else None."""
        card_aid = bytes(card_aid)
        exact = next((a for a in self.aids if a.aid == card_aid), None)
        return exact or next((a for a in self.aids if a.partial and a.matches(card_aid)), None)

    def code_table(self, key: str) -> CodeTable:
        return self.code_tables[key]

    def log(self, key: str) -> Log:
        return self.logs[key]

    def tag(self, tag: int, aid: bytes | None = None) -> DataObject | None:
        """The declared object; with `aid`, None for a UnionPay-scoped tag of another scheme."""
        obj = self.tags.get(tag)
        if (
            obj is not None
            and aid is not None
            and obj.scope == "unionpay"
            and not self.scheme.owns(aid)
        ):
            return None
        return obj

    # --- values ---------------------------------------------------------------------------

    def decode(self, tag: int, value: bytes, base: int = 0) -> Any:
        """Decode a value by tag; templates give {child tag hex: value} (repeats: a list);
        undeclared tags give hex."""
        obj = self.tags.get(tag)
        if obj is None:
            return bytes(value).hex().upper()
        if obj.format != "template":
            return obj.decode(value, base)
        if len(value) > obj.max_length:
            raise errors.DecodeError(f"{obj.tag_hex} template is too long", offset=base)
        out: dict[str, Any] = {}
        for child in tlv.parse_ber(value, base):
            decoded = self.decode(child.tag, child.value, child.offset)
            key = f"{child.tag:X}"
            if key in out:
                previous = out[key]
                out[key] = (
                    previous
                    if isinstance(previous, list) and self._is_template(child.tag)
                    else [previous]
                ) + [decoded]
            else:
                out[key] = decoded
        return out

    def encode(self, tag: int, value: Any) -> bytes:
        """The whole TLV of `value` (the inverse of decode for declared tags)."""
        obj = self.tags.get(tag)
        if obj is None:
            return tlv.encode_ber(tag, bytes.fromhex(value))
        if obj.format != "template":
            return tlv.encode_ber(tag, obj.encode(value))
        inner = b""
        for key, child_value in value.items():
            child = int(key, 16)
            repeated = self._is_template(child) and isinstance(child_value, list)
            for one in child_value if repeated else [child_value]:
                inner += self.encode(child, one)
        return tlv.encode_ber(tag, inner)

    def _is_template(self, tag: int) -> bool:
        obj = self.tags.get(tag)
        return obj is not None and obj.format == "template"

    def decode_dol_value(self, tag: int, raw: bytes, base: int = 0) -> Any:
        """A value as it sits in DOL-built data (logs, PDOL data): fixed length, text padded."""
        obj = self.tags.get(tag)
        if obj is None or obj.format == "template":
            return bytes(raw).hex().upper()
        return fmt.decode(obj.format, raw, base)

    def encode_dol_value(self, tag: int, value: Any, length: int) -> bytes:
        """`length` bytes for a DOL entry.

        An unknown tag or absent value is zeros (JR/T 0025.4 §5.3)."""
        obj = self.tags.get(tag)
        if obj is None or value is None or obj.format == "template":
            return bytes(length)
        return fmt.encode(obj.format, value, length)


# --- loading ---------------------------------------------------------------------------------


def load_pboc(directory: str) -> Pboc:
    """pboc.toml in `directory`; Spec.pboc calls this once, on first access."""
    where = "pboc.toml"
    top = Fields(read_toml(os.path.join(directory, "pboc.toml")), where)

    s = Fields(top.get("scheme", dict), f"{where} [scheme]")
    scheme = Scheme(
        s.get("key", str), s.hex("rid"), s.get("en", str), s.get("zh", str), examples(s)
    )
    s.done()

    directories = {}
    for n, raw in enumerate(top.get("directory", list)):
        f = Fields(raw, f"{where} directory[{n}]")
        d = Directory(
            f.get("key", str),
            f.get("name", str).encode("ascii"),
            f.choice("interface", set(INTERFACES)),
            f.get("en", str),
            f.get("zh", str),
            examples(f),
        )
        f.done()
        directories[d.key] = d
    if set(directories) != {"pse", "ppse"}:
        raise errors.SpecError(f"{where}: directories must be exactly pse and ppse")

    interfaces = {}
    for n, raw in enumerate(top.get("interface", list)):
        f = Fields(raw, f"{where} interface[{n}]")
        key = f.choice("key", set(INTERFACES))
        directory_key = f.choice("directory", set(directories))
        try:
            pdol = parse_dol(f.hex("typical_pdol"))
        except errors.DecodeError:
            raise errors.SpecError(f"{f.where}: typical_pdol is not a DOL") from None
        interfaces[key] = Interface(
            key, directory_key, pdol, f.get("en", str), f.get("zh", str), examples(f)
        )
        f.done()

    aids = []
    for n, raw in enumerate(top.get("aid", list)):
        f = Fields(raw, f"{where} aid[{n}]")
        a = Aid(
            f.get("key", str),
            f.hex("aid"),
            f.get("partial", bool, False),
            f.get("label", str),
            f.get("en", str),
            f.get("zh", str),
            examples(f),
        )
        f.done()
        if not 5 <= len(a.aid) <= 16 or not scheme.owns(a.aid):
            raise errors.SpecError(
                f"{f.where}: an AID of 5..16 bytes under the scheme RID is required"
            )
        aids.append(a)
    if len({a.key for a in aids}) != len(aids) or len({a.aid for a in aids}) != len(aids):
        raise errors.SpecError(f"{where}: duplicate AID key or value")

    tables = {}
    for n, raw in enumerate(top.get("code_table", list)):
        f = Fields(raw, f"{where} code_table[{n}]")
        key = f.get("key", str)
        tables[key] = code_table(f, key)
        f.done()

    tags: dict[int, DataObject] = {}
    for n, raw in enumerate(top.get("tag", list)):
        obj = _data_object(Fields(raw, f"{where} tag[{n}]"), tables)
        if obj.tag in tags or any(o.key == obj.key for o in tags.values()):
            raise errors.SpecError(f"{where} tag {obj.tag_hex}: duplicate tag or key")
        tags[obj.tag] = obj

    logs: dict[str, Log] = {}
    pending = []
    for n, raw in enumerate(top.get("log", list)):
        pending.append(_log(Fields(raw, f"{where} log[{n}]"), tags))
    top.done()
    pboc = Pboc(
        scheme,
        MappingProxyType(directories),
        MappingProxyType(interfaces),
        tuple(aids),
        MappingProxyType(tables),
        MappingProxyType(tags),
        MappingProxyType(logs),
    )
    for log in pending:
        logs[log.key] = log._replace(pboc=pboc)
    return pboc


def _data_object(f: Fields, tables: Mapping[str, CodeTable]) -> DataObject:
    tag_bytes = f.hex("tag")
    if not 1 <= len(tag_bytes) <= 2:
        raise errors.SpecError(f"{f.where}: a tag is 1 or 2 bytes")
    tag = int.from_bytes(tag_bytes, "big")
    f.where = f"pboc.toml tag {tag:X}"
    form = f.choice("format", set(fmt.FORMATS))
    constructed = bool(tag_bytes[0] & 0x20)
    if constructed != (form == "template"):
        raise errors.SpecError(f"{f.where}: format template is for constructed tags, and only them")
    length = f.get("length", list)
    if (
        len(length) != 2
        or not all(isinstance(x, int) for x in length)
        or not 0 <= length[0] <= length[1] <= 255
    ):
        raise errors.SpecError(f"{f.where}: length must be [min, max] within 0..255")
    where = f.get("where", list)
    if not where or not set(where) <= WHERE:
        raise errors.SpecError(f"{f.where}: where must be a non-empty subset of {sorted(WHERE)}")
    privacy = f.choice("privacy", set(PRIVACY), "public")
    mask = f.choice("mask", set(MASKS), None)
    if (privacy == "personal") != (mask is not None):
        raise errors.SpecError(f"{f.where}: a personal item needs a mask, a public one none")
    values = f.get("values", str, None)
    if values is not None and values not in tables:
        raise errors.SpecError(f"{f.where}: unknown code table {values!r}")
    reader_value = f.hex("reader_value", None, None)
    if reader_value is not None and "terminal" not in where:
        raise errors.SpecError(f"{f.where}: reader_value is for terminal data only")
    obj = DataObject(
        tag=tag,
        key=f.get("key", str),
        format=form,
        min_length=length[0],
        max_length=length[1],
        where=frozenset(where),
        scope=f.choice("scope", set(SCOPES), "emv"),
        elsewhere=f.get("elsewhere", str, ""),
        privacy=privacy,
        mask=mask,
        values=values,
        reader_value=reader_value,
        en=f.get("en", str),
        zh=f.get("zh", str),
        examples=examples(f),
    )
    f.done()
    return obj


def _log(f: Fields, tags: Mapping[int, DataObject]) -> Log:
    key = f.get("key", str)
    f.where = f"pboc.toml log {key}"
    entry_tag = int.from_bytes(f.hex("entry_tag"), "big")
    format_tag = int.from_bytes(f.hex("format_tag"), "big")
    for t, wanted in ((entry_tag, "log_entry"), (format_tag, "dol")):
        if t not in tags or tags[t].format != wanted:
            raise errors.SpecError(f"{f.where}: {t:X} must be a declared {wanted} tag")
    entry = fmt.decode("log_entry", f.hex("recommended_entry", 2))
    try:
        dol = parse_dol(f.hex("recommended_format"))
    except errors.DecodeError:
        raise errors.SpecError(f"{f.where}: recommended_format is not a DOL") from None
    prefix = []
    for n, raw in enumerate(f.get("prefix", list, [])):
        p = Fields(raw, f"{f.where} prefix[{n}]")
        prefix.append(
            PrefixField(
                p.get("key", str),
                p.choice("format", set(fmt.FORMATS)),
                p.get("length", int),
                p.get("en", str),
                p.get("zh", str),
            )
        )
        p.done()
    log = Log(
        key,
        entry_tag,
        format_tag,
        entry,
        dol,
        tuple(prefix),
        f.get("en", str),
        f.get("zh", str),
        examples(f),
        None,
    )
    f.done()
    return log
