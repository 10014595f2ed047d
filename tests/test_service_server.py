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
