"""Two-step read with a platform HSM (iReadCardBas_HSM_Step1/2), in process.

The "HSM" here is an independent oracle: it sees only the national Step 1 string, parses it
itself, and computes the answers with sscard.crypto from the published test root keys read
straight from test_keys.toml — never through the key sources or the emulator's own keys.
"""

from __future__ import annotations

import pytest
from helpers import TODAY, FaultyTransport, card_of, hsm, persona_toml

from sscard import errors
from sscard.auth.hsm import HsmAnswer, parse_answer
from sscard.card import Card
from sscard.emulator import SocialSecurityCard
from sscard.emulator.persona import Auth
from sscard.ssse.results import HolderStatus
from sscard.transport.emulated import EmulatorTransport

INS_EXTERNAL, INS_INTERNAL, INS_CHALLENGE = 0x82, 0x88, 0x84


def ins_count(apdus, ins: int) -> int:
    return sum(1 for a in apdus if a[1] == ins)


# --- the full read ----------------------------------------------------------------------------


def test_gen3_identity_through_the_two_steps():
    card, transport, emulated = card_of("gen3")
    raw = persona_toml("gen3")
    step1 = card.hsm_step1(today=TODAY)
    line = step1.to_string()
    items = line.split("|")
    cid = raw["ef05"]["card_identification"]
    assert items[:4] == [cid[:6], raw["atr_historical"].upper(), "03", cid.upper()]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in items[4:8])
    sent_in_step1 = len(transport.sent)
    # Step 1 ends with the live challenge, and it is the 外部认证过程因子
    assert transport.sent[-1][1] == INS_CHALLENGE
    assert items[6] == emulated.challenge.hex().upper()

    identity = card.hsm_step2(step1, hsm(line), today=TODAY)
    assert identity.complete and identity.authentic == "yes"
    assert identity.holder.social_security_number == raw["ef06"]["social_security_number"]
    assert identity.holder.name == raw["ef06"]["name"] + raw["ef06"].get("name_extension", "")
    step2 = transport.sent[sent_in_step1:]
    assert step2[0][:4] == bytes.fromhex("0082000A")  # nothing reaches the card before it
    assert ins_count(transport.sent, INS_EXTERNAL) == 1
    assert ins_count(transport.sent, INS_INTERNAL) == 1
    assert emulated.auth_tries_left == 3


def test_gen3_on_a_t0_card():
    card, _, _ = card_of("gen3", t0=True)
    step1 = card.hsm_step1(today=TODAY)
    assert card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY).complete


def test_gen2_step1_has_no_external_items_and_step2_only_checks_authenticity():
    card, transport, emulated = card_of("gen2")
    step1 = card.hsm_step1(today=TODAY)
    items = step1.to_string().split("|")
    assert items[2] == "01" and items[6] == items[7] == "" and not step1.needs_external
    identity = card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert identity.authentic == "yes" and identity.complete
    assert identity.holder.name.startswith(persona_toml("gen2")["ef06"]["name"])
    assert ins_count(transport.sent, INS_EXTERNAL) == 0
    assert ins_count(transport.sent, INS_CHALLENGE) == 0


def test_gen2_not_authentic_is_reported_and_the_free_data_still_read():
    card, transport, _ = card_of("gen2")
    step1 = card.hsm_step1(today=TODAY)
    identity = card.hsm_step2(step1, hsm(step1.to_string(), spoil_internal=True), today=TODAY)
    assert identity.authentic == "no" and identity.complete
    assert "not_authentic" in [f.code for f in identity.findings]


def test_gen2_answer_with_external_data_is_refused():
    card, transport, _ = card_of("gen2")
    step1 = card.hsm_step1(today=TODAY)
    pkey = hsm(step1.to_string())[:-1] + "00" * 16 + "|"
    before = len(transport.sent)
    with pytest.raises(
        errors.HsmAnswerMismatch, match="external authentication data that Step 1 did not ask for"
    ):
        card.hsm_step2(step1, pkey, today=TODAY)
    assert len(transport.sent) == before


# --- the card proves itself first; one EXTERNAL AUTHENTICATE at most ---------------------------


def test_wrong_internal_answer_means_not_authentic_and_no_try_spent():
    card, transport, emulated = card_of("gen3")
    step1 = card.hsm_step1(today=TODAY)
    before = len(transport.sent)
    identity = card.hsm_step2(step1, hsm(step1.to_string(), spoil_internal=True), today=TODAY)
    assert identity.authentic == "no" and identity.holder_status is HolderStatus.LOCKED
    assert "not_authentic" in [f.code for f in identity.findings]
    assert len(transport.sent) == before  # nothing at all was sent in Step 2
    assert ins_count(transport.sent, INS_EXTERNAL) == 0 and emulated.auth_tries_left == 3


def test_wrong_external_cryptogram_costs_one_try_is_reported_and_never_retried():
    card, transport, emulated = card_of("gen3")
    step1 = card.hsm_step1(today=TODAY)
    answer = hsm(step1.to_string(), spoil_external=True)
    identity = card.hsm_step2(step1, answer, today=TODAY)
    assert identity.authentic == "yes" and identity.holder_status is HolderStatus.LOCKED
    failed = [f for f in identity.findings if f.code == "external_auth_failed"]
    assert failed and "2 tries left" in failed[0].en and failed[0].sw == "63C2"
    assert ins_count(transport.sent, INS_EXTERNAL) == 1 and emulated.auth_tries_left == 2
    with pytest.raises(
        errors.HsmChallengeLost, match="already used"
    ):  # the same Step 1 cannot be replayed
        card.hsm_step2(step1, answer, today=TODAY)
    assert ins_count(transport.sent, INS_EXTERNAL) == 1 and emulated.auth_tries_left == 2


def test_locked_read_key_is_reported():
    card, transport, emulated = card_of("gen3", auth=Auth(tries_left=0))
    step1 = card.hsm_step1(today=TODAY)
    identity = card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert identity.holder_status is HolderStatus.LOCKED
    assert [f.sw for f in identity.findings if f.code == "key_locked"] == ["6983"]


def test_card_that_refuses_internal_authentication_gets_no_try():
    # a card without an algorithm identifier has no keys in the emulator: 6A88 to INTERNAL
    card, transport, emulated = card_of("gen3", algorithm=b"")
    step1 = card.hsm_step1(today=TODAY)
    assert step1.algorithm == "01"  # assumed, as the Great Wall reader does (§14.3)
    identity = card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert identity.authentic == "not checked" and identity.holder_status is HolderStatus.LOCKED
    assert any(f.code == "auth_not_checked" and "6A88" in f.en for f in identity.findings)
    assert ins_count(transport.sent, INS_EXTERNAL) == 0


# --- the pKey -----------------------------------------------------------------------------------

GOOD_INTERNAL = "11" * 8 + "22" * 8
GOOD_EXTERNAL = "33" * 8 + "44" * 8


def test_parse_answer_forms():
    answer = parse_answer(f"{GOOD_INTERNAL}|{GOOD_EXTERNAL}|\r\n")
    assert answer == HsmAnswer(
        bytes.fromhex("11" * 8),
        bytes.fromhex("22" * 8),
        bytes.fromhex("33" * 8),
        bytes.fromhex("44" * 8),
    )
    assert parse_answer(f"{GOOD_INTERNAL.lower()}||").external_cryptogram is None
    assert parse_answer(f"{GOOD_INTERNAL}|").external_original is None
    assert "1111" not in repr(answer) and "3333" not in repr(answer)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "|",
        "||",
        GOOD_INTERNAL,  # no terminating "|"
        f"{GOOD_INTERNAL}|{GOOD_EXTERNAL}",  # no terminating "|" after the external item
        f"{GOOD_INTERNAL[:-2]}|",  # 30 hex digits
        f"{GOOD_INTERNAL}00|",  # 34 hex digits
        f"{GOOD_INTERNAL[:-1]}G|",  # not hex
        f"{GOOD_INTERNAL}|{GOOD_EXTERNAL[:-2]}|",
        f"{GOOD_INTERNAL}|{GOOD_EXTERNAL}|{GOOD_EXTERNAL}|",  # three items
        f"|{GOOD_EXTERNAL}|",  # no internal item
        f"{GOOD_INTERNAL} |{GOOD_EXTERNAL}|",
        "A" * 200 + "|",
    ],
)
def test_malformed_answers_are_typed_errors_that_never_quote_the_answer(text):
    with pytest.raises(errors.HsmAnswerInvalid) as info:
        parse_answer(text)
    assert info.value.exit_code == 2
    for secret in ("11111111", "33333333"):
        assert secret not in str(info.value)


def test_a_malformed_answer_sends_nothing_and_the_step_can_still_complete():
    card, transport, emulated = card_of("gen3")
    step1 = card.hsm_step1(today=TODAY)
    before = len(transport.sent)
    with pytest.raises(errors.HsmAnswerInvalid, match="must end with '\\|'"):
        card.hsm_step2(step1, "not an answer", today=TODAY)
    assert len(transport.sent) == before
    assert card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY).complete


def test_an_answer_for_another_step1_is_refused_before_anything_is_sent():
    card, transport, _ = card_of("gen3")
    first = card.hsm_step1(today=TODAY)
    stale_answer = hsm(first.to_string())
    second = card.hsm_step1(today=TODAY)  # new randoms and challenges
    before = len(transport.sent)
    with pytest.raises(errors.HsmAnswerMismatch, match="internal-authentication original data"):
        card.hsm_step2(second, stale_answer, today=TODAY)
    assert len(transport.sent) == before
    with pytest.raises(
        errors.HsmChallengeLost, match="already used"
    ):  # the first Step 1 was superseded
        card.hsm_step2(first, stale_answer, today=TODAY)
    assert len(transport.sent) == before


def test_gen3_answer_without_external_data_is_refused():
    card, transport, _ = card_of("gen3")
    step1 = card.hsm_step1(today=TODAY)
    internal_only = hsm(step1.to_string()).split("|")[0] + "||"
    with pytest.raises(errors.HsmAnswerMismatch, match="external"):
        card.hsm_step2(step1, internal_only, today=TODAY)


# --- another card, a reset, another operation between the steps -------------------------------


def test_step1_of_another_card_is_refused_and_nothing_is_sent():
    card_a, _, _ = card_of("gen3")
    card_b, transport_b, emulated_b = card_of("gen3")  # same persona: same ATR and 卡识别码
    step1 = card_a.hsm_step1(today=TODAY)
    with pytest.raises(errors.HsmCardMismatch, match="another card or connection"):
        card_b.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert transport_b.sent == [] and emulated_b.auth_tries_left == 3


class SwappableTransport(FaultyTransport):
    """A reader whose card can be swapped or reset by someone else, reporting it the way
    PC/SC does to a connection that did not cause it: the next transmit (and the next
    transaction) fails with 'reset' or 'removed' and reaches no card."""

    def __init__(self, emulated, name):
        super().__init__(EmulatorTransport(emulated, name), lambda *a: None)
        self.pending: type[errors.SscardError] | None = None
        self.card_apdus: list[bytes] = []  # what reached a card

    def reset_by_another_program(self):
        self.inner.card.reset()
        self.pending = errors.CardReset

    def swap(self, emulated):
        self.inner = EmulatorTransport(emulated, "other")
        self.pending = errors.CardRemoved

    def transmit(self, apdu):
        if self.pending is not None:
            self.sent.append(apdu)
            raise self.pending()
        self.card_apdus.append(apdu)
        return super().transmit(apdu)


def test_reset_between_the_steps_is_a_clear_error_and_nothing_is_replayed():
    emulated = SocialSecurityCard.from_persona("gen3")
    transport = SwappableTransport(emulated, "gen3")
    card = Card(transport)
    step1 = card.hsm_step1(today=TODAY)
    transport.reset_by_another_program()
    with pytest.raises(errors.HsmChallengeLost) as info:
        card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert "reset" in str(info.value) and "Step 1 again" in str(info.value)
    assert info.value.exit_code == 8
    assert ins_count(transport.card_apdus, INS_EXTERNAL) == 0 and emulated.auth_tries_left == 3
    assert not getattr(transport, "recovered", 0)  # no reconnect-and-retry for Step 2


def test_card_swapped_between_the_steps_is_refused():
    emulated = SocialSecurityCard.from_persona("gen3")
    other = SocialSecurityCard.from_persona("gen3")
    transport = SwappableTransport(emulated, "gen3")
    card = Card(transport)
    step1 = card.hsm_step1(today=TODAY)
    transport.swap(other)
    with pytest.raises(errors.HsmCardMismatch, match="removed or replaced"):
        card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert ins_count(transport.card_apdus, INS_EXTERNAL) == 0
    assert emulated.auth_tries_left == other.auth_tries_left == 3


def test_card_with_another_atr_is_refused_without_sending():
    emulated = SocialSecurityCard.from_persona("gen3")
    transport = SwappableTransport(emulated, "gen3")
    card = Card(transport)
    step1 = card.hsm_step1(today=TODAY)
    transport.inner = EmulatorTransport(SocialSecurityCard.from_persona("gen2"), "gen2")
    before = len(transport.sent)
    with pytest.raises(errors.HsmCardMismatch, match="ATR"):
        card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert len(transport.sent) == before


def test_another_operation_between_the_steps_loses_the_challenge():
    card, transport, emulated = card_of("gen3")
    step1 = card.hsm_step1(today=TODAY)
    assert card.probe() == "yes"
    with pytest.raises(errors.HsmChallengeLost, match="already used"):
        card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY)
    assert ins_count(transport.sent, INS_EXTERNAL) == 0


def test_a_reset_during_step1_reruns_step1_from_the_start():
    resets = {"left": 1}

    def reset_once(i, apdu, r):
        if apdu[1] == INS_INTERNAL and resets["left"]:
            resets["left"] -= 1
            raise errors.CardReset()

    emulated = SocialSecurityCard.from_persona("gen3")
    transport = FaultyTransport(EmulatorTransport(emulated, "gen3"), reset_once)
    card = Card(transport)
    step1 = card.hsm_step1(today=TODAY)
    assert transport.recovered == 1
    assert card.hsm_step2(step1, hsm(step1.to_string()), today=TODAY).complete


def test_card_without_a_social_security_application_needs_no_hsm():
    card, transport, _ = card_of("shanghai")
    with pytest.raises(errors.HsmNotNeeded, match="no social security application"):
        card.hsm_step1(today=TODAY)
    assert ins_count(transport.sent, INS_INTERNAL) == 0


def test_step1_repr_hides_the_card_identification():
    card, _, _ = card_of("gen3")
    step1 = card.hsm_step1(today=TODAY)
    assert step1.card_identification not in repr(step1)
