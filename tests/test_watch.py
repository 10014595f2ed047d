"""The card watcher's supervised loop, against a scripted PC/SC service."""

from __future__ import annotations

import threading

from sscard.watch import PNP_READER, CardWatcher

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
                    if current != self.SCARD_STATE_UNAWARE and flags != current & ~self.SCARD_STATE_CHANGED:
                        changed = True
                        flags |= self.SCARD_STATE_CHANGED
                    out.append((name, flags, atr))
                if changed or timeout_ms == 0 or any(s == self.SCARD_STATE_UNAWARE for _, s in states):
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
