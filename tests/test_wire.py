"""The wire model the benchmarks put behind vpcd: what one exchange would take on a card."""

from __future__ import annotations

import socket
import struct

import pytest

from sscard.emulator import SocialSecurityCard, vpcd
from sscard.emulator.wire import WireModel


def test_an_exchange_costs_processing_plus_its_bytes_at_the_bit_rate():
    wire = WireModel(per_apdu_ms=15, bit_rate=9600)
    command, response = bytes(5), bytes(66)  # READ RECORD of EF05: 5 + 64 + SW
    assert wire.seconds(command, response) == pytest.approx(0.015 + 71 * 11 / 9600)
    assert WireModel(per_apdu_ms=7, bit_rate=0).seconds(command, response) == pytest.approx(0.007)
    assert WireModel(0, 9600).byte_seconds(872) == pytest.approx(872 * 11 / 9600)
    with pytest.raises(ValueError, match="per_apdu_ms >= 0"):
        WireModel(per_apdu_ms=-1)


def test_vpcd_link_holds_each_answer_back_by_the_model(monkeypatch):
    held = []
    clock = iter(float(n) for n in range(1000))
    monkeypatch.setattr(vpcd, "_now", lambda: next(clock))
    monkeypatch.setattr(vpcd, "_sleep_until", lambda deadline: held.append(deadline))
    wire = WireModel(per_apdu_ms=20, bit_rate=9600)
    server = socket.create_server(("127.0.0.1", 0))  # stands for vpcd
    card = SocialSecurityCard.from_persona("gen2")
    link = vpcd.VpcdLink(card, port=server.getsockname()[1], wire=wire).insert()
    peer, _ = server.accept()
    try:
        exchanged = []
        for apdu in (
            bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"),
            bytes.fromhex("00B2012D40"),
        ):
            peer.sendall(struct.pack(">H", len(apdu)) + apdu)
            (length,) = struct.unpack(">H", peer.recv(2, socket.MSG_WAITALL))
            exchanged.append((apdu, peer.recv(length, socket.MSG_WAITALL)))
        assert exchanged[1][1][-2:] == b"\x90\x00" and len(exchanged[1][1]) == 66
        started = [0.0, 1.0]  # the fake clock's reading when each command arrived
        assert held == [
            s + wire.seconds(a, r) for s, (a, r) in zip(started, exchanged, strict=True)
        ]
    finally:
        link.remove()
        peer.close()
        server.close()


def test_no_model_no_delay(monkeypatch):
    monkeypatch.setattr(vpcd, "_sleep_until", lambda deadline: pytest.fail("slept"))
    server = socket.create_server(("127.0.0.1", 0))
    link = vpcd.VpcdLink(
        SocialSecurityCard.from_persona("gen2"), port=server.getsockname()[1]
    ).insert()
    peer, _ = server.accept()
    try:
        apdu = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
        peer.sendall(struct.pack(">H", len(apdu)) + apdu)
        (length,) = struct.unpack(">H", peer.recv(2, socket.MSG_WAITALL))
        assert peer.recv(length, socket.MSG_WAITALL)[-2:] == b"\x90\x00"
    finally:
        link.remove()
        peer.close()
        server.close()
