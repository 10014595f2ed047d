"""PC/SC readers through pyscard (imported lazily: only this path needs it).

pyscard reports every failure as one exception class carrying the PC/SC result
code (hresult); `map_pcsc_error` turns the code into a typed sscard error, so
"card removed", "card reset", "card in use" and "service gone" read differently.
We connect with `SCARD_SHARE_EXCLUSIVE` directly (not pyscard's
ExclusiveConnectCardConnection, which reconnects with a race window and loses the
hresult) and wrap each logical operation in one PC/SC transaction.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass

from sscard import errors, log

_LOG = "sscard.transport"

SCARD_S_SUCCESS = 0
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_CANCELLED = 0x80100002
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_E_SHARING_VIOLATION = 0x8010000B
SCARD_W_RESET_CARD = 0x80100068
SCARD_PRESENT = 0x0004  # SCardStatus state bit in pcsc-lite (pyscard does not export it)
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_W_REMOVED_CARD = 0x80100069
# After a failed exchange, how long to wait for the reader to report the card gone: pcscd
# polls a reader without card-change interrupts (vpcd, some serial readers) every 0.4 s, so
# a card pulled out mid-command still looks present for up to that long
REMOVAL_SETTLE = 1.0
BUSY_MESSAGE = (
    "the card is in use by another program (close other card software, e.g. a "
    "vendor reader service, and try again)"
)

# PC/SC result codes (winscard.h) -> (error class, message or None for the class default)
_HRESULTS = {
    0x8010001D: (errors.ServiceUnavailable, None),  # SCARD_E_NO_SERVICE
    0x8010001E: (errors.ServiceUnavailable, None),  # SCARD_E_SERVICE_STOPPED
    0x80100003: (
        errors.ServiceUnavailable,
        "the PC/SC context is no longer valid",
    ),  # INVALID_HANDLE
    SCARD_E_NO_READERS_AVAILABLE: (errors.NoReader, None),
    0x80100009: (errors.ReaderGone, None),  # SCARD_E_UNKNOWN_READER
    0x80100017: (errors.ReaderGone, None),  # SCARD_E_READER_UNAVAILABLE
    0x80100016: (errors.ReaderGone, "the reader is not ready"),  # SCARD_E_NOT_READY
    0x8010000C: (errors.NoCard, None),  # SCARD_E_NO_SMARTCARD
    0x80100069: (errors.CardRemoved, None),  # SCARD_W_REMOVED_CARD
    SCARD_W_RESET_CARD: (errors.CardReset, None),
    SCARD_E_SHARING_VIOLATION: (errors.CardBusy, BUSY_MESSAGE),
    0x80100066: (errors.CardMute, None),  # SCARD_W_UNRESPONSIVE_CARD
    0x80100067: (errors.CardMute, "the card is not powered"),  # SCARD_W_UNPOWERED_CARD
    0x8010000F: (errors.CardMute, "no common protocol with the card"),  # SCARD_E_PROTO_MISMATCH
    0x80100065: (errors.CardMute, "the card is not supported"),  # SCARD_W_UNSUPPORTED_CARD
    0x8010000D: (errors.CardMute, "the card is not recognised"),  # SCARD_E_UNKNOWN_CARD
    0x80100013: (errors.CardMute, "communication with the card failed"),  # SCARD_F_COMM_ERROR
    0x8010002F: (errors.CardMute, "communication with the card failed"),  # SCARD_E_COMM_DATA_LOST
}

READER_POLL = 0.5  # --wait: how often to look again for the PC/SC service or the reader
BUSY_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8)  # bounded backoff for a card another program holds
BEGIN_TIMEOUT = 20.0  # seconds a shared card may stay in another program's transaction
# (SCardConnect and SCardBeginTransaction wait for it without a deadline of their own)


def hresult_of(exc: BaseException) -> int | None:
    code = getattr(exc, "hresult", None)
    if code is None or code == -1:
        return None
    return code & 0xFFFFFFFF


def map_pcsc_error(exc_or_code) -> errors.SscardError:
    """A typed error for a pyscard exception or a raw PC/SC result code."""
    code = exc_or_code if isinstance(exc_or_code, int) else hresult_of(exc_or_code)
    if code is not None:
        code &= 0xFFFFFFFF
    known = _HRESULTS.get(code) if code is not None else None
    if known is None:
        text = f"PC/SC error {code:#010x}" if code is not None else "PC/SC error"
        return errors.CardError(text)
    cls, message = known
    return cls(message)


def _check(hresult: int) -> None:
    if hresult != SCARD_S_SUCCESS:
        raise map_pcsc_error(hresult)


@dataclass(frozen=True)
class ReaderState:
    name: str
    card_present: bool
    atr: bytes | None
    exclusive: bool  # another program holds the card exclusively


class Context:
    """A PC/SC context (SCardEstablishContext), released on close."""

    def __init__(self) -> None:
        try:
            from smartcard import scard
        except ImportError:
            raise errors.ServiceUnavailable("pyscard is not installed") from None
        self.scard = scard
        hresult, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check(hresult)

    def readers(self) -> list[str]:
        hresult, names = self.scard.SCardListReaders(self.handle, [])
        if hresult == SCARD_E_NO_READERS_AVAILABLE:
            return []
        _check(hresult)
        return list(names)

    def states(self, names: list[str] | None = None) -> list[ReaderState]:
        s = self.scard
        names = self.readers() if names is None else names
        if not names:
            return []
        hresult, states = s.SCardGetStatusChange(
            self.handle, 0, [(n, s.SCARD_STATE_UNAWARE) for n in names]
        )
        if hresult not in (SCARD_S_SUCCESS, SCARD_E_TIMEOUT):
            _check(hresult)
        return [
            ReaderState(
                name,
                bool(flags & s.SCARD_STATE_PRESENT),
                bytes(atr) if flags & s.SCARD_STATE_PRESENT and atr else None,
                bool(flags & s.SCARD_STATE_EXCLUSIVE),
            )
            for name, flags, atr in states
        ]

    def wait_for_card(self, names: list[str], timeout: float | None) -> str:
        """Block until one of `names` holds a card; its name.  NoCard on timeout."""
        s = self.scard
        deadline = None if timeout is None else time.monotonic() + timeout
        states = [(n, s.SCARD_STATE_UNAWARE) for n in names]
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            hresult, new = s.SCardGetStatusChange(self.handle, int(step * 1000), states)
            if hresult == SCARD_S_SUCCESS:
                for name, flags, _atr in new:
                    if flags & s.SCARD_STATE_PRESENT and not flags & s.SCARD_STATE_MUTE:
                        return name
                states = [(n, f & ~s.SCARD_STATE_CHANGED) for n, f, _ in new]
            elif hresult != SCARD_E_TIMEOUT:
                _check(hresult)
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.NoCard("no card was inserted in time")

    def close(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(Exception):
                self.scard.SCardReleaseContext(self.handle)
            self.handle = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def list_readers() -> list[ReaderState]:
    """Every PC/SC reader with its card state (no card is connected)."""
    with Context() as ctx:
        return ctx.states()


def choose_readers(
    names: list[str], states: list[ReaderState] | None, choice: str | int | None
) -> list[str]:
    """Readers matching `choice`: an index, a name substring or an ATR prefix (any even
    number of hex digits, spaces or colons allowed: "3B6D", "3B 6D 00"); all if None.

    A choice matching nothing or several readers is an InvalidArgument listing them, each
    with its card's ATR.
    """
    if choice is None:
        return list(names)
    text = str(choice).strip()
    listing = _listing(names, states)
    if text.isdigit() and len(text) <= 3:
        if int(text) < len(names):
            return [names[int(text)]]
        raise errors.ReaderNotFound(
            f"there is no reader {text} (readers: {listing})",
            zh=f"没有第 {text} 个读卡器（读卡器：{listing}）",
        )
    matches = [n for n in names if text.lower() in n.lower()]
    prefix = atr_prefix(text)
    if not matches and states and prefix is not None:
        matches = [s.name for s in states if s.atr and s.atr.startswith(prefix)]
    if len(matches) == 1:
        return matches
    if not matches:
        raise errors.ReaderNotFound(
            f"no reader matches {text!r} (readers: {listing})",
            zh=f"没有与 {text!r} 匹配的读卡器（读卡器：{listing}）",
        )
    raise errors.InvalidArgument(
        f"{text!r} matches several readers (readers: {listing})",
        zh=f"{text!r} 与多个读卡器匹配（读卡器：{listing}）",
    )


def ignored(name: str, ignore) -> bool:
    """Whether a reader is one to pass over when choosing by default: its name contains
    one of `ignore` (case-insensitive), as GlobalPlatformPro's GP_READER_IGNORE."""
    return any(part.lower() in name.lower() for part in ignore or () if part)


def atr_prefix(text: str) -> bytes | None:
    """The ATR bytes a -r choice names, or None when it is not an even run of hex digits."""
    compact = "".join(text.replace(":", " ").split())
    if not compact or len(compact) % 2 or any(c not in "0123456789abcdefABCDEF" for c in compact):
        return None
    return bytes.fromhex(compact)


def _listing(names: list[str], states: list[ReaderState] | None) -> str:
    atrs = {s.name: s for s in states or ()}

    def card(name: str) -> str:
        state = atrs.get(name)
        if state is None:
            return ""
        if not state.card_present:
            return " (no card / 无卡)"
        return f" (ATR {state.atr.hex().upper()})" if state.atr else " (card, ATR unknown)"

    return "; ".join(f"{i}: {n}{card(n)}" for i, n in enumerate(names)) or "none / 无"


class PcscTransport:
    """One connected card in a PC/SC reader."""

    def __init__(self, connection, reader: str, shared: bool, scard=None) -> None:
        if scard is None:
            from smartcard import scard as pyscard_scard

            scard = pyscard_scard
        self._scard = scard  # the module; injectable so tests can play PC/SC failures
        self._connection = connection
        self.description = reader
        self.reader = reader
        self.shared = shared
        self.chosen_by_default = False  # open() took the first reader with a card: no choice
        self._atr = bytes(connection.getATR())
        self._bind_handle()
        self._stuck: _Job | None = None  # a transmit the card never answered
        self._jobs: queue.Queue | None = None  # the worker thread's, once started
        self._events = self._event_counter()  # the reader's card events when we connected

    def _event_counter(self) -> int | None:
        """pcscd's count of card insertions and removals in this reader (the high 16 bits
        of its reader state); None where the stack does not tell."""
        s = self._scard
        context = getattr(
            getattr(self._connection, "component", self._connection), "hcontext", None
        )
        if context is None or not hasattr(s, "SCardGetStatusChange"):
            return None
        hresult, states = s.SCardGetStatusChange(context, 0, [(self.reader, s.SCARD_STATE_UNAWARE)])
        return states[0][1] >> 16 if hresult == SCARD_S_SUCCESS and states else None

    def _bind_handle(self) -> None:
        # createConnection() returns a decorator; the PC/SC handle is on its component
        raw = getattr(self._connection, "component", self._connection)
        self._hcard = raw.hcard
        t1 = raw.getProtocol() == raw.T1_protocol
        self._pci = self._scard.SCARD_PCI_T1 if t1 else self._scard.SCARD_PCI_T0

    @classmethod
    def open(
        cls,
        choice: str | int | None = None,
        *,
        shared: bool = False,
        wait: float | None = None,
        ignore=(),
        wanted=None,
        exclude=(),
    ) -> PcscTransport:
        """Connect to the chosen reader's card (default: the first reader holding one, passing
        over readers whose name contains a part of `ignore`).  `exclude`: full names of
        readers never used, whatever the choice (the reader of a PSAM in use).

        `wait`: seconds to wait for a card (0 = do not wait, None = not at all either;
        use float('inf') for ever) — and meanwhile for the PC/SC service and the reader
        to appear, when they are not there yet.  `wanted(transport)`: when choosing by
        default among several cards, False passes a card over (a PSAM: sscard.auth.psam.user_card).
        """
        deadline = None if not wait or wait == float("inf") else time.monotonic() + wait
        while True:
            try:
                present = cls._present(choice, ignore, wait, deadline, exclude)
                break
            except (
                errors.ServiceUnavailable,
                errors.NoReader,
                errors.ReaderNotFound,
                errors.ReaderGone,
            ) as e:
                left = None if deadline is None else deadline - time.monotonic()
                if not wait or (left is not None and left <= 0):
                    raise
                log.info(_LOG, "waiting for the reader: %s", type(e).__name__)
                time.sleep(READER_POLL if left is None else max(0.0, min(READER_POLL, left)))
        if not present:
            raise errors.NoCard()
        last: errors.SscardError = errors.NoCard()
        choosing = choice is None and wanted is not None and len(present) > 1
        for reader in present:
            try:
                transport = cls(_connect(reader, shared), reader, shared)
                if choosing and not wanted(transport):
                    transport.close()
                    last = errors.NoCard(
                        f"no card to read: the card in {reader!r} is a PSAM "
                        "(the terminal's security module)",
                        zh=f"无可读的卡：{reader} 中是 PSAM 卡（终端安全模块）",
                    )
                    log.info(_LOG, "reader %r holds a PSAM: passed over", reader)
                    continue
            except errors.CardBusy as e:
                last = e
            except (errors.NoCard, errors.CardMute, errors.CardRemoved) as e:
                last = e  # try the next reader with a card
            else:
                log.info(_LOG, "connected to %r (%s)", reader, "shared" if shared else "exclusive")
                transport.chosen_by_default = choice is None
                return transport
            log.info(_LOG, "reader %r: %s", reader, type(last).__name__)
        raise last

    @staticmethod
    def _present(choice, ignore, wait, deadline, exclude=()) -> list[str]:
        """The chosen readers holding a card (waiting for one until `deadline` if `wait`)."""
        with Context() as ctx:
            names = ctx.readers()
            if not names:
                raise errors.NoReader()
            states = ctx.states(names)
            candidates = [n for n in choose_readers(names, states, choice) if n not in exclude]
            if not candidates:
                listed = ", ".join(map(repr, exclude))
                raise errors.NoReader(f"no reader besides {listed}", zh=f"除 {listed} 外无读卡器")
            if choice is None and ignore:
                candidates = [n for n in candidates if not ignored(n, ignore)]
                if not candidates:
                    raise errors.NoReader(
                        "no reader besides the ignored ones ($SSCARD_READER_IGNORE)",
                        zh="除忽略的读卡器外无读卡器",
                    )
            present = [s.name for s in states if s.name in candidates and s.card_present]
            if not present and wait:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                log.info(_LOG, "waiting for a card in %s", ", ".join(map(repr, candidates)))
                present = [ctx.wait_for_card(candidates, left)]
        return present

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        # SCardTransmit on the connection's handle: pyscard's transmit() adds a layer of
        # observers and turns an empty answer into an exception without a result code
        if self._stuck is not None:
            raise errors.CardMute("the card stopped answering earlier on this connection")
        hresult, response = self._scard.SCardTransmit(self._hcard, self._pci, list(apdu))
        if hresult != SCARD_S_SUCCESS:
            raise self._after_failure(map_pcsc_error(hresult))
        if len(response) < 2:  # pcscd + vpcd: what a card pulled out mid-command gives
            raise self._after_failure(errors.CardMute("the card gave no answer"))
        return bytes(b & 0xFF for b in response)

    def transmit_within(self, apdu: bytes, seconds: float) -> bytes:
        """`transmit`, given up after `seconds` with TimeoutError.

        SCardTransmit cannot be cancelled (SCardCancel only ends SCardGetStatusChange, and
        SCardDisconnect waits for the transmit on the same context): a mute card keeps it
        blocked until the card answers or leaves.  So it runs on this connection's worker
        thread; after the deadline the connection is given up (every later call fails at
        once) and `close` leaves its release to that thread."""
        if self._stuck is not None:
            raise errors.CardMute("the card stopped answering earlier on this connection")
        job = _Job(self.transmit, apdu)
        self._worker().put(job)
        if not job.done.wait(seconds):
            self._stuck = job
            log.warning(
                _LOG,
                "%r: the card did not answer within %.3g s; connection given up",
                self.reader,
                seconds,
            )
            raise TimeoutError
        return job.outcome()

    def _worker(self) -> queue.Queue:
        if self._jobs is None:
            self._jobs = queue.Queue()
            threading.Thread(
                target=_serve, args=(self._jobs,), name="sscard-transmit", daemon=True
            ).start()
        return self._jobs

    def _after_failure(self, error: errors.SscardError) -> errors.SscardError:
        """A failed exchange: "card removed" when the card left the reader, whatever result
        code the stack chose for it (a physical reader: SCARD_W_REMOVED_CARD,
        SCARD_E_NO_SMARTCARD or a communication error; pcscd + vpcd: an empty answer), the
        given error otherwise."""
        if isinstance(error, (errors.CardRemoved, errors.CardReset, errors.ServiceUnavailable)):
            return error
        if isinstance(error, errors.NoCard) or self._card_left():
            return errors.CardRemoved()
        return error

    def _card_left(self) -> bool:
        """Ask pcscd (not the handle, which still says "present" until its next poll)
        whether the card of this connection left: the reader empty, or its card event
        counter moved (pulled out and put back), waiting up to REMOVAL_SETTLE."""
        s = self._scard
        hresult, _reader, state, _protocol, _atr = s.SCardStatus(self._hcard)
        if hresult in (SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD) or (
            hresult == SCARD_S_SUCCESS and not state & SCARD_PRESENT
        ):
            return True  # a physical reader knows at once
        context = getattr(
            getattr(self._connection, "component", self._connection), "hcontext", None
        )
        if context is None or not hasattr(s, "SCardGetStatusChange"):
            return False
        deadline = time.monotonic() + REMOVAL_SETTLE
        known = s.SCARD_STATE_UNAWARE
        while True:
            hresult, states = s.SCardGetStatusChange(
                context, max(0, int((deadline - time.monotonic()) * 1000)), [(self.reader, known)]
            )
            if hresult != SCARD_S_SUCCESS:  # timeout: the card is still there; or the
                return False  # reader went away with it: that error stands
            _name, flags, _atr = states[0]
            if flags & s.SCARD_STATE_EMPTY or not flags & s.SCARD_STATE_PRESENT:
                return True
            if self._events is not None and flags >> 16 != self._events:
                return True
            if time.monotonic() >= deadline:
                return False
            known = flags & ~s.SCARD_STATE_CHANGED

    @contextlib.contextmanager
    def transaction(self):
        """One PC/SC transaction for one logical operation; always ended."""
        scard = self._scard
        hcard = self._hcard
        if self._stuck is not None:  # PC/SC would wait for the blocked exchange
            raise errors.CardMute("the card stopped answering earlier on this connection")
        if self.shared:  # another program's transaction makes PC/SC wait, without a deadline
            job = _Job(scard.SCardBeginTransaction, hcard)
            self._worker().put(job)
            if not job.done.wait(BEGIN_TIMEOUT):
                self._stuck = job  # given up like a mute card: close() releases after it
                log.warning(
                    _LOG, "%r: another program held the card for %g s", self.reader, BEGIN_TIMEOUT
                )
                raise errors.CardBusy(
                    _busy_for(BEGIN_TIMEOUT), zh=f"卡片被其他程序占用超过 {BEGIN_TIMEOUT:g} 秒"
                )
            hresult = job.outcome()
        else:  # exclusive: no other program can hold a transaction
            hresult = scard.SCardBeginTransaction(hcard)
        if hresult != SCARD_S_SUCCESS:
            raise self._after_failure(map_pcsc_error(hresult))
        try:
            yield
        finally:
            if self._stuck is None:  # else it would wait for the mute card's transmit
                with contextlib.suppress(Exception):  # a gone card cannot end it; pcscd does
                    scard.SCardEndTransaction(hcard, scard.SCARD_LEAVE_CARD)

    def recover_from_reset(self) -> bytes:
        """Reconnect after another program reset the card; returns the (new) ATR.

        All security state on the card is lost with the reset: callers re-select.
        """
        from smartcard import scard

        mode = scard.SCARD_SHARE_SHARED if self.shared else scard.SCARD_SHARE_EXCLUSIVE
        try:
            self._connection.reconnect(mode=mode, disposition=scard.SCARD_LEAVE_CARD)
            atr = bytes(self._connection.getATR())
        except Exception as e:
            raise map_pcsc_error(e) from None
        self._bind_handle()
        if atr != self._atr:  # another card: never mix its data with the first one's
            log.warning(_LOG, "%r: another card after a reset", self.reader)
            raise errors.CardRemoved("the card was replaced by another card")
        log.warning(_LOG, "%r: the card was reset by another program; reconnected", self.reader)
        return atr

    def close(self) -> None:
        """Disconnect and power the card down, whatever happened before: the card must not
        stay selected and authenticated (EF06 opened, a PIN verified) for the next program.
        pyscard disconnects with the disposition of the latest connect or reconnect, which
        is SCARD_LEAVE_CARD after recover_from_reset(): so it is set here, every time."""
        _unpower_on_release(self._connection)
        if self._stuck is not None:  # the release would wait for the blocked transmit
            threading.Thread(
                target=_release_after,
                args=(self._stuck, self._connection),
                name="sscard-release",
                daemon=True,
            ).start()
            log.debug(_LOG, "%r: released once the card answers or leaves", self.reader)
        else:
            _release(self._connection)
            log.debug(_LOG, "disconnected from %r (card powered down)", self.reader)
        if self._jobs is not None:
            self._jobs.put(None)  # the worker ends after its job
            self._jobs = None


class _Job:
    """One transmit on the worker thread."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # handed to the caller's thread
            self.error = e
        finally:
            self.done.set()

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


def _serve(jobs: queue.Queue) -> None:
    while (job := jobs.get()) is not None:
        job.run()


def _release_after(job: _Job, connection) -> None:
    job.done.wait()
    _release(connection)


def _connect(reader: str, shared: bool):
    from smartcard import scard
    from smartcard.pcsc.PCSCReader import PCSCReader

    mode = scard.SCARD_SHARE_SHARED if shared else scard.SCARD_SHARE_EXCLUSIVE
    for delay in (*BUSY_RETRIES, None):
        connection = PCSCReader(reader).createConnection()
        try:
            if shared:
                _connect_within(connection, mode, BEGIN_TIMEOUT)
            else:  # exclusive: another program's hold is a sharing violation at once
                connection.connect(mode=mode)
            return connection
        except errors.CardBusy:
            raise  # already waited BEGIN_TIMEOUT
        except Exception as e:
            _release(connection)
            error = map_pcsc_error(e)
            if not isinstance(error, errors.CardBusy) or delay is None:
                raise error from None
        time.sleep(delay)
    raise AssertionError("unreachable")


def _connect_within(connection, mode: int, seconds: float) -> None:
    """connect() in shared mode waits, without a deadline of its own, while another program
    holds a transaction on the card: given up after `seconds` (CardBusy); the connection
    is released once that wait ends."""
    job = _Job(lambda: connection.connect(mode=mode))
    threading.Thread(target=job.run, name="sscard-connect", daemon=True).start()
    if not job.done.wait(seconds):
        threading.Thread(
            target=_release_after, args=(job, connection), name="sscard-release", daemon=True
        ).start()
        raise errors.CardBusy(_busy_for(seconds), zh=f"卡片被其他程序占用超过 {seconds:g} 秒")
    job.outcome()


def _busy_for(seconds: float) -> str:
    return f"another program has kept the card busy for more than {seconds:g} s"


def _unpower_on_release(connection) -> None:
    from smartcard import scard

    raw = getattr(connection, "component", connection)  # createConnection()'s decorator
    raw.disposition = scard.SCARD_UNPOWER_CARD


def _release(connection) -> None:
    for step in ("disconnect", "release"):
        with contextlib.suppress(Exception):  # closing a gone card must not mask the real error
            getattr(connection, step, lambda: None)()
