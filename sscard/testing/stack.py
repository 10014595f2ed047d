"""A whole bench in one object: a private pcscd with N vpcd readers, the watcher of its readers,
and the emulator's bench driving the cards, in this process (which makes no PC/SC call itself,
so it may be a test suite whose own code uses another pcscd).  The pytest plugin's fixtures and
anything else that wants a bench without `sscard emulate` use it."""

from __future__ import annotations

from pathlib import Path

from sscard.emulator.bench import Bench, BenchSlot
from sscard.emulator.control import EventLog
from sscard.emulator.scenario import Scenario, load_scenario, parse_step
from sscard.testing.observer import PcscObserver
from sscard.testing.pcscd import PrivatePcscd

READERS_TIMEOUT_S = 15.0


class VirtualReader:
    """One reader of the bench, as a test sees it."""

    def __init__(self, stack: BenchStack, slot: BenchSlot) -> None:
        self._stack = stack
        self._slot = slot
        self.slot = slot.index
        self.name = slot.reader  # pcscd's reader name, for the program under test

    @property
    def env(self) -> dict:
        """The environment for the program under test (PCSCLITE_CSOCK_NAME set)."""
        return self._stack.env

    @property
    def socket(self) -> str:
        return self._stack.socket

    def _step(self, action: str, **fields) -> None:
        self._stack.step(action=action, slot=self.slot, **fields)

    def insert(self, persona) -> VirtualReader:
        """Insert a built-in persona by name, "psam", a persona file (path), or a card object
        (an emulator card: `atr`, `execute`, power calls).  Returns when pcscd has seen it."""
        if isinstance(persona, (str, Path)):
            self._step("insert", persona=str(persona))
        else:
            self._slot.insert(persona, type(persona).__name__)
        return self

    def remove(self) -> None:
        """Take the card out; returns when pcscd has registered it (a pulled card: at once)."""
        self._step("remove")

    def swap(self, persona: str | Path) -> None:
        self._step("swap", persona=str(persona))

    def reset(self) -> None:
        self._step("reset")

    def fault(
        self, kind: str, at: int, *, seconds: float | None = None, sw: str | None = None
    ) -> None:
        """Arm a fault for APDU number `at` of the card in this reader: "mute" (for ever, or
        `seconds`), "pull" (the card leaves), "answer" (status word `sw`, e.g. "6A82")."""
        fields: dict[str, float | str] = {"at": at}
        if seconds is not None:
            fields["seconds"] = seconds
        if sw is not None:
            fields["sw"] = sw
        self._step(kind, **fields)

    def slow(self, ms: int, bit_rate: int = 0) -> None:
        """Delay every answer of this reader by `ms` (0: none)."""
        self._step("slow", ms=ms, bit_rate=bit_rate)

    def apdus(self) -> list[bytes]:
        """The command APDUs the program under test sent to this card since its insertion."""
        return self._slot.apdus()

    def wait_apdus(self, count: int, timeout: float = 30.0) -> None:
        self._stack.step(action="wait", slot=self.slot, apdus=count, timeout=timeout)

    def events(self) -> list[dict]:
        """This reader's bench events (inserted, apdu, fault, removed, …) since the bench was
        last cleared (by the fixtures: since the test began), oldest first."""
        return [e for e in self._stack.events() if e.get("slot") == self.slot]

    @property
    def occupied(self) -> bool:
        return self._slot.occupied

    def __repr__(self) -> str:
        return f"<VirtualReader {self.slot} {self.name!r}>"


class BenchStack:
    def __init__(self, slots: int = 2) -> None:
        self.daemon = PrivatePcscd(slots=slots)
        self.log = EventLog()
        self.bench = Bench(
            list(self.daemon.readers), [self.daemon.slot_port(s) for s in range(slots)], self.log
        )
        self.observer: PcscObserver | None = None
        self._first_event = 0
        self.readers = [VirtualReader(self, s) for s in self.bench.slots]

    @property
    def env(self) -> dict:
        return self.daemon.client_env()

    @property
    def socket(self) -> str:
        return self.daemon.sock_path

    def start(self) -> BenchStack:
        self.daemon.start()
        try:
            self.observer = PcscObserver(self.env)
            for slot in self.bench.slots:
                slot.presence = self.observer
            self.observer.wait_readers(self.daemon.readers, READERS_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def step(self, **step) -> None:
        """Run one scenario step (the same keys as a scenario file's [[step]])."""
        parsed = parse_step(step, "step")
        self.bench.check([parsed], None, "step")
        self.bench.run_step(parsed)

    def run_scenario(self, scenario: str | Path | Scenario) -> None:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        self.bench.run(scenario)

    def events(self) -> list[dict]:
        """The bench's events since it was last cleared."""
        return self.log.since(self._first_event)[0]

    def clear(self) -> None:
        """Between tests: every card out, no delay left, the event list starts again."""
        for slot in self.bench.slots:
            slot.remove(reason="end")
            slot.set_wire(None)
        self._first_event = self.log.since(0)[1]

    def stop(self) -> int | None:
        try:
            self.bench.close()
        finally:
            if self.observer is not None:
                self.observer.close()
                self.observer = None
            rc = self.daemon.stop()
            self.daemon.cleanup()
        return rc
