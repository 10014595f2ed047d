"""The optional [bank] section of a persona: the card's UnionPay PBOC application.

Data values are keyed by the data-object keys of apdu_specs/pboc.toml (`pan`, `expiry_date`,
`id_number`, `ecash_balance`, …) and checked by encoding them with the spec object, so a
persona can only hold what the card could.  "" means "not personalised" (left out of the
record).  Errors name the field, never the value (it may look like personal data).

    [bank]
    state = "active"             # or "blocked": SELECT answers 6283 with the FCI
    interface = "contact"        # or "contactless": which FCI and PDOL SELECT shows
    directories = ["pse"]        # which of pse / ppse the card answers (default per interface)
    gpo_format = 1               # 1: template 80; 2: template 77
    gpo_refusal = false          # true: GPO counts the ATC, then answers 6985
    records_before_gpo = true    # false: AFL records answer 6985 until a GPO
    aid = "A000000333010101"     # default the debit AID
    priority = "01"
    pan = "6212340000000000012"  # … any record / GET DATA / FCI object by key
    [bank.records]               # optional layout, "SFI.record" = [object keys]
    "1.1" = ["track2", "cardholder_name", "id_number", "id_type"]
    [[bank.transaction_log]]     # most recent first; keys of the 9F4F format's objects
    transaction_date = 2026-11-30
    [[bank.load_log]]            # e-cash loads: balance_before, balance_after + the DF4F objects
    [[bank.extra_app]]           # more applications: aid, priority and any values to override
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sscard.errors import SpecError
from sscard.spec.loader import Fields
from sscard.spec.pboc import DataObject, Pboc

STATES = ("active", "blocked")
INTERFACES = ("contact", "contactless")
DIRECTORIES = ("pse", "ppse")
# where an object must be usable to be a persona value
PERSONA_WHERE = frozenset({"record", "get_data", "fci", "directory", "gpo"})
# objects the applet builds itself: a persona cannot set them
BUILT = frozenset(
    {
        "fci",
        "df_name",
        "fci_proprietary",
        "directory_sfi",
        "fci_issuer_discretionary",
        "record_template",
        "application_template",
        "aid",
        "gpo_format1",
        "gpo_format2",
        "afl",
        "issuer_application_data",
        "application_cryptogram",
        "cryptogram_information",
    }
)

# Personalisation of a plain debit application where the persona says nothing
# (values as in the public perso-debit data set, docs/card-facts.md#pboc-data-objects);
# personal data has no default.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "language_preference": "zh",
        "issuer_code_table_index": "01",
        "pan_sequence": "01",
        "application_version": "0030",
        "application_usage_control": "FF00",
        "issuer_country": "0156",
        "application_currency": "0156",
        "currency_exponent": "02",
        "service_code": "0220",
        "cvm_list": "000000000000000042031E031F00",
        "cdol1": [
            {"tag": t, "length": n}
            for t, n in (
                ("9F02", 6),
                ("9F03", 6),
                ("9F1A", 2),
                ("95", 5),
                ("5F2A", 2),
                ("9A", 3),
                ("9C", 1),
                ("9F37", 4),
                ("9F21", 3),
                ("9F4E", 20),
            )
        ],
        "cdol2": [
            {"tag": t, "length": n}
            for t, n in (
                ("8A", 2),
                ("9F02", 6),
                ("9F03", 6),
                ("9F1A", 2),
                ("95", 5),
                ("5F2A", 2),
                ("9A", 3),
                ("9C", 1),
                ("9F37", 4),
            )
        ],
        "aip": "7C00",
        "atc": 0,
        "last_online_atc": 0,
        "pin_try_counter": 3,
        "ecash_balance": 0,
        "ecash_balance_limit": 100000,
        "ecash_single_transaction_limit": 50000,
        "ecash_reset_threshold": 0,
    }
)
# identity record first (as perso-debit DGI 0101), then account and risk data
DEFAULT_RECORDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (
        1,
        1,
        (
            "track2",
            "cardholder_name",
            "cardholder_name_extended",
            "track1_discretionary",
            "id_number",
            "id_type",
        ),
    ),
    (
        2,
        1,
        (
            "pan",
            "expiry_date",
            "effective_date",
            "pan_sequence",
            "application_usage_control",
            "issuer_country",
            "application_version",
            "service_code",
        ),
    ),
    (
        2,
        2,
        (
            "cdol1",
            "cdol2",
            "cvm_list",
            "application_currency",
            "currency_exponent",
            "ecash_issuer_authorisation_code",
        ),
    ),
)
REQUIRED = ("pan", "expiry_date", "effective_date")


@dataclasses.dataclass(frozen=True)
class BankApp:
    aid: bytes
    priority: int
    values: Mapping[str, Any]  # object key -> value ("" = not personalised)
    transaction_log: tuple[Mapping[str, Any], ...] = ()  # most recent first
    load_log: tuple[Mapping[str, Any], ...] = ()

    def value(self, key: str) -> Any:
        """The value, or None when not personalised."""
        v = self.values.get(key, "")
        return None if v == "" else v


@dataclasses.dataclass(frozen=True)
class BankPersona:
    state: str
    interface: str
    directories: tuple[str, ...]
    gpo_format: int
    gpo_refusal: bool
    records_before_gpo: bool
    records: tuple[tuple[int, int, tuple[str, ...]], ...]  # (SFI, record, object keys)
    apps: tuple[BankApp, ...]


def load_bank(table: Any, pboc: Pboc, where: str) -> BankPersona:
    where = f"{where} [bank]"
    f = Fields(table, where)
    by_key = {o.key: o for o in pboc.tags.values()}
    state = f.choice("state", set(STATES), "active")
    interface = f.choice("interface", set(INTERFACES), "contact")
    default_dirs = ["pse", "ppse"] if interface == "contact" else ["ppse"]
    directories = f.get("directories", list, default_dirs)
    if (
        not all(isinstance(d, str) for d in directories)
        or not set(directories) <= set(DIRECTORIES)
        or len(set(directories)) != len(directories)
    ):
        raise SpecError(f"{where}: directories must be distinct names of {list(DIRECTORIES)}")
    if interface == "contactless" and "pse" in directories:
        raise SpecError(f"{where}: a contactless interface has no PSE")
    gpo_format = f.get("gpo_format", int, 1)
    if gpo_format not in (1, 2):
        raise SpecError(f"{where}: gpo_format must be 1 or 2")
    records = _records(f, by_key, where)
    extras = f.get("extra_app", list, [])
    primary = _app(f, pboc, by_key, where, base={}, primary=True)
    f.done()
    apps = [primary]
    for n, raw in enumerate(extras):
        e = Fields(raw, f"{where} extra_app[{n}]")
        # an extra application shares the holder's data unless it says otherwise; logs stay
        apps.append(_app(e, pboc, by_key, e.where, base=dict(primary.values), primary=False))
        e.done()
    if len({a.aid for a in apps}) != len(apps):
        raise SpecError(f"{where}: two applications with the same AID")
    return BankPersona(
        state,
        interface,
        tuple(directories),
        gpo_format,
        f.table.get("gpo_refusal", False),
        f.table.get("records_before_gpo", True),
        records,
        tuple(apps),
    )


def _records(f: Fields, by_key: dict, where: str) -> tuple:
    raw = f.get("records", dict, None)
    if raw is None:
        return DEFAULT_RECORDS
    out = []
    for name, keys in raw.items():
        sfi_text, _, rec_text = name.partition(".")
        if not (
            sfi_text.isdigit()
            and rec_text.isdigit()
            and 1 <= int(sfi_text) <= 10
            and 1 <= int(rec_text) <= 254
        ):
            raise SpecError(f'{where}: records key {name!r} must be "SFI.record" (SFI 1..10)')
        if not isinstance(keys, list) or any(
            k not in by_key or "record" not in by_key[k].where for k in keys
        ):
            raise SpecError(f"{where}: records.{name} must list keys of record objects")
        out.append((int(sfi_text), int(rec_text), tuple(keys)))
    out.sort()
    for sfi in {s for s, _, _ in out}:
        numbers = [r for s, r, _ in out if s == sfi]
        if numbers != list(range(1, len(numbers) + 1)):
            raise SpecError(f"{where}: records of SFI {sfi} must be numbered 1, 2, … without gaps")
    return tuple(out)


def _app(f: Fields, pboc: Pboc, by_key: dict, where: str, base: dict, primary: bool) -> BankApp:
    aid = f.hex("aid", None, bytes.fromhex("A000000333010101") if primary else ...)
    entry = pboc.aid_entry(aid)
    if not 5 <= len(aid) <= 16 or entry is None or entry.partial:
        raise SpecError(f"{where}: aid must be a full UnionPay AID of apdu_specs/pboc.toml")
    priority = f.hex("priority", 1, b"\x01" if primary else ...)[0]
    settings = {"aid", "priority"}
    if primary:
        settings |= {
            "state",
            "interface",
            "directories",
            "gpo_format",
            "gpo_refusal",
            "records_before_gpo",
            "records",
            "extra_app",
            "transaction_log",
            "load_log",
        }
        for key in ("gpo_refusal", "records_before_gpo"):
            if key in f.table:
                f.get(key, bool)
        values: dict[str, Any] = dict(DEFAULTS)
    else:
        # its own counters and label; no logs unless it declares them
        values = {
            k: v
            for k, v in base.items()
            if k
            not in (
                "atc",
                "last_online_atc",
                "log_entry",
                "log_format",
                "load_log_entry",
                "load_log_format",
                "application_label",
                "preferred_name",
            )
        }
        values.update(atc=DEFAULTS["atc"], last_online_atc=DEFAULTS["last_online_atc"])
    values["application_label"] = entry.label
    for key in list(f.table):
        if key in settings:
            continue
        obj = by_key.get(key)
        if obj is None or key in BUILT or not obj.where & PERSONA_WHERE:
            raise SpecError(f"{where}: unknown key {key!r}")
        values[key] = _checked(obj, f.get(key, object), f"{where}: {key}")
    missing = [k for k in REQUIRED if values.get(k, "") == ""]
    if primary and missing:
        raise SpecError(f"{where}: missing {missing}")
    if "track2" not in values and values.get("pan"):
        values["track2"] = {
            "pan": values["pan"],
            "expiry": values["expiry_date"].strftime("%y%m"),
            "service_code": values["service_code"][-3:],
            "discretionary": "0000000000",
        }
        _checked(by_key["track2"], values["track2"], f"{where}: track2")
    tlog: tuple[Mapping[str, Any], ...] = ()
    llog: tuple[Mapping[str, Any], ...] = ()
    if primary:
        # every primary application keeps a transaction log (maybe empty); a load log
        # only when it has entries or declares one
        tlog = _log_entries(f, pboc, "transaction", "transaction_log", values, where)
        llog = _log_entries(f, pboc, "load", "load_log", values, where)
        _log_defaults(values, pboc.log("transaction"), "log_entry", "log_format")
        if llog or "load_log_entry" in values:
            _log_defaults(values, pboc.log("load"), "load_log_entry", "load_log_format")
    for key in ("log_entry", "load_log_entry"):
        entry_value = values.get(key)
        if entry_value and not 11 <= entry_value["sfi"] <= 30:
            raise SpecError(f"{where}: {key} SFI must be 11..30 (JR/T 0025.5 §18.1)")
    return BankApp(aid, priority, MappingProxyType(values), tlog, llog)


def _log_defaults(values: dict, log, entry_key: str, format_key: str) -> None:
    values.setdefault(entry_key, dict(log.recommended_entry))
    values.setdefault(
        format_key, [{"tag": f"{t:X}", "length": n} for t, n in log.recommended_format]
    )


def _checked(obj: DataObject, value: Any, where: str) -> Any:
    if value == "":
        return ""
    if isinstance(value, _dt.datetime):
        raise SpecError(f"{where}: must be a date, not a date and time")
    try:
        obj.encode(value)
    except Exception:  # any encoder complaint: report the field, not the value
        raise SpecError(f"{where}: not a valid {obj.format} value for {obj.tag_hex}") from None
    return value


def _log_entries(
    f: Fields, pboc: Pboc, log_key: str, key: str, values: dict, where: str
) -> tuple[Mapping[str, Any], ...]:
    log = pboc.log(log_key)
    format_key = pboc.tags[log.format_tag].key
    dol = [
        (int(e["tag"], 16), e["length"])
        for e in values.get(format_key)
        or [{"tag": f"{t:X}", "length": n} for t, n in log.recommended_format]
    ]
    allowed = {pboc.tags[t].key: t for t, _ in dol if t in pboc.tags}
    prefix = {p.key for p in log.prefix}
    out = []
    for n, raw in enumerate(f.get(key, list, [])):
        e = Fields(raw, f"{where} {key}[{n}]")
        record: dict[str, Any] = {}
        for field in list(e.table):
            if field in prefix:
                record[field] = e.get(field, object)
            elif field in allowed:
                record[f"{allowed[field]:X}"] = e.get(field, object)
            else:
                raise SpecError(f"{e.where}: {field!r} is not a field of the {log_key} log format")
        for p in log.prefix:  # the load log's PUT DATA P1 P2 are those of the balance (9F79)
            record.setdefault(p.key, {"put_data_p1": "9F", "put_data_p2": "79"}.get(p.key))
        try:
            log.encode_record(record, dol)
        except Exception:
            raise SpecError(f"{e.where}: a value does not fit the {log_key} log format") from None
        e.done()
        out.append(MappingProxyType(record))
    return tuple(out)
