"""`Card`: one connected card and what can be read from it."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sscard import errors, log
from sscard.session import CardSession
from sscard.spec import Spec
from sscard.ssse.results import Identity
from sscard.transport.base import Transport

if TYPE_CHECKING:  # imported when first used, so `sscard read` loads only what it runs
    from sscard.auth.hsm import HsmAnswer, HsmStep1
    from sscard.auth.keysource import KeySource
    from sscard.bank.results import BankReading
    from sscard.budget import Budget
    from sscard.ssse.pin import PinTries, PinVerification
    from sscard.ssse.select import Probe
    from sscard.status import Status

T = TypeVar("T")
_LOG = "sscard.card"


class Card:
    """A connected card.  Use as a context manager; `close()` releases the reader.

    A Card may be shared between threads: its operations run one at a time (a lock held
    for each whole operation), so two threads never interleave APDUs on the card — one
    waits for the other's operation to end.  An HSM Step 1 still loses its challenge to any
    operation another thread runs before its Step 2 (HsmChallengeLost).

    `timeout`: seconds one operation (a read, a status, a PIN command) may take, default
    sscard.budget.DEFAULT_TIMEOUT; a card that does not finish in time raises CardMute.
    Every operation is also bounded in APDUs and bytes by what a real card needs
    (sscard.budget); a card exceeding that raises BudgetExceeded.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        spec: Spec | None = None,
        trace: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.transport = transport
        self.session = CardSession(transport, spec, trace, timeout=timeout)
        self._hsm_pending: HsmStep1 | None = None  # the Step 1 whose challenge is live on the card
        self._lock = threading.RLock()  # one operation at a time (re-entered by hsm_step2)

    @property
    def description(self) -> str:
        return self.transport.description

    @property
    def atr(self) -> bytes:
        return self.transport.atr

    def read_identity(
        self, *, today: _dt.date | None = None, keys: KeySource | None = None
    ) -> Identity:
        """Read the social security application: issuer data always, holder data when readable.

        `keys` (a sscard.auth.keysource key source) authenticates the card: `Identity.authentic`,
        and on generation-3 cards the holder data behind RKSSSE.  A read with keys may send an
        EXTERNAL AUTHENTICATE, which spends a try when it fails, so it is not repeated after a
        card reset; a read without keys is.
        """
        from sscard.ssse.reader import read_identity

        return self._logged(
            self.operation(
                lambda: read_identity(self.session, today=today, keys=keys),
                read_only=keys is None,
                budget=self._ssse_budget(),
            )
        )

    def _logged(self, identity: Identity) -> Identity:
        """One log line per identity read, naming the card by its keyed reference only."""
        if log.get(_LOG) is not None:
            from sscard.privacy import identity_ref

            log.info(
                _LOG,
                "identity read: %s, generation %s, holder %s, authentic %s, %d APDUs",
                identity_ref(identity),
                identity.generation,
                identity.holder_status.value,
                identity.authentic,
                self.session.apdu_count,
            )
        return identity

    def pin_tries(self) -> PinTries:
        """The PIN tries left (an empty VERIFY: spends nothing).  See sscard.ssse.pin."""
        from sscard.ssse import pin

        return self.operation(lambda: pin.query_tries(self.session), read_only=True)

    def verify_pin(
        self, value: str, *, floor: int = 1, force_last_try: bool = False
    ) -> PinVerification:
        """Verify the PIN once, refusing when the tries left are at or below `floor`.

        Returns a `sscard.ssse.pin.PinVerification`: its `outcome` is VerifyOutcome.VERIFIED only
        when the PIN was sent and accepted; NOT_SENT when the card needs no PIN now (nothing
        was sent, the PIN is unchecked).  It has no truth value, so it cannot be mistaken
        for a success in an `if`."""
        from sscard.ssse import pin

        return self.operation(
            lambda: pin.verify(self.session, value, floor=floor, force_last_try=force_last_try),
            read_only=False,
        )

    def change_pin(
        self, old: str, new: str, *, floor: int = 1, force_last_try: bool = False
    ) -> None:
        """Change the PIN once (old ‖ FF ‖ new), guarded like verify_pin()."""
        from sscard.ssse import pin

        self.operation(
            lambda: pin.change(self.session, old, new, floor=floor, force_last_try=force_last_try),
            read_only=False,
        )

    def hsm_step1(self, *, today: _dt.date | None = None) -> HsmStep1:
        """Step 1 of a read with a platform HSM (see sscard.auth.hsm): EF05, the card's INTERNAL
        AUTHENTICATE answer and, on generation-3 cards, the live challenge.  Returns an
        immutable `HsmStep1`; `.to_string()` is the national Step 1 string for the HSM.

        Spends nothing, so it is re-run after a card reset like any read.  Until
        `hsm_step2()`, send nothing else to the card: any operation, a reset or a power-off
        loses the challenge."""
        from sscard.auth import hsm

        today = today or _dt.date.today()
        with self._lock:  # no other thread's operation between the challenge and its record
            step1 = self.operation(lambda: hsm.step1(self.session, today), read_only=True)
            self._hsm_pending = step1
        return step1

    def hsm_step2(
        self, step1: HsmStep1, answer: str | HsmAnswer, *, today: _dt.date | None = None
    ) -> Identity:
        """Step 2: `answer` is the HSM's pKey (a string or a parsed `HsmAnswer`).

        Refused before anything is sent when the answer is malformed (HsmAnswerInvalid) or
        for another Step 1 (HsmAnswerMismatch), when `step1` is of another card or
        connection (HsmCardMismatch), or when its challenge is gone — used already, another
        operation since, or the card was reset (HsmChallengeLost).  Then the card's INTERNAL
        AUTHENTICATE answer is compared with the HSM's (`Identity.authentic`); only a
        matching card gets the one EXTERNAL AUTHENTICATE, never repeated."""
        with self._lock:  # the checks and the operation as one, against other threads
            return self._hsm_step2(step1, answer, today)

    def _hsm_step2(
        self, step1: HsmStep1, answer: str | HsmAnswer, today: _dt.date | None
    ) -> Identity:
        from sscard.auth import hsm

        day = today or _dt.date.today()
        parsed = answer if isinstance(answer, hsm.HsmAnswer) else hsm.parse_answer(answer)
        if not isinstance(step1, hsm.HsmStep1) or step1._owner is not self.session:
            raise errors.HsmCardMismatch(
                "this Step 1 was taken on another card or connection; nothing was sent"
            )
        if step1.atr != self.atr:
            raise errors.HsmCardMismatch(
                "the card in the reader is not the card of Step 1 (another ATR); nothing was sent"
            )
        if step1 is not self._hsm_pending:
            raise errors.HsmChallengeLost(
                "this Step 1 was already used, or another operation "
                "ran on the card since: its challenge is gone; run "
                "Step 1 again"
            )
        hsm.check_answer(step1, parsed)
        self._hsm_pending = None  # one Step 2 per Step 1, whatever happens next
        sent = self.session.apdu_count
        try:
            return self._logged(
                self.operation(
                    lambda: hsm.step2(self.session, step1, parsed, day),
                    read_only=False,
                    budget=self._ssse_budget(),
                )
            )
        except errors.CardReset:
            if self.session.apdu_count != sent:
                raise
            raise errors.HsmChallengeLost(
                "the card was reset after Step 1: its challenge is "
                "gone (nothing was sent); run Step 1 again"
            ) from None
        except errors.CardRemoved:
            if self.session.apdu_count != sent:
                raise
            raise errors.HsmCardMismatch(
                "the card of Step 1 was removed or replaced; nothing was sent"
            ) from None

    def read_status(
        self, *, bank_records: bool = False, logs: bool = False, today: _dt.date | None = None
    ) -> Status:
        """The state of the social security and bank applications (sscard.status.Status).

        Without `bank_records` nothing on the card changes and the read is repeated after a
        card reset like any read.  With it, one GET PROCESSING OPTIONS is sent to the bank
        application, which increments its transaction counter (ATC): never repeated.
        `logs`: also the bank application's e-cash amounts and its transaction and load
        logs, which no verdict needs (up to a dozen more APDUs)."""
        from sscard.status import read_status

        return self.operation(
            lambda: read_status(self.session, bank_records=bank_records, logs=logs, today=today),
            read_only=not bank_records,
            budget=self._ssse_budget() + self._bank_budget(),
        )

    def read_bank(self, *, records: bool = False, today: _dt.date | None = None) -> BankReading:
        """The bank (UnionPay PBOC) application alone (sscard.bank.results.BankReading);
        `records=True` sends one GPO (ATC + 1), as read_status(bank_records=True)."""
        from sscard.bank.reader import read_bank

        return self.operation(
            lambda: read_bank(self.session, records=records, today=today),
            read_only=not records,
            budget=self._bank_budget(),
        )

    def probe(self) -> Probe:
        """Whether the card answers as a social security card (see sscard.ssse.select.probe)."""
        from sscard.ssse.select import probe

        return self.operation(lambda: probe(self.session), read_only=True)

    def _ssse_budget(self) -> Budget:
        from sscard.budget import ssse_budget

        return ssse_budget(self.session.spec)

    def _bank_budget(self) -> Budget:
        from sscard.budget import bank_budget

        return bank_budget(self.session.spec.pboc)

    def operation(self, fn: Callable[[], T], *, read_only: bool, budget: Budget | None = None) -> T:
        """Run one logical operation in one transaction, within the card's timeout and
        `budget` (default: that of the social security application; sscard.budget).

        If another program resets the card meanwhile, a read-only operation is run once
        more from the start (reconnect, everything re-selected: the reset dropped all
        security state); an operation that sends VERIFY or changes the card never is.
        """
        with self._lock:
            return self._operation(fn, read_only, budget)

    def _operation(self, fn: Callable[[], T], read_only: bool, budget: Budget | None) -> T:
        self._hsm_pending = None  # any command may cost the live challenge of an HSM Step 1
        limit = budget or self._ssse_budget()
        for attempt in (1, 2):
            try:
                with self.transport.transaction(), self.session.operation(limit):
                    return fn()
            except errors.CardReset:
                if not read_only or attempt == 2:
                    log.info(_LOG, "card reset during an operation (not repeated)")
                    raise
                log.info(_LOG, "card reset during a read: running it once more")
                self.transport.recover_from_reset()
            except errors.SscardError as e:  # their texts carry no personal data or secrets
                log.info(_LOG, "operation failed: %s: %s", type(e).__name__, e.message)
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:  # never under another thread's operation
            self.transport.close()

    def __enter__(self) -> Card:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
