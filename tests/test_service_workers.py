"""The service's reader workers alone (no PC/SC): one at a time per reader, bounded queue with
a clear "busy", readers in parallel, holds for the HSM two steps."""

from __future__ import annotations

import threading

import pytest

from sscard import errors
from sscard.service.workers import Hold, ReaderBusy, Unhold, Workers


@pytest.fixture
def workers():
    w = Workers(queue_size=2)
    yield w
    w.stop()


def blocker():
    gate = threading.Event()
    started = threading.Event()

    def job(_held):
        started.set()
        assert gate.wait(10)
        return "done"

    return job, gate, started


def test_one_reader_runs_one_job_at_a_time_and_refuses_beyond_its_queue(workers):
    job, gate, started = blocker()
    worker = workers.get("A")
    running = worker.submit(job)
    assert started.wait(5)
    queued = [worker.submit(lambda _h, i=i: i) for i in range(2)]
    with pytest.raises(ReaderBusy) as busy:
        worker.submit(lambda _h: "too many")
    assert busy.value.zh.startswith("读卡器忙")
    gate.set()
    assert running.result(5) == "done"
    assert [f.result(5) for f in queued] == [0, 1]
    assert worker.submit(lambda _h: "again").result(5) == "again"


def test_two_readers_do_not_wait_for_each_other(workers):
    job, gate, started = blocker()
    slow = workers.get("A").submit(job)
    assert started.wait(5)
    assert workers.get("B").submit(lambda _h: "B ran").result(5) == "B ran"
    assert not slow.done()
    gate.set()
    slow.result(5)


def test_errors_reach_the_caller_and_the_worker_lives_on(workers):
    def fails(_h):
        raise errors.CardRemoved()

    with pytest.raises(errors.CardRemoved, match="removed"):
        workers.get("A").submit(fails).result(5)
    assert workers.get("A").submit(lambda _h: 1).result(5) == 1


def test_a_hold_serves_only_its_owner_until_released(workers):
    closed = []
    owner, other = object(), object()
    worker = workers.get("A")
    got = worker.submit(lambda _h: Hold(owner, "card", closed.append, 30, result="step1"), owner)
    assert got.result(5) == "step1" and worker.holder is owner
    with pytest.raises(ReaderBusy, match=r"two-step \(HSM\) read"):
        worker.submit(lambda _h: "intruder", other)
    with pytest.raises(ReaderBusy, match=r"two-step \(HSM\) read"):
        worker.submit(lambda _h: "native")
    assert worker.submit(lambda held: held, owner).result(5) == "card"
    assert (
        worker.submit(lambda held: Unhold(f"step2 on {held}"), owner).result(5) == "step2 on card"
    )
    assert closed == ["card"]
    assert worker.submit(lambda held: held, other).result(5) is None


def test_a_hold_ends_on_release_and_on_timeout(workers):
    closed = []
    owner = object()
    worker = workers.get("A")
    worker.submit(lambda _h: Hold(owner, "c1", closed.append, 30), owner).result(5)
    late = worker.submit(lambda held: held, owner)
    worker.release(owner)
    assert late.result(5) == "c1"  # queued before the release: still on the held card
    assert worker.submit(lambda held: held, owner).result(5) is None
    assert closed == ["c1"]
    worker.submit(lambda _h: Hold(owner, "c2", closed.append, 0.2), owner).result(5)
    done = threading.Event()
    while worker.holder is not None:
        done.wait(0.02)
    assert closed == ["c1", "c2"]
    assert worker.submit(lambda held: held).result(5) is None


def test_stop_ends_every_worker_thread():
    w = Workers()
    for name in ("A", "B", "C"):
        w.get(name).submit(lambda _h: None).result(5)
    before = {t.name for t in threading.enumerate()}
    assert {"sscard-reader A", "sscard-reader B", "sscard-reader C"} <= before
    w.stop()
    assert not any(t.name.startswith("sscard-reader") for t in threading.enumerate())
