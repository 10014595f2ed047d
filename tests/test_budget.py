"""Every operation is bounded in APDUs and bytes by what a real card needs (sscard.budget)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from sscard import errors
from sscard.budget import EXCHANGES_PER_COMMAND, Budget, bank_budget, ssse_budget
from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import PERSONA_DIR, list_personas
from sscard.session import CardSession
from sscard.spec import load_spec
from sscard.transport.emulated import EmulatorTransport

TODAY = _dt.date(2026, 12, 1)
GET_RESPONSE = 0xC0


class Dribbling(EmulatorTransport):
    """A card that hands out every answer in the most pieces the per-command bounds allow:
    one byte and `61 01` at a time, fifteen times, then the rest."""

    PIECES = 15

    def __init__(self, card) -> None:
        super().__init__(card, "dribbling card")
        self.pending = b""
        self.pieces = 0
        self.exchanges = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.exchanges += 1
        if apdu[1] == GET_RESPONSE and self.pending:
            data = self.pending
        else:
            data, self.pieces = super().transmit(apdu), 0
        self.pieces += 1
        body, sw = data[:-2], data[-2:]
        if len(body) > 1 and self.pieces < self.PIECES:
            self.pending = body[1:] + sw
            return body[:1] + b"\x61\x01"
        self.pending = b""
        return data


def _endless_log_persona(tmp_path: Path, records: int = 255) -> Path:
    """bank-used with a long transaction log (255 records: the most its log entry can name)."""
    text = (PERSONA_DIR / "bank-used.toml").read_text(encoding="utf-8")
    first = text.index("[[bank.transaction_log]]")
    entry = text[first : text.index("[[bank.transaction_log]]", first + 1)]
    text = text.replace("[bank]\n", f"[bank]\nlog_entry = {{ sfi = 11, records = {records} }}\n", 1)
    text = text.replace(entry, entry * (records - 2), 1)  # and the 2 others
    path = tmp_path / "endless-log.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_hostile_card_cannot_amplify_a_read_only_status(tmp_path):
    # 150 log records, each answer in 15 pieces: 16 exchanges for most commands
    card = SocialSecurityCard.from_persona(str(_endless_log_persona(tmp_path, 150)))
    transport = Dribbling(card)
    budget = ssse_budget(load_spec()) + bank_budget(load_spec().pboc)
    with pytest.raises(errors.BudgetExceeded) as info:
        Card(transport).read_status(logs=True, today=TODAY)
    assert transport.exchanges == budget.apdus  # stopped at the bound, not after it
    assert f"more than {budget.apdus} APDUs" in info.value.message
    assert "real card" in info.value.message
    assert info.value.exit_code == errors.ExitCode.COMMUNICATION


def test_the_same_card_answering_plainly_is_read_in_full(tmp_path):
    # the 255-record log alone is what the spec allows a real card: within the budget
    card = SocialSecurityCard.from_persona(str(_endless_log_persona(tmp_path)))
    with Card(EmulatorTransport(card)) as c:
        status = c.read_status(logs=True, today=TODAY)
        assert len(status.bank.transactions) == 255
        assert (
            c.session.apdu_count <= (ssse_budget(load_spec()) + bank_budget(load_spec().pboc)).apdus
        )


class Flooding(EmulatorTransport):
    """A card padding every answer to 256 bytes (within every per-command bound)."""

    def transmit(self, apdu: bytes) -> bytes:
        data = super().transmit(apdu)
        return data[:-2].ljust(256, b"\x00") + data[-2:]


def test_the_bytes_of_an_operation_are_bounded_too():
    session = CardSession(Flooding(SocialSecurityCard.from_persona("gen2")))
    budget = Budget("a test", commands=2)
    with pytest.raises(errors.BudgetExceeded, match=f"more than {budget.bytes} bytes"):
        with session.operation(budget):
            for _ in range(3):
                session.send("get_challenge", le=8)
    assert session.apdu_count == 3  # 3 × 258 bytes > 2 × 256 + 6 × 2


@pytest.mark.parametrize("persona", list_personas())
def test_every_persona_stays_within_its_budget(persona):
    # the bound must never cut a genuine card short: a read, a status with the bank
    # records (one GPO and the AFL records) and the PIN tries
    spec = load_spec()
    for operation in ("read_identity", "read_status", "pin_tries"):
        card = Card(EmulatorTransport(SocialSecurityCard.from_persona(persona)))
        try:
            if operation == "read_status":
                card.read_status(bank_records=True, today=TODAY)
            else:
                getattr(card, operation)()
        except errors.BudgetExceeded:  # pragma: no cover - the failure this test looks for
            raise
        except errors.SscardError:
            pass  # blocked cards and the like: not what this test is about
        limit = (
            ssse_budget(spec) + bank_budget(spec.pboc)
            if operation == "read_status"
            else ssse_budget(spec)
        )
        assert card.session.apdu_count <= limit.commands  # one exchange per command here


def test_the_budget_follows_the_spec():
    spec = load_spec()
    budget = ssse_budget(spec)
    files = spec.ssse.files.values()
    reads = sum(
        1 + len(f.items) if f.structure != "transparent" else -(-f.size // 256) for f in files
    )
    assert budget.commands == 2 + 4 + 2 + 2 * len(files) + reads
    assert budget.apdus == budget.commands * EXCHANGES_PER_COMMAND
    bank = bank_budget(spec.pboc)
    assert bank.commands > 2 * 255  # both logs at their largest fit
