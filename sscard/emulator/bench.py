"""The test bench: emulated cards in N vpcd slots, with faults on cue, driven by scenario steps.

Each `BenchSlot` is one vpcd slot (one reader of pcscd).  It counts and keeps the APDUs its
card receives (numbered from 1 at each insertion), and fires the faults armed on it when the
host sends APDU number `at`: mute (no answer for some seconds, or until removed), pull (the
card leaves the reader; that APDU gets no answer), answer (a status word instead of the card's
answer); `slow` holds every answer of the slot back as the wire of a real card would
(sscard.emulator.wire.WireModel, the benchmarks' wire model, applied by the vpcd link).
Events go to `emit` as dicts, one per insertion, removal, APDU, fault and mark.

Whether pcscd has registered an insertion or removal is asked of `presence` (an object with
`wait_state(reader, present, after, timeout)`), which the caller supplies: the emulator never
talks PC/SC itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sscard.emulator.scenario import PSAM, Scenario, Step, check_steps
from sscard.emulator.vpcd import VpcdLink
from sscard.emulator.wire import WireModel
from sscard.errors import InvalidArgument, SpecError, SscardError

if TYPE_CHECKING:
    from sscard.emulator.persona import Persona

T = TypeVar("T")

SEEN_TIMEOUT_S = 10.0  # pcscd polls vpcd every 0.4 s
UNWATCHED_SETTLE_S = 0.9  # without a presence watcher: two pcscd polls and a margin
HEADER_BYTES = 4  # events show CLA INS P1 P2 only: command data may be a PIN


class ScenarioFailed(SscardError):
    """A step could not be carried out while the scenario ran (a timeout, a card still in)."""


class _Card:
    """The emulated card as vpcd sees it, with the slot's answer fault applied."""

    def __init__(self, slot: BenchSlot, card) -> None:
        self.slot = slot
        self.card = card
        self.lock = threading.Lock()

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_up(self):
        with self.lock:
            return self.card.power_up()

    def power_down(self):
        with self.lock:
            self.card.power_down()

    def reset(self):
        with self.lock:
            return self.card.reset()

    def execute(self, apdu: bytes) -> bytes:
        slot = self.slot
        sw = slot.take_answer_fault()
        with self.lock:
            return sw.to_bytes(2, "big") if sw is not None else self.card.execute(apdu)


class BenchSlot:
    def __init__(
        self,
        index: int,
        reader: str,
        host: str,
        port: int,
        emit: Callable[..., None],
        presence=None,
    ) -> None:
        self.index = index
        self.reader = reader
        self.host = host
        self.port = port
        self.emit = emit
        self.presence = presence
        self.persona: str | None = None
        self.link: VpcdLink | None = None
        self.wire: WireModel | None = None  # `slow`: it outlives the cards (it is the reader's)
        self.gone = threading.Event()  # set when the current card leaves (wakes a mute card)
        self._cond = threading.Condition()
        self._apdus: list[bytes] = []
        self._faults: dict[int, Step] = {}
        self._answer_now: int | None = None
        self._counter: int | None = None  # pcscd's event counter when the card was seen
        self._pulled = False

    # --- state ---------------------------------------------------------------------------

    @property
    def occupied(self) -> bool:
        return self.link is not None and not self._pulled

    def apdus(self) -> list[bytes]:
        """The APDUs the current (or last) card received since its insertion."""
        with self._cond:
            return list(self._apdus)

    @property
    def count(self) -> int:
        with self._cond:
            return len(self._apdus)

    def status(self) -> dict:
        return {
            "slot": self.index,
            "reader": self.reader,
            "persona": self.persona if self.occupied else None,
            "apdus": self.count,
            "wire": None if self.wire is None else str(self.wire),
            "armed": sorted(f"{s.action}@{n}" for n, s in self._faults.items()),
        }

    # --- cards in and out ----------------------------------------------------------------

    def insert(self, card, persona: str) -> None:
        if self.occupied:
            raise ScenarioFailed(f"slot {self.index} already holds a card")
        self._settle_removal()
        if self.presence is not None:
            state = self.presence.state(self.reader)
            if state is not None and state[0]:
                raise ScenarioFailed(
                    f"slot {self.index} ({self.reader}) is busy: pcscd sees a "
                    "card that this bench did not insert"
                )
        with self._cond:
            self._apdus = []
            self._faults = {}
            self._answer_now = None
        self.gone = threading.Event()
        self._pulled = False
        self.persona = persona
        link = VpcdLink(
            _Card(self, card), host=self.host, port=self.port, on_apdu=self._on_apdu, wire=self.wire
        )
        link.insert()
        self.link = link
        if self.presence is not None:
            self._counter = self.presence.wait_state(self.reader, True, timeout=SEEN_TIMEOUT_S)
        self.emit(
            "inserted",
            slot=self.index,
            reader=self.reader,
            persona=persona,
            atr=card.atr.hex().upper(),
        )

    def remove(self, reason: str = "step") -> None:
        if self.link is None:
            return
        pulled = self._pulled
        self.gone.set()
        self.link.remove()
        self._pulled = True
        if not pulled:
            self.emit(
                "removed", slot=self.index, reader=self.reader, reason=reason, apdus=self.count
            )
        self._settle_removal()

    def _settle_removal(self) -> None:
        """Wait until pcscd has registered the last removal, so that the next card is seen as
        a new one (pcscd takes a card inserted before its next poll for the old one)."""
        if self.link is None or not self._pulled:
            return
        if self.presence is not None:
            self.presence.wait_state(
                self.reader, False, after=self._counter, timeout=SEEN_TIMEOUT_S
            )
        else:
            time.sleep(UNWATCHED_SETTLE_S)
        self.link = None

    def set_wire(self, wire: WireModel | None) -> None:
        """Every later answer of this slot takes as long as `wire` says (None: at once)."""
        self.wire = wire
        if self.link is not None:
            self.link.wire = wire  # read by the serving thread at each APDU

    def reset(self) -> None:
        """The card loses its volatile state (selection, authentication), as after a reset the
        host was not told about."""
        if self.link is not None:
            self.link.card.reset()
        self.emit("reset", slot=self.index)

    # --- faults ----------------------------------------------------------------------------

    def arm(self, step: Step) -> None:
        at = _given(step.at, step, "at")
        with self._cond:
            if at <= len(self._apdus):
                raise ScenarioFailed(
                    f"slot {self.index}: {step.action} at APDU {step.at}, but "
                    f"the card has already received {len(self._apdus)}"
                )
            if at in self._faults:
                raise ScenarioFailed(f"slot {self.index}: APDU {at} already has a fault")
            self._faults[at] = step

    def take_answer_fault(self) -> int | None:
        with self._cond:
            sw, self._answer_now = self._answer_now, None
        return sw

    def _on_apdu(self, index: int, apdu: bytes) -> None:  # vpcd's serving thread
        with self._cond:
            self._apdus.append(bytes(apdu))
            number = len(self._apdus)
            fault = self._faults.pop(number, None)
            if fault is not None and fault.action == "pull":
                self._pulled = True  # before a waiting step wakes up and removes the card too
                self.gone.set()
            self._cond.notify_all()
        self.emit("apdu", slot=self.index, count=number, header=apdu[:HEADER_BYTES].hex().upper())
        if fault is None:
            return
        fired = {"slot": self.index, "fault": fault.action, "at": number}
        link = self.link  # set while a card is in, and a card is in while it answers
        if fault.action == "answer":
            with self._cond:
                self._answer_now = fault.sw
            self.emit("fault", **fired, sw=f"{fault.sw:04X}")
        elif fault.action == "pull":
            self.emit("fault", **fired)
            if link is not None:
                link.remove()  # from this thread: the APDU gets no answer
            self.emit("removed", slot=self.index, reader=self.reader, reason="pull", apdus=number)
        elif fault.action == "mute":
            self.emit("fault", **fired, seconds=fault.seconds)
            if self.gone.wait(fault.seconds):
                if link is not None:
                    link.remove()  # removed while mute: the APDU never gets its answer
            elif fault.seconds is not None:
                self.emit("unmuted", slot=self.index, at=number)

    def wait_apdus(self, count: int, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._apdus) >= count, timeout):
                raise ScenarioFailed(
                    f"slot {self.index}: the host sent {len(self._apdus)} "
                    f"APDUs, not {count}, within {timeout:g} s"
                )


class Bench:
    """N slots and the steps that drive them (from a scenario file or a control channel)."""

    def __init__(
        self,
        readers: list[str],
        ports: list[int],
        emit: Callable[[dict], None],
        presence=None,
        host: str = "127.0.0.1",
    ) -> None:
        if len(readers) != len(ports):
            raise ValueError("one port per reader")
        self._emit_lock = threading.Lock()
        self._sink = emit
        self._start = time.monotonic()
        self.slots = [
            BenchSlot(n, r, host, p, self.emit, presence)
            for n, (r, p) in enumerate(zip(readers, ports, strict=False))
        ]
        self._personas: dict[tuple[str, str], Persona | str] = {}  # or PSAM
        self._signals: list[str] = []
        self._signal_cond = threading.Condition()
        self._step_lock = threading.Lock()
        self.has_control = False

    def emit(self, event: str, **fields) -> None:
        record = {"event": event, "t": round(time.monotonic() - self._start, 3), **fields}
        with self._emit_lock:
            self._sink(record)

    # --- personas --------------------------------------------------------------------------

    def _persona_key(self, persona: str, base: Path | None) -> tuple[str, str]:
        if persona == PSAM:
            return (PSAM, "")
        if "/" in persona or "\\" in persona or persona.endswith(".toml"):
            path = Path(persona)
            if not path.is_absolute() and base is not None:
                path = base / path
            return ("file", str(path))
        return ("name", persona)

    def load_persona(self, persona: str, base: Path | None = None) -> None:
        """Load and check a persona once (InvalidArgument / SpecError if it cannot be served)."""
        key = self._persona_key(persona, base)
        if key in self._personas:
            return
        if key[0] == PSAM:
            from sscard.emulator.psam_card import PsamCard

            PsamCard.from_file()
            self._personas[key] = PSAM
        else:
            from sscard.emulator.persona import load_persona

            self._personas[key] = load_persona(Path(key[1]) if key[0] == "file" else key[1])

    def new_card(self, persona: str, base: Path | None = None):
        self.load_persona(persona, base)
        loaded = self._personas[self._persona_key(persona, base)]
        if isinstance(loaded, str):  # PSAM
            from sscard.emulator.psam_card import PsamCard

            return PsamCard.from_file()
        from sscard.emulator.ssc_card import SocialSecurityCard
        from sscard.spec import load_spec

        return SocialSecurityCard(load_spec(), loaded)

    # --- steps -----------------------------------------------------------------------------

    def check(self, steps, base: Path | None, where: str) -> None:
        """Everything a step list needs, checked before any of it runs."""
        occupied = {s.index for s in self.slots if s.occupied}
        check_steps(steps, len(self.slots), where, occupied, self.has_control)
        for n, step in enumerate(steps):
            if step.persona is not None:
                try:
                    self.load_persona(step.persona, base)
                except (InvalidArgument, SpecError) as e:
                    raise type(e)(f"{where} step {n + 1}: {e}") from None

    def run(self, scenario: Scenario) -> None:
        self.check(scenario.steps, scenario.base, "scenario")
        for step in scenario.steps:
            self.run_step(step, scenario.base)

    def run_step(self, step: Step, base: Path | None = None) -> None:
        slot = self.slots[step.slot] if step.slot is not None else None
        action = step.action
        if action == "wait":
            self._wait(step, slot)
        else:
            with self._step_lock:
                if action == "insert":
                    persona = _given(step.persona, step, "persona")
                    _given(slot, step, "slot").insert(self.new_card(persona, base), persona)
                elif action == "remove":
                    _given(slot, step, "slot").remove()
                elif action == "swap":
                    persona = _given(step.persona, step, "persona")
                    card = self.new_card(persona, base)
                    _given(slot, step, "slot").remove(reason="swap")
                    _given(slot, step, "slot").insert(card, persona)
                elif action == "reset":
                    self._need_card(slot, action).reset()
                elif action in ("mute", "pull", "answer"):
                    armed = self._need_card(slot, action)
                    armed.arm(step)
                    self.emit("armed", slot=armed.index, fault=action, at=step.at)
                elif action == "slow":
                    wire = (
                        WireModel(step.ms or 0, step.bit_rate or 0)
                        if step.ms or step.bit_rate
                        else None
                    )
                    for s in [slot] if slot is not None else self.slots:
                        s.set_wire(wire)
                    self.emit("slow", slot=step.slot, ms=step.ms, bit_rate=step.bit_rate or 0)
        if step.mark is not None:
            self.emit("mark", mark=step.mark)

    @staticmethod
    def _need_card(slot: BenchSlot | None, action: str) -> BenchSlot:
        if slot is None:
            raise ScenarioFailed(f"{action}: no slot named")
        if not slot.occupied:
            raise ScenarioFailed(f"{action}: slot {slot.index} holds no card")
        return slot

    def _wait(self, step: Step, slot: BenchSlot | None) -> None:
        if step.seconds is not None:
            time.sleep(step.seconds)
        elif step.apdus is not None:
            _given(slot, step, "slot").wait_apdus(step.apdus, step.timeout)
        else:
            signal = _given(step.signal, step, "signal")
            with self._signal_cond:
                if not self._signal_cond.wait_for(lambda: signal in self._signals, step.timeout):
                    raise ScenarioFailed(f"no signal '{signal}' within {step.timeout:g} s")
                self._signals.remove(signal)

    def signal(self, name: str) -> None:
        with self._signal_cond:
            self._signals.append(name)
            self._signal_cond.notify_all()
        self.emit("signal", name=name)

    def status(self) -> list[dict]:
        return [s.status() for s in self.slots]

    def close(self) -> None:
        """Remove every card (events for those still in)."""
        for slot in self.slots:
            try:
                slot.remove(reason="end")
            except (SscardError, TimeoutError, RuntimeError):
                pass


def _given(value: T | None, step: Step, key: str) -> T:
    """A key the step's action requires (scenario.ACTIONS, checked when it was parsed)."""
    if value is None:
        raise ScenarioFailed(f"{step.action}: no '{key}'")
    return value
