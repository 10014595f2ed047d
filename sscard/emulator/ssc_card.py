"""The social security card: SSSE file system, READ RECORD/BINARY, VERIFY, GET CHALLENGE.

Built only from the spec (apdu_specs/ via sscard.spec) and a persona, never
from the reader's code, so the two cannot share a misunderstanding.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from sscard.codec import bcd
from sscard.codec.apdu import CommandApdu
from sscard.crypto import authentication_data
from sscard.emulator.bank_applet import BankApplet
from sscard.emulator.card_keys import card_keys
from sscard.emulator.card_os import CardOS, SwError, sw_bytes
from sscard.emulator.fci import ssse_fci
from sscard.emulator.persona import Persona, Pin, load_persona, persona_records
from sscard.emulator.transparent_files import transparent_contents
from sscard.errors import DecodeError
from sscard.spec import Spec, load_spec
from sscard.spec.model import ElementaryFile

MF_FID = 0x3F00
SW_OK = sw_bytes(0x9000)
CHALLENGE_LENGTHS = (4, 8, 16)


@dataclass
class EmulatedEF:
    spec: ElementaryFile
    records: tuple[bytes, ...] = ()  # record files: record n is records[n - 1]
    content: bytes = b""  # transparent files: the whole file


@dataclass
class DedicatedFile:
    fid: int | None  # None: reachable only by name
    name: bytes | None
    efs: dict[int, EmulatedEF] = field(default_factory=dict)  # by FID

    def ef_by_sfi(self, sfi: int) -> EmulatedEF | None:
        return next((ef for ef in self.efs.values() if ef.spec.sfi == sfi), None)


class SocialSecurityCard(CardOS):
    """An emulated SSC; `persona` decides data, layout, state and card-OS quirks."""

    def __init__(self, spec: Spec, persona: Persona) -> None:
        self.spec = spec
        self.persona = persona
        self.generation = persona.generation
        self.atr = persona.atr
        self.mf, self.ssse = self._build_files(
            persona_records(spec, persona), transparent_contents(spec, persona)
        )
        # non-volatile: survives power cycles and resets
        self.pin_tries_left = persona.pin.tries_left if persona.pin else 0
        self.pin_value = persona.pin.value if persona.pin else None  # CHANGE PIN rewrites it
        self.auth_tries_left = persona.auth.tries_left
        region = str(persona.ef05.get("card_identification", ""))[:6]
        self.keys = card_keys(persona.algorithm, region, persona.atr) if region else None
        # the UnionPay application on the same chip (its ATC is non-volatile: built once)
        self.bank = BankApplet(spec.pboc, persona.bank) if persona.bank else None
        self.bank_df = DedicatedFile(None, None)  # stands for "a bank DF is current"
        super().__init__(le_zero=persona.le_zero, t0=persona.t0)
        self.handlers.update(
            {
                0xA4: self.select,
                0xB2: self.read_record,
                0xB0: self.read_binary,
                0x20: self.verify,
                0x5E: self.change_pin,
                0x84: self.get_challenge,
                0x82: self.external_authenticate,
                0x88: self.internal_authenticate,
            }
        )
        if self.bank is not None:
            self.handlers.update({0xA8: self.get_processing_options, 0xCA: self.get_data})

    @classmethod
    def from_persona(
        cls, name_or_path: str | Path, *, spec: Spec | None = None, **overrides
    ) -> SocialSecurityCard:
        """Card of a packaged persona (or persona file), with Persona fields overridden,
        e.g. `from_persona("gen2", t0=True, le_zero="6Cxx")`."""
        spec = spec or load_spec()
        persona = load_persona(name_or_path, spec)
        if overrides:
            persona = dataclasses.replace(persona, **overrides)
        return cls(spec, persona)

    def _build_files(
        self, records: dict[str, tuple[bytes, ...]], contents: dict[str, bytes]
    ) -> tuple[DedicatedFile, DedicatedFile | None]:
        efs = {}
        for key, recs in records.items():
            ef_spec = self.spec.ssse.file(key)
            efs[ef_spec.fid] = EmulatedEF(ef_spec, records=recs)
        for key, content in contents.items():
            ef_spec = self.spec.ssse.file(key)
            efs[ef_spec.fid] = EmulatedEF(ef_spec, content=content)
        mf = DedicatedFile(MF_FID, None)
        if self.persona.layout == "mf":  # Shanghai-style: no SSSE name, EFs under the MF
            mf.efs = efs
            return mf, None
        return mf, DedicatedFile(None, self.spec.ssse.name, efs)

    # --- volatile state -------------------------------------------------------------

    def clear_volatile(self) -> None:
        super().clear_volatile()
        bank: BankApplet | None = getattr(self, "bank", None)  # None also while constructing
        if bank is not None:
            bank.reset()
        self.current_df = self.mf  # the MF is implicitly selected after reset
        self.current_ef: EmulatedEF | None = None
        self.current_record = 0  # 0 = none (for next/previous-occurrence reads)
        self.security: set[str] = set()  # e.g. {"PIN", "RKSSSE"}
        self.challenge = b""

    def check_state(self) -> None:
        if self.persona.state == "card_blocked":
            raise SwError(0x6A81)

    def _enter_df(self, df: DedicatedFile) -> None:
        # security status belongs to the DF: leaving or re-entering it drops it
        if df is not self.bank_df and self.bank is not None:
            self.bank.deselect()
        self.current_df = df
        self.current_ef = None
        self.current_record = 0
        self.security.clear()

    def _make_current(self, ef: EmulatedEF) -> None:
        if ef is not self.current_ef:
            self.current_record = 0
        self.current_ef = ef

    # --- SELECT ---------------------------------------------------------------------------

    def select(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 == 0x04 and self.bank is not None and apdu.p2 in (0x00, 0x02, 0x0C):
            answer = self.bank.select(apdu)
            if answer is not None:
                self._enter_df(self.bank_df)
                fci, sw = answer
                return sw.to_bytes(2, "big") if apdu.p2 == 0x0C else self.respond(apdu, fci, sw)
        if apdu.p1 == 0x04 and apdu.p2 == 0x02:
            raise SwError(0x6A82)  # no next occurrence of a name this card does not hold
        if apdu.p2 not in (0x00, 0x0C):
            raise SwError(0x6A86)
        if apdu.p1 == 0x04:
            return self._select_by_name(apdu)
        if apdu.p1 not in (0x00, 0x02):
            raise SwError(0x6A86)
        if len(apdu.data) not in ((0, 2) if apdu.p1 == 0x00 else (2,)):
            raise SwError(0x6700)
        fid = int.from_bytes(apdu.data, "big") if apdu.data else MF_FID
        if apdu.p1 == 0x00 and fid == MF_FID:
            self._enter_df(self.mf)
            return SW_OK
        ef = self.current_df.efs.get(fid)
        if ef is None:
            raise SwError(0x6A82)  # the previous selection stays
        self._make_current(ef)
        return SW_OK

    def _select_by_name(self, apdu: CommandApdu) -> bytes:
        if self.ssse is None or apdu.data != self.ssse.name:
            raise SwError(0x6A82)
        if self.persona.state == "ssse_blocked":
            raise SwError(0x9303)
        self._enter_df(self.ssse)
        if apdu.p2 == 0x0C:  # "no response data requested"
            return SW_OK
        return self.respond(apdu, ssse_fci(self.spec.ssse, self.persona.algorithm))

    # --- READ RECORD ---------------------------------------------------------------------

    def read_record(self, apdu: CommandApdu) -> bytes:
        bank = self._selected_bank()
        if bank is not None:
            if apdu.data:
                raise SwError(0x6700)
            return self.respond(apdu, bank.read_record(apdu))
        sfi, mode = apdu.p2 >> 3, apdu.p2 & 0x07
        if sfi == 0x1F or mode == 0b111:  # reserved codings
            raise SwError(0x6A86)
        if self._read_record_form(sfi, mode) not in self.persona.read_record_forms:
            raise SwError(self.persona.read_record_refusal)  # this COS does not take that P2
        if apdu.data:
            raise SwError(0x6700)
        if sfi:
            ef = self.current_df.ef_by_sfi(sfi)
            if ef is None:
                raise SwError(0x6A82)
            self._make_current(ef)  # an SFI read selects the EF
        elif self.current_ef is None:
            raise SwError(0x6986)
        else:
            ef = self.current_ef
        if ef.spec.transparent:
            raise SwError(0x6981)  # command incompatible with the file structure
        self._check_read_access(ef)
        numbers = self._record_numbers(ef, apdu.p1, mode)
        self.current_record = numbers[-1]
        return self.respond(apdu, b"".join(ef.records[n - 1] for n in numbers))

    @staticmethod
    def _read_record_form(sfi: int, mode: int) -> str:
        """The persona's name for a P2 coding (persona.READ_RECORD_FORMS)."""
        kind = "number" if mode == 0b100 else "range" if mode in (0b101, 0b110) else "identifier"
        return f"sfi_{kind}" if sfi else kind

    def _check_read_access(self, ef: EmulatedEF) -> None:
        key = ef.spec.read_access.get(self.generation)
        if not ef.spec.free_to_read(self.generation) and key not in self.security:
            raise SwError(0x6982)

    # --- READ BINARY ---------------------------------------------------------------------

    def read_binary(self, apdu: CommandApdu) -> bytes:
        """00 B0: offset in P1 P2 (15 bits) of the current EF, or P1 = 100s ssss (SFI) with
        the offset in P2; Le as for records (6Cxx with what is left when it asks for more)."""
        if apdu.data or apdu.le is None:
            raise SwError(0x6700)
        if apdu.p1 & 0x80:
            sfi = apdu.p1 & 0x1F
            if apdu.p1 & 0x60 or sfi == 0:
                raise SwError(0x6A86)
            ef = self.current_df.ef_by_sfi(sfi)
            if ef is None:
                raise SwError(0x6A82)
            self._make_current(ef)  # an SFI read selects the EF
            offset = apdu.p2
        else:
            if self.current_ef is None:
                raise SwError(0x6986)
            ef = self.current_ef
            offset = apdu.p1 << 8 | apdu.p2
        if not ef.spec.transparent:
            raise SwError(0x6981)
        self._check_read_access(ef)
        if offset >= len(ef.content):
            raise SwError(0x6B00)
        return self.respond(apdu, ef.content[offset : offset + (apdu.le or 256)])

    def _record_numbers(self, ef: EmulatedEF, p1: int, mode: int) -> list[int]:
        """Record numbers (1-based) a READ RECORD returns, in order."""
        count = len(ef.records)
        if mode in (0b100, 0b101, 0b110):
            if p1 == 0:
                raise SwError(0x6A86)
            if p1 > count:
                raise SwError(0x6A83)
            if mode == 0b100:
                return [p1]
            return list(range(p1, count + 1)) if mode == 0b101 else list(range(count, p1 - 1, -1))
        # modes 000..011: search by record identifier (= the record's first byte, its tag)
        hits = [n for n, rec in enumerate(ef.records, 1) if rec[:1] == bytes((p1,))]
        cur = self.current_record
        if mode == 0b010 and cur:  # next occurrence after the current record
            hits = [n for n in hits if n > cur]
        elif mode == 0b011 and cur:  # previous occurrence before it
            hits = [n for n in hits if n < cur]
        if not hits:
            raise SwError(0x6A83)
        # first / next take the lowest, last / previous the highest (no current record:
        # next = first, previous = last, as ISO 7816-4 says)
        return [hits[0] if mode in (0b000, 0b010) else hits[-1]]

    # --- VERIFY --------------------------------------------------------------------------

    def verify(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 or apdu.p2:
            raise SwError(0x6A86)
        pin = self.persona.pin
        if not apdu.data:
            # tries query (case 1, or the 5-byte form with P3 = 00): spends nothing
            if apdu.le not in (None, 0):
                raise SwError(0x6700)
            if pin is None:
                return SW_OK
            if self.pin_tries_left == 0:
                raise SwError(0x6983)
            raise SwError(0x63C0 | self.pin_tries_left)
        if apdu.le is not None or not 2 <= len(apdu.data) <= 8:
            raise SwError(0x6700)
        digits = bcd_pin(apdu.data)
        if pin is None:
            raise SwError(0x6A88)
        self._check_pin(pin, digits)
        self.security.add("PIN")
        return SW_OK

    def _check_pin(self, pin: Pin, digits: str) -> None:
        """Compare with the PIN: a wrong one spends a try (63Cx, 6983 once blocked)."""
        if self.pin_tries_left == 0:
            raise SwError(0x6983)
        if digits != self.pin_value:
            self.pin_tries_left -= 1
            self.security.discard("PIN")
            raise SwError(0x63C0 | self.pin_tries_left)
        self.pin_tries_left = pin.max_tries

    def change_pin(self, apdu: CommandApdu) -> bytes:
        """CHANGE PIN 80 5E 01 00: old PIN ‖ FF ‖ new PIN, each BCD padded with F (LD/T 32.5)."""
        if apdu.cla != 0x80:
            raise SwError(0x6E00)
        if (apdu.p1, apdu.p2) != (0x01, 0x00):
            raise SwError(0x6A86)
        if apdu.le is not None or 0xFF not in apdu.data:
            raise SwError(0x6700)
        old, new = apdu.data.split(b"\xff", 1)  # a BCD PIN byte is never FF
        if not (2 <= len(old) <= 8 and 2 <= len(new) <= 8):
            raise SwError(0x6700)
        old_digits, new_digits = bcd_pin(old), bcd_pin(new)
        pin = self.persona.pin
        if pin is None:
            raise SwError(0x6A88)
        if not 4 <= len(new_digits) <= 16:
            raise SwError(0x6A80)
        self._check_pin(pin, old_digits)
        self.pin_value = new_digits
        return SW_OK

    # --- GET CHALLENGE -------------------------------------------------------------------

    def get_challenge(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 or apdu.p2:
            raise SwError(0x6A86)
        if apdu.data or apdu.le not in CHALLENGE_LENGTHS:
            raise SwError(0x6700)
        self.challenge = os.urandom(apdu.le)
        return self.challenge + SW_OK

    # --- EXTERNAL / INTERNAL AUTHENTICATE (LD/T 32.5 §6.4, §6.7; docs/card-facts.md#authentication)

    def _auth_data(self, apdu: CommandApdu) -> tuple[bytes, bytes]:
        if apdu.p1 != 0x00:
            raise SwError(0x6A86)
        if len(apdu.data) not in (16, 17):  # 8 + 8, plus an optional key version
            raise SwError(0x6700)
        return apdu.data[:8], apdu.data[8:16]

    def external_authenticate(self, apdu: CommandApdu) -> bytes:
        """The terminal proves it holds RKSSSE: auth data over the card's last challenge."""
        cryptogram, original = self._auth_data(apdu)
        if apdu.le is not None:
            raise SwError(0x6700)
        if (
            self.keys is None
            or self.current_df is not self.ssse
            or apdu.p2 != self.persona.auth.key_reference
        ):
            raise SwError(0x6A88)  # no such key here
        if self.auth_tries_left == 0:
            raise SwError(0x6983)
        challenge, self.challenge = self.challenge, b""  # a challenge is good for one try
        if len(challenge) != 8:
            raise SwError(0x6984)
        algorithm, keys = self.keys
        expected = authentication_data(algorithm, keys["RKSSSE"], challenge, original)
        if cryptogram != expected:
            self.auth_tries_left -= 1
            raise SwError(0x63C0 | self.auth_tries_left)
        self.auth_tries_left = self.persona.auth.max_tries
        self.security.add("RKSSSE")  # until power-off or another DF is selected
        return SW_OK

    def internal_authenticate(self, apdu: CommandApdu) -> bytes:
        """The card proves it is genuine: auth data with its IRK over the terminal's random."""
        random, original = self._auth_data(apdu)
        if self.keys is None or apdu.p2 != 0x00 or self.current_df is not self.ssse:
            raise SwError(0x6A88)
        algorithm, keys = self.keys
        return self.respond(apdu, authentication_data(algorithm, keys["IRK"], random, original))

    # --- the bank application (bank_applet.BankApplet) -------------------------------------

    def get_processing_options(self, apdu: CommandApdu) -> bytes:
        if apdu.cla != 0x80:
            raise SwError(0x6D00)  # a proprietary instruction: unknown in the ISO class
        bank = self._selected_bank()
        if bank is None:
            raise SwError(0x6985)  # no payment application selected
        return self.respond(apdu, bank.get_processing_options(apdu))

    def get_data(self, apdu: CommandApdu) -> bytes:
        if apdu.cla != 0x80:
            raise SwError(0x6D00)
        if apdu.data:
            raise SwError(0x6700)
        bank = self._selected_bank()
        if bank is None:
            raise SwError(0x6A88)
        return self.respond(apdu, bank.get_data(apdu))

    def _selected_bank(self) -> BankApplet | None:
        """The bank application when it is the current DF (bank_df stands for it)."""
        return self.bank if self.current_df is self.bank_df else None


def bcd_pin(data: bytes) -> str:
    """PIN digits from BCD padded with F nibbles (the cn walker); anything else is 6A80."""
    try:
        digits = bcd.decode_digits(data, f_padding=True)
    except DecodeError:
        raise SwError(0x6A80) from None
    if not digits:
        raise SwError(0x6A80)
    return digits
