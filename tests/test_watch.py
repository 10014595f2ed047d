"""The card watcher's supervised loop, against a scripted PC/SC service."""

from __future__ import annotations

import threading

from sscard.transport.watch import PNP_READER, CardWatcher

ATR_A = [0x3B, 0x6D, 0x00, 0x00, 0x01]
ATR_B = [0x3B, 0x6D, 0x00, 0x00, 0x02]
TIMEOUT, NO_SERVICE, NO_READERS, CANCELLED = 0x8010000A, 0x8010001D, 0x8010002E, 0x80100002


class FakeScard:
    """A PC/SC service whose readers, cards and availability the test changes."""

    SCARD_SCOPE_USER = 0
    SCARD_STATE_UNAWARE = 0x0
    SCARD_STATE_CHANGED = 0x2
    SCARD_STATE_EMPTY = 0x10
    SCARD_STATE_PRESENT = 0x20
    SCARD_STATE_MUTE = 0x200

    def __init__(self, readers):
        self.readers = dict(readers)  # name -> ATR list or None
        self.up = True
        self.changed = threading.Condition()
        self.version = 0
        self.contexts = 0

    def change(self, **kwargs):
        with self.changed:
            for key, value in kwargs.items():
                setattr(self, key, value)
            self.version += 1
            self.changed.notify_all()

    def set_card(self, reader, atr):
        readers = dict(self.readers)
        readers[reader] = atr
        self.change(readers=readers)

    def SCardEstablishContext(self, scope):
        if not self.up:
            return NO_SERVICE, None
        self.contexts += 1
        return 0, self.contexts

    def SCardReleaseContext(self, ctx):
        return 0

    def SCardCancel(self, ctx):
        with self.changed:
            self.version += 1
            self.changed.notify_all()
        return 0

    def SCardListReaders(self, ctx, groups):
        if not self.up:
            return NO_SERVICE, []
        return (0, list(self.readers)) if self.readers else (NO_READERS, [])

    def _flags(self, name):
        if name == PNP_READER:
            return len(self.readers) << 16, []
        atr = self.readers.get(name)
        return (self.SCARD_STATE_PRESENT, atr) if atr else (self.SCARD_STATE_EMPTY, [])

    def SCardGetStatusChange(self, ctx, timeout_ms, states):
        with self.changed:
            start = self.version
            while True:
                if not self.up:
                    return NO_SERVICE, []
                out, changed = [], False
                for name, current in states:
                    flags, atr = self._flags(name)
                    if (
                        current != self.SCARD_STATE_UNAWARE
                        and flags != current & ~self.SCARD_STATE_CHANGED
                    ):
                        changed = True
                        flags |= self.SCARD_STATE_CHANGED
                    out.append((name, flags, atr))
                if (
                    changed
                    or timeout_ms == 0
                    or any(s == self.SCARD_STATE_UNAWARE for _, s in states)
                ):
                    return 0, out
                if self.version != start:
                    return CANCELLED, []
                if not self.changed.wait(timeout_ms / 1000):
                    return TIMEOUT, []


def _next(watcher, kind=None):
    event = watcher.get(timeout=5)
    assert event is not None, f"no event (expected {kind})"
    if kind:
        assert event.kind == kind, event
    return event


def test_insert_remove_and_reader_changes():
    fake = FakeScard({"Reader 0": ATR_A})
    with CardWatcher(_scard=fake) as watcher:
        event = _next(watcher, "inserted")
        assert event.reader == "Reader 0" and event.atr == bytes(ATR_A)
        fake.set_card("Reader 0", None)
        assert _next(watcher, "removed").reader == "Reader 0"
        fake.set_card("Reader 1", ATR_B)
        kinds = {(_next(watcher).kind), (_next(watcher).kind)}
        assert kinds == {"reader_added", "inserted"}
        fake.change(readers={"Reader 0": None})
        kinds = {_next(watcher).kind, _next(watcher).kind}
        assert kinds == {"removed", "reader_removed"}


def test_card_swapped_between_polls_is_a_removal_then_an_insertion():
    fake = FakeScard({"Reader 0": ATR_A})
    with CardWatcher(_scard=fake) as watcher:
        _next(watcher, "inserted")
        fake.set_card("Reader 0", ATR_B)
        assert _next(watcher, "removed").reader == "Reader 0"
        assert _next(watcher, "inserted").atr == bytes(ATR_B)


def test_service_lost_and_restored_keeps_watching():
    fake = FakeScard({"Reader 0": None})
    with CardWatcher(_scard=fake) as watcher:
        fake.change(up=False)
        _next(watcher, "service_lost")
        fake.change(up=True, readers={"Reader 0": ATR_A})
        _next(watcher, "service_restored")
        assert _next(watcher, "inserted").atr == bytes(ATR_A)
        fake.set_card("Reader 0", None)
        _next(watcher, "removed")
    assert fake.contexts >= 2  # a new context after the service came back


def test_initial_cards_can_be_skipped_and_readers_filtered():
    fake = FakeScard({"Reader 0": ATR_A, "Other 1": ATR_B})
    with CardWatcher(["reader"], initial=False, _scard=fake) as watcher:
        assert watcher.get(timeout=0.5) is None
        fake.set_card("Other 1", None)
        fake.set_card("Reader 0", None)
        event = _next(watcher, "removed")
        assert event.reader == "Reader 0"


def test_callbacks_run_off_the_monitor_thread_and_survive_exceptions():
    fake = FakeScard({"Reader 0": ATR_A})
    seen = []
    done = threading.Event()

    def callback(event):
        seen.append((event.kind, threading.current_thread().name))
        if len(seen) == 1:
            raise RuntimeError("callback bug")
        done.set()

    watcher = CardWatcher(on_event=callback, _scard=fake).start()
    try:
        fake.set_card("Reader 0", None)
        assert done.wait(5)
    finally:
        watcher.stop()
    assert [k for k, _ in seen] == ["inserted", "removed"]
    assert all(name == "sscard-watch-callbacks" for _, name in seen)
    assert len(watcher.errors) == 1


def test_iteration_ends_when_stopped():
    fake = FakeScard({"Reader 0": ATR_A})
    watcher = CardWatcher(_scard=fake)
    events = []

    def consume():
        for event in watcher:
            events.append(event.kind)

    thread = threading.Thread(target=consume)
    thread.start()
    while not events:
        threading.Event().wait(0.01)
    watcher.stop()
    thread.join(5)
    assert not thread.is_alive() and events == ["inserted"]


# --- supervised reads: the event first, each card on a worker of its own, with a deadline ---


def test_a_card_that_never_answers_delays_no_event_and_no_other_read(monkeypatch):
    import sscard.transport.watch as watch
    from sscard import errors

    monkeypatch.setattr(watch, "READ_GRACE", 0.0)
    fake = FakeScard({"Reader 0": None, "Reader 1": None})
    stuck = threading.Event()  # Reader 0's card: its read waits for ever (until the test ends)
    reads = []

    def read(reader, timeout):
        reads.append((reader, timeout, threading.current_thread().name))
        if reader == "Reader 0":
            stuck.wait(30)
            return "late"
        return f"identity from {reader}"

    try:
        with CardWatcher(_scard=fake, read=read, read_timeout=1.0) as watcher:
            fake.set_card("Reader 0", ATR_A)
            assert _next(watcher, "inserted").reader == "Reader 0"  # reported, read or not
            fake.set_card("Reader 1", ATR_B)
            assert _next(watcher, "inserted").reader == "Reader 1"
            done = _next(watcher, "read")
            assert (done.reader, done.atr, done.result, done.error) == (
                "Reader 1",
                bytes(ATR_B),
                "identity from Reader 1",
                None,
            )
            assert watcher.reads_pending == 1  # Reader 0's, still waiting
            mute = _next(watcher, "read")  # at its deadline, whatever the read waits for
            assert mute.reader == "Reader 0" and mute.result is None
            assert isinstance(mute.error, errors.CardMute) and mute.error.exit_code == 20
            assert mute.to_dict()["exit_code"] == 20 and "error" in mute.to_dict()
            stuck.set()  # the abandoned read ends at last: its outcome is not reported
            assert watcher.get(timeout=0.5) is None
            assert watcher.reads_pending == 0
    finally:
        stuck.set()
    assert sorted(r for r, _, _ in reads) == ["Reader 0", "Reader 1"]
    assert all(timeout == 1.0 for _, timeout, _ in reads)
    assert all(name.startswith("sscard-read") for _, _, name in reads)  # never the monitor


def test_a_failed_read_is_a_typed_read_event():
    from sscard import errors

    fake = FakeScard({"Reader 0": ATR_A})

    def read(reader, timeout):
        raise errors.CardRemoved()

    def buggy(reader, timeout):
        raise KeyError("a bug")

    for fn, error in ((read, errors.CardRemoved), (buggy, errors.SscardError)):
        with CardWatcher(_scard=fake, read=fn) as watcher:
            _next(watcher, "inserted")
            event = _next(watcher, "read")
            assert type(event.error) is error and event.result is None
