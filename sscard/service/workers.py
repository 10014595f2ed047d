"""One worker thread per reader: requests for a reader run one at a time, readers in parallel.

A reader's requests wait in a bounded queue; when it is full the request is refused at once
with `ReaderBusy` (a kiosk page would rather say "busy" than hang).  There is no global
lock: two readers never wait for each other.

A worker can be *held* by one client between two messages (the HSM two-step read, whose
card challenge lives only in the open card connection): while held it runs only that
client's jobs, other clients get `ReaderBusy`, and the hold ends with the client's release,
its disconnection, or the hold timeout, whichever comes first.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sscard import errors, log

_LOG = "sscard.service"
QUEUE_SIZE = 8  # waiting requests per reader; more is a client bug or a flood


class ReaderBusy(errors.SscardError):
    """The reader is busy with other requests; try again shortly."""

    exit_code = errors.ExitCode.FAILURE


class Hold:
    """What a job returns to keep the worker for `owner` until release or `timeout` seconds.
    `resource` (e.g. the open card) is closed by `close` when the hold ends."""

    def __init__(
        self,
        owner: object,
        resource: Any,
        close: Callable[[Any], None],
        timeout: float,
        result: Any = None,
    ) -> None:
        self.owner, self.resource, self.close = owner, resource, close
        self.timeout, self.result = timeout, result


class Unhold:
    """What a job run under a hold returns to end the hold after answering (`error`: raised
    to the caller instead of a result)."""

    def __init__(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error


_RELEASE = object()
_STOP = object()


class ReaderWorker:
    def __init__(self, reader: str, queue_size: int = QUEUE_SIZE) -> None:
        self.reader = reader
        self._jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self._held_jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self._holder: object | None = None
        self._lock = threading.Lock()  # holder changes vs. submissions
        self._thread = threading.Thread(
            target=self._run, name=f"sscard-reader {reader}", daemon=True
        )
        self._thread.start()

    @property
    def holder(self) -> object | None:
        return self._holder

    def submit(self, fn: Callable[..., Any], owner: object = None) -> concurrent.futures.Future:
        """Run `fn(resource)` on this reader's thread (`resource`: what the owner's hold keeps,
        else None).  ReaderBusy when the queue is full or another client holds the reader."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            held = self._holder is not None
            if held and owner is not None and owner is self._holder:
                target = self._held_jobs
            elif held:
                raise ReaderBusy(
                    "the reader is held by another client's two-step (HSM) read",
                    zh="读卡器忙：正被另一客户端的两步（加密机）读卡占用，请稍后再试",
                )
            else:
                target = self._jobs
            try:
                target.put_nowait((fn, future))
            except queue.Full:
                raise ReaderBusy() from None
        return future

    def release(self, owner: object) -> None:
        """End `owner`'s hold, if it has one (its job queue is served in order first)."""
        with self._lock:
            if owner is not None and owner is self._holder:
                try:
                    self._held_jobs.put_nowait((_RELEASE, None))
                except queue.Full:  # cannot happen with a sane client; the timeout ends it
                    pass

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            for q in (self._jobs, self._held_jobs):
                try:
                    q.put_nowait((_STOP, None))
                except queue.Full:
                    pass
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if fn is _STOP:
                return
            result = self._call(fn, future, None)
            if isinstance(result, Hold):
                if self._held(result) is _STOP:
                    return

    def _call(self, fn, future, resource):
        if not future.set_running_or_notify_cancel():
            return None
        try:
            result = fn(resource)
        except BaseException as e:  # delivered to the caller, never kills the worker
            future.set_exception(e)
            return None
        if isinstance(result, Unhold):
            if result.error is not None:
                future.set_exception(result.error)
            else:
                future.set_result(result.result)
        elif isinstance(result, Hold):  # held before the owner can hear of it and send more
            with self._lock:
                self._holder = result.owner
            future.set_result(result.result)
        else:
            future.set_result(result)
        return result

    def _held(self, hold: Hold):
        deadline = time.monotonic() + hold.timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.info(_LOG, "reader %r: two-step hold timed out", self.reader)
                    return None
                try:
                    fn, future = self._held_jobs.get(timeout=remaining)
                except queue.Empty:
                    continue
                if fn is _RELEASE or fn is _STOP:
                    return fn
                result = self._call(fn, future, hold.resource)
                if isinstance(result, Unhold):
                    return None
                if isinstance(result, Hold):  # the owner started over: keep the new resource
                    if result.resource is not hold.resource:
                        _close(hold)
                    hold = result
                    deadline = time.monotonic() + hold.timeout
        finally:
            with self._lock:
                self._holder = None
                leftovers = []
                while True:
                    try:
                        leftovers.append(self._held_jobs.get_nowait())
                    except queue.Empty:
                        break
            _close(hold)
            for fn, future in leftovers:  # the owner's late jobs: the challenge is gone
                if future is not None and future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(None))
                    except BaseException as e:
                        future.set_exception(e)


def _close(hold: Hold) -> None:
    try:
        hold.close(hold.resource)
    except Exception:  # a gone card cannot be closed cleanly; pcscd cleans up
        pass


class Workers:
    """The reader workers, created on first use (one per reader name ever used)."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._workers: dict[str, ReaderWorker] = {}
        self._lock = threading.Lock()

    def get(self, reader: str) -> ReaderWorker:
        with self._lock:
            worker = self._workers.get(reader)
            if worker is None or not worker.alive():
                worker = self._workers[reader] = ReaderWorker(reader, self.queue_size)
            return worker

    def release_all(self, owner: object) -> None:
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.release(owner)

    def count(self) -> int:
        with self._lock:
            return len(self._workers)

    def stop(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()
