"""PC/SC failures → typed errors, for the faults the real stack cannot produce on demand:
fake pyscard connections raising CardConnectionException(hresult=…) (connect, reconnect)
and a fake `smartcard.scard` returning result codes (transmit, status)."""

from __future__ import annotations

import pytest

from sscard import errors
from sscard.transport import pcsc
from sscard.transport.pcsc import PcscTransport, ReaderState, choose_readers, map_pcsc_error

pytest.importorskip("smartcard")
from smartcard.Exceptions import CardConnectionException  # noqa: E402

ATR = bytes.fromhex("3B6D00000099200110999911010000002A")


class FakeConnection:
    T0_protocol, T1_protocol = 1, 2

    def __init__(self, connect_errors=(), atrs=(ATR,)):
        self.connect_errors = list(connect_errors)
        self.atrs = list(atrs)
        self.connects = 0
        self.released = 0
        self.reconnects = 0
        self.hcard = 0x1234
        self.hcontext = 0x5678

    def connect(self, mode=None, protocol=None, disposition=None):
        self.connects += 1
        if self.connect_errors:
            raise CardConnectionException("connect failed", hresult=self.connect_errors.pop(0))

    def reconnect(self, mode=None, protocol=None, disposition=None):
        self.reconnects += 1
        if len(self.atrs) > 1:
            self.atrs.pop(0)

    def getATR(self):
        return list(self.atrs[0])

    def getProtocol(self):
        return self.T1_protocol

    def disconnect(self):
        self.released += 1

    def release(self):
        pass


class FakeScard:
    """The part of smartcard.scard the transport uses, answering with chosen result codes.

    `reader_states`: what SCardGetStatusChange reports for the reader, one per call (the
    last one repeats); state flags with pcscd's event counter in the high 16 bits."""

    SCARD_PCI_T0, SCARD_PCI_T1 = "T0", "T1"
    SCARD_STATE_UNAWARE, SCARD_STATE_CHANGED = 0x0000, 0x0002
    SCARD_STATE_EMPTY, SCARD_STATE_PRESENT = 0x0010, 0x0020
    PRESENT = 0x10000 | SCARD_STATE_PRESENT  # a card, inserted once

    def __init__(
        self,
        transmit=(0, [0x90, 0x00]),
        status=(0, "Fake Reader 00", 0x0034, 2, []),
        reader_states=(PRESENT,),
    ):
        self.transmit_result = transmit
        self.status_result = status
        self.reader_states = list(reader_states)
        self.sent = []
        self.gate = None  # a threading.Event the transmit waits for: a mute card

    def SCardTransmit(self, hcard, pci, apdu):
        self.sent.append((hcard, pci, bytes(apdu)))
        if self.gate is not None:
            self.gate.wait(30)
        return self.transmit_result

    def SCardStatus(self, hcard):
        return self.status_result

    def SCardGetStatusChange(self, context, timeout_ms, states):
        flags = self.reader_states.pop(0) if len(self.reader_states) > 1 else self.reader_states[0]
        if states[0][1] != self.SCARD_STATE_UNAWARE and flags == states[0][1]:
            return 0x8010000A, []  # SCARD_E_TIMEOUT: nothing changed
        return 0, [("Fake Reader 00", flags | self.SCARD_STATE_CHANGED, [])]


def transport(scard=None, connection=None):
    return PcscTransport(
        connection or FakeConnection(), "Fake Reader 00", False, scard=scard or FakeScard()
    )


@pytest.mark.parametrize(
    "hresult,error",
    [
        (0x80100069, errors.CardRemoved),  # SCARD_W_REMOVED_CARD
        (0x80100068, errors.CardReset),  # SCARD_W_RESET_CARD
        (0x8010000B, errors.CardBusy),  # SCARD_E_SHARING_VIOLATION
        (0x80100066, errors.CardMute),  # SCARD_W_UNRESPONSIVE_CARD
        (0x80100009, errors.ReaderGone),  # SCARD_E_UNKNOWN_READER
        (0x80100017, errors.ReaderGone),  # SCARD_E_READER_UNAVAILABLE
        (0x8010001D, errors.ServiceUnavailable),  # SCARD_E_NO_SERVICE
        (0x8010001E, errors.ServiceUnavailable),  # SCARD_E_SERVICE_STOPPED
        (0x8010000C, errors.CardRemoved),  # SCARD_E_NO_SMARTCARD during transmit: it was removed
        (0x80100013, errors.CardMute),  # SCARD_F_COMM_ERROR
        (0x80100099, errors.CardError),  # unknown: still typed, with the code
    ],
)
def test_transmit_failures_become_typed_errors(hresult, error):
    with pytest.raises(error) as info:
        transport(FakeScard(transmit=(hresult, []))).transmit(bytes.fromhex("00A40400"))
    assert type(info.value) is error
    assert isinstance(info.value, errors.SscardError) and info.value.exit_code > 0


def test_transmit_uses_the_active_protocol_and_returns_data_and_sw():
    scard = FakeScard(transmit=(0, [0x6F, 0x00, 0x90, 0x00]))
    assert transport(scard).transmit(bytes.fromhex("00A40400")) == bytes.fromhex("6F009000")
    assert scard.sent == [(0x1234, "T1", bytes.fromhex("00A40400"))]


@pytest.mark.parametrize(
    "status,error",
    [
        ((0, "Fake Reader 00", 0x0002, 0, []), errors.CardRemoved),  # SCARD_ABSENT
        ((0x80100069, "", 0, 0, []), errors.CardRemoved),  # SCARD_W_REMOVED_CARD
        ((0, "Fake Reader 00", 0x0034, 2, []), errors.CardMute),  # present, powered: just mute
    ],
)
def test_an_empty_answer_is_a_removal_or_a_mute_card(status, error):
    scard = FakeScard(transmit=(0, []), status=status)
    with pytest.raises(error):
        transport(scard).transmit(bytes.fromhex("00A40400"))


ABSENT = 0x20000 | FakeScard.SCARD_STATE_EMPTY  # removed: pcscd counted the event
SWAPPED = 0x30000 | FakeScard.SCARD_STATE_PRESENT  # removed and another card put in


@pytest.mark.parametrize(
    "transmit",
    [
        (0, []),  # pcscd + vpcd: an empty answer
        (0x80100013, []),  # SCARD_F_COMM_ERROR (a physical reader)
        (0x8010002F, []),  # SCARD_E_COMM_DATA_LOST
        (0x80100066, []),  # SCARD_W_UNRESPONSIVE_CARD
        (0x80100016, []),  # SCARD_E_NOT_READY
    ],
)
@pytest.mark.parametrize("later", [ABSENT, SWAPPED])
def test_a_failed_exchange_then_a_card_gone_is_a_removal(transmit, later):
    # the handle still says "present": pcscd learns of the removal at its next poll
    scard = FakeScard(
        transmit=transmit, reader_states=(FakeScard.PRESENT, FakeScard.PRESENT, later)
    )
    with pytest.raises(errors.CardRemoved, match="removed"):
        transport(scard).transmit(bytes.fromhex("00A40400"))


def test_a_failed_exchange_with_the_card_still_there_is_not_a_removal():
    scard = FakeScard(transmit=(0x80100013, []))
    with pytest.raises(errors.CardMute, match="communication with the card failed"):
        transport(scard).transmit(bytes.fromhex("00A40400"))


def test_a_transmit_past_its_deadline_gives_the_connection_up():
    import threading

    scard = FakeScard()
    scard.gate = threading.Event()
    t = transport(scard)
    with pytest.raises(TimeoutError):
        t.transmit_within(bytes.fromhex("00A40400"), 0.05)
    with pytest.raises(errors.CardMute, match="stopped answering"):  # no second wait
        t.transmit_within(bytes.fromhex("00A40400"), 5)
    assert len(scard.sent) == 1
    with pytest.raises(
        errors.CardMute, match="stopped answering earlier"
    ):  # no transaction can begin on it either
        with t.transaction():
            pass
    t.close()  # neither does the release
    assert t._connection.released == 0
    scard.gate.set()  # the card answers at last: the connection is released then
    for _ in range(500):
        if t._connection.released:
            break
        threading.Event().wait(0.01)
    assert t._connection.released == 1


def test_unknown_code_is_named_and_negative_python_codes_are_normalised():
    err = map_pcsc_error(
        CardConnectionException("x", hresult=0x80100069 - (1 << 32))
    )  # as a signed long
    assert isinstance(err, errors.CardRemoved)
    assert "0x80100099" in map_pcsc_error(0x80100099).message


def test_busy_card_is_retried_with_a_bounded_backoff_then_named(monkeypatch):
    sleeps = []
    monkeypatch.setattr(pcsc.time, "sleep", sleeps.append)
    fake = FakeConnection(connect_errors=[0x8010000B] * 100)

    class FakeReader:
        def __init__(self, name):
            pass

        def createConnection(self):
            return fake

    import smartcard.pcsc.PCSCReader as module

    monkeypatch.setattr(module, "PCSCReader", FakeReader)
    with pytest.raises(errors.CardBusy, match="another program"):
        pcsc._connect("Fake Reader 00", shared=False)
    assert fake.connects == len(pcsc.BUSY_RETRIES) + 1
    assert sleeps == list(pcsc.BUSY_RETRIES)
    assert sum(sleeps) < 2.0


def test_busy_card_that_frees_up_connects(monkeypatch):
    monkeypatch.setattr(pcsc.time, "sleep", lambda s: None)
    fake = FakeConnection(connect_errors=[0x8010000B, 0x8010000B])
    import smartcard.pcsc.PCSCReader as module

    monkeypatch.setattr(
        module, "PCSCReader", lambda name: type("R", (), {"createConnection": lambda self: fake})()
    )
    assert pcsc._connect("Fake Reader 00", shared=True) is fake and fake.connects == 3


def test_reset_recovery_keeps_the_same_card_and_refuses_another():
    same = transport(connection=FakeConnection(atrs=(ATR, ATR)))
    assert same.recover_from_reset() == ATR
    other = transport(connection=FakeConnection(atrs=(ATR, ATR[:-1] + b"\x00")))
    with pytest.raises(errors.CardRemoved, match="replaced"):
        other.recover_from_reset()


NAMES = ["Virtual PCD 00 00", "Virtual PCD 00 01", "ACS ACR39U 01 00"]
STATES = [
    ReaderState(NAMES[0], True, ATR, False),
    ReaderState(NAMES[1], False, None, False),
    ReaderState(NAMES[2], True, bytes.fromhex("3B8F8001804F0CA0000003060300030000000068"), False),
]


@pytest.mark.parametrize(
    "choice,expected",
    [
        (None, NAMES),
        ("1", [NAMES[1]]),
        (2, [NAMES[2]]),
        ("acr39", [NAMES[2]]),
        ("pcd 00 01", [NAMES[1]]),
        ("3B6D0000", [NAMES[0]]),
        ("3b 8f 80 01", [NAMES[2]]),
        ("3B6D", [NAMES[0]]),
        ("3B 6D 00", [NAMES[0]]),
        ("3b:8f", [NAMES[2]]),
        ("3B8F80", [NAMES[2]]),
    ],
)
def test_reader_choice(choice, expected):
    assert choose_readers(NAMES, STATES, choice) == expected


@pytest.mark.parametrize(
    "choice,message", [("virtual", "several"), ("omnikey", "no reader"), ("7", "no reader 7")]
)
def test_reader_choice_errors_list_the_readers(choice, message):
    with pytest.raises(errors.InvalidArgument, match=message) as info:
        choose_readers(NAMES, STATES, choice)
    assert (
        "0: Virtual PCD 00 00" in info.value.message and "2: ACS ACR39U 01 00" in info.value.message
    )
    assert f"0: Virtual PCD 00 00 (ATR {ATR.hex().upper()})" in info.value.message
    assert "1: Virtual PCD 00 01 (no card" in info.value.message
    assert "(ATR 3B8F8001804F0CA0000003060300030000000068)" in info.value.message
    assert "读卡器" in info.value.zh


@pytest.mark.parametrize("choice", ["3B", "3B6", "3B 6D 0"])
def test_short_or_odd_atr_prefixes(choice):
    """ "3B" is the prefix of both cards' ATRs: ambiguous; an odd count of digits is no ATR."""
    with pytest.raises(errors.InvalidArgument, match="several" if choice == "3B" else "no reader"):
        choose_readers(NAMES, STATES, choice)


class HeldByAnotherProgram(FakeScard):
    """SCardBeginTransaction waits while another program holds a transaction (shared mode),
    as pcsc-lite's does: without any deadline of its own."""

    SCARD_LEAVE_CARD = 0

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.released = threading.Event()
        self.began = 0  # calls, counted as they come (before the wait)

    def SCardBeginTransaction(self, hcard):
        self.began += 1
        self.released.wait(30)
        return 0

    def SCardEndTransaction(self, hcard, disposition):
        return 0


def test_a_shared_card_another_program_keeps_in_a_transaction_is_busy(monkeypatch):
    monkeypatch.setattr(pcsc, "BEGIN_TIMEOUT", 0.05)
    scard = HeldByAnotherProgram()
    t = PcscTransport(FakeConnection(), "Fake Reader 00", True, scard=scard)
    with pytest.raises(errors.CardBusy, match="another program"):
        with t.transaction():
            pytest.fail("a transaction began while another program held the card")
    with pytest.raises(
        errors.CardMute, match="stopped answering earlier"
    ):  # the connection is given up: no second wait
        with t.transaction():
            pass
    scard.released.set()
    t.close()
    assert scard.began == 1 and not scard.sent


def test_an_exclusive_card_begins_its_transaction_directly():
    scard = HeldByAnotherProgram()
    scard.released.set()
    t = PcscTransport(FakeConnection(), "Fake Reader 00", False, scard=scard)
    with t.transaction():
        pass
    assert scard.began == 1 and t._jobs is None  # no worker thread for it
    t.close()
