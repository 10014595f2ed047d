"""How `sscard serve` listens and stops."""

from __future__ import annotations

import asyncio
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
