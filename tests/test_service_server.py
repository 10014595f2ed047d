"""How `sscard serve` listens and stops."""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest

from sscard.service.config import ServiceConfig
from sscard.service.server import bind


def test_accepted_connections_have_nagle_off():
    """Each HTTP answer is written in two parts (head, body): with Nagle on, the client's
    delayed ACK held every answer back by ~40 ms."""
    sock = bind(ServiceConfig(port=0))
    port = sock.getsockname()[1]
    seen = {}

    async def main():
        def on_connection(reader, writer):
            raw = writer.get_extra_info("socket")
            seen["nodelay"] = raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            writer.close()

        server = await asyncio.start_server(on_connection, sock=sock)
        async with server:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if "nodelay" in seen:
                    break
                await asyncio.sleep(0.01)
            w.close()

    asyncio.run(main())
    assert seen["nodelay"] == 1


def test_bind_refuses_a_port_in_use():
    from sscard import errors

    first = bind(ServiceConfig(port=0))
    try:
        with pytest.raises(errors.InvalidArgument, match="cannot listen"):
            bind(ServiceConfig(port=first.getsockname()[1]))
    finally:
        first.close()


def test_sigint_stops_cleanly(tmp_path):
    from service_stack import require_service_dependencies

    require_service_dependencies()
    from pcsc_stack import PrivatePcscd, require_stack
    from service_stack import Service

    require_stack()
    daemon = PrivatePcscd().start()  # the service needs no readers to start and stop
    service = Service(daemon).start()
    try:
        service.proc.send_signal(signal.SIGINT)
        assert service.proc.wait(15) == 0
        assert "sscard serve: stopped" in service.log()
    finally:
        service.proc = None if service.proc.poll() is not None else service.proc
        service.stop()
        service.cleanup()
        daemon.stop()
        daemon.cleanup()


def test_readiness_and_stopping_are_told_to_systemd(tmp_path):
    """Type=notify: READY=1 once the port listens, STOPPING=1 on SIGTERM (sd_notify)."""
    from service_stack import require_service_dependencies

    require_service_dependencies()
    import httpx
    from pcsc_stack import PrivatePcscd, require_stack
    from service_stack import Service

    require_stack()
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(30)
    daemon = PrivatePcscd().start()
    service = Service(daemon, env={"NOTIFY_SOCKET": path})
    try:
        service.start()
        assert listener.recv(64) == b"READY=1"
        assert httpx.get(service.base + "/v1/health").status_code == 200
        assert service.stop() == 0
        assert listener.recv(64) == b"STOPPING=1"
    finally:
        service.stop()
        service.cleanup()
        daemon.stop()
        daemon.cleanup()
        listener.close()


def test_the_systemd_unit_waits_for_readiness_and_stays_on_loopback():
    import configparser
    import os

    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.optionxform = str
    here = os.path.dirname(os.path.abspath(__file__))
    unit.read(os.path.join(here, "..", "contrib", "systemd", "sscard-serve.service"))
    service = unit["Service"]
    assert service["Type"] == "notify" and service["KillSignal"] == "SIGTERM"
    command = service["ExecStart"].split()
    assert command[1:3] == ["serve", "--host"] and command[3] == "127.0.0.1"
    assert "--allow-remote-host" not in command
    assert service["IPAddressAllow"] == "localhost" and service["IPAddressDeny"] == "any"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
