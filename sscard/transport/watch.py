"""Card insertion/removal events from our own supervised SCardGetStatusChange loop.

Not pyscard's CardMonitor: that thread stops silently when the PC/SC service
goes away.  This loop notices the service going (event "service_lost"), keeps
trying to re-establish a context with a bounded backoff, and reports
"service_restored" plus whatever changed meanwhile.  Readers plugged in or
out are noticed through the PnP pseudo-reader and a fresh reader list on every
wake-up.

The monitor thread only watches: events go to a queue; `__iter__` reads the
queue in the caller's thread and callbacks run on a separate dispatcher thread,
so no card I/O ever happens on the monitor thread.

With `read=` the watcher also reads every inserted card, supervised: the "inserted"
event is reported first, the read runs on a worker of its own for that card with a
deadline, and its outcome comes as a "read" event (a result, or a typed error: CardMute
when the deadline passed).  A card that does not answer in one reader never delays the
events or the reads of another.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sscard import errors, log

PNP_READER = "\\\\?PnP?\\Notification"
WAKE_MS = 1000  # also bounds how long stop() takes
BACKOFF = (0.2, 0.5, 1.0, 2.0)  # re-establishing a lost PC/SC service

INSERTED, REMOVED = "inserted", "removed"
READER_ADDED, READER_REMOVED = "reader_added", "reader_removed"
SERVICE_LOST, SERVICE_RESTORED = "service_lost", "service_restored"
READ = "read"
# the supervisor's deadline for a read is the card's own (timeout) plus this, for what
# happens outside a card operation (connecting, powering the card up)
READ_GRACE = 5.0


@dataclass(frozen=True)
class CardEvent:
    kind: str  # inserted | removed | reader_added | reader_removed | service_lost |
    #            service_restored | read
    reader: str | None = None
    atr: bytes | None = None
    time: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.UTC))
    result: Any = field(default=None, repr=False, compare=False)  # read: what `read` returned
    error: errors.SscardError | None = field(default=None, compare=False)  # read: its failure

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "event": self.kind,
            "reader": self.reader,
            "atr": self.atr.hex().upper() if self.atr else None,
            "time": self.time.isoformat(timespec="milliseconds"),
        }
        if self.error is not None:
            out["error"] = self.error.bilingual()
            out["exit_code"] = self.error.exit_code
        return out


def read_identity(reader: str, timeout: float) -> Any:
    """The default read of a supervised watcher: the card's identity (sscard.Identity)."""
    import sscard

    with sscard.open(reader, timeout=timeout) as card:
        return card.read_identity()


class _Reads:
    """One worker per inserted card, each under a deadline; outcomes become "read" events.

    A read past its deadline is reported as CardMute at once and its worker abandoned
    (its late outcome is dropped); the next insertion in that reader gets a new worker."""

    def __init__(
        self, read: Callable[[str, float], Any], timeout: float, emit: Callable[[CardEvent], None]
    ) -> None:
        self.read, self.timeout, self.emit = read, timeout, emit
        self._lock = threading.Lock()
        self._current: dict[str, object] = {}  # reader -> the token of its running read

    def start(self, reader: str, atr: bytes | None) -> None:
        token = object()
        with self._lock:
            self._current[reader] = token  # a read still running there is superseded
        worker = threading.Thread(
            target=self._run, args=(reader, atr, token), name=f"sscard-read {reader}", daemon=True
        )
        worker.start()
        timer = threading.Timer(self.timeout + READ_GRACE, self._expire, (reader, atr, token))
        timer.daemon = True
        timer.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._current)

    def _finish(self, reader: str, token: object, event: CardEvent) -> None:
        with self._lock:
            if self._current.get(reader) is not token:
                return  # expired, or superseded by a newer insertion
            del self._current[reader]
        self.emit(event)

    def _run(self, reader: str, atr: bytes | None, token: object) -> None:
        try:
            event = CardEvent(READ, reader, atr, result=self.read(reader, self.timeout))
        except errors.SscardError as e:
            event = CardEvent(READ, reader, atr, error=e)
        except Exception as e:  # a bug in the read function: typed, never lost
            event = CardEvent(
                READ,
                reader,
                atr,
                error=errors.SscardError(f"internal error ({type(e).__name__})", zh="内部错误"),
            )
        self._finish(reader, token, event)

    def _expire(self, reader: str, atr: bytes | None, token: object) -> None:
        seconds = f"{self.timeout + READ_GRACE:g}"
        error = errors.CardMute(
            f"the card was not read within {seconds} s", zh=f"卡片未在 {seconds} 秒内读完"
        )
        self._finish(reader, token, CardEvent(READ, reader, atr, error=error))


class CardWatcher:
    """Watch readers for cards.

        with CardWatcher() as watcher:
            for event in watcher:          # blocks; stop() from another thread ends it
                ...

        watcher = CardWatcher(on_event=callback).start()   # callbacks, off the monitor thread

    `readers`: only watch readers whose name contains one of these substrings.
    `initial`: report cards already present at start as "inserted".
    `read`: read every inserted card, supervised: `read(reader, timeout)` runs on a worker
    of its own (True: the identity, `read_identity`); its outcome follows the "inserted"
    event as a "read" event with `result` or `error`.  `read_timeout`: the deadline of one
    read in seconds (default sscard.budget.DEFAULT_TIMEOUT), given to `read` for the card's
    operations; a read that has not ended READ_GRACE seconds after it is reported as
    CardMute, whatever it is waiting for.
    """

    def __init__(
        self,
        readers: list[str] | None = None,
        *,
        initial: bool = True,
        on_event: Callable[[CardEvent], None] | None = None,
        read: Callable[[str, float], Any] | bool | None = None,
        read_timeout: float | None = None,
        ignore=(),
        _scard=None,
    ) -> None:
        from sscard.session import check_timeout

        self.filters = [r.lower() for r in readers] if readers else None
        self.ignore = tuple(ignore)  # name parts of readers not watched ($SSCARD_READER_IGNORE)
        self.initial = initial
        self.on_event = on_event
        if read is True:
            read = read_identity
        self._reads = _Reads(read, check_timeout(read_timeout), self._emit) if read else None
        self._scard = _scard  # injectable for tests
        self._events: queue.Queue[CardEvent | None] = queue.Queue()
        self._stop = threading.Event()
        self._context = None
        self._monitor: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._callbacks: queue.Queue[CardEvent | None] = queue.Queue()
        self.errors: list[BaseException] = []  # exceptions raised by callbacks

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> CardWatcher:
        if self._monitor is None:
            if self._scard is None:
                try:
                    from smartcard import scard
                except ImportError:
                    raise errors.ServiceUnavailable("pyscard is not installed") from None
                self._scard = scard
            self._monitor = threading.Thread(target=self._run, name="sscard-watch", daemon=True)
            self._monitor.start()
            if self.on_event is not None:
                self._dispatcher = threading.Thread(
                    target=self._dispatch, name="sscard-watch-callbacks", daemon=True
                )
                self._dispatcher.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        context = self._context
        if context is not None and self._scard is not None:
            with contextlib.suppress(Exception):
                self._scard.SCardCancel(context)  # wakes SCardGetStatusChange at once
        if self._monitor is not None:
            self._monitor.join(timeout)
        if self._dispatcher is not None:
            self._callbacks.put(None)
            self._dispatcher.join(timeout)

    def __enter__(self) -> CardWatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __iter__(self) -> Iterator[CardEvent]:
        self.start()
        while True:
            event = self._events.get()
            if event is None:
                return
            yield event

    def get(self, timeout: float | None = None) -> CardEvent | None:
        """The next event, or None after `timeout` seconds (or when stopped)."""
        self.start()
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    # --- the monitor thread ----------------------------------------------------------------

    def _emit(self, event: CardEvent) -> None:
        if event.atr is not None:  # the ATR carries the card's serial: log a keyed reference
            from sscard.privacy import card_ref

            log.info(
                "sscard.watch", "%s %r %s", event.kind, event.reader, card_ref(None, event.atr)
            )
        else:
            log.info("sscard.watch", "%s %r", event.kind, event.reader)
        self._events.put(event)
        if self.on_event is not None:
            self._callbacks.put(event)
        if (
            event.kind == INSERTED
            and event.reader is not None  # an insertion names its reader
            and self._reads is not None
            and not self._stop.is_set()
        ):
            self._reads.start(event.reader, event.atr)  # after the event is out

    @property
    def reads_pending(self) -> int:
        """Reads started and not yet reported."""
        return self._reads.pending() if self._reads is not None else 0

    def _dispatch(self) -> None:
        while True:
            event = self._callbacks.get()
            if event is None:
                return
            on_event = self.on_event  # set: this thread runs only with a callback
            try:
                if on_event is not None:
                    on_event(event)
            except Exception as e:  # a failing callback must not stop the watcher
                self.errors.append(e)

    def _watched(self, names: list[str]) -> list[str]:
        from sscard.transport.pcsc import ignored

        names = [n for n in names if not ignored(n, self.ignore)]
        if self.filters is None:
            return names
        return [n for n in names if any(f in n.lower() for f in self.filters)]

    def _run(self) -> None:
        s = self._scard
        known: dict[str, tuple[bool, bytes | None]] = {}  # reader -> (present, atr)
        first = True
        failures = 0
        lost = False
        try:
            while not self._stop.is_set():
                try:
                    if self._context is None:
                        hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
                        if hresult != 0:
                            raise _ServiceError(hresult)
                        self._context = context
                        if lost:  # before the changes that happened while it was gone
                            lost = False
                            self._emit(CardEvent(SERVICE_RESTORED))
                    known = self._poll(known, report=not first or self.initial, announce=not first)
                    first = False
                    failures = 0
                except _ServiceError:
                    if self._stop.is_set():
                        break
                    self._drop_context()
                    if not lost:
                        lost = True
                        self._emit(CardEvent(SERVICE_LOST))
                    self._stop.wait(BACKOFF[min(failures, len(BACKOFF) - 1)])
                    failures += 1
        finally:
            self._drop_context()
            self._events.put(None)

    def _poll(self, known: dict, report: bool, announce: bool) -> dict:
        """One wake-up: list readers, wait for a change (≤ WAKE_MS), report differences."""
        s = self._scard
        hresult, names = s.SCardListReaders(self._context, [])
        if hresult == 0x8010002E:  # no readers: still wait for one to be plugged in
            names = []
        elif hresult != 0:
            raise _ServiceError(hresult)
        names = self._watched(list(names))
        current = {n: known.get(n, (False, None)) for n in names}
        for gone in set(known) - set(names):
            if known[gone][0]:
                self._emit(CardEvent(REMOVED, gone))
            self._emit(CardEvent(READER_REMOVED, gone))
        for new in set(names) - set(known):
            if announce:  # readers present at start are not news
                self._emit(CardEvent(READER_ADDED, new))
        states = [(n, s.SCARD_STATE_UNAWARE) for n in names] + [(PNP_READER, s.SCARD_STATE_UNAWARE)]
        hresult, result = s.SCardGetStatusChange(self._context, 0, states)
        if hresult == 0:
            current = self._report(result, current, known, report)
            # sleep until something changes in any reader, or a reader comes or goes
            states = [(n, f & ~s.SCARD_STATE_CHANGED) for n, f, _ in result]
            hresult, result = s.SCardGetStatusChange(self._context, WAKE_MS, states)
            if hresult == 0:
                current = self._report(result, current, current, True)
        if hresult not in (0, 0x8010000A, 0x80100002):  # ok, timeout, cancelled
            if hresult in (0x80100009, 0x80100017):  # a reader vanished: re-list next time
                return current
            raise _ServiceError(hresult)
        return current

    def _report(self, result, current: dict, before: dict, report: bool) -> dict:
        s = self._scard
        out = dict(current)
        for name, flags, atr in result:
            if name == PNP_READER or name not in out:
                continue
            present = bool(flags & s.SCARD_STATE_PRESENT) and not flags & s.SCARD_STATE_MUTE
            atr_bytes = bytes(atr) if present and atr else None
            was_present, old_atr = before.get(name, (False, None))
            if report and present and (not was_present or atr_bytes != old_atr):
                if was_present:  # swapped between two polls
                    self._emit(CardEvent(REMOVED, name))
                self._emit(CardEvent(INSERTED, name, atr_bytes))
            elif report and was_present and not present:
                self._emit(CardEvent(REMOVED, name))
            out[name] = (present, atr_bytes)
        return out

    def _drop_context(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            with contextlib.suppress(Exception):
                self._scard.SCardReleaseContext(context)


class _ServiceError(Exception):
    def __init__(self, hresult: int) -> None:
        super().__init__(f"PC/SC {hresult & 0xFFFFFFFF:#010x}")
        self.hresult = hresult
