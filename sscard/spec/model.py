"""Immutable model of apdu_specs/: status words, commands, code tables, the SSSE, and the
`Spec` that opens every part (the PBOC and PSAM parts are modelled in their own modules).

The loader (`sscard.spec.loader`) builds these from TOML; nothing here reads files.
Both the reader and the emulator work from this model, so a fact about the card is
written once.  The classes are NamedTuples rather than frozen dataclasses: equally
immutable, and several times cheaper to define, which matters for the start-up time
of `sscard read` (everything here is imported before the first APDU).
"""

from __future__ import annotations

import _thread
import datetime as _dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sscard.codec import atr as atr_codec
from sscard.codec import fields, tlv
from sscard.codec.apdu import CommandApdu
from sscard.errors import DecodeError

if TYPE_CHECKING:
    from sscard.spec.pboc import Pboc
    from sscard.spec.psam import PsamSpec


K = TypeVar("K")
V = TypeVar("V")


class Example(NamedTuple):
    hex: str
    decoded: Any
    error: str | None = None  # an example the decoder must reject: part of its message

    @property
    def raw(self) -> bytes:
        return bytes.fromhex(self.hex)


# --- status words ------------------------------------------------------------------


class StatusWord(NamedTuple):
    pattern: str  # e.g. "63Cx"
    category: str  # ok | warning | more_data | retry_le | error
    error: str  # sscard.errors class name, "" when none
    tries: bool  # low nibble counts tries left
    en: str
    zh: str
    examples: tuple[Example, ...]
    value_bits: int  # the pattern with wildcards as 0
    mask_bits: int  # 1 where the pattern is fixed

    def matches(self, sw: int) -> bool:
        return sw & self.mask_bits == self.value_bits

    @property
    def wildcards(self) -> int:
        return self.pattern.lower().count("x")

    def tries_left(self, sw: int) -> int | None:
        return sw & 0x0F if self.tries else None


class StatusWordTable(NamedTuple):
    entries: tuple[StatusWord, ...]
    exact: Mapping[int, StatusWord]  # patterns without wildcards, by SW
    wild: tuple[StatusWord, ...]  # patterns with wildcards, most specific first

    @classmethod
    def of(cls, entries: tuple[StatusWord, ...]) -> StatusWordTable:
        exact = {e.value_bits: e for e in entries if not e.wildcards}
        wild = tuple(sorted((e for e in entries if e.wildcards), key=lambda e: e.wildcards))
        return cls(entries, MappingProxyType(exact), wild)

    def lookup(self, sw: int) -> StatusWord | None:
        """The most specific pattern matching `sw`, or None for an unknown SW."""
        found = self.exact.get(sw)
        if found is not None:
            return found
        return next((e for e in self.wild if e.matches(sw)), None)


# --- commands ------------------------------------------------------------------------


class Command(NamedTuple):
    name: str
    en: str
    zh: str
    cla: int
    ins: int
    p1: int | None  # None = supplied by the caller
    p2: int | None
    sfi_in_p2: bool
    case: int
    sensitive: bool
    spends_try: bool
    changes_card: bool
    examples: tuple[Example, ...]
    secret_response: bool = False  # the answer is a cryptogram: never shown nor recorded

    @property
    def has_data(self) -> bool:
        return self.case in (3, 4)

    @property
    def has_le(self) -> bool:
        return self.case in (2, 4)

    def build(
        self,
        *,
        p1: int | None = None,
        p2: int | None = None,
        sfi: int = 0,
        data: bytes = b"",
        le: int | None = None,
    ) -> CommandApdu:
        """The APDU of this command with the caller's parameters (checked)."""
        for given, fixed, label in ((p1, self.p1, "P1"), (p2, self.p2, "P2")):
            if (given is None) == (fixed is None):
                raise ValueError(f"{self.name}: {label} must be given exactly when it is variable")
        real_p1 = self.p1 if p1 is None else p1
        real_p2 = self.p2 if p2 is None else p2
        assert real_p1 is not None and real_p2 is not None  # exactly one given: checked above
        if self.sfi_in_p2:
            if not 0 <= sfi <= 30:
                raise ValueError(f"{self.name}: SFI {sfi} out of range")
            real_p2 |= sfi << 3
        elif sfi:
            raise ValueError(f"{self.name}: takes no SFI")
        if self.has_data != bool(data):
            raise ValueError(f"{self.name}: data {'required' if self.has_data else 'not allowed'}")
        if self.has_le != (le is not None):
            raise ValueError(f"{self.name}: Le {'required' if self.has_le else 'not allowed'}")
        return CommandApdu(self.cla, self.ins, real_p1, real_p2, data, le)

    def match(self, apdu: CommandApdu) -> dict[str, Any] | None:
        """The example-style parameters if `apdu` is this command, else None."""
        if (apdu.cla, apdu.ins) != (self.cla, self.ins) or apdu.case != self.case:
            return None
        if self.p1 is not None and apdu.p1 != self.p1:
            return None
        decoded: dict[str, Any] = {}
        if self.p1 is None:
            decoded["p1"] = apdu.p1
        if self.p2 is None:
            decoded["p2"] = apdu.p2
        elif self.sfi_in_p2:
            if apdu.p2 & 0x07 != self.p2:
                return None
            decoded["sfi"] = apdu.p2 >> 3
        elif apdu.p2 != self.p2:
            return None
        if self.has_data:
            decoded["data"] = apdu.data.hex().upper()
        if self.has_le:
            decoded["le"] = apdu.le
        return decoded


class CommandSet:
    """The commands of commands.toml by name: `spec.commands["verify"]` is a `Command`.

    A plain class, not a NamedTuple: a tuple's `__getitem__` takes an index, so overriding it
    with a name would hide every command's type behind the tuple's."""

    __slots__ = ("commands",)
    commands: Mapping[str, Command]

    def __init__(self, commands: Mapping[str, Command]) -> None:
        object.__setattr__(self, "commands", commands)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getitem__(self, name: str) -> Command:
        return self.commands[name]

    def identify(self, apdu: CommandApdu) -> tuple[Command, dict[str, Any]] | None:
        for command in self.commands.values():
            decoded = command.match(apdu)
            if decoded is not None:
                return command, decoded
        return None


# --- code tables ---------------------------------------------------------------------


class CodeEntry(NamedTuple):
    code: str
    en: str
    zh: str


class CodeTable(NamedTuple):
    """A code table of either application: codes and their meanings.

    Social security tables (code_tables.toml) say how a code is stored on the card (`codec`);
    a PBOC table's code is the text its data object's format decodes to (codec None)."""

    key: str
    en: str
    zh: str
    entries: Mapping[str, CodeEntry]
    examples: tuple[Example, ...]
    codec: ValueCodec | None = None  # how a code is stored on the card

    def get(self, code: str | None) -> CodeEntry | None:
        return self.entries.get(code) if code is not None else None


# --- data items ------------------------------------------------------------------------


class ValueCodec(NamedTuple):
    """How a value's bytes map to a Python value (str, date, or None when absent)."""

    length: int | None  # fixed length, None = any
    encoding: str  # cn | an | b
    charset: str  # an: ascii | gbk
    format: str  # cn: digits | date
    alphabet: str | None = None  # an: a regular-expression character class every character is in

    def decode(self, raw: bytes, base: int = 0) -> str | _dt.date | None:
        if self.length is not None and len(raw) != self.length:
            raise DecodeError(f"value has {len(raw)} bytes, expected {self.length}", offset=base)
        if self.encoding == "b":
            return fields.decode_b(raw)
        if self.encoding == "an":
            text = fields.decode_an(raw, self.charset, base=base)
            if text is not None and self.alphabet is not None:
                fields.check_alphabet(text, self.alphabet, self.charset, base)
            return text
        if self.format == "date":
            return fields.decode_date(raw, base=base)
        return fields.decode_cn(raw, base=base)

    def encode(self, value: str | _dt.date | None) -> bytes:
        length = self.length if self.length is not None else 0
        text_item = self.encoding in ("b", "an") or self.format != "date"
        if not text_item:  # a date, or "" / None for none
            if isinstance(value, str) and value:
                raise DecodeError("a date value is required")
            return fields.encode_date(value or None)
        if isinstance(value, _dt.date):
            raise DecodeError(f"a date is not a value of a {self.encoding} item")
        if self.encoding == "b":
            return fields.encode_b(value or "", length)
        if self.encoding == "an":
            if value and self.alphabet is not None:
                fields.check_alphabet(value, self.alphabet, self.charset)
            return fields.encode_an(value or None, length, self.charset)
        return fields.encode_cn(value or "", length)


class DataItem(NamedTuple):
    tag: int
    key: str
    codec: ValueCodec
    generations: tuple[int, ...]
    values: str | None
    privacy: str  # public | personal
    mask: str | None
    en: str
    zh: str
    examples: tuple[Example, ...]
    required: Mapping[int, frozenset[str]] = MappingProxyType({})  # generation -> layouts
    joins: str | None = None  # key of the earlier item this one is presented after

    @property
    def length(self) -> int:
        return self.codec.length or 0

    def required_in(self, generation: int | None, layout: str) -> bool:
        """Whether a card of this generation (None: unknown, judged as 3) and layout must hold
        a value of this item for its identity to be complete."""
        return layout in self.required.get(generation or 3, ())

    @property
    def record_length(self) -> int:
        """Tag + length + value: the exact Le of a READ RECORD of this item."""
        return 2 + self.length

    @property
    def personal(self) -> bool:
        return self.privacy == "personal"

    def decode_record(self, record: bytes, base: int = 0) -> str | _dt.date | None:
        """Decode one whole record (tag | len | value) of this item."""
        tlvs = tlv.parse_record(record, base)
        if len(tlvs) != 1:
            raise DecodeError(
                f"expected one record with tag {self.tag:02X}, got {len(tlvs)}", offset=base
            )
        if tlvs[0].tag != self.tag:
            raise DecodeError(
                f"record has tag {tlvs[0].tag:02X}, expected {self.tag:02X}", offset=base
            )
        return self.codec.decode(tlvs[0].value, base + 2)

    def encode_record(self, value: str | _dt.date | None) -> bytes:
        return tlv.encode_record(self.tag, self.codec.encode(value))


class FciItem(NamedTuple):
    key: str
    path: tuple[int, ...]
    codec: ValueCodec
    values: str | None
    en: str
    zh: str
    examples: tuple[Example, ...]

    def extract(self, fci: bytes) -> str | _dt.date | None:
        """Find this item in an FCI; None when absent.  Malformed TLV raises DecodeError."""
        found = _find_path(tlv.parse_ber(fci), self.path)
        return None if found is None else self.codec.decode(found.value, found.offset)


def _find_path(tlvs: tuple[tlv.Tlv, ...], path: tuple[int, ...]) -> tlv.Tlv | None:
    node = next((t for t in tlvs if t.tag == path[0]), None)
    for tag in path[1:]:
        if node is None:
            return None
        # a primitive object on the way (9F0C) holds TLVs in its value: parse them
        children = (
            node.children
            if node.children is not None
            else tlv.parse_ber(node.value, node.offset + _header_length(node))
        )
        node = next((t for t in children if t.tag == tag), None)
    return node


def _header_length(node: tlv.Tlv) -> int:
    tag_len = (node.tag.bit_length() + 7) // 8
    n = len(node.value)
    return tag_len + (1 if n < 0x80 else 1 + (n.bit_length() + 7) // 8)


# --- files and the application -----------------------------------------------------------


class ElementaryFile(NamedTuple):
    key: str
    fid: int
    sfi: int
    en: str
    zh: str
    read_access: Mapping[int, str]  # generation -> "free" or the key name (held generations only)
    items: tuple[DataItem, ...]  # record files only
    structure: str = "records"  # records | transparent
    size: int = 0  # transparent files: their fixed size in bytes
    privacy: str = "public"  # transparent files (a record file's privacy is its items')
    generations: tuple[int, ...] = (1, 2, 3)  # card generations holding the file

    @property
    def transparent(self) -> bool:
        return self.structure == "transparent"

    @property
    def personal(self) -> bool:
        return self.privacy == "personal"

    def held_by(self, generation: int) -> bool:
        return generation in self.generations

    def items_for(self, generation: int) -> tuple[DataItem, ...]:
        return tuple(i for i in self.items if generation in i.generations)

    def record_number(self, item: DataItem, generation: int) -> int:
        return self.items_for(generation).index(item) + 1

    def item(self, key_or_tag: str | int) -> DataItem:
        for i in self.items:
            if key_or_tag in (i.key, i.tag):
                return i
        raise KeyError(key_or_tag)

    def attribute(self, key: str) -> str:
        """The result attribute holding item `key`'s own value: `<key>_record` when another
        item joins it (the result's `key` then holds the joined value), else `key`."""
        return f"{key}_record" if any(i.joins == key for i in self.items) else key

    @property
    def shown(self) -> tuple[DataItem, ...]:
        """The items a view shows, in file order: an item that joins another is shown in it."""
        return tuple(i for i in self.items if i.joins is None)

    def free_to_read(self, generation: int) -> bool:
        return self.read_access.get(generation) == "free"


class Application(NamedTuple):
    key: str
    name: bytes
    en: str
    zh: str
    examples: tuple[Example, ...]
    fci: tuple[FciItem, ...]
    files: Mapping[str, ElementaryFile]

    def file(self, key: str) -> ElementaryFile:
        return self.files[key]

    def decode_fci(self, fci: bytes) -> dict[str, str | _dt.date | None]:
        """Every declared FCI item of `fci`, by key (None when absent)."""
        return {item.key: item.extract(fci) for item in self.fci}

    def encode_fci(self, values: Mapping[str, str | _dt.date | None]) -> bytes:
        """The FCI holding `values` (by FCI item key), laid out as the declaration says: each
        value at its path, in declaration order; a template with no value in it is left out.
        The inverse of decode_fci, and what the emulator answers to SELECT."""
        unknown = set(values) - {item.key for item in self.fci}
        if unknown:
            raise ValueError(f"not FCI items of {self.key}: {sorted(unknown)}")
        tree: dict[int, Any] = {}  # tag -> value bytes (a leaf) or the tree inside it
        for item in self.fci:
            value = values.get(item.key)
            if value is None:
                continue
            node = tree
            for tag in item.path[:-1]:
                node = node.setdefault(tag, {})
            node[item.path[-1]] = item.codec.encode(value)
        return _encode_tree(tree)

    def item_by_tag(self, tag: int) -> DataItem | None:
        for f in self.files.values():
            for i in f.items:
                if i.tag == tag:
                    return i
        return None


def _encode_tree(tree: Mapping[int, Any]) -> bytes:
    # a primitive object may hold TLVs too (9F0C): nesting follows the paths, not the tag bits
    return b"".join(
        tlv.encode_ber(tag, _encode_tree(inner) if isinstance(inner, dict) else inner)
        for tag, inner in tree.items()
    )


# --- the answer to reset ---------------------------------------------------------------


class AtrLayout(NamedTuple):
    """What the social security card's ATR carries (apdu_specs/atr.toml), read through the
    one ISO/IEC 7816-3 parser (sscard.codec.atr)."""

    historical_bytes: int  # how many a social security card has
    card_factor_bytes: tuple[int, int]  # 1-based first and last historical byte of the factor
    examples: tuple[Example, ...]

    def parse(self, raw: bytes) -> atr_codec.Atr:
        return atr_codec.parse_atr(raw)

    def historical(self, raw: bytes) -> bytes:
        return atr_codec.parse_atr(raw).historical

    def card_factor(self, raw: bytes) -> bytes:
        """The card-level key diversification factor (historical bytes T6…TD)."""
        historical = atr_codec.parse_atr(raw).historical
        first, last = self.card_factor_bytes
        if len(historical) < last:
            raise DecodeError(
                f"the ATR has {len(historical)} historical bytes: the card factor "
                f"(T{first:X}…T{last:X}) needs {last}",
                zh=f"ATR 只有 {len(historical)} 个历史字节，无卡片分散因子（T{first:X}…T{last:X}）",
            )
        return historical[first - 1 : last]


class Spec:
    """The card as declared in apdu_specs/: the one door to every part of the spec.

    The status words, commands, code tables and ATR layout are read and validated when the
    Spec is made (every card operation needs them).  The parts below are each read and
    validated on first access, then kept, so a command pays only for what it uses
    (`sscard read` never parses pboc.toml or psam.toml):

    ssse   the social security application (ssse.toml)        -> Application
    pboc   the UnionPay PBOC application (pboc.toml)          -> sscard.spec.pboc.Pboc
    psam   the social security PSAM (psam.toml)               -> sscard.spec.psam.PsamSpec

    A part that fails validation raises its SpecError on every access, never half-loaded.
    `load_all()` reads every part now (a spec check).  Immutable, like the parts.
    """

    __slots__ = ("status_words", "commands", "code_tables", "atr", "base", "_parts", "_lock")

    status_words: StatusWordTable
    commands: CommandSet
    code_tables: Mapping[str, CodeTable]
    atr: AtrLayout
    base: str  # the apdu_specs/ folder it was read from
    _parts: dict[str, Any]  # the parts read so far
    _lock: _thread.LockType

    PARTS = ("ssse", "pboc", "psam")

    def __init__(
        self,
        status_words: StatusWordTable,
        commands: CommandSet,
        code_tables: Mapping[str, CodeTable],
        atr: AtrLayout,
        base: str,
    ) -> None:
        for name, value in (
            ("status_words", status_words),
            ("commands", commands),
            ("code_tables", code_tables),
            ("atr", atr),
            ("base", base),
            ("_parts", {}),
            ("_lock", _thread.allocate_lock()),  # one load per part, even across threads
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Spec is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Spec is immutable: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"Spec(base={self.base!r}, loaded={sorted(self._parts)})"

    @property
    def ssse(self) -> Application:
        """The social security application (apdu_specs/ssse.toml)."""
        part: Application = self._part("ssse")
        return part

    @property
    def pboc(self) -> Pboc:
        """The UnionPay PBOC application (apdu_specs/pboc.toml); see sscard.spec.pboc."""
        part: Pboc = self._part("pboc")
        return part

    @property
    def psam(self) -> PsamSpec:
        """The social security PSAM (apdu_specs/psam.toml); see sscard.spec.psam."""
        part: PsamSpec = self._part("psam")
        return part

    def load_all(self) -> Spec:
        """Read and validate every part now; the first invalid one raises its SpecError."""
        for name in self.PARTS:
            self._part(name)
        return self

    def _part(self, name: str) -> Any:
        parts = self._parts
        if name in parts:
            return parts[name]
        with self._lock:
            if name not in parts:
                parts[name] = _load_part(name, self)
            return parts[name]


def _load_part(name: str, spec: Spec) -> Any:
    # imported here: the model is loaded before any part, and a part's module only when used
    if name == "ssse":
        from sscard.spec.loader import load_ssse

        return load_ssse(spec.base, spec.code_tables)
    if name == "pboc":
        from sscard.spec.pboc import load_pboc

        return load_pboc(spec.base)
    from sscard.spec.psam import load_psam

    return load_psam(spec.base)


def frozen_map(d: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(d))
