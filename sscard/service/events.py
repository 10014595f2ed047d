"""Live events for /v1/events: the library's supervised watcher (sscard.transport.watch),
fanned out to every listener, plus the card read after each insertion.

The watcher survives pcscd restarts and reader unplugs and reports them; its callbacks run on
its own dispatcher thread and are handed to the event loop here.  The read after an insertion
goes through that reader's worker, so a slow or mute card delays only its own reader's events.
Each listener has a bounded queue: one that does not keep up is dropped (its stream ends; the
browser's EventSource reconnects) rather than growing the service's memory.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import itertools
import json
import logging
from typing import TYPE_CHECKING

from sscard import errors

if TYPE_CHECKING:
    from sscard.transport.watch import CardWatcher

log = logging.getLogger("sscard.service")
LISTENER_QUEUE = 256

# the watcher's kinds, and ours
IDENTITY, ERROR = "identity", "error"


class Listener:
    def __init__(self, reveal: bool) -> None:
        self.reveal = reveal
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=LISTENER_QUEUE)
        self.dropped = False


class EventHub:
    def __init__(self, service) -> None:
        self.service = service
        self.listeners: set[Listener] = set()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: CardWatcher | None = None
        self._reads: set[asyncio.Task] = set()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        from sscard.transport.watch import CardWatcher

        self._loop = loop
        self._watcher = CardWatcher(
            list(self.service.config.readers) or None, initial=True, on_event=self._from_watcher
        ).start()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        for task in list(self._reads):
            task.cancel()
        for listener in list(self.listeners):
            self._end(listener)

    # --- listeners -------------------------------------------------------------------------

    def subscribe(self, reveal: bool) -> Listener:
        listener = Listener(reveal)
        self.listeners.add(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def snapshot(self) -> dict:
        """The `state` event a new listener starts with: PC/SC and every served reader."""
        try:
            readers = await self.service.readers()
            pcsc = "running"
        except errors.ServiceUnavailable:
            readers, pcsc = [], "unavailable"
        return {
            "event": "state",
            "pcsc": pcsc,
            "readers": [{"reader": r.name, "card": r.card, "atr": r.atr} for r in readers],
            "time": _now(),
        }

    def _served(self, name: str) -> bool:
        return self.service.cards._served(name) and name != self.service.psam_reader_name()

    def _end(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        listener.dropped = True
        try:
            listener.queue.put_nowait(None)
        except asyncio.QueueFull:  # the stream loop checks `dropped` too
            pass

    def publish(self, kind: str, payload: dict, *, masked: dict | None = None) -> None:
        """To every listener (on the loop).  `masked`: what listeners without reveal get."""
        event_id = next(self._ids)
        for listener in list(self.listeners):
            body = payload if listener.reveal or masked is None else masked
            try:
                listener.queue.put_nowait((event_id, kind, body))
            except asyncio.QueueFull:
                log.warning("an event listener fell behind and was dropped")
                self._end(listener)

    # --- from the watcher (its dispatcher thread) ------------------------------------------

    def _from_watcher(self, event) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._on_event, event)
            except RuntimeError:  # the loop closed meanwhile (shutdown)
                pass

    def _on_event(self, event) -> None:
        from sscard.transport import watch

        data = event.to_dict()
        reader = event.reader
        if reader is not None and not self._served(reader):
            return
        self.publish(event.kind, data)
        if event.kind == watch.INSERTED and self.listeners:
            task = asyncio.ensure_future(self._read_after_insertion(reader))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)

    async def _read_after_insertion(self, reader: str) -> None:
        from sscard.service.cards import render_identity
        from sscard.service.problems import describe

        try:
            identity, source = await self.service.run_on_reader(
                reader, lambda _held: self.service.cards.identity(reader)
            )
        except errors.SscardError as e:
            _status, body = describe(e)
            self.publish(ERROR, {"event": ERROR, "reader": reader, "time": _now(), **body})
            return
        revealed = render_identity(identity, source, True)
        masked = render_identity(identity, source, False)
        base = {"event": IDENTITY, "reader": reader, "time": _now()}
        self.publish(IDENTITY, {**base, "identity": revealed}, masked={**base, "identity": masked})


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def sse(event_id: int | None, kind: str, payload: dict) -> bytes:
    data = json.dumps(payload, ensure_ascii=False)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n".encode()
