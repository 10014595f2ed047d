"""The compatibility WebSocket at `/`, message by message, through pcscd + vpcd: what a kiosk
page written for the national-interface bridges sends, and what it must get back."""

from __future__ import annotations

from service_stack import require_service_dependencies

require_service_dependencies()

import json
import threading
import time

import pytest
from helpers import hsm
from service_stack import KEYED, Service, serving, sscard
from websockets.sync.client import connect

READ = {"function": "iReadCardBas", "iType": 3}
STEP1 = {"function": "iReadCardBas_HSM_Step1", "iType": 3}


@pytest.fixture(scope="module")
def service(daemon):
    """No key source (as most kiosks: they use the HSM), short HSM hold for the timeout test."""
    yield from serving(daemon, "--hsm-timeout", "3")


@pytest.fixture(scope="module")
def keyed(daemon):
    yield from serving(daemon, *KEYED)


def ask(ws, message) -> dict:
    ws.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(ws.recv(timeout=30))


def cli_line(daemon, *args: str) -> str:
    done = sscard(daemon, "read", "--format", "ireadcardbas", "--reveal", "-r", "0", *args)
    return done.stdout.strip()


def as_line(reply: dict) -> str:
    """A compat reply in the CLI's `--format ireadcardbas` form, to compare the two."""
    if reply["success"] == "1":
        return reply["pOutInfo"]
    return f"{reply['success']}|{reply['pOutInfo']}|"


@pytest.mark.parametrize(
    "persona",
    [
        "gen2",
        "gen1",
        "gen3",
        "gen2-long-name",
        "card-blocked",
        "ssse-blocked",
        "gen2-expired",
        "shanghai",
    ],
)
def test_ireadcardbas_answers_as_the_cli_does(daemon, service, keyed, slots, persona):
    slots.insert(persona)
    with connect(service.ws) as ws:
        reply = ask(ws, READ)
    assert reply["functionName"] == "iReadCardBas"
    assert as_line(reply) == cli_line(daemon)
    with connect(keyed.ws) as ws:
        reply = ask(ws, READ)
    assert as_line(reply) == cli_line(daemon, "--keys", "test")


def test_success_and_failure_shapes(service, keyed, slots):
    slots.insert("gen2")
    with connect(service.ws) as ws:
        reply = ask(ws, READ)
        assert reply["success"] == "1"
        fields = reply["pOutInfo"].split("|")
        assert len(fields) == 12 and fields[-1] == "" and fields[4] == "测试甲"
        assert fields[9] == "000000000000"
    slots.insert("gen3")
    with connect(service.ws) as ws:
        assert ask(ws, READ) == {
            "functionName": "iReadCardBas",
            "success": "-2201",
            "pOutInfo": "无PSAM卡",
        }
    with connect(keyed.ws) as ws:
        assert ask(ws, READ)["success"] == "1"
    slots.remove(0)
    with connect(service.ws) as ws:
        assert ask(ws, READ) == {
            "functionName": "iReadCardBas",
            "success": "-2",
            "pOutInfo": "无卡",
        }


def test_itype_chooses_contact_or_contactless_readers(service, slots):
    slots.insert("gen2", slot=1)
    with connect(service.ws) as ws:
        for itype in (1, 3, 4, "3", "1"):
            assert ask(ws, {"function": "iReadCardBas", "iType": itype})["success"] == "1"
        # the vpcd readers are contact readers: none of the contactless kind
        assert ask(ws, {"function": "iReadCardBas", "iType": 2})["success"] == "-11"
        for bad in (0, 5, "x", None, 2.5, True, [3]):
            reply = ask(ws, {"function": "iReadCardBas", "iType": bad})
            assert (reply["success"], reply["pOutInfo"]) == ("-14", "命令参数错"), bad
        assert ask(ws, READ)["success"] == "1"  # still usable


def test_malformed_and_unknown_messages_keep_the_connection(service, slots):
    slots.insert("gen2")
    with connect(service.ws) as ws:
        for message in (
            "not json",
            "[1, 2]",
            '"iReadCardBas"',
            "{}",
            '{"function": 7}',
            '{"function": "iReadCardBas", "iType": 3',
            "null",
            "[" * 4000,
        ):  # nested deeper than Python's recursion limit
            reply = ask(ws, message)
            assert reply == {"functionName": "", "success": "-14", "pOutInfo": "命令参数错"}
        ws.send(b"\x00\x01binary")
        assert json.loads(ws.recv(timeout=10))["success"] == "-14"
        for function in (
            "iReadCard",
            "iWriteCard",
            "iDoDebit",
            "iReadIdentityCard",
            "iReloadPIN_HSM_Step1",
            "transmit",
            "iReadICCardNum",
        ):
            reply = ask(ws, {"function": function, "iType": 1})
            assert reply == {"functionName": function, "success": "-13", "pOutInfo": "不支持该功能"}
        assert ask(ws, READ)["success"] == "1"
    assert "Traceback" not in service.log() and "RecursionError" not in service.log()


def test_hsm_two_steps_across_messages(service, slots):
    slots.insert("gen3")
    with connect(service.ws) as ws:
        step1 = ask(ws, STEP1)
        assert step1["functionName"] == "iReadCardBas_HSM_Step1" and step1["success"] == "1"
        assert len(step1["pOutInfo"].split("|")) == 9
        reply = ask(ws, {"function": "ReadCard_HSM_Step2", "pKey": hsm(step1["pOutInfo"])})
        assert reply["functionName"] == "iReadCardBas_HSM_Step2"
        assert reply["success"] == "1", reply
        fields = reply["pOutInfo"].split("|")
        assert fields[4] == "测试乙" and len(fields) == 12
        # the hold ended with Step 2: a second Step 2 has no challenge
        again = ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": hsm(step1["pOutInfo"])})
        assert again["success"] == "-22"
        # pkey spelled in lower case, as one deployed page does
        step1 = ask(ws, STEP1)
        reply = ask(ws, {"function": "iReadCardBas_HSM_Step2", "pkey": hsm(step1["pOutInfo"])})
        assert reply["success"] == "1"


def test_hsm_step2_errors(service, slots):
    slots.insert("gen3")
    with connect(service.ws) as ws:
        assert (
            ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": "A" * 32 + "|"})["success"]
            == "-22"
        )  # no Step 1 on this connection
        step1 = ask(ws, STEP1)["pOutInfo"]
        assert ask(ws, {"function": "iReadCardBas_HSM_Step2"})["success"] == "-14"
        assert ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": 5})["success"] == "-14"
        # a malformed answer reaches nothing: the challenge is still live and can be used
        assert ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": "zz|"})["success"] == "-23"
        reply = ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": hsm(step1)})
        assert reply["success"] == "1"
        # an HSM whose internal result disagrees with the card: not genuine (-25)
        step1 = ask(ws, STEP1)["pOutInfo"]
        spoiled = hsm(step1, spoil_internal=True)
        assert ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": spoiled})["success"] == "-25"


def test_second_client_while_step1_is_pending_gets_busy(service, slots):
    slots.insert("gen3")
    with connect(service.ws) as first, connect(service.ws) as second:
        step1 = ask(first, STEP1)["pOutInfo"]
        busy = ask(second, READ)
        assert busy["success"] == "-11" and "忙" in busy["pOutInfo"]
        assert (
            ask(first, {"function": "iReadCardBas_HSM_Step2", "pKey": hsm(step1)})["success"] == "1"
        )
        assert ask(second, READ)["success"] == "-2201"  # served once the hold ended


def test_client_gone_between_steps_frees_the_reader(service, slots):
    slots.insert("gen2")
    with connect(service.ws) as first:
        assert ask(first, STEP1)["success"] == "1"
    with connect(service.ws) as second:
        deadline = time.monotonic() + 10
        while True:  # the close reaches the service a moment after the client returns
            reply = ask(second, READ)
            if reply["success"] != "-11" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert reply["success"] == "1"


def test_hold_times_out(service, slots):
    slots.insert("gen3")
    with connect(service.ws) as first, connect(service.ws) as second:
        step1 = ask(first, STEP1)["pOutInfo"]
        assert ask(second, READ)["success"] == "-11"
        deadline = time.monotonic() + 15  # --hsm-timeout 3
        while ask(second, READ)["success"] == "-11":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert (
            ask(first, {"function": "iReadCardBas_HSM_Step2", "pKey": hsm(step1)})["success"]
            == "-22"
        )  # the challenge went with the hold


def test_card_pulled_between_the_steps(service, slots):
    slots.insert("gen3")
    with connect(service.ws) as ws:
        step1 = ask(ws, STEP1)["pOutInfo"]
        slots.remove(0)
        reply = ask(ws, {"function": "iReadCardBas_HSM_Step2", "pKey": hsm(step1)})
        assert reply["success"] in ("-2", "-22", "-4"), reply
        slots.insert("gen2")
        assert ask(ws, READ)["success"] == "1"


def test_bank_card_number_only_when_allowed(service, keyed, slots):
    slots.insert("gen2")
    with connect(service.ws) as ws:
        assert ask(ws, {"function": "iReadICCardNum", "iType": 1})["success"] == "-13"
    with connect(keyed.ws) as ws:
        reply = ask(ws, {"function": "iReadICCardNum", "iType": 1})
    assert reply["success"] == "1" and reply["pOutInfo"].isdigit()
    import httpx

    status = httpx.post(keyed.base + "/v1/status?reader=0&bank_records=true", timeout=30).json()
    assert status["bank"]["records"]["pan"] == reply["pOutInfo"]


def test_clients_on_two_readers_work_in_parallel(service, slots):
    slots.insert("gen2", slot=0)
    slots.insert("gen2", slot=1)
    results = []

    def client(itype_reader: int) -> None:
        with connect(service.ws) as ws:
            for _ in range(5):
                results.append(ask(ws, READ)["success"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # 6 clients on one reader (iType 3 picks the first with a card): served or told "busy"
    assert len(results) == 30 and set(results) <= {"1", "-11"} and "1" in results


def test_psam_in_the_second_reader(daemon, slots):
    """--psam: generation-3 cards read in full, the PSAM's terminal number in field 10, and the
    PSAM's reader is not offered as a card reader."""
    import httpx

    from sscard.emulator.psam_card import PsamCard

    slots.insert(PsamCard.from_file(), slot=1)
    slots.insert("gen3", slot=0)
    expected = cli_line(daemon, "--psam", "00 01")  # before: the service keeps the PSAM open
    svc = Service(daemon, "--psam", "00 01").start()
    try:
        readers = httpx.get(svc.base + "/v1/readers", timeout=30).json()["readers"]
        assert [r["name"] for r in readers] == ["Virtual PCD 00 00"]
        assert httpx.get(svc.base + "/v1/health").json()["key_source"] == "psam"
        with connect(svc.ws) as ws:
            reply = ask(ws, READ)
            assert reply["success"] == "1", reply
            assert as_line(reply) == expected
            assert reply["pOutInfo"].split("|")[9] != "000000000000"
        slots.remove(1)  # PSAM pulled: the interface's "no PSAM", and the service lives on
        with connect(svc.ws) as ws:
            assert ask(ws, READ)["success"] == "-2201"
            slots.insert(PsamCard.from_file(), slot=1)
            assert ask(ws, READ)["success"] == "1"
    finally:
        assert svc.stop() == 0
        svc.cleanup()


def test_clients_gone_mid_request_leave_the_service_working(service, slots):
    import socket

    import httpx

    slots.insert("gen2")
    for _ in range(5):  # a page closed while its read runs
        with connect(service.ws) as ws:
            ws.send(json.dumps(READ))
    for _ in range(5):  # an HTTP client that gives up before the answer
        with socket.create_connection(("127.0.0.1", service.port)) as s:
            s.sendall(
                f"GET /v1/identity HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n\r\n".encode()
            )
    with connect(service.ws) as ws:
        deadline = time.monotonic() + 10
        while (reply := ask(ws, READ))["success"] == "-11" and time.monotonic() < deadline:
            time.sleep(0.05)  # the abandoned reads may still hold the reader's queue
        assert reply["success"] == "1"
    assert httpx.get(service.base + "/v1/identity", timeout=30).status_code == 200
    assert "Traceback" not in service.log() and "internal error" not in service.log()
