"""Personas: TOML descriptions of one synthetic card (holder data, layout, state, PIN).

Loading is strict: an unknown key, a missing item or a value the spec cannot
encode is a SpecError naming the persona and the field — never the value, which
may look like personal data.  Values are checked by encoding them with the spec
item itself, so a persona can only hold what a real card could.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from sscard.codec.atr import parse_atr
from sscard.emulator.bank_persona import BankPersona, load_bank
from sscard.emulator.transparent_files import load_transparent, transparent_contents
from sscard.errors import DecodeError, InvalidArgument, SpecError
from sscard.spec import Spec, load_spec
from sscard.spec.loader import Fields, read_toml
from sscard.spec.model import DataItem

PERSONA_DIR = Path(__file__).resolve().parent / "personas"
ATR_PREFIX = bytes.fromhex("3B6D0000")  # TS, T0 = 6D (TB1, TC1, 13 historical bytes), TB1, TC1
LAYOUTS = {"ssse", "mf"}
STATES = {"active", "ssse_blocked", "card_blocked"}
LE_ZERO = {"data", "6Cxx"}
# READ RECORD P2 forms (LD/T 32.5 Table 32): the record mode (b3..b1: 100 number, 000..011
# identifier, 101/110 range) on the current EF or, with "sfi_", on the file its SFI names
READ_RECORD_FORMS = frozenset(
    {"number", "identifier", "range", "sfi_number", "sfi_identifier", "sfi_range"}
)
# what a COS answers to a P2 it does not implement (ISO 7816-4: wrong P1-P2, function not
# supported, instruction or class not supported)
READ_RECORD_REFUSALS = frozenset({0x6A86, 0x6B00, 0x6A81, 0x6D00, 0x6E00})
GENERATION_OF_VERSION = {"1": 1, "2": 2, "3": 3}

Value = str | _dt.date


@dataclasses.dataclass(frozen=True)
class Pin:
    value: str
    tries_left: int
    max_tries: int


@dataclasses.dataclass(frozen=True)
class Auth:
    """EXTERNAL AUTHENTICATE with RKSSSE: the card-side key reference and its try counter."""

    key_reference: int = 0x0A  # card P2 (docs/card-facts.md#keys: configurable)
    tries_left: int = 3
    max_tries: int = 3


@dataclasses.dataclass(frozen=True)
class Persona:
    name: str  # file stem, used in error messages
    description: str
    atr_historical: bytes
    layout: str
    state: str
    algorithm: bytes  # b"" = FCI without 9F0C
    le_zero: str
    t0: bool
    ef05: Mapping[str, Value]
    ef06: Mapping[str, Value] | None  # None: no EF06 (layout "mf" only)
    pin: Pin | None = None
    raw_records: Mapping[tuple[str, int], bytes] = dataclasses.field(
        default_factory=dict
    )  # (file, tag)
    auth: Auth = Auth()
    bank: BankPersona | None = None  # the UnionPay PBOC application; None: the card has none
    transparent: Mapping[str, bytes] = dataclasses.field(default_factory=dict)  # EF07/EF08 content
    whole_atr: bytes | None = None  # `atr` in the file: the ATR as given (T=1, contactless …)
    read_record_forms: frozenset[str] = READ_RECORD_FORMS  # the P2 forms this COS accepts
    read_record_refusal: int = 0x6A86  # its answer to the others

    def __post_init__(self) -> None:
        # checks that need no spec; they also guard dataclasses.replace() overrides
        where = f"persona {self.name}"
        if "\n" in self.description:
            raise SpecError(f"{where}: description must be one line")
        if self.whole_atr is None and len(self.atr_historical) != 13:
            raise SpecError(f"{where}: atr_historical must be 13 bytes")
        if self.whole_atr is not None:
            try:
                parsed = parse_atr(self.whole_atr)
            except DecodeError as e:
                raise SpecError(f"{where}: atr is not a valid ATR: {e.message}") from None
            if parsed.historical != self.atr_historical:
                raise SpecError(f"{where}: atr_historical differs from the historical bytes of atr")
        for label, value, allowed in (
            ("layout", self.layout, LAYOUTS),
            ("state", self.state, STATES),
            ("card_os.le_zero", self.le_zero, LE_ZERO),
        ):
            if value not in allowed:
                raise SpecError(f"{where}: {label} must be one of {sorted(allowed)}")
        if not isinstance(self.t0, bool):
            raise SpecError(f"{where}: card_os.t0 must be true or false")
        forms = self.read_record_forms
        if not isinstance(forms, frozenset) or not forms <= READ_RECORD_FORMS:
            raise SpecError(
                f"{where}: card_os.read_record must list forms of {sorted(READ_RECORD_FORMS)}"
            )
        if not {"number", "identifier"} & forms:
            raise SpecError(f'{where}: card_os.read_record needs "number" or "identifier"')
        if self.read_record_refusal not in READ_RECORD_REFUSALS:
            raise SpecError(
                f"{where}: card_os.read_record_refusal must be one of "
                + ", ".join(f"{sw:04X}" for sw in sorted(READ_RECORD_REFUSALS))
            )
        if len(self.algorithm) > 1:
            raise SpecError(f"{where}: algorithm must be one byte or empty")
        if self.ef06 is None and self.layout != "mf":
            raise SpecError(f'{where}: [ef06] is required unless layout = "mf"')
        if self.pin is not None:
            _check_pin(self.pin, where)
        if not (
            0 <= self.auth.tries_left <= self.auth.max_tries <= 15
            and 0 < self.auth.key_reference < 0x20
        ):
            raise SpecError(
                f"{where}: [auth] needs 0 <= tries_left <= max_tries <= 15 and a "
                "key reference of 01..1F"
            )
        for attr in ("ef05", "ef06", "raw_records", "transparent"):
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, MappingProxyType(dict(value)))
        _ = self.generation  # raises SpecError for an unknown spec version

    @property
    def generation(self) -> int:
        """Card generation from the spec version's first character ("" = 1)."""
        version = self.ef05.get("spec_version", "")
        if not isinstance(version, str):
            raise SpecError(f"persona {self.name}: ef05.spec_version must be a string")
        if version == "":
            return 1
        if version[0] not in GENERATION_OF_VERSION:
            raise SpecError(f"persona {self.name}: ef05.spec_version does not start with 1, 2 or 3")
        return GENERATION_OF_VERSION[version[0]]

    @property
    def atr(self) -> bytes:
        return self.whole_atr if self.whole_atr is not None else ATR_PREFIX + self.atr_historical


def _check_pin(pin: Pin, where: str) -> None:
    if not (4 <= len(pin.value) <= 12 and pin.value.isascii() and pin.value.isdigit()):
        raise SpecError(f"{where}: pin.value must be 4 to 12 digits")
    if not 1 <= pin.max_tries <= 15:  # the count travels in one nibble (63Cx)
        raise SpecError(f"{where}: pin.max_tries must be 1 to 15")
    if not 0 <= pin.tries_left <= pin.max_tries:
        raise SpecError(f"{where}: pin.tries_left must be 0 to max_tries")


# --- records ----------------------------------------------------------------------------


def encode_value(item: DataItem, value: Value, where: str) -> bytes:
    """The record bytes of `value`, or a SpecError that does not quote the value."""
    wants_date = item.codec.encoding == "cn" and item.codec.format == "date"
    if wants_date:
        ok_type = value == "" or (
            isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)
        )
    else:
        ok_type = isinstance(value, str)
    if not ok_type:
        expected = 'a TOML date or ""' if wants_date else "a string"
        raise SpecError(f"{where}: must be {expected}")
    try:
        return item.encode_record(value)
    except (DecodeError, ValueError, TypeError):
        raise SpecError(
            f"{where}: not a valid {item.codec.encoding} value of {item.codec.length} bytes"
        ) from None


def persona_records(spec: Spec, persona: Persona) -> dict[str, tuple[bytes, ...]]:
    """file key -> its records (spec items of the card's generation, in order) as bytes."""
    generation = persona.generation
    out: dict[str, tuple[bytes, ...]] = {}
    for key, values in (("ef05", persona.ef05), ("ef06", persona.ef06)):
        if values is None:
            continue
        items = spec.ssse.file(key).items_for(generation)
        wanted = {i.key for i in items}
        extra = sorted(set(values) - wanted)
        if extra:
            raise SpecError(
                f"persona {persona.name}: [{key}] has keys that are not items of "
                f"generation {generation}: {extra}"
            )
        missing = [i.key for i in items if i.key not in values]
        if missing:
            raise SpecError(f"persona {persona.name}: [{key}] is missing {missing}")
        records = []
        for item in items:
            raw = persona.raw_records.get((key, item.tag))
            if raw is None:
                raw = encode_value(
                    item, values[item.key], f"persona {persona.name}: {key}.{item.key}"
                )
            records.append(raw)
        out[key] = tuple(records)
    for file_key, tag in persona.raw_records:
        items = spec.ssse.file(file_key).items_for(generation) if file_key in out else ()
        if tag not in {i.tag for i in items}:
            raise SpecError(
                f"persona {persona.name}: raw_records '{file_key}.{tag:02X}' "
                f"is not a record of this card"
            )
    return out


# --- loading -------------------------------------------------------------------------------


def list_personas() -> list[str]:
    return sorted(p.stem for p in PERSONA_DIR.glob("*.toml"))


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(name_or_path)
        if not path.exists():  # anything else that is not a regular file: read_toml says so
            raise InvalidArgument(f"persona file not found: {path}")
        return path
    names = list_personas()
    if text not in names:
        raise InvalidArgument(f"unknown persona {text!r}; available: {', '.join(names)}")
    return PERSONA_DIR / f"{text}.toml"


def load_persona(name_or_path: str | Path, spec: Spec | None = None) -> Persona:
    """A packaged persona by name, or a persona TOML file by path; fully validated."""
    path = _resolve(name_or_path)
    spec = spec or load_spec()
    where = f"persona {path.stem}"
    top = Fields(read_toml(path), where)
    card_os = Fields(top.get("card_os", dict, {}), f"{where} [card_os]")
    pin = None
    if "pin" in top.table:
        p = Fields(top.get("pin", dict), f"{where} [pin]")
        max_tries = p.get("max_tries", int, 3)
        pin = Pin(p.get("value", str), p.get("tries_left", int, max_tries), max_tries)
        p.done()
    auth = Auth()
    if "auth" in top.table:
        a = Fields(top.get("auth", dict), f"{where} [auth]")
        max_tries = a.get("max_tries", int, 3)
        auth = Auth(
            a.hex("key_reference", 1, b"\x0a")[0], a.get("tries_left", int, max_tries), max_tries
        )
        a.done()
    ef06 = top.get("ef06", dict, None)
    persona = Persona(
        name=path.stem,
        description=top.get("description", str),
        atr_historical=_atr_historical(top, where),
        whole_atr=top.hex("atr", None, None),
        layout=top.get("layout", str, "ssse"),
        state=top.get("state", str, "active"),
        algorithm=top.hex("algorithm"),
        le_zero=card_os.get("le_zero", str, "data"),
        t0=card_os.get("t0", bool, False),
        read_record_forms=_read_record_forms(card_os, where),
        read_record_refusal=int.from_bytes(
            card_os.hex("read_record_refusal", 2, b"\x6a\x86"), "big"
        ),
        ef05=top.get("ef05", dict),
        ef06=ef06,
        pin=pin,
        raw_records=_raw_records(top, where),
        auth=auth,
        bank=load_bank(top.get("bank", dict), spec.pboc, where) if "bank" in top.table else None,
        transparent=load_transparent(top, where),
    )
    card_os.done()
    top.done()
    persona_records(spec, persona)  # validates every value against the spec
    transparent_contents(spec, persona)
    return persona


def _atr_historical(top: Fields, where: str) -> bytes:
    """`atr_historical` (the ATR is then 3B6D0000 + these 13 bytes, T=0) or `atr`, a whole
    ATR parsed by the reader's own rules (sscard.codec.atr), for T=1 and contactless cards."""
    if ("atr" in top.table) == ("atr_historical" in top.table):
        raise SpecError(f"{where}: give either atr_historical or atr")
    if "atr_historical" in top.table:
        return top.hex("atr_historical")
    try:
        return parse_atr(top.hex("atr")).historical
    except DecodeError as e:
        raise SpecError(f"{where}: atr is not a valid ATR: {e.message}") from None


def _read_record_forms(card_os: Fields, where: str) -> frozenset[str]:
    forms = card_os.get("read_record", list, sorted(READ_RECORD_FORMS))
    if not all(isinstance(f, str) for f in forms) or len(set(forms)) != len(forms):
        raise SpecError(f"{where}: card_os.read_record must list each form once")
    return frozenset(forms)


def _raw_records(top: Fields, where: str) -> dict[tuple[str, int], bytes]:
    raw = Fields(top.get("raw_records", dict, {}), f"{where} [raw_records]")
    out = {}
    for key in list(raw.table):
        file_key, _, tag = key.partition(".")
        try:
            tag_value = bytes.fromhex(tag)
        except ValueError:
            tag_value = b""
        if file_key not in ("ef05", "ef06") or len(tag_value) != 1:
            raise SpecError(f'{where}: raw_records key {key!r} must look like "ef06.09"')
        out[(file_key, tag_value[0])] = raw.hex(key)
    raw.done()
    return out
