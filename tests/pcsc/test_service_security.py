"""`sscard serve`'s security model, each rule with its negative case, through pcscd + vpcd.

The browser is the threat: a foreign page, a DNS-rebound name, a page on another loopback
port.  Every request here goes over real HTTP/WebSocket to a real service process.
"""

from __future__ import annotations

from service_stack import require_service_dependencies

require_service_dependencies()

import json
import re

import httpx  # noqa: E402
import pytest  # noqa: E402
from service_stack import Service, Slots, serving, upgrade

ALLOWED = "http://kiosk.example:8080"


@pytest.fixture(scope="module")
def service(daemon):
    yield from serving(
        daemon,
        "--allow-origin",
        ALLOWED,
        "--allow-origin",
        "null",
        "--accept-null-origin-risk",
        "--keys",
        "test",
    )


@pytest.fixture(scope="module")
def slots(daemon):
    """One gen 3 card for the whole module (these tests only read)."""
    s = Slots(daemon)
    s.insert("gen3")
    yield s
    s.remove_all()


def get(service, path="/v1/identity", **headers):
    return httpx.get(service.base + path, headers=headers, timeout=30)


def cors_headers(response) -> set[str]:
    return {k.lower() for k in response.headers if k.lower().startswith("access-control-")}


# --- Host (DNS rebinding) ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_host_names_with_the_port_are_served(service, slots, name):
    r = get(service, "/v1/readers", Host=f"{name}:{service.port}")
    assert r.status_code == 200
    assert r.json()["readers"][0]["card"] is True


@pytest.mark.parametrize(
    "host",
    [
        "rebind.example:{port}",
        "127.0.0.1",
        "127.0.0.1:1",
        "localhost:{port}.rebind.example",
        "127.0.0.2:{port}",
        "",
    ],
)
def test_any_other_host_is_refused_for_http_and_websocket(service, slots, host):
    host = host.format(port=service.port)
    r = get(service, Host=host)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_host"
    assert "holder" not in r.text and not cors_headers(r)
    answer = upgrade(service.port, host=host or " ")
    assert answer.startswith("HTTP/1.1 400"), answer
    assert "bad_host" in answer


def test_a_rebound_page_with_matching_origin_and_host_is_still_refused(service, slots):
    # after DNS rebinding the attacker's page is same-origin with itself: Origin == Host
    name = f"rebind.example:{service.port}"
    r = get(service, Host=name, Origin=f"http://{name}")
    assert r.status_code == 400


# --- Origin ------------------------------------------------------------------------------


def test_no_origin_is_served_without_cors_headers(service, slots):
    r = get(service)
    assert r.status_code == 200 and r.json()["holder"]["name"]
    assert not cors_headers(r)


def test_allowed_origin_gets_its_own_origin_back_never_a_wildcard(service, slots):
    r = get(service, Origin=ALLOWED)
    assert r.status_code == 200 and r.json()["schema"] == "sscard.identity/1"
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in r.headers["vary"]


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://kiosk.example",
        "http://kiosk.example:8081",
        "https://kiosk.example:8080",
        "http://KIOSK.example:8080",
        "http://kiosk.example:8080/",
        "http://kiosk.example:8080.evil.example",
        "http://127.0.0.1:1",
        "file://",
        "*",
    ],
)
def test_other_origins_get_403_and_no_cors_header(service, slots, origin):
    r = get(service, Origin=origin)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "origin_not_allowed"
    assert not cors_headers(r)
    assert "测试" not in r.text


def test_other_loopback_port_origin_is_refused_but_the_services_own_is_allowed(service, slots):
    assert get(service, Origin="http://127.0.0.1:8000").status_code == 403
    own = f"http://127.0.0.1:{service.port}"
    r = get(service, Origin=own)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == own


def test_null_origin_only_when_listed(daemon, service, slots):
    # listed with --accept-null-origin-risk (alone it is a usage error: test_exit_codes), and
    # the risk is told at start: a sandboxed iframe on any site sends Origin: null too
    assert get(service, Origin="null").status_code == 200
    assert "WARNING: --allow-origin null" in service.log() and "任何网站" in service.log()
    other = Service(daemon).start()
    try:
        assert get(other, Origin="null").status_code == 403
        assert "--allow-origin null" not in other.log()
    finally:
        assert other.stop() == 0
        other.cleanup()


@pytest.mark.parametrize(
    "site,status", [("cross-site", 403), ("same-site", 403), ("same-origin", 200), ("none", 200)]
)
def test_another_sites_load_without_origin_is_refused(service, slots, site, status):
    # <img src=…>/<script src=…> from another site: a no-cors GET, no Origin, but the
    # browser always says where it comes from
    r = get(service, **{"Sec-Fetch-Site": site})
    assert r.status_code == status
    if status == 403:
        assert r.json()["error"]["code"] == "origin_not_allowed" and "holder" not in r.text
        assert not cors_headers(r)


def test_request_text_cannot_forge_log_lines_or_reach_the_terminal(service, slots):
    forged = "2026-12-03 10:00:00 INFO sscard.service: forged line"
    path = "/x%0a" + forged.replace(" ", "%20") + "%1b[31m%e2%80%ae%c2%85"
    assert httpx.get(service.base + path, timeout=30).status_code == 404
    assert get(service, Origin=b"http://evil.example\x9b31m").status_code == 403  # C1 CSI
    log = service.log()
    assert not {"\x1b", "\u202e", "\x85", "\x9b"} & set(log)
    lines = [line for line in log.splitlines() if "forged line" in line]
    assert lines and all(" INFO sscard.service: GET /x\\x0a2026" in line for line in lines), lines
    assert any("\\x1b[31m\\u202e\\x85" in line for line in lines)
    assert "Origin http://evil.example\\x9b31m not allowed" in log


def test_the_bound_loopback_address_and_the_default_http_port_are_host_names():
    from sscard.service.config import ServiceConfig

    names = ServiceConfig(host="127.0.0.2").host_names(12342)
    assert "127.0.0.2:12342" in names and "127.0.0.1:12342" in names
    assert "127.0.0.3:12342" not in names and "127.0.0.2" not in names
    assert "http://127.0.0.2:12342" in ServiceConfig(host="127.0.0.2").self_origins(12342)
    # port 80: browsers send Host without the default port
    names = ServiceConfig(port=80).host_names(80)
    assert {"127.0.0.1", "localhost", "[::1]", "127.0.0.1:80"} <= names
    assert "http://localhost" in ServiceConfig(port=80).self_origins(80)
    assert "localhost" not in ServiceConfig().host_names(12342)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0])
def test_timeouts_must_be_finite_and_positive(value):
    from sscard import errors
    from sscard.service.config import ServiceConfig

    with pytest.raises(errors.InvalidArgument, match="positive"):
        ServiceConfig(hsm_timeout=value)


def test_preflight_allowed_with_private_network_header(service):
    r = httpx.request(
        "OPTIONS",
        service.base + "/v1/status",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-custom",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert r.headers["access-control-allow-private-network"] == "true"
    assert r.headers["access-control-allow-headers"] == "content-type"  # x-custom not granted
    assert "POST" in r.headers["access-control-allow-methods"]


def test_preflight_from_a_foreign_origin_is_refused(service):
    r = httpx.request(
        "OPTIONS",
        service.base + "/v1/status",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert r.status_code == 403 and not cors_headers(r)


def test_websocket_upgrade_checks_origin_before_accepting(service, slots):
    assert upgrade(service.port, origin="http://evil.example").startswith("HTTP/1.1 403")
    assert upgrade(service.port, origin="http://127.0.0.1:8000").startswith("HTTP/1.1 403")
    assert upgrade(service.port, origin=ALLOWED).startswith("HTTP/1.1 101")
    assert upgrade(service.port).startswith("HTTP/1.1 101")  # a native program


# --- what the service never offers -------------------------------------------------------


def test_no_raw_apdu_no_pin_no_control_endpoint(service):
    paths = httpx.get(service.base + "/openapi.json").json()["paths"]
    assert set(paths) == {"/v1/health", "/v1/readers", "/v1/identity", "/v1/status", "/v1/events"}
    text = json.dumps(paths).lower()
    for word in ("apdu", "pin", "transmit", "shutdown", "psam"):
        assert not re.search(rf"\b{word}\b", text.replace("sscard read --psam", "")), word
    for path in ("/v1/apdu", "/v1/transmit", "/v1/pin", "/v1/shutdown"):
        r = httpx.post(service.base + path, content=b"00A4040000")
        assert r.status_code in (404, 405) and r.json()["error"]["code"]


def test_pin_functions_of_the_compat_protocol_are_not_supported(service, slots):
    from websockets.sync.client import connect

    with connect(service.ws) as ws:
        for function in ("iVerifyPIN", "iChangePIN", "iReloadPIN", "iUnblockPIN"):
            ws.send(json.dumps({"function": function, "iType": 1, "pPin": "123456"}))
            reply = json.loads(ws.recv())
            assert reply == {"functionName": function, "success": "-13", "pOutInfo": "不支持该功能"}


def test_bank_records_refused_without_the_flag(service, slots):
    before = httpx.get(service.base + "/v1/status", timeout=30).json()
    assert isinstance(before["bank"]["counters"]["atc"], int)
    r = httpx.post(service.base + "/v1/status?bank_records=true", timeout=30)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_allowed"
    from websockets.sync.client import connect

    with connect(service.ws) as ws:
        ws.send(json.dumps({"function": "iReadICCardNum", "iType": 1}))
        assert json.loads(ws.recv())["success"] == "-13"
    # and the card's bank counter did not move: no GPO was sent
    after = httpx.get(service.base + "/v1/status", timeout=30).json()
    assert after["bank"]["counters"]["atc"] == before["bank"]["counters"]["atc"]


def test_bodies_and_messages_are_bounded(service, slots):
    r = httpx.post(service.base + "/v1/status", content=b"x" * 5000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    def chunks():
        for _ in range(10):
            yield b"y" * 1000

    r = httpx.post(service.base + "/v1/status", content=chunks())  # chunked, no length
    assert r.status_code == 413
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(service.ws) as ws:
        ws.send(json.dumps({"function": "iReadCardBas", "iType": 3, "pad": "z" * 10000}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1009  # message too big
    assert get(service, "/v1/readers").status_code == 200  # the service carries on


def test_log_holds_no_personal_data(service, slots):
    from websockets.sync.client import connect

    document = get(service).json()
    with connect(service.ws) as ws:
        ws.send(json.dumps({"function": "iReadCardBas", "iType": 3}))
        out = json.loads(ws.recv())["pOutInfo"]
        ws.send(json.dumps({"function": "iReadCardBas_HSM_Step1", "iType": 3}))
        step1 = json.loads(ws.recv())["pOutInfo"]
        ws.send(json.dumps({"function": "iReadCardBas_HSM_Step2", "pKey": "A" * 32 + "|"}))
        ws.recv()
    log = service.log()
    assert "GET /v1/identity 200" in log and "compat iReadCardBas: 1" in log
    secrets = [
        document["holder"]["name"],
        document["holder"]["social_security_number"],
        document["issuer"]["card_number"],
        document["card"]["atr"],
        document["issuer"]["card_identification"],
        "A" * 32,
    ]
    secrets += [f for f in out.split("|") + step1.split("|") if len(f) >= 6]
    for secret in secrets:
        assert secret and secret not in log, secret


def test_non_loopback_host_needs_the_explicit_flag(daemon):
    import os
    import subprocess
    import sys

    sscard = os.path.join(os.path.dirname(sys.executable), "sscard")
    done = subprocess.run(
        [sscard, "serve", "--host", "0.0.0.0", "--port", "0"],
        env=daemon.client_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --host 0.0.0.0 is not a loopback address")
    assert done.stderr.count("\n") == 1
    from sscard.service.config import ServiceConfig

    config = ServiceConfig(host="192.0.2.10", allow_remote=True)  # not bound: checked only
    assert "192.0.2.10:7" in config.host_names(7) and "127.0.0.1:7" in config.host_names(7)


@pytest.mark.parametrize(
    "origin",
    [
        "http://x.example/",
        "HTTP://X.example",
        "x.example",
        "http://x.example/path",
        "http://x.example:80",
        "https://x.example:443",
        "*",
    ],
)
def test_allow_origin_values_are_checked(origin):
    from sscard import errors
    from sscard.service.config import parse_origin

    if origin == "http://x.example/":
        assert parse_origin(origin) == "http://x.example"
        return
    with pytest.raises(errors.InvalidArgument, match=re.escape(f"--allow-origin '{origin}'")):
        parse_origin(origin)
