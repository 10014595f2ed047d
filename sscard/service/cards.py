"""What the service does with cards: choose a reader, read, answer in the CLI's documents or
the national interface's strings.  Every function that touches a card runs on that reader's
worker thread (sscard.service.workers), never on the event loop.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from sscard import errors, ireadcardbas
from sscard.service.config import ServiceConfig
from sscard.service.workers import Hold, Unhold

# Reader names that say "contactless" (iType 2 and 4 of the national interface)
_CONTACTLESS = ("contactless", "picc", "nfc", " cl ", "(cl)", "rfid")


def is_contactless(name: str) -> bool:
    lowered = f" {name.lower()} "
    return any(word in lowered for word in _CONTACTLESS)


@dataclass(frozen=True)
class ReaderInfo:
    index: int
    name: str
    card: bool
    atr: str | None
    contactless: bool

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "card": self.card,
            "atr": self.atr,
            "contactless": self.contactless,
        }


class KeySource:
    """--keys or --psam, shared by every reader.  A PSAM serves one card at a time (its own
    lock; card readers still work in parallel until they need it) and is opened again after
    any failure, so a PSAM pulled out and put back needs no restart."""

    def __init__(self, keys_choice: str | None, psam: str | None) -> None:
        self.psam_choice = psam
        self.software = None
        if psam is None:
            from sscard.auth.keysource import load_keys

            self.software = load_keys(keys_choice)
        self._psam = None
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        if self.psam_choice is not None:
            return "psam"
        return "software" if self.software is not None else "none"

    def psam_reader(self, names: list[str]) -> str | None:
        """The PSAM's reader among `names` (excluded from card readers)."""
        from sscard.auth import psam

        if self.psam_choice in (None, psam.EMULATOR):
            return None
        from sscard.transport.pcsc import choose_readers

        try:
            return choose_readers(names, None, self.psam_choice)[0]
        except errors.InvalidArgument:
            return None

    @contextlib.contextmanager
    def use(self):
        """The key source for one card operation, and the terminal number it gives."""
        if self.psam_choice is None:
            yield self.software, ireadcardbas.NO_PSAM_TERMINAL
            return
        from sscard.auth import psam

        with self._lock:
            if self._psam is None:
                self._psam = (
                    psam.open_psam_emulator()
                    if self.psam_choice == psam.EMULATOR
                    else psam.open_psam(self.psam_choice)
                )
            try:
                yield self._psam, self._psam.terminal_number or ireadcardbas.NO_PSAM_TERMINAL
            except BaseException:
                self.close()  # whatever failed, the next operation starts from a fresh PSAM
                raise

    def close(self) -> None:
        if self._psam is not None:
            with contextlib.suppress(Exception):
                self._psam.close()
            self._psam = None


class Cards:
    def __init__(self, config: ServiceConfig, keys: KeySource) -> None:
        self.config = config
        self.keys = keys
        self.filters = [r.lower() for r in config.readers]

    # --- readers (called from a thread pool: PC/SC calls block) ----------------------------

    def readers(self) -> list[ReaderInfo]:
        from sscard.transport.pcsc import Context

        with Context() as ctx:
            states = ctx.states()
        psam_reader = self.keys.psam_reader([s.name for s in states])
        served = [s for s in states if s.name != psam_reader and self._served(s.name)]
        return [
            ReaderInfo(
                i,
                s.name,
                s.card_present,
                s.atr.hex().upper() if s.atr else None,
                is_contactless(s.name),
            )
            for i, s in enumerate(served)
        ]

    def _served(self, name: str) -> bool:
        return not self.filters or any(f in name.lower() for f in self.filters)

    def choose(self, choice: str | None) -> str:
        """The reader for `choice` (index, name part or ATR prefix, as `-r`); without one, the
        first reader holding a card."""
        from sscard.transport.pcsc import ReaderState, choose_readers

        readers = self.readers()
        if not readers:
            raise errors.NoReader()
        if choice is None:
            present = [r.name for r in readers if r.card]
            if not present:
                raise errors.NoCard()
            return present[0]
        states = [
            ReaderState(r.name, r.card, bytes.fromhex(r.atr) if r.atr else None, False)
            for r in readers
        ]
        return choose_readers([r.name for r in readers], states, choice)[0]

    def choose_by_type(self, itype: int) -> str:
        """The national interface's iType: 1 contact, 2 contactless, 3 contact first then
        contactless, 4 contactless first; the first such reader holding a card."""
        readers = self.readers()
        contact = [r for r in readers if not r.contactless]
        contactless = [r for r in readers if r.contactless]
        order = {1: contact, 2: contactless, 3: contact + contactless, 4: contactless + contact}[
            itype
        ]
        if not order:
            raise errors.NoReader(
                "no reader of the requested kind (iType)", zh="没有所要求类型（iType）的读卡器"
            )
        present = [r.name for r in order if r.card]
        if not present:
            raise errors.NoCard()
        return present[0]

    # --- card operations (on the reader's worker thread) -------------------------------------

    def identity(self, reader: str):
        """(Identity, source) — the source as `sscard read --json` names it."""
        import sscard

        with self.keys.use() as (keys, _terminal):
            with sscard.open(reader) as card:
                identity = card.read_identity(keys=keys)
                source = {
                    "kind": "reader",
                    "name": card.description,
                    "description": card.description,
                }
        return identity, source

    def identity_document(self, reader: str, reveal: bool = True) -> dict:
        identity, source = self.identity(reader)
        return render_identity(identity, source, reveal)

    def status_document(self, reader: str, bank_records: bool) -> dict:
        import sscard
        from sscard.cli.status_view import to_document
        from sscard.spec import load_spec

        with sscard.open(reader) as card:
            result = card.read_status(bank_records=bank_records)
            source = {"kind": "reader", "name": card.description, "description": card.description}
        return to_document(load_spec().pboc, result, reveal=True, source=source)

    def read_card_bas(self, reader: str) -> str:
        """iReadCardBas: the 11-field string; a card it cannot give raises with its code."""
        import sscard

        with self.keys.use() as (keys, terminal):
            with sscard.open(reader) as card:
                identity = card.read_identity(keys=keys)
        code, message = ireadcardbas.code_for(None, identity)
        if code:
            raise NationalFailure(code, message)
        return ireadcardbas.format_identity(identity, terminal_number=terminal)

    def hsm_step1(self, reader: str, owner: object, held) -> Hold:
        """iReadCardBas_HSM_Step1: the card stays open (the worker holds it for `owner`)."""
        import sscard

        if held is not None:  # Step 1 again: start over on a fresh connection
            held[0].close()
        card = sscard.open(reader)
        try:
            step1 = card.hsm_step1()
        except BaseException:
            card.close()
            raise
        return Hold(
            owner,
            (card, step1),
            lambda r: r[0].close(),
            self.config.hsm_timeout,
            result=step1.to_string(),
        )

    @staticmethod
    def hsm_step2(held, answer: str) -> Unhold:
        """iReadCardBas_HSM_Step2 on the card held since Step 1; the hold ends here unless the
        answer was refused before anything reached the card (the page may correct it)."""
        if held is None:
            raise errors.HsmChallengeLost(
                "no Step 1 is pending on this connection (never "
                "run, timed out or already used); run Step 1 again"
            )
        card, step1 = held
        try:
            identity = card.hsm_step2(step1, answer)
        except (errors.HsmAnswerInvalid, errors.HsmAnswerMismatch):
            raise  # nothing was sent: the challenge is still live
        except errors.SscardError as e:
            return Unhold(error=e)
        code, message = ireadcardbas.code_for(None, identity, hsm=True)
        if code:
            return Unhold(error=NationalFailure(code, message))
        return Unhold(ireadcardbas.format_identity(identity))

    @staticmethod
    def bank_card_number(reader: str) -> str:
        """iReadICCardNum: the bank application's PAN (one GPO: the card's ATC goes up)."""
        import sscard
        from sscard.results import AppState

        with sscard.open(reader) as card:
            bank = card.read_bank(records=True)
        if bank.records is not None and bank.records.pan:
            return bank.records.pan
        if bank.state is AppState.ABSENT:
            raise NationalFailure(-1, "卡类型不对（无金融应用）")
        raise NationalFailure(-4, "未能读取银行卡号")


class NationalFailure(errors.SscardError):
    """The card was read but the national interface has no answer for it (its code says why)."""

    exit_code = errors.ExitCode.NOT_SSC

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"national interface code {code}", zh=message)
        self.code = code


def render_identity(identity, source: dict, reveal: bool) -> dict:
    from sscard.cli import render
    from sscard.spec import load_spec

    return render.to_document(load_spec(), identity, reveal=reveal, source=source)
