"""`sscard serve`'s modern API through pcscd + vpcd: documents equal to the CLI's, JSON
errors, live events, and a service that survives pulled cards and a pcscd restart."""

from __future__ import annotations

from service_stack import require_service_dependencies

require_service_dependencies()

import json
import subprocess
import sys

import httpx  # noqa: E402
import pytest  # noqa: E402
from pcsc_stack import READERS
from service_stack import KEYED, EventStream, serving, sscard


@pytest.fixture(scope="module")
def service(daemon):
    yield from serving(daemon, *KEYED)


def cli(daemon, *args: str) -> tuple[int, str]:
    done = sscard(daemon, *args)
    return done.returncode, done.stdout


def get(service, path: str):
    return httpx.get(service.base + path, timeout=30)


def test_health_and_readers(service, slots):
    slots.insert("gen2", slot=1)
    health = get(service, "/v1/health").json()
    assert health["service"] == "sscard" and health["pcsc"] == "running"
    assert health["key_source"] == "software" and health["bank_records_allowed"] is True
    import sscard

    assert health["version"] == sscard.__version__
    readers = get(service, "/v1/readers").json()["readers"]
    assert [r["name"] for r in readers] == list(READERS)
    assert [r["card"] for r in readers] == [False, True]
    assert readers[1]["atr"].startswith("3B6D") and readers[0]["atr"] is None
    assert health["readers"] == readers


@pytest.mark.parametrize("persona", ["gen2", "gen3", "gen1"])
def test_identity_is_the_cli_document(daemon, service, slots, persona):
    slots.insert(persona)
    for choice in ("0", READERS[0], "00 00"):
        served = get(service, f"/v1/identity?reader={choice}")
        assert served.status_code == 200
        code, out = cli(daemon, "read", "--json", "--reveal", "-r", choice, "--keys", "test")
        assert code == 0 and served.json() == json.loads(out)
    masked = get(service, "/v1/identity?reader=0&masked=true").json()
    code, out = cli(daemon, "read", "--json", "-r", "0", "--keys", "test")
    assert masked == json.loads(out) and masked["masked"] is True


def test_status_is_the_cli_document_and_bank_records_when_allowed(daemon, service, slots):
    slots.insert("gen2")
    served = get(service, "/v1/status?reader=0").json()
    code, out = cli(daemon, "status", "--json", "--reveal", "-r", "0")
    assert served == json.loads(out)
    assert served["bank"]["gpo_sent"] is False
    atc = served["bank"]["counters"]["atc"]
    r = httpx.post(service.base + "/v1/status?reader=0&bank_records=true", timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["bank"]["gpo_sent"] is True and body["bank"]["records"]["pan"]
    assert get(service, "/v1/status?reader=0").json()["bank"]["counters"]["atc"] == atc + 1
    r = httpx.post(service.base + "/v1/status?reader=0", timeout=30)  # no records: no GPO
    assert r.json()["bank"]["gpo_sent"] is False


@pytest.mark.parametrize(
    "path, status, code, national",
    [
        ("/v1/identity?reader=0", 409, "no_card", -2),
        ("/v1/identity", 409, "no_card", -2),
        ("/v1/identity?reader=nonesuch", 400, "invalid_argument", -14),
        ("/v1/identity?reader=7", 400, "invalid_argument", -14),
        ("/v1/status?reader=0", 409, "no_card", -2),
        ("/v1/identity?masked=maybe", 400, "invalid_argument", -14),
        ("/v1/nothing", 404, "not_found", -14),
    ],
)
def test_errors_are_json_with_codes_and_both_languages(
    service, slots, path, status, code, national
):
    r = get(service, path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code and error["national_code"] == national
    assert error["en"] and error["zh"] and isinstance(error["exit_code"], int)


def test_not_a_social_security_card(service, slots):
    slots.insert("card-blocked")
    r = get(service, "/v1/identity?reader=0")
    assert r.status_code in (409, 422) and r.json()["error"]["national_code"] < 0


def test_events_insertion_identity_removal(service, slots):
    stream = EventStream(service)
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind, state = stream.next()
        assert kind == "state" and state["pcsc"] == "running"
        assert {r["reader"] for r in state["readers"]} == set(READERS)
        slots.insert("gen2", slot=1)
        (kind, inserted), _ = stream.next_of({"inserted"})
        assert inserted["reader"] == READERS[1] and inserted["atr"].startswith("3B6D")
        (kind, read), skipped = stream.next_of({"identity", "error"})
        assert kind == "identity", read
        assert read["reader"] == READERS[1]
        assert read["identity"]["holder"]["name"] == "测试甲"  # revealed by default
        slots.remove(1)
        (kind, removed), _ = stream.next_of({"removed"})
        assert removed["reader"] == READERS[1]
    finally:
        stream.close()


def test_masked_events_and_read_errors_as_events(service, slots):
    stream = EventStream(service, "?masked=true")
    try:
        stream.next()
        slots.insert("gen2")
        (kind, read), _ = stream.next_of({"identity", "error"})
        assert kind == "identity" and read["identity"]["masked"] is True
        assert read["identity"]["holder"]["name"] == "测**"
        slots.insert("card-blocked", slot=1)
        (kind, failed), _ = stream.next_of({"identity", "error"})
        assert kind == "error" and failed["reader"] == READERS[1]
        assert failed["error"]["code"] and failed["error"]["zh"]
    finally:
        stream.close()


def test_card_pulled_mid_request_then_the_service_carries_on(service, slots):
    holder = {}

    def pull_at_fourth(index, _apdu):
        if index == 3:
            holder["link"].remove()

    holder["link"] = slots.insert("gen2", on_apdu=pull_at_fourth)
    r = get(service, "/v1/identity?reader=0")
    # pcscd cannot always tell a card pulled mid-APDU from a mute one (as the library)
    assert (r.status_code, r.json()["error"]["code"]) in (
        (409, "card_removed"),
        (409, "no_card"),
        (502, "card_mute"),
    ), r.text
    slots.remove(0)  # already out: waits for pcscd to register the removal
    slots.insert("gen3")
    r = get(service, "/v1/identity?reader=0")
    assert r.status_code == 200 and r.json()["card"]["generation"] == 3


def test_pcscd_restarted_under_the_service(daemon, service, slots):
    from pcsc_stack import wait_readers_in_child

    stream = EventStream(service)
    try:
        stream.next()
        daemon.restart()
        (kind, lost), _ = stream.next_of({"service_lost"})
        assert kind == "service_lost"
        wait_readers_in_child(daemon)
        (kind, _restored), _ = stream.next_of({"service_restored"})
        assert kind == "service_restored"
        assert get(service, "/v1/health").json()["pcsc"] == "running"
        slots.insert("gen2")
        r = get(service, "/v1/identity?reader=0")
        assert r.status_code == 200, r.text
        (kind, read), _ = stream.next_of({"identity", "error"})
        assert kind == "identity"
    finally:
        stream.close()


def test_pcscd_down_is_a_503_not_a_crash(daemon, service):
    daemon.stop()
    try:
        r = get(service, "/v1/readers")
        assert r.status_code == 503 and r.json()["error"]["code"] == "pcsc_unavailable"
        health = get(service, "/v1/health")
        assert health.status_code == 200 and health.json()["pcsc"] == "unavailable"
    finally:
        daemon.start()
        from pcsc_stack import wait_readers_in_child

        wait_readers_in_child(daemon)


def test_openapi_is_generated_and_documents_the_errors(service):
    doc = get(service, "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    identity = doc["paths"]["/v1/identity"]["get"]
    assert {"400", "409", "429", "503"} <= set(identity["responses"])
    assert "ErrorBody" in doc["components"]["schemas"]
    assert [p["name"] for p in identity["parameters"]] == ["reader", "masked"]
    assert "post" in doc["paths"]["/v1/status"]


def test_read_command_does_not_import_the_service(daemon):
    code = (
        "import sys; from sscard.cli.main import run; run(['read', '--emulator', 'gen2']); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', "
        "'uvicorn', 'pydantic', 'anyio', 'websockets') or m.startswith('sscard.service')]; "
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_stuck_card_in_one_reader_does_not_delay_the_other(service, slots):
    import threading

    gate = threading.Event()

    def stall(index, _apdu):
        if index == 2:
            gate.wait(30)  # the card in reader 0 stops answering at its third APDU

    link = slots.insert("gen2", slot=0, on_apdu=stall)
    stuck = []
    blocked = threading.Thread(target=lambda: stuck.append(get(service, "/v1/identity?reader=0")))
    stream = EventStream(service)
    try:
        stream.next()
        blocked.start()
        while link.apdus < 3 and blocked.is_alive():  # until reader 0's read hangs (bounded
            gate.wait(0.02)  # by the thread's own HTTP timeout)
        slots.insert("gen3", slot=1)
        (kind, read), _ = stream.next_of({"identity", "error"})
        assert (kind, read["reader"]) == ("identity", READERS[1])
        assert get(service, "/v1/identity?reader=1").status_code == 200
        assert blocked.is_alive() and not gate.is_set()  # reader 0 was stuck all along
    finally:
        gate.set()
        blocked.join(60)
        stream.close()
    assert stuck[0].status_code == 200
