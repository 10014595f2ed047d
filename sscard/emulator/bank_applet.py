"""The card's UnionPay PBOC debit application (docs/card-facts.md#bank-application), from the
spec and a persona.

It answers what a terminal sends a bank application: SELECT of the PSE / PPSE / AIDs
(exact or partial, P2 02 = next occurrence), READ RECORD (the PSE directory, the AFL
records, the transaction and load logs), GET PROCESSING OPTIONS (PDOL length checked,
ATC + 1 on every accepted GPO, format 80 or 77) and GET DATA.  The social security card
(`ssc_card.SocialSecurityCard`) hands it those commands; Le and T=0 stay with the CardOS.

Every byte comes from apdu_specs/pboc.toml (tags, formats, names) and the persona's
[bank] section; nothing is imported from the reader.
"""

from __future__ import annotations

from typing import Any

from sscard.codec.apdu import CommandApdu
from sscard.codec.tlv import encode_ber
from sscard.emulator.bank_persona import BankApp, BankPersona
from sscard.emulator.card_os import SwError
from sscard.spec.pboc import Pboc

SW_OK = 0x9000
SW_BLOCKED = 0x6283  # selected file invalidated: the application is blocked, FCI still sent
ATC_MAX = 0xFFFF
PSE_DIRECTORY_SFI = 1


class AppState:
    """Non-volatile state of one application: survives power cycles."""

    def __init__(self, app: BankApp, blocked: bool) -> None:
        self.app = app
        self.atc = int(app.values["atc"])
        self.blocked = blocked


class BankApplet:
    def __init__(self, pboc: Pboc, persona: BankPersona) -> None:
        self.pboc = pboc
        self.persona = persona
        self.apps = [AppState(a, persona.state == "blocked") for a in persona.apps]
        self.reset()

    # --- state ------------------------------------------------------------------------

    def reset(self) -> None:
        """Power cycle or reset: nothing selected, no transaction in progress."""
        self.selected: str | AppState | None = None  # "pse" | "ppse" | an application
        self.gpo_done = False

    def deselect(self) -> None:
        self.reset()

    @property
    def app(self) -> AppState | None:
        return self.selected if isinstance(self.selected, AppState) else None

    # --- SELECT ---------------------------------------------------------------------------

    def select(self, apdu: CommandApdu) -> tuple[bytes, int] | None:
        """(FCI, SW) for a bank name; None when the name is not one of the bank's."""
        name = bytes(apdu.data)
        for key in self.persona.directories:
            if name == self.pboc.directories[key].name:
                if apdu.p2 == 0x02:  # a directory is unique: there is no next one
                    raise SwError(0x6A82)
                self.selected, self.gpo_done = key, False
                return self._directory_fci(key), SW_OK
        matches = [s for s in self.apps if len(name) >= 5 and s.app.aid.startswith(name)]
        if not matches:
            if apdu.p2 == 0x02 and len(name) >= 5 and self.pboc.scheme.owns(name):
                raise SwError(0x6A82)
            return None
        if apdu.p2 == 0x02:  # next occurrence: after the application selected now
            current = self.apps.index(self.app) if self.app in matches else -1
            matches = [s for s in matches if self.apps.index(s) > current]
            if not matches:
                raise SwError(0x6A82)
        state = matches[0]
        self.selected, self.gpo_done = state, False
        return self._adf_fci(state), SW_BLOCKED if state.blocked else SW_OK

    def pdol(self, app: BankApp) -> list[dict[str, Any]]:
        """The persona's PDOL, else the one typical of the interface (contact: no 9F66)."""
        if app.value("pdol") is not None:
            return app.value("pdol")
        return [
            {"tag": f"{t:X}", "length": n}
            for t, n in self.pboc.interface(self.persona.interface).typical_pdol
        ]

    def _tlv(self, key: str, value: Any) -> bytes:
        obj = next(o for o in self.pboc.tags.values() if o.key == key)
        return self.pboc.encode(obj.tag, value)

    def _present(self, app: BankApp, keys: tuple[str, ...]) -> bytes:
        """The TLVs of the keys the persona personalised, in order."""
        return b"".join(self._tlv(k, app.value(k)) for k in keys if app.value(k) is not None)

    def _entry(self, app: BankApp) -> bytes:
        """One directory entry (61): AID, label, preferred name, priority."""
        body = encode_ber(0x4F, app.aid) + self._present(app, ("application_label",))
        if self.persona.interface == "contact":
            body += self._present(app, ("preferred_name",))
        return encode_ber(0x61, body + encode_ber(0x87, bytes((app.priority,))))

    def _directory_fci(self, key: str) -> bytes:
        if key == "pse":
            first = self.apps[0].app
            proprietary = encode_ber(0x88, bytes((PSE_DIRECTORY_SFI,))) + self._present(
                first, ("language_preference", "issuer_code_table_index")
            )
        else:  # PPSE: the directory itself, inline
            proprietary = encode_ber(0xBF0C, b"".join(self._entry(s.app) for s in self.apps))
        name = self.pboc.directories[key].name
        return encode_ber(0x6F, encode_ber(0x84, name) + encode_ber(0xA5, proprietary))

    def _adf_fci(self, state: AppState) -> bytes:
        app = state.app
        proprietary = self._present(app, ("application_label",))
        proprietary += encode_ber(0x87, bytes((app.priority,)))
        proprietary += self._tlv("pdol", self.pdol(app))
        proprietary += self._present(
            app, ("language_preference", "issuer_code_table_index", "preferred_name")
        )
        if self.persona.interface == "contact":  # only the contact FCI points at the logs
            discretionary = self._present(app, ("log_entry", "load_log_entry"))
            if discretionary:
                proprietary += encode_ber(0xBF0C, discretionary)
        return encode_ber(0x6F, encode_ber(0x84, app.aid) + encode_ber(0xA5, proprietary))

    # --- READ RECORD ------------------------------------------------------------------------

    def read_record(self, apdu: CommandApdu) -> bytes:
        sfi, mode, number = apdu.p2 >> 3, apdu.p2 & 0x07, apdu.p1
        if mode != 0b100 or sfi == 0:
            raise SwError(0x6A86)  # bank files are read by SFI and record number only
        if number == 0:
            raise SwError(0x6A86)
        if self.selected == "pse":
            if sfi != PSE_DIRECTORY_SFI:
                raise SwError(0x6A82)
            directory = [encode_ber(0x70, b"".join(self._entry(s.app) for s in self.apps))]
            return _pick(directory, number)
        app = self.app
        if app is None:
            raise SwError(0x6A82)  # the PPSE has no files
        for log_key, entry_key, entries in (
            ("transaction", "log_entry", app.app.transaction_log),
            ("load", "load_log_entry", app.app.load_log),
        ):
            entry = app.app.value(entry_key)
            if entry and entry["sfi"] == sfi:
                if number > entry["records"]:
                    raise SwError(0x6A83)
                return _pick([self._log_record(app.app, log_key, e) for e in entries], number)
        records = [r for r in self.persona.records if r[0] == sfi]
        if not records:
            raise SwError(0x6A82)
        if not self.persona.records_before_gpo and not self.gpo_done:
            raise SwError(0x6985)
        built = [encode_ber(0x70, self._present(app.app, keys)) for _, _, keys in records]
        return _pick(built, number)

    def _log_record(self, app: BankApp, log_key: str, values) -> bytes:
        log = self.pboc.log(log_key)
        format_key = self.pboc.tags[log.format_tag].key
        dol = [(int(e["tag"], 16), e["length"]) for e in app.value(format_key)]
        return log.encode_record(values, dol)

    # --- GET PROCESSING OPTIONS -------------------------------------------------------------

    def get_processing_options(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 or apdu.p2:
            raise SwError(0x6A86)
        state = self.app
        if state is None:
            raise SwError(0x6985)  # no application selected
        data = bytes(apdu.data)
        if len(data) < 2 or data[0] != 0x83:
            raise SwError(0x6A80)
        if data[1] != len(data) - 2 or data[1] != sum(e["length"] for e in self.pdol(state.app)):
            raise SwError(0x6700)  # the PDOL data does not have the length the PDOL asks
        if state.blocked or state.atc >= ATC_MAX:
            raise SwError(0x6985)
        state.atc += 1  # JR/T 0025.5 §7: the transaction starts, whatever follows
        if state.atc >= ATC_MAX:
            state.blocked = True  # the last transaction: the application locks for good
        if self.persona.gpo_refusal:
            raise SwError(0x6985)
        self.gpo_done = True
        aip = bytes.fromhex(state.app.value("aip"))
        afl = self.pboc.tags[0x94].encode(self.afl())
        if self.persona.gpo_format == 1:
            return encode_ber(0x80, aip + afl)
        return encode_ber(
            0x77, encode_ber(0x82, aip) + encode_ber(0x94, afl) + self._tlv("atc", state.atc)
        )

    def afl(self) -> list[dict[str, int]]:
        out = []
        for sfi in sorted({r[0] for r in self.persona.records}):
            numbers = [r[1] for r in self.persona.records if r[0] == sfi]
            # records of SFI 2 and up take part in offline data authentication
            out.append(
                {
                    "sfi": sfi,
                    "first": 1,
                    "last": max(numbers),
                    "offline": len(numbers) if sfi > 1 else 0,
                }
            )
        return out

    # --- GET DATA -----------------------------------------------------------------------------

    def get_data(self, apdu: CommandApdu) -> bytes:
        state = self.app
        if state is None:
            raise SwError(0x6A88)
        tag = (apdu.p1 << 8) | apdu.p2 if apdu.p1 else apdu.p2
        obj = self.pboc.tags.get(tag)
        if obj is None or "get_data" not in obj.where:
            raise SwError(0x6A88)
        value = state.atc if obj.key == "atc" else state.app.value(obj.key)
        if value is None:
            raise SwError(0x6A88)  # not personalised, or only for issuer devices
        return self.pboc.encode(tag, value)


def _pick(records: list[bytes], number: int) -> bytes:
    if number > len(records):
        raise SwError(0x6A83)
    return records[number - 1]
