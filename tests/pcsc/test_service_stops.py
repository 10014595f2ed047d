"""How `sscard serve` stops: on SIGINT, and telling systemd (through a private pcscd)."""

from __future__ import annotations

import signal
import socket


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
