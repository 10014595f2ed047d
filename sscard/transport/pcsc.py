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
BUSY_MESSAGE = ("the card is in use by another program (close other card software, e.g. a "
                "vendor reader service, and try again)")

# PC/SC result codes (winscard.h) -> (error class, message or None for the class default)
_HRESULTS = {
    0x8010001D: (errors.ServiceUnavailable, None),  # SCARD_E_NO_SERVICE
    0x8010001E: (errors.ServiceUnavailable, None),  # SCARD_E_SERVICE_STOPPED
    0x80100003: (errors.ServiceUnavailable, "the PC/SC context is no longer valid"),  # INVALID_HANDLE
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

BUSY_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8)  # bounded backoff for a card another program holds


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
    cls, message = _HRESULTS.get(code, (None, None))
    if cls is None:
        text = f"PC/SC error {code:#010x}" if code is not None else "PC/SC error"
        return errors.CardError(text)
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
            self.handle, 0, [(n, s.SCARD_STATE_UNAWARE) for n in names])
        if hresult not in (SCARD_S_SUCCESS, SCARD_E_TIMEOUT):
            _check(hresult)
        return [ReaderState(name, bool(flags & s.SCARD_STATE_PRESENT),
                            bytes(atr) if flags & s.SCARD_STATE_PRESENT and atr else None,
                            bool(flags & s.SCARD_STATE_EXCLUSIVE))
                for name, flags, atr in states]

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


def choose_readers(names: list[str], states: list[ReaderState] | None,
                   choice: str | int | None) -> list[str]:
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
        raise errors.InvalidArgument(f"there is no reader {text} (readers: {listing})",
                                     zh=f"没有第 {text} 个读卡器（读卡器：{listing}）")
    matches = [n for n in names if text.lower() in n.lower()]
    prefix = atr_prefix(text)
    if not matches and states and prefix is not None:
        matches = [s.name for s in states if s.atr and s.atr.startswith(prefix)]
    if len(matches) == 1:
        return matches
    if not matches:
        raise errors.InvalidArgument(f"no reader matches {text!r} (readers: {listing})",
                                     zh=f"没有与 {text!r} 匹配的读卡器（读卡器：{listing}）")
    raise errors.InvalidArgument(f"{text!r} matches several readers (readers: {listing})",
                                 zh=f"{text!r} 与多个读卡器匹配（读卡器：{listing}）")


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
            from smartcard import scard
        self._scard = scard  # the module; injectable so tests can play PC/SC failures
        self._connection = connection
        self.description = reader
        self.reader = reader
        self.shared = shared
        self._atr = bytes(connection.getATR())
        self._bind_handle()

    def _bind_handle(self) -> None:
        # createConnection() returns a decorator; the PC/SC handle is on its component
        raw = getattr(self._connection, "component", self._connection)
        self._hcard = raw.hcard
        t1 = raw.getProtocol() == raw.T1_protocol
        self._pci = self._scard.SCARD_PCI_T1 if t1 else self._scard.SCARD_PCI_T0

    @classmethod
    def open(cls, choice: str | int | None = None, *, shared: bool = False,
             wait: float | None = None) -> PcscTransport:
        """Connect to the chosen reader's card (default: the first reader holding one).

        `wait`: seconds to wait for a card (0 = do not wait, None = not at all either;
        use float('inf') for ever).
        """
        with Context() as ctx:
            names = ctx.readers()
            if not names:
                raise errors.NoReader()
            states = ctx.states(names)
            candidates = choose_readers(names, states, choice)
            present = [s.name for s in states if s.name in candidates and s.card_present]
            if not present and wait:
                timeout = None if wait == float("inf") else wait
                present = [ctx.wait_for_card(candidates, timeout)]
        if not present:
            raise errors.NoCard()
        last: errors.SscardError = errors.NoCard()
        for reader in present:
            try:
                transport = cls(_connect(reader, shared), reader, shared)
            except errors.CardBusy as e:
                last = e
            except (errors.NoCard, errors.CardMute, errors.CardRemoved) as e:
                last = e  # try the next reader with a card
            else:
                log.info(_LOG, "connected to %r (%s)", reader, "shared" if shared else "exclusive")
                return transport
            log.info(_LOG, "reader %r: %s", reader, type(last).__name__)
        raise last

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        # SCardTransmit on the connection's handle: pyscard's transmit() adds a layer of
        # observers and turns an empty answer into an exception without a result code
        hresult, response = self._scard.SCardTransmit(self._hcard, self._pci, list(apdu))
        if hresult != SCARD_S_SUCCESS:
            error = map_pcsc_error(hresult)
            if isinstance(error, errors.NoCard):  # there was a card when we connected
                error = errors.CardRemoved()
            raise error
        if len(response) < 2:
            raise self._no_answer()
        return bytes(b & 0xFF for b in response)

    def _no_answer(self) -> errors.SscardError:
        """An empty answer: the card was pulled out during the command, or went mute."""
        s = self._scard
        hresult, _reader, state, _protocol, _atr = s.SCardStatus(self._hcard)
        if hresult in (0x80100069, 0x8010000C) or (hresult == SCARD_S_SUCCESS
                                                   and not state & SCARD_PRESENT):
            return errors.CardRemoved()
        return errors.CardMute("the card gave no answer (was it pulled out?)")

    @contextlib.contextmanager
    def transaction(self):
        """One PC/SC transaction for one logical operation; always ended."""
        scard = self._scard
        hcard = self._hcard
        hresult = scard.SCardBeginTransaction(hcard)
        if hresult != SCARD_S_SUCCESS:
            raise map_pcsc_error(hresult)
        try:
            yield
        finally:
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
        _release(self._connection)
        log.debug(_LOG, "disconnected from %r (card powered down)", self.reader)


def _connect(reader: str, shared: bool):
    from smartcard.pcsc.PCSCReader import PCSCReader
    from smartcard import scard
    mode = scard.SCARD_SHARE_SHARED if shared else scard.SCARD_SHARE_EXCLUSIVE
    for delay in (*BUSY_RETRIES, None):
        connection = PCSCReader(reader).createConnection()
        try:
            connection.connect(mode=mode)
            return connection
        except Exception as e:
            _release(connection)
            error = map_pcsc_error(e)
            if not isinstance(error, errors.CardBusy) or delay is None:
                raise error from None
        time.sleep(delay)
    raise AssertionError("unreachable")


def _unpower_on_release(connection) -> None:
    from smartcard import scard
    raw = getattr(connection, "component", connection)  # createConnection()'s decorator
    raw.disposition = scard.SCARD_UNPOWER_CARD


def _release(connection) -> None:
    for step in ("disconnect", "release"):
        with contextlib.suppress(Exception):  # closing a gone card must not mask the real error
            getattr(connection, step, lambda: None)()
