"""Scenarios: a declarative script of what happens in the bench's card readers.

A scenario file (TOML) is a list of steps, run in order:

    description = "card mute at its 4th APDU"
    slots = 2              # optional: how many vpcd slots it needs (default: highest used + 1)

    [[step]]
    action = "insert"      # insert | remove | swap | reset | mute | pull | answer | slow | wait
    slot = 0
    persona = "gen3"       # a built-in persona, "psam", or a persona file (relative to it)

    [[step]]
    action = "mute"
    slot = 0
    at = 4                 # the 4th APDU the card receives after its insertion
    seconds = 5            # omitted: mute for ever (until removed)
    mark = "armed"         # any step: a {"event": "mark"} line once it is done

The same steps arrive as JSON objects on the bench's control channel.  Everything that can be
known before the first card goes in is checked here (unknown keys and actions, wrong types,
unknown personas, a card inserted into an occupied slot, a slot out of range), so a scenario
that cannot run fails before anything starts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sscard.errors import InvalidArgument, SpecError
from sscard.spec.loader import Fields, read_toml

PSAM = "psam"  # the software PSAM, servable like a persona
MAX_WAIT_S = 3600.0
MAX_SLOW_MS = 60_000
MAX_APDU_INDEX = 1_000_000
DEFAULT_TIMEOUT_S = 60.0

# action -> (required keys, optional keys) besides "action" and "mark"
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "insert": (frozenset({"slot", "persona"}), frozenset()),
    "remove": (frozenset({"slot"}), frozenset()),
    "swap": (frozenset({"slot", "persona"}), frozenset()),
    "reset": (frozenset({"slot"}), frozenset()),
    "mute": (frozenset({"slot", "at"}), frozenset({"seconds"})),
    "pull": (frozenset({"slot", "at"}), frozenset()),
    "answer": (frozenset({"slot", "at", "sw"}), frozenset()),
    "slow": (frozenset({"ms"}), frozenset({"slot", "bit_rate"})),
    "wait": (frozenset(), frozenset({"seconds", "apdus", "slot", "signal", "timeout"})),
}
NEEDS_CARD = {"remove", "swap", "reset", "mute", "pull", "answer"}


@dataclasses.dataclass(frozen=True)
class Step:
    action: str
    slot: int | None = None
    persona: str | None = None  # as written; resolved by the bench against `base`
    at: int | None = None  # 1-based APDU number since the card's insertion
    seconds: float | None = None  # wait: how long; mute: how long (None = for ever)
    sw: int | None = None
    ms: int | None = None  # slow: the card's time for each APDU
    bit_rate: int | None = None  # slow: command and answer bytes at this many bit/s (0: free)
    apdus: int | None = None  # wait until the slot's card has received this many APDUs
    signal: str | None = None  # wait until the control channel sends this signal
    timeout: float = DEFAULT_TIMEOUT_S
    mark: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"action": self.action}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if (
                field.name == "action"
                or value is None
                or (field.name == "timeout" and value == DEFAULT_TIMEOUT_S)
            ):
                continue
            out[field.name] = f"{value:04X}" if field.name == "sw" else value
        return out


@dataclasses.dataclass(frozen=True)
class Scenario:
    description: str
    slots: int
    steps: tuple[Step, ...]
    base: Path  # persona paths are relative to it


def _number(f: Fields, key: str, low: float, high: float, integer: bool = False):
    kind = int if integer else (int, float)
    value = f.get(key, kind, None)
    if value is None:
        return None
    if not low <= value <= high:
        raise SpecError(f"{f.where}: '{key}' must be {low:g} to {high:g}")
    return value


def parse_step(table: Any, where: str) -> Step:
    """One step from its TOML table or JSON object; SpecError names the step and the key."""
    f = Fields(table, where)
    action = f.choice("action", set(ACTIONS))
    required, optional = ACTIONS[action]
    present = set(f.table) - {"action", "mark"}
    unknown = present - required - optional
    if unknown:
        raise SpecError(f"{where}: {action} takes no {sorted(unknown)}")
    missing = required - present
    if missing:
        raise SpecError(f"{where}: {action} needs {sorted(missing)}")
    sw = None
    if "sw" in f.table:
        raw = f.hex("sw", 2)
        sw = int.from_bytes(raw, "big")
        if raw[0] not in range(0x61, 0x70) and raw[0] not in (0x90, 0x91, 0x92, 0x93):
            raise SpecError(f"{where}: 'sw' must be a status word (61xx–6Fxx, 90xx–93xx)")
    step = Step(
        action=action,
        slot=_number(f, "slot", 0, 15, integer=True),
        persona=f.get("persona", str, None),
        at=_number(f, "at", 1, MAX_APDU_INDEX, integer=True),
        seconds=_number(f, "seconds", 0, MAX_WAIT_S),
        sw=sw,
        ms=_number(f, "ms", 0, MAX_SLOW_MS, integer=True),
        bit_rate=_number(f, "bit_rate", 0, 1_000_000, integer=True),
        apdus=_number(f, "apdus", 1, MAX_APDU_INDEX, integer=True),
        signal=f.get("signal", str, None),
        timeout=_number(f, "timeout", 0.1, MAX_WAIT_S) or DEFAULT_TIMEOUT_S,
        mark=f.get("mark", str, None),
    )
    f.done()
    if step.persona is not None and not step.persona.strip():
        raise SpecError(f"{where}: 'persona' is empty")
    if action == "wait":
        forms = [k for k in ("seconds", "apdus", "signal") if k in present]
        if len(forms) != 1:
            raise SpecError(f"{where}: wait takes exactly one of 'seconds', 'apdus', 'signal'")
        if (step.apdus is None) != (step.slot is None):
            raise SpecError(f"{where}: wait for 'apdus' needs a 'slot' (and only it does)")
        if step.signal is not None and not step.signal.strip():
            raise SpecError(f"{where}: 'signal' is empty")
    if action == "mute" and step.seconds == 0:
        raise SpecError(f"{where}: mute 'seconds' must be more than 0 (omit it for ever)")
    return step


def load_scenario(path: str | Path) -> Scenario:
    """A scenario file, parsed and checked against itself (see `check_steps`)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidArgument(f"scenario file not found: {path}")
    where = f"scenario {path.name}"
    top = Fields(read_toml(path), where)
    description = top.get("description", str, "")
    slots = _number(top, "slots", 1, 16, integer=True)
    raw_steps = top.get("step", list, [])
    top.done()
    steps = tuple(parse_step(t, f"{where} step {n + 1}") for n, t in enumerate(raw_steps))
    if not steps:
        raise SpecError(f"{where}: no [[step]]")
    used = [s.slot for s in steps if s.slot is not None]
    needed = max(used) + 1 if used else 1
    if slots is None:
        slots = needed
    scenario = Scenario(description, slots, steps, path.resolve().parent)
    check_steps(scenario.steps, scenario.slots, where, has_control=True)  # the bench knows
    return scenario


def check_steps(
    steps, slots: int, where: str, occupied: set[int] | None = None, has_control: bool = False
) -> set[int]:
    """Play the steps on paper: a slot in range, a card where one is needed, none where a card
    goes in; 'signal' waits only with a control channel.  Returns the slots holding a card after
    them.  After a `pull` the card may be gone or still in: `remove` and `insert` are both
    accepted (an insert while the card is still in fails when it runs)."""
    cards = set(occupied or ())
    pulling: set[int] = set()  # a pull is armed: the card may be gone, or still in
    for n, step in enumerate(steps):
        at = f"{where} step {n + 1} ({step.action})"
        if step.slot is not None and step.slot >= slots:
            raise SpecError(f"{at}: slot {step.slot} does not exist (slots 0 to {slots - 1})")
        if step.action in NEEDS_CARD and step.slot not in cards:
            raise SpecError(f"{at}: slot {step.slot} holds no card at this point")
        if step.action == "insert":
            if step.slot in cards and step.slot not in pulling:
                raise SpecError(f"{at}: slot {step.slot} already holds a card (remove or swap)")
            cards.add(step.slot)
            pulling.discard(step.slot)
        elif step.action == "remove":
            cards.discard(step.slot)
            pulling.discard(step.slot)
        elif step.action == "swap":
            pulling.discard(step.slot)
        elif step.action == "pull":
            pulling.add(step.slot)
        elif step.action == "wait" and step.signal is not None and not has_control:
            raise SpecError(f"{at}: waiting for a signal needs --control")
    return cards
